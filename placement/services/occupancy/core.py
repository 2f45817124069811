"""The capacity core: a facility's places and their use at an instant, the capacity period
in force, and the occupancy timeline. Pure values and rules, no database session: the
queries in ``occupancy.queries`` feed it, and the overview, facility page, reports, charts,
place finder and admissions all read it.

Rules, each stated once:

- Intervals are half-open: a stay counts at t when start <= t < end, a capacity period is
  in force when valid_from <= t < valid_until (``covers``; ``queries.covering`` states
  the same rule in SQL).
- Over-occupancy is measured against the temporary ceiling while one is in force, else
  against the licensed places (``Capacity.limit``).
- Free places are the usable places minus occupied, reserved and held ones, never negative
  (``PlaceState.free``). Places kept free (Freihalteplätze) are shown, not subtracted: they
  are kept for exactly the emergency admissions the place finder serves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NamedTuple


def covers(start: datetime, end: datetime | None, instant: datetime) -> bool:
    """Whether the half-open interval [start, end) holds ``instant`` (end None: open)."""
    return start <= instant and (end is None or instant < end)


@dataclass(frozen=True, slots=True)
class Capacity:
    """The places of one capacity period, as plain values."""

    valid_from: datetime
    valid_until: datetime | None
    licensed: int
    usable: int
    ceiling: int | None = None
    kept_free: int = 0
    period_id: int | None = None

    @property
    def limit(self) -> int:
        """The number of places above which the facility is over-occupied."""
        return self.ceiling if self.ceiling is not None else self.licensed

    def covers(self, instant: datetime) -> bool:
        return covers(self.valid_from, self.valid_until, instant)

    @classmethod
    def of(cls, period: Any) -> Capacity:
        """From a CapacityPeriod, or a result row with its column names."""
        return cls(
            valid_from=period.valid_from,
            valid_until=period.valid_until,
            licensed=period.licensed_places,
            usable=period.usable_places,
            ceiling=period.temporary_ceiling,
            kept_free=period.reserved_places,
            period_id=period.id,
        )


def period_in_force(periods: Iterable[Capacity], instant: datetime) -> Capacity | None:
    """The capacity period in force at ``instant`` (periods of a facility never overlap)."""
    for period in periods:
        if period.covers(instant):
            return period
    return None


class Status(StrEnum):
    """The state of a facility's places, worst first (without a capacity period in force
    a facility has no place: full, or over with anybody in it)."""

    OVER = "over"  # occupied above the limit
    FULL = "full"  # no free place
    FREE = "free"


@dataclass(frozen=True, slots=True)
class PlaceState:
    """One facility's places and their use at one instant. The derived figures are
    computed once, when the value is made: tables of hundreds of facilities read them."""

    capacity: Capacity | None
    occupied: int
    reservations: int = 0  # open reservations for announced admissions
    held: int = 0  # places held after an absconding
    licensed: int = field(init=False)
    usable: int = field(init=False)
    ceiling: int | None = field(init=False)
    kept_free: int = field(init=False)
    limit: int = field(init=False)
    # Places taken without an occupant: reservations and absconding holds.
    reserved: int = field(init=False)
    free: int = field(init=False)
    over_by: int = field(init=False)
    over_capacity: bool = field(init=False)
    # More occupants and reservations than usable places (whether or not over the limit).
    above_usable: bool = field(init=False)
    # Occupancy as a share of the licensed places (None without licensed places).
    utilisation: float | None = field(init=False)
    status: Status = field(init=False)

    def __post_init__(self) -> None:
        capacity = self.capacity
        licensed = capacity.licensed if capacity else 0
        usable = capacity.usable if capacity else 0
        limit = capacity.limit if capacity else 0
        reserved = self.reservations + self.held
        free = max(0, usable - self.occupied - reserved)
        over = self.occupied > limit
        derived = {
            "licensed": licensed,
            "usable": usable,
            "ceiling": capacity.ceiling if capacity else None,
            "kept_free": capacity.kept_free if capacity else 0,
            "limit": limit,
            "reserved": reserved,
            "free": free,
            "over_by": max(0, self.occupied - limit),
            "over_capacity": over,
            "above_usable": self.occupied + reserved > usable,
            "utilisation": self.occupied / licensed if licensed else None,
            "status": Status.OVER if over else Status.FULL if free == 0 else Status.FREE,
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    @property
    def has_capacity(self) -> bool:
        return self.capacity is not None

    def after_arrivals(
        self, arriving: int = 1, releasing: int = 0, releasing_held: int = 0
    ) -> PlaceState:
        """The state once ``arriving`` youths came in, ``releasing`` of them on a
        reservation of this facility and ``releasing_held`` back to a place held for them
        (whose places they take over)."""
        return PlaceState(
            self.capacity,
            self.occupied + arriving,
            self.reservations - min(releasing, self.reservations),
            self.held - min(releasing_held, self.held),
        )


# --- the occupancy timeline --------------------------------------------------------------


class Step(NamedTuple):
    """Occupancy and the capacity in force from ``at`` until the next step, with the
    limit then and whether occupancy is above it. (A tuple: reports make thousands.)"""

    at: datetime
    occupied: int
    capacity: Capacity | None
    limit: int
    over: bool


def _step(moment: datetime, occupied: int, periods: Sequence[Capacity]) -> Step:
    capacity = period_in_force(periods, moment) if periods else None
    limit = capacity.limit if capacity else 0
    return Step(moment, occupied, capacity, limit, occupied > limit)


def occupancy_steps(
    spans: Iterable[tuple[datetime, datetime | None]],
    periods: Sequence[Capacity],
    start: datetime,
    end: datetime,
) -> list[Step]:
    """The occupancy timeline of one facility over [start, end]: a step at ``start`` and
    one at every later instant up to ``end`` at which a stay starts or ends or a capacity
    period begins or ends. ``spans`` are the (start, end) of the facility's stays."""
    occupied = 0
    deltas: dict[datetime, int] = defaultdict(int)
    for span_start, span_end in spans:
        if span_start <= start:
            occupied += span_end is None or span_end > start
        elif span_start <= end:
            deltas[span_start] += 1
        if span_end is not None and start < span_end <= end:
            deltas[span_end] -= 1
    for period in periods:
        for moment in (period.valid_from, period.valid_until):
            if moment is not None and start < moment <= end:
                deltas[moment] += 0
    steps = [_step(start, occupied, periods)]
    for moment in sorted(deltas):
        occupied += deltas[moment]
        steps.append(_step(moment, occupied, periods))
    return steps


@dataclass(frozen=True, slots=True)
class DayStat:
    """One calendar day of one facility: the occupancy at the day's first instant
    (midnight count), the highest occupancy during the day, the places in force at its
    first instant, and whether occupancy exceeded the limit in force at any instant."""

    day: date
    midnight: int
    peak: int
    licensed: int
    usable: int
    limit: int
    over: bool


def daily(steps: Sequence[Step], bounds: Sequence[datetime], days: Sequence[date]) -> list[DayStat]:
    """Day statistics from a timeline: ``bounds`` are the first instants of ``days`` and
    of the day after the last; ``steps`` must start at ``bounds[0]``."""
    result: list[DayStat] = []
    count = len(steps)
    index = 0
    for day_index, day in enumerate(days):
        day_start, day_end = bounds[day_index], bounds[day_index + 1]
        while index + 1 < count and steps[index + 1].at <= day_start:
            index += 1
        current = steps[index]
        capacity = current.capacity
        midnight = peak = current.occupied
        over = current.over
        while index + 1 < count and steps[index + 1].at < day_end:
            index += 1
            step = steps[index]
            if step.occupied > peak:
                peak = step.occupied
            over = over or step.over
        result.append(
            DayStat(
                day,
                midnight,
                peak,
                capacity.licensed if capacity else 0,
                capacity.usable if capacity else 0,
                current.limit,
                over,
            )
        )
    return result
