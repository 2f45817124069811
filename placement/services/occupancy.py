"""Occupancy, always derived from stays: a stay counts at t when start_at <= t < end_at."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, or_, select

from placement.extensions import db
from placement.models import Reservation, Stay


def stays_covering(instant: datetime):
    """SQL condition: the stay is open at ``instant`` (half-open interval)."""
    return (Stay.start_at <= instant) & or_(Stay.end_at.is_(None), Stay.end_at > instant)


def occupancy_at(instant: datetime, facility_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Number of youths per facility at ``instant``, in one grouped query.

    Facilities without anyone are absent from the result (read with ``.get(id, 0)``)."""
    query = (
        select(Stay.facility_id, func.count())
        .where(stays_covering(instant))
        .group_by(Stay.facility_id)
    )
    if facility_ids is not None:
        query = query.where(Stay.facility_id.in_(list(facility_ids)))
    return {facility_id: count for facility_id, count in db.session.execute(query)}


def reserved_at(instant: datetime, facility_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Places held at ``instant`` per facility: active reservations plus places kept after
    an absconding (until ``place_held_until``). Two grouped queries."""
    reservations = (
        select(Reservation.facility_id, func.count())
        .where(
            Reservation.created_at <= instant,
            Reservation.expires_at > instant,
            or_(Reservation.closed_at.is_(None), Reservation.closed_at > instant),
        )
        .group_by(Reservation.facility_id)
    )
    holds = (
        select(Stay.facility_id, func.count())
        .where(Stay.end_at <= instant, Stay.place_held_until > instant)
        .group_by(Stay.facility_id)
    )
    if facility_ids is not None:
        ids = list(facility_ids)
        reservations = reservations.where(Reservation.facility_id.in_(ids))
        holds = holds.where(Stay.facility_id.in_(ids))
    totals: dict[int, int] = {}
    for query in (reservations, holds):
        for facility_id, count in db.session.execute(query):
            totals[facility_id] = totals.get(facility_id, 0) + count
    return totals
