"""Reservations: one place held for an announced admission (police on the way)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from placement.extensions import db
from placement.models import Reservation, ReservationStatus
from placement.services import audit, permissions
from placement.services.admissions import (
    AdmissionResult,
    StayClosed,
    active_facility,
    admit,
)
from placement.services.errors import NotFound, PlacementError
from placement.services.locking import lock_facilities
from placement.services.permissions import Permission
from placement.services.places import capacity_state
from placement.timeutil import now as utc_now


class NoFreePlace(PlacementError):
    status_code = 409


def reserve(
    actor: audit.Actor,
    *,
    facility_id: int,
    expires_at: datetime | None = None,
    note: str | None = None,
) -> Reservation:
    """Hold one free place until ``expires_at`` (default: in RESERVATION_DEFAULT_HOURS).

    Unlike an admission, a reservation needs a truly free place: it can never hand out a
    place that is already taken or held."""
    permissions.require(actor.role, Permission.ADMIT)
    if note is not None and len(note) > 200:
        raise PlacementError("Die Notiz ist zu lang (höchstens 200 Zeichen).", field="note")
    lock_facilities([facility_id])
    # Read the clock only under the lock: a reservation made while this request waited
    # must lie in the past of this one, or it would not be counted.
    current = utc_now()
    config = current_app.config
    expires = expires_at or current + timedelta(hours=config["RESERVATION_DEFAULT_HOURS"])
    if expires <= current:
        raise PlacementError("Das Ablaufdatum muss in der Zukunft liegen.", field="expires_at")
    if expires > current + timedelta(hours=config["RESERVATION_MAX_HOURS"]):
        raise PlacementError(
            f"Eine Reservierung gilt höchstens {config['RESERVATION_MAX_HOURS']} Stunden.",
            field="expires_at",
        )
    facility = active_facility(facility_id)
    state = capacity_state(facility.id, current)
    if state.free < 1:
        raise NoFreePlace(
            f"In {facility.name} ist kein Platz frei, der reserviert werden könnte "
            f"({state.occupied} belegt, {state.reserved} reserviert, {state.usable} belegbar). "
            "Eine Inobhutnahme kann trotzdem direkt aufgenommen werden.",
            field="facility_id",
        )
    reservation = Reservation(
        facility_id=facility.id,
        created_at=current,
        expires_at=expires,
        note=(note or "").strip() or None,
        created_by_id=actor.user_id,
    )
    db.session.add(reservation)
    audit.record(actor, "reservation.create", reservation, after=audit.snapshot(reservation))
    return reservation


def _get(reservation_id: int) -> Reservation:
    reservation = db.session.get(Reservation, reservation_id)
    if reservation is None:
        raise NotFound("Diese Reservierung ist nicht bekannt.", field="reservation_id")
    return reservation


def cancel(actor: audit.Actor, reservation_id: int) -> Reservation:
    """Give the held place back."""
    permissions.require(actor.role, Permission.ADMIT)
    reservation = _get(reservation_id)
    current = utc_now()
    if reservation.status != ReservationStatus.OPEN or not reservation.is_active(current):
        raise StayClosed("Diese Reservierung ist nicht mehr offen.", field="reservation_id")
    before = audit.snapshot(reservation)
    reservation.status = ReservationStatus.CANCELLED
    reservation.closed_at = current
    audit.record(
        actor, "reservation.cancel", reservation, before=before, after=audit.snapshot(reservation)
    )
    return reservation


def admit_reserved(actor: audit.Actor, reservation_id: int, **admission) -> AdmissionResult:
    """Turn a reservation into the admission (the held place is used)."""
    reservation = _get(reservation_id)
    return admit(
        actor, facility_id=reservation.facility_id, reservation_id=reservation.id, **admission
    )


def active_reservations(instant: datetime | None = None) -> list[Reservation]:
    """Reservations holding a place now, soonest to expire first."""
    instant = instant or utc_now()
    return db.session.scalars(
        select(Reservation)
        .where(
            Reservation.status == ReservationStatus.OPEN,
            Reservation.created_at <= instant,
            Reservation.expires_at > instant,
        )
        .order_by(Reservation.expires_at)
    ).all()


__all__ = [
    "NoFreePlace",
    "active_reservations",
    "admit_reserved",
    "cancel",
    "lock_facilities",
    "reserve",
]
