"""Network structures shared by the flow engines (`flow.py`, `budget.py`, `lagrange.py`).

- `Arcs`: the static arrays of one component's min-cost-flow network (unit supply nodes,
  stay and move arcs, facility nodes with their free and reserve places), built once per
  component by `component_arcs` and cached on it; `flow.solve_flow` masks and prices them,
  `lagrange.build_net` joins several components' arrays into one network.
- `Network`: the arcs of a solved flow with their flows, kept for reduced costs.
- `potentials`, `reduced_costs`, `fixing_bounds`: optimal node potentials on the residual
  graph, each arc's reduced cost, and reduced-cost fixing of (unit, target) pairs from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solver.classes import Component, Prepared

# Costs of a min-cost flow must stay below this: the cost-scaling algorithm multiplies them by
# the number of nodes, in 64-bit integers.
COST_LIMIT = 2**62


@dataclass(slots=True)
class Network:
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
class Arcs:
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


def component_arcs(prep: Prepared, comp: Component) -> Arcs:
    """The component's network arrays, built on first use and cached on the component."""
    cached = comp.cache.get("arcs")
    if isinstance(cached, Arcs):
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
    arcs = Arcs(
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


def potentials(net: Network) -> np.ndarray:
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


def reduced_costs(net: Network) -> np.ndarray:
    """Every arc's reduced cost under optimal node potentials."""
    pi = potentials(net)
    return net.costs + pi[net.tails] - pi[net.heads]


def fixing_bounds(
    prep: Prepared, net: Network, gap: int, rc: np.ndarray | None = None
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
