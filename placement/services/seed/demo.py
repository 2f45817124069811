"""The illustrative Leipzig-like demo: the November 2023 situation, replayed as of today.

Everything here is fictional apart from the district names and planning areas (public
reference data). Youths' ages refer to today, so that deadlines in the demo are current."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, time, timedelta
from importlib import resources
from typing import Any

from sqlalchemy import func, select

from placement.extensions import db
from placement.models import CapacityPeriod, Facility, OverOccupancyEvent, Stay, Youth
from placement.models.enums import (
    DistributionResult,
    EndReason,
    FacilityKind,
    Gender,
    LegalBasis,
    Role,
)
from placement.services.accounts import audit, users
from placement.services.intake import stays
from placement.services.occupancy import capacity
from placement.services.occupancy.queries import place_state
from placement.services.seed.scenario_import import (
    BERLIN,
    birth_date_for_age,
    import_scenario,
    placement_legal_basis,
    stable_fraction,
)
from solver.model import Youth as ScenarioYouth

DEMO_PASSWORD = "platzplan-demo"
DEMO_USERS = (
    ("admin@demo.local", "Demo Administration", Role.ADMIN),
    ("leitung@demo.local", "Demo Abteilungsleitung", Role.DEPARTMENT_HEAD),
    ("einrichtung@demo.local", "Demo Einrichtungsleitung", Role.FACILITY_MANAGER),
    ("bereitschaft@demo.local", "Demo Bereitschaftsdienst", Role.ON_CALL),
)
# The demo facility manager runs the two houses of the Leipzig scenario's story.
DEMO_USER_FACILITIES = {"einrichtung@demo.local": ("muehlholz", "friesen")}

CITY_OPERATOR = "Stadt Leipzig, Amt für Jugend und Familie"
# Fields the exchange format does not carry. Addresses are invented.
FACILITY_EXTRA: dict[str, dict[str, Any]] = {
    "muehlholz": {
        "operator": CITY_OPERATOR,
        "district": "Thekla",
        "planning_area": "Nordost",
        "street": "Am Mühlholz 1",
        "postal_code": "04349",
    },
    "friesen": {
        "operator": CITY_OPERATOR,
        "district": "Lindenau",
        "planning_area": "Westen",
        "street": "Friesenstraße 8",
        "postal_code": "04177",
    },
    "kjnd-kinder": {
        "operator": CITY_OPERATOR,
        "district": "Connewitz",
        "planning_area": "Mitte/Süd",
        "street": "Notdienstweg 2",
        "postal_code": "04277",
    },
    "kjnd-jugend": {
        "operator": CITY_OPERATOR,
        "district": "Connewitz",
        "planning_area": "Mitte/Süd",
        "street": "Notdienstweg 2",
        "postal_code": "04277",
    },
    "zuflucht": {
        "operator": "Mädchenhaus e. V. (fiktiv)",
        "district": "Reudnitz-Thonberg",
        "planning_area": "Ost/Südost",
        "street": "Anschrift geschützt",
        "postal_code": "04317",
        "anonymous_address": True,
    },
    "wg-gruenau": {
        "operator": "Jugendhilfe West gGmbH (fiktiv)",
        "district": "Grünau-Mitte",
        "planning_area": "Grünau",
        "street": "Stuttgarter Allee 40",
        "postal_code": "04209",
    },
    "wg-connewitz": {
        "operator": "Kinderhaus Süd e. V. (fiktiv)",
        "district": "Connewitz",
        "planning_area": "Mitte/Süd",
        "street": "Bornaische Straße 70",
        "postal_code": "04277",
    },
    "wg-gohlis": {
        "operator": "Jugendwerk Nord gGmbH (fiktiv)",
        "district": "Gohlis-Mitte",
        "planning_area": "Nord/Nordwest",
        "street": "Georg-Schumann-Straße 120",
        "postal_code": "04155",
    },
    "vs-plagwitz": {
        "operator": "Jugendhilfe West gGmbH (fiktiv)",
        "district": "Plagwitz",
        "planning_area": "Westen",
        "street": "Karl-Heine-Straße 50",
        "postal_code": "04229",
    },
    "uma-paunsdorf": {
        "operator": "Ankommen e. V. (fiktiv)",
        "district": "Paunsdorf",
        "planning_area": "Ost/Südost",
        "street": "Paunsdorfer Allee 5",
        "postal_code": "04329",
    },
}
for _code, _district, _area in (
    ("bp-1", "Probstheida", "Ost/Südost"),
    ("bp-2", "Eutritzsch", "Nord/Nordwest"),
    ("bp-3", "Schönau", "Grünau"),
    ("bp-4", "Mockau-Nord", "Nordost"),
):
    FACILITY_EXTRA[_code] = {
        "operator": "Pflegekinderdienst Stadt Leipzig",
        "district": _district,
        "planning_area": _area,
        "street": "Anschrift geschützt",
        "anonymous_address": True,
    }
for _extra in FACILITY_EXTRA.values():
    _extra.setdefault("city", "Leipzig")

# How long stays of each kind typically last (days, min and max) in the generated history.
# As long as today's residents have stayed so far (they arrived over the last four months:
# in autumn 2023 emergency stays ran long for want of follow-on places), so that the
# history and the present tell the same story (the forecast learns its length of stay
# from the history and applies it to today's residents).
STAY_DAYS = {
    FacilityKind.INOBHUTNAHME: (5, 120),
    FacilityKind.CLEARING: (20, 150),
    FacilityKind.UMA_GROUP_HOME: (60, 400),
    FacilityKind.GROUP_HOME: (90, 500),
    FacilityKind.FOSTER_EMERGENCY: (14, 150),
    FacilityKind.EMERGENCY_SHELTER: (5, 120),
}
END_REASONS = {
    FacilityKind.INOBHUTNAHME: (
        EndReason.RETURN_HOME,
        EndReason.FOLLOW_ON_HELP,
        EndReason.TRANSFER,
        EndReason.ABSCONDED,
    ),
    FacilityKind.CLEARING: (
        EndReason.DISTRIBUTION,
        EndReason.FOLLOW_ON_HELP,
        EndReason.AGE_ASSESSMENT,
        EndReason.ABSCONDED,
        EndReason.TRANSFER,
    ),
    FacilityKind.UMA_GROUP_HOME: (
        EndReason.COMING_OF_AGE,
        EndReason.FOLLOW_ON_HELP,
        EndReason.ABSCONDED,
    ),
    FacilityKind.GROUP_HOME: (
        EndReason.RETURN_HOME,
        EndReason.FOLLOW_ON_HELP,
        EndReason.COMING_OF_AGE,
    ),
    FacilityKind.FOSTER_EMERGENCY: (EndReason.RETURN_HOME, EndReason.FOLLOW_ON_HELP),
    FacilityKind.EMERGENCY_SHELTER: (EndReason.FOLLOW_ON_HELP, EndReason.TRANSFER),
}
HISTORY_DAYS = 365
# Mean hours a bed stays empty between two stays, by kind.
REFILL_HOURS = {
    FacilityKind.INOBHUTNAHME: 48,
    FacilityKind.CLEARING: 72,
    FacilityKind.UMA_GROUP_HOME: 120,
    FacilityKind.GROUP_HOME: 168,
    FacilityKind.FOSTER_EMERGENCY: 120,
    FacilityKind.EMERGENCY_SHELTER: 48,
}


def demo_scenario() -> dict[str, Any]:
    text = resources.files("placement.demo").joinpath("leipzig-2023-11.json").read_text("utf-8")
    return json.loads(text)


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(Facility))


def seed_demo(actor: audit.Actor, now: datetime | None = None) -> bool:
    """Fill an empty database with the demo; returns False (and does nothing) otherwise."""
    if not database_is_empty():
        return False
    now = now or datetime.now(UTC)
    today = now.astimezone(BERLIN).date()
    rng = random.Random(2023)

    def staggered_start(youth: ScenarioYouth, _as_of: datetime) -> datetime:
        # Residents arrived over the last four months.
        days = 1 + int(stable_fraction(youth.id) * 120)
        return now - timedelta(days=days, hours=int(stable_fraction(youth.id + "h") * 24))

    result = import_scenario(
        actor,
        demo_scenario(),
        as_of=today,
        stay_start=staggered_start,
        facility_extra=FACILITY_EXTRA,
    )
    _friesen_opening(actor, result.facility_ids["friesen"], now)
    _history(actor, now, rng)
    _distribution_so_far(now)
    _replay_over_occupancy()
    for email, name, role in DEMO_USERS:
        codes = DEMO_USER_FACILITIES.get(email, ())
        facility_ids = list(db.session.scalars(select(Facility.id).where(Facility.code.in_(codes))))
        users.create_user(
            actor,
            email=email,
            role=role,
            name=name,
            password=DEMO_PASSWORD,
            facility_ids=facility_ids,
        )
    db.session.flush()
    return True


def _distribution_so_far(now: datetime) -> None:
    """The §42a procedure as far as it would have got: reported within a few days, and
    after a month assigned to this office (they stay). Only the newest are still open."""
    for stay in db.session.scalars(
        select(Stay).where(Stay.end_at.is_(None), Stay.legal_basis == LegalBasis.P42A)
    ).all():
        start = stay.start_at.astimezone(BERLIN).date()
        if now - stay.start_at > timedelta(days=6):
            stay.distribution_reported_on = start + timedelta(days=3)
        if now - stay.start_at > timedelta(days=28):
            stay.distribution_result = DistributionResult.ASSIGNED_OFFICE


def _friesen_opening(actor: audit.Actor, facility_id: int, now: datetime) -> None:
    """Friesenstraße opened with 25 places; a second building added 15 more. Nobody lived
    there before it opened: a resident's stay never starts before the first period."""
    facility = db.session.get(Facility, facility_id)
    for period in list(facility.capacity_periods):
        db.session.delete(period)
    db.session.flush()
    # The collection still lists the deleted rows until it is loaded again.
    db.session.expire(facility, ["capacity_periods"])
    # Opened at midnight, so that no day shows residents on no places.
    opened_day = (now - timedelta(days=150)).astimezone(BERLIN).date()
    opened = datetime.combine(opened_day, time(0), BERLIN).astimezone(UTC)
    for stay in db.session.scalars(
        select(Stay).where(Stay.facility_id == facility_id, Stay.start_at < opened)
    ):
        stay.start_at = opened + timedelta(hours=1)
    capacity.add_capacity_period(
        actor,
        facility_id,
        valid_from=opened,
        licensed_places=25,
        note="Eröffnung im ehemaligen Krankenhaus",
    )
    capacity.add_capacity_period(
        actor,
        facility_id,
        valid_from=now - timedelta(days=40),
        licensed_places=40,
        note="zweites Gebäude, +15 Plätze",
    )


def _history(actor: audit.Actor, now: datetime, rng: random.Random) -> None:
    """A year of ended stays before today's residents, bed by bed, so reports have data.
    Every stay lies after the facility's first capacity period began (the periods run on
    without gaps from there), so no past day shows residents on no places."""
    facilities = db.session.scalars(select(Facility).order_by(Facility.code)).all()
    counter = 0
    for facility in facilities:
        residents = db.session.scalars(
            select(Stay).where(Stay.facility_id == facility.id).order_by(Stay.start_at)
        ).all()
        # Queried, not read from the relationship, which may be stale after a replacement.
        opened = db.session.scalar(
            select(func.min(CapacityPeriod.valid_from)).where(
                CapacityPeriod.facility_id == facility.id
            )
        )
        low, high = STAY_DAYS[facility.kind]
        for resident in residents:
            cursor = resident.start_at - _refill_gap(facility.kind, rng)
            while cursor - timedelta(days=low) > max(opened, now - timedelta(days=HISTORY_DAYS)):
                length = timedelta(days=rng.randint(low, high), hours=rng.randint(0, 23))
                start = max(cursor - length, opened)
                counter += 1
                _past_stay(actor, facility, f"H-{counter:04d}", start, cursor, rng)
                cursor = start - _refill_gap(facility.kind, rng)


def _refill_gap(kind: FacilityKind, rng: random.Random) -> timedelta:
    """How long a bed stayed empty before its next youth: memoryless (the next call from
    the on-call service does not know how long the bed has been free), shorter where the
    house must take everyone."""
    return timedelta(hours=max(2.0, rng.expovariate(1.0 / REFILL_HOURS[kind])))


def _replay_over_occupancy() -> None:
    """The over-occupancy events the recorded admissions would have raised, so that the
    demo's episode lists and alerts have their history."""
    for stay in db.session.scalars(select(Stay).order_by(Stay.start_at, Stay.id)).all():
        state = place_state(stay.facility_id, stay.start_at)
        if state.over_capacity:
            db.session.add(
                OverOccupancyEvent(
                    facility_id=stay.facility_id,
                    stay_id=stay.id,
                    at=stay.start_at,
                    occupied=state.occupied,
                    limit=state.limit,
                )
            )


def _past_stay(
    actor: audit.Actor,
    facility: Facility,
    reference: str,
    start: datetime,
    end: datetime,
    rng: random.Random,
) -> None:
    age = rng.randint(facility.age_min, facility.age_max)
    uma = {"only": True, "none": False}.get(facility.uma_policy.value, rng.random() < 0.5)
    youth = Youth(
        reference=reference,
        birth_date=birth_date_for_age(age, start.date(), reference),
        birth_date_estimated=uma,
        gender=Gender(rng.choice(sorted(facility.genders))),
        uma=uma,
    )
    db.session.add(youth)
    audit.record(actor, "youth.create", youth, after=audit.snapshot(youth))
    stays.record_stay(
        actor,
        youth_id=youth.id,
        facility_id=facility.id,
        legal_basis=placement_legal_basis(facility.kind, uma)
        if rng.random() < 0.9
        else LegalBasis.P42_1_1,
        start_at=start,
        end_at=end,
        end_reason=rng.choice(END_REASONS[facility.kind]),
    )
