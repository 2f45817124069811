"""The solver states its objective with its own arithmetic, and the validator checks it.

`solver.objective` (used by the engines, `solve.py` and `greedy.py`) and `solver.validate`
compute the four levels independently. These tests compare the two on many instances, show
that the validator rejects a plan whose stated objective is wrong, and check that no solver
module imports the validator (or reaches into another module's private names).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from test_generated import SMALL
from test_property import small_scenarios

from solver import greedy as greedy_module
from solver import parse_scenario_dict, propose, validate_plan
from solver import solve as solve_module
from solver.generate import generate
from solver.greedy import greedy_as_plan
from solver.model import LEVELS, Objective, Plan, Scenario

ROOT = Path(__file__).resolve().parents[2]
SOLVER_DIR = ROOT / "solver"
# The only modules that may use the validator: the package's public API, the `validate`
# command and the benchmark (which validates every plan it times).
MAY_IMPORT_VALIDATE = {"solver", "solver.__main__", "solver.bench", "solver.validate"}


def _parsed(doc: dict[str, Any]) -> Scenario:
    scenario, errors = parse_scenario_dict(doc)
    assert scenario is not None, errors
    return scenario


def _assert_stated_objective_is_right(scenario: Scenario, plan: Plan) -> None:
    result = validate_plan(scenario, plan)
    assert result.ok, result.errors
    assert plan.objective is not None
    assert plan.objective == result.objective


# Generated instances, with budgets that send them down every budget path: direct moves,
# pricing over all components, pricing after the per-component solves, and none binding.
GENERATED = [
    (seed, budget, km) for seed in range(1, 9) for budget in (None, 3, 10) for km in (25, None)
]


def test_solver_and_greedy_objectives_match_the_validator_on_generated_instances() -> None:
    paths: set[str] = set()
    for seed, budget, km in GENERATED:
        size = dataclasses.replace(SMALL, max_moves=budget, max_move_km=km)
        scenario = _parsed(generate(size, seed=seed))
        plan = propose(scenario, time_limit=30)
        assert plan.status == "OPTIMAL", (seed, budget, km)
        _assert_stated_objective_is_right(scenario, plan)
        _assert_stated_objective_is_right(scenario, greedy_as_plan(scenario))
        paths.update(
            k for k in ("budget_direct", "budget_priced", "budget_binding") if k in plan.stats
        )
        if plan.stats.get("cp_sat_components") == 0 and "budget_priced" not in plan.stats:
            paths.add("flow")
    # The comparison covered the flow, the direct-budget and both pricing paths.
    assert paths == {"flow", "budget_direct", "budget_priced", "budget_binding"}


@pytest.mark.parametrize(("seed", "budget"), [(1, None), (2, 3), (1, 10), (3, 6)])
def test_cp_sat_plans_state_the_validators_objective(seed: int, budget: int | None) -> None:
    scenario = _parsed(generate(dataclasses.replace(SMALL, max_moves=budget), seed=seed))
    plan = propose(scenario, time_limit=60, use_flow=False)
    assert plan.status == "OPTIMAL"
    assert plan.stats["cp_sat_components"] > 0
    _assert_stated_objective_is_right(scenario, plan)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(small_scenarios())
def test_objectives_match_the_validator_on_random_instances(doc: dict[str, Any]) -> None:
    scenario = _parsed(doc)
    _assert_stated_objective_is_right(scenario, propose(scenario, time_limit=20))
    _assert_stated_objective_is_right(scenario, greedy_as_plan(scenario))


def _tampered(objective: Objective) -> list[Objective]:
    """The objective with each level one higher and, where possible, one lower."""
    values = objective.as_tuple()
    result = []
    for i in range(len(LEVELS)):
        for delta in (1, -1):
            if values[i] + delta >= 0:
                changed = list(values)
                changed[i] += delta
                result.append(Objective(*changed))
    return result


@pytest.fixture(scope="module")
def crowded() -> tuple[Scenario, Plan, Plan]:
    """A generated instance where every level is non-zero after the solve and the greedy."""
    scenario = _parsed(generate(dataclasses.replace(SMALL, max_moves=3), seed=1))
    plan = propose(scenario)
    greedy = greedy_as_plan(scenario)
    for p in (plan, greedy):
        assert p.objective is not None and min(p.objective.as_tuple()) > 0
    return scenario, plan, greedy


@pytest.mark.parametrize("which", ["solver", "greedy"])
def test_validator_rejects_a_plan_with_a_wrong_stated_objective(
    crowded: tuple[Scenario, Plan, Plan], which: str
) -> None:
    scenario, plan, greedy = crowded
    original = plan if which == "solver" else greedy
    assert original.objective is not None
    assert validate_plan(scenario, original).ok
    wrong_ones = _tampered(original.objective)
    assert len(wrong_ones) == 2 * len(LEVELS)
    for wrong in wrong_ones:
        for tampered in (
            dataclasses.replace(original, objective=wrong),
            {**original.to_dict(), "objective": wrong.to_dict()},
        ):
            result = validate_plan(scenario, tampered)
            assert not result.ok, wrong
            assert result.objective == original.objective
            assert any("states objective" in e for e in result.errors), result.errors


def test_validator_rejects_moves_that_do_not_give_the_stated_objective(
    crowded: tuple[Scenario, Plan, Plan],
) -> None:
    scenario, plan, _greedy = crowded
    single = next(
        m for m in plan.moves if next(y for y in scenario.youths if y.id == m.youth).group is None
    )
    fewer = dataclasses.replace(plan, moves=tuple(m for m in plan.moves if m != single))
    result = validate_plan(scenario, fewer)
    assert not result.ok
    assert any("states objective" in e for e in result.errors), result.errors


def test_a_wrong_solver_objective_is_caught(
    crowded: tuple[Scenario, Plan, Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in the solver's own objective arithmetic shows up in validation."""
    scenario, _plan, _greedy = crowded
    real = solve_module.assignment_objective
    monkeypatch.setattr(
        solve_module,
        "assignment_objective",
        lambda prep, assignment: real(prep, assignment) + Objective(distance=1),
    )
    result = validate_plan(scenario, propose(scenario))
    assert not result.ok
    assert any("states objective" in e for e in result.errors), result.errors


def test_a_wrong_greedy_objective_is_caught(
    crowded: tuple[Scenario, Plan, Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario, _plan, _greedy = crowded
    real = greedy_module.occupancy_levels
    monkeypatch.setattr(
        greedy_module,
        "occupancy_levels",
        lambda facilities, occupancy: tuple(v + 1 for v in real(facilities, occupancy)),
    )
    result = validate_plan(scenario, greedy_as_plan(scenario))
    assert not result.ok
    assert any("states objective" in e for e in result.errors), result.errors


# --- Import isolation -------------------------------------------------------------------


def _module_name(path: Path) -> str:
    return "solver" if path.stem == "__init__" else f"solver.{path.stem}"


def _solver_modules() -> dict[str, ast.Module]:
    return {
        _module_name(p): ast.parse(p.read_text(encoding="utf-8"), filename=str(p))
        for p in sorted(SOLVER_DIR.glob("*.py"))
    }


def _imported_solver_modules(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """Solver modules a module imports anywhere (also inside functions). `from solver import
    x` counts as importing `solver.x` if that is a module, else the package itself."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "solver")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(["solver", *filter(None, [node.module])])
            if base.split(".")[0] != "solver":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    found.discard(name)
    return found


def test_no_solver_module_imports_the_validator() -> None:
    trees = _solver_modules()
    known = set(trees)
    graph = {name: _imported_solver_modules(name, tree, known) for name, tree in trees.items()}
    for start in sorted(known - MAY_IMPORT_VALIDATE):
        # Everything `start` pulls in, directly or through other solver modules.
        seen: set[str] = set()
        stack = [start]
        while stack:
            for dep in graph[stack.pop()]:
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        assert "solver.validate" not in seen, start
        # The package itself re-exports the validator.
        assert "solver" not in seen, f"{start} imports from the package, not its modules"
    for name in ("solver.solve", "solver.greedy", "solver.flow", "solver.objective"):
        assert name in known


def test_solving_never_loads_the_validator() -> None:
    """Import the solver modules without the package's `__init__` (which re-exports the
    validator), solve along several paths and check `solver.validate` never got loaded."""
    cases = [
        (dataclasses.replace(SMALL, max_moves=budget), seed)
        for seed, budget in [(1, None), (1, 3), (2, 3), (1, 10)]
    ]
    docs = [generate(size, seed=seed) for size, seed in cases]
    code = (
        "import json, sys, types\n"
        "package = types.ModuleType('solver')\n"
        f"package.__path__ = [{str(SOLVER_DIR)!r}]\n"
        "sys.modules['solver'] = package\n"
        "from solver.greedy import greedy_as_plan\n"
        "from solver.parse import parse_scenario_dict\n"
        "from solver.solve import propose\n"
        "statuses = []\n"
        "for doc in json.load(sys.stdin):\n"
        "    statuses.append(propose(doc).status)\n"
        "    statuses.append(propose(doc, use_flow=False).status)\n"
        "    greedy_as_plan(parse_scenario_dict(doc)[0])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'solver')\n"
        "print(json.dumps({'statuses': statuses, 'loaded': loaded}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(docs),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["statuses"] == ["OPTIMAL"] * 2 * len(docs)
    assert "solver.solve" in out["loaded"] and "solver.greedy" in out["loaded"]
    assert "solver.validate" not in out["loaded"]


def test_solver_modules_use_no_private_names_of_each_other() -> None:
    trees = _solver_modules()
    known = set(trees)
    offences = []
    for name, tree in trees.items():
        module_aliases: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("solver"):
                for alias in node.names:
                    if alias.name.startswith("_"):
                        offences.append(f"{name}: from {node.module} import {alias.name}")
                    if f"{node.module}.{alias.name}" in known:
                        module_aliases.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("solver."):
                        module_aliases.add(alias.asname or alias.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                target = ast.unparse(node.value)
                if target in module_aliases and not node.attr.startswith("__"):
                    offences.append(f"{name}: {target}.{node.attr}")
    assert offences == []
