"""The occupancy board: places and occupancy of every facility at any instant.

Everything is reconstructed from stays and capacity periods, so the same function answers
"now" and "as of" a past instant. The board runs a constant number of queries whatever the
number of facilities (facilities, capacities, occupancy, reservations, holds, last change,
areas), plus, on the start page, the early warning "Engpass" from one batch forecast of
the whole office (cached until the next write, ``reporting.forecasts``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import select

from placement.extensions import db
from placement.models import Facility
from placement.models.enums import FacilityKind, Gender, UmaPolicy, label
from placement.services.accounts import permissions
from placement.services.accounts.audit import Actor
from placement.services.accounts.permissions import Permission
from placement.services.occupancy.capacity import confirmation_stale
from placement.services.occupancy.core import PlaceState
from placement.services.occupancy.queries import last_changed_at, place_states_at, state_of
from placement.services.reporting import forecasts, history
from placement.services.reporting.forecasts import Shortage
from placement.timeutil import now as utc_now


class BoardOrder(StrEnum):
    """The order of the board's rows."""

    KIND = "art"  # by kind label, then name
    SHORTAGE = "engpass"  # expected shortages first, soonest and most likely first


@dataclass(frozen=True)
class BoardFilters:
    """Filters of the board; ``None`` means "any". The profile filters (age, gender, umA)
    keep the facilities that accept such a youth."""

    kind: FacilityKind | None = None
    planning_area: str | None = None
    age: int | None = None
    gender: Gender | None = None
    uma: bool | None = None
    # Only facilities with an expected shortage (the forecast's early warning).
    shortage_only: bool = False


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One facility's places at an instant. ``facility`` is anything with id, code, name,
    kind, planning_area and active (``BoardFacility`` on the board, the Facility on its
    page)."""

    facility: Any
    state: PlaceState
    last_changed: datetime | None = None
    # Figures not confirmed by the facility within FACILITY_CONFIRMATION_STALE_HOURS.
    confirmation_stale: bool = False
    # The first day expected over the limit (None: none expected, or not forecast).
    shortage: Shortage | None = None


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
    over_capacity: int = 0  # facilities over their limit
    over_by: int = 0  # occupants above the limits, summed

    def add(self, state: PlaceState) -> None:
        self.facilities += 1
        self.occupied += state.occupied
        self.licensed += state.licensed
        self.usable += state.usable
        self.reserved += state.reserved
        self.free += state.free
        self.over_capacity += int(state.over_capacity)
        self.over_by += state.over_by

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
    # Whether the rows carry the forecast's early warning, and its settings (0 without).
    forecast: bool = False
    warn_days: int = 0
    warn_probability: float = 0.0
    order: BoardOrder = BoardOrder.KIND

    @property
    def shortages(self) -> int:
        """Facilities shown with an expected shortage."""
        return sum(1 for row in self.rows if row.shortage is not None)

    def _grouped(self, key) -> list[Totals]:
        groups: dict[str, Totals] = {}
        for row in self.rows:
            name = key(row)
            groups.setdefault(name, Totals(label=name)).add(row.state)
        return sorted(groups.values(), key=lambda t: t.label)

    @property
    def total(self) -> Totals:
        totals = Totals(label="Gesamt")
        for row in self.rows:
            totals.add(row.state)
        return totals

    @property
    def by_kind(self) -> list[Totals]:
        return self._grouped(
            lambda row: self.kind_labels.get(row.facility.kind) or label(row.facility.kind)
        )

    @property
    def by_planning_area(self) -> list[Totals]:
        return self._grouped(lambda row: row.facility.planning_area or "–")


class BoardFacility(NamedTuple):
    """The columns of a facility the board shows: plain values (loading and reading 500
    ORM instances costs more than all the queries together, and a result row's named
    attributes cost ten times a tuple's)."""

    id: int
    code: str
    name: str
    kind: FacilityKind
    planning_area: str | None
    active: bool
    confirmed_at: datetime | None


_BOARD_FACILITIES = select(*(getattr(Facility, name) for name in BoardFacility._fields))


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


def board_at(
    actor: Actor,
    instant: datetime,
    filters: BoardFilters | None = None,
    *,
    as_of: bool = False,
    field: str = "at",
    with_forecast: bool = False,
    with_changes: bool = True,
    order: BoardOrder = BoardOrder.KIND,
) -> Board:
    """Every active facility (or one with residents then) matching ``filters`` with its
    places and last change at ``instant``, sorted by kind label and name (or expected
    shortages first). ``as_of``: the instant was asked for (a history view), so it must lie
    within the data's range. ``with_forecast``: each row with its expected shortage as the
    forecast from ``instant`` sees it (as of a past instant: what it would have said then,
    from what was known then); implied by the filter ``shortage_only``. ``with_changes``
    False leaves the rows' last change out (None), for callers that do not show it."""
    permissions.require(actor.role, Permission.VIEW_COUNTS)
    if as_of:
        history.check_instant(instant, field)
    filters = filters or BoardFilters()
    conditions = _filter_conditions(filters)
    rows = db.session.execute(_BOARD_FACILITIES.where(*conditions)).all()
    facilities = [BoardFacility._make(row) for row in rows]
    # Unfiltered grouped queries: an IN list of hundreds of ids costs more than it saves.
    states = place_states_at(instant)
    changed = last_changed_at(instant) if facilities and with_changes else {}
    # A facility closed since then still shows for a past instant at which it had residents.
    shown = [f for f in facilities if f.active or state_of(states, f.id).occupied]
    with_forecast = with_forecast or filters.shortage_only or order == BoardOrder.SHORTAGE
    warn_days, warn_probability = 0, 0.0  # the settings are shown with the forecast only
    found: dict[int, Shortage] = {}
    if with_forecast:
        warn_days, warn_probability = forecasts.warning_settings()
        # One (cached) batch projection of the office; closed houses admit nobody.
        found = forecasts.shortages(
            [f.id for f in shown if f.active],
            instant,
            over_now={f.id for f in shown if state_of(states, f.id).over_capacity},
            as_of=as_of,
            settings=(warn_days, warn_probability),
        )
        if filters.shortage_only:
            shown = [f for f in shown if f.id in found]
    now = utc_now()
    rows = [
        BoardRow(
            f,
            state_of(states, f.id),
            changed.get(f.id),
            confirmation_stale(f.confirmed_at, now),
            found.get(f.id),
        )
        for f in shown
    ]
    kind_labels = {kind: label(kind) for kind in FacilityKind}
    rows.sort(key=lambda r: (kind_labels[r.facility.kind], r.facility.name))
    if order == BoardOrder.SHORTAGE:
        # Stable: within the same day and probability, by kind and name.
        rows.sort(key=_shortage_key)
    # The filter offers every active facility's area, which unfiltered rows already hold.
    areas = sorted(
        {f.planning_area for f in facilities if f.active and f.planning_area is not None}
        if not conditions
        else db.session.scalars(
            select(Facility.planning_area)
            .where(Facility.active.is_(True), Facility.planning_area.is_not(None))
            .distinct()
        )
    )
    return Board(
        at=instant,
        rows=rows,
        filters=filters,
        planning_areas=list(areas),
        kind_labels=kind_labels,
        forecast=with_forecast,
        warn_days=warn_days,
        warn_probability=warn_probability,
        order=order,
    )


def _shortage_key(row: BoardRow) -> tuple:
    shortage = row.shortage
    if shortage is None:
        return (1, 0, 0.0)
    return (0, shortage.in_days, -shortage.probability)
