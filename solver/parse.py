"""Turn a scenario document (JSON text or decoded dict) into a validated `Scenario`.

Every problem is collected, not just the first one, so that whoever fixes the input sees the
whole list at once. Each error names the entry (`facilities[3] (id 'x')`) and the field.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from solver.model import (
    AGE_MAX,
    AGE_MIN,
    FACILITY_KINDS,
    GENDERS,
    SCENARIO_FORMAT,
    UMA_POLICIES,
    Facility,
    InputError,
    Scenario,
    Youth,
)

_MISSING = object()


class _Errors:
    def __init__(self) -> None:
        self.items: list[InputError] = []

    def add(self, entry: str, field: str | None, message: str) -> None:
        self.items.append(InputError(entry, field, message))


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value: Any, errors: _Errors, entry: str, field: str) -> int | None:
    """A whole number; integral floats such as 12.0 are accepted, booleans are not."""
    if value is _MISSING:
        errors.add(entry, field, "missing field")
        return None
    if not _is_number(value):
        errors.add(entry, field, f"must be a whole number, got {_describe(value)}")
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            errors.add(entry, field, f"must be a whole number, got {_describe(value)}")
            return None
        return int(value)
    return int(value)


def _string(value: Any, errors: _Errors, entry: str, field: str) -> str | None:
    if value is _MISSING:
        errors.add(entry, field, "missing field")
        return None
    if not isinstance(value, str) or not value.strip():
        errors.add(entry, field, f"must be a non-empty string, got {_describe(value)}")
        return None
    return value


def _bool(value: Any, errors: _Errors, entry: str, field: str, default: Any = _MISSING) -> bool:
    if value is _MISSING:
        if default is _MISSING:
            errors.add(entry, field, "missing field")
            return False
        return bool(default)
    if not isinstance(value, bool):
        errors.add(entry, field, f"must be true or false, got {_describe(value)}")
        return False
    return value


def _entry_name(kind: str, index: int, raw: Any) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return f"{kind}[{index}] (id {raw['id']!r})"
    return f"{kind}[{index}]"


def _age(value: Any, errors: _Errors, entry: str, field: str) -> int | None:
    age = _integer(value, errors, entry, field)
    if age is not None and not AGE_MIN <= age <= AGE_MAX:
        errors.add(entry, field, f"must be between {AGE_MIN} and {AGE_MAX}, got {age}")
        return None
    return age


def _parse_facility(raw: Any, index: int, errors: _Errors) -> Facility | None:
    entry = _entry_name("facilities", index, raw)
    if not isinstance(raw, dict):
        errors.add(entry, None, f"must be an object, got {_describe(raw)}")
        return None
    n_before = len(errors.items)
    get = raw.get
    fid = _string(get("id", _MISSING), errors, entry, "id")
    name = get("name", fid)
    if not isinstance(name, str):
        errors.add(entry, "name", f"must be a string, got {_describe(name)}")
    kind = get("kind")
    if kind is not None and kind not in FACILITY_KINDS:
        allowed = ", ".join(sorted(FACILITY_KINDS))
        errors.add(entry, "kind", f"must be one of {allowed}, got {_describe(kind)}")
    capacity = _integer(get("capacity", _MISSING), errors, entry, "capacity")
    if capacity is not None and capacity < 0:
        errors.add(entry, "capacity", f"must not be negative, got {capacity}")
        capacity = None
    reserve = _integer(get("reserve", 0), errors, entry, "reserve")
    if reserve is not None and reserve < 0:
        errors.add(entry, "reserve", f"must not be negative, got {reserve}")
        reserve = None
    if capacity is not None and reserve is not None and reserve > capacity:
        errors.add(entry, "reserve", f"{reserve} is above the capacity {capacity}")
    age_min = _age(get("age_min", _MISSING), errors, entry, "age_min")
    age_max = _age(get("age_max", _MISSING), errors, entry, "age_max")
    if age_min is not None and age_max is not None and age_min > age_max:
        errors.add(entry, "age_max", f"age_max {age_max} is below age_min {age_min}")
    genders = get("genders", _MISSING)
    if genders is _MISSING:
        errors.add(entry, "genders", "missing field")
    elif not isinstance(genders, list) or not genders:
        errors.add(entry, "genders", f"must be a non-empty list, got {_describe(genders)}")
    else:
        for g in genders:
            if not isinstance(g, str) or g not in GENDERS:
                errors.add(entry, "genders", f"invalid gender code {_describe(g)} (f, m or d)")
        if len({g for g in genders if isinstance(g, str)}) != len(genders):
            errors.add(entry, "genders", "contains a gender code twice")
    uma = get("uma", _MISSING)
    if uma is _MISSING:
        errors.add(entry, "uma", "missing field")
    elif not isinstance(uma, str) or uma not in UMA_POLICIES:
        errors.add(entry, "uma", f"invalid umA policy {_describe(uma)} (only, allowed or none)")
    location = get("location", _MISSING)
    loc: tuple[float, float] | None = None
    if location is _MISSING:
        errors.add(entry, "location", "missing field")
    elif (
        not isinstance(location, list)
        or len(location) != 2
        or not all(_is_number(v) and math.isfinite(v) for v in location)
    ):
        errors.add(entry, "location", f"must be [latitude, longitude], got {_describe(location)}")
    elif not (-90 <= location[0] <= 90 and -180 <= location[1] <= 180):
        errors.add(entry, "location", f"latitude/longitude out of range: {_describe(location)}")
    else:
        loc = (float(location[0]), float(location[1]))
    if len(errors.items) != n_before:
        return None
    assert fid is not None and capacity is not None and reserve is not None
    assert age_min is not None and age_max is not None and loc is not None
    return Facility(
        id=fid,
        name=name if isinstance(name, str) else fid,
        kind=kind,
        capacity=capacity,
        reserve=reserve,
        age_min=age_min,
        age_max=age_max,
        genders=frozenset(genders),
        uma=uma,
        location=loc,
    )


def _parse_youth(raw: Any, index: int, errors: _Errors, facility_ids: set[str]) -> Youth | None:
    entry = _entry_name("youths", index, raw)
    if not isinstance(raw, dict):
        errors.add(entry, None, f"must be an object, got {_describe(raw)}")
        return None
    n_before = len(errors.items)
    get = raw.get
    yid = _string(get("id", _MISSING), errors, entry, "id")
    facility = _string(get("facility", _MISSING), errors, entry, "facility")
    if facility is not None and facility not in facility_ids:
        errors.add(entry, "facility", f"unknown facility {facility!r}")
    age = _age(get("age", _MISSING), errors, entry, "age")
    gender = get("gender", _MISSING)
    if gender is _MISSING:
        errors.add(entry, "gender", "missing field")
    elif not isinstance(gender, str) or gender not in GENDERS:
        errors.add(entry, "gender", f"invalid gender code {_describe(gender)} (f, m or d)")
    uma = _bool(get("uma", _MISSING), errors, entry, "uma")
    group = get("group")
    if group is not None and (not isinstance(group, str) or not group.strip()):
        errors.add(entry, "group", f"must be null or a non-empty string, got {_describe(group)}")
    pinned = _bool(get("pinned", _MISSING), errors, entry, "pinned", default=False)
    excluded_raw = get("excluded", [])
    excluded: set[str] = set()
    if excluded_raw is None:
        excluded_raw = []
    if not isinstance(excluded_raw, list):
        errors.add(
            entry, "excluded", f"must be a list of facility ids, got {_describe(excluded_raw)}"
        )
    else:
        for ref in excluded_raw:
            if not isinstance(ref, str):
                errors.add(entry, "excluded", f"must contain facility ids, got {_describe(ref)}")
            elif ref not in facility_ids:
                errors.add(entry, "excluded", f"unknown facility {ref!r}")
            else:
                excluded.add(ref)
    if len(errors.items) != n_before:
        return None
    assert yid is not None and facility is not None and age is not None
    return Youth(
        id=yid,
        facility=facility,
        age=age,
        gender=gender,
        uma=uma,
        group=group,
        pinned=pinned,
        excluded=frozenset(excluded),
    )


def _entry_list(doc: dict[str, Any], name: str, errors: _Errors) -> list[Any]:
    """The list under ``name``; a missing or non-list value is reported and read as empty."""
    raw = doc.get(name, _MISSING)
    if raw is _MISSING:
        errors.add("scenario", name, "missing field")
        return []
    if not isinstance(raw, list):
        errors.add("scenario", name, f"must be a list, got {_describe(raw)}")
        return []
    return raw


def _note_id(
    kind: str, noun: str, index: int, raw: Any, first_index: dict[str, int], errors: _Errors
) -> str | None:
    """The entry's string id (None if it has none), reporting a repeated one."""
    rid = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(rid, str):
        return None
    if rid in first_index:
        errors.add(
            _entry_name(kind, index, raw),
            "id",
            f"duplicate {noun} id {rid!r} (also {kind}[{first_index[rid]}])",
        )
    else:
        first_index[rid] = index
    return rid


def parse_scenario_dict(doc: Any) -> tuple[Scenario | None, list[InputError]]:
    """Validate a decoded scenario document; returns the scenario or the list of errors."""
    errors = _Errors()
    if not isinstance(doc, dict):
        errors.add("scenario", None, f"must be a JSON object, got {_describe(doc)}")
        return None, errors.items
    fmt = doc.get("format", _MISSING)
    if fmt is _MISSING:
        errors.add("scenario", "format", "missing field")
    elif fmt != SCENARIO_FORMAT:
        errors.add("scenario", "format", f"must be {SCENARIO_FORMAT!r}, got {_describe(fmt)}")
    as_of = doc.get("as_of")
    if as_of is not None:
        valid = isinstance(as_of, str)
        if valid:
            try:
                dt.date.fromisoformat(as_of)
            except ValueError:
                valid = False
        if not valid:
            errors.add("scenario", "as_of", f"must be a date YYYY-MM-DD, got {_describe(as_of)}")
            as_of = None
    max_moves = doc.get("max_moves")
    if max_moves is not None:
        max_moves = _integer(max_moves, errors, "scenario", "max_moves")
        if max_moves is not None and max_moves < 0:
            errors.add("scenario", "max_moves", f"must not be negative, got {max_moves}")
    max_move_km = doc.get("max_move_km")
    if max_move_km is not None:
        if not _is_number(max_move_km) or not math.isfinite(max_move_km) or max_move_km < 0:
            errors.add(
                "scenario", "max_move_km", f"must be a number >= 0, got {_describe(max_move_km)}"
            )
            max_move_km = None
        else:
            max_move_km = float(max_move_km)

    facilities: list[Facility] = []
    first_facility: dict[str, int] = {}
    for i, raw in enumerate(_entry_list(doc, "facilities", errors)):
        _note_id("facilities", "facility", i, raw, first_facility, errors)
        facility = _parse_facility(raw, i, errors)
        if facility is not None:
            facilities.append(facility)

    # Every id seen, even of entries with other errors, so references are not reported twice.
    facility_ids = set(first_facility)
    youths: list[Youth] = []
    first_youth: dict[str, int] = {}
    for i, raw in enumerate(_entry_list(doc, "youths", errors)):
        _note_id("youths", "youth", i, raw, first_youth, errors)
        youth = _parse_youth(raw, i, errors, facility_ids)
        if youth is not None:
            youths.append(youth)

    if errors.items:
        return None, errors.items
    return (
        Scenario(
            facilities=tuple(facilities),
            youths=tuple(youths),
            max_moves=max_moves,
            max_move_km=max_move_km,
            as_of=as_of,
        ),
        [],
    )


def parse_scenario_text(text: str | bytes) -> tuple[Scenario | None, list[InputError]]:
    """Decode JSON text and validate it; malformed JSON becomes one error, not an exception."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [
            InputError(
                "scenario",
                None,
                f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            )
        ]
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        return None, [InputError("scenario", None, f"malformed JSON: {exc}")]
    return parse_scenario_dict(doc)


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The `placement-scenario/1` document for a scenario (inverse of the parser)."""
    return {
        "format": SCENARIO_FORMAT,
        "as_of": scenario.as_of,
        "max_moves": scenario.max_moves,
        "max_move_km": scenario.max_move_km,
        "facilities": [
            {
                "id": f.id,
                "name": f.name,
                "kind": f.kind,
                "capacity": f.capacity,
                "reserve": f.reserve,
                "age_min": f.age_min,
                "age_max": f.age_max,
                "genders": [g for g in GENDERS if g in f.genders],
                "uma": f.uma,
                "location": list(f.location),
            }
            for f in scenario.facilities
        ],
        "youths": [
            {
                "id": y.id,
                "facility": y.facility,
                "age": y.age,
                "gender": y.gender,
                "uma": y.uma,
                "group": y.group,
                "pinned": y.pinned,
                "excluded": sorted(y.excluded),
            }
            for y in scenario.youths
        ],
    }
