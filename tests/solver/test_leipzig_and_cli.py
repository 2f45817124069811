"""The Leipzig November 2023 scenario through the library and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from solver import parse_scenario_text, propose, validate_plan
from solver.greedy import greedy_as_plan

ROOT = Path(__file__).resolve().parents[2]


def test_leipzig_is_proven_optimal_fast(leipzig_path: Path) -> None:
    doc = json.loads(leipzig_path.read_text(encoding="utf-8"))
    start = time.perf_counter()
    plan = propose(doc, time_limit=30)
    elapsed = time.perf_counter() - start
    assert plan.status == "OPTIMAL"
    assert elapsed < 5  # the target is well under a second; generous for a noisy machine
    result = validate_plan(doc, plan)
    assert result.ok, result.errors
    assert result.objective == plan.objective
    # Am Mühlholz (76 on 48 places) is relieved completely.
    assert plan.objective is not None and plan.objective.overflow == 0
    # The CP-SAT-only path proves the same optimum.
    assert propose(doc, time_limit=30, use_flow=False).objective == plan.objective


def test_leipzig_beats_or_equals_greedy(leipzig_path: Path) -> None:
    scenario, _ = parse_scenario_text(leipzig_path.read_bytes())
    assert scenario is not None
    greedy = greedy_as_plan(scenario)
    assert validate_plan(scenario, greedy).ok
    plan = propose(scenario)
    assert plan.objective is not None and greedy.objective is not None
    assert plan.objective <= greedy.objective


def test_cli_propose_and_validate(leipzig_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "solver",
            "propose",
            str(leipzig_path),
            "--time-limit",
            "20",
            "--workers",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(out.read_text(encoding="utf-8"))
    assert plan["format"] == "placement-plan/1"
    assert plan["status"] == "OPTIMAL"
    assert set(plan["objective"]) == {"overflow", "reserve_shortfall", "moves", "distance"}
    assert validate_plan(json.loads(leipzig_path.read_text(encoding="utf-8")), plan).ok
    check = subprocess.run(
        [sys.executable, "-m", "solver", "validate", str(leipzig_path), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert check.returncode == 0 and json.loads(check.stdout)["ok"] is True


def test_cli_writes_plan_to_stdout(leipzig_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "solver", "propose", str(leipzig_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["status"] == "OPTIMAL"


def test_solver_imports_no_web_or_database_code() -> None:
    code = (
        "import sys, solver, solver.__main__, solver.bench, solver.greedy, solver.generate\n"
        "roots = ('flask', 'sqlalchemy', 'placement')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in roots]\n"
        "print(bad)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_propose_from_worker_threads(leipzig_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    doc = json.loads(leipzig_path.read_text(encoding="utf-8"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        plans = list(pool.map(lambda _: propose(doc, time_limit=30, workers=1), range(4)))
    assert len({p.objective for p in plans}) == 1
    assert all(p.status == "OPTIMAL" for p in plans)
