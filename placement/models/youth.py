"""The youth record: deliberately minimal (domain.md, data protection)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Column, Date, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placement.models.base import Base, UTCDateTime, utcnow
from placement.models.enums import AgeAssessment, Gender, db_enum


# Facilities a youth must not be moved to (protection from family, conflicts). The reason
# is deliberately not stored.
def age_in_years(birth_date: date, day: date) -> int:
    """Whole years of age on ``day`` (the birthday itself counts)."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


youth_exclusion = Table(
    "youth_exclusion",
    Base.metadata,
    Column("youth_id", ForeignKey("youth.id", ondelete="CASCADE"), primary_key=True),
    Column("facility_id", ForeignKey("facility.id", ondelete="CASCADE"), primary_key=True),
)


class Youth(Base):
    """A child or youth, known by a pseudonymous reference. No names, no case narrative."""

    __tablename__ = "youth"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    file_number: Mapped[str | None] = mapped_column(String(60), index=True)
    birth_date: Mapped[date] = mapped_column(Date)
    birth_date_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    age_assessment: Mapped[AgeAssessment] = mapped_column(
        db_enum(AgeAssessment, "age_assessment"), default=AgeAssessment.DOCUMENTED
    )
    gender: Mapped[Gender] = mapped_column(db_enum(Gender, "gender"))
    uma: Mapped[bool] = mapped_column(Boolean, default=False)
    sibling_group: Mapped[str | None] = mapped_column(String(40), index=True)
    distribution_excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Set by retention (services.accounts.retention): the personal fields are gone, the
    # reference is a random "anon-..." token; the stays remain for the statistics.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    excluded_facilities = relationship("Facility", secondary=youth_exclusion)
    stays = relationship("Stay", back_populates="youth", order_by="Stay.start_at")

    def age_on(self, day: date) -> int:
        """Whole years of age on ``day``."""
        return age_in_years(self.birth_date, day)

    def __repr__(self) -> str:
        return f"<Youth {self.reference}>"
