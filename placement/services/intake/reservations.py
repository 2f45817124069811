"""Reservations: places held for an announced admission (police on the way), one per
child of an announced sibling group.

A reservation becomes the admission through ``admissions.admit`` with its id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from placement.extensions import db
from placement.models import Reservation, ReservationStatus
from placement.services.accounts import audit, permissions
from placement.services.accounts.permissions import Permission
from placement.services.errors import Code, Conflict, NotFound, RuleViolation
from placement.services.intake.rules import (
    MAX_NOTE_LENGTH,
    MAX_SIBLINGS,
    active_facility,
    bounded_text,
)
from placement.services.occupancy.core import covers
from placement.services.occupancy.locking import lock_facilities
from placement.services.occupancy.queries import place_state
from placement.timeutil import now as utc_now


def reserve(
    actor: audit.Actor,
    *,
    facility_id: int,
    hours: int | None = None,
    expires_at: datetime | None = None,
    note: str | None = None,
    places: int = 1,
) -> Reservation:
    """Hold ``places`` free places (siblings together) for ``hours`` or until
    ``expires_at`` (default: for RESERVATION_DEFAULT_HOURS).

    Unlike an admission, a reservation needs truly free places: it can never hand out a
    place that is already taken or held."""
    permissions.require(actor.role, Permission.ADMIT)
    note = bounded_text(note, "note", MAX_NOTE_LENGTH)
    if not 1 <= places <= MAX_SIBLINGS:
        raise RuleViolation(Code.SIBLINGS_OUT_OF_RANGE, "places", max=MAX_SIBLINGS)
    config = current_app.config
    longest = int(config["RESERVATION_MAX_HOURS"])
    if hours is not None and not 1 <= hours <= longest:
        raise RuleViolation(Code.EXPIRY_TOO_FAR, "hours", hours=longest)
    lock_facilities([facility_id])
    # Read the clock only under the lock: a reservation made while this request waited
    # must lie in the past of this one, or it would not be counted.
    current = utc_now()
    if expires_at is None:
        expires_at = current + timedelta(hours=hours or config["RESERVATION_DEFAULT_HOURS"])
    if expires_at <= current:
        raise RuleViolation(Code.EXPIRY_IN_PAST, "expires_at")
    if expires_at > current + timedelta(hours=longest):
        raise RuleViolation(Code.EXPIRY_TOO_FAR, "expires_at", hours=longest)
    facility = active_facility(facility_id)
    state = place_state(facility.id, current)
    if state.free < places:
        raise Conflict(
            Code.NO_FREE_PLACE,
            "facility_id",
            facility=facility.name,
            occupied=state.occupied,
            reserved=state.reserved,
            usable=state.usable,
        )
    reservation = Reservation(
        facility_id=facility.id,
        created_at=current,
        expires_at=expires_at,
        note=note,
        places=places,
        created_by_id=actor.user_id,
    )
    db.session.add(reservation)
    audit.record(actor, "reservation.create", reservation, after=audit.snapshot(reservation))
    return reservation


@dataclass(frozen=True)
class ShownReservation:
    """A reservation as one actor may see it: the free-text note only for those who see
    persons of its facility (``permissions.may_see_free_text``); everything else as the
    reservation has it."""

    reservation: Reservation
    note_visible: bool

    @property
    def note(self) -> str | None:
        return self.reservation.note if self.note_visible else None

    @property
    def note_hidden(self) -> bool:
        """A note exists but is not shown to this actor."""
        return not self.note_visible and self.reservation.note is not None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reservation, name)


def shown(actor: audit.Actor, reservation: Reservation) -> ShownReservation:
    """``reservation`` as ``actor`` may see it."""
    return ShownReservation(
        reservation, permissions.may_see_free_text(actor, reservation.facility_id)
    )


def holds_place(reservation: Reservation, instant: datetime) -> bool:
    """Whether the reservation is open and holds its place at ``instant``."""
    until = min(reservation.expires_at, reservation.closed_at or reservation.expires_at)
    return reservation.status == ReservationStatus.OPEN and covers(
        reservation.created_at, until, instant
    )


def get_reservation(reservation_id: int) -> Reservation:
    reservation = db.session.get(Reservation, reservation_id)
    if reservation is None:
        raise NotFound(Code.UNKNOWN_RESERVATION, "reservation_id")
    return reservation


def cancel(actor: audit.Actor, reservation_id: int) -> Reservation:
    """Give the held place back."""
    permissions.require(actor.role, Permission.ADMIT)
    reservation = get_reservation(reservation_id)
    current = utc_now()
    if not holds_place(reservation, current):
        raise Conflict(Code.RESERVATION_NOT_OPEN, "reservation_id")
    before = audit.snapshot(reservation)
    reservation.status = ReservationStatus.CANCELLED
    reservation.closed_at = current
    audit.record(
        actor, "reservation.cancel", reservation, before=before, after=audit.snapshot(reservation)
    )
    return reservation


def active_reservations(
    actor: audit.Actor, instant: datetime | None = None
) -> list[ShownReservation]:
    """Reservations holding a place now, soonest to expire first; notes only for those who
    see persons of the reservation's facility."""
    permissions.require(actor.role, Permission.ADMIT)
    instant = instant or utc_now()
    found = db.session.scalars(
        select(Reservation)
        .where(
            Reservation.status == ReservationStatus.OPEN,
            Reservation.created_at <= instant,
            Reservation.expires_at > instant,
        )
        .order_by(Reservation.expires_at)
    ).all()
    return [shown(actor, reservation) for reservation in found]
