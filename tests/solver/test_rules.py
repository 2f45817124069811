"""Each hard rule: one instance where the move is allowed and one where it is not.

Setup throughout: facility A is over capacity, facility B has room. Every solve is validated
and its objective compared with the expected values and with brute force.
"""

from __future__ import annotations

from typing import Any

import pytest
from solver_testkit import BASE, brute_force, facility, scenario, solve_checked, youth


def _objective(plan: dict[str, Any]) -> tuple[int, int, int, int]:
    o = plan["objective"]
    return (o["overflow"], o["reserve_shortfall"], o["moves"], o["distance"])


def _two_houses(b: dict[str, Any] | None = None, **youth_fields: Any) -> dict[str, Any]:
    a = facility("A", capacity=1)
    b = b or facility("B", capacity=2, location=[BASE[0] + 0.01, BASE[1]])
    youths = [youth("y1", "A", **youth_fields), youth("y2", "A", **youth_fields)]
    return scenario([a, b], youths)


def _check(doc: dict[str, Any], moved: bool) -> dict[str, Any]:
    plan = solve_checked(doc)
    assert plan["status"] == "OPTIMAL"
    assert _objective(plan) == brute_force(doc).as_tuple()
    assert (plan["objective"]["moves"] > 0) == moved
    assert (plan["objective"]["overflow"] == 0) == moved
    return plan


B_CLOSE = [BASE[0] + 0.01, BASE[1]]


@pytest.mark.parametrize(
    ("b_fields", "youth_fields", "moved"),
    [
        ({"age_min": 12, "age_max": 17}, {"age": 15}, True),
        ({"age_min": 0, "age_max": 11}, {"age": 15}, False),
        ({"age_min": 16, "age_max": 17}, {"age": 15}, False),
        ({"genders": ["m"]}, {"gender": "m"}, True),
        ({"genders": ["f", "d"]}, {"gender": "m"}, False),
        ({"uma": "only"}, {"uma": True}, True),
        ({"uma": "only"}, {"uma": False}, False),
        ({"uma": "none"}, {"uma": False}, True),
        ({"uma": "none"}, {"uma": True}, False),
        ({"uma": "allowed"}, {"uma": True}, True),
    ],
)
def test_rule3_eligibility_of_target(
    b_fields: dict[str, Any], youth_fields: dict[str, Any], moved: bool
) -> None:
    b = facility("B", capacity=2, location=B_CLOSE, **b_fields)
    plan = _check(_two_houses(b, **youth_fields), moved)
    assert all(m["to"] == "B" for m in plan["moves"])


def test_rule3_excluded_facility_feasible() -> None:
    doc = _two_houses()
    doc["youths"][0]["excluded"] = ["B"]
    plan = _check(doc, moved=True)
    assert [m["youth"] for m in plan["moves"]] == ["y2"]


def test_rule3_excluded_facility_blocks_move() -> None:
    doc = _two_houses(excluded=["B"])
    _check(doc, moved=False)


@pytest.mark.parametrize(("km_limit", "moved"), [(5.0, True), (0.5, False)])
def test_rule3_max_move_km(km_limit: float, moved: bool) -> None:
    doc = _two_houses()  # B is about 1.1 km away
    doc["max_move_km"] = km_limit
    _check(doc, moved)


def test_rule2_staying_is_allowed_even_when_ineligible() -> None:
    a = facility("A", capacity=5, age_min=0, age_max=11, genders=["f"], uma="none")
    doc = scenario([a], [youth("y1", "A", age=20, gender="m", uma=True)])
    plan = solve_checked(doc)
    assert plan["status"] == "OPTIMAL" and plan["moves"] == []
    assert _objective(plan) == (0, 0, 0, 0)


def test_rule4_pinned_youth_stays() -> None:
    _check(_two_houses(pinned=True), moved=False)


def test_rule4_unpinned_youth_moves_instead() -> None:
    doc = _two_houses()
    doc["youths"][1]["pinned"] = True
    plan = _check(doc, moved=True)
    assert [m["youth"] for m in plan["moves"]] == ["y1"]


def _group_doc(b_capacity: int, **member_fields: Any) -> dict[str, Any]:
    a = facility("A", capacity=0)
    b = facility("B", capacity=b_capacity, location=B_CLOSE)
    youths = [youth("g1", "A", group="G"), youth("g2", "A", group="G", **member_fields)]
    return scenario([a, b], youths)


def test_rule5_group_moves_together() -> None:
    plan = _check(_group_doc(2), moved=True)
    assert {m["youth"] for m in plan["moves"]} == {"g1", "g2"}
    assert {m["to"] for m in plan["moves"]} == {"B"}


def test_rule5_group_too_large_for_free_space_stays_together() -> None:
    # B has one free place: moving one sibling would halve the overflow, but the group must
    # not be split, and moving both only shifts the overflow to B.
    doc = _group_doc(1)
    doc["facilities"][0]["capacity"] = 1
    plan = solve_checked(doc)
    assert plan["status"] == "OPTIMAL"
    assert plan["moves"] == []
    assert _objective(plan) == brute_force(doc).as_tuple() == (1, 1, 0, 0)


def test_rule5_group_needs_target_accepting_every_member() -> None:
    doc = _group_doc(2, age=9)
    doc["facilities"][1]["age_min"] = 12
    plan = solve_checked(doc)
    assert plan["moves"] == [] and plan["objective"]["overflow"] == 2


def test_rule5_group_member_pinned_keeps_group_home() -> None:
    doc = _group_doc(2, pinned=True)
    plan = solve_checked(doc)
    assert plan["moves"] == []
    assert _objective(plan) == brute_force(doc).as_tuple()


def test_rule5_only_colocated_members_are_bound() -> None:
    # G has one member in A (over capacity) and one in C: they may end apart.
    a = facility("A", capacity=0)
    b = facility("B", capacity=1, location=B_CLOSE)
    c = facility("C", capacity=5, location=[BASE[0] - 0.01, BASE[1]])
    doc = scenario([a, b, c], [youth("g1", "A", group="G"), youth("g2", "C", group="G")])
    plan = solve_checked(doc)
    assert plan["status"] == "OPTIMAL"
    assert _objective(plan) == brute_force(doc).as_tuple()
    assert plan["objective"]["overflow"] == 0
    assert plan["objective"]["moves"] == 1


@pytest.mark.parametrize(("budget", "moves", "overflow"), [(None, 3, 0), (2, 2, 1), (0, 0, 3)])
def test_rule6_max_moves(budget: int | None, moves: int, overflow: int) -> None:
    a = facility("A", capacity=0)
    b = facility("B", capacity=3, location=B_CLOSE)
    doc = scenario([a, b], [youth(f"y{i}", "A") for i in range(3)], max_moves=budget)
    plan = solve_checked(doc)
    assert plan["status"] == "OPTIMAL"
    assert plan["objective"]["moves"] == moves
    assert plan["objective"]["overflow"] == overflow
    assert _objective(plan) == brute_force(doc).as_tuple()


def test_rule6_budget_counts_every_group_member() -> None:
    doc = _group_doc(2)
    doc["max_moves"] = 1
    plan = solve_checked(doc)
    assert plan["moves"] == [] and plan["objective"]["overflow"] == 2


def test_budget_shared_between_independent_components() -> None:
    # Two far-apart clusters, each needing moves; the budget forces a choice between them.
    far = [BASE[0] + 3.0, BASE[1]]
    far_b = [BASE[0] + 3.01, BASE[1]]
    facilities = [
        facility("A", capacity=0),
        facility("B", capacity=3, location=B_CLOSE),
        facility("C", capacity=0, location=far),
        facility("D", capacity=1, reserve=0, location=far_b),
    ]
    youths = [youth(f"a{i}", "A") for i in range(2)] + [youth("c0", "C")]
    doc = scenario(facilities, youths, max_moves=2, max_move_km=10)
    plan = solve_checked(doc)
    assert plan["status"] == "OPTIMAL"
    assert _objective(plan) == brute_force(doc).as_tuple()
    assert plan["objective"]["overflow"] == 1


def test_chain_move_through_a_full_house() -> None:
    # The umA youth in A can only go to B, which is full; B's resident can go on to C.
    a = facility("A", capacity=0)
    b = facility("B", capacity=1, uma="only", location=B_CLOSE)
    c = facility("C", capacity=1, uma="none", location=[BASE[0] + 0.02, BASE[1]])
    doc = scenario([a, b, c], [youth("u", "A", uma=True), youth("b", "B", uma=True)])
    doc["youths"][1]["uma"] = False
    doc["facilities"][1]["uma"] = "allowed"
    plan = solve_checked(doc)
    assert plan["status"] == "OPTIMAL"
    assert _objective(plan) == brute_force(doc).as_tuple()


def test_reserve_is_second_level() -> None:
    a = facility("A", capacity=2, reserve=1)
    b = facility("B", capacity=3, reserve=0, location=B_CLOSE)
    doc = scenario([a, b], [youth("y1", "A"), youth("y2", "A")])
    plan = solve_checked(doc)
    assert _objective(plan) == (0, 0, 1, plan["objective"]["distance"])
    assert _objective(plan) == brute_force(doc).as_tuple()


def test_distance_prefers_nearest_house() -> None:
    a = facility("A", capacity=0)
    far = facility("F", capacity=1, location=[BASE[0] + 0.05, BASE[1]])
    near = facility("N", capacity=1, location=B_CLOSE)
    doc = scenario([a, far, near], [youth("y1", "A")])
    plan = solve_checked(doc)
    assert plan["moves"] == [{"youth": "y1", "from": "A", "to": "N"}]
    assert plan["objective"]["distance"] == 11
