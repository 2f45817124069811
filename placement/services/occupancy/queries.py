"""The queries that feed the capacity core: occupancy, reservations, holds and capacity
periods at an instant or over a range, shaped for the indexes.

Occupancy is always derived from stays: a stay counts at t when start_at <= t < end_at.
Open stays and stays ending after t are two ranges of the (end_at, start_at, facility_id)
index, and the few places held after an absconding are found through (place_held_until,
end_at, facility_id). Written as the plain condition (``covering``), planners scan every
stay ever recorded with start_at <= t, so the counting queries avoid it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, bindparam, func, literal, null, or_, select, type_coerce, union_all
from sqlalchemy.sql.elements import BindParameter

from placement.extensions import db
from placement.models import CapacityPeriod, Facility, Reservation, Stay, UTCDateTime
from placement.services.occupancy.core import Capacity, PlaceState


def covering(start_column: Any, end_column: Any, instant: datetime):
    """``core.covers`` as an SQL condition: start <= instant < end (end NULL: open)."""
    return (start_column <= instant) & or_(end_column.is_(None), end_column > instant)


def stays_covering(instant: datetime):
    """SQL condition: the stay counts at ``instant``."""
    return covering(Stay.start_at, Stay.end_at, instant)


def _ids(facility_ids) -> Any:
    """The ids as a list (None: all facilities; a bound parameter stays one)."""
    if facility_ids is None or isinstance(facility_ids, BindParameter):
        return facility_ids
    return list(facility_ids)


# The instant (and the ids) as bound parameters of the statements, which are then built
# once per process: building a statement and its cache key cost as much as running it
# (every answer of the place finder, overview and occupancy API runs four, every
# admission and move four more for the facilities it decides on).
_INSTANT = bindparam("instant")
_IDS = bindparam("ids", expanding=True)
_BUILT: dict[Any, Any] = {}


def _execute(build, instant: datetime, ids: list[int] | None):
    """The rows of ``build(instant, ids)``, its statement built once with the instant and
    the ids (None: all facilities) bound. Fetched at once: row by row, 300 rows cost half
    a millisecond more."""
    key = (build, ids is None)
    statement = _BUILT.get(key)
    if statement is None:
        statement = _BUILT[key] = build(_INSTANT, None if ids is None else _IDS)
    params = {"instant": instant} if ids is None else {"instant": instant, "ids": ids}
    return db.session.execute(statement, params).all()


# --- at one instant ------------------------------------------------------------------------


def open_stays_at(instant: datetime, *columns, facility_ids: Iterable[int] | None = None):
    """Subquery of ``columns`` (default: facility_id) of the stays counting at ``instant``,
    as two index ranges (see the module docstring); with facility_id alone it is covered."""
    columns = columns or (Stay.facility_id,)
    parts = [
        select(*columns).where(Stay.end_at.is_(None), Stay.start_at <= instant),
        select(*columns).where(Stay.end_at > instant, Stay.start_at <= instant),
    ]
    ids = _ids(facility_ids)
    if ids is not None:
        parts = [part.where(Stay.facility_id.in_(ids)) for part in parts]
    return union_all(*parts).subquery()


def occupancy_at(instant: datetime, facility_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Number of youths per facility at ``instant``, in one grouped query.

    Facilities without anyone are absent from the result (read with ``.get(id, 0)``)."""
    rows = _execute(_occupancy_query, instant, _ids(facility_ids))
    return {facility_id: count for facility_id, count in rows}


def _occupancy_query(instant, ids: list[int] | None):
    stays = open_stays_at(instant, facility_ids=ids)
    return select(stays.c.facility_id, func.count()).group_by(stays.c.facility_id)


def reservations_at(instant: datetime, facility_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Places held by open reservations at ``instant``, per facility (a reservation for a
    sibling group holds one place per child)."""
    rows = _execute(_reservations_query, instant, _ids(facility_ids))
    return {facility_id: int(places) for facility_id, places in rows}


def _reservations_query(instant, ids: list[int] | None):
    query = (
        select(Reservation.facility_id, func.sum(Reservation.places))
        .where(
            Reservation.created_at <= instant,
            Reservation.expires_at > instant,
            or_(Reservation.closed_at.is_(None), Reservation.closed_at > instant),
        )
        .group_by(Reservation.facility_id)
    )
    return query if ids is None else query.where(Reservation.facility_id.in_(ids))


def holds_at(instant: datetime, facility_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Places held at ``instant`` after an absconding (until ``place_held_until``)."""
    totals: dict[int, int] = defaultdict(int)
    for facility_id, one in _execute(_holds_query, instant, _ids(facility_ids)):
        totals[facility_id] += one
    return dict(totals)


def _holds_query(instant, ids: list[int] | None):
    # Few places are held at any instant: fetch them ungrouped, so that the planner reads
    # the covering index instead of walking a facility-ordered one to avoid a sort.
    query = select(Stay.facility_id, literal(1)).where(
        Stay.place_held_until > instant, Stay.end_at <= instant
    )
    return query if ids is None else query.where(Stay.facility_id.in_(ids))


def capacity_columns():
    """The CapacityPeriod columns ``Capacity.of`` reads (plus facility_id first), in the
    order ``capacities_at`` unpacks them."""
    return (
        CapacityPeriod.facility_id,
        CapacityPeriod.id,
        CapacityPeriod.valid_from,
        CapacityPeriod.valid_until,
        CapacityPeriod.licensed_places,
        CapacityPeriod.usable_places,
        CapacityPeriod.temporary_ceiling,
        CapacityPeriod.reserved_places,
    )


def capacities_at(
    instant: datetime, facility_ids: Iterable[int] | None = None
) -> dict[int, Capacity]:
    """The capacity in force at ``instant`` per facility, in one query (plain rows: loading
    hundreds of ORM instances costs more than the query)."""
    # By position: a result row's named attributes cost ten times an index.
    return {
        facility_id: Capacity(valid_from, valid_until, licensed, usable, ceiling, kept_free, pid)
        for (
            facility_id,
            pid,
            valid_from,
            valid_until,
            licensed,
            usable,
            ceiling,
            kept_free,
        ) in _execute(_capacities_query, instant, _ids(facility_ids))
    }


def _capacities_query(instant, ids: list[int] | None):
    query = select(*capacity_columns()).where(
        covering(CapacityPeriod.valid_from, CapacityPeriod.valid_until, instant)
    )
    return query if ids is None else query.where(CapacityPeriod.facility_id.in_(ids))


def place_states_at(
    instant: datetime, facility_ids: Iterable[int] | None = None
) -> dict[int, PlaceState]:
    """The place state of every facility (or of ``facility_ids``) at ``instant``, in one
    statement. Facilities without a capacity period or anyone placed are absent (use
    ``state_of``); call under ``lock_facilities`` when deciding."""
    capacities: dict[int, Capacity] = {}
    counts: tuple[dict[int, int], ...] = ({}, {}, {})  # occupied, reserved, held
    for part, facility_id, number, *period in _execute(
        _place_states_query, instant, _ids(facility_ids)
    ):
        if part == _CAPACITY:
            pid, valid_from, valid_until, licensed, usable, ceiling, kept_free = period
            capacities[facility_id] = Capacity(
                valid_from, valid_until, licensed, usable, ceiling, kept_free, pid
            )
        else:
            found = counts[part - 1]
            found[facility_id] = found.get(facility_id, 0) + int(number)
    occupied, reservations, held = counts
    return {
        fid: _place_state(
            capacities.get(fid), occupied.get(fid, 0), reservations.get(fid, 0), held.get(fid, 0)
        )
        for fid in set(capacities) | set(occupied) | set(reservations) | set(held)
    }


# The parts of the place states statement: the capacity period in force, then the
# occupancy, reservation and hold counts (in the order of ``place_states_at``'s counts).
_CAPACITY, _OCCUPIED, _RESERVED, _HELD = range(4)


def _place_states_query(instant, ids: list[int] | None):
    """The four queries of the place states as one UNION ALL of rows (part, facility_id,
    number, the capacity columns): one round trip instead of four, each part with its own
    plan. The capacity part comes first, so that its columns type the result."""
    capacity = _capacities_query(instant, ids).with_only_columns(
        literal(_CAPACITY),
        CapacityPeriod.facility_id,
        null().cast(Integer),
        *capacity_columns()[1:],
        maintain_column_froms=True,
    )
    blanks = [null()] * (len(capacity_columns()) - 1)
    counted = [
        (_OCCUPIED, _occupancy_query(instant, ids)),
        (_RESERVED, _reservations_query(instant, ids)),
        (_HELD, _holds_query(instant, ids)),
    ]
    return union_all(
        capacity,
        *(
            query.with_only_columns(
                literal(part), *query.selected_columns, *blanks, maintain_column_froms=True
            )
            for part, query in counted
        ),
    )


# PlaceState is an immutable value of these four: most facilities' figures are the same
# from one request to the next, so their states are made once and kept.
_place_state = lru_cache(maxsize=8192)(PlaceState)


def state_of(states: dict[int, PlaceState], facility_id: int) -> PlaceState:
    """A facility's entry of ``place_states_at`` (nothing known: no places, nobody)."""
    return states.get(facility_id) or PlaceState(None, 0)


def place_state(facility_id: int, instant: datetime) -> PlaceState:
    """The place state of one facility at ``instant``."""
    return state_of(place_states_at(instant, [facility_id]), facility_id)


def last_changed_at(instant: datetime, facility_ids: Iterable[int] | None = None):
    """Per facility, the latest instant at or before ``instant`` at which a stay started,
    ended or was edited, or a capacity period began or ended. One query: correlated
    subqueries, each answered by one seek in a (facility_id, column) index."""
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    build = _last_changed_sqlite if sqlite else _last_changed_greatest
    return {
        facility_id: moment
        for facility_id, moment in _execute(build, instant, _ids(facility_ids))
        if moment is not None
    }


def _last_changed_query(instant, ids, greatest_of):
    def latest(model, column):
        # ORDER BY ... DESC LIMIT 1 rather than MAX(): with the range condition SQLite's
        # MAX() reads every index entry of the facility, this reads one.
        return (
            select(column)
            .where(model.facility_id == Facility.id, column <= instant)
            .order_by(column.desc())
            .limit(1)
            .scalar_subquery()
        )

    candidates = [
        latest(Stay, Stay.start_at),
        latest(Stay, Stay.end_at),
        latest(Stay, Stay.updated_at),
        latest(CapacityPeriod, CapacityPeriod.valid_from),
        latest(CapacityPeriod, CapacityPeriod.valid_until),
    ]
    # The latest of the five in SQL, so that one instant per facility comes back (converting
    # 2,500 timestamps in Python cost more than the query).
    query = select(Facility.id, type_coerce(greatest_of(candidates), UTCDateTime))
    return query if ids is None else query.where(Facility.id.in_(ids))


def _last_changed_sqlite(instant, ids):
    # SQLite's multi-argument MAX does not skip NULLs (PostgreSQL's GREATEST does), and
    # its instants are ISO text.
    def greatest(found):
        return func.nullif(func.max(*[func.coalesce(c, "") for c in found]), "")

    return _last_changed_query(instant, ids, greatest)


def _last_changed_greatest(instant, ids):
    return _last_changed_query(instant, ids, lambda found: func.greatest(*found))


# --- over a range -------------------------------------------------------------------------


def spans_overlapping(
    start: datetime, end: datetime, facility_ids: Iterable[int] | None = None
) -> dict[int, list[tuple[datetime, datetime | None]]]:
    """(start_at, end_at) of the stays sharing an instant with [start, end), per facility.

    For all facilities: the open stays and those ending after ``start``, two ranges of the
    (end_at, start_at, ...) index rather than a scan of all history before ``end``; for a
    few facilities their (facility_id, start_at, end_at) index answers directly."""
    ids = _ids(facility_ids)
    if ids is not None:
        query = select(Stay.facility_id, Stay.start_at, Stay.end_at).where(
            Stay.facility_id.in_(ids),
            Stay.start_at < end,
            or_(Stay.end_at.is_(None), Stay.end_at > start),
        )
    else:
        columns = (Stay.facility_id, Stay.start_at, Stay.end_at)
        stays = union_all(
            select(*columns).where(Stay.end_at.is_(None), Stay.start_at < end),
            select(*columns).where(Stay.end_at > start, Stay.start_at < end),
        ).subquery()
        query = select(stays.c.facility_id, stays.c.start_at, stays.c.end_at)
    spans: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for fid, start_at, end_at in db.session.execute(query):
        spans[fid].append((start_at, end_at))
    return spans


def capacities_overlapping(
    start: datetime, end: datetime, facility_ids: Iterable[int] | None = None
) -> dict[int, list[Capacity]]:
    """The capacity periods in force at some instant of [start, end), per facility, in
    order of validity."""
    query = (
        select(*capacity_columns())
        .where(
            CapacityPeriod.valid_from < end,
            or_(CapacityPeriod.valid_until.is_(None), CapacityPeriod.valid_until > start),
        )
        .order_by(CapacityPeriod.facility_id, CapacityPeriod.valid_from)
    )
    ids = _ids(facility_ids)
    if ids is not None:
        query = query.where(CapacityPeriod.facility_id.in_(ids))
    periods: dict[int, list[Capacity]] = defaultdict(list)
    for row in db.session.execute(query):
        periods[row.facility_id].append(Capacity.of(row))
    return periods
