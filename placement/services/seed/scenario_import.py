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
from placement.services.accounts import audit
from placement.services.errors import InvalidScenario
from placement.services.intake import stays
from placement.services.intake.rules import default_legal_basis, years_before
from placement.services.occupancy import capacity
from placement.services.occupancy.queries import capacities_at
from placement.timeutil import BERLIN
from solver.model import Facility as ScenarioFacility
from solver.model import Scenario
from solver.model import Youth as ScenarioYouth
from solver.parse import parse_scenario_dict

GROUP_HOMES = (FacilityKind.GROUP_HOME, FacilityKind.UMA_GROUP_HOME)


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
    earliest = years_before(on, age + 1) + timedelta(days=1)
    latest = years_before(on, age)
    span = (latest - earliest).days
    return earliest + timedelta(days=int(stable_fraction(key) * (span + 1)))


def placement_legal_basis(kind: FacilityKind, uma: bool) -> LegalBasis:
    """The legal basis of an imported placement: follow-on group homes place under §34,
    emergency places start as an admission does."""
    return LegalBasis.P34 if kind in GROUP_HOMES else default_legal_basis(uma)


def _parse(data: Any) -> Scenario:
    """The scenario validated by the solver's parser (one set of rules for both), plus
    the fields the database needs beyond it. Every problem is reported at once."""
    scenario, problems = parse_scenario_dict(data)
    errors = [
        f"{p.entry}.{p.field}: {p.message}" if p.field else f"{p.entry}: {p.message}"
        for p in problems
    ]
    if scenario is not None:
        errors += [
            f"facilities (id {f.id!r}).kind: needed for the import"
            for f in scenario.facilities
            if f.kind is None
        ]
    if errors:
        raise InvalidScenario(errors)
    return scenario


def import_scenario(
    actor: audit.Actor,
    data: dict[str, Any],
    *,
    as_of: date | None = None,
    stay_start: Callable[[ScenarioYouth, datetime], datetime] | None = None,
    facility_extra: dict[str, dict[str, Any]] | None = None,
) -> ImportResult:
    """Create or update facilities and add youths with open stays as described by ``data``.

    ``as_of`` (default: the scenario's) is the day the youths' ages refer to and from which
    capacities apply; ``stay_start(youth, as_of_instant)`` may stagger admission times;
    ``facility_extra`` adds fields the format lacks (operator, address) per facility id."""
    scenario = _parse(data)
    day = as_of or (date.fromisoformat(scenario.as_of) if scenario.as_of else None)
    if day is None:
        raise InvalidScenario(["as_of: missing; pass --as-of"])
    as_of_instant = datetime.combine(day, time(0, 0), BERLIN).astimezone(UTC)
    result = ImportResult()
    by_code = {f.code: f for f in db.session.scalars(select(Facility))}

    for entry in scenario.facilities:
        facility = by_code.get(entry.id)
        values = _facility_values(entry) | (facility_extra or {}).get(entry.id, {})
        if facility is None:
            facility = Facility(code=entry.id, **values)
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
        result.facility_ids[entry.id] = facility.id

    kinds = {f.id: FacilityKind(f.kind) for f in scenario.facilities}
    known = set(db.session.scalars(select(Youth.reference)))
    for entry in scenario.youths:
        if entry.id in known:
            result.youths_skipped += 1
            continue
        facility_id = result.facility_ids[entry.facility]
        youth = Youth(
            reference=entry.id,
            birth_date=birth_date_for_age(entry.age, day, entry.id),
            birth_date_estimated=entry.uma,
            age_assessment=AgeAssessment.PENDING if entry.uma else AgeAssessment.DOCUMENTED,
            gender=Gender(entry.gender),
            uma=entry.uma,
            sibling_group=entry.group,
        )
        youth.excluded_facilities = [
            db.session.get(Facility, result.facility_ids[code]) for code in sorted(entry.excluded)
        ]
        db.session.add(youth)
        audit.record(actor, "youth.create", youth, after=audit.snapshot(youth))
        start = stay_start(entry, as_of_instant) if stay_start else as_of_instant
        stays.record_stay(
            actor,
            youth_id=youth.id,
            facility_id=facility_id,
            legal_basis=placement_legal_basis(kinds[entry.facility], entry.uma),
            start_at=start,
            pinned=entry.pinned,
        )
        result.youths_created += 1
    db.session.flush()
    return result


def _facility_values(entry: ScenarioFacility) -> dict[str, Any]:
    latitude, longitude = entry.location
    return {
        "name": entry.name,
        "kind": FacilityKind(entry.kind),
        "age_min": entry.age_min,
        "age_max": entry.age_max,
        "genders": "".join(sorted(entry.genders)),
        "uma_policy": UmaPolicy(entry.uma),
        "latitude": latitude,
        "longitude": longitude,
    }


def _sync_capacity(
    actor: audit.Actor, facility: Facility, entry: ScenarioFacility, as_of: datetime
) -> None:
    """Make the period in force at ``as_of`` carry the scenario's capacity and reserve."""
    licensed, reserve = entry.capacity, entry.reserve
    current = capacities_at(as_of, [facility.id]).get(facility.id) if facility.id else None
    if current is not None and (current.licensed, current.kept_free) == (licensed, reserve):
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
