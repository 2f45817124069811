"""Reservations for announced admissions, and recorded over-occupancy events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placement.models.base import Base, UTCDateTime, utcnow
from placement.models.enums import db_enum


class ReservationStatus(StrEnum):
    OPEN = "open"
    ADMITTED = "admitted"
    CANCELLED = "cancelled"


class Reservation(Base):
    """One place held for an announced admission from ``created_at`` until the earlier of
    ``expires_at`` and ``closed_at`` (admitted or cancelled). Expiry needs no job: a
    reservation past ``expires_at`` simply no longer counts."""

    __tablename__ = "reservation"
    __table_args__ = (
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        CheckConstraint("places >= 1", name="places_positive"),
        Index("ix_reservation_facility_window", "facility_id", "created_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[ReservationStatus] = mapped_column(
        db_enum(ReservationStatus, "reservation_status"), default=ReservationStatus.OPEN
    )
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Places held: one per child of an announced sibling group.
    places: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # A short operational note ("Polizei bringt 1 Jugendliche/n"), never a name.
    note: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    stay_id: Mapped[int | None] = mapped_column(ForeignKey("stay.id", ondelete="SET NULL"))

    facility = relationship("Facility")


class OverOccupancyEvent(Base):
    """Recorded in the same transaction as the admission or move that put a facility over
    its licensed places (or its temporary ceiling). Alerts and episode lists build on it."""

    __tablename__ = "over_occupancy_event"
    __table_args__ = (Index("ix_over_occupancy_event_facility_at", "facility_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id", ondelete="RESTRICT"))
    stay_id: Mapped[int | None] = mapped_column(ForeignKey("stay.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    occupied: Mapped[int] = mapped_column(Integer)
    limit: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    facility = relationship("Facility")
