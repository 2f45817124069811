"""The one translation layer between the database and the solver: a ``placement-scenario/1``
document built from facilities, capacities and open stays (validated by the solver's own
parser), the fingerprint of what it was built from, and the plan's moves mapped back.

Ids in the scenario are the database ids written as strings, so that anyone can cross-check
a stored plan with its scenario.

How the database becomes the contract:

- capacity: the usable places in force minus the places taken without an occupant (open
  reservations and places held after an absconding): what can really be filled. A facility
  without a capacity period in force, or closed (inactive), has capacity 0, so that its
  youths are moved out where possible;
- reserve: the facility's places kept free (Freihalteplätze) plus the places the plan keeps
  free on top, at most the capacity;
- youths: every open stay in the facilities of the scope; a sibling group is the youths
  sharing ``sibling_group`` (the solver keeps those in one house together);
- pinned: stays marked pinned, youths named by the planner and, unless switched off, youths
  admitted in the last 24 hours and youths who come of age within 7 days in a facility that
  ends at 17. Youths who absconded have no open stay; their held place counts as taken.
  Reservations are for announced admissions and name no recorded youth;
- excluded: the youth's excluded facilities, facilities closed to incoming moves, and
  facilities without a location (no distance can be measured to them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from placement.extensions import db
from placement.models import Facility, PlanScope, Stay, Youth
from placement.services.errors import BadInput, Code, NotFound, RuleViolation
from placement.services.intake.deadlines import eighteenth_birthday
from placement.services.intake.rules import age_on, berlin_day, code_of
from placement.services.occupancy.core import PlaceState
from placement.services.occupancy.queries import place_states_at, state_of, stays_covering
from solver.model import GENDERS, Plan, Scenario
from solver.parse import parse_scenario_dict

MAX_TIME_LIMIT = 300.0
MAX_KEEP_FREE = 50
RECENT_ADMISSION = timedelta(hours=24)
ENDING_SOON_DAYS = 7


@dataclass(frozen=True)
class PlanParameters:
    """What a planner asks for (see the module docstring for the defaults)."""

    scope: PlanScope | str = PlanScope.OFFICE
    facility_ids: tuple[int, ...] = ()  # scope "facilities": moves among these only
    relieve_facility_id: int | None = None  # scope "relieve": its youths may move anywhere
    max_moves: int | None = None
    max_move_km: float | None = None
    pinned_youth_ids: tuple[int, ...] = ()
    closed_facility_ids: tuple[int, ...] = ()  # take no incoming moves
    keep_free: int = 0  # places kept free in every facility, on top of its Freihalteplätze
    pin_recent_admissions: bool = True
    pin_coming_of_age: bool = True
    time_limit: float = 30.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": str(self.scope),
            "facility_ids": list(self.facility_ids),
            "relieve_facility_id": self.relieve_facility_id,
            "max_moves": self.max_moves,
            "max_move_km": self.max_move_km,
            "pinned_youth_ids": list(self.pinned_youth_ids),
            "closed_facility_ids": list(self.closed_facility_ids),
            "keep_free": self.keep_free,
            "pin_recent_admissions": self.pin_recent_admissions,
            "pin_coming_of_age": self.pin_coming_of_age,
            "time_limit": self.time_limit,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanParameters:
        return cls(
            scope=data["scope"],
            facility_ids=tuple(data["facility_ids"]),
            relieve_facility_id=data["relieve_facility_id"],
            max_moves=data["max_moves"],
            max_move_km=data["max_move_km"],
            pinned_youth_ids=tuple(data["pinned_youth_ids"]),
            closed_facility_ids=tuple(data["closed_facility_ids"]),
            keep_free=data["keep_free"],
            pin_recent_admissions=data["pin_recent_admissions"],
            pin_coming_of_age=data["pin_coming_of_age"],
            time_limit=data["time_limit"],
        )


@dataclass(frozen=True)
class Built:
    """A scenario document, the parsed scenario, and the fingerprint of its sources."""

    document: dict[str, Any]
    scenario: Scenario
    fingerprint: dict[str, Any]
    scope: PlanScope


def _facilities_named(ids: tuple[int, ...], field: str) -> list[Facility]:
    found = db.session.scalars(select(Facility).where(Facility.id.in_(ids))).all()
    known = {f.id for f in found}
    for facility_id in ids:
        if facility_id not in known:
            raise NotFound(Code.UNKNOWN_FACILITY, field)
    return list(found)


def check_parameters(parameters: PlanParameters) -> PlanScope:
    """Every parameter checked, field by field; the scope it stands for."""
    scope = code_of(PlanScope, parameters.scope, "scope")
    if parameters.max_moves is not None and parameters.max_moves < 0:
        raise RuleViolation(Code.NEGATIVE_LIMIT, "max_moves")
    if parameters.max_move_km is not None and parameters.max_move_km <= 0:
        raise RuleViolation(Code.NEGATIVE_LIMIT, "max_move_km")
    if not 0 <= parameters.keep_free <= MAX_KEEP_FREE:
        raise RuleViolation(Code.OUT_OF_RANGE, "keep_free", max=MAX_KEEP_FREE)
    if not 1 <= parameters.time_limit <= MAX_TIME_LIMIT:
        raise RuleViolation(Code.OUT_OF_RANGE, "time_limit", max=int(MAX_TIME_LIMIT))
    _facilities_named(parameters.closed_facility_ids, "closed_facility_ids")
    if scope == PlanScope.FACILITIES:
        if len(set(parameters.facility_ids)) < 2:
            raise RuleViolation(Code.PLAN_NEEDS_TWO_FACILITIES, "facility_ids")
        _facilities_named(parameters.facility_ids, "facility_ids")
    if scope == PlanScope.RELIEVE:
        if parameters.relieve_facility_id is None:
            raise BadInput(Code.MISSING, "relieve_facility_id")
        _facilities_named((parameters.relieve_facility_id,), "relieve_facility_id")
    if parameters.pinned_youth_ids:
        known = set(
            db.session.scalars(
                select(Youth.id).where(Youth.id.in_(parameters.pinned_youth_ids))
            ).all()
        )
        if set(parameters.pinned_youth_ids) - known:
            raise NotFound(Code.UNKNOWN_YOUTH, "pinned_youth_ids")
    return scope


def _capacity_entry(state: PlaceState, keep_free: int) -> tuple[int, int]:
    capacity = max(0, state.usable - state.reserved)
    return capacity, min(capacity, state.kept_free + keep_free)


def build_scenario(parameters: PlanParameters, instant: datetime) -> Built:
    """The scenario for ``parameters`` at ``instant``, validated by the solver's parser."""
    scope = check_parameters(parameters)
    query = select(Facility).order_by(Facility.id)
    if scope == PlanScope.FACILITIES:
        query = query.where(Facility.id.in_(parameters.facility_ids))
    facilities = db.session.scalars(query).all()
    ids = [f.id for f in facilities]
    stays = db.session.scalars(
        select(Stay)
        .where(Stay.facility_id.in_(ids), stays_covering(instant))
        .options(selectinload(Stay.youth).selectinload(Youth.excluded_facilities))
        .order_by(Stay.id)
    ).all()
    occupied_ids = {s.facility_id for s in stays}
    # Closed facilities without residents play no part; with residents they are to be left.
    facilities = [f for f in facilities if f.active or f.id in occupied_ids]
    states = place_states_at(instant, [f.id for f in facilities])
    unreachable = {f.id for f in facilities if f.latitude is None or f.longitude is None}
    closed = set(parameters.closed_facility_ids) | unreachable
    in_scope = {f.id for f in facilities}
    pins = set(parameters.pinned_youth_ids)
    placed = {s.youth_id for s in stays}
    if pins - placed:
        raise RuleViolation(Code.YOUTH_NOT_PLACED, "pinned_youth_ids")

    by_id = {f.id: f for f in facilities}
    facility_docs = []
    facility_prints = {}
    for facility in facilities:
        state = state_of(states, facility.id)
        capacity, reserve = _capacity_entry(state, parameters.keep_free)
        if not facility.active:
            capacity = reserve = 0
        facility_docs.append(
            {
                "id": str(facility.id),
                "name": facility.name,
                "kind": facility.kind.value,
                "capacity": capacity,
                "reserve": reserve,
                "age_min": facility.age_min,
                "age_max": facility.age_max,
                "genders": [g for g in GENDERS if g in facility.genders],
                "uma": facility.uma_policy.value,
                "location": [facility.latitude or 0.0, facility.longitude or 0.0],
            }
        )
        facility_prints[str(facility.id)] = facility_fingerprint(facility, state)

    today = berlin_day(instant)
    youth_docs = []
    youth_prints = {}
    for stay in stays:
        youth = stay.youth
        pinned = (
            stay.pinned
            or youth.id in pins
            or stay.facility_id in unreachable
            or (scope == PlanScope.RELIEVE and stay.facility_id != parameters.relieve_facility_id)
            or (parameters.pin_recent_admissions and instant - stay.start_at < RECENT_ADMISSION)
            or (
                parameters.pin_coming_of_age
                and by_id[stay.facility_id].age_max < 18
                and eighteenth_birthday(youth.birth_date)
                <= today + timedelta(days=ENDING_SOON_DAYS)
            )
        )
        excluded = ({f.id for f in youth.excluded_facilities} | closed) & in_scope
        youth_docs.append(
            {
                "id": str(youth.id),
                "facility": str(stay.facility_id),
                "age": age_on(youth.birth_date, instant),
                "gender": youth.gender.value,
                "uma": youth.uma,
                "group": youth.sibling_group,
                "pinned": bool(pinned),
                "excluded": sorted(str(f) for f in excluded - {stay.facility_id}),
            }
        )
        youth_prints[str(youth.id)] = youth_fingerprint(stay)

    document = {
        "format": "placement-scenario/1",
        "as_of": today.isoformat(),
        "max_moves": parameters.max_moves,
        "max_move_km": parameters.max_move_km,
        "facilities": facility_docs,
        "youths": youth_docs,
    }
    parsed, problems = parse_scenario_dict(document)
    if parsed is None:  # the database broke the contract: a defect, not a user's mistake
        raise ValueError(f"scenario does not parse: {[p.to_dict() for p in problems][:5]}")
    return Built(document, parsed, {"facilities": facility_prints, "youths": youth_prints}, scope)


# --- what a plan was computed from ----------------------------------------------------------


def facility_fingerprint(facility: Facility, state: PlaceState) -> dict[str, Any]:
    """A facility's profile and the capacity in force, as compared before execution."""
    capacity = state.capacity
    return {
        "name": facility.name,
        "profile": [
            facility.age_min,
            facility.age_max,
            facility.genders,
            facility.uma_policy.value,
            facility.active,
        ],
        "capacity": [
            capacity.period_id if capacity else None,
            state.licensed,
            state.usable,
            state.ceiling,
            state.kept_free,
        ],
        "state": [state.occupied, state.reservations, state.held],
    }


def youth_fingerprint(stay: Stay) -> dict[str, Any]:
    """A youth's open stay and the facts the scenario took from them."""
    youth = stay.youth
    return {
        "reference": youth.reference,
        "stay": [stay.id, stay.facility_id, stay.updated_at.isoformat()],
        "youth": [
            youth.birth_date.isoformat(),
            youth.gender.value,
            youth.uma,
            youth.sibling_group,
            sorted(f.id for f in youth.excluded_facilities),
        ],
    }


@dataclass(frozen=True)
class PlannedMove:
    """One move of a plan in database terms."""

    youth_id: int
    from_id: int
    to_id: int


def moves_of(plan: Plan | dict[str, Any]) -> list[PlannedMove]:
    """The plan's moves with database ids (from a Plan or a placement-plan/1 document)."""
    raw = [m.to_dict() for m in plan.moves] if isinstance(plan, Plan) else plan.get("moves", [])
    return [PlannedMove(int(m["youth"]), int(m["from"]), int(m["to"])) for m in raw]
