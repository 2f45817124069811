"""The solver's objective equals brute force on random small instances."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solver_testkit import BASE, brute_force, solve_checked

from solver import propose

FACILITY_IDS = ["A", "B", "C", "D"]


@st.composite
def small_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n_fac = draw(st.sampled_from([2, 3, 4, 4, 1]))
    fids = FACILITY_IDS[:n_fac]
    facilities = []
    for fid in fids:
        capacity = draw(st.integers(0, 3))
        age_min = draw(st.sampled_from([0, 0, 12, 14]))
        facilities.append(
            {
                "id": fid,
                "name": fid,
                "kind": "group_home",
                "capacity": capacity,
                "reserve": draw(st.integers(0, capacity)),
                "age_min": age_min,
                "age_max": draw(st.sampled_from([13, 17, 20])) if age_min < 13 else 17,
                "genders": draw(st.sampled_from([["f", "m", "d"]] * 3 + [["m"], ["f", "d"]])),
                "uma": draw(st.sampled_from(["allowed"] * 4 + ["only", "none"])),
                "location": [
                    BASE[0] + draw(st.integers(0, 40)) * 0.01,
                    BASE[1] + draw(st.integers(0, 40)) * 0.01,
                ],
            }
        )
    n_youths = draw(st.sampled_from([8, 7, 6, 5, 4, 3, 2, 1, 0]))
    youths = []
    for i in range(n_youths):
        youths.append(
            {
                "id": f"y{i}",
                "facility": draw(st.sampled_from(fids)),
                "age": draw(st.sampled_from([10, 13, 15, 15, 16, 18])),
                "gender": draw(st.sampled_from(["m", "m", "f", "d"])),
                "uma": draw(st.booleans()),
                "group": draw(st.sampled_from([None, None, "G1", "G1", "G2"])),
                "pinned": draw(st.integers(0, 9)) == 0,
                "excluded": draw(st.sampled_from([[], [], [], [fids[-1]]])),
            }
        )
    return {
        "format": "placement-scenario/1",
        "as_of": "2023-11-03",
        "max_moves": draw(st.sampled_from([None, None, 0, 1, 2, 3])),
        "max_move_km": draw(st.sampled_from([None, None, 2.0, 4.0])),
        "facilities": facilities,
        "youths": youths,
    }


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(small_scenarios())
def test_objective_matches_brute_force(doc: dict[str, Any]) -> None:
    plan = solve_checked(doc, time_limit=20)
    assert plan["status"] == "OPTIMAL"
    expected = brute_force(doc).as_tuple()
    got = tuple(
        plan["objective"][k] for k in ("overflow", "reserve_shortfall", "moves", "distance")
    )
    assert got == expected


@settings(max_examples=60, deadline=None, derandomize=True)
@given(small_scenarios())
def test_cp_sat_alone_agrees_with_flow(doc: dict[str, Any]) -> None:
    with_flow = propose(doc, time_limit=20)
    cp_sat_only = propose(doc, time_limit=20, use_flow=False)
    assert with_flow.status == cp_sat_only.status == "OPTIMAL"
    assert with_flow.objective == cp_sat_only.objective
