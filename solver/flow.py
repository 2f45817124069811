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

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from solver.classes import Component, Prepared, Unit
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


def moved_objective(
    prep: Prepared, facilities: Iterable[int], moved: Iterable[tuple[Unit, int, int]]
) -> Objective:
    """Objective over `facilities` when, per (unit, target, youths), that many youths of the
    unit move there (a split group counts its moved youths)."""
    occ = {f: prep.occupancy[f] for f in facilities}
    moves = 0
    distance = 0
    for unit, g, youths in moved:
        if youths:
            occ[unit.home] -= youths
            occ[g] += youths
            moves += youths
            distance += youths * unit.dists[unit.targets.index(g)]
    overflow = 0
    shortfall = 0
    for f, n in occ.items():
        fac = prep.facilities[f]
        overflow += max(0, n - fac.capacity)
        shortfall += max(0, n - fac.capacity + fac.reserve)
    return Objective(overflow, shortfall, moves, distance)


def component_objective(prep: Prepared, comp: Component, assignment: Assignment) -> Objective:
    """Objective of a component (its facilities and units) under an assignment."""
    moved = (
        (unit, g, k * unit.size)
        for unit in (prep.units[ui] for ui in comp.units)
        for g, k in assignment.get(unit.index, {}).items()
    )
    return moved_objective(prep, comp.facilities, moved)


@dataclass(slots=True)
class _Arcs:
    """Static arrays of a component's network, built once and reused by every flow solve."""

    n_units: int
    sink: int
    unit_index: np.ndarray  # per unit position
    unit_amount: np.ndarray
    stay_tail: np.ndarray
    stay_head: np.ndarray
    move_tail: np.ndarray  # unit position
    move_head: np.ndarray  # facility node
    move_target: np.ndarray  # facility index
    move_dist: np.ndarray
    move_unit: np.ndarray  # unit index
    fac_node: np.ndarray
    fac_free: np.ndarray
    fac_reserve_room: np.ndarray
    is_group: np.ndarray  # per unit position


def _arcs(prep: Prepared, comp: Component) -> _Arcs:
    cached = comp.cache.get("arcs")
    if isinstance(cached, _Arcs):
        return cached
    units = [prep.units[i] for i in comp.units]
    local = {f: i for i, f in enumerate(comp.facilities)}
    n_units = len(units)
    mt, mh, mg, md, mu = [], [], [], [], []
    for pos, unit in enumerate(units):
        mt.extend([pos] * len(unit.targets))
        mh.extend(n_units + local[g] for g in unit.targets)
        mg.extend(unit.targets)
        md.extend(unit.dists)
        mu.extend([unit.index] * len(unit.targets))
    free, room = [], []
    for f in comp.facilities:
        fac = prep.facilities[f]
        fixed = prep.fixed[f]
        usable = fac.capacity - fac.reserve
        free.append(max(0, usable - fixed))
        room.append(max(0, fac.capacity - max(fixed, usable)))
    i64 = np.int64
    arcs = _Arcs(
        n_units=n_units,
        sink=n_units + len(comp.facilities),
        unit_index=np.array([u.index for u in units], dtype=i64),
        unit_amount=np.array([u.size * u.count for u in units], dtype=i64),
        stay_tail=np.arange(n_units, dtype=i64),
        stay_head=np.array([n_units + local[u.home] for u in units], dtype=i64),
        move_tail=np.array(mt, dtype=i64),
        move_head=np.array(mh, dtype=i64),
        move_target=np.array(mg, dtype=i64),
        move_dist=np.array(md, dtype=i64),
        move_unit=np.array(mu, dtype=i64),
        fac_node=np.arange(n_units, n_units + len(comp.facilities), dtype=i64),
        fac_free=np.array(free, dtype=i64),
        fac_reserve_room=np.array(room, dtype=i64),
        is_group=np.array([u.is_group for u in units], dtype=bool),
    )
    comp.cache["arcs"] = arcs
    return arcs


def solve_flow(
    prep: Prepared,
    comp: Component,
    weights: FlowWeights,
    forced: dict[int, int | None] | None = None,
    keep_network: bool = False,
    allowed: dict[int, list[int]] | None = None,
) -> FlowResult | None:
    """Min-cost flow for a component.

    `forced` pins group units to a target (None = stay); `allowed` limits each unit's move
    targets (as left by reduced-cost fixing).
    """
    net = _arcs(prep, comp)
    n_units = net.n_units
    stay_keep = np.ones(n_units, dtype=bool)
    move_keep = np.ones(len(net.move_tail), dtype=bool)
    if forced:
        pos_of = {int(ui): p for p, ui in enumerate(net.unit_index)}
        for ui, choice in forced.items():
            p = pos_of[ui]
            if choice is not None:
                stay_keep[p] = False
        forced_units = np.array(list(forced), dtype=np.int64)
        choice_of = np.array([-1 if c is None else c for c in forced.values()], dtype=np.int64)
        hit = np.isin(net.move_unit, forced_units)
        lookup = dict(zip(forced_units.tolist(), choice_of.tolist(), strict=True))
        idx = np.flatnonzero(hit)
        wanted = np.array([lookup[u] for u in net.move_unit[idx].tolist()], dtype=np.int64)
        move_keep[idx] = net.move_target[idx] == wanted
    if allowed is not None:
        keys = np.array(
            [ui * 1_000_003 + g for ui, gs in allowed.items() for g in gs], dtype=np.int64
        )
        move_keep &= np.isin(net.move_unit * 1_000_003 + net.move_target, keys)
    move_idx = np.flatnonzero(move_keep)
    stay_idx = np.flatnonzero(stay_keep)
    total = int(net.unit_amount.sum())
    fac_tails = np.concatenate([net.fac_node] * 3)
    fac_caps = np.concatenate(
        [net.fac_free, net.fac_reserve_room, np.full(len(net.fac_node), total, dtype=np.int64)]
    )
    fac_costs = np.concatenate(
        [
            np.zeros(len(net.fac_node), dtype=np.int64),
            np.full(len(net.fac_node), weights.w2, dtype=np.int64),
            np.full(len(net.fac_node), weights.w1 + weights.w2, dtype=np.int64),
        ]
    )
    fac_use = fac_caps > 0
    move_costs = weights.w3 + (net.move_dist[move_idx] if weights.with_distance else 0)
    tails = np.concatenate([net.stay_tail[stay_idx], net.move_tail[move_idx], fac_tails[fac_use]])
    heads = np.concatenate(
        [
            net.stay_head[stay_idx],
            net.move_head[move_idx],
            np.full(int(fac_use.sum()), net.sink, dtype=np.int64),
        ]
    )
    caps = np.concatenate(
        [
            net.unit_amount[stay_idx],
            net.unit_amount[net.move_tail[move_idx]],
            fac_caps[fac_use],
        ]
    )
    costs = np.concatenate(
        [
            np.zeros(len(stay_idx), dtype=np.int64),
            np.broadcast_to(np.asarray(move_costs, dtype=np.int64), (len(move_idx),)),
            fac_costs[fac_use],
        ]
    )
    smcf = min_cost_flow.SimpleMinCostFlow()
    arc_ids = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.concatenate(
        [net.unit_amount, np.zeros(len(net.fac_node), dtype=np.int64), [-total]]
    )
    smcf.set_nodes_supplies(np.arange(net.sink + 1), supplies)
    if smcf.solve() != smcf.OPTIMAL:
        return None
    all_flows = smcf.flows(arc_ids)
    first_move = len(stay_idx)
    move_flows = all_flows[first_move : first_move + len(move_idx)]
    used = np.flatnonzero(move_flows)
    youth_flows: dict[int, dict[int, int]] = {}
    for k in used.tolist():
        a = move_idx[k]
        youth_flows.setdefault(int(net.move_tail[a]), {})[int(net.move_target[a])] = int(
            move_flows[k]
        )
    units = [prep.units[i] for i in comp.units]
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
    objective = moved_objective(
        prep,
        comp.facilities,
        ((units[pos], g, flow) for pos, per in youth_flows.items() for g, flow in per.items()),
    )
    network = None
    if keep_network:
        network = _Network(
            tails=np.asarray(tails, dtype=np.int64),
            heads=np.asarray(heads, dtype=np.int64),
            caps=np.asarray(caps, dtype=np.int64),
            costs=np.asarray(costs, dtype=np.int64),
            flows=np.asarray(all_flows, dtype=np.int64),
            n_nodes=net.sink + 1,
            move_arcs=[
                (first_move + k, int(net.move_unit[a]), int(net.move_target[a]))
                for k, a in enumerate(move_idx.tolist())
            ],
            stay_arcs={int(net.unit_index[p]): k for k, p in enumerate(stay_idx.tolist())},
        )
    return FlowResult(assignment, objective, int(smcf.optimal_cost()), split, network)


def solve_component_flow(
    prep: Prepared, comp: Component, max_repairs: int = 8
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
    # Most often single youths can do what the split groups did: keep the split groups (or
    # all groups) home and let the flow re-route the others.
    candidates = []
    # Freeze every group where the relaxation put it, and the split ones at home: no group
    # can split any more, and the single youths re-route around them.
    frozen: dict[int, int | None] = {i: None for i in group_units}
    for ui, per_target in relaxed.assignment.items():
        if prep.units[ui].is_group:
            frozen[ui] = next(iter(per_target))
    for forced in (frozen, {i: None for i in group_units}):
        attempt = solve_flow(prep, comp, weights, forced)
        if attempt is not None and attempt.groups_whole:
            if attempt.cost == relaxed.cost:
                return attempt, bound
            candidates.append(attempt)
            break
    good = [c for c in candidates if c.objective.as_tuple()[:2] == bound.as_tuple()[:2]]
    if good:
        # Overflow and shortfall already reach the bound; the rest is closed exactly later.
        return min(good, key=lambda r: r.cost), bound
    # Otherwise settle split groups a few at a time, keeping the cheapest choice.
    forced = {}
    current = relaxed
    for _ in range(max_repairs):
        if current.groups_whole:
            candidates.append(current)
            break
        ui, used = next(iter(current.split_groups.items()))
        best: FlowResult | None = None
        best_choice: int | None = None
        for choice in [None, max(used, key=lambda g: used[g])]:
            trial = solve_flow(prep, comp, weights, {**forced, ui: choice})
            if trial is not None and (best is None or trial.cost < best.cost):
                best, best_choice = trial, choice
        if best is None:
            break
        forced[ui] = best_choice
        current = best
    if not candidates:
        return None, bound
    return min(candidates, key=lambda r: r.cost), bound


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


def reduced_costs(net: _Network) -> np.ndarray:
    """Every arc's reduced cost under optimal node potentials."""
    pi = potentials(net)
    return net.costs + pi[net.tails] - pi[net.heads]


def fixing_bounds(
    prep: Prepared, net: _Network, gap: int, rc: np.ndarray | None = None
) -> tuple[dict[tuple[int, int], tuple[int, int]], dict[int, tuple[int, int]]]:
    """Reduced-cost fixing: item bounds per (unit, target) and per unit's stay, valid for
    every plan whose folded cost is at most that of the optimal flow `net` plus `gap`."""
    if rc is None:
        rc = reduced_costs(net)

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
