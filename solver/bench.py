"""Benchmark: `python -m solver.bench [--sizes city,large,land,national] [--repeat N]`.

Generates seeded instances (see `solver.generate`), solves each with the solver and with the
dispatcher's greedy baseline, validates both plans, and prints one table row per size:
status, objective, median seconds over the repeats, and peak memory. Every size runs in its
own subprocess so that the peak resident memory (maxrss) belongs to that size alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

from solver.generate import SIZES


def _fmt_objective(obj: dict[str, int] | None) -> str:
    if not obj:
        return "-"
    return f"{obj['overflow']}/{obj['reserve_shortfall']}/{obj['moves']}/{obj['distance']}"


def run_one(size: str, seed: int, repeat: int, time_limit: float, workers: int) -> dict[str, Any]:
    """Solve one size `repeat` times in this process and report the figures as a dict."""
    from solver.generate import generate
    from solver.greedy import greedy_as_plan
    from solver.parse import parse_scenario_dict
    from solver.solve import propose
    from solver.validate import validate_plan

    if size.endswith(".json"):
        with open(size, encoding="utf-8") as fh:
            doc = json.load(fh)
    else:
        doc = generate(size, seed)
    seconds: list[float] = []
    plan = None
    for _ in range(repeat):
        start = time.perf_counter()
        plan = propose(doc, time_limit=time_limit, workers=workers)
        seconds.append(time.perf_counter() - start)
    assert plan is not None
    check = validate_plan(doc, plan)
    scenario, _errors = parse_scenario_dict(doc)
    assert scenario is not None
    greedy_seconds: list[float] = []
    greedy = None
    for _ in range(repeat):
        start = time.perf_counter()
        greedy = greedy_as_plan(scenario)
        greedy_seconds.append(time.perf_counter() - start)
    assert greedy is not None
    greedy_check = validate_plan(scenario, greedy)
    return {
        "size": size,
        "label": SIZES[size].label if size in SIZES else size.rsplit("/", 1)[-1],
        "facilities": len(doc["facilities"]),
        "youths": len(doc["youths"]),
        "status": plan.status,
        "valid": check.ok and greedy_check.ok,
        "objective": plan.objective.to_dict() if plan.objective else None,
        "seconds": statistics.median(seconds),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "greedy_objective": greedy.objective.to_dict() if greedy.objective else None,
        "greedy_seconds": statistics.median(greedy_seconds),
        "stats": plan.stats,
    }


def _table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| size | facilities | youths | status | objective (o/r/m/d) | seconds | peak MB "
        "| greedy objective | greedy s |\n"
        "|---|---:|---:|---|---|---:|---:|---|---:|"
    )
    lines = [head]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['size']} | | | ERROR: {r['error']} | | | | | |")
            continue
        status = r["status"] + ("" if r["valid"] else " (INVALID PLAN)")
        lines.append(
            f"| {r['label']} | {r['facilities']:,} | {r['youths']:,} | {status} "
            f"| {_fmt_objective(r['objective'])} | {r['seconds']:.2f} | {r['peak_mb']:.0f} "
            f"| {_fmt_objective(r['greedy_objective'])} | {r['greedy_seconds']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solver.bench", description=__doc__)
    parser.add_argument("--sizes", default="city,large,land,national")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--file", action="append", default=[], help="also run this scenario file (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="print raw rows as JSON too")
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_one:
        row = run_one(args.run_one, args.seed, args.repeat, args.time_limit, args.workers)
        print(json.dumps(row))
        return 0
    rows = []
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for size in sizes + list(args.file):
        if size not in SIZES and size not in args.file:
            parser.error(f"unknown size {size!r} (known: {', '.join(SIZES)})")
        cmd = [
            sys.executable,
            "-m",
            "solver.bench",
            "--run-one",
            size,
            "--seed",
            str(args.seed),
            "--repeat",
            str(args.repeat),
            "--time-limit",
            str(args.time_limit),
            "--workers",
            str(args.workers),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        last = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
        try:
            row = json.loads(last[0])
        except (IndexError, json.JSONDecodeError):
            row = {"size": size, "error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
        rows.append(row)
        print(f"{size}: done", file=sys.stderr, flush=True)
    print(f"seed {args.seed}, median of {args.repeat} run(s), {args.workers} workers")
    print(_table(rows))
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
