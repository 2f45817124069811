"""Benchmark of the occupancy forecast on the large synthetic database.

    .venv/bin/python benchmarks/bench_forecast.py [--facilities 500 --youths 100000 --years 5]
        [--repeat 15] [--days 14] [--backtest-weeks 0]

Builds (or reuses, keyed by the parameters and the generator version) a SQLite database
under benchmarks/out/ with `seed-synthetic`, then times ``project_facilities`` for every
facility (what the overview and the alert rule call), ``project_facility`` for single
houses and ``project_group`` for the office, at the end of the history. Prints medians and
maxima. Target on a 2-core machine: project_facilities for 500 facilities and 14 days
under 300 ms. With --backtest-weeks N it also runs the backtest and prints its figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from placement import create_app  # noqa: E402
from placement.extensions import db  # noqa: E402
from placement.models import Facility  # noqa: E402
from placement.services.accounts import audit  # noqa: E402
from placement.services.seed import synthetic  # noqa: E402
from placement.timeutil import BERLIN  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
GENERATOR = "g5"  # bump when the synthetic generator changes what it builds


def build_app(args):
    OUT.mkdir(exist_ok=True)
    key = f"f{args.facilities}-y{args.youths}-j{args.years:g}-s{args.seed}-{args.until}"
    path = OUT / f"forecast-{key}-{GENERATOR}.sqlite"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "SECRET_KEY": "benchmark-only-secret-0123456789abcdef",
            "TESTING": False,
        }
    )
    with app.app_context():
        upgrade()
        if not db.session.scalar(select(func.count()).select_from(Facility)):
            started = time.perf_counter()
            result = synthetic.seed_synthetic(
                audit.CLI,
                facilities=args.facilities,
                youths=args.youths,
                years=args.years,
                seed=args.seed,
                until=date.fromisoformat(args.until),
            )
            db.session.commit()
            print(f"built {path.name} in {time.perf_counter() - started:.1f} s: {result}")
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()
    return app, path


def timed(function, repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per call (CPU time is the fairer figure on a
    machine shared with other work)."""
    durations, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        function()
        durations.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        db.session.rollback()  # a fresh transaction, as a request would have
    return durations, cpu


def report(name: str, measured: tuple[list[float], list[float]]) -> None:
    durations, cpu = measured
    print(
        f"{name:<40} median {statistics.median(durations):7.1f} ms   "
        f"max {max(durations):7.1f} ms   CPU median {statistics.median(cpu):7.1f} ms"
        f"   (n={len(durations)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facilities", type=int, default=500)
    parser.add_argument("--youths", type=int, default=100_000)
    parser.add_argument("--years", type=float, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--until", default="2026-11-01", help="end of the history (YYYY-MM-DD)")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--backtest-weeks", type=int, default=0)
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    app, path = build_app(args)
    if args.build_only:
        return
    from placement.services import forecast

    at = datetime.combine(date.fromisoformat(args.until), dtime(0), BERLIN).astimezone(UTC)
    with app.app_context():
        ids = list(db.session.scalars(select(Facility.id).order_by(Facility.id)))
        print(f"{path.name}: {len(ids)} facilities, forecast from {at.isoformat()}")
        timed(lambda: forecast.project_facilities(at=at, days=args.days), 2)  # warm up
        report(
            f"project_facilities ({len(ids)}, {args.days} days)",
            timed(lambda: forecast.project_facilities(at=at, days=args.days), args.repeat),
        )
        report(
            "project_facility (one house)",
            timed(lambda: forecast.project_facility(ids[len(ids) // 2], at=at), args.repeat),
        )
        report("project_group (office)", timed(lambda: forecast.project_group(at=at), args.repeat))
        if args.backtest_weeks:
            from placement.services.forecast import backtest

            started = time.perf_counter()
            result = backtest.run_backtest(weeks=args.backtest_weeks, end=at)
            print(f"backtest {args.backtest_weeks} weeks in {time.perf_counter() - started:.1f} s")
            print(json.dumps(result.as_json(), indent=2))


if __name__ == "__main__":
    main()
