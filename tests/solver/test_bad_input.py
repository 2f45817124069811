"""Bad scenarios give INVALID_INPUT with errors naming entry and field; exit code 2 on the CLI."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from solver_testkit import facility, scenario, youth

from solver import parse_scenario_text, propose

ROOT = Path(__file__).resolve().parents[2]


def _good() -> dict[str, Any]:
    return scenario(
        [facility("A", capacity=1), facility("B", capacity=3)],
        [youth("y1", "A"), youth("y2", "A", excluded=["B"])],
    )


def _mutate(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(_good())
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()

# (description, path, value, expected entry, expected field)
CASES = [
    (
        "unknown facility of youth",
        ["youths", 0, "facility"],
        "Z",
        "youths[0] (id 'y1')",
        "facility",
    ),
    (
        "unknown excluded facility",
        ["youths", 1, "excluded"],
        ["Q"],
        "youths[1] (id 'y2')",
        "excluded",
    ),
    ("duplicate facility id", ["facilities", 1, "id"], "A", "facilities[1] (id 'A')", "id"),
    ("duplicate youth id", ["youths", 1, "id"], "y1", "youths[1] (id 'y1')", "id"),
    ("negative capacity", ["facilities", 0, "capacity"], -1, "facilities[0] (id 'A')", "capacity"),
    (
        "fractional capacity",
        ["facilities", 0, "capacity"],
        2.5,
        "facilities[0] (id 'A')",
        "capacity",
    ),
    ("string capacity", ["facilities", 0, "capacity"], "3", "facilities[0] (id 'A')", "capacity"),
    ("boolean capacity", ["facilities", 0, "capacity"], True, "facilities[0] (id 'A')", "capacity"),
    (
        "reserve above capacity",
        ["facilities", 0, "reserve"],
        2,
        "facilities[0] (id 'A')",
        "reserve",
    ),
    ("negative reserve", ["facilities", 0, "reserve"], -1, "facilities[0] (id 'A')", "reserve"),
    ("invalid gender", ["youths", 0, "gender"], "x", "youths[0] (id 'y1')", "gender"),
    (
        "invalid facility gender",
        ["facilities", 0, "genders"],
        ["m", "q"],
        "facilities[0] (id 'A')",
        "genders",
    ),
    ("empty genders", ["facilities", 0, "genders"], [], "facilities[0] (id 'A')", "genders"),
    ("invalid uma policy", ["facilities", 0, "uma"], "some", "facilities[0] (id 'A')", "uma"),
    ("uma flag not bool", ["youths", 0, "uma"], "yes", "youths[0] (id 'y1')", "uma"),
    ("uma flag as int", ["youths", 0, "uma"], 1, "youths[0] (id 'y1')", "uma"),
    ("age above 27", ["youths", 0, "age"], 28, "youths[0] (id 'y1')", "age"),
    ("negative age", ["youths", 0, "age"], -1, "youths[0] (id 'y1')", "age"),
    ("age_max above 27", ["facilities", 0, "age_max"], 30, "facilities[0] (id 'A')", "age_max"),
    ("age range reversed", ["facilities", 0, "age_min"], 18, "facilities[0] (id 'A')", "age_max"),
    ("NaN age", ["youths", 0, "age"], float("nan"), "youths[0] (id 'y1')", "age"),
    (
        "missing capacity",
        ["facilities", 0, "capacity"],
        _DELETE,
        "facilities[0] (id 'A')",
        "capacity",
    ),
    ("missing age", ["youths", 0, "age"], _DELETE, "youths[0] (id 'y1')", "age"),
    ("missing youth id", ["youths", 0, "id"], _DELETE, "youths[0]", "id"),
    ("missing facilities", ["facilities"], _DELETE, "scenario", "facilities"),
    ("wrong format", ["format"], "placement-scenario/2", "scenario", "format"),
    ("pinned not bool", ["youths", 0, "pinned"], "no", "youths[0] (id 'y1')", "pinned"),
    ("bad location", ["facilities", 0, "location"], [91, 12], "facilities[0] (id 'A')", "location"),
    ("negative max_moves", ["max_moves"], -3, "scenario", "max_moves"),
    ("max_move_km not a number", ["max_move_km"], "far", "scenario", "max_move_km"),
    ("kind unknown", ["facilities", 0, "kind"], "hotel", "facilities[0] (id 'A')", "kind"),
    ("youth not an object", ["youths", 0], 7, "youths[0]", None),
]


@pytest.mark.parametrize(
    ("path", "value", "entry", "field"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_library_reports_entry_and_field(
    path: list[Any], value: Any, entry: str, field: str
) -> None:
    doc = _mutate(path, value)
    plan = propose(doc)
    assert plan.status == "INVALID_INPUT"
    assert plan.moves == ()
    found = [(e.entry, e.field) for e in plan.errors]
    assert (entry, field) in found, found
    out = plan.to_dict()
    assert out["status"] == "INVALID_INPUT" and "moves" not in out and out["errors"]


def test_all_errors_are_collected() -> None:
    doc = _good()
    doc["facilities"][0]["capacity"] = -1
    doc["youths"][0]["gender"] = "x"
    doc["youths"][1]["age"] = 99
    plan = propose(doc)
    fields = {(e.entry, e.field) for e in plan.errors}
    assert {
        ("facilities[0] (id 'A')", "capacity"),
        ("youths[0] (id 'y1')", "gender"),
        ("youths[1] (id 'y2')", "age"),
    } <= fields


@pytest.mark.parametrize(
    "text", ["{", "", "[1, 2]", "null", '{"format": "placement-scenario/1", "youths": 5}', "\xff"]
)
def test_malformed_json_is_an_error_not_an_exception(text: str) -> None:
    parsed, errors = parse_scenario_text(text.encode("latin-1"))
    assert parsed is None and errors
    assert errors[0].entry == "scenario"


def test_defaults_are_applied() -> None:
    doc = _good()
    for key in ("reserve",):
        del doc["facilities"][0][key]
    for key in ("group", "pinned", "excluded"):
        del doc["youths"][0][key]
    assert propose(doc).status == "OPTIMAL"


def test_capacity_zero_is_allowed() -> None:
    doc = _mutate(["facilities", 0, "capacity"], 0)
    assert propose(doc).status == "OPTIMAL"


def _cli(tmp_path: Path, content: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "scenario.json"
    path.write_text(content, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "solver", "propose", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("path", "value", "entry", "field"),
    [c[1:] for c in CASES[:: max(1, len(CASES) // 8)]],
    ids=[c[0] for c in CASES[:: max(1, len(CASES) // 8)]],
)
def test_cli_exit_code_2_with_errors(
    tmp_path: Path, path: list[Any], value: Any, entry: str, field: str
) -> None:
    proc = _cli(tmp_path, json.dumps(_mutate(path, value)))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == "INVALID_INPUT"
    assert {"entry": entry, "field": field} in [
        {"entry": e["entry"], "field": e["field"]} for e in out["errors"]
    ]


@pytest.mark.parametrize("content", ["{not json", "", '{"format": "placement-scenario/1"}'])
def test_cli_malformed_json(tmp_path: Path, content: str) -> None:
    proc = _cli(tmp_path, content)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["status"] == "INVALID_INPUT"


def test_cli_missing_file(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "solver", "propose", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["status"] == "INVALID_INPUT"
