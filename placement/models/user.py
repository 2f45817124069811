"""Staff accounts."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placement.models.base import Base, UTCDateTime, utcnow
from placement.models.enums import Role, db_enum
from placement.services.accounts import passwords

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
    # Raised whenever every session must end at once (password change, deactivation, an
    # admin's "end all sessions"); part of the id Flask-Login keeps in the session.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    facilities = relationship("Facility", secondary=user_facility, order_by="Facility.name")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login: "id:generation", so old sessions stop matching
        return f"{self.id}:{self.session_generation or 0}"

    def set_password(self, password: str) -> None:
        """Store an argon2id hash (no policy check here: see services.accounts.users)."""
        self.password_hash = passwords.hash_password(password)
        self.password_changed_at = utcnow()

    def check_password(self, password: str) -> bool:
        return passwords.verify(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class UserSession(Base):
    """A server-side session: the browser's cookie holds only a random token, whose SHA-256
    is the id here; the data (login, CSRF secret, flashed messages) never leaves the server."""

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_last_seen_at", "last_seen_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A "stay signed in" session survives closing the browser (still bounded by both limits).
    persistent: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginThrottle(Base):
    """Failed sign-ins per account or per client address, shared by every worker. The key
    is a keyed hash (no e-mail address or IP address in clear); ``kind`` says which."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "account" or "address"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
