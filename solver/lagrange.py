"""A binding move budget priced into the flow (Lagrangian relaxation), made exact.

With `max_moves = B` the components that move anybody are coupled by one side constraint on
the min-cost flow: at most B youths move. Pricing every move at λ removes it. For each λ ≥ 0
the optimum of `F(x) + λ·moves(x)` minus `λ·B` is a lower bound on the folded cost F of
every plan within the budget. The best such bound is reached at a breakpoint λ*, where flows
with more and with fewer than B moves are both optimal. Their difference splits into cycles
of zero cost at λ*; applying the right subset of them gives an optimal flow at λ* with
exactly B moves, which is therefore the optimum of the budgeted relaxation (in which sibling
groups may split). Its four levels bound every plan.

When that flow splits groups, the groups are frozen (whole where the relaxation moved them
whole, at home otherwise) and priced again from λ*: a whole-group plan. If it reaches the
bound on overflow, shortfall and moves, only distance is left: a large-neighbourhood MIP
around the plan over the moves with the smallest reduced costs improves it, and reduced-cost
fixing with the remaining gap leaves a MIP that proves the distance when it is small enough.

The folded weights need only dominate the lower levels of the relaxation's optimum: at most B
moves, at most B·d_max tenths of a km, and a reserve shortfall of at most the stay plan's
(a flow can always undo a single youth's move, and no useful one raises the shortfall).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from ortools.graph.python import min_cost_flow

from solver.classes import Assignment, Component, Prepared
from solver.mip import solve_restricted_mip
from solver.model import LEVELS, Objective
from solver.network import COST_LIMIT, Network, component_arcs, fixing_bounds, reduced_costs
from solver.objective import component_objective, moved_objective

# Free (unit, target) pairs the improvement MIP works on (and its time), and the most pairs
# reduced-cost fixing may leave for the proof.
NEIGHBOURHOOD_PAIRS = 20_000
IMPROVE_SECONDS = 30.0
PROOF_PAIRS = 60_000


@dataclass(slots=True)
class BudgetNet:
    """The components that move anybody, as one network (each with its own sink)."""

    tails: np.ndarray
    heads: np.ndarray
    caps: np.ndarray
    base: np.ndarray  # folded cost per arc, without the price of a move
    is_move: np.ndarray
    is_stay: np.ndarray
    arc_unit: np.ndarray  # unit index of stay and move arcs, -1 otherwise
    arc_target: np.ndarray  # target facility of move arcs, -1 otherwise
    supplies: np.ndarray
    n_nodes: int
    w1: int
    w2: int

    def solve(self, scale: int, price: int, caps: np.ndarray | None = None) -> np.ndarray | None:
        """Optimal flows for the cost `scale·base + price·[move arc]`, or None when that
        does not fit in 64 bits (the cost-scaling algorithm multiplies by the node count)."""
        biggest = int(self.base.max(initial=0)) * scale + price
        if biggest * (self.n_nodes + 1) >= COST_LIMIT:
            return None
        costs = self.base * scale + price * self.is_move
        smcf = min_cost_flow.SimpleMinCostFlow()
        arcs = smcf.add_arcs_with_capacity_and_unit_cost(
            self.tails, self.heads, self.caps if caps is None else caps, costs
        )
        smcf.set_nodes_supplies(np.arange(self.n_nodes), self.supplies)
        if smcf.solve() != smcf.OPTIMAL:
            return None
        return np.asarray(smcf.flows(arcs), dtype=np.int64)

    def value(self, flows: np.ndarray) -> tuple[int, int]:
        """(F, moves) of a flow, in Python integers."""
        used = flows != 0
        f = sum(int(v) for v in self.base[used] * flows[used])
        return f, int(flows[self.is_move].sum())

    def assignment(self, prep: Prepared, flows: np.ndarray) -> tuple[Assignment, set[int]]:
        """Items per (unit, target) and the groups the flow splits."""
        result: Assignment = {}
        split: set[int] = set()
        for a in np.flatnonzero(flows * self.is_move).tolist():
            unit = prep.units[int(self.arc_unit[a])]
            result.setdefault(unit.index, {})[int(self.arc_target[a])] = int(flows[a])
        for ui, per_target in result.items():
            unit = prep.units[ui]
            if unit.is_group:
                if len(per_target) > 1 or next(iter(per_target.values())) != unit.size:
                    split.add(ui)
                else:
                    result[ui] = {g: 1 for g in per_target}
        for ui in split:
            del result[ui]
        return result, split

    def objective(self, prep: Prepared, flows: np.ndarray, facilities: list[int]) -> Objective:
        """The four levels of a flow over `facilities`, in youths (split groups too)."""
        moving = np.flatnonzero(flows * self.is_move).tolist()
        return moved_objective(
            prep,
            facilities,
            (
                (prep.units[int(self.arc_unit[a])], int(self.arc_target[a]), int(flows[a]))
                for a in moving
            ),
        )

    def frozen_caps(self, prep: Prepared, whole: Assignment) -> np.ndarray:
        """Capacities that hold every group where `whole` puts it (absent: at home)."""
        caps = self.caps.copy()
        units = self.arc_unit
        group_arc = np.zeros(len(caps), dtype=bool)
        known = units >= 0
        group_arc[known] = np.array([prep.units[u].is_group for u in units[known].tolist()])
        for a in np.flatnonzero(group_arc).tolist():
            target = whole.get(int(units[a]))
            if self.is_stay[a]:
                if target:
                    caps[a] = 0
            elif not target or int(self.arc_target[a]) not in target:
                caps[a] = 0
        return caps

    def network(self, flows: np.ndarray, price: Fraction) -> Network:
        """The priced network with an optimal flow, for reduced-cost fixing."""
        costs = self.base * price.denominator + price.numerator * self.is_move
        moves = np.flatnonzero(self.is_move)
        stays = np.flatnonzero(self.is_stay)
        return Network(
            tails=self.tails,
            heads=self.heads,
            caps=self.caps,
            costs=costs,
            flows=flows,
            n_nodes=self.n_nodes,
            move_arcs=list(
                zip(
                    moves.tolist(),
                    self.arc_unit[moves].tolist(),
                    self.arc_target[moves].tolist(),
                    strict=True,
                )
            ),
            stay_arcs=dict(zip(self.arc_unit[stays].tolist(), stays.tolist(), strict=True)),
        )


def build_net(prep: Prepared, comps: list[Component], budget: int) -> BudgetNet:
    """One network over `comps` with weights valid for the budgeted relaxation's optimum."""
    d_max = max(
        (int(component_arcs(prep, c).move_dist.max(initial=0)) for c in comps),
        default=0,
    )
    stay = sum((component_objective(prep, c, {}) for c in comps), Objective())
    w3 = budget * d_max + 1
    w2 = w3 * (budget + 1)
    w1 = w2 * (stay.reserve_shortfall + 1)
    i64 = np.int64
    parts: list[tuple[np.ndarray, ...]] = []
    offset = 0
    for comp in comps:
        a = component_arcs(prep, comp)
        n_fac = len(a.fac_node)
        total = int(a.unit_amount.sum())
        fac_caps = np.concatenate([a.fac_free, a.fac_reserve_room, np.full(n_fac, total, i64)])
        fac_cost = np.repeat(np.array([0, w2, w1 + w2], dtype=i64), n_fac)
        use = fac_caps > 0
        n_stay, n_move, n_fac_arcs = len(a.stay_tail), len(a.move_tail), int(use.sum())
        kind = np.repeat(np.array([0, 1, 2], dtype=np.int8), [n_stay, n_move, n_fac_arcs])
        none = np.full(n_fac_arcs, -1, i64)
        parts.append(
            (
                np.concatenate([a.stay_tail, a.move_tail, np.tile(a.fac_node, 3)[use]]) + offset,
                np.concatenate([a.stay_head, a.move_head, np.full(n_fac_arcs, a.sink, i64)])
                + offset,
                np.concatenate([a.unit_amount, a.unit_amount[a.move_tail], fac_caps[use]]),
                np.concatenate([np.zeros(n_stay, i64), w3 + a.move_dist, fac_cost[use]]),
                kind,
                np.concatenate([a.unit_index, a.move_unit, none]),
                np.concatenate([np.full(n_stay, -1, i64), a.move_target, none]),
                np.concatenate([a.unit_amount, np.zeros(n_fac, i64), np.array([-total], i64)]),
            )
        )
        offset += a.sink + 1
    tails, heads, caps, base, kind, units, targets, supplies = (
        np.concatenate(column) for column in zip(*parts, strict=True)
    )
    return BudgetNet(
        tails=tails,
        heads=heads,
        caps=caps,
        base=base,
        is_move=kind == 1,
        is_stay=kind == 0,
        arc_unit=units,
        arc_target=targets,
        supplies=supplies,
        n_nodes=offset,
        w1=w1,
        w2=w2,
    )


@dataclass(slots=True)
class _Point:
    price: Fraction
    flows: np.ndarray
    f: int
    moves: int

    def line(self, price: Fraction) -> Fraction:
        return self.f + price * self.moves


class PricingFailed(Exception):
    """A price's costs do not fit in 64 bits, or the flow solver failed."""


def price_budget(
    net: BudgetNet,
    budget: int,
    caps: np.ndarray | None = None,
    start: Fraction | None = None,
    out_of_time: Callable[[], bool] = lambda: False,
) -> tuple[Fraction, _Point, _Point]:
    """Search the critical price λ* by cutting planes on the concave dual function.

    Returns (λ*, a, b) with a and b both optimal at λ* and a.moves >= budget >= b.moves,
    or (0, a, a) when the budget does not bind (the flow at price 0 stays within it). Raises
    PricingFailed when a price's costs do not fit in 64 bits or time runs out.
    """
    bracket: dict[str, _Point] = {}

    def at(price: Fraction, lean: int = 0) -> _Point:
        # lean −1/+1 evaluates at price ∓ 1/(2q): among ties, more or fewer moves.
        if out_of_time():
            raise PricingFailed("time limit")
        q, p = price.denominator, price.numerator
        flows = net.solve(2 * q, 2 * p + lean, caps) if lean else net.solve(q, p, caps)
        if flows is None:
            raise PricingFailed(f"price {price} does not fit")
        f, m = net.value(flows)
        return _Point(price, flows, f, m)

    def place(c: _Point) -> None:
        side = "a" if c.moves > budget else "b"
        old = bracket.get(side)
        if old is None or (c.price >= old.price if side == "a" else c.price <= old.price):
            bracket[side] = c

    def probe(price: Fraction) -> tuple[Fraction, _Point, _Point] | None:
        """Evaluate at `price`; if it is the breakpoint, return the pair around the budget."""
        c = at(price)
        if c.moves == budget:
            return price, c, c
        other = at(price, -1 if c.moves < budget else 1)
        optimal = other.line(price) == c.line(price)
        if optimal and (other.moves - budget) * (c.moves - budget) <= 0:
            return (price, c, other) if c.moves > budget else (price, other, c)
        place(c)
        if optimal:
            other.price = price
            place(other)
        return None

    if start is not None:
        found = probe(start)
        if found is not None:
            return found
    if "a" not in bracket:
        zero = at(Fraction(0))
        if zero.moves <= budget:
            return zero.price, zero, zero
        place(zero)
    if "b" not in bracket:
        # Above w1 + w2 no move pays for itself: the stay plan.
        place(at(Fraction(net.w1 + net.w2 + 1)))
    while True:
        a, b = bracket["a"], bracket["b"]
        exact = Fraction(b.f - a.f, a.moves - b.moves)
        # Integer prices keep the costs small; fractions only between neighbouring integers.
        price = Fraction(exact.numerator // exact.denominator)
        if price <= a.price:
            price += 1
        if price >= b.price:
            price = exact
        found = probe(price)
        if found is not None:
            return found


def _unit_cycles(
    net: BudgetNet, more: np.ndarray, fewer: np.ndarray
) -> list[tuple[int, list[int], list[int]]]:
    """Conformal decomposition of `more − fewer` into unit cycles.

    Returns (change in moves, arcs gaining one, arcs losing one) per unit cycle. Applying
    any subset of them to `fewer` gives a flow between the two, arc by arc."""
    diff = more - fewer
    out: dict[int, list[list[int]]] = {}
    for a in np.flatnonzero(diff).tolist():
        d = int(diff[a])
        tail = int(net.tails[a]) if d > 0 else int(net.heads[a])
        out.setdefault(tail, []).append([a, 1 if d > 0 else -1, abs(d)])
    cycles: list[tuple[int, list[int], list[int]]] = []
    while out:
        node = next(iter(out))
        path: list[list[int]] = []
        seen: dict[int, int] = {}
        while node not in seen:
            seen[node] = len(path)
            edge = out[node][-1]
            path.append(edge)
            node = int(net.heads[edge[0]]) if edge[1] > 0 else int(net.tails[edge[0]])
        loop = path[seen[node] :]
        amount = min(e[2] for e in loop)
        plus = [e[0] for e in loop if e[1] > 0]
        minus = [e[0] for e in loop if e[1] < 0]
        delta = int(net.is_move[plus].sum()) - int(net.is_move[minus].sum())
        cycles.extend([(delta, plus, minus)] * amount)
        for e in loop:
            e[2] -= amount
            tail = int(net.tails[e[0]]) if e[1] > 0 else int(net.heads[e[0]])
            if e[2] == 0:
                edges = out[tail]
                edges.remove(e)
                if not edges:
                    del out[tail]
    return cycles


def exact_budget_flow(
    net: BudgetNet, more: _Point, fewer: _Point, budget: int
) -> np.ndarray | None:
    """An optimal flow at λ* with exactly `budget` moves, from two optimal flows around it
    (None if no subset of their difference's cycles reaches it)."""
    need = budget - fewer.moves
    if need == 0:
        return fewer.flows
    cycles = _unit_cycles(net, more.flows, fewer.flows)
    # Subset sum over the cycles' move changes (small integers): sum -> (cycle, previous).
    reach: dict[int, tuple[int, int] | None] = {0: None}
    for i, (delta, _plus, _minus) in enumerate(cycles):
        if delta:
            for s in list(reach):
                reach.setdefault(s + delta, (i, s))
        if need in reach:
            break
    if need not in reach:
        return None
    flows = fewer.flows.copy()
    step = reach[need]
    while step is not None:
        i, previous = step
        _delta, plus, minus = cycles[i]
        flows[plus] += 1
        flows[minus] -= 1
        step = reach[previous]
    return flows


@dataclass(slots=True)
class PricedResult:
    assignment: Assignment
    proven: int  # leading levels proven optimal
    bound: Objective
    stats: dict[str, object]


def solve_priced_budget(
    prep: Prepared,
    comps: list[Component],
    budget: int,
    remaining: Callable[[], float],
    binding_only: bool = False,
) -> PricedResult | None:
    """The budgeted optimum over `comps` by pricing the budget; None when no flow at λ* has
    exactly B moves or a price does not fit (the caller falls back to CP-SAT), and with
    `binding_only` also when the budget does not bind the relaxation."""
    if not comps:
        return None
    net = build_net(prep, comps, budget)
    merged = Component(
        [f for c in comps for f in c.facilities], [u for c in comps for u in c.units]
    )
    stats: dict[str, object] = {"budget_priced": True}

    def out_of_time() -> bool:
        return remaining() <= 0

    try:
        price, more, fewer = price_budget(net, budget, out_of_time=out_of_time)
        # Without groups the budget may not bind at all (price 0); then that flow is the
        # relaxation's optimum. Otherwise it is the flow at λ* with exactly B moves.
        if more.moves <= budget:
            if binding_only:
                return None
            relaxed: np.ndarray | None = more.flows
        else:
            relaxed = exact_budget_flow(net, more, fewer, budget)
        if relaxed is None:
            return None
        whole, split = net.assignment(prep, relaxed)
        bound = net.objective(prep, relaxed, merged.facilities)
        stats["split_groups"] = len(split)
        if not split:
            return PricedResult(whole, len(LEVELS), bound, stats)
        # Freeze the groups (split ones at home) and price again from λ*.
        caps = net.frozen_caps(prep, whole)
        _again, more, fewer = price_budget(
            net, budget, caps=caps, start=price, out_of_time=out_of_time
        )
    except PricingFailed:
        return None
    flows = exact_budget_flow(net, more, fewer, budget)
    plan, _split = net.assignment(prep, fewer.flows if flows is None else flows)
    got = component_objective(prep, merged, plan)
    proven = _proven_levels(got, bound)
    if proven < 3 or got == bound:
        return PricedResult(plan, len(LEVELS) if got == bound else proven, bound, stats)
    # Only distance is left. Improve the plan in the neighbourhood of small reduced costs,
    # then prove with reduced-cost fixing and a MIP if what is left is small enough.
    network = net.network(relaxed, price)
    levels = Objective(got.overflow, got.reserve_shortfall, got.moves, 0)
    rc = reduced_costs(network)
    domains = _neighbourhood(prep, net, rc, plan)
    improved = solve_restricted_mip(
        prep,
        merged,
        domains,
        levels,
        False,
        min(IMPROVE_SECONDS, remaining()),
        max_distance=got.distance,
    )
    if improved is not None:
        candidate, _proven = improved
        check = component_objective(prep, merged, candidate)
        if check.as_tuple()[:3] == got.as_tuple()[:3] and check.distance < got.distance:
            plan, got = candidate, check
    stats["distance_gap"] = got.distance - bound.distance
    if got == bound:
        return PricedResult(plan, len(LEVELS), bound, stats)
    gap = (got.distance - bound.distance) * price.denominator
    domains, _stays = fixing_bounds(prep, network, gap, rc)
    free = sum(1 for lo, hi in domains.values() if hi > 0)
    stats["proof_pairs"] = free
    if free > PROOF_PAIRS or remaining() <= 0:
        return PricedResult(plan, 3, bound, stats)
    proof = solve_restricted_mip(
        prep, merged, domains, levels, False, remaining(), max_distance=got.distance
    )
    if proof is None:
        return PricedResult(plan, 3, bound, stats)
    candidate, finished = proof
    check = component_objective(prep, merged, candidate)
    if check.as_tuple()[:3] == got.as_tuple()[:3] and check.distance <= got.distance:
        plan = candidate
    return PricedResult(plan, len(LEVELS) if finished else 3, bound, stats)


def _proven_levels(got: Objective, bound: Objective) -> int:
    """Leading levels in which a plan meets a lower bound (and so is optimal)."""
    proven = 0
    for value, lower in zip(got.as_tuple(), bound.as_tuple(), strict=True):
        if value != lower:
            break
        proven += 1
    return proven


def _neighbourhood(
    prep: Prepared, net: BudgetNet, rc: np.ndarray, plan: Assignment
) -> dict[tuple[int, int], tuple[int, int]]:
    """Free (unit, target) pairs for the improvement MIP: the moves with the smallest
    reduced costs, and every move of the plan (so that the plan itself stays feasible)."""
    moves = np.flatnonzero(net.is_move)
    size = np.abs(rc[moves])
    if len(moves) > NEIGHBOURHOOD_PAIRS:
        threshold = np.partition(size, NEIGHBOURHOOD_PAIRS)[NEIGHBOURHOOD_PAIRS]
        moves = moves[size < threshold]
    pairs = set(zip(net.arc_unit[moves].tolist(), net.arc_target[moves].tolist(), strict=True))
    pairs.update((ui, g) for ui, per_target in plan.items() for g in per_target)
    return {(ui, g): (0, prep.units[ui].count) for ui, g in pairs}
