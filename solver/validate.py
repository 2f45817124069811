"""Check a plan against its scenario and recompute the objective, without any solver.

This module deliberately shares nothing with the model-building code except the data schema,
the parser and the distance formula of the contract: it walks the moves youth by youth and
applies the rules as written, so a bug in the optimisation model cannot hide itself here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from solver.geo import distance_units, haversine_km
from solver.model import PLAN_FORMAT, Objective, Plan, Scenario
from solver.parse import parse_scenario_dict


@dataclass(frozen=True, slots=True)
class ValidationResult:
    ok: bool
    errors: tuple[str, ...]
    objective: Objective | None


def _moves_of(plan: Plan | dict[str, Any], errors: list[str]) -> list[tuple[str, str, str]]:
    if isinstance(plan, Plan):
        return [(m.youth, m.from_, m.to) for m in plan.moves]
    if not isinstance(plan, dict):
        errors.append("plan is not an object")
        return []
    if plan.get("format") != PLAN_FORMAT:
        errors.append(f"plan format must be {PLAN_FORMAT!r}")
    raw = plan.get("moves", [])
    if not isinstance(raw, list):
        errors.append("plan moves must be a list")
        return []
    moves = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or not all(isinstance(m.get(k), str) for k in ("youth", "to")):
            errors.append(f"moves[{i}] must have string fields youth, from and to")
            continue
        moves.append((m["youth"], str(m.get("from")), m["to"]))
    return moves


def _claimed_objective(plan: Plan | dict[str, Any]) -> Objective | None:
    if isinstance(plan, Plan):
        return plan.objective
    raw = plan.get("objective") if isinstance(plan, dict) else None
    if not isinstance(raw, dict):
        return None
    try:
        return Objective(
            int(raw["overflow"]),
            int(raw["reserve_shortfall"]),
            int(raw["moves"]),
            int(raw["distance"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def final_facilities(scenario: Scenario, moves: list[tuple[str, str, str]]) -> dict[str, str]:
    """Youth id -> final facility id, for a list of (youth, from, to) moves."""
    final = {y.id: y.facility for y in scenario.youths}
    for youth, _from, to in moves:
        if youth in final:
            final[youth] = to
    return final


def objective_of(scenario: Scenario, final: dict[str, str]) -> Objective:
    """The four objective levels of an assignment, straight from the contract's formulas."""
    facilities = scenario.facility_index()
    count = Counter(final.values())
    overflow = sum(max(0, count[f.id] - f.capacity) for f in scenario.facilities)
    shortfall = sum(max(0, count[f.id] - (f.capacity - f.reserve)) for f in scenario.facilities)
    moves = 0
    distance = 0
    for y in scenario.youths:
        target = final[y.id]
        if target != y.facility:
            moves += 1
            distance += distance_units(facilities[y.facility].location, facilities[target].location)
    return Objective(overflow, shortfall, moves, distance)


def validate_plan(
    scenario: Scenario | dict[str, Any], plan: Plan | dict[str, Any]
) -> ValidationResult:
    """Check every hard rule for the plan's moves and recompute the objective.

    `ok` is true when all rules hold and, if the plan states an objective, it equals the
    recomputed one.
    """
    errors: list[str] = []
    if not isinstance(scenario, Scenario):
        parsed, input_errors = parse_scenario_dict(scenario)
        if parsed is None:
            msgs = tuple(f"scenario: {e.entry}: {e.field}: {e.message}" for e in input_errors)
            return ValidationResult(False, msgs, None)
        scenario = parsed
    facilities = scenario.facility_index()
    youths = {y.id: y for y in scenario.youths}
    moves = _moves_of(plan, errors)

    seen: set[str] = set()
    valid_moves: list[tuple[str, str, str]] = []
    for youth_id, origin, target in moves:
        youth = youths.get(youth_id)
        if youth is None:
            errors.append(f"move of unknown youth {youth_id!r}")
            continue
        if youth_id in seen:
            errors.append(f"youth {youth_id!r} is moved more than once")
            continue
        seen.add(youth_id)
        if origin != youth.facility:
            errors.append(f"youth {youth_id!r} moves from {origin!r} but is in {youth.facility!r}")
        facility = facilities.get(target)
        if facility is None:
            errors.append(f"youth {youth_id!r} moves to unknown facility {target!r}")
            continue
        if target == youth.facility:
            errors.append(f"youth {youth_id!r} 'moves' to the facility it is already in")
            continue
        # Rule 4: pinned youths stay.
        if youth.pinned:
            errors.append(f"youth {youth_id!r} is pinned but moved")
        # Rule 3: eligibility of the target.
        if not facility.age_min <= youth.age <= facility.age_max:
            errors.append(f"youth {youth_id!r} (age {youth.age}) moved to {target!r} (age range)")
        if youth.gender not in facility.genders:
            errors.append(f"youth {youth_id!r} (gender {youth.gender}) moved to {target!r}")
        if facility.uma == "only" and not youth.uma:
            errors.append(f"youth {youth_id!r} (not umA) moved to umA-only {target!r}")
        if facility.uma == "none" and youth.uma:
            errors.append(f"youth {youth_id!r} (umA) moved to non-umA {target!r}")
        if target in youth.excluded:
            errors.append(f"youth {youth_id!r} moved to excluded facility {target!r}")
        if scenario.max_move_km is not None:
            km = haversine_km(facilities[youth.facility].location, facility.location)
            if km > scenario.max_move_km:
                errors.append(
                    f"youth {youth_id!r} moved {km:.2f} km, more than {scenario.max_move_km} km"
                )
        valid_moves.append((youth_id, youth.facility, target))

    final = final_facilities(scenario, valid_moves)
    # Rule 5: co-located members of a group end together.
    together: dict[tuple[str, str], set[str]] = defaultdict(set)
    for y in scenario.youths:
        if y.group is not None:
            together[(y.group, y.facility)].add(final[y.id])
    for (group, origin), ends in sorted(together.items()):
        if len(ends) > 1:
            errors.append(
                f"group {group!r} from {origin!r} is split over {', '.join(sorted(ends))}"
            )
    # Rule 6: move budget.
    n_moves = sum(1 for y in scenario.youths if final[y.id] != y.facility)
    if scenario.max_moves is not None and n_moves > scenario.max_moves:
        errors.append(f"{n_moves} moves exceed max_moves {scenario.max_moves}")

    objective = objective_of(scenario, final)
    claimed = _claimed_objective(plan)
    if claimed is not None and claimed != objective:
        errors.append(f"plan states objective {claimed} but it is {objective}")
    return ValidationResult(not errors, tuple(errors), objective)
