"""Facilities and their capacity periods."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placement.models.base import Base, UTCDateTime, utcnow
from placement.models.enums import FacilityKind, Gender, UmaPolicy, db_enum


def genders_of(codes: str) -> frozenset[Gender]:
    """The accepted genders of a facility's ``genders`` column (e.g. "dfm")."""
    return frozenset(Gender(code) for code in codes)


class Facility(Base):
    """A house or family that takes children and youths in."""

    __tablename__ = "facility"
    __table_args__ = (
        CheckConstraint("age_min >= 0 AND age_max <= 27 AND age_min <= age_max", name="age_range"),
        CheckConstraint("genders <> ''", name="genders_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable external key (scenario id, import key); unique and URL-safe.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[FacilityKind] = mapped_column(db_enum(FacilityKind, "facility_kind"))
    operator: Mapped[str | None] = mapped_column(String(200))
    planning_area: Mapped[str | None] = mapped_column(String(100), index=True)
    district: Mapped[str | None] = mapped_column(String(100))
    street: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(100))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    age_min: Mapped[int] = mapped_column(Integer, default=0)
    age_max: Mapped[int] = mapped_column(Integer, default=17)
    # Accepted genders as a sorted string of codes, e.g. "dfm" or "f".
    genders: Mapped[str] = mapped_column(String(3), default="dfm")
    uma_policy: Mapped[UmaPolicy] = mapped_column(
        db_enum(UmaPolicy, "uma_policy"), default=UmaPolicy.ALLOWED
    )
    anonymous_address: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    # "Our numbers are right as of now", confirmed by a facility manager (or admin).
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    capacity_periods: Mapped[list[CapacityPeriod]] = relationship(
        back_populates="facility", order_by="CapacityPeriod.valid_from", cascade="all"
    )

    @property
    def gender_set(self) -> frozenset[Gender]:
        return genders_of(self.genders)

    def __repr__(self) -> str:
        return f"<Facility {self.code}>"


class CapacityPeriod(Base):
    """Places of a facility from ``valid_from`` (inclusive) to ``valid_until`` (exclusive).

    Periods of one facility never overlap, so exactly one (or none) applies at an instant.
    ``temporary_ceiling`` is a befristete Überbelegung allowed by the supervising authority
    for this period. The rules that read a period (the one in force, the limit) are in
    ``services.occupancy.core``."""

    __tablename__ = "capacity_period"
    __table_args__ = (
        CheckConstraint("licensed_places >= 0", name="licensed_nonneg"),
        CheckConstraint("usable_places >= 0", name="usable_nonneg"),
        CheckConstraint("reserved_places >= 0", name="reserved_nonneg"),
        CheckConstraint(
            "temporary_ceiling IS NULL OR temporary_ceiling > licensed_places",
            name="ceiling_above_licensed",
        ),
        CheckConstraint(
            "usable_places <= licensed_places OR "
            "(temporary_ceiling IS NOT NULL AND usable_places <= temporary_ceiling)",
            name="usable_within_limit",
        ),
        CheckConstraint("valid_until IS NULL OR valid_until > valid_from", name="period_positive"),
        Index("ix_capacity_period_facility_from", "facility_id", "valid_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id", ondelete="RESTRICT"))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    licensed_places: Mapped[int] = mapped_column(Integer)
    usable_places: Mapped[int] = mapped_column(Integer)
    temporary_ceiling: Mapped[int | None] = mapped_column(Integer)
    # Freihalteplätze: places kept free for emergency admissions.
    reserved_places: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(String(500))
    # The supervising authority's reference for a temporary ceiling (Aktenzeichen).
    ceiling_reference: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)

    facility: Mapped[Facility] = relationship(back_populates="capacity_periods")
