"""Closing the last gap of a large component with groups: a small MIP after fixing.

When the flow relaxation splits a few sibling groups, the whole-group optimum can differ from
the relaxation only in the later levels. Reduced-cost fixing (see `network.fixing_bounds`)
leaves a small fraction of the (unit, target) pairs free; on that restricted problem a MIP
(HiGHS, bundled with OR-Tools) whose LP relaxation is the flow itself proves the remaining
levels in a few branch-and-bound nodes. CP-SAT's own LP is too slow on models of this size.
"""

from __future__ import annotations

from ortools.linear_solver import pywraplp

from solver.classes import Assignment, Component, Prepared
from solver.model import Objective


def solve_restricted_mip(
    prep: Prepared,
    comp: Component,
    domains: dict[tuple[int, int], tuple[int, int]],
    fixed_levels: Objective,
    prove_moves: bool,
    time_limit: float,
    max_distance: int | None = None,
) -> tuple[Assignment, bool] | None:
    """Minimise moves (if `prove_moves`), then distance, with overflow and shortfall held at
    `fixed_levels` and moves at most `fixed_levels.moves`. Returns (assignment, proven)."""
    solver = pywraplp.Solver.CreateSolver("HIGHS")
    if solver is None or time_limit <= 0:
        return None
    # The CLI's stdout carries the plan and nothing else: no HiGHS banner or log.
    solver.SuppressOutput()
    solver.SetSolverSpecificParametersAsString("output_flag=false\nlog_to_console=false\n")
    inf = solver.infinity()
    x: dict[tuple[int, int], pywraplp.Variable] = {}
    out_terms: dict[int, list] = {f: [] for f in comp.facilities}
    in_terms: dict[int, list] = {f: [] for f in comp.facilities}
    inflow_max = dict.fromkeys(comp.facilities, 0)
    moves_terms = []
    dist_terms = []
    for ui in comp.units:
        unit = prep.units[ui]
        row = []
        for g, d in zip(unit.targets, unit.dists, strict=True):
            lo, hi = domains.get((ui, g), (0, 0))
            if hi <= 0:
                continue
            var = solver.IntVar(lo, hi, f"x_{ui}_{g}")
            x[ui, g] = var
            row.append(var)
            out_terms[unit.home].append(unit.size * var)
            in_terms[g].append(unit.size * var)
            inflow_max[g] += unit.size * hi
            moves_terms.append(unit.size * var)
            dist_terms.append(unit.size * d * var)
        if row:
            solver.Add(solver.Sum(row) <= unit.count)
    over_terms = []
    short_terms = []
    for f in comp.facilities:
        fac = prep.facilities[f]
        occ = prep.occupancy[f] - solver.Sum(out_terms[f]) + solver.Sum(in_terms[f])
        hi = prep.occupancy[f] + inflow_max[f]
        if hi > fac.capacity:
            over = solver.NumVar(0, inf, f"over_{f}")
            solver.Add(over >= occ - fac.capacity)
            over_terms.append(over)
        usable = fac.capacity - fac.reserve
        if hi > usable:
            short = solver.NumVar(0, inf, f"short_{f}")
            solver.Add(short >= occ - usable)
            short_terms.append(short)
    solver.Add(solver.Sum(over_terms) <= fixed_levels.overflow)
    solver.Add(solver.Sum(short_terms) <= fixed_levels.reserve_shortfall)
    moves = solver.Sum(moves_terms)
    solver.Add(moves <= fixed_levels.moves)
    if max_distance is not None:
        # The incumbent's distance is an upper bound (HiGHS through pywraplp takes no hints).
        solver.Add(solver.Sum(dist_terms) <= max_distance)
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, 0.0)
    solver.SetTimeLimit(int(time_limit * 1000))
    if prove_moves:
        solver.Minimize(moves)
        if solver.Solve(params) != pywraplp.Solver.OPTIMAL:
            return None
        solver.Add(moves <= round(solver.Objective().Value()))
    solver.Minimize(solver.Sum(dist_terms))
    status = solver.Solve(params)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None
    assignment: Assignment = {}
    for (ui, g), var in x.items():
        k = round(var.solution_value())
        if k:
            assignment.setdefault(ui, {})[g] = k
    return assignment, status == pywraplp.Solver.OPTIMAL
