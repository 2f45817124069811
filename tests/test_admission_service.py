"""The admission service (``placement.services.intake.admissions``) called directly.

The HTTP surfaces (tests/test_api_intake.py, tests/test_intake_web.py) cover admissions
through their adapters; these tests pin down the service's own contract: the happy paths,
the defaults, every rule with its error class, code and field, the capacity warnings, the
read-only preview, the confirmation token, and that a refused admission writes nothing.

Every test runs on SQLite and PostgreSQL (the ``ctx`` fixture). Times are relative to
the real clock where they must stay valid as time passes (ages, backdated admissions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import (
    AuditEvent,
    Facility,
    OverOccupancyEvent,
    Reservation,
    ReservationStatus,
    Stay,
    Youth,
)
from placement.models.enums import AgeAssessment, EndReason, Gender, LegalBasis, Role
from placement.models.youth import age_in_years
from placement.services.accounts import audit
from placement.services.errors import (
    BadInput,
    Code,
    Conflict,
    Forbidden,
    NotFound,
    OverrideRequired,
    RuleViolation,
)
from placement.services.intake import admissions, arrivals, reservations, stays
from placement.services.intake.admissions import AdmissionRequest, ConfirmationOutdated
from placement.services.intake.arrivals import Warning, WarningCode
from placement.services.intake.rules import Mismatch, MismatchCode, berlin_day, years_before
from placement.services.intake.youths import NewYouth
from placement.services.occupancy import capacity
from placement.timeutil import BERLIN
from placement.timeutil import now as utc_now
from tests.conftest import at

ON_CALL = audit.Actor("bereitschaft@example.org", user_id=None, role=Role.ON_CALL)
MANAGER = audit.Actor("leitung@example.org", user_id=None, role=Role.FACILITY_MANAGER)
HEAD = audit.Actor("chef@example.org", user_id=None, role=Role.DEPARTMENT_HEAD)
REASON = "Geschwister bleiben zusammen"


# --- helpers -------------------------------------------------------------------------------


def today() -> date:
    return berlin_day(utc_now())


def born(years: int) -> date:
    """A date of birth at which a youth is ``years`` old today (birthday a month ago)."""
    return years_before(today(), years) - timedelta(days=30)


def ago(days: float) -> str:
    """The instant ``days`` ago as the 'YYYY-MM-DD HH:MM' text ``make_stay`` and ``at`` take."""
    return (utc_now() - timedelta(days=days)).strftime("%Y-%m-%d %H:%M")


def confirmed(request: AdmissionRequest) -> AdmissionRequest:
    """The request with the confirmation of its preview (as after "bitte bestätigen")."""
    shown = admissions.preview(audit.SYSTEM, request)
    return replace(request, confirmation=shown.confirmation)


def new_youth(**overrides) -> NewYouth:
    values = {"birth_date": born(15), "gender": "m", "uma": False}
    values.update(overrides)
    return NewYouth(**values)


def admission(facility: Facility | None, **overrides) -> AdmissionRequest:
    """A request for a new 15-year-old boy into ``facility`` (fields overridable)."""
    values = {"facility_id": facility.id if facility is not None else None, "youth": new_youth()}
    values.update(overrides)
    return AdmissionRequest(**values)


def count(model) -> int:
    # A query autoflushes the session first: rows a service added but did not flush yet
    # are counted too.
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def counts() -> dict[str, int]:
    return {m.__name__: count(m) for m in (Youth, Stay, AuditEvent, OverOccupancyEvent)}


def last_audit_id() -> int:
    return db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0


def audit_actions(after_id: int = 0) -> list[str]:
    """The actions audited after event ``after_id``, in order."""
    query = sa.select(AuditEvent.action).where(AuditEvent.id > after_id).order_by(AuditEvent.id)
    return db.session.scalars(query).all()


def fill(make_youth, make_stay, facility: Facility, n: int, start: str | None = None) -> None:
    """Place ``n`` youths in ``facility`` from ``start`` (default: 30 days ago), open-ended."""
    for _ in range(n):
        make_stay(make_youth(birth_date=born(14)), facility, start or ago(30))


def reserve(facility: Facility) -> Reservation:
    return reservations.reserve(audit.SYSTEM, facility_id=facility.id)


def expired_reservation(facility: Facility) -> Reservation:
    current = utc_now()
    reservation = Reservation(
        facility_id=facility.id,
        created_at=current - timedelta(hours=5),
        expires_at=current - timedelta(hours=3),
    )
    db.session.add(reservation)
    db.session.flush()
    return reservation


def warning(code: WarningCode, facility: Facility, occupied, limit, reserved=0, usable=None):
    return Warning(
        code,
        facility.id,
        facility.name,
        occupied,
        limit,
        reserved,
        limit if usable is None else usable,
    )


@pytest.fixture
def house(make_facility):
    """A youth house for 12- to 17-year-olds of every gender with 2 places (committed)."""
    facility = make_facility(licensed=2, name="Haus A", age_min=12, age_max=17)
    db.session.commit()
    return facility


@dataclass
class World:
    house: Facility  # 2 places, 12-17, empty
    other: Facility  # the same profile, 2 places, one of them taken by ``placed``
    closed: Facility  # inactive
    youth: Youth  # recorded, 14, no stay
    placed: Youth  # recorded, 14, with an open stay in ``other``
    spare: Facility  # the same profile as ``house``, 2 places, empty
    foreign: Reservation  # an open reservation in ``other``


@pytest.fixture
def world(make_facility, make_youth, make_stay):
    house = make_facility(licensed=2, name="Haus A", age_min=12, age_max=17)
    other = make_facility(licensed=2, name="Haus B", age_min=12, age_max=17)
    closed = make_facility(licensed=2, name="Haus C", age_min=12, age_max=17, active=False)
    youth = make_youth(reference="Y-Alpha", birth_date=born(14), file_number="51.2-77")
    placed = make_youth(reference="Y-Beta", birth_date=born(14))
    make_stay(placed, other, ago(10))
    foreign = reserve(other)
    spare = make_facility(licensed=2, name="Haus D", age_min=12, age_max=17)
    db.session.commit()
    return World(house, other, closed, youth, placed, spare, foreign)


# --- happy paths ---------------------------------------------------------------------------


def test_admit_new_youth_records_youth_stay_and_audit(house):
    before, audited = utc_now(), last_audit_id()
    result = admissions.admit(
        ON_CALL, admission(house, youth=new_youth(file_number=" 51.2-1 ", sibling_group="G7"))
    )
    stay = result.stay
    assert result.warnings == []
    assert (stay.facility_id, stay.end_at, stay.legal_basis) == (house.id, None, LegalBasis.P42_1_2)
    assert before <= stay.start_at <= utc_now()  # no start given: now
    youth = stay.youth
    assert re.fullmatch(rf"IO-{today().year}-[2-9A-HJ-NP-Z]{{6}}", youth.reference)
    assert (youth.birth_date, youth.gender, youth.uma) == (born(15), Gender.MALE, False)
    assert (youth.file_number, youth.sibling_group) == ("51.2-1", "G7")
    assert (youth.birth_date_estimated, youth.age_assessment) == (False, AgeAssessment.DOCUMENTED)

    assert audit_actions(audited) == ["youth.create", "stay.create", "stay.admit"]
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="stay.admit"))
    assert (event.object_type, event.object_id, event.actor) == ("stay", stay.id, ON_CALL.label)
    assert event.after == {"warnings": [], "reservation_id": None}
    assert event.reason is None

    db.session.commit()  # what the service wrote is a valid, committable state
    assert (count(Youth), count(Stay), count(OverOccupancyEvent)) == (1, 1, 0)


def test_start_may_be_given_in_berlin_time(house):
    start = (utc_now() - timedelta(hours=1)).astimezone(BERLIN)
    stay = admissions.admit(ON_CALL, admission(house, start=start)).stay
    assert stay.start_at == start


def test_generated_reference_carries_the_berlin_year_of_the_admission(make_facility):
    house = make_facility(licensed=2)
    # 23:30 UTC on New Year's Eve is already the new year in Berlin.
    start = at("2025-12-31 23:30")
    result = admissions.admit(
        audit.SYSTEM,
        confirmed(admission(house, start=start, youth=new_youth(birth_date=date(2010, 1, 1)))),
    )
    assert result.stay.youth.reference.startswith("IO-2026-")
    assert result.stay.start_at == start


def test_given_reference_is_kept_stripped_up_to_forty_characters(house):
    reference = "R" * 40
    stay = admissions.admit(
        audit.SYSTEM, admission(house, youth=new_youth(reference=f"  {reference} "))
    ).stay
    assert stay.youth.reference == reference


@pytest.mark.parametrize(
    "given",
    [
        {"youth_id": "id"},
        {"youth_reference": "Y-Alpha"},
        {"youth_reference": "y-alpha"},
        {"youth_reference": "  Y-ALPHA "},
    ],
    ids=["by-id", "by-reference", "lower-case", "upper-case-padded"],
)
def test_admit_existing_youth(world, given):
    given = {k: (world.youth.id if v == "id" else v) for k, v in given.items()}
    youths_before, audited = count(Youth), last_audit_id()
    result = admissions.admit(ON_CALL, admission(world.house, youth=None, **given))
    assert result.stay.youth_id == world.youth.id
    assert result.stay.facility_id == world.house.id
    assert count(Youth) == youths_before
    assert audit_actions(audited) == ["stay.create", "stay.admit"]


def test_discharged_youth_can_be_admitted_again(world):
    first = admissions.admit(
        audit.SYSTEM,
        confirmed(admission(world.house, youth_id=world.youth.id, youth=None, start=at(ago(2)))),
    )
    stays.discharge(audit.SYSTEM, first.stay.id, reason=EndReason.RETURN_HOME)
    again = admissions.admit(
        audit.SYSTEM, admission(world.other, youth_reference="Y-Alpha", youth=None)
    )
    assert again.stay.youth_id == world.youth.id
    history = sorted(world.youth.stays, key=lambda s: s.start_at)
    assert [(s.facility_id, s.end_at is None) for s in history] == [
        (world.house.id, False),
        (world.other.id, True),
    ]


def test_returning_absconded_youth_ends_the_held_place(world):
    stay = stays.record_stay(
        audit.SYSTEM,
        youth_id=world.youth.id,
        facility_id=world.other.id,
        legal_basis="42-1-2",
        start_at=at(ago(10)),
    )
    stays.discharge(audit.SYSTEM, stay.id, reason=EndReason.ABSCONDED, end=at(ago(1)))
    assert stay.place_held_until > utc_now()
    result = admissions.admit(
        audit.SYSTEM, admission(world.house, youth_id=world.youth.id, youth=None)
    )
    assert stay.place_held_until == result.stay.start_at


def test_admit_from_reservation_uses_the_reserved_place(make_facility, make_youth, make_stay):
    # 1 of 2 places taken, the last free one reserved for this admission.
    house = make_facility(licensed=2, name="Haus A", age_min=12, age_max=17)
    fill(make_youth, make_stay, house, 1)
    reservation = reserve(house)
    db.session.commit()
    request = admission(house, reservation_id=reservation.id)

    shown = admissions.preview(ON_CALL, request)
    assert shown.warnings == [] and not shown.needs_confirmation
    result = admissions.admit(ON_CALL, request)
    assert result.warnings == []
    assert count(OverOccupancyEvent) == 0
    db.session.commit()

    reservation = db.session.get(Reservation, reservation.id)
    assert reservation.status == ReservationStatus.ADMITTED
    assert reservation.stay_id == result.stay.id
    assert reservation.created_at <= reservation.closed_at <= utc_now()
    assert reservation.closed_at == result.stay.start_at
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="stay.admit"))
    assert event.after == {"warnings": [], "reservation_id": reservation.id}


def test_someone_elses_reservation_is_counted(make_facility, make_youth, make_stay):
    # The same house, but the admission is not the one the place was reserved for.
    house = make_facility(licensed=2, name="Haus A", age_min=12, age_max=17)
    fill(make_youth, make_stay, house, 1)
    reserve(house)
    db.session.commit()
    expected = [warning(WarningCode.ABOVE_USABLE, house, occupied=2, limit=2, reserved=1)]
    assert admissions.preview(ON_CALL, admission(house)).warnings == expected
    assert admissions.admit(ON_CALL, admission(house)).warnings == expected


def test_admit_from_reservation_without_facility_takes_the_reservations(house):
    reservation = reserve(house)
    db.session.commit()
    result = admissions.admit(ON_CALL, admission(None, reservation_id=reservation.id))
    assert result.stay.facility_id == house.id
    assert db.session.get(Reservation, reservation.id).status == ReservationStatus.ADMITTED


def test_backdated_admission_from_reservation_closes_it_at_the_admission(house):
    reservation = reserve(house)
    db.session.commit()
    created = reservation.created_at
    start = created - timedelta(minutes=5)  # the youth arrived before the call was logged
    admissions.admit(audit.SYSTEM, admission(house, reservation_id=reservation.id, start=start))
    # Before its creation the reservation held nothing: it closes when it was created.
    assert db.session.get(Reservation, reservation.id).closed_at == created


@pytest.mark.parametrize("actor", [audit.SYSTEM, ON_CALL, MANAGER], ids=lambda a: a.label)
def test_roles_that_may_admit(house, actor):
    assert admissions.preview(actor, admission(house)).warnings == []
    assert admissions.admit(actor, admission(house)).stay.id is not None


def test_start_within_the_clock_tolerance_is_accepted(house):
    start = utc_now() + timedelta(minutes=5)  # MAX_FUTURE_MINUTES is 10
    assert admissions.admit(audit.SYSTEM, admission(house, start=start)).stay.start_at == start


# --- defaults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uma", "given", "expected"),
    [
        (True, None, LegalBasis.P42A),
        (False, None, LegalBasis.P42_1_2),
        (True, "", LegalBasis.P42A),
        (True, "42-1-3", LegalBasis.P42_1_3),
        (False, LegalBasis.P34, LegalBasis.P34),
    ],
)
def test_legal_basis_default_and_explicit(house, uma, given, expected):
    request = admission(house, legal_basis=given, youth=new_youth(uma=uma))
    assert admissions.preview(audit.SYSTEM, request).legal_basis == expected
    assert admissions.admit(audit.SYSTEM, request).stay.legal_basis == expected


def test_legal_basis_default_for_an_existing_uma(house, make_youth):
    youth = make_youth(birth_date=born(16), uma=True)
    db.session.commit()
    stay = admissions.admit(audit.SYSTEM, admission(house, youth_id=youth.id, youth=None)).stay
    assert stay.legal_basis == LegalBasis.P42A


@pytest.mark.parametrize("age", [0, 15, 17, 27])
def test_draft_estimates_a_birth_date_for_an_age(ctx, age):
    draft = admissions.draft(age=age, uma=True)
    assert (draft.birth_date_estimated, draft.birth_date_from_age) == (True, True)
    assert age_in_years(draft.birth_date, today()) == age
    assert (draft.facility_id, draft.gender, draft.uma) == (None, None, True)
    assert draft.legal_basis == LegalBasis.P42A


@pytest.mark.parametrize("age", [0, 15])
def test_draft_computes_but_does_not_mark_an_estimate_for_a_non_uma_child(ctx, age):
    # Defect 6: "geschätzt (Alterseinschätzung offen)" only for an umA youth's derived date.
    draft = admissions.draft(age=age)
    assert (draft.birth_date_estimated, draft.birth_date_from_age) == (False, True)
    assert age_in_years(draft.birth_date, today()) == age
    assert draft.legal_basis == LegalBasis.P42_1_2


def test_draft_estimates_from_the_berlin_day(ctx, monkeypatch):
    # 23:30 UTC on 31 December 2026 is 1 January 2027 in Berlin: the middle of the birth
    # dates of 15-year-olds that day is 3 July 2011 (on 31 December it would be 2 July).
    monkeypatch.setattr(admissions, "utc_now", lambda: at("2026-12-31 23:30"))
    draft = admissions.draft(age=15)
    assert draft.birth_date == date(2011, 7, 3)
    assert age_in_years(draft.birth_date, date(2027, 1, 1)) == 15


def test_draft_keeps_known_values_and_drops_unknown_ones(house):
    draft = admissions.draft(
        facility_id=house.id, age=15, birth_date=date(2011, 2, 3), gender="f", uma=True
    )
    assert (draft.facility_id, draft.birth_date, draft.birth_date_estimated) == (
        house.id,
        date(2011, 2, 3),
        False,
    )
    assert (draft.gender, draft.uma, draft.legal_basis) == (Gender.FEMALE, True, LegalBasis.P42A)

    draft = admissions.draft(facility_id=999_999, age=28, gender="x")
    assert (draft.facility_id, draft.birth_date, draft.birth_date_estimated) == (None, None, False)
    assert draft.gender is None
    assert admissions.draft(age=-1).birth_date is None


def test_age_only_records_an_estimated_birth_date_pending_assessment(house):
    result = admissions.admit(
        audit.SYSTEM, admission(house, youth=NewYouth(age=15, gender="f", uma=True))
    )
    youth = result.stay.youth
    assert age_in_years(youth.birth_date, today()) == 15
    assert (youth.birth_date_estimated, youth.age_assessment) == (True, AgeAssessment.PENDING)


def test_age_of_a_backdated_admission_is_the_age_on_that_day(make_facility):
    house = make_facility(licensed=2, age_min=0, age_max=17)
    start = at(ago(400))
    request = confirmed(admission(house, start=start, youth=NewYouth(age=15, gender="m")))
    assert admissions.preview(audit.SYSTEM, request).age == 15
    youth = admissions.admit(audit.SYSTEM, request).stay.youth
    assert age_in_years(youth.birth_date, berlin_day(start)) == 15
    assert age_in_years(youth.birth_date, today()) == 16


@pytest.mark.parametrize(
    ("given", "estimated", "assessment"),
    [
        ({}, False, AgeAssessment.DOCUMENTED),
        ({"estimated": True}, True, AgeAssessment.PENDING),
        ({"age_assessment": "assessed_minor"}, False, AgeAssessment.ASSESSED_MINOR),
        # An explicit date of birth wins over an age given as well.
        ({"age": 3}, False, AgeAssessment.DOCUMENTED),
    ],
)
def test_explicit_birth_date_and_its_assessment(house, given, estimated, assessment):
    youth = admissions.admit(audit.SYSTEM, admission(house, youth=new_youth(**given))).stay.youth
    assert youth.birth_date == born(15)
    assert (youth.birth_date_estimated, youth.age_assessment) == (estimated, assessment)


# --- every rule and bad input --------------------------------------------------------------

# (build the request from the world, error class, code, field). The same table checks
# admit (refused, nothing written) and preview (raises the same).
BAD = [
    pytest.param(
        lambda w: admission(w.house, facility_id=999_999),
        NotFound,
        Code.UNKNOWN_FACILITY,
        "facility_id",
        id="unknown-facility",
    ),
    pytest.param(
        lambda w: admission(None), BadInput, Code.MISSING, "facility_id", id="no-facility"
    ),
    pytest.param(
        lambda w: admission(w.closed),
        RuleViolation,
        Code.FACILITY_INACTIVE,
        "facility_id",
        id="inactive-facility",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=None),
        BadInput,
        Code.YOUTH_CHOICE,
        "youth",
        id="no-youth",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=None, youth_reference=""),
        BadInput,
        Code.YOUTH_CHOICE,
        "youth",
        id="empty-reference-only",
    ),
    pytest.param(
        lambda w: admission(w.house, youth_id=w.youth.id),
        BadInput,
        Code.YOUTH_CHOICE,
        "youth",
        id="new-and-id",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=None, youth_id=w.youth.id, youth_reference="Y-Alpha"),
        BadInput,
        Code.YOUTH_CHOICE,
        "youth",
        id="id-and-reference",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=None, youth_id=999_999),
        NotFound,
        Code.UNKNOWN_YOUTH,
        "youth_id",
        id="unknown-youth-id",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=None, youth_reference="Y-Nobody"),
        NotFound,
        Code.UNKNOWN_REFERENCE,
        "youth_reference",
        id="unknown-reference",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=new_youth(birth_date=None)),
        BadInput,
        Code.BIRTH_DATE_REQUIRED,
        "youth.birth_date",
        id="no-birth-date-no-age",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=new_youth(birth_date=None, age=28)),
        RuleViolation,
        Code.AGE_OUT_OF_RANGE,
        "youth.age",
        id="age-28",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=new_youth(birth_date=None, age=-1)),
        RuleViolation,
        Code.AGE_OUT_OF_RANGE,
        "youth.age",
        id="age-negative",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=new_youth(birth_date=today() + timedelta(days=1))),
        RuleViolation,
        Code.BIRTH_DATE_IN_FUTURE,
        "youth.birth_date",
        id="born-tomorrow",
    ),
    pytest.param(
        lambda w: admission(
            w.house,
            start=at(ago(60)),
            youth=new_youth(birth_date=today() - timedelta(days=30)),
        ),
        RuleViolation,
        Code.BIRTH_DATE_IN_FUTURE,
        "youth.birth_date",
        id="born-after-backdated-start",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=new_youth(birth_date=born(28))),
        RuleViolation,
        Code.TOO_OLD,
        "youth.birth_date",
        id="older-than-27",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=new_youth(gender=None)),
        BadInput,
        Code.GENDER_REQUIRED,
        "youth.gender",
        id="no-gender",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=new_youth(gender="")),
        BadInput,
        Code.GENDER_REQUIRED,
        "youth.gender",
        id="empty-gender",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=new_youth(gender="x")),
        RuleViolation,
        Code.UNKNOWN_VALUE,
        "youth.gender",
        id="unknown-gender",
    ),
    pytest.param(
        lambda w: admission(w.house, legal_basis="§99"),
        RuleViolation,
        Code.UNKNOWN_VALUE,
        "legal_basis",
        id="unknown-legal-basis",
    ),
    # A start in the future is no longer refused but confirmed: tests/test_admission_defects.py
    pytest.param(
        lambda w: admission(
            w.house,
            youth=None,
            youth_id=w.youth.id,
            start=at(f"{w.youth.birth_date - timedelta(days=1)} 12:00"),
        ),
        RuleViolation,
        Code.ADMISSION_BEFORE_BIRTH,
        "start",
        id="before-birth",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=None, youth_id=w.placed.id),
        Conflict,
        Code.OPEN_STAY_EXISTS,
        "youth_id",
        id="open-stay-by-id",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=None, youth_reference="y-beta"),
        Conflict,
        Code.OPEN_STAY_EXISTS,
        "youth_reference",
        id="open-stay-by-reference",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=new_youth(reference=" y-ALPHA ")),
        Conflict,
        Code.DUPLICATE_REFERENCE,
        "youth.reference",
        id="duplicate-reference",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=new_youth(reference="R" * 41)),
        BadInput,
        Code.TOO_LONG,
        "youth.reference",
        id="reference-too-long",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=new_youth(file_number="1" * 61)),
        BadInput,
        Code.TOO_LONG,
        "youth.file_number",
        id="file-number-too-long",
    ),
    pytest.param(
        lambda w: admission(w.house, youth=new_youth(sibling_group="G" * 41)),
        BadInput,
        Code.TOO_LONG,
        "youth.sibling_group",
        id="sibling-group-too-long",
    ),
    pytest.param(
        lambda w: admission(w.house, override_reason="ab"),
        RuleViolation,
        Code.REASON_TOO_SHORT,
        "override_reason",
        id="reason-too-short",
    ),
    pytest.param(
        lambda w: admission(w.house, override_reason="  ab  "),
        RuleViolation,
        Code.REASON_TOO_SHORT,
        "override_reason",
        id="reason-too-short-padded",
    ),
    pytest.param(
        lambda w: admission(w.house, override_reason="x" * 501),
        BadInput,
        Code.TOO_LONG,
        "override_reason",
        id="reason-too-long",
    ),
    pytest.param(
        lambda w: admission(w.house, reservation_id=w.foreign.id),
        RuleViolation,
        Code.RESERVATION_OTHER_FACILITY,
        "reservation_id",
        id="reservation-of-other-facility",
    ),
    pytest.param(
        lambda w: admission(w.house, reservation_id=999_999),
        NotFound,
        Code.UNKNOWN_RESERVATION,
        "reservation_id",
        id="unknown-reservation",
    ),
    pytest.param(
        lambda w: admission(None, reservation_id=999_999),
        NotFound,
        Code.UNKNOWN_RESERVATION,
        "reservation_id",
        id="unknown-reservation-no-facility",
    ),
]


def _snapshot(world: World) -> tuple:
    reservation = db.session.get(Reservation, world.foreign.id)
    return counts(), count(Reservation), reservation.status, reservation.closed_at


@pytest.mark.parametrize(("build", "kind", "code", "field"), BAD)
def test_admit_refuses_bad_input_and_writes_nothing(world, build, kind, code, field):
    request = build(world)
    before = _snapshot(world)
    with pytest.raises(kind) as error:
        admissions.admit(ON_CALL, request)
    assert (error.value.code, error.value.field) == (code, field)
    # No rollback here: the service must raise before it adds anything. Nothing is pending
    # in the session, and counting (which autoflushes) in the same transaction finds no
    # new row and the reservation untouched.
    assert not db.session.new and not db.session.dirty and not db.session.deleted
    assert _snapshot(world) == before


@pytest.mark.parametrize(("build", "kind", "code", "field"), BAD)
def test_preview_raises_what_admit_raises(world, build, kind, code, field):
    request = build(world)
    before = _snapshot(world)
    with pytest.raises(kind) as error:
        admissions.preview(ON_CALL, request)
    assert (error.value.code, error.value.field) == (code, field)
    assert _snapshot(world) == before


def test_bad_input_is_reported_in_the_order_of_the_form(world):
    # An unknown facility is named before the youth, the youth before the start.
    request = admission(None, facility_id=999_999, youth=None, start=utc_now() + timedelta(days=1))
    with pytest.raises(NotFound) as error:
        admissions.admit(ON_CALL, request)
    assert error.value.field == "facility_id"
    with pytest.raises(BadInput) as error:
        admissions.admit(ON_CALL, replace(request, facility_id=world.house.id))
    assert error.value.field == "youth"


# Reservations that no longer hold a place: how each one got there.
def _expired(world: World) -> int:
    return expired_reservation(world.house).id


def _cancelled(world: World) -> int:
    return reservations.cancel(audit.SYSTEM, reserve(world.house).id).id


def _used(world: World) -> int:
    reservation = reserve(world.house)
    admissions.admit(audit.SYSTEM, admission(world.house, reservation_id=reservation.id))
    return reservation.id


NOT_OPEN = [
    pytest.param(_expired, id="expired"),
    pytest.param(_cancelled, id="cancelled"),
    pytest.param(_used, id="used"),
]


@pytest.mark.parametrize("make_reservation", NOT_OPEN)
def test_reservation_that_holds_no_place_is_refused(world, make_reservation):
    reservation_id = make_reservation(world)
    db.session.commit()
    status = db.session.get(Reservation, reservation_id).status
    before = counts()
    with pytest.raises(Conflict) as error:
        admissions.admit(ON_CALL, admission(world.house, reservation_id=reservation_id))
    assert (error.value.code, error.value.field) == (Code.RESERVATION_NOT_OPEN, "reservation_id")
    assert not db.session.new and not db.session.dirty
    assert counts() == before
    assert db.session.get(Reservation, reservation_id).status == status


@pytest.mark.parametrize("make_reservation", NOT_OPEN)
def test_preview_refuses_a_reservation_that_holds_no_place(world, make_reservation):
    reservation_id = make_reservation(world)
    db.session.commit()
    with pytest.raises(Conflict) as error:
        admissions.preview(ON_CALL, admission(world.house, reservation_id=reservation_id))
    assert (error.value.code, error.value.field) == (Code.RESERVATION_NOT_OPEN, "reservation_id")


# An existing youth's earlier, ended stay that a backdated admission would overlap.
@pytest.fixture
def overlapping(world, make_stay):
    make_stay(world.youth, world.other, ago(20), ago(5))
    db.session.commit()
    return admission(world.house, youth=None, youth_id=world.youth.id, start=at(ago(10)))


def test_backdated_admission_overlapping_an_earlier_stay_is_refused(overlapping):
    before = counts()
    with pytest.raises(Conflict) as error:
        admissions.admit(ON_CALL, overlapping)
    assert error.value.code == Code.OVERLAPPING_STAY
    assert not db.session.new
    assert counts() == before


def test_overlap_names_the_start_of_the_admission(overlapping):
    with pytest.raises(Conflict) as error:
        admissions.admit(ON_CALL, overlapping)
    assert (error.value.code, error.value.field) == (Code.OVERLAPPING_STAY, "start")


def test_preview_refuses_an_overlapping_backdated_admission(overlapping):
    with pytest.raises(Conflict) as error:
        admissions.preview(ON_CALL, overlapping)
    assert error.value.code == Code.OVERLAPPING_STAY


def test_refused_admission_leaves_the_reservation_open(world, overlapping):
    reservation = reserve(world.house)
    db.session.commit()
    with pytest.raises(Conflict):
        admissions.admit(ON_CALL, replace(overlapping, reservation_id=reservation.id))
    assert not db.session.dirty
    assert db.session.get(Reservation, reservation.id).status == ReservationStatus.OPEN


# --- permissions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "service", [admissions.preview, admissions.admit], ids=["preview", "admit"]
)
def test_department_head_may_not_admit(house, service):
    before = counts()
    with pytest.raises(Forbidden) as error:
        service(HEAD, admission(house))
    assert (error.value.code, error.value.field) == (Code.FORBIDDEN, None)
    assert not db.session.new
    assert counts() == before


def test_permission_is_checked_before_the_input(ctx):
    # A department head learns nothing about facilities or youths from the errors.
    with pytest.raises(Forbidden):
        admissions.admit(HEAD, admission(None, facility_id=999_999, youth=None))


# --- the facility's profile ----------------------------------------------------------------

PROFILE = [
    pytest.param(
        {},
        new_youth(birth_date=born(8)),
        [Mismatch(MismatchCode.AGE, {"age": 8, "min": 12, "max": 17})],
        id="too-young",
    ),
    pytest.param(
        {},
        new_youth(birth_date=born(19)),
        [Mismatch(MismatchCode.AGE, {"age": 19, "min": 12, "max": 17})],
        id="too-old-for-house",
    ),
    pytest.param({"genders": "f"}, new_youth(), [Mismatch(MismatchCode.GENDER)], id="gender"),
    pytest.param(
        {"uma_policy": "none"}, new_youth(uma=True), [Mismatch(MismatchCode.NO_UMA)], id="no-uma"
    ),
    pytest.param(
        {"uma_policy": "only"}, new_youth(), [Mismatch(MismatchCode.UMA_ONLY)], id="uma-only"
    ),
    pytest.param(
        {"genders": "df", "uma_policy": "none"},
        new_youth(birth_date=born(10), uma=True),
        [
            Mismatch(MismatchCode.AGE, {"age": 10, "min": 12, "max": 17}),
            Mismatch(MismatchCode.GENDER),
            Mismatch(MismatchCode.NO_UMA),
        ],
        id="everything",
    ),
]


@pytest.mark.parametrize(("profile", "youth", "mismatches"), PROFILE)
def test_outside_the_profile_needs_a_reason(make_facility, profile, youth, mismatches):
    house = make_facility(licensed=2, age_min=12, age_max=17, **profile)
    db.session.commit()
    before = counts()
    with pytest.raises(OverrideRequired) as error:
        admissions.admit(ON_CALL, admission(house, youth=youth))
    assert (error.value.code, error.value.field) == (Code.OVERRIDE_REQUIRED, "override_reason")
    assert error.value.params["mismatches"] == mismatches
    assert isinstance(error.value, RuleViolation)
    assert not db.session.new
    assert counts() == before


@pytest.mark.parametrize(("profile", "youth", "mismatches"), PROFILE)
def test_preview_reports_the_mismatches(make_facility, profile, youth, mismatches):
    house = make_facility(licensed=2, age_min=12, age_max=17, **profile)
    shown = admissions.preview(ON_CALL, admission(house, youth=youth))
    assert shown.mismatches == mismatches
    assert shown.override_missing and shown.needs_confirmation
    assert shown.override_error.code == Code.OVERRIDE_REQUIRED
    assert shown.override_error.params["mismatches"] == mismatches
    with_reason = admissions.preview(ON_CALL, admission(house, youth=youth, override_reason=REASON))
    assert with_reason.mismatches == mismatches
    assert not with_reason.override_missing and with_reason.needs_confirmation


def test_override_reason_is_recorded_with_the_stay_and_audited(make_facility):
    house = make_facility(licensed=2, age_min=0, age_max=6)
    request = admission(house, override_reason=f"  {REASON}  ")
    stay = admissions.admit(ON_CALL, request).stay
    assert stay.override_reason == REASON
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="stay.admit"))
    assert event.reason == REASON


def test_override_reason_inside_the_profile_is_kept(house):
    # A reason that was not needed is no error (the form may send one along).
    stay = admissions.admit(ON_CALL, admission(house, override_reason=REASON)).stay
    assert stay.override_reason == REASON


def test_whitespace_reason_is_no_reason(make_facility):
    house = make_facility(licensed=2, age_min=0, age_max=6)
    with pytest.raises(OverrideRequired):
        admissions.admit(ON_CALL, admission(house, override_reason="   "))


# --- capacity: never refused, always warned ------------------------------------------------


def test_full_house_admits_with_warning_and_over_occupancy_event(
    make_facility, make_youth, make_stay
):
    house = make_facility(licensed=2, name="Haus A", age_min=12, age_max=17)
    fill(make_youth, make_stay, house, 2)
    db.session.commit()
    result = admissions.admit(ON_CALL, admission(house))
    assert result.warnings == [warning(WarningCode.OVER_CAPACITY, house, occupied=3, limit=2)]
    # The event is part of the admission's transaction: visible in it before the commit...
    events = db.session.scalars(sa.select(OverOccupancyEvent)).all()
    assert [(e.facility_id, e.stay_id, e.occupied, e.limit) for e in events] == [
        (house.id, result.stay.id, 3, 2)
    ]
    assert events[0].at == result.stay.start_at
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="stay.admit"))
    assert event.after["warnings"] == ["over_capacity"]
    # ... and gone with it.
    stay_id = result.stay.id
    db.session.rollback()
    assert db.session.get(Stay, stay_id) is None
    assert count(OverOccupancyEvent) == 0


def test_every_admission_beyond_the_limit_warns_and_records(make_facility, make_youth, make_stay):
    house = make_facility(licensed=1, name="Haus A", age_min=12, age_max=17)
    fill(make_youth, make_stay, house, 1)
    results = [admissions.admit(ON_CALL, admission(house)) for _ in range(3)]
    assert [r.warnings[0].occupied for r in results] == [2, 3, 4]
    occupied = db.session.scalars(
        sa.select(OverOccupancyEvent.occupied).order_by(OverOccupancyEvent.id)
    ).all()
    assert occupied == [2, 3, 4]


def test_temporary_ceiling_is_the_limit(make_facility, make_youth, make_stay):
    house = make_facility(licensed=2, name="Haus A", age_min=12, age_max=17)
    capacity.add_capacity_period(
        audit.SYSTEM,
        house.id,
        valid_from=at(ago(60)),
        licensed_places=2,
        temporary_ceiling=3,
    )
    fill(make_youth, make_stay, house, 2)
    # The third youth is above the usable places but within the ceiling: no event.
    third = admissions.admit(ON_CALL, admission(house))
    assert third.warnings == [
        warning(WarningCode.ABOVE_USABLE, house, occupied=3, limit=3, usable=2)
    ]
    assert count(OverOccupancyEvent) == 0
    fourth = admissions.admit(ON_CALL, admission(house))
    assert fourth.warnings == [
        warning(WarningCode.OVER_CAPACITY, house, occupied=4, limit=3, usable=2)
    ]
    assert db.session.scalar(sa.select(OverOccupancyEvent.limit)) == 3


def test_above_usable_when_places_are_not_usable(make_facility, make_youth, make_stay):
    # 3 licensed places, only 2 of them usable (a room under repair).
    house = make_facility(licensed=2, name="Haus A", age_min=12, age_max=17)
    capacity.add_capacity_period(
        audit.SYSTEM, house.id, valid_from=at(ago(60)), licensed_places=3, usable_places=2
    )
    fill(make_youth, make_stay, house, 2)
    request = admission(house)
    expected = [warning(WarningCode.ABOVE_USABLE, house, occupied=3, limit=3, usable=2)]
    assert admissions.preview(ON_CALL, request).warnings == expected
    assert admissions.admit(ON_CALL, request).warnings == expected
    assert count(OverOccupancyEvent) == 0


def test_facility_without_capacity_period_warns_no_capacity(make_facility):
    house = make_facility(licensed=2, name="Haus A", valid_from=utc_now() + timedelta(days=30))
    request = admission(house)
    expected = [warning(WarningCode.NO_CAPACITY, house, occupied=1, limit=0)]
    assert admissions.preview(ON_CALL, request).warnings == expected
    result = admissions.admit(ON_CALL, request)
    assert result.warnings == expected
    events = db.session.scalars(sa.select(OverOccupancyEvent)).all()
    assert [(e.stay_id, e.occupied, e.limit) for e in events] == [(result.stay.id, 1, 0)]


def test_backdated_admission_fine_then_but_over_now_warns(make_facility, make_youth, make_stay):
    # 2 places: empty 20 days ago, full since 10 days ago. An admission recorded for 20
    # days ago is still there today: 3 of 2 now.
    house = make_facility(licensed=2, name="Haus A", age_min=12, age_max=17)
    fill(make_youth, make_stay, house, 2, start=ago(10))
    db.session.commit()
    start = at(ago(20))
    result = admissions.admit(ON_CALL, confirmed(admission(house, start=start)))
    assert result.warnings == [warning(WarningCode.OVER_CAPACITY, house, occupied=3, limit=2)]
    events = db.session.scalars(sa.select(OverOccupancyEvent)).all()
    assert [(e.at, e.occupied, e.limit) for e in events] == [(start, 3, 2)]


def test_backdated_admission_over_then_but_fine_now_warns(make_facility, make_youth, make_stay):
    # 2 places full from 30 to 5 days ago, empty now; an admission 20 days ago was the third.
    house = make_facility(licensed=2, name="Haus A", age_min=12, age_max=17)
    for _ in range(2):
        make_stay(make_youth(birth_date=born(14)), house, ago(30), ago(5))
    db.session.commit()
    request = confirmed(admission(house, start=at(ago(20))))
    expected = [warning(WarningCode.OVER_CAPACITY, house, occupied=3, limit=2)]
    assert admissions.preview(ON_CALL, request).warnings == expected
    assert admissions.admit(ON_CALL, request).warnings == expected
    assert count(OverOccupancyEvent) == 1


def test_an_arrival_seconds_ago_counts_what_began_since(make_facility, make_youth, monkeypatch):
    """The state at the arrival or now, whichever is worse, also seconds apart; at the
    current moment itself the house is read once."""
    house = make_facility(licensed=1, name="Haus A", age_min=12, age_max=17)
    now = utc_now()
    stays.record_stay(
        audit.SYSTEM,
        youth_id=make_youth(birth_date=born(14)).id,
        facility_id=house.id,
        legal_basis="42-1-2",
        start_at=now - timedelta(seconds=3),
    )
    # Empty 5 s ago, full now: the arrival recorded for 5 s ago is read as of now.
    assert arrivals.worst_state(house.id, now - timedelta(seconds=5)).occupied == 1
    reads = []
    read = arrivals.place_state
    monkeypatch.setattr(
        arrivals, "place_state", lambda fid, moment: reads.append(moment) or read(fid, moment)
    )
    assert arrivals.worst_state(house.id, utc_now()).occupied == 1
    assert len(reads) == 1


def test_preview_of_backdated_admission_warns_like_admit(make_facility, make_youth, make_stay):
    house = make_facility(licensed=2, name="Haus A", age_min=12, age_max=17)
    fill(make_youth, make_stay, house, 2, start=ago(10))
    db.session.commit()
    request = admission(house, start=at(ago(20)))
    shown = admissions.preview(ON_CALL, request)
    result = admissions.admit(ON_CALL, replace(request, confirmation=shown.confirmation))
    assert shown.warnings == result.warnings
    assert shown.needs_confirmation


def test_returning_absconded_youth_is_not_counted_twice(make_facility, make_youth):
    house = make_facility(licensed=1, name="Haus A", age_min=12, age_max=17)
    youth = make_youth(birth_date=born(14))
    stay = stays.record_stay(
        audit.SYSTEM,
        youth_id=youth.id,
        facility_id=house.id,
        legal_basis="42-1-2",
        start_at=at(ago(10)),
    )
    stays.discharge(audit.SYSTEM, stay.id, reason=EndReason.ABSCONDED, end=at(ago(1)))
    db.session.commit()
    request = admission(house, youth=None, youth_id=youth.id)
    shown = admissions.preview(ON_CALL, request)
    result = admissions.admit(ON_CALL, request)
    assert result.warnings == []
    assert shown.warnings == result.warnings


# --- preview -------------------------------------------------------------------------------


def test_preview_writes_nothing(world, make_youth, make_stay):
    fill(make_youth, make_stay, world.house, 2)  # warnings and an event if it were admitted
    reservation = reserve(world.spare)
    db.session.commit()
    requests = [
        admission(world.house),
        admission(world.house, youth=None, youth_id=world.youth.id),
        admission(
            world.spare, youth=None, youth_reference="y-alpha", reservation_id=reservation.id
        ),
        admission(world.house, youth=new_youth(birth_date=born(3))),  # override missing
    ]
    before = counts(), count(Reservation)
    for request in requests:
        admissions.preview(ON_CALL, request)
        assert not db.session.new and not db.session.dirty and not db.session.deleted
    assert (counts(), count(Reservation)) == before
    reservation = db.session.get(Reservation, reservation.id)
    assert (reservation.status, reservation.closed_at, reservation.stay_id) == (
        ReservationStatus.OPEN,
        None,
        None,
    )


def test_preview_of_a_fitting_admission_into_a_free_house(house):
    shown = admissions.preview(ON_CALL, admission(house, youth=new_youth(file_number="51.2-1")))
    assert shown.facility.id == house.id
    assert (shown.legal_basis, shown.age) == (LegalBasis.P42_1_2, 15)
    assert (shown.mismatches, shown.warnings, shown.duplicates) == ([], [], [])
    assert not shown.override_missing and not shown.needs_confirmation
    assert re.fullmatch(r"[0-9a-f]{20}", shown.confirmation)


def test_preview_reports_the_capacity_warning(make_facility, make_youth, make_stay):
    house = make_facility(licensed=2, name="Haus A", age_min=12, age_max=17)
    fill(make_youth, make_stay, house, 2)
    shown = admissions.preview(ON_CALL, admission(house))
    assert shown.warnings == [warning(WarningCode.OVER_CAPACITY, house, occupied=3, limit=2)]
    assert shown.needs_confirmation and not shown.override_missing


def test_preview_lists_youths_with_the_same_file_number(world, make_youth):
    make_youth(reference="Y-Aardvark", file_number="51.2-77")
    make_youth(reference="Y-Other", file_number="51.2-78")
    db.session.commit()
    shown = admissions.preview(
        ON_CALL, admission(world.house, youth=new_youth(file_number=" 51.2-77 "))
    )
    assert shown.duplicates == ["Y-Aardvark", "Y-Alpha"]
    assert shown.needs_confirmation
    assert (shown.mismatches, shown.warnings) == ([], [])
    # An existing youth is no duplicate of itself; a new one without file number of nobody.
    by_id = admissions.preview(ON_CALL, admission(world.house, youth=None, youth_id=world.youth.id))
    assert by_id.duplicates == []
    assert admissions.preview(ON_CALL, admission(world.house)).duplicates == []


def test_possible_duplicate_is_admitted_when_confirmed(world):
    request = admission(world.house, youth=new_youth(file_number="51.2-77"))
    shown = admissions.preview(ON_CALL, request)
    result = admissions.admit(ON_CALL, replace(request, confirmation=shown.confirmation))
    assert result.stay.youth.id != world.youth.id
    assert result.stay.youth.file_number == "51.2-77"


# --- the confirmation token ----------------------------------------------------------------


def test_admit_with_the_previews_token(house):
    request = admission(house)
    shown = admissions.preview(ON_CALL, request)
    assert admissions.preview(ON_CALL, request).confirmation == shown.confirmation  # stable
    result = admissions.admit(ON_CALL, replace(request, confirmation=shown.confirmation))
    assert result.stay.facility_id == house.id


def test_admit_with_the_previews_token_for_a_warning(make_facility, make_youth, make_stay):
    # Confirming the warning that was shown records the admission with it.
    house = make_facility(licensed=1, name="Haus A", age_min=12, age_max=17)
    fill(make_youth, make_stay, house, 1)
    db.session.commit()
    request = admission(house)
    shown = admissions.preview(ON_CALL, request)
    result = admissions.admit(ON_CALL, replace(request, confirmation=shown.confirmation))
    assert result.warnings == shown.warnings


def test_token_is_outdated_when_the_house_filled_meanwhile(make_facility, make_youth, make_stay):
    house = make_facility(licensed=2, name="Haus A", age_min=12, age_max=17)
    fill(make_youth, make_stay, house, 1)
    db.session.commit()
    request = admission(house)
    shown = admissions.preview(ON_CALL, request)
    assert shown.warnings == []  # the last place was free...
    admissions.admit(ON_CALL, admission(house))  # ... and someone else took it
    db.session.commit()

    before = counts()
    with pytest.raises(ConfirmationOutdated) as error:
        admissions.admit(ON_CALL, replace(request, confirmation=shown.confirmation))
    outdated = error.value
    assert isinstance(outdated, Conflict)
    assert (outdated.code, outdated.field) == (Code.CONFIRMATION_OUTDATED, "confirmation")
    assert outdated.preview.warnings == [
        warning(WarningCode.OVER_CAPACITY, house, occupied=3, limit=2)
    ]
    assert outdated.preview.confirmation != shown.confirmation
    assert not db.session.new
    assert counts() == before

    # Confirming the new preview records the admission with its warning.
    result = admissions.admit(ON_CALL, replace(request, confirmation=outdated.preview.confirmation))
    assert result.warnings == outdated.preview.warnings


# What the request is changed to after its preview (world: ``house`` is empty).
CHANGES = [
    pytest.param(lambda w, r: replace(r, youth=replace(r.youth, birth_date=born(16))), id="birth"),
    pytest.param(lambda w, r: replace(r, youth=replace(r.youth, gender="d")), id="gender"),
    pytest.param(lambda w, r: replace(r, youth=replace(r.youth, uma=True)), id="uma"),
    pytest.param(lambda w, r: replace(r, facility_id=w.spare.id), id="house"),
    pytest.param(lambda w, r: replace(r, start=at(ago(0.5))), id="start"),
    pytest.param(lambda w, r: replace(r, youth=None, youth_id=w.youth.id), id="existing-youth"),
]


@pytest.mark.parametrize("change", CHANGES)
def test_token_stands_for_the_person_house_and_start(world, change):
    request = admission(world.house)
    shown = admissions.preview(ON_CALL, request)
    changed = replace(change(world, request), confirmation=shown.confirmation)
    # The change itself is fine: no warning, no mismatch, admitted without a token.
    assert not admissions.preview(ON_CALL, changed).needs_confirmation
    before = counts()
    with pytest.raises(ConfirmationOutdated) as error:
        admissions.admit(ON_CALL, changed)
    assert error.value.preview.confirmation != shown.confirmation
    assert counts() == before


def test_token_from_another_start_is_outdated(house):
    request = admission(house, start=at(ago(2)))
    shown = admissions.preview(ON_CALL, request)
    with pytest.raises(ConfirmationOutdated):
        admissions.admit(ON_CALL, replace(request, start=None, confirmation=shown.confirmation))


def test_token_ignores_the_legal_basis(house):
    request = admission(house)
    shown = admissions.preview(ON_CALL, request)
    changed = replace(request, legal_basis="42-1-1", confirmation=shown.confirmation)
    assert admissions.admit(ON_CALL, changed).stay.legal_basis == LegalBasis.P42_1_1


def test_garbage_token_is_outdated(house):
    with pytest.raises(ConfirmationOutdated) as error:
        admissions.admit(ON_CALL, admission(house, confirmation="not-a-token"))
    assert error.value.preview.warnings == []


def test_admit_without_token_never_asks_again(make_facility, make_youth, make_stay):
    house = make_facility(licensed=1, name="Haus A", age_min=12, age_max=17)
    fill(make_youth, make_stay, house, 3)
    result = admissions.admit(ON_CALL, admission(house, confirmation=None))
    assert result.warnings[0].code == WarningCode.OVER_CAPACITY
    assert result.stay.id is not None


def test_token_is_checked_before_the_override(make_facility, make_youth, make_stay):
    # An outdated token answers with the new preview, even when a reason is missing too.
    house = make_facility(licensed=1, name="Haus A", age_min=0, age_max=6)
    db.session.commit()
    request = admission(house)
    shown = admissions.preview(ON_CALL, request)
    assert shown.override_missing and shown.warnings == []
    fill(make_youth, make_stay, house, 1)
    db.session.commit()
    with pytest.raises(ConfirmationOutdated) as error:
        admissions.admit(ON_CALL, replace(request, confirmation=shown.confirmation))
    assert error.value.preview.override_missing
    with pytest.raises(OverrideRequired):
        admissions.admit(ON_CALL, replace(request, confirmation=error.value.preview.confirmation))


# --- nothing half-written ------------------------------------------------------------------
# The bad-input table above checks every refusal of admit; these are the refusals that come
# after the state was read under the lock (override, confirmation) in a house where an
# admission would have written an over-occupancy event too.


@pytest.fixture
def full_foster_family(make_facility, make_youth, make_stay):
    family = make_facility(licensed=1, name="Familie C", age_min=0, age_max=6)
    fill(make_youth, make_stay, family, 1)
    db.session.commit()
    return family


def test_missing_override_in_full_house_writes_nothing(full_foster_family):
    before = counts()
    with pytest.raises(OverrideRequired):
        admissions.admit(ON_CALL, admission(full_foster_family))
    assert not db.session.new and not db.session.dirty
    assert counts() == before


def test_outdated_confirmation_writes_nothing(full_foster_family):
    before = counts()
    with pytest.raises(ConfirmationOutdated):
        admissions.admit(
            ON_CALL, admission(full_foster_family, override_reason=REASON, confirmation="old")
        )
    assert not db.session.new and not db.session.dirty
    assert counts() == before


def test_admission_after_a_refused_one_is_complete(full_foster_family):
    # A refusal leaves the session usable: the corrected request is recorded in full.
    with pytest.raises(OverrideRequired):
        admissions.admit(ON_CALL, admission(full_foster_family))
    before = counts()
    result = admissions.admit(ON_CALL, admission(full_foster_family, override_reason=REASON))
    db.session.commit()
    assert result.warnings[0].code == WarningCode.OVER_CAPACITY
    after = {"Youth": 1, "Stay": 1, "AuditEvent": 3, "OverOccupancyEvent": 1}
    assert counts() == {name: before[name] + after[name] for name in before}


def test_stay_and_youth_of_a_new_admission_stand_together(house):
    before = counts()
    result = admissions.admit(ON_CALL, admission(house))
    youth_id = result.stay.youth_id
    assert db.session.get(Youth, youth_id) is not None
    db.session.rollback()
    assert db.session.get(Youth, youth_id) is None
    assert counts() == before
