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

from solver.classes import Assignment, Prepared
from solver.network import Network, potentials


@dataclass(slots=True)
class BudgetResult:
    assignment: Assignment
    proven: int  # levels proven: 3 (overflow, shortfall, moves) or 4


@dataclass(slots=True)
class _Transport:
    """A transport flow: the plan (whole groups only), its distance, and the groups it
    splits (unit index -> youths per target). Nodes of the branch and bound keep only this,
    so that thousands of them fit in memory."""

    assignment: Assignment
    whole: bool
    cost: int
    split: dict[int, dict[int, int]]
    scaled: int  # the flow's own cost, with the tie-break (for reduced-cost fixing)


class _TransportData:
    """The static arrays of the transport network, built once; every branch-and-bound node
    only masks them (which units and arcs are allowed) and re-solves."""

    def __init__(self, prep: Prepared) -> None:
        self.prep = prep
        facilities = prep.facilities
        occupancy = np.array(prep.occupancy, dtype=np.int64)
        capacity = np.array([f.capacity for f in facilities], dtype=np.int64)
        usable = np.array([f.usable for f in facilities], dtype=np.int64)
        self.excess = np.maximum(0, occupancy - capacity)
        self.room = np.maximum(0, usable - occupancy)
        units = [u for u in prep.units if self.excess[u.home] >= u.size]
        self.unit_index = np.array([u.index for u in units], dtype=np.int64)
        self.unit_home = np.array([u.home for u in units], dtype=np.int64)
        self.unit_size = np.array([u.size for u in units], dtype=np.int64)
        self.unit_group = np.array([u.is_group for u in units], dtype=bool)
        self.unit_amount = np.array([u.size * u.count for u in units], dtype=np.int64)
        pos, target, dist = [], [], []
        for k, u in enumerate(units):
            for g, d in zip(u.targets, u.dists, strict=True):
                if self.room[g] >= u.size:
                    pos.append(k)
                    target.append(g)
                    dist.append(d)
        self.arc_pos = np.array(pos, dtype=np.int64)
        self.arc_target = np.array(target, dtype=np.int64)
        self.arc_dist = np.array(dist, dtype=np.int64)
        self.arc_unit = self.unit_index[self.arc_pos]
        self.arc_group = self.unit_group[self.arc_pos]
        # Arcs still worth considering (reduced-cost fixing narrows this; see `narrow`).
        self.arc_live = np.ones(len(self.arc_pos), dtype=bool)
        self.root_network: Network | None = None
        self.root_arcs = np.zeros(0, dtype=np.int64)
        self.rc: np.ndarray | None = None
        self.used = np.zeros(0, dtype=bool)

    def narrow(self, root_cost: int, best_distance: int, budget: int) -> None:
        """Reduced-cost fixing against the root flow: a plan shorter than `best_distance`
        costs at most (best_distance − 1)·tie + budget, so no arc whose reduced cost exceeds
        that minus the root's cost can carry any of it."""
        net = self.root_network
        if net is None:
            return
        tie = budget + 1
        gap = (best_distance - 1) * tie + budget - root_cost
        first = len(net.costs) - len(self.root_arcs)
        if self.rc is None:
            pi = potentials(net)
            self.rc = np.zeros(len(self.arc_pos), dtype=np.int64)
            self.rc[self.root_arcs] = (
                net.costs[first:] + pi[net.tails[first:]] - pi[net.heads[first:]]
            )
            self.used = np.zeros(len(self.arc_pos), dtype=bool)
            self.used[self.root_arcs] = net.flows[first:] > 0
        self.arc_live &= (self.rc <= gap) | self.used

    def solve(
        self,
        budget: int,
        groups_home: bool,
        frozen: dict[int, int] | None = None,
        forbidden: dict[int, frozenset[int]] | None = None,
        keep_network: bool = False,
    ) -> _Transport | None:
        """Min-distance flow of exactly `budget` youths from excess to free usable places,
        or None when no such flow exists. `frozen` group units are moved up front (unit
        index -> target); with `groups_home` every other group stays; `forbidden` bans
        targets per group."""
        prep = self.prep
        frozen = frozen or {}
        excess = self.excess.copy()
        room = self.room.copy()
        fixed_cost = 0
        for ui, g in frozen.items():
            unit = prep.units[ui]
            excess[unit.home] -= unit.size
            room[g] -= unit.size
            budget -= unit.size
            fixed_cost += unit.size * unit.dists[unit.targets.index(g)]
        if budget < 0 or excess.min(initial=0) < 0 or room.min(initial=0) < 0:
            return None
        # A group moves whole, and each of its youths must leave excess and find a free
        # usable place: a group larger than its house's excess, or a target's room, cannot go.
        unit_ok = excess[self.unit_home] >= self.unit_size
        if frozen:
            unit_ok &= ~np.isin(self.unit_index, np.fromiter(frozen, dtype=np.int64))
        if groups_home:
            unit_ok &= ~self.unit_group
        arc_ok = (
            self.arc_live
            & unit_ok[self.arc_pos]
            & (room[self.arc_target] >= self.unit_size[self.arc_pos])
        )
        for ui, banned in (forbidden or {}).items():
            arc_ok &= ~((self.arc_unit == ui) & np.isin(self.arc_target, list(banned)))
        kept = np.flatnonzero(unit_ok)
        arcs = np.flatnonzero(arc_ok)
        n = len(excess)
        # Nodes: 0 source, 1..n facility-out, n+1..2n facility-in, then units, then sink.
        node_of = np.full(len(unit_ok), -1, dtype=np.int64)
        node_of[kept] = 2 * n + 1 + np.arange(len(kept))
        sink = 2 * n + 1 + len(kept)
        out = np.flatnonzero(excess)
        into = np.flatnonzero(room)
        tie = budget + 1
        # Ties in distance go to single youths, so that groups split less often: a fifth,
        # invisible level under distance (group youths moved <= budget < tie).
        move_cost = self.arc_dist[arcs] * tie + self.arc_group[arcs]
        tails = np.concatenate(
            [
                np.zeros(len(out), np.int64),
                n + 1 + into,
                1 + self.unit_home[kept],
                node_of[self.arc_pos[arcs]],
            ]
        )
        heads = np.concatenate(
            [
                1 + out,
                np.full(len(into), sink, np.int64),
                node_of[kept],
                n + 1 + self.arc_target[arcs],
            ]
        )
        caps = np.concatenate(
            [excess[out], room[into], self.unit_amount[kept], self.unit_amount[self.arc_pos[arcs]]]
        )
        costs = np.concatenate([np.zeros(len(out) + len(into) + len(kept), np.int64), move_cost])
        smcf = min_cost_flow.SimpleMinCostFlow()
        ids = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
        supplies = np.zeros(sink + 1, dtype=np.int64)
        supplies[0] = budget
        supplies[sink] = -budget
        smcf.set_nodes_supplies(np.arange(sink + 1), supplies)
        if smcf.solve() != smcf.OPTIMAL:
            return None
        all_flows = np.asarray(smcf.flows(ids), dtype=np.int64)
        flows = all_flows[len(all_flows) - len(arcs) :]
        if keep_network:
            self.root_network = Network(
                tails, heads, caps, costs, all_flows, sink + 1, move_arcs=[], stay_arcs={}
            )
            self.root_arcs = arcs
        assignment: Assignment = {}
        per_group: dict[int, dict[int, int]] = {}
        for j in np.flatnonzero(flows).tolist():
            a = int(arcs[j])
            ui, g, flow = int(self.arc_unit[a]), int(self.arc_target[a]), int(flows[j])
            if self.arc_group[a]:
                per_group.setdefault(ui, {})[g] = flow
            else:
                assignment.setdefault(ui, {})[g] = flow
        split: dict[int, dict[int, int]] = {}
        for ui, used in per_group.items():
            if len(used) == 1 and next(iter(used.values())) == prep.units[ui].size:
                assignment[ui] = {g: 1 for g in used}
            else:
                split[ui] = used
        for ui, g in frozen.items():
            assignment[ui] = {g: 1}
        scaled = int(smcf.optimal_cost())
        return _Transport(assignment, not split, scaled // tie + fixed_cost, split, scaled)


def solve_direct_budget(prep: Prepared, budget: int, time_limit: float) -> BudgetResult | None:
    """The exact budgeted optimum when direct moves can use the whole budget, else None.

    When the minimum-distance transport splits sibling groups, a best-first branch and bound
    over those groups (each node a transport flow in which undecided groups may split;
    branches: the group goes whole to its main target, or never to it) proves the distance.
    """
    deadline = time.perf_counter() + time_limit
    data = _TransportData(prep)
    root = data.solve(budget, groups_home=False, keep_network=True)
    if root is None:
        return None
    if root.whole:
        return BudgetResult(root.assignment, 4)
    # Incumbent: groups the relaxation moved whole stay frozen there, split ones stay home.
    frozen = {ui: next(iter(t)) for ui, t in root.assignment.items() if prep.units[ui].is_group}
    best = data.solve(budget, groups_home=True, frozen=frozen)
    if best is None:
        best = data.solve(budget, groups_home=True)
    if best is None:
        return None
    if best.cost == root.cost:
        return BudgetResult(best.assignment, 4)
    data.narrow(root.scaled, best.cost, budget)

    Node = tuple[dict[int, int], dict[int, frozenset[int]], _Transport]

    def children(fz: dict[int, int], fb: dict[int, frozenset[int]], node: _Transport) -> list[Node]:
        """Branch on the split group with the largest part: whole to that part's target,
        or never there."""
        ui, used = max(node.split.items(), key=lambda kv: max(kv[1].values()))
        main = max(used, key=lambda g: used[g])
        found = []
        for cfz, cfb in (
            ({**fz, ui: main}, fb),
            (fz, {**fb, ui: fb.get(ui, frozenset()) | {main}}),
        ):
            child = data.solve(budget, groups_home=False, frozen=cfz, forbidden=cfb)
            if child is not None:
                found.append((cfz, cfb, child))
        return found

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
        for cfz, cfb, child in children(fz, fb, node):
            if child.cost >= best.cost:
                continue
            if child.whole:
                best = child
                data.narrow(root.scaled, best.cost, budget)
                continue
            counter += 1
            heapq.heappush(heap, (child.cost, counter, cfz, cfb, child))
    return BudgetResult(best.assignment, 4)
