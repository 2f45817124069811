"""Import a ``placement-scenario/1`` document (see docs/solver.md) into the database.

The import is idempotent: facilities are matched by ``code`` (the scenario id) and updated,
youths are matched by ``reference``; a youth already known keeps its stays untouched."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from placement.extensions import db
from placement.models import Facility, Youth
from placement.models.enums import AgeAssessment, FacilityKind, Gender, LegalBasis, UmaPolicy
from placement.services import audit, capacity, stays
from placement.services.errors import InvalidScenario
from placement.timeutil import BERLIN

FACILITY_FIELDS = ("id", "name", "kind", "capacity", "age_min", "age_max", "genders", "uma")
YOUTH_FIELDS = ("id", "facility", "age", "gender", "uma")


@dataclass
class ImportResult:
    facilities_created: int = 0
    facilities_updated: int = 0
    youths_created: int = 0
    youths_skipped: int = 0
    facility_ids: dict[str, int] = field(default_factory=dict)


def stable_fraction(key: str) -> float:
    """A reproducible number in [0, 1) derived from ``key`` (no global random state)."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def birth_date_for_age(age: int, on: date, key: str) -> date:
    """A reproducible date of birth at which the youth is exactly ``age`` on ``on``."""
    earliest = _years_before(on, age + 1) + timedelta(days=1)
    latest = _years_before(on, age)
    span = (latest - earliest).days
    return earliest + timedelta(days=int(stable_fraction(key) * (span + 1)))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def default_legal_basis(kind: FacilityKind, uma: bool) -> LegalBasis:
    if kind in (FacilityKind.GROUP_HOME, FacilityKind.UMA_GROUP_HOME):
        return LegalBasis.P34
    if uma:
        return LegalBasis.P42A
    return LegalBasis.P42_1_2


def _check(data: Any) -> list[str]:
    """Structural problems that would stop the import, each naming entry and field."""
    if not isinstance(data, dict):
        return ["Das Szenario muss ein JSON-Objekt sein."]
    errors: list[str] = []
    if data.get("format") != "placement-scenario/1":
        errors.append("format: erwartet 'placement-scenario/1'.")
    facilities = data.get("facilities")
    youths = data.get("youths")
    if not isinstance(facilities, list):
        errors.append("facilities: fehlt oder ist keine Liste.")
        facilities = []
    if not isinstance(youths, list):
        errors.append("youths: fehlt oder ist keine Liste.")
        youths = []
    ids: set[str] = set()
    for i, entry in enumerate(facilities):
        where = f"facilities[{i}]"
        if not isinstance(entry, dict):
            errors.append(f"{where}: kein Objekt.")
            continue
        errors += [f"{where}.{name}: fehlt." for name in FACILITY_FIELDS if name not in entry]
        if entry.get("id") in ids:
            errors.append(f"{where}.id: doppelt ({entry.get('id')}).")
        ids.add(entry.get("id"))
        try:
            FacilityKind(entry.get("kind"))
            UmaPolicy(entry.get("uma"))
            [Gender(g) for g in entry.get("genders") or ["?"]]
        except ValueError as exc:
            errors.append(f"{where}: {exc}.")
        cap = entry.get("capacity")
        if not isinstance(cap, int) or isinstance(cap, bool) or cap < 0:
            errors.append(f"{where}.capacity: ganze Zahl >= 0 erwartet.")
    refs: set[str] = set()
    for i, entry in enumerate(youths):
        where = f"youths[{i}]"
        if not isinstance(entry, dict):
            errors.append(f"{where}: kein Objekt.")
            continue
        errors += [f"{where}.{name}: fehlt." for name in YOUTH_FIELDS if name not in entry]
        if entry.get("id") in refs:
            errors.append(f"{where}.id: doppelt ({entry.get('id')}).")
        refs.add(entry.get("id"))
        if entry.get("facility") not in ids:
            errors.append(f"{where}.facility: unbekannte Einrichtung {entry.get('facility')!r}.")
        for excluded in entry.get("excluded") or []:
            if excluded not in ids:
                errors.append(f"{where}.excluded: unbekannte Einrichtung {excluded!r}.")
        age = entry.get("age")
        if not isinstance(age, int) or isinstance(age, bool) or not 0 <= age <= 27:
            errors.append(f"{where}.age: ganze Zahl von 0 bis 27 erwartet.")
        if entry.get("gender") not in ("f", "m", "d"):
            errors.append(f"{where}.gender: 'f', 'm' oder 'd' erwartet.")
    return errors


def import_scenario(
    actor: audit.Actor,
    data: dict[str, Any],
    *,
    as_of: date | None = None,
    stay_start: Callable[[dict[str, Any], datetime], datetime] | None = None,
    facility_extra: dict[str, dict[str, Any]] | None = None,
) -> ImportResult:
    """Create or update facilities and add youths with open stays as described by ``data``.

    ``as_of`` (default: the scenario's) is the day the youths' ages refer to and from which
    capacities apply; ``stay_start(youth, as_of_instant)`` may stagger admission times;
    ``facility_extra`` adds fields the format lacks (operator, address) per facility id."""
    errors = _check(data)
    if errors:
        raise InvalidScenario(errors)
    day = as_of or date.fromisoformat(data["as_of"])
    as_of_instant = datetime.combine(day, time(0, 0), BERLIN).astimezone(UTC)
    result = ImportResult()
    by_code = {f.code: f for f in db.session.scalars(select(Facility))}

    for entry in data["facilities"]:
        facility = by_code.get(entry["id"])
        values = _facility_values(entry) | (facility_extra or {}).get(entry["id"], {})
        if facility is None:
            facility = Facility(code=entry["id"], **values)
            db.session.add(facility)
            audit.record(actor, "facility.create", facility, after=audit.snapshot(facility))
            result.facilities_created += 1
        else:
            before = audit.snapshot(facility)
            for key, value in values.items():
                setattr(facility, key, value)
            after = audit.snapshot(facility)
            if after != before:
                audit.record(actor, "facility.update", facility, before=before, after=after)
                result.facilities_updated += 1
        _sync_capacity(actor, facility, entry, as_of_instant)
        result.facility_ids[entry["id"]] = facility.id

    kinds = {f["id"]: FacilityKind(f["kind"]) for f in data["facilities"]}
    known = set(db.session.scalars(select(Youth.reference)))
    for entry in data["youths"]:
        if entry["id"] in known:
            result.youths_skipped += 1
            continue
        facility_id = result.facility_ids[entry["facility"]]
        youth = Youth(
            reference=entry["id"],
            birth_date=birth_date_for_age(entry["age"], day, entry["id"]),
            birth_date_estimated=bool(entry["uma"]),
            age_assessment=AgeAssessment.PENDING if entry["uma"] else AgeAssessment.DOCUMENTED,
            gender=Gender(entry["gender"]),
            uma=bool(entry["uma"]),
            sibling_group=entry.get("group"),
        )
        youth.excluded_facilities = [
            db.session.get(Facility, result.facility_ids[code])
            for code in entry.get("excluded", [])
        ]
        db.session.add(youth)
        audit.record(actor, "youth.create", youth, after=audit.snapshot(youth))
        start = stay_start(entry, as_of_instant) if stay_start else as_of_instant
        stays.record_stay(
            actor,
            youth_id=youth.id,
            facility_id=facility_id,
            legal_basis=default_legal_basis(kinds[entry["facility"]], bool(entry["uma"])),
            start_at=start,
            pinned=bool(entry.get("pinned", False)),
        )
        result.youths_created += 1
    db.session.flush()
    return result


def _facility_values(entry: dict[str, Any]) -> dict[str, Any]:
    latitude, longitude = (entry.get("location") or [None, None])[:2]
    return {
        "name": entry["name"],
        "kind": FacilityKind(entry["kind"]),
        "age_min": entry["age_min"],
        "age_max": entry["age_max"],
        "genders": "".join(sorted(set(entry["genders"]))),
        "uma_policy": UmaPolicy(entry["uma"]),
        "latitude": latitude,
        "longitude": longitude,
    }


def _sync_capacity(
    actor: audit.Actor, facility: Facility, entry: dict[str, Any], as_of: datetime
) -> None:
    """Make the period in force at ``as_of`` carry the scenario's capacity and reserve."""
    licensed, reserve = entry["capacity"], entry.get("reserve", 0)
    current = capacity.capacity_at(facility.id, as_of) if facility.id else None
    if current is not None and (current.licensed_places, current.reserved_places) == (
        licensed,
        reserve,
    ):
        return
    db.session.flush()
    capacity.add_capacity_period(
        actor,
        facility.id,
        valid_from=as_of if current is not None else as_of - timedelta(days=365),
        licensed_places=licensed,
        usable_places=licensed,
        reserved_places=reserve,
    )
