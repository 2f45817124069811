"""A stay: one youth in one facility over a half-open interval [start_at, end_at)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placement.models.base import Base, UTCDateTime, utcnow
from placement.models.enums import (
    DistributionResult,
    EndReason,
    LegalBasis,
    PlannedEndKind,
    db_enum,
)


class Stay(Base):
    """Occupancy is derived from stays: a stay counts at instant t when start_at <= t < end_at.

    Invariants: end after start; an end reason exactly when ended; at most one open stay per
    youth (partial unique index); stays of one youth never overlap (checked by
    services.stays before every write, inside the write transaction)."""

    __tablename__ = "stay"
    __table_args__ = (
        CheckConstraint("end_at IS NULL OR end_at > start_at", name="end_after_start"),
        CheckConstraint(
            "(end_at IS NULL AND end_reason IS NULL) OR "
            "(end_at IS NOT NULL AND end_reason IS NOT NULL)",
            name="end_reason_with_end",
        ),
        CheckConstraint(
            "planned_end_kind IS NULL OR planned_end_on IS NOT NULL",
            name="planned_end_kind_with_date",
        ),
        Index(
            "uq_stay_one_open_per_youth",
            "youth_id",
            unique=True,
            sqlite_where=text("end_at IS NULL"),
            postgresql_where=text("end_at IS NULL"),
        ),
        Index("ix_stay_youth_start", "youth_id", "start_at"),
        Index("ix_stay_facility_start_end", "facility_id", "start_at", "end_at"),
        Index("ix_stay_start_end", "start_at", "end_at"),
        # Read paths of occupancy at an instant (services.occupancy), "last changed" and
        # absconding holds; see migration c3f1a7d2e904.
        Index("ix_stay_end_start_facility", "end_at", "start_at", "facility_id"),
        Index("ix_stay_facility_end", "facility_id", "end_at"),
        Index("ix_stay_facility_updated", "facility_id", "updated_at"),
        Index("ix_stay_place_held_until", "place_held_until", "end_at", "facility_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    youth_id: Mapped[int] = mapped_column(ForeignKey("youth.id", ondelete="RESTRICT"))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id", ondelete="RESTRICT"))
    legal_basis: Mapped[LegalBasis] = mapped_column(db_enum(LegalBasis, "legal_basis"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[EndReason | None] = mapped_column(db_enum(EndReason, "end_reason"))
    # Who recorded the end and when (not the end instant itself): the undo window.
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    ended_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    # After an absconding the place stays held (counted as reserved) until this instant.
    place_held_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why an admission outside the facility's age/gender/umA profile was accepted.
    override_reason: Mapped[str | None] = mapped_column(String(500))
    # The §42a procedure: reported for distribution on, its result, the age assessment.
    distribution_reported_on: Mapped[date | None] = mapped_column(Date)
    distribution_result: Mapped[DistributionResult | None] = mapped_column(
        db_enum(DistributionResult, "distribution_result")
    )
    age_assessed_on: Mapped[date | None] = mapped_column(Date)
    # The local day the stay is planned to end (hand-over after §42b, follow-on help from):
    # the forecast counts the youth out on that day.
    planned_end_on: Mapped[date | None] = mapped_column(Date)
    planned_end_kind: Mapped[PlannedEndKind | None] = mapped_column(
        db_enum(PlannedEndKind, "planned_end_kind")
    )
    # When the planned end was last set: a replay of the past (forecast backtest) uses a
    # planned end only if it was known at the replayed instant.
    planned_end_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    youth = relationship("Youth", back_populates="stays")
    facility = relationship("Facility")

    def __repr__(self) -> str:
        return f"<Stay youth={self.youth_id} facility={self.facility_id} {self.start_at}>"


class FormSubmission(Base):
    """A one-time token of an admission form, spent in the transaction that records the
    admission: the same form sent twice (back button, double click) finds it spent."""

    __tablename__ = "form_submission"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    stay_id: Mapped[int | None] = mapped_column(ForeignKey("stay.id", ondelete="SET NULL"))
