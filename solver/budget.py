"""A binding move budget solved exactly when direct moves can use all of it.

Every moved youth lowers the overflow by at most one and the reserve shortfall by at most one,
so with `max_moves = B` no plan beats `overflow_stay − B` and `shortfall_stay − B`. A plan
reaches both bounds exactly when each of its B moves goes from a house above capacity (at
most its excess leaves it) straight to a house that stays within its usable places: a
transportation problem. If such a flow of value B exists, the first three levels are proven
(overflow and shortfall meet their bounds, and fewer than B moves cannot reach them), and
the minimum-distance flow of value B is the optimum of the fourth, provided it keeps sibling
groups whole (or can be re-routed around them at the same cost).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow
from ortools.linear_solver import pywraplp

from solver.classes import Prepared
from solver.flow import Assignment, _Network, potentials


@dataclass(slots=True)
class BudgetResult:
    assignment: Assignment
    proven: int  # levels proven: 3 (overflow, shortfall, moves) or 4


@dataclass(slots=True)
class _Transport:
    assignment: Assignment
    whole: bool
    cost: int
    units: list
    move_arcs: list[tuple[int, int, int]]  # (arc position, unit position, target)
    network: _Network
    excess: list[int]
    room: list[int]


def _transport(
    prep: Prepared, budget: int, groups_home: bool, frozen: dict[int, int] | None = None
) -> _Transport | None:
    """Min-distance flow of exactly `budget` youths from excess to free usable places,
    or None when no such flow exists. `frozen` group units are moved up front (unit index
    -> target); with `groups_home` every other group stays."""
    facilities = prep.facilities
    n = len(facilities)
    excess = [max(0, prep.occupancy[f] - facilities[f].capacity) for f in range(n)]
    room = [
        max(0, facilities[f].capacity - facilities[f].reserve - prep.occupancy[f]) for f in range(n)
    ]
    frozen = frozen or {}
    fixed_cost = 0
    for ui, g in frozen.items():
        unit = prep.units[ui]
        excess[unit.home] -= unit.size
        room[g] -= unit.size
        budget -= unit.size
        fixed_cost += unit.size * unit.dists[unit.targets.index(g)]
    if budget < 0 or min(excess, default=0) < 0 or min(room, default=0) < 0:
        return None
    units = [
        u
        for u in prep.units
        if excess[u.home] > 0 and not (u.is_group and (groups_home or u.index in frozen))
    ]
    # Nodes: 0 source, 1..n facility-out, n+1..2n facility-in, then units, then sink.
    source = 0
    sink = 2 * n + 1 + len(units)
    tails: list[int] = []
    heads: list[int] = []
    caps: list[int] = []
    costs: list[int] = []
    move_arcs: list[tuple[int, int, int]] = []
    for f in range(n):
        if excess[f]:
            tails.append(source)
            heads.append(1 + f)
            caps.append(excess[f])
            costs.append(0)
        if room[f]:
            tails.append(n + 1 + f)
            heads.append(sink)
            caps.append(room[f])
            costs.append(0)
    for k, unit in enumerate(units):
        node = 2 * n + 1 + k
        amount = unit.size * unit.count
        tails.append(1 + unit.home)
        heads.append(node)
        caps.append(amount)
        costs.append(0)
        for g, d in zip(unit.targets, unit.dists, strict=True):
            if room[g]:
                move_arcs.append((len(tails), k, g))
                tails.append(node)
                heads.append(n + 1 + g)
                caps.append(amount)
                costs.append(d)
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        np.asarray(tails), np.asarray(heads), np.asarray(caps), np.asarray(costs)
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[source] = budget
    supplies[sink] = -budget
    smcf.set_nodes_supplies(np.arange(sink + 1), supplies)
    if smcf.solve() != smcf.OPTIMAL:
        return None
    flows = smcf.flows(arcs)
    network = _Network(
        tails=np.asarray(tails, dtype=np.int64),
        heads=np.asarray(heads, dtype=np.int64),
        caps=np.asarray(caps, dtype=np.int64),
        costs=np.asarray(costs, dtype=np.int64),
        flows=np.asarray(flows, dtype=np.int64),
        n_nodes=sink + 1,
        move_arcs=[],
        stay_arcs={},
    )
    assignment: Assignment = {}
    whole = True
    for a, k, g in move_arcs:
        flow = int(flows[a])
        if not flow:
            continue
        unit = units[k]
        if unit.is_group:
            if flow != unit.size or unit.index in assignment:
                whole = False
                continue
            assignment[unit.index] = {g: 1}
        else:
            assignment.setdefault(unit.index, {})[g] = flow
    for ui, g in frozen.items():
        assignment[ui] = {g: 1}
    cost = int(smcf.optimal_cost()) + fixed_cost
    return _Transport(assignment, whole, cost, units, move_arcs, network, excess, room)


def solve_direct_budget(prep: Prepared, budget: int, time_limit: float) -> BudgetResult | None:
    """The exact budgeted optimum when direct moves can use the whole budget, else None.

    If the minimum-distance transport splits a sibling group, the groups stay home for an
    incumbent; reduced-cost fixing against the relaxed transport then leaves a small MIP
    that proves the distance level.
    """
    first = _transport(prep, budget, groups_home=False)
    if first is None:
        return None
    if first.whole:
        return BudgetResult(first.assignment, 4)
    # Incumbent: groups the relaxation moved whole stay frozen there, split ones stay home.
    frozen = {ui: next(iter(t)) for ui, t in first.assignment.items() if prep.units[ui].is_group}
    second = _transport(prep, budget, groups_home=True, frozen=frozen)
    if second is None:
        second = _transport(prep, budget, groups_home=True)
    if second is not None and second.cost == first.cost:
        return BudgetResult(second.assignment, 4)
    if second is None:
        return None
    gap = second.cost - first.cost
    pi = potentials(first.network)
    net = first.network
    rc = net.costs + pi[net.tails] - pi[net.heads]
    candidates: list[tuple[int, int, int, int]] = []  # (unit position, target, lo, hi)
    for a, k, g in first.move_arcs:
        flow, cap, r = int(net.flows[a]), int(net.caps[a]), int(rc[a])
        slack = cap if r == 0 else gap // abs(r)
        lo, hi = max(0, flow - slack), min(cap, flow + slack)
        if hi > 0:
            size = first.units[k].size
            candidates.append((k, g, -(-lo // size), hi // size))
    solved = _transport_mip(prep, first, candidates, budget, second.cost, time_limit)
    if solved is None:
        return BudgetResult(second.assignment, 3)
    assignment, proven = solved
    return BudgetResult(assignment, 4 if proven else 3)


def _transport_mip(
    prep: Prepared,
    tr: _Transport,
    candidates: list[tuple[int, int, int, int]],
    budget: int,
    max_cost: int,
    time_limit: float,
) -> tuple[Assignment, bool] | None:
    solver = pywraplp.Solver.CreateSolver("HIGHS")
    if solver is None or time_limit <= 0:
        return None
    solver.SuppressOutput()
    solver.SetSolverSpecificParametersAsString("output_flag=false\nlog_to_console=false\n")
    x = {}
    out_of: dict[int, list] = {}
    into: dict[int, list] = {}
    per_unit: dict[int, list] = {}
    moves = []
    dist = []
    for k, g, lo, hi in candidates:
        unit = tr.units[k]
        var = solver.IntVar(lo, hi, f"x_{k}_{g}")
        x[k, g] = var
        d = unit.dists[unit.targets.index(g)]
        out_of.setdefault(unit.home, []).append(unit.size * var)
        into.setdefault(g, []).append(unit.size * var)
        per_unit.setdefault(k, []).append(var)
        moves.append(unit.size * var)
        dist.append(unit.size * d * var)
    for f, terms in out_of.items():
        solver.Add(solver.Sum(terms) <= tr.excess[f])
    for g, terms in into.items():
        solver.Add(solver.Sum(terms) <= tr.room[g])
    for k, terms in per_unit.items():
        solver.Add(solver.Sum(terms) <= tr.units[k].count)
    solver.Add(solver.Sum(moves) == budget)
    solver.Add(solver.Sum(dist) <= max_cost)
    solver.Minimize(solver.Sum(dist))
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, 0.0)
    solver.SetTimeLimit(int(time_limit * 1000))
    status = solver.Solve(params)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None
    assignment: Assignment = {}
    for (k, g), var in x.items():
        value = round(var.solution_value())
        if value:
            assignment.setdefault(tr.units[k].index, {})[g] = value
    return assignment, status == pywraplp.Solver.OPTIMAL
