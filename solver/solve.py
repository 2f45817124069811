"""Orchestration: flow where it is exact, lexicographic CP-SAT where it is not.

1. Aggregate and decompose (`classes.prepare`).
2. Per component, a min-cost flow gives the lexicographic optimum of the relaxation in which
   groups may split (a bound) and, usually, a whole-group plan with the same objective, which
   is then proven optimal without CP-SAT.
3. Components where that fails go to CP-SAT, warm-started with the flow plan, level by level:
   minimise a level, fix it at its proven optimum, hint the complete solution, go on.
4. A move budget couples the components. Direct moves that use it up are solved as one
   transport flow (`budget.py`); a budget that binds the relaxation is priced into the flow
   (`lagrange.py`). Otherwise, if the per-component optima together stay within the budget
   they are optimal; if not, the budget is priced over the components that move anybody,
   and one CP-SAT model over them is the last resort.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from solver.budget import solve_direct_budget
from solver.build import assignment_from, build_model, hint_values
from solver.classes import Assignment, Component, Prepared, prepare
from solver.explain import explain
from solver.flow import FlowResult, FlowWeights, solve_component_flow, solve_flow
from solver.greedy import greedy_plan
from solver.lagrange import PricedResult, solve_priced_budget
from solver.mip import solve_restricted_mip
from solver.model import (
    FEASIBLE,
    INVALID_INPUT,
    LEVELS,
    OPTIMAL,
    Move,
    Objective,
    Plan,
    Scenario,
)
from solver.network import fixing_bounds
from solver.objective import assignment_objective, component_objective
from solver.parse import parse_scenario_dict

DEFAULT_TIME_LIMIT = 60.0


@dataclass(slots=True)
class LexResult:
    assignment: Assignment
    proven: int  # number of levels proven optimal, in order
    values: list[int] = field(default_factory=list)


class _Clock:
    def __init__(self, time_limit: float) -> None:
        self.start = time.perf_counter()
        self.deadline = self.start + time_limit

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.perf_counter())

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def solve_lexicographic(
    prep: Prepared,
    components: list[Component],
    budget: int | None,
    hint: Assignment,
    bounds: list[int | None],
    clock: _Clock,
    workers: int,
    domains: dict[tuple[int, int], tuple[int, int]] | None = None,
    stay_bounds: dict[int, tuple[int, int]] | None = None,
) -> LexResult:
    """Minimise the four levels in turn; each level is fixed at its proven optimum."""
    tm = build_model(prep, components, budget, domains, stay_bounds)
    best = hint
    values: list[int] = []
    bounds = list(bounds)
    for level in range(len(LEVELS)):
        hinted = hint_values(tm, prep, best)
        hint_value = tm.vars.level_value(level, hinted)
        if bounds[level] is not None and hint_value == bounds[level]:
            # The warm start already meets a proven bound: nothing to search.
            tm.model.add(tm.vars.levels[level] == hint_value)
            values.append(hint_value)
            continue
        # A relaxation's bound on a later level holds only while earlier levels meet theirs.
        bounds[level + 1 :] = [None] * (len(LEVELS) - level - 1)
        remaining = clock.remaining()
        if remaining <= 0.01:
            return LexResult(best, level, values)
        tm.model.clear_hints()
        for var, value in hinted.items():
            tm.model.add_hint(var, value)
        tm.model.minimize(tm.vars.levels[level])
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = remaining
        solver.parameters.num_workers = max(1, workers)
        status = solver.solve(tm.model)
        if status == cp_model.OPTIMAL:
            best = assignment_from(tm, prep, solver)
            value = round(solver.objective_value)
            values.append(value)
            tm.model.add(tm.vars.levels[level] == value)
            continue
        if status == cp_model.FEASIBLE and solver.objective_value <= hint_value:
            best = assignment_from(tm, prep, solver)
        return LexResult(best, level, values)
    return LexResult(best, len(LEVELS), values)


def _exact_groups(
    prep: Prepared,
    comp: Component,
    incumbent: FlowResult,
    bound: Objective,
    clock: _Clock,
) -> tuple[Assignment, bool] | None:
    """Whole-group optimum of a component by reduced-cost fixing and a small MIP.

    Exact when the incumbent (a whole-group plan) already reaches the relaxation's overflow
    and shortfall: then the optimum has them too and at most the incumbent's moves, and with
    weights built from that many moves the folded flow cost orders all such plans
    lexicographically. Arcs whose reduced cost exceeds the incumbent's cost gap cannot carry
    a plan at least as good and are fixed; the rest goes to the MIP.
    """
    got = incumbent.objective
    if (got.overflow, got.reserve_shortfall) != (bound.overflow, bound.reserve_shortfall):
        return None
    most_moves = max(got.moves, bound.moves)
    weights = FlowWeights.with_known(
        prep, comp, Objective(bound.overflow, bound.reserve_shortfall, most_moves, 0)
    )
    if not weights.fits:
        return None
    relaxed = solve_flow(prep, comp, weights, keep_network=True)
    if relaxed is None or relaxed.network is None or relaxed.objective != bound:
        return None
    gap = weights.w3 * (got.moves - bound.moves) + got.distance - bound.distance
    domains, _stays = fixing_bounds(prep, relaxed.network, gap)
    levels = Objective(bound.overflow, bound.reserve_shortfall, got.moves, 0)
    result = solve_restricted_mip(
        prep,
        comp,
        domains,
        levels,
        got.moves > bound.moves,
        clock.remaining(),
        max_distance=got.distance,
    )
    if result is None:
        return None
    assignment, proven = result
    check = component_objective(prep, comp, assignment)
    if check.as_tuple()[:2] != bound.as_tuple()[:2] or check > got:
        return None
    return assignment, proven


def _trim_to_budget(
    prep: Prepared, comps: list[Component], solutions: dict[int, Assignment], budget: int
) -> Assignment:
    """A plan within the budget: keep whole component plans that relieve most per move."""
    scored = []
    for ci, comp in enumerate(comps):
        stay = component_objective(prep, comp, {})
        got = component_objective(prep, comp, solutions[ci])
        gain = (stay.overflow - got.overflow, stay.reserve_shortfall - got.reserve_shortfall)
        scored.append((gain[0] / max(1, got.moves), gain[1] / max(1, got.moves), ci, got.moves))
    scored.sort(reverse=True)
    left = budget
    result: Assignment = {}
    for _g0, _g1, ci, moves in scored:
        if moves <= left:
            result.update(solutions[ci])
            left -= moves
    return result


def _greedy_assignment(prep: Prepared, units: set[int]) -> Assignment:
    """The dispatcher's greedy plan expressed over the model's units."""
    unit_of: dict[str, int] = {}
    for ui in units:
        for y in prep.units[ui].youths:
            unit_of[y] = ui
    result: Assignment = {}
    counted: set[tuple[int, int]] = set()
    for move in greedy_plan(prep.scenario):
        ui = unit_of.get(move.youth)
        if ui is None:
            continue
        g = prep.index[move.to]
        unit = prep.units[ui]
        if g not in unit.targets:
            continue
        if unit.is_group:
            if (ui, g) in counted:
                continue
            counted.add((ui, g))
        per_target = result.setdefault(ui, {})
        per_target[g] = per_target.get(g, 0) + 1
    return result


def _moves_for(prep: Prepared, assignment: Assignment) -> list[Move]:
    """Concrete moves: for a class, the most recently listed youths move first."""
    facilities = prep.facilities
    moves: list[Move] = []
    for ui, per_target in sorted(assignment.items()):
        unit = prep.units[ui]
        origin = facilities[unit.home].id
        if unit.is_group:
            for g, k in per_target.items():
                if k:
                    moves.extend(Move(y, origin, facilities[g].id) for y in unit.youths)
            continue
        pool = list(reversed(unit.youths))
        for g, k in sorted(per_target.items()):
            for _ in range(k):
                moves.append(Move(pool.pop(0), origin, facilities[g].id))
    order = {y.id: i for i, y in enumerate(prep.scenario.youths)}
    moves.sort(key=lambda m: order[m.youth])
    return moves


def propose(
    scenario: Scenario | dict[str, Any],
    time_limit: float = DEFAULT_TIME_LIMIT,
    workers: int = 2,
    explanations: bool = True,
    use_flow: bool = True,
) -> Plan:
    """Propose transfers for a scenario (a `Scenario` or a `placement-scenario/1` dict).

    Returns a plan with status OPTIMAL, FEASIBLE (time limit hit; rules hold) or
    INVALID_INPUT (with `errors`). Never raises for bad input. `use_flow=False` skips the
    flow shortcuts (components, direct budget, budget pricing) and proves everything with
    CP-SAT alone (for cross-checks).
    """
    clock = _Clock(time_limit)
    if not isinstance(scenario, Scenario):
        parsed, errors = parse_scenario_dict(scenario)
        if parsed is None:
            return Plan(status=INVALID_INPUT, errors=tuple(errors), solve_seconds=clock.elapsed())
        scenario = parsed
    prep = prepare(scenario)
    comps = prep.components
    priced: PricedResult | None = None
    if scenario.max_moves is not None and use_flow:
        # A budget that direct moves can use up fully is solved exactly without components.
        direct = solve_direct_budget(prep, scenario.max_moves, clock.remaining())
        if direct is not None:
            stats_direct = {
                "components": len(comps),
                "units": len(prep.units),
                "cp_sat_components": 0,
                "budget_direct": True,
            }
            return _finish(
                prep, direct.assignment, direct.proven, clock, stats_direct, explanations
            )
        # A budget that binds even the relaxation is priced over all components at once,
        # without solving each component unconstrained first (which may be long, and moot).
        priced = solve_priced_budget(prep, comps, scenario.max_moves, clock.remaining, True)
        if priced is not None and priced.proven >= 3:
            stats_priced = {"components": len(comps), "units": len(prep.units), **priced.stats}
            return _finish(
                prep, priced.assignment, priced.proven, clock, stats_priced, explanations
            )
    solutions: dict[int, Assignment] = {}
    proven: dict[int, int] = {}
    bounds: dict[int, Objective | None] = {}
    stats = {"components": len(comps), "units": len(prep.units), "cp_sat_components": 0}
    for ci, comp in enumerate(comps):
        result, bound = solve_component_flow(prep, comp) if use_flow else (None, None)
        bounds[ci] = bound
        if result is not None and bound is not None and result.objective == bound:
            solutions[ci] = result.assignment
            proven[ci] = len(LEVELS)
            continue
        hint = result.assignment if result is not None else {}
        level_bounds: list[int | None] = list(bound.as_tuple()) if bound else [None] * 4
        if result is not None and bound is not None:
            exact = _exact_groups(prep, comp, result, bound, clock)
            if exact is not None:
                assignment, finished = exact
                stats["mip_components"] = stats.get("mip_components", 0) + 1
                solutions[ci] = assignment
                proven[ci] = len(LEVELS) if finished else 2
                continue
        stats["cp_sat_components"] += 1
        lex = solve_lexicographic(prep, [comp], None, hint, level_bounds, clock, workers)
        solutions[ci] = lex.assignment
        proven[ci] = lex.proven

    proven_levels = min(proven.values(), default=len(LEVELS))
    budget = scenario.max_moves
    total_moves = sum(component_objective(prep, comps[ci], a).moves for ci, a in solutions.items())
    if budget is not None and total_moves > budget:
        stats["budget_binding"] = True
        active = [ci for ci in range(len(comps)) if solutions[ci]]
        # The early pricing covered every component; its bound counts houses that the
        # CP-SAT model below leaves out, so only a pricing over the active ones bounds it.
        priced_active = priced is None and use_flow
        if priced_active:
            priced = solve_priced_budget(
                prep, [comps[ci] for ci in active], budget, clock.remaining
            )
        if priced is not None:
            stats.update(priced.stats)
        if priced is not None and priced.proven >= 3:
            solutions = {0: priced.assignment}
            proven_levels = priced.proven
        else:
            solutions, proven_levels = _budget_cp_sat(
                prep,
                comps,
                active,
                solutions,
                priced,
                priced_active,
                proven_levels,
                clock,
                workers,
            )

    assignment: Assignment = {}
    for a in solutions.values():
        assignment.update(a)
    return _finish(prep, assignment, proven_levels, clock, stats, explanations)


def _budget_cp_sat(
    prep: Prepared,
    comps: list[Component],
    active: list[int],
    solutions: dict[int, Assignment],
    priced: PricedResult | None,
    priced_bound_applies: bool,
    proven_levels: int,
    clock: _Clock,
    workers: int,
) -> tuple[dict[int, Assignment], int]:
    """The budget over all active components as one CP-SAT model, warm-started from the
    best of the priced plan, a trimmed optimum and the greedy plan."""
    budget = prep.scenario.max_moves
    assert budget is not None
    candidates = [
        _trim_to_budget(
            prep,
            [comps[ci] for ci in active],
            {i: solutions[ci] for i, ci in enumerate(active)},
            budget,
        ),
        _greedy_assignment(prep, {ui for ci in active for ui in comps[ci].units}),
    ]
    if priced is not None:
        candidates.append(priced.assignment)

    def total(a: Assignment) -> Objective:
        return sum((component_objective(prep, comps[ci], a) for ci in active), Objective())

    hint = min(candidates, key=total)
    if priced is not None and priced_bound_applies:
        bounds: list[int | None] = list(priced.bound.as_tuple())
    else:
        lower = sum(component_objective(prep, comps[ci], solutions[ci]).overflow for ci in active)
        bounds = [lower if proven_levels >= 1 else None, None, None, None]
    lex = solve_lexicographic(
        prep, [comps[ci] for ci in active], budget, hint, bounds, clock, workers
    )
    return {0: lex.assignment}, lex.proven


def _finish(
    prep: Prepared,
    assignment: Assignment,
    proven_levels: int,
    clock: _Clock,
    stats: dict[str, Any],
    explanations: bool,
) -> Plan:
    scenario = prep.scenario
    budget = scenario.max_moves
    moves = _moves_for(prep, assignment)
    final = {y.id: y.facility for y in scenario.youths}
    for m in moves:
        final[m.youth] = m.to
    # The solver's own arithmetic over the assignment; the validator recomputes it from the
    # concrete moves, youth by youth, and so also checks that `_moves_for` is faithful.
    objective = assignment_objective(prep, assignment)
    status = OPTIMAL if proven_levels == len(LEVELS) else FEASIBLE
    notes = (
        explain(
            prep,
            final,
            budget_used=budget is not None and len(moves) >= budget,
            optimal=status == OPTIMAL,
        )
        if explanations
        else ()
    )
    return Plan(
        status=status,
        objective=objective,
        moves=tuple(moves),
        solve_seconds=clock.elapsed(),
        explanations=tuple(notes),
        proven_levels=LEVELS[:proven_levels],
        stats=stats,
    )
