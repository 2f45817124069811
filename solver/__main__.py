"""Command line: `python -m solver propose SCENARIO.json [--time-limit S] [--workers N]`.

Exit codes: 0 for OPTIMAL or FEASIBLE, 2 for INVALID_INPUT (the plan document with its
`errors` list is still written), 1 for an internal error. Never prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from solver.model import ERROR, FEASIBLE, INVALID_INPUT, OPTIMAL, InputError, Plan


def _write(doc: dict[str, Any], out: str | None) -> None:
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _propose(args: argparse.Namespace) -> int:
    from solver.parse import parse_scenario_text
    from solver.solve import propose

    try:
        raw = Path(args.scenario).read_bytes()
    except OSError as exc:
        plan = Plan(
            status=INVALID_INPUT,
            errors=(InputError("scenario", None, f"cannot read {args.scenario}: {exc.strerror}"),),
        )
        _write(plan.to_dict(), args.out)
        return 2
    scenario, errors = parse_scenario_text(raw)
    if scenario is None:
        _write(Plan(status=INVALID_INPUT, errors=tuple(errors)).to_dict(), args.out)
        return 2
    plan = propose(scenario, time_limit=args.time_limit, workers=args.workers)
    _write(plan.to_dict(), args.out)
    return 0 if plan.status in (OPTIMAL, FEASIBLE) else 1


def _validate(args: argparse.Namespace) -> int:
    from solver.parse import parse_scenario_text
    from solver.validate import validate_plan

    try:
        scenario, errors = parse_scenario_text(Path(args.scenario).read_bytes())
        plan = json.loads(Path(args.plan).read_bytes())
    except (OSError, ValueError) as exc:
        _write({"ok": False, "errors": [str(exc)]}, None)
        return 2
    if scenario is None:
        _write({"ok": False, "errors": [e.to_dict() for e in errors]}, None)
        return 2
    result = validate_plan(scenario, plan)
    objective = result.objective.to_dict() if result.objective else None
    _write({"ok": result.ok, "errors": list(result.errors), "objective": objective}, None)
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solver", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("propose", help="propose transfers for a scenario")
    p.add_argument("scenario", help="placement-scenario/1 JSON file")
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--workers", type=int, default=2, help="CP-SAT worker threads (default 2)")
    p.add_argument("--out", help="write the plan here instead of stdout")
    p.set_defaults(run=_propose)
    v = sub.add_parser("validate", help="check a plan against its scenario")
    v.add_argument("scenario")
    v.add_argument("plan")
    v.set_defaults(run=_validate)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the contract promises no traceback, ever
        doc = {
            "format": "placement-plan/1",
            "status": ERROR,
            "errors": [
                {"entry": "solver", "field": None, "message": f"{type(exc).__name__}: {exc}"}
            ],
        }
        _write(doc, None)
        return 1


if __name__ == "__main__":
    sys.exit(main())
