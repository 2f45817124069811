"""What staff must know when youths arrive in a facility, and the over-occupancy event an
arrival over the limit records in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from placement.extensions import db
from placement.models import Facility, OverOccupancyEvent, Stay
from placement.services.occupancy.core import PlaceState, Status
from placement.services.occupancy.queries import place_state
from placement.timeutil import now as utc_now


class WarningCode(StrEnum):
    NO_CAPACITY = "no_capacity"
    OVER_CAPACITY = "over_capacity"
    ABOVE_USABLE = "above_usable"


@dataclass(frozen=True, slots=True)
class Warning:
    """A capacity warning about one facility, with the figures its message needs."""

    code: WarningCode
    facility_id: int
    facility_name: str
    occupied: int
    limit: int
    reserved: int
    usable: int


def capacity_warnings(facility: Facility, state: PlaceState) -> list[Warning]:
    """The warnings for a facility in ``state`` (the state after the arrival)."""
    if not state.has_capacity:
        code = WarningCode.NO_CAPACITY
    elif state.status == Status.OVER:
        code = WarningCode.OVER_CAPACITY
    elif state.above_usable:
        code = WarningCode.ABOVE_USABLE
    else:
        return []
    return [
        Warning(
            code,
            facility.id,
            facility.name,
            state.occupied,
            state.limit,
            state.reserved,
            state.usable,
        )
    ]


# An arrival recorded this close to now is read at its own instant only (callers hold the
# facility's lock, so no admission or move of the house can fall in between).
SAME_MOMENT = timedelta(seconds=1)


def worst_state(facility_id: int, instant: datetime) -> PlaceState:
    """The state at ``instant`` or now, whichever is further over the limit: an arrival
    recorded for the past also counts towards today's occupancy."""
    now = utc_now()
    if now - instant < SAME_MOMENT:
        return place_state(facility_id, instant)
    states = [place_state(facility_id, moment) for moment in (instant, now)]
    return max(states, key=lambda state: state.occupied - state.limit)


def record_arrival(facility: Facility, stay: Stay, instant: datetime) -> list[Warning]:
    """Capacity warnings once ``stay`` has begun; over the limit (or without places), an
    over-occupancy event is written in the same transaction."""
    db.session.flush()
    state = worst_state(facility.id, instant)
    warnings = capacity_warnings(facility, state)
    if any(w.code != WarningCode.ABOVE_USABLE for w in warnings):
        db.session.add(
            OverOccupancyEvent(
                facility_id=facility.id,
                stay_id=stay.id,
                at=instant,
                occupied=state.occupied,
                limit=state.limit,
            )
        )
    return warnings
