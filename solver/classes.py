"""Aggregation of youths into movable units, pruning and decomposition into components.

A *unit* is what the optimisation model decides about:

- a class of interchangeable youths: same current facility, same set of facilities they may
  move to (which makes their costs identical too), not pinned, not in a co-located group.
  The model gets one integer flow per (class, eligible target) instead of one Boolean per
  (youth, facility);
- a co-located sibling group (two or more members of a group in the same facility, none
  pinned): a single indivisible unit of its size that may only go where every member may go.

Youths who cannot move (pinned, pinned group member, or no eligible target) only count as
fixed occupancy. Two reductions keep the model small and are exact:

- *Pruning.* Only moves out of facilities reachable from a facility above its usable places
  (capacity minus reserve) can ever help: undoing all moves that start elsewhere makes no
  facility fuller and saves moves. Units outside that reachable set are fixed.
- *Decomposition.* Facilities that no unit can travel between are independent; each
  connected component is solved on its own and the objectives add up (lexicographic order is
  compatible with addition). A move budget couples them; see `solve.py`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from solver.geo import EARTH_RADIUS_KM, distance_units, haversine_km
from solver.model import Facility, Scenario, Youth

# What the model decides: per unit index, {target facility index: number of items moved there}
# (an item is one youth of a class, or a whole group). Units absent from it stay.
Assignment = dict[int, dict[int, int]]


@dataclass(slots=True)
class Unit:
    """A movable unit: `count` identical items of `size` youths each."""

    index: int
    home: int
    size: int
    count: int
    targets: tuple[int, ...]
    dists: tuple[int, ...]
    youths: tuple[str, ...]
    is_group: bool


@dataclass(slots=True)
class Component:
    facilities: list[int]
    units: list[int]
    cache: dict[str, object] = field(default_factory=dict, repr=False)


@dataclass(slots=True)
class Prepared:
    scenario: Scenario
    facilities: tuple[Facility, ...]
    index: dict[str, int]
    occupancy: list[int]
    fixed: list[int]
    units: list[Unit]
    components: list[Component]
    overfull: list[int]
    neighbours: list[list[int]] = field(default_factory=list)

    def usable(self, f: int) -> int:
        return self.facilities[f].capacity - self.facilities[f].reserve


def neighbour_lists(facilities: tuple[Facility, ...], max_km: float | None) -> list[list[int]]:
    """For each facility, the other facilities within `max_km` (all of them without a limit)."""
    n = len(facilities)
    if max_km is None:
        return [[g for g in range(n) if g != f] for f in range(n)]
    lat = np.radians(np.array([f.location[0] for f in facilities], dtype=np.float64))
    lon = np.radians(np.array([f.location[1] for f in facilities], dtype=np.float64))
    coslat = np.cos(lat)
    result: list[list[int]] = []
    slack = 1e-6
    for f in range(n):
        h = np.sin((lat - lat[f]) / 2) ** 2 + coslat[f] * coslat * np.sin((lon - lon[f]) / 2) ** 2
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
        candidates = np.nonzero(km <= max_km + slack)[0]
        near: list[int] = []
        for g in candidates.tolist():
            if g == f:
                continue
            # Decide borderline pairs with exactly the formula the validator uses.
            if km[g] >= max_km - slack and (
                haversine_km(facilities[f].location, facilities[g].location) > max_km
            ):
                continue
            near.append(g)
        result.append(near)
    return result


class _Eligibility:
    """Eligible move targets per (current facility, age, gender, umA), cached."""

    def __init__(self, facilities: tuple[Facility, ...], neighbours: list[list[int]]) -> None:
        self.facilities = facilities
        self.neighbours = neighbours
        self._profiles: dict[int, list[tuple[Facility, list[int]]]] = {}
        self._cache: dict[tuple[int, int, str, bool], tuple[int, ...]] = {}

    def _profiles_of(self, f: int) -> list[tuple[Facility, list[int]]]:
        profiles = self._profiles.get(f)
        if profiles is None:
            by_profile: dict[tuple[int, int, frozenset[str], str], list[int]] = defaultdict(list)
            example: dict[tuple[int, int, frozenset[str], str], Facility] = {}
            for g in self.neighbours[f]:
                fac = self.facilities[g]
                key = (fac.age_min, fac.age_max, fac.genders, fac.uma)
                by_profile[key].append(g)
                example[key] = fac
            profiles = [(example[k], gs) for k, gs in by_profile.items()]
            self._profiles[f] = profiles
        return profiles

    def targets(self, home: int, youth: Youth, index: dict[str, int]) -> tuple[int, ...]:
        key = (home, youth.age, youth.gender, youth.uma)
        base = self._cache.get(key)
        if base is None:
            found: list[int] = []
            for fac, gs in self._profiles_of(home):
                if fac.accepts(youth.age, youth.gender, youth.uma):
                    found.extend(gs)
            base = tuple(sorted(found))
            self._cache[key] = base
        if youth.excluded:
            banned = {index[e] for e in youth.excluded}
            return tuple(g for g in base if g not in banned)
        return base


def _reachable(starts: Iterable[int], edges: dict[int, set[int]]) -> set[int]:
    seen = set(starts)
    stack = list(seen)
    while stack:
        f = stack.pop()
        for g in edges.get(f, ()):
            if g not in seen:
                seen.add(g)
                stack.append(g)
    return seen


def prepare(scenario: Scenario, prune: bool = True) -> Prepared:
    """Aggregate youths into units, prune unhelpful ones and split into components."""
    facilities = scenario.facilities
    index = {f.id: i for i, f in enumerate(facilities)}
    n = len(facilities)
    occupancy = [0] * n
    for y in scenario.youths:
        occupancy[index[y.facility]] += 1
    overfull = [
        f for f in range(n) if occupancy[f] > facilities[f].capacity - facilities[f].reserve
    ]

    neighbours = neighbour_lists(facilities, scenario.max_move_km)
    elig = _Eligibility(facilities, neighbours)

    # Co-located group members; a "group" of one is an ordinary youth.
    members: dict[tuple[str, int], list[Youth]] = defaultdict(list)
    for y in scenario.youths:
        if y.group is not None:
            members[(y.group, index[y.facility])].append(y)

    raw_units: list[tuple[int, int, tuple[int, ...], tuple[str, ...], bool]] = []
    classes: dict[tuple[int, tuple[int, ...]], list[str]] = defaultdict(list)
    for y in scenario.youths:
        home = index[y.facility]
        if y.pinned:
            continue
        if y.group is not None and len(members[(y.group, home)]) > 1:
            continue
        targets = elig.targets(home, y, index)
        if targets:
            classes[(home, targets)].append(y.id)
    for (home, targets), ids in classes.items():
        raw_units.append((home, 1, targets, tuple(ids), False))
    for (_group, home), group in members.items():
        if len(group) < 2 or any(y.pinned for y in group):
            continue
        common = set(elig.targets(home, group[0], index))
        for y in group[1:]:
            common &= set(elig.targets(home, y, index))
        if common:
            raw_units.append(
                (home, len(group), tuple(sorted(common)), tuple(y.id for y in group), True)
            )

    if prune:
        edges: dict[int, set[int]] = defaultdict(set)
        for home, _size, targets, _ids, _g in raw_units:
            edges[home].update(targets)
        keep = _reachable(overfull, edges)
        raw_units = [u for u in raw_units if u[0] in keep]

    units: list[Unit] = []
    dist_cache: dict[tuple[int, int], int] = {}
    for home, size, targets, ids, is_group in sorted(raw_units, key=lambda u: (u[0], u[3])):
        dists = []
        for g in targets:
            d = dist_cache.get((home, g))
            if d is None:
                d = distance_units(facilities[home].location, facilities[g].location)
                dist_cache[(home, g)] = d
            dists.append(d)
        units.append(
            Unit(
                index=len(units),
                home=home,
                size=size,
                count=1 if is_group else len(ids),
                targets=targets,
                dists=tuple(dists),
                youths=ids,
                is_group=is_group,
            )
        )

    fixed = occupancy[:]
    for u in units:
        fixed[u.home] -= u.size * u.count

    # Union-find over facilities joined by some unit's possible move.
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for u in units:
        ru = find(u.home)
        for g in u.targets:
            rg = find(g)
            if rg != ru:
                parent[rg] = ru
    by_root: dict[int, Component] = {}
    for u in units:
        root = find(u.home)
        comp = by_root.get(root)
        if comp is None:
            comp = by_root[root] = Component([], [])
        comp.units.append(u.index)
    members_of: dict[int, list[int]] = defaultdict(list)
    for f in range(n):
        root = find(f)
        if root in by_root:
            members_of[root].append(f)
    for root, comp in by_root.items():
        comp.facilities = members_of[root]
    components = sorted(by_root.values(), key=lambda c: -len(c.units))
    return Prepared(
        scenario=scenario,
        facilities=facilities,
        index=index,
        occupancy=occupancy,
        fixed=fixed,
        units=units,
        components=components,
        overfull=overfull,
        neighbours=neighbours,
    )
