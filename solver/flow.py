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

from solver.classes import Assignment, Component, Prepared
from solver.model import Objective
from solver.network import COST_LIMIT, Network, component_arcs
from solver.objective import moved_objective


@dataclass(slots=True)
class FlowResult:
    assignment: Assignment
    objective: Objective
    cost: int
    split_groups: dict[int, dict[int, int]]
    network: Network | None = None

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
        self.fits = biggest * (nodes + 1) < COST_LIMIT and biggest * (total + 1) < COST_LIMIT

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
    net = component_arcs(prep, comp)
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
        network = Network(
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
