"""Generated instances: the fast paths agree with CP-SAT alone, greedy is valid, bench runs."""

from __future__ import annotations

import dataclasses

import pytest

from solver import parse_scenario_dict, propose, validate_plan
from solver.bench import run_one
from solver.generate import SIZES, Size, generate
from solver.greedy import greedy_as_plan

SMALL = Size("small", "small region", 40, 420, 3, 60.0, max_move_km=25)


def test_generator_is_deterministic_and_valid() -> None:
    a = generate(SMALL, seed=7)
    assert a == generate(SMALL, seed=7)
    assert a != generate(SMALL, seed=8)
    scenario, errors = parse_scenario_dict(a)
    assert scenario is not None, errors
    assert len(scenario.facilities) == 40 and len(scenario.youths) == 420
    assert any(y.group for y in scenario.youths)
    assert any(y.pinned for y in scenario.youths)
    assert any(y.excluded for y in scenario.youths)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flow_path_matches_cp_sat_alone(seed: int) -> None:
    doc = generate(SMALL, seed=seed)
    fast = propose(doc, time_limit=60)
    slow = propose(doc, time_limit=60, use_flow=False)
    assert fast.status == slow.status == "OPTIMAL"
    assert fast.objective == slow.objective
    assert validate_plan(doc, fast).ok


@pytest.mark.parametrize(("seed", "budget"), [(1, 5), (2, 12), (3, 0)])
def test_binding_budget_matches_cp_sat_alone(seed: int, budget: int) -> None:
    doc = generate(dataclasses.replace(SMALL, max_moves=budget), seed=seed)
    fast = propose(doc, time_limit=60)
    slow = propose(doc, time_limit=60, use_flow=False)
    assert fast.status == slow.status == "OPTIMAL"
    assert fast.objective == slow.objective
    assert fast.objective is not None and fast.objective.moves <= budget
    assert validate_plan(doc, fast).ok


def test_greedy_plan_is_valid_and_not_better_than_optimum() -> None:
    doc = generate(SMALL, seed=4)
    scenario, _ = parse_scenario_dict(doc)
    assert scenario is not None
    greedy = greedy_as_plan(scenario)
    assert validate_plan(scenario, greedy).ok
    plan = propose(scenario)
    assert plan.objective is not None and greedy.objective is not None
    assert plan.objective <= greedy.objective


def test_bench_runs_one_size() -> None:
    row = run_one("city", seed=1, repeat=1, time_limit=30, workers=2)
    assert row["status"] == "OPTIMAL" and row["valid"]
    assert row["facilities"] == SIZES["city"].facilities


def test_large_city_is_optimal() -> None:
    doc = generate("large", seed=1)
    plan = propose(doc, time_limit=120)
    assert plan.status == "OPTIMAL"
    assert validate_plan(doc, plan).ok
