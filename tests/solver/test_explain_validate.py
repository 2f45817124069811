"""Explanations for youths left in over-capacity houses, and the validator itself."""

from __future__ import annotations

from typing import Any

from solver_testkit import BASE, facility, scenario, solve_checked, youth

from solver import propose, validate_plan

NEAR = [BASE[0] + 0.01, BASE[1]]
FAR = [BASE[0] + 1.0, BASE[1]]  # about 111 km


def _codes(plan: dict[str, Any], youth_id: str) -> list[str]:
    for e in plan["explanations"]:
        if e["youth"] == youth_id:
            assert all(r["text"] for r in e["reasons"])
            return [r["code"] for r in e["reasons"]]
    raise AssertionError(f"no explanation for {youth_id}")


def test_pinned_youth_is_explained() -> None:
    doc = scenario(
        [facility("A", capacity=0), facility("B", capacity=0, location=NEAR)],
        [youth("p", "A", pinned=True)],
    )
    plan = solve_checked(doc)
    assert _codes(plan, "p") == ["pinned"]


def test_no_eligible_facility_is_explained() -> None:
    doc = scenario(
        [facility("A", capacity=0), facility("B", capacity=5, location=NEAR, age_min=0, age_max=6)],
        [youth("y", "A", age=15)],
    )
    assert _codes(solve_checked(doc), "y") == ["no_eligible_facility"]


def test_excluded_only_option_is_explained() -> None:
    doc = scenario(
        [facility("A", capacity=0), facility("B", capacity=5, location=NEAR)],
        [youth("y", "A", excluded=["B"])],
    )
    assert _codes(solve_checked(doc), "y") == ["all_excluded"]


def test_distance_is_explained() -> None:
    doc = scenario(
        [facility("A", capacity=0), facility("B", capacity=5, location=FAR)],
        [youth("y", "A")],
        max_move_km=40,
    )
    plan = solve_checked(doc)
    assert _codes(plan, "y") == ["too_far"]
    assert "40 km" in plan["explanations"][0]["reasons"][0]["text"]


def test_group_too_large_is_explained() -> None:
    doc = scenario(
        [facility("A", capacity=1), facility("B", capacity=1, location=NEAR)],
        [youth("g1", "A", group="G"), youth("g2", "A", group="G")],
    )
    plan = solve_checked(doc)
    assert _codes(plan, "g1") == ["group_too_large"]
    assert _codes(plan, "g2") == ["group_too_large"]


def test_group_member_pinned_is_explained() -> None:
    doc = scenario(
        [facility("A", capacity=0), facility("B", capacity=5, location=NEAR)],
        [youth("g1", "A", group="G", pinned=True), youth("g2", "A", group="G")],
    )
    plan = solve_checked(doc)
    assert _codes(plan, "g1") == ["pinned"]
    assert _codes(plan, "g2") == ["group_member_pinned"]


def test_budget_exhausted_is_explained() -> None:
    doc = scenario(
        [facility("A", capacity=0), facility("B", capacity=5, location=NEAR)],
        [youth("y1", "A"), youth("y2", "A")],
        max_moves=1,
    )
    plan = solve_checked(doc)
    stayed = [e["youth"] for e in plan["explanations"]]
    assert len(stayed) == 1
    assert _codes(plan, stayed[0]) == ["move_budget_exhausted"]


def test_full_houses_are_explained() -> None:
    doc = scenario(
        [facility("A", capacity=0), facility("B", capacity=1, location=NEAR)],
        [youth("y1", "A"), youth("y2", "A")],
    )
    plan = solve_checked(doc)
    stayed = [e["youth"] for e in plan["explanations"]]
    assert len(stayed) == 1
    assert _codes(plan, stayed[0]) == ["no_free_place"]


def test_no_explanations_when_nobody_is_over_capacity() -> None:
    doc = scenario([facility("A", capacity=3)], [youth("y1", "A")])
    assert solve_checked(doc)["explanations"] == []


def _base() -> dict[str, Any]:
    return scenario(
        [
            facility("A", capacity=0),
            facility("B", capacity=5, location=NEAR, age_min=12),
            facility("C", capacity=5, location=FAR),
        ],
        [
            youth("y1", "A"),
            youth("kid", "A", age=8),
            youth("p", "A", pinned=True),
            youth("g1", "A", group="G"),
            youth("g2", "A", group="G"),
        ],
        max_move_km=40,
        max_moves=10,
    )


def _plan(moves: list[tuple[str, str, str]], objective: dict[str, int] | None = None):
    doc: dict[str, Any] = {
        "format": "placement-plan/1",
        "status": "FEASIBLE",
        "moves": [{"youth": y, "from": f, "to": t} for y, f, t in moves],
    }
    if objective is not None:
        doc["objective"] = objective
    return doc


def test_validator_accepts_a_valid_plan() -> None:
    result = validate_plan(_base(), _plan([("y1", "A", "B")]))
    assert result.ok, result.errors
    assert result.objective is not None and result.objective.moves == 1


def test_validator_rejects_each_rule_violation() -> None:
    doc = _base()
    bad = {
        "ineligible age": [("kid", "A", "B")],
        "too far": [("y1", "A", "C")],
        "pinned": [("p", "A", "B")],
        "group split": [("g1", "A", "B")],
        "unknown youth": [("nobody", "A", "B")],
        "unknown facility": [("y1", "A", "Z")],
        "wrong origin": [("y1", "B", "B")],
        "twice": [("y1", "A", "B"), ("y1", "A", "B")],
    }
    for name, moves in bad.items():
        assert not validate_plan(doc, _plan(moves)).ok, name
    doc["max_moves"] = 1
    assert not validate_plan(doc, _plan([("g1", "A", "B"), ("g2", "A", "B")])).ok


def test_validator_checks_the_stated_objective() -> None:
    plan = _plan(
        [("y1", "A", "B")], {"overflow": 0, "reserve_shortfall": 0, "moves": 1, "distance": 0}
    )
    result = validate_plan(_base(), plan)
    assert not result.ok
    assert any("objective" in e for e in result.errors)


def test_validator_objective_matches_solver() -> None:
    plan = propose(_base())
    assert validate_plan(_base(), plan).objective == plan.objective
