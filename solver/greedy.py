"""The dispatcher's baseline: what a person does by hand, for comparison in the benchmark.

Take the fullest house (highest occupancy relative to its usable places), take its most
recently admitted youth who may be moved (scenario order is admission order), and move it to
the nearest house that accepts it and still has a usable place. Sibling groups move together
or not at all. Repeat until no over-full house can be relieved or the move budget is spent.
"""

from __future__ import annotations

import heapq
from collections import defaultdict

from solver.classes import neighbour_lists
from solver.geo import distance_units, haversine_km
from solver.model import Move, Objective, Plan, Scenario, Youth
from solver.objective import occupancy_levels


def greedy_plan(scenario: Scenario) -> list[Move]:
    """Moves chosen by the dispatcher's rule of thumb (always a valid plan)."""
    return _dispatch(scenario)[0]


def _dispatch(scenario: Scenario) -> tuple[list[Move], Objective]:
    """The greedy moves and their objective, from the run's own occupancy counts."""
    facilities = scenario.facilities
    index = {f.id: i for i, f in enumerate(facilities)}
    count = [0] * len(facilities)
    for y in scenario.youths:
        count[index[y.facility]] += 1
    usable = [f.capacity - f.reserve for f in facilities]

    # Candidates per house, most recently admitted first; a co-located group is one candidate.
    colocated: dict[tuple[str, str], list[Youth]] = defaultdict(list)
    for y in scenario.youths:
        if y.group is not None:
            colocated[(y.group, y.facility)].append(y)
    candidates: dict[int, list[list[Youth]]] = defaultdict(list)
    seen_groups: set[tuple[str, str]] = set()
    for y in reversed(scenario.youths):
        key = (y.group, y.facility) if y.group is not None else None
        members = colocated[key] if key is not None else [y]
        if key is not None:
            if key in seen_groups:
                continue
            seen_groups.add(key)
        if any(m.pinned for m in members):
            continue
        candidates[index[y.facility]].append(members)

    neighbours = neighbour_lists(facilities, scenario.max_move_km)
    by_distance: dict[int, list[int]] = {}

    def nearest_first(f: int) -> list[int]:
        order = by_distance.get(f)
        if order is None:
            here = facilities[f].location
            order = sorted(neighbours[f], key=lambda g: haversine_km(here, facilities[g].location))
            by_distance[f] = order
        return order

    def fullness(f: int) -> float:
        return -count[f] / max(1, usable[f])

    heap = [(fullness(f), f) for f in range(len(facilities)) if count[f] > usable[f]]
    heapq.heapify(heap)
    moves: list[Move] = []
    distance = 0
    budget = scenario.max_moves
    while heap:
        _, f = heapq.heappop(heap)
        if count[f] <= usable[f]:
            continue
        moved = False
        pool = candidates[f]
        keep: list[list[Youth]] = []
        # Houses only fill up during the greedy run, so a candidate that finds no place now
        # never will: drop it.
        while pool and not moved:
            members = pool.pop(0)
            if budget is not None and len(moves) + len(members) > budget:
                keep.append(members)
                continue
            target = None
            for g in nearest_first(f):
                if count[g] + len(members) > usable[g]:
                    continue
                fac = facilities[g]
                if all(
                    fac.accepts(m.age, m.gender, m.uma) and fac.id not in m.excluded
                    for m in members
                ):
                    target = g
                    break
            if target is None:
                continue
            moves.extend(Move(m.id, facilities[f].id, facilities[target].id) for m in members)
            distance += len(members) * distance_units(
                facilities[f].location, facilities[target].location
            )
            count[f] -= len(members)
            count[target] += len(members)
            moved = True
        candidates[f] = keep + pool
        if moved and count[f] > usable[f]:
            heapq.heappush(heap, (fullness(f), f))
    overflow, shortfall = occupancy_levels(facilities, enumerate(count))
    return moves, Objective(overflow, shortfall, len(moves), distance)


def greedy_as_plan(scenario: Scenario) -> Plan:
    """The greedy moves as a plan with its objective (status FEASIBLE: nothing is proven)."""
    moves, objective = _dispatch(scenario)
    return Plan(status="FEASIBLE", objective=objective, moves=tuple(moves))
