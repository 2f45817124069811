"""The component problem as a min-cost flow, exact when no sibling group must stay whole.

Network: every unit is a supply node (its number of youths); it sends flow to its home
facility (stay, free) or to an eligible target (one move plus its distance). Every facility
drains into one sink through three parallel arcs with a convex cost: free up to its usable
places, then one price per youth eating into the reserve, then a higher price per youth above
capacity. Folding the four levels into one cost with weights that keep their order makes the
flow optimum the lexicographic optimum of the relaxation in which groups may split. When the
optimum keeps every group whole (or can be made to without raising the cost), it is the exact
optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from solver.classes import Component, Prepared
from solver.model import Objective

# Assignment: per unit index, {target facility index: number of items moved there}.
Assignment = dict[int, dict[int, int]]

_COST_LIMIT = 2**62


@dataclass(slots=True)
class _Network:
    """The arcs of a solved flow, kept for computing reduced costs."""

    tails: np.ndarray
    heads: np.ndarray
    caps: np.ndarray
    costs: np.ndarray
    flows: np.ndarray
    n_nodes: int
    move_arcs: list[tuple[int, int, int]]  # (arc position, unit index, target)
    stay_arcs: dict[int, int]  # unit index -> arc position


@dataclass(slots=True)
class FlowResult:
    assignment: Assignment
    objective: Objective
    cost: int
    split_groups: dict[int, dict[int, int]]
    network: _Network | None = None

    @property
    def groups_whole(self) -> bool:
        return not self.split_groups


class FlowWeights:
    """Integer weights that fold lexicographic levels into one flow cost.

    A move costs `w3` plus, if `with_distance`, its distance; a youth above the usable places
    costs `w2`, above capacity `w1 + w2`. The weights only need to dominate the lower levels
    *of the optimum* (every other plan's lower levels add non-negative cost), so bounds on
    the optimum's values suffice.
    """

    def __init__(self, w1: int, w2: int, w3: int, with_distance: bool, nodes: int, total: int):
        self.w1, self.w2, self.w3, self.with_distance = w1, w2, w3, with_distance
        # The cost-scaling algorithm multiplies costs by the number of nodes.
        biggest = w1 + w2
        self.fits = biggest * (nodes + 1) < _COST_LIMIT and biggest * (total + 1) < _COST_LIMIT

    @classmethod
    def without_distance(cls, prep: Prepared, comp: Component) -> FlowWeights:
        """Overflow, shortfall and moves: the optimum moves at most everyone movable and has
        at most every youth of the component above the usable places."""
        units = [prep.units[i] for i in comp.units]
        movable = sum(u.size * u.count for u in units)
        people = sum(prep.occupancy[f] for f in comp.facilities)
        w2 = movable + 1
        nodes = len(units) + len(comp.facilities) + 1
        return cls(w2 * (people + 1), w2, 1, False, nodes, movable)

    @classmethod
    def with_known(cls, prep: Prepared, comp: Component, first: Objective) -> FlowWeights:
        """All four levels, given the optimum's shortfall and moves from the first flow."""
        units = [prep.units[i] for i in comp.units]
        movable = sum(u.size * u.count for u in units)
        d_max = max((max(u.dists) for u in units), default=0)
        w3 = first.moves * d_max + 1
        w2 = w3 * (first.moves + 1)
        w1 = w2 * (first.reserve_shortfall + 1)
        nodes = len(units) + len(comp.facilities) + 1
        return cls(w1, w2, w3, True, nodes, movable)


def component_objective(prep: Prepared, comp: Component, assignment: Assignment) -> Objective:
    """Objective of a component (its facilities and units) under an assignment."""
    occ = {f: prep.occupancy[f] for f in comp.facilities}
    moves = 0
    distance = 0
    for ui in comp.units:
        unit = prep.units[ui]
        dist_of = dict(zip(unit.targets, unit.dists, strict=True))
        for g, k in assignment.get(ui, {}).items():
            if k:
                occ[unit.home] -= k * unit.size
                occ[g] += k * unit.size
                moves += k * unit.size
                distance += k * unit.size * dist_of[g]
    overflow = 0
    shortfall = 0
    for f, n in occ.items():
        fac = prep.facilities[f]
        overflow += max(0, n - fac.capacity)
        shortfall += max(0, n - fac.capacity + fac.reserve)
    return Objective(overflow, shortfall, moves, distance)


def solve_flow(
    prep: Prepared,
    comp: Component,
    weights: FlowWeights,
    forced: dict[int, int | None] | None = None,
    keep_network: bool = False,
) -> FlowResult | None:
    """Min-cost flow for a component; `forced` pins group units to a target (None = stay)."""
    forced = forced or {}
    units = [prep.units[i] for i in comp.units]
    local = {f: i for i, f in enumerate(comp.facilities)}
    n_units = len(units)
    sink = n_units + len(comp.facilities)
    tails: list[int] = []
    heads: list[int] = []
    caps: list[int] = []
    costs: list[int] = []
    move_arcs: list[tuple[int, int, int]] = []  # (arc position, unit position, target)
    stay_arcs: dict[int, int] = {}
    total = 0
    for pos, unit in enumerate(units):
        amount = unit.size * unit.count
        total += amount
        choice = forced.get(unit.index, -1)
        if choice is None or choice == -1:
            stay_arcs[unit.index] = len(tails)
            tails.append(pos)
            heads.append(n_units + local[unit.home])
            caps.append(amount)
            costs.append(0)
        if choice is None:
            continue
        for g, d in zip(unit.targets, unit.dists, strict=True):
            if choice != -1 and g != choice:
                continue
            move_arcs.append((len(tails), pos, g))
            tails.append(pos)
            heads.append(n_units + local[g])
            caps.append(amount)
            costs.append(weights.w3 + (d if weights.with_distance else 0))
    for f, lf in local.items():
        fac = prep.facilities[f]
        fixed = prep.fixed[f]
        usable = fac.capacity - fac.reserve
        free = max(0, usable - fixed)
        reserve_room = max(0, fac.capacity - max(fixed, usable))
        node = n_units + lf
        for cap, cost in ((free, 0), (reserve_room, weights.w2), (total, weights.w1 + weights.w2)):
            if cap > 0:
                tails.append(node)
                heads.append(sink)
                caps.append(cap)
                costs.append(cost)
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = [unit.size * unit.count for unit in units] + [0] * len(local) + [-total]
    smcf.set_nodes_supplies(list(range(sink + 1)), supplies)
    if smcf.solve() != smcf.OPTIMAL:
        return None
    all_flows = smcf.flows(arcs)
    flows = all_flows[[a for a, _, _ in move_arcs]].tolist() if move_arcs else []
    youth_flows: dict[int, dict[int, int]] = {}
    for (_a, pos, g), flow in zip(move_arcs, flows, strict=True):
        if flow:
            youth_flows.setdefault(pos, {})[g] = flow
    assignment: Assignment = {}
    split: dict[int, dict[int, int]] = {}
    for pos, per_target in youth_flows.items():
        unit = units[pos]
        if unit.is_group:
            if len(per_target) != 1 or next(iter(per_target.values())) != unit.size:
                split[unit.index] = per_target
                continue
            assignment[unit.index] = {g: 1 for g in per_target}
        else:
            assignment[unit.index] = dict(per_target)
    objective = _objective_from_flows(prep, comp, units, youth_flows)
    network = None
    if keep_network:
        network = _Network(
            np.asarray(tails, dtype=np.int64),
            np.asarray(heads, dtype=np.int64),
            np.asarray(caps, dtype=np.int64),
            np.asarray(costs, dtype=np.int64),
            np.asarray(all_flows, dtype=np.int64),
            sink + 1,
            [(a, units[pos].index, g) for a, pos, g in move_arcs],
            stay_arcs,
        )
    return FlowResult(assignment, objective, int(smcf.optimal_cost()), split, network)


def _objective_from_flows(
    prep: Prepared, comp: Component, units: list, youth_flows: dict[int, dict[int, int]]
) -> Objective:
    occ = {f: prep.occupancy[f] for f in comp.facilities}
    moves = 0
    distance = 0
    for pos, per_target in youth_flows.items():
        unit = units[pos]
        dist_of = dict(zip(unit.targets, unit.dists, strict=True))
        for g, flow in per_target.items():
            occ[unit.home] -= flow
            occ[g] += flow
            moves += flow
            distance += flow * dist_of[g]
    overflow = 0
    shortfall = 0
    for f, n in occ.items():
        fac = prep.facilities[f]
        overflow += max(0, n - fac.capacity)
        shortfall += max(0, n - fac.capacity + fac.reserve)
    return Objective(overflow, shortfall, moves, distance)


def solve_component_flow(
    prep: Prepared, comp: Component, max_repairs: int = 50
) -> tuple[FlowResult | None, Objective | None]:
    """Optimum by flow where possible.

    Returns (result, bound). `bound` is the lexicographic optimum of the relaxation in which
    groups may split, so no plan is better. `result` keeps every group whole; it is proven
    optimal when its objective equals `bound`. Both are None when the folded weights would
    not fit in 64 bits; `result` is None when no whole-group repair was found.
    """
    first_weights = FlowWeights.without_distance(prep, comp)
    if not first_weights.fits:
        return None, None
    first = solve_flow(prep, comp, first_weights)
    if first is None:
        return None, None
    weights = FlowWeights.with_known(prep, comp, first.objective)
    if not weights.fits:
        return None, None
    relaxed = solve_flow(prep, comp, weights)
    if relaxed is None:
        return None, None
    bound = relaxed.objective
    if relaxed.groups_whole:
        return relaxed, bound
    group_units = [i for i in comp.units if prep.units[i].is_group]
    # Most often single youths can do what the split groups did: keep every group home.
    attempt = solve_flow(prep, comp, weights, {i: None for i in group_units})
    if attempt is not None and attempt.cost == relaxed.cost:
        return attempt, bound
    fallback = attempt
    # Otherwise settle split groups one at a time, keeping the cheapest choice each time.
    forced: dict[int, int | None] = {}
    current = relaxed
    for _ in range(max_repairs):
        if current.groups_whole:
            break
        ui, used = next(iter(current.split_groups.items()))
        by_flow = sorted(used, key=lambda g: -used[g])
        best: FlowResult | None = None
        best_choice: int | None = None
        for choice in [None, *by_flow]:
            trial = solve_flow(prep, comp, weights, {**forced, ui: choice})
            if trial is not None and (best is None or trial.cost < best.cost):
                best, best_choice = trial, choice
                if best.cost == relaxed.cost:
                    break
        if best is None:
            break
        forced[ui] = best_choice
        current = best
    if current.groups_whole and (fallback is None or current.cost <= fallback.cost):
        return current, bound
    return fallback, bound


def potentials(net: _Network) -> np.ndarray:
    """Optimal node potentials: shortest distances in the residual graph (Bellman-Ford).

    With these, every arc's reduced cost is >= 0 if it may still carry more flow and <= 0 if
    it carries some, which is what reduced-cost fixing needs.
    """
    fwd = net.flows < net.caps
    bwd = net.flows > 0
    tails = np.concatenate([net.tails[fwd], net.heads[bwd]])
    heads = np.concatenate([net.heads[fwd], net.tails[bwd]])
    costs = np.concatenate([net.costs[fwd], -net.costs[bwd]])
    order = np.argsort(heads, kind="stable")
    tails, heads, costs = tails[order], heads[order], costs[order]
    starts = np.flatnonzero(np.r_[True, heads[1:] != heads[:-1]])
    targets = heads[starts]
    dist = np.zeros(net.n_nodes, dtype=np.int64)
    for _ in range(net.n_nodes + 1):
        best = np.minimum.reduceat(dist[tails] + costs, starts)
        improved = best < dist[targets]
        if not improved.any():
            return dist
        dist[targets[improved]] = best[improved]
    raise RuntimeError("negative cycle in residual graph: flow not optimal")


def fixing_bounds(
    prep: Prepared, result: FlowResult, gap: int
) -> tuple[dict[tuple[int, int], tuple[int, int]], dict[int, tuple[int, int]]]:
    """Reduced-cost fixing: item bounds per (unit, target) and per unit's stay, valid for
    every plan whose folded cost is at most the relaxation's optimum plus `gap`."""
    net = result.network
    assert net is not None
    pi = potentials(net)
    rc = net.costs + pi[net.tails] - pi[net.heads]

    def youth_range(a: int) -> tuple[int, int]:
        flow, cap, r = int(net.flows[a]), int(net.caps[a]), int(rc[a])
        if r == 0:
            return 0, cap
        slack = gap // abs(r)
        return max(0, flow - slack), min(cap, flow + slack)

    moves: dict[tuple[int, int], tuple[int, int]] = {}
    for a, ui, g in net.move_arcs:
        lo, hi = youth_range(a)
        size = prep.units[ui].size
        moves[ui, g] = (-(-lo // size), hi // size)
    stays: dict[int, tuple[int, int]] = {}
    for ui, a in net.stay_arcs.items():
        lo, hi = youth_range(a)
        size = prep.units[ui].size
        stays[ui] = (-(-lo // size), hi // size)
    return moves, stays
