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

import heapq
import time
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from solver.classes import Prepared
from solver.flow import Assignment, _Network


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
    split: dict[int, dict[int, int]]


def _transport(
    prep: Prepared,
    budget: int,
    groups_home: bool,
    frozen: dict[int, int] | None = None,
    forbidden: dict[int, frozenset[int]] | None = None,
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
    forbidden = forbidden or {}
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
    tie = budget + 1
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
        banned = forbidden.get(unit.index, frozenset())
        for g, d in zip(unit.targets, unit.dists, strict=True):
            if room[g] and g not in banned:
                move_arcs.append((len(tails), k, g))
                tails.append(node)
                heads.append(n + 1 + g)
                caps.append(amount)
                # Ties in distance go to single youths, so that groups split less often:
                # a fifth, invisible level under distance (group youths moved <= budget).
                costs.append(d * tie + (1 if unit.is_group else 0))
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
    split: dict[int, dict[int, int]] = {}
    for a, k, g in move_arcs:
        flow = int(flows[a])
        if not flow:
            continue
        unit = units[k]
        if unit.is_group:
            split.setdefault(unit.index, {})[g] = flow
            if flow != unit.size or unit.index in assignment:
                whole = False
                continue
            assignment[unit.index] = {g: 1}
        else:
            assignment.setdefault(unit.index, {})[g] = flow
    for ui, g in frozen.items():
        assignment[ui] = {g: 1}
    cost = int(smcf.optimal_cost()) // tie + fixed_cost
    split = {
        ui: t
        for ui, t in split.items()
        if len(t) > 1 or next(iter(t.values())) != prep.units[ui].size
    }
    return _Transport(assignment, whole, cost, units, move_arcs, network, excess, room, split)


def solve_direct_budget(prep: Prepared, budget: int, time_limit: float) -> BudgetResult | None:
    """The exact budgeted optimum when direct moves can use the whole budget, else None.

    When the minimum-distance transport splits sibling groups, a best-first branch and bound
    over those groups (each node a transport flow in which undecided groups may split;
    branches: the group goes whole to its main target, or never to it) proves the distance.
    """
    deadline = time.perf_counter() + time_limit
    root = _transport(prep, budget, groups_home=False)
    if root is None:
        return None
    if root.whole:
        return BudgetResult(root.assignment, 4)
    # Incumbent: groups the relaxation moved whole stay frozen there, split ones stay home.
    frozen = {ui: next(iter(t)) for ui, t in root.assignment.items() if prep.units[ui].is_group}
    best = _transport(prep, budget, groups_home=True, frozen=frozen)
    if best is None:
        best = _transport(prep, budget, groups_home=True)
    if best is None:
        return None
    if best.cost == root.cost:
        return BudgetResult(best.assignment, 4)
    counter = 0
    heap: list[tuple[int, int, dict[int, int], dict[int, frozenset[int]], _Transport]] = [
        (root.cost, counter, {}, {}, root)
    ]
    while heap:
        bound, _, fz, fb, node = heapq.heappop(heap)
        if bound >= best.cost:
            break  # best-first: nothing left can improve
        if time.perf_counter() > deadline:
            return BudgetResult(best.assignment, 3)
        ui, used = max(node.split.items(), key=lambda kv: max(kv[1].values()))
        main = max(used, key=lambda g: used[g])
        children = (
            ({**fz, ui: main}, fb),
            (fz, {**fb, ui: fb.get(ui, frozenset()) | {main}}),
        )
        for cfz, cfb in children:
            child = _transport(prep, budget, groups_home=False, frozen=cfz, forbidden=cfb)
            if child is None or child.cost >= best.cost:
                continue
            if child.whole:
                best = child
                continue
            counter += 1
            heapq.heappush(heap, (child.cost, counter, cfz, cfb, child))
    return BudgetResult(best.assignment, 4)
