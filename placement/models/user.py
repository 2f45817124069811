"""Staff accounts."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from placement.models.base import Base, UTCDateTime, utcnow
from placement.models.enums import Role, db_enum

# The facilities an account is assigned to: a facility manager's houses, an on-call team's.
user_facility = Table(
    "user_facility",
    Base.metadata,
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("facility_id", ForeignKey("facility.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, Base):
    """A staff member with one role; API tokens are stored only as a hash."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(db_enum(Role, "role"))
    password_hash: Mapped[str] = mapped_column(String(256))
    api_token_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The user interface language chosen by the user ("de", "en"); None: the browser's.
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    facilities = relationship("Facility", secondary=user_facility, order_by="Facility.name")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.email}>"
