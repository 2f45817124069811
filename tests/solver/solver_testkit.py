"""Helpers for the solver tests: scenario builders, a checked solve and a brute-force oracle."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

from solver import propose, validate_plan
from solver.geo import haversine_km
from solver.model import Objective
from solver.parse import parse_scenario_dict
from solver.validate import objective_of

# Facilities on a line through Leipzig; 0.01 degrees of latitude are about 1.11 km.
BASE = (51.34, 12.37)


def facility(fid: str, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": fid,
        "name": f"Haus {fid}",
        "kind": "group_home",
        "capacity": 2,
        "reserve": 0,
        "age_min": 0,
        "age_max": 17,
        "genders": ["f", "m", "d"],
        "uma": "allowed",
        "location": [BASE[0], BASE[1]],
    }
    doc.update(overrides)
    return doc


def youth(yid: str, fac: str, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": yid,
        "facility": fac,
        "age": 15,
        "gender": "m",
        "uma": False,
        "group": None,
        "pinned": False,
        "excluded": [],
    }
    doc.update(overrides)
    return doc


def scenario(
    facilities: list[dict[str, Any]], youths: list[dict[str, Any]], **top: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": "placement-scenario/1",
        "as_of": "2023-11-03",
        "max_moves": None,
        "max_move_km": None,
        "facilities": facilities,
        "youths": youths,
    }
    doc.update(top)
    return doc


def solve_checked(doc: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Solve, validate with the solver-independent validator, return the plan document."""
    plan = propose(doc, **kwargs)
    assert plan.status in ("OPTIMAL", "FEASIBLE"), plan
    result = validate_plan(doc, plan)
    assert result.ok, result.errors
    assert result.objective == plan.objective
    out = plan.to_dict()
    assert validate_plan(doc, out).ok
    return out


def brute_force(doc: dict[str, Any]) -> Objective:
    """Lexicographic optimum by enumerating every final facility for every decision unit."""
    sc, errors = parse_scenario_dict(doc)
    assert sc is not None, errors
    facilities = sc.facility_index()
    # Decision units: co-located group members decide together.
    units: dict[tuple[str, ...], list] = defaultdict(list)
    for y in sc.youths:
        key = ("group", y.group, y.facility) if y.group is not None else ("single", y.id)
        units[key].append(y)

    def may_move(y: Any, target: str) -> bool:
        f = facilities[target]
        ok = f.accepts(y.age, y.gender, y.uma) and target not in y.excluded and not y.pinned
        if ok and sc.max_move_km is not None:
            km = haversine_km(facilities[y.facility].location, f.location)
            ok = km <= sc.max_move_km
        return ok

    groups = list(units.values())
    options = []
    for members in groups:
        home = members[0].facility
        opts = [home] + [
            t for t in facilities if t != home and all(may_move(y, t) for y in members)
        ]
        options.append(opts)
    best: Objective | None = None
    for choice in itertools.product(*options):
        final = {}
        n_moves = 0
        for members, target in zip(groups, choice, strict=True):
            for y in members:
                final[y.id] = target
                n_moves += target != y.facility
        if sc.max_moves is not None and n_moves > sc.max_moves:
            continue
        obj = objective_of(sc, final)
        if best is None or obj < best:
            best = obj
    assert best is not None
    return best
