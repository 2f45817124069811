"""The solver's own objective arithmetic: the four levels from occupancy counts and moves.

The engines rank their flows and plans with these functions, and `solve.py` and `greedy.py`
state a plan's objective with them. `validate.py` recomputes the objective youth by youth
from the scenario with code of its own. The two meet only in the tests, the `validate`
command and the benchmark, so the validator's check "plan states objective X but it is Y"
can catch a wrong plan. No solver module may import `solver.validate`
(`tests/solver/test_objective.py` checks this).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from solver.classes import Assignment, Component, Prepared, Unit
from solver.model import Facility, Objective


def occupancy_levels(
    facilities: Sequence[Facility], occupancy: Iterable[tuple[int, int]]
) -> tuple[int, int]:
    """(overflow, reserve shortfall) over (facility index, final number of youths) pairs."""
    overflow = 0
    shortfall = 0
    for f, n in occupancy:
        fac = facilities[f]
        overflow += max(0, n - fac.capacity)
        shortfall += max(0, n - fac.capacity + fac.reserve)
    return overflow, shortfall


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
    overflow, shortfall = occupancy_levels(prep.facilities, occ.items())
    return Objective(overflow, shortfall, moves, distance)


def component_objective(prep: Prepared, comp: Component, assignment: Assignment) -> Objective:
    """Objective of a component (its facilities and units) under an assignment."""
    moved = (
        (unit, g, k * unit.size)
        for unit in (prep.units[ui] for ui in comp.units)
        for g, k in assignment.get(unit.index, {}).items()
    )
    return moved_objective(prep, comp.facilities, moved)


def assignment_objective(prep: Prepared, assignment: Assignment) -> Objective:
    """Objective of the whole scenario (every facility, every youth) under an assignment."""
    moved = (
        (unit, g, k * unit.size)
        for unit, per_target in ((prep.units[ui], pt) for ui, pt in assignment.items())
        for g, k in per_target.items()
    )
    return moved_objective(prep, range(len(prep.facilities)), moved)
