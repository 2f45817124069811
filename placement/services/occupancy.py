"""Occupancy, always derived from stays: a stay counts at t when start_at <= t < end_at.

The queries are shaped for the indexes on stay: open stays and stays ending after t are
two ranges of (end_at, start_at, facility_id), and the few places held after an absconding
are found through (place_held_until, end_at, facility_id). Written as the plain condition
(``stays_covering``), planners scan every stay ever recorded with start_at <= t."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, literal, or_, select, union_all

from placement.extensions import db
from placement.models import Reservation, Stay


def stays_covering(instant: datetime):
    """SQL condition: the stay is open at ``instant`` (half-open interval)."""
    return (Stay.start_at <= instant) & or_(Stay.end_at.is_(None), Stay.end_at > instant)


def open_stays_at(instant: datetime, *columns, facility_ids: Iterable[int] | None = None):
    """Subquery of ``columns`` (default: facility_id) of the stays counting at ``instant``,
    as two index ranges (see the module docstring); with facility_id alone it is covered."""
    columns = columns or (Stay.facility_id,)
    parts = [
        select(*columns).where(Stay.end_at.is_(None), Stay.start_at <= instant),
        select(*columns).where(Stay.end_at > instant, Stay.start_at <= instant),
    ]
    if facility_ids is not None:
        ids = list(facility_ids)
        parts = [part.where(Stay.facility_id.in_(ids)) for part in parts]
    return union_all(*parts).subquery()


def occupancy_at(instant: datetime, facility_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Number of youths per facility at ``instant``, in one grouped query.

    Facilities without anyone are absent from the result (read with ``.get(id, 0)``)."""
    stays = open_stays_at(instant, facility_ids=facility_ids)
    query = select(stays.c.facility_id, func.count()).group_by(stays.c.facility_id)
    return {facility_id: count for facility_id, count in db.session.execute(query)}


def reserved_at(instant: datetime, facility_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Places held at ``instant`` per facility: active reservations plus places kept after
    an absconding (until ``place_held_until``). Two queries."""
    reservations = (
        select(Reservation.facility_id, func.count())
        .where(
            Reservation.created_at <= instant,
            Reservation.expires_at > instant,
            or_(Reservation.closed_at.is_(None), Reservation.closed_at > instant),
        )
        .group_by(Reservation.facility_id)
    )
    # Few places are held at any instant: fetch them ungrouped, so that the planner reads
    # the covering index instead of walking a facility-ordered one to avoid a sort.
    holds = select(Stay.facility_id, literal(1)).where(
        Stay.place_held_until > instant, Stay.end_at <= instant
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
