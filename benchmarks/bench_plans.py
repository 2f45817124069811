"""Benchmark of move planning: wall time from the request that starts a plan to the plan
being ``proposed``, with the plan worker running as a thread (as with `make run`).

    .venv/bin/python benchmarks/bench_plans.py [--repeat 5]

Two databases: the Leipzig demo (relieve Am Mühlholz) and the 500-facility synthetic one
that bench_pages.py builds under benchmarks/out/ (an office-wide plan). Prints the median
and the spread of the request-to-proposed time, the solver's own time and the plan's
objective. Targets on a 2-core machine: demo < 2 s, 500 facilities < 15 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from placement import create_app  # noqa: E402
from placement.extensions import db  # noqa: E402
from placement.models import Facility, User  # noqa: E402
from placement.services.accounts import audit, users  # noqa: E402
from placement.services.seed import demo  # noqa: E402
from placement.worker import start_thread  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
SYNTHETIC = OUT / "bench-f500-y100000-j5-s42-2026-11-01.sqlite"
EMAIL = "plan-bench@example.org"


def make_app(uri: str):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": uri,
            "SECRET_KEY": "benchmark-only-secret-of-at-least-32-bytes",
            "TESTING": False,
            "PLAN_WORKER_THREAD": False,  # started below, explicitly
        }
    )


def token_for(app) -> str:
    with app.app_context():
        if not db.session.scalar(select(User).where(User.email == EMAIL)):
            users.create_user(
                audit.CLI,
                email=EMAIL,
                role="department_head",
                password="benchmark only password, long enough",
            )
        token = users.issue_token(audit.CLI, EMAIL)
        db.session.commit()
    return token


def time_plans(app, body: dict, repeat: int, timeout: float) -> list[tuple[float, float, dict]]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token_for(app)}"}
    worker = start_thread(app)
    results = []
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            created = client.post("/api/v1/plans", json=body, headers=headers)
            posted = time.perf_counter() - started
            if created.status_code != 202:
                raise SystemExit(f"POST /plans: {created.status_code} {created.get_json()}")
            url = f"/api/v1/plans/{created.get_json()['id']}"
            while True:
                plan = client.get(url, headers=headers).get_json()
                if plan["status"] not in ("queued", "running"):
                    break
                if time.perf_counter() - started > timeout:
                    raise SystemExit(f"plan still {plan['status']} after {timeout} s")
                time.sleep(0.02)
            if plan["status"] != "proposed":
                raise SystemExit(f"plan ended {plan['status']}: {plan['error']}")
            results.append((time.perf_counter() - started, posted, plan))
    finally:
        worker.stop(timeout=10)
    return results


def report(name: str, results: list[tuple[float, float, dict]], target: float) -> None:
    walls = sorted(wall for wall, _posted, _plan in results)
    posted = statistics.median(p for _wall, p, _plan in results)
    plan = results[-1][2]
    levels = ("overflow", "reserve_shortfall", "moves", "distance")
    objective = "/".join(str(plan["objective"][k]) for k in levels)
    print(
        f"{name:<28} n={len(walls)}  request->proposed median {statistics.median(walls):6.2f} s"
        f"  (min {walls[0]:.2f}, max {walls[-1]:.2f})  POST (builds the scenario) {posted:.2f} s"
        f"  solver {plan['elapsed']:.2f} s"
        f"  moves {len(plan['moves'])}  objective {objective}"
        f"  proven {plan['proven']}  (target < {target:g} s:"
        f" {'ok' if statistics.median(walls) < target else 'OVER TARGET'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("PLACEMENT_INSTANCE_PATH", tempfile.mkdtemp(prefix="platzplan-plans-"))

    folder = Path(tempfile.mkdtemp(prefix="platzplan-plan-demo-"))
    app = make_app(f"sqlite:///{folder / 'demo.sqlite'}")
    with app.app_context():
        upgrade()
        demo.seed_demo(audit.CLI)
        db.session.commit()
        house = db.session.scalar(select(Facility.id).where(Facility.code == "muehlholz"))
    body = {"scope": "relieve", "relieve_facility_id": house}
    report("demo: relieve Am Mühlholz", time_plans(app, body, args.repeat, 30), 2)

    if not SYNTHETIC.exists():
        print(f"{SYNTHETIC.name} missing: run benchmarks/bench_pages.py once to build it")
        return
    app = make_app(f"sqlite:///{SYNTHETIC}")
    with app.app_context():
        upgrade()
    body = {"scope": "office", "time_limit": 60}
    report("500 facilities: office-wide", time_plans(app, body, max(1, args.repeat // 2), 120), 15)


if __name__ == "__main__":
    main()
