"""The occupancy board and the facility page: places and occupancy at any instant.

Everything is reconstructed from stays and capacity periods, so the same functions answer
"now" and "as of" a past instant. The board runs a constant number of queries whatever the
number of facilities (facilities, capacities, occupancy, reservations, last change, areas)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, type_coerce

from placement.extensions import db
from placement.models import (
    CapacityPeriod,
    Facility,
    OverOccupancyEvent,
    Stay,
    UTCDateTime,
    Youth,
    utcnow,
)
from placement.models.enums import FacilityKind, Gender, UmaPolicy, label
from placement.services import deadlines as deadline_rules
from placement.services.occupancy import occupancy_at, reserved_at, stays_covering
from placement.timeutil import local


@dataclass(frozen=True)
class BoardFilters:
    """Filters of the board; ``None`` means "any". The profile filters (age, gender, umA)
    keep the facilities that accept such a youth."""

    kind: FacilityKind | None = None
    planning_area: str | None = None
    age: int | None = None
    gender: Gender | None = None
    uma: bool | None = None

    @property
    def active(self) -> bool:
        values = (self.kind, self.planning_area, self.age, self.gender, self.uma)
        return any(v is not None for v in values)


@dataclass(slots=True)
class BoardRow:
    """One facility's places and occupancy at an instant, as plain values.

    ``facility`` is anything with id, code, name, kind, planning_area and active (a
    lightweight result row on the board, the Facility on its page); the capacity figures
    come from the period in force (all zero without one)."""

    facility: Any
    period_id: int | None
    period_valid_until: datetime | None
    licensed: int
    usable: int
    ceiling: int | None
    occupied: int
    reserved: int = 0
    last_changed: datetime | None = None
    # Derived in __post_init__: stored rather than computed, as tables read them often.
    limit: int = 0
    free: int = 0
    utilisation: float | None = None
    over_capacity: bool = False
    excess: int = 0

    def __post_init__(self) -> None:
        # Over-occupancy is measured against the temporary ceiling while one is valid.
        self.limit = self.ceiling if self.ceiling is not None else self.licensed
        # Free: usable places minus occupied and reserved ones, never negative.
        self.free = max(0, self.usable - self.occupied - self.reserved)
        self.utilisation = self.occupied / self.licensed if self.licensed else None
        self.over_capacity = self.occupied > self.limit
        self.excess = max(0, self.occupied - self.limit)

    @classmethod
    def build(cls, facility, period, occupied: int, reserved: int = 0, last_changed=None):
        """A row from a facility and its period in force (a CapacityPeriod or a result row
        with id, valid_until, licensed_places, usable_places, temporary_ceiling) or None."""
        if period is None:
            return cls(facility, None, None, 0, 0, None, occupied, reserved, last_changed)
        return cls(
            facility,
            period.id,
            period.valid_until,
            period.licensed_places,
            period.usable_places,
            period.temporary_ceiling,
            occupied,
            reserved,
            last_changed,
        )


@dataclass
class Totals:
    """Sums over a group of board rows."""

    label: str
    facilities: int = 0
    occupied: int = 0
    licensed: int = 0
    usable: int = 0
    reserved: int = 0
    free: int = 0
    over_capacity: int = 0

    def add(self, row: BoardRow) -> None:
        self.facilities += 1
        self.occupied += row.occupied
        self.licensed += row.licensed
        self.usable += row.usable
        self.reserved += row.reserved
        self.free += row.free
        self.over_capacity += int(row.over_capacity)

    @property
    def utilisation(self) -> float | None:
        return self.occupied / self.licensed if self.licensed else None


@dataclass(frozen=True)
class Board:
    at: datetime
    rows: list[BoardRow]
    filters: BoardFilters = field(default_factory=BoardFilters)
    planning_areas: list[str] = field(default_factory=list)
    # German label per kind, looked up once (a lazy-gettext lookup per row is slow).
    kind_labels: dict[FacilityKind, str] = field(default_factory=dict)

    @property
    def occupied(self) -> int:
        return sum(r.occupied for r in self.rows)

    @property
    def licensed(self) -> int:
        return sum(r.licensed for r in self.rows)

    @property
    def total(self) -> Totals:
        totals = Totals(label="Gesamt")
        for row in self.rows:
            totals.add(row)
        return totals

    @property
    def by_kind(self) -> list[Totals]:
        groups: dict[FacilityKind, Totals] = {}
        for row in self.rows:
            kind = row.facility.kind
            groups.setdefault(kind, Totals(label=self.kind_labels.get(kind) or label(kind))).add(
                row
            )
        return sorted(groups.values(), key=lambda t: t.label)

    @property
    def by_planning_area(self) -> list[Totals]:
        groups: dict[str, Totals] = {}
        for row in self.rows:
            area = row.facility.planning_area or "–"
            groups.setdefault(area, Totals(label=area)).add(row)
        return sorted(groups.values(), key=lambda t: t.label)


def _filter_conditions(filters: BoardFilters) -> list:
    conditions = []
    if filters.kind is not None:
        conditions.append(Facility.kind == filters.kind)
    if filters.planning_area is not None:
        conditions.append(Facility.planning_area == filters.planning_area)
    if filters.age is not None:
        conditions += [Facility.age_min <= filters.age, Facility.age_max >= filters.age]
    if filters.gender is not None:
        conditions.append(Facility.genders.contains(filters.gender.value))
    if filters.uma is True:
        conditions.append(Facility.uma_policy.in_([UmaPolicy.ONLY, UmaPolicy.ALLOWED]))
    elif filters.uma is False:
        conditions.append(Facility.uma_policy.in_([UmaPolicy.ALLOWED, UmaPolicy.NONE]))
    return conditions


def _period_covering(instant: datetime):
    return (CapacityPeriod.valid_from <= instant) & or_(
        CapacityPeriod.valid_until.is_(None), CapacityPeriod.valid_until > instant
    )


def last_changed_at(instant: datetime, facility_ids: Iterable[int] | None = None):
    """Per facility, the latest instant at or before ``instant`` at which a stay started,
    ended or was edited, or a capacity period began or ended. One query: correlated
    subqueries, each answered by one seek in a (facility_id, column) index."""

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
    # 2,500 timestamps in Python cost more than the query). PostgreSQL's GREATEST skips
    # NULLs; SQLite's multi-argument MAX does not, and its instants are ISO text.
    if db.session.get_bind().dialect.name == "sqlite":
        greatest = func.nullif(func.max(*[func.coalesce(c, "") for c in candidates]), "")
    else:
        greatest = func.greatest(*candidates)
    query = select(Facility.id, type_coerce(greatest, UTCDateTime))
    if facility_ids is not None:
        query = query.where(Facility.id.in_(list(facility_ids)))
    return {
        facility_id: moment
        for facility_id, moment in db.session.execute(query)
        if moment is not None
    }


def board_at(instant: datetime, filters: BoardFilters | None = None) -> Board:
    """Every active facility (or one with residents then) matching ``filters``
    with its places, occupancy, reservations and
    last change at ``instant``, sorted by kind label and name (constant number of queries)."""
    filters = filters or BoardFilters()
    # Plain result rows, not ORM objects: loading and reading 500 instances costs more
    # than all the queries together.
    facilities = db.session.execute(
        select(
            Facility.id,
            Facility.code,
            Facility.name,
            Facility.kind,
            Facility.planning_area,
            Facility.active,
        ).where(*_filter_conditions(filters))
    ).all()
    periods = {
        p.facility_id: p
        for p in db.session.execute(
            select(
                CapacityPeriod.facility_id,
                CapacityPeriod.id,
                CapacityPeriod.valid_until,
                CapacityPeriod.licensed_places,
                CapacityPeriod.usable_places,
                CapacityPeriod.temporary_ceiling,
            ).where(_period_covering(instant))
        )
    }
    # Unfiltered grouped queries: an IN list of hundreds of ids costs more than it saves.
    counts = occupancy_at(instant)
    reserved = reserved_at(instant)
    changed = last_changed_at(instant) if facilities else {}
    # A facility closed since then still shows for a past instant at which it had residents.
    rows = [
        BoardRow.build(
            f, periods.get(f.id), counts.get(f.id, 0), reserved.get(f.id, 0), changed.get(f.id)
        )
        for f in facilities
        if f.active or counts.get(f.id)
    ]
    kind_labels = {kind: label(kind) for kind in FacilityKind}
    rows.sort(key=lambda r: (kind_labels[r.facility.kind], r.facility.name))
    areas = db.session.scalars(
        select(Facility.planning_area)
        .where(Facility.active.is_(True), Facility.planning_area.is_not(None))
        .distinct()
        .order_by(Facility.planning_area)
    ).all()
    return Board(
        at=instant,
        rows=rows,
        filters=filters,
        planning_areas=list(areas),
        kind_labels=kind_labels,
    )


def current_board() -> Board:
    return board_at(utcnow())


# --- the facility page ------------------------------------------------------------------


@dataclass(frozen=True)
class Resident:
    """A youth placed at the instant shown: pseudonymous reference, never a name."""

    stay_id: int
    reference: str
    age: int
    gender: Gender
    uma: bool
    legal_basis: str
    start_at: datetime
    days: int
    deadlines: list[deadline_rules.Deadline]


@dataclass(frozen=True)
class Episode:
    """An over-occupancy episode: from the first recorded event until occupancy was back
    within the limit (``end`` None: still over at the instant shown)."""

    start: datetime
    end: datetime | None
    peak: int
    limit: int
    events: int


@dataclass(frozen=True)
class FacilityPage:
    row: BoardRow
    periods: list[CapacityPeriod]
    residents: list[Resident] | None
    episodes: list[Episode]
    chart_days: list  # list[reports.DayStat]
    chart_from: date
    chart_until: date

    @property
    def facility(self) -> Facility:
        return self.row.facility


def facility_page(
    facility_id: int,
    instant: datetime,
    *,
    with_residents: bool,
    chart_from: date | None = None,
    chart_until: date | None = None,
) -> FacilityPage | None:
    """Everything the facility page shows as of ``instant``; residents only when asked
    (the caller checks the permission and writes the audit event). None if no facility."""
    from placement.services.reports import daily_stats

    facility = db.session.get(Facility, facility_id)
    if facility is None:
        return None
    ids = [facility_id]
    periods = db.session.scalars(
        select(CapacityPeriod)
        .where(CapacityPeriod.facility_id == facility_id)
        .order_by(CapacityPeriod.valid_from)
    ).all()
    current = next((p for p in periods if p.covers(instant)), None)
    row = BoardRow.build(
        facility,
        current,
        occupancy_at(instant, ids).get(facility_id, 0),
        reserved_at(instant, ids).get(facility_id, 0),
        last_changed_at(instant, ids).get(facility_id),
    )
    residents = residents_at(facility, instant) if with_residents else None
    chart_until = chart_until or local(instant).date()
    chart_from = chart_from or chart_until - timedelta(days=89)
    chart = daily_stats(chart_from, chart_until, facility_ids=ids).get(facility_id, [])
    return FacilityPage(
        row=row,
        periods=list(periods),
        residents=residents,
        episodes=episodes_until(facility_id, instant, periods),
        chart_days=chart,
        chart_from=chart_from,
        chart_until=chart_until,
    )


def residents_at(facility: Facility, instant: datetime) -> list[Resident]:
    """The youths placed in ``facility`` at ``instant`` with age, days and deadlines."""
    rows = db.session.execute(
        select(Stay, Youth)
        .join(Youth, Youth.id == Stay.youth_id)
        .where(Stay.facility_id == facility.id, stays_covering(instant))
        .order_by(Stay.start_at, Youth.reference)
    ).all()
    today = local(instant).date()
    return [
        Resident(
            stay_id=stay.id,
            reference=youth.reference,
            age=youth.age_on(today),
            gender=youth.gender,
            uma=youth.uma,
            legal_basis=stay.legal_basis,
            start_at=stay.start_at,
            days=(instant - stay.start_at).days,
            deadlines=deadline_rules.deadlines_for_stay(
                start_at=stay.start_at,
                legal_basis=stay.legal_basis,
                facility_kind=facility.kind,
                birth_date=youth.birth_date,
                instant=instant,
            ),
        )
        for stay, youth in rows
    ]


def episodes_until(
    facility_id: int, instant: datetime, periods: list[CapacityPeriod]
) -> list[Episode]:
    """Over-occupancy episodes recorded up to ``instant``, newest first.

    Each recorded event (written with the admission or move that pushed the facility over
    its limit) opens an episode unless one is already running; the episode lasts until the
    first instant at which occupancy is back within the limit in force, as reconstructed
    from the facility's stays and capacity periods."""
    events = db.session.scalars(
        select(OverOccupancyEvent)
        .where(OverOccupancyEvent.facility_id == facility_id, OverOccupancyEvent.at <= instant)
        .order_by(OverOccupancyEvent.at)
    ).all()
    if not events:
        return []
    stays = db.session.execute(
        select(Stay.start_at, Stay.end_at).where(
            Stay.facility_id == facility_id,
            Stay.start_at <= instant,
        )
    ).all()
    timeline = _occupancy_timeline(stays, periods, instant)
    episodes: list[Episode] = []
    index = 0
    while index < len(events):
        first = events[index]
        end, peak, limit = _episode_end(timeline, first.at, first.occupied, first.limit)
        count = 0
        while index < len(events) and (end is None or events[index].at < end):
            peak = max(peak, events[index].occupied)
            count += 1
            index += 1
        episodes.append(Episode(first.at, end, peak, limit, count))
    return list(reversed(episodes))


def _occupancy_timeline(stays, periods: list[CapacityPeriod], until: datetime):
    """Sorted (instant, occupied, limit) after every change up to ``until``."""
    changes: dict[datetime, int] = {}
    for start_at, end_at in stays:
        changes[start_at] = changes.get(start_at, 0) + 1
        if end_at is not None and end_at <= until:
            changes[end_at] = changes.get(end_at, 0) - 1
    for period in periods:
        for moment in (period.valid_from, period.valid_until):
            if moment is not None and moment <= until:
                changes.setdefault(moment, 0)
    occupied = 0
    timeline = []
    for moment in sorted(changes):
        occupied += changes[moment]
        period = next((p for p in periods if p.covers(moment)), None)
        timeline.append((moment, occupied, period.limit if period else 0))
    return timeline


def _episode_end(timeline, start: datetime, occupied: int, limit: int):
    """The first instant after ``start`` with occupancy within the limit, the peak up to
    then and the limit at the start."""
    peak = occupied
    for moment, count, moment_limit in timeline:
        if moment <= start:
            continue
        if count <= moment_limit:
            return moment, peak, limit
        peak = max(peak, count)
    return None, peak, limit
