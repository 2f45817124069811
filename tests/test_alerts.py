"""Alert rules and the engine without mail: each rule's firing conditions, thresholds and
overrides, the §42a working-day clock with the Land's public holidays, recipients, what
the alerts may say, and the scheduler (lease, waiting, schedule, /health)."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from placement import scheduler as scheduler_module
from placement.extensions import db
from placement.models import (
    Alert,
    AlertSetting,
    Notification,
    ProcessLease,
    Reservation,
    ReservationStatus,
    User,
)
from placement.models.enums import AlertStatus, NotificationKind
from placement.services.accounts import audit, users
from placement.services.alerts import engine, inbox, rules
from placement.services.alerts.rules import CRITICAL, INFO, WARNING
from placement.services.errors import RuleViolation
from placement.services.intake import deadlines, stays
from placement.services.intake.workdays import (
    add_working_days,
    holiday_name,
    is_working_day,
    working_days_between,
)
from placement.services.occupancy import capacity
from placement.timeutil import now as utc_now
from tests.conftest import at, create_facility, create_stay, create_youth

BERLIN = ZoneInfo("Europe/Berlin")
PASSWORD = "long enough password"


def found(instant: datetime, *codes: str) -> dict[str, rules.Finding]:
    """What the named rules fire for at ``instant``, by subject."""
    context = rules.context(instant)
    return {f.subject: f for f in rules.findings(context, list(codes))}


def user(email: str, role: str = "department_head", active: bool = True) -> User:
    account = users.create_user(audit.SYSTEM, email=email, role=role, password=PASSWORD)
    account.active = active
    db.session.flush()
    return account


def fill(facility, count: int, start: str = "2024-03-01 10:00", **youth) -> list:
    return [create_stay(create_youth(**youth), facility, start) for _ in range(count)]


def notifications(**where) -> list[Notification]:
    query = sa.select(Notification).filter_by(**where).order_by(Notification.id)
    return list(db.session.scalars(query).all())


# --- over-occupancy and near full ------------------------------------------------------------


def test_over_occupancy_fires_above_the_licensed_places(ctx):
    house = create_facility(licensed=2, name="Haus Elster", planning_area="Nord")
    fill(house, 2)
    create_stay(create_youth(), house, "2024-03-02 10:00")
    assert found(at("2024-03-01 12:00"), "over_occupancy") == {}
    finding = found(at("2024-03-04 09:00"), "over_occupancy")[f"facility:{house.id}"]
    assert finding.severity == CRITICAL
    assert finding.facility_id == house.id and finding.planning_area == "Nord"
    assert finding.details == {
        "facility": "Haus Elster",
        "occupied": 3,
        "limit": 2,
        "usable": 2,
        "reserved": 0,
        "over_by": 1,
    }


def test_over_occupancy_is_measured_against_a_temporary_ceiling(ctx):
    house = create_facility(licensed=2)
    capacity.add_capacity_period(
        audit.SYSTEM,
        house.id,
        valid_from=at("2024-03-01 00:00"),
        licensed_places=2,
        usable_places=3,
        temporary_ceiling=3,
    )
    fill(house, 3)
    assert found(at("2024-03-04 09:00"), "over_occupancy") == {}
    create_stay(create_youth(), house, "2024-03-05 10:00")
    finding = found(at("2024-03-06 09:00"), "over_occupancy")[f"facility:{house.id}"]
    assert (finding.details["limit"], finding.details["over_by"]) == (3, 1)


def test_over_occupancy_can_be_disabled_for_one_facility_or_office_wide(ctx):
    first, second = create_facility(licensed=1), create_facility(licensed=1)
    fill(first, 2)
    fill(second, 2)
    inbox.set_threshold(audit.SYSTEM, "over_occupancy", facility_id=first.id, enabled=False)
    assert set(found(at("2024-03-04 09:00"), "over_occupancy")) == {f"facility:{second.id}"}
    inbox.set_threshold(audit.SYSTEM, "over_occupancy", enabled=False)
    assert found(at("2024-03-04 09:00"), "over_occupancy") == {}
    # A facility's own setting wins over the office-wide one.
    inbox.set_threshold(audit.SYSTEM, "over_occupancy", facility_id=first.id, enabled=True)
    assert set(found(at("2024-03-04 09:00"), "over_occupancy")) == {f"facility:{first.id}"}


def test_near_full_counts_reservations_against_the_share(ctx):
    house = create_facility(licensed=10, name="Haus Möwe")
    fill(house, 8)
    assert found(at("2024-03-04 09:00"), "near_full") == {}
    db.session.add(
        Reservation(
            facility_id=house.id,
            created_at=at("2024-03-04 08:00"),
            expires_at=at("2024-03-04 12:00"),
        )
    )
    db.session.flush()
    finding = found(at("2024-03-04 09:00"), "near_full")[f"facility:{house.id}"]
    assert finding.severity == WARNING
    assert finding.details["share"] == 0.9
    assert (finding.details["occupied"], finding.details["reserved"]) == (8, 1)
    # The reservation has run out: 8 of 10 is below 90 %.
    assert found(at("2024-03-04 13:00"), "near_full") == {}


def test_near_full_thresholds_office_wide_and_per_facility(ctx):
    first, second = create_facility(licensed=10), create_facility(licensed=10)
    fill(first, 8)
    fill(second, 8)
    instant = at("2024-03-04 09:00")
    assert found(instant, "near_full") == {}
    inbox.set_threshold(audit.SYSTEM, "near_full", share=0.8)
    assert set(found(instant, "near_full")) == {f"facility:{first.id}", f"facility:{second.id}"}
    inbox.set_threshold(audit.SYSTEM, "near_full", facility_id=second.id, share=0.95)
    assert set(found(instant, "near_full")) == {f"facility:{first.id}"}
    inbox.set_threshold(audit.SYSTEM, "near_full", facility_id=first.id, enabled=False)
    assert found(instant, "near_full") == {}
    stored = {
        (s.rule, s.facility_id): s.params for s in db.session.scalars(sa.select(AlertSetting))
    }
    assert stored[("near_full", None)] == {"share": 0.8}
    assert stored[("near_full", second.id)] == {"share": 0.95}
    assert stored[("near_full", first.id)] == {"enabled": False}


def test_near_full_is_not_raised_for_an_overfull_facility(ctx):
    house = create_facility(licensed=2)
    fill(house, 3)
    instant = at("2024-03-04 09:00")
    assert found(instant, "near_full") == {}
    assert set(found(instant, "over_occupancy")) == {f"facility:{house.id}"}


@pytest.mark.parametrize(
    ("rule", "values", "field"),
    [
        ("near_full", {"share": 0.3}, "share"),
        ("near_full", {"share": 1.5}, "share"),
        ("report_42a", {"warn_working_days": 7}, "warn_working_days"),
        ("long_stay", {"days": 1}, "days"),
        ("near_full", {"days": 3}, "days"),  # not a parameter of this rule
        ("no_such_rule", {}, "rule"),
    ],
)
def test_thresholds_out_of_range_are_refused(ctx, rule, values, field):
    with pytest.raises(RuleViolation) as refused:
        inbox.set_threshold(audit.SYSTEM, rule, **values)
    assert refused.value.field == field
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AlertSetting)) == 0


# --- no place for a profile --------------------------------------------------------------


def test_no_place_for_profile_sums_free_places_of_suitable_facilities(ctx):
    house = create_facility(licensed=3, age_min=0, age_max=17, genders="dfm")
    fill(house, 2)
    instant = at("2024-03-04 09:00")
    assert found(instant, "no_place_for_profile") == {}  # one place left for everybody
    inbox.set_threshold(audit.SYSTEM, "no_place_for_profile", threshold=1)
    warned = found(instant, "no_place_for_profile")
    assert set(warned) == {"profile:uma_boys_14_17", "profile:girls_12_17", "profile:children_0_6"}
    assert warned["profile:girls_12_17"].severity == WARNING
    assert warned["profile:girls_12_17"].details == {"profile": "Mädchen 12–17", "free": 1}
    create_stay(create_youth(), house, "2024-03-04 08:00")
    assert all(f.severity == CRITICAL for f in found(instant, "no_place_for_profile").values())


def test_no_place_for_profile_only_counts_facilities_that_accept_the_profile(ctx):
    first = create_facility(licensed=1, age_min=0, age_max=17, genders="dfm")
    create_facility(
        licensed=5, age_min=12, age_max=17, genders="f", uma_policy="none", kind="group_home"
    )
    create_facility(licensed=4, age_min=14, age_max=17, genders="m", uma_policy="none")
    instant = at("2024-03-04 09:00")
    fired = found(instant, "no_place_for_profile")
    # Girls have the girls' home, small children and umA boys only the full first house...
    assert "profile:girls_12_17" not in fired
    assert set(fired) == set()  # ...which is still empty: one place for them
    fill(first, 1)
    fired = found(instant, "no_place_for_profile")
    assert set(fired) == {"profile:uma_boys_14_17", "profile:children_0_6"}
    assert fired["profile:uma_boys_14_17"].details["free"] == 0
    inbox.set_threshold(audit.SYSTEM, "no_place_for_profile", enabled=False)
    assert found(instant, "no_place_for_profile") == {}


def test_inactive_facilities_count_for_no_rule(ctx):
    house = create_facility(licensed=1, active=False)
    fill(house, 2)
    assert found(at("2024-03-04 09:00"), "over_occupancy") == {}


# --- the §42a clock ------------------------------------------------------------------------

# Mon 28.10.2024, 10:00 in Berlin. Reformation Day (Thu 31.10.) is a public holiday in
# Sachsen but not in Berlin: the 7 working days end on Thu 07.11. (SN) or Wed 06.11. (BE).
START_42A = "2024-10-28 09:00"


def stay_42a(**overrides):
    house = create_facility(licensed=20, kind="clearing", name="Clearing Ost")
    youth = create_youth(uma=True, birth_date=date(2008, 2, 2), **overrides)
    return create_stay(youth, house, START_42A, legal_basis="42a")


def test_workdays_skip_weekends_and_the_lands_public_holidays():
    assert is_working_day(date(2024, 10, 30), "SN")
    assert not is_working_day(date(2024, 10, 31), "SN")  # Reformationstag
    assert is_working_day(date(2024, 10, 31), "BE")
    assert not is_working_day(date(2024, 11, 20), "SN")  # Buß- und Bettag
    assert is_working_day(date(2024, 11, 20), "BE")
    assert not is_working_day(date(2024, 11, 2), "SN")  # Saturday
    assert not is_working_day(date(2024, 12, 25), "BE")
    assert holiday_name(date(2024, 10, 31), "SN") == "Reformationstag"
    assert holiday_name(date(2024, 10, 31), "BE") is None
    assert add_working_days(date(2024, 10, 28), 7, "SN") == date(2024, 11, 7)
    assert add_working_days(date(2024, 10, 28), 7, "BE") == date(2024, 11, 6)
    assert add_working_days(date(2024, 10, 28), 0, "SN") == date(2024, 10, 28)
    # From a Friday: the weekend does not count.
    assert add_working_days(date(2024, 11, 1), 1, "SN") == date(2024, 11, 4)
    assert working_days_between(date(2024, 10, 28), date(2024, 11, 7), "SN") == 7
    assert working_days_between(date(2024, 10, 28), date(2024, 11, 7), "BE") == 8
    assert working_days_between(date(2024, 11, 7), date(2024, 10, 28), "SN") == -7
    assert working_days_between(date(2024, 11, 7), date(2024, 11, 7), "SN") == 0
    # Over the turn of the year (the calendar of each year is loaded).
    assert add_working_days(date(2024, 12, 23), 3, "SN") == date(2024, 12, 30)
    assert add_working_days(date(2024, 12, 30), 2, "SN") == date(2025, 1, 2)  # 1.1.


@pytest.mark.parametrize(
    ("day", "subdivision", "expected"),
    [
        ("2024-11-04", "SN", None),  # 3 working days left: not yet
        ("2024-11-05", "SN", (WARNING, "2024-11-07", 2)),
        ("2024-11-07", "SN", (WARNING, "2024-11-07", 0)),  # due today
        ("2024-11-08", "SN", (CRITICAL, "2024-11-07", -1)),  # overdue
        ("2024-11-09", "SN", (CRITICAL, "2024-11-07", -1)),  # a Saturday adds nothing
        ("2024-11-01", "BE", None),
        ("2024-11-04", "BE", (WARNING, "2024-11-06", 2)),
        ("2024-11-07", "BE", (CRITICAL, "2024-11-06", -1)),
    ],
)
def test_report_42a_due_after_seven_working_days_of_the_land(app, ctx, day, subdivision, expected):
    app.config["HOLIDAY_SUBDIVISION"] = subdivision
    stay = stay_42a()
    fired = found(datetime.fromisoformat(f"{day}T10:00+00:00"), "report_42a")
    if expected is None:
        assert fired == {}
        return
    finding = fired[f"stay:{stay.id}:42a_report"]
    assert (finding.severity, finding.details["due"], finding.details["left"]) == expected
    assert finding.details["facility"] == "Clearing Ost"
    assert finding.stay_id == stay.id
    # The stay page's deadline agrees.
    (report,) = [
        d
        for d in deadlines.deadlines_for_stay(
            start_at=stay.start_at,
            legal_basis="42a",
            facility_kind="clearing",
            birth_date=date(2008, 2, 2),
            instant=at(f"{day} 10:00"),
            subdivision=subdivision,
        )
        if d.code.value == "42a_report"
    ]
    assert report.due.isoformat() == expected[1]


def test_report_42a_warning_window_per_facility(ctx):
    stay = stay_42a()
    inbox.set_threshold(
        audit.SYSTEM, "report_42a", facility_id=stay.facility_id, warn_working_days=0
    )
    assert found(at("2024-11-05 10:00"), "report_42a") == {}
    assert set(found(at("2024-11-07 10:00"), "report_42a")) == {f"stay:{stay.id}:42a_report"}


def test_report_42a_only_for_unaccompanied_minors_on_42a(ctx):
    house = create_facility(licensed=5, kind="clearing")
    create_stay(create_youth(uma=False), house, START_42A, legal_basis="42a")
    create_stay(create_youth(uma=True), house, START_42A, legal_basis="42-1-3")
    assert found(at("2024-11-08 10:00"), "report_42a", "distribution_42a") == {}


@pytest.mark.parametrize(
    ("reported_on", "result"),
    [(date(2024, 10, 30), None), (None, "assigned_land"), (date(2024, 10, 30), "assigned_office")],
)
def test_record_distribution_stops_the_report_clock(ctx, reported_on, result):
    stay = stay_42a()
    assert set(found(at("2024-11-08 10:00"), "report_42a")) == {f"stay:{stay.id}:42a_report"}
    stays.record_distribution(
        audit.SYSTEM, stay.id, reported_on=reported_on, result=result, age_assessed_on=None
    )
    assert found(at("2024-11-08 10:00"), "report_42a") == {}


def test_a_resolved_report_alert_sends_a_resolved_notice(ctx):
    user("leitung@example.org")
    stay = stay_42a()
    engine.check(at("2024-11-08 10:00"), rules=["report_42a"])
    stays.record_distribution(
        audit.SYSTEM, stay.id, reported_on=date(2024, 11, 8), result=None, age_assessed_on=None
    )
    result = engine.check(at("2024-11-08 11:00"), rules=["report_42a"])
    assert result.resolved == 1
    kinds = [NotificationKind.FIRING]
    assert [n.kind for n in notifications(recipient="leitung@example.org")] == kinds
    engine.check(at("2024-11-08 11:29"), rules=["report_42a"])  # within the flapping grace
    assert [n.kind for n in notifications(recipient="leitung@example.org")] == kinds
    engine.check(at("2024-11-08 11:30"), rules=["report_42a"])
    engine.check(at("2024-11-08 12:30"), rules=["report_42a"])  # told once
    assert [n.kind for n in notifications(recipient="leitung@example.org")] == [
        NotificationKind.FIRING,
        NotificationKind.RESOLVED,
    ]


@pytest.mark.parametrize(
    ("day", "expected"),
    [("2024-11-24", None), ("2024-11-25", WARNING), ("2024-11-28", CRITICAL)],
)
def test_distribution_excluded_one_month_after_the_start(ctx, day, expected):
    stay = stay_42a()
    fired = found(at(f"{day} 10:00"), "distribution_42a")
    if expected is None:
        assert fired == {}
        return
    finding = fired[f"stay:{stay.id}:42a_distribution"]
    assert finding.severity == expected
    assert finding.details["date"] == "2024-11-28"


def test_distribution_rule_is_stopped_by_a_result_not_by_the_report(ctx):
    """§ 42b (4): a reported youth is still excluded if not distributed within a month."""
    reported, decided = stay_42a(), stay_42a()
    for stay, result in ((reported, None), (decided, "excluded_health")):
        stays.record_distribution(
            audit.SYSTEM,
            stay.id,
            reported_on=date(2024, 10, 29),
            result=result,
            age_assessed_on=None,
        )
    assert set(found(at("2024-11-28 10:00"), "distribution_42a")) == {
        f"stay:{reported.id}:42a_distribution"
    }


def test_distribution_warning_days_can_be_changed(ctx):
    stay = stay_42a()
    inbox.set_threshold(audit.SYSTEM, "distribution_42a", warn_days=0)
    assert found(at("2024-11-27 10:00"), "distribution_42a") == {}
    assert set(found(at("2024-11-28 10:00"), "distribution_42a")) == {
        f"stay:{stay.id}:42a_distribution"
    }


# --- other deadlines ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [("2024-10-31", None), ("2024-11-01", WARNING), ("2024-12-01", CRITICAL)],
)
def test_coming_of_age_within_30_days_in_a_facility_for_minors(ctx, day, expected):
    house = create_facility(licensed=5, kind="group_home", age_max=17)
    stay = create_stay(create_youth(birth_date=date(2006, 12, 1)), house, "2024-10-01 10:00")
    fired = found(at(f"{day} 10:00"), "coming_of_age")
    if expected is None:
        assert fired == {}
        return
    finding = fired[f"stay:{stay.id}:adult"]
    assert (finding.severity, finding.details["date"]) == (expected, "2024-12-01")


def test_coming_of_age_not_for_facilities_taking_young_adults(ctx):
    house = create_facility(licensed=5, kind="group_home", age_min=16, age_max=20)
    create_stay(create_youth(birth_date=date(2006, 12, 1)), house, "2024-10-01 10:00")
    assert found(at("2024-11-20 10:00"), "coming_of_age") == {}


def test_coming_of_age_window_can_be_widened(ctx):
    house = create_facility(licensed=5, kind="group_home")
    create_stay(create_youth(birth_date=date(2006, 12, 1)), house, "2024-10-01 10:00")
    assert found(at("2024-10-02 10:00"), "coming_of_age") == {}
    inbox.set_threshold(audit.SYSTEM, "coming_of_age", days=60)
    assert len(found(at("2024-10-02 10:00"), "coming_of_age")) == 1


def test_long_emergency_stays_only_in_emergency_facilities(ctx):
    shelter = create_facility(licensed=5, kind="inobhutnahme")
    home = create_facility(licensed=5, kind="group_home")
    stay = create_stay(create_youth(), shelter, "2024-01-01 00:00")
    create_stay(create_youth(), home, "2024-01-01 00:00")
    assert found(at("2024-03-31 00:00"), "long_stay") == {}  # exactly 90 days
    finding = found(at("2024-04-01 00:00"), "long_stay")[f"stay:{stay.id}:long"]
    assert (finding.severity, finding.details["days"]) == (INFO, 91)
    inbox.set_threshold(audit.SYSTEM, "long_stay", facility_id=shelter.id, days=120)
    assert found(at("2024-04-01 00:00"), "long_stay") == {}


def test_temporary_ceiling_expiring_within_seven_days(ctx):
    house = create_facility(licensed=10, name="Haus Kranich")
    period = capacity.add_capacity_period(
        audit.SYSTEM,
        house.id,
        valid_from=at("2024-03-01 00:00"),
        valid_until=at("2024-03-10 00:00"),
        licensed_places=10,
        usable_places=12,
        temporary_ceiling=12,
    )
    fill(house, 11, start="2024-03-01 10:00")
    db.session.flush()
    assert found(at("2024-03-02 23:00"), "ceiling_expiring") == {}
    finding = found(at("2024-03-03 00:00"), "ceiling_expiring")[
        f"facility:{house.id}:ceiling:{period.id}"
    ]
    assert finding.severity == WARNING
    assert finding.details == {
        "facility": "Haus Kranich",
        "ceiling": 12,
        "licensed": 10,
        "occupied": 11,
        "until": "2024-03-10T00:00:00+00:00",
    }
    inbox.set_threshold(audit.SYSTEM, "ceiling_expiring", days=3)
    assert found(at("2024-03-03 00:00"), "ceiling_expiring") == {}
    assert len(found(at("2024-03-07 00:00"), "ceiling_expiring")) == 1


def test_reservation_expired_unused_is_info_without_a_resolved_notice(ctx):
    user("leitung@example.org")
    house = create_facility(licensed=5, name="Haus Reiher")
    open_one = Reservation(
        facility_id=house.id, created_at=at("2024-03-04 08:00"), expires_at=at("2024-03-04 10:00")
    )
    used = Reservation(
        facility_id=house.id,
        created_at=at("2024-03-04 08:00"),
        expires_at=at("2024-03-04 10:00"),
        status=ReservationStatus.ADMITTED,
        closed_at=at("2024-03-04 09:00"),
    )
    db.session.add_all([open_one, used])
    db.session.flush()
    assert found(at("2024-03-04 09:30"), "reservation_expired") == {}
    fired = found(at("2024-03-04 10:30"), "reservation_expired")
    assert set(fired) == {f"reservation:{open_one.id}"}
    assert fired[f"reservation:{open_one.id}"].severity == INFO
    assert fired[f"reservation:{open_one.id}"].details["facility"] == "Haus Reiher"
    assert engine.check(at("2024-03-04 10:30"), rules=["reservation_expired"]).fired == 1
    assert engine.check(at("2024-03-05 10:30"), rules=["reservation_expired"]).resolved == 1
    alert = db.session.scalar(sa.select(Alert).filter_by(rule="reservation_expired"))
    assert alert.status == AlertStatus.RESOLVED
    assert [n.kind for n in notifications()] == [NotificationKind.FIRING]


def test_held_place_about_to_be_released(ctx):
    user("leitung@example.org")
    house = create_facility(licensed=5)
    stay = create_stay(create_youth(), house, "2024-03-01 10:00")
    stays.discharge(audit.SYSTEM, stay.id, reason="absconded", end=at("2024-03-02 10:00"))
    db.session.flush()
    assert stay.place_held_until == at("2024-03-05 10:00")
    assert found(at("2024-03-04 09:00"), "hold_expiring") == {}
    finding = found(at("2024-03-04 11:00"), "hold_expiring")[f"stay:{stay.id}:hold"]
    assert finding.severity == INFO
    assert finding.details["until"] == "2024-03-05T10:00:00+00:00"
    engine.check(at("2024-03-04 11:00"), rules=["hold_expiring"])
    assert engine.check(at("2024-03-05 11:00"), rules=["hold_expiring"]).resolved == 1
    assert [n.kind for n in notifications()] == [NotificationKind.FIRING]


# --- engine: state, episodes, reminders -------------------------------------------------------


def test_a_repeated_check_decides_nothing_twice(ctx):
    user("leitung@example.org")
    house = create_facility(licensed=1)
    fill(house, 2)
    assert engine.check(at("2024-03-04 09:00"), rules=["over_occupancy"]).fired == 1
    assert len(notifications()) == 1
    again = engine.check(at("2024-03-04 09:00"), rules=["over_occupancy"])
    later = engine.check(at("2024-03-04 20:00"), rules=["over_occupancy"])
    assert (again.fired, again.reminded, later.fired, later.reminded) == (0, 0, 0, 0)
    assert len(notifications()) == 1
    assert engine.check(at("2024-03-05 09:00"), rules=["over_occupancy"]).reminded == 1
    assert [n.kind for n in notifications()] == [
        NotificationKind.FIRING,
        NotificationKind.REMINDER,
    ]
    alert = db.session.scalar(sa.select(Alert))
    assert alert.episode == 1 and alert.last_notified_at == at("2024-03-05 09:00")


def test_queue_says_whether_it_queued(app, ctx, request):
    user("leitung@example.org")
    user("vertretung@example.org")
    fill(create_facility(licensed=1), 2)
    result = engine.check(at("2024-03-04 09:00"), rules=["over_occupancy"])
    assert len(notifications()) == 2
    assert result.notifications == 2
    assert engine.queue("summary|x", NotificationKind.SUMMARY, "a@example.org", {}) is True
    assert engine.queue("summary|x", NotificationKind.SUMMARY, "a@example.org", {}) is False


def test_repeat_interval_is_configurable(app, ctx):
    app.config["ALERT_REPEAT_HOURS"] = 2
    user("leitung@example.org")
    fill(create_facility(licensed=1), 2)
    engine.check(at("2024-03-04 09:00"), rules=["over_occupancy"])
    assert engine.check(at("2024-03-04 10:59"), rules=["over_occupancy"]).reminded == 0
    assert engine.check(at("2024-03-04 11:00"), rules=["over_occupancy"]).reminded == 1


def test_a_new_episode_after_the_grace_and_acknowledgement_is_reset(ctx):
    head = user("leitung@example.org")
    house = create_facility(licensed=1)
    create_stay(create_youth(), house, "2024-03-01 10:00")
    create_stay(create_youth(), house, "2024-03-01 10:00", "2024-03-04 10:00")
    create_stay(create_youth(), house, "2024-03-04 12:00")
    engine.check(at("2024-03-04 09:00"), rules=["over_occupancy"])
    alert = db.session.scalar(sa.select(Alert))
    inbox.acknowledge(audit.Actor.for_user(head), alert.id)
    assert engine.check(at("2024-03-04 11:00"), rules=["over_occupancy"]).resolved == 1
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_at == at("2024-03-04 11:00")
    result = engine.check(at("2024-03-04 12:00"), rules=["over_occupancy"])
    assert result.fired == 1
    assert alert.episode == 2 and alert.started_at == at("2024-03-04 12:00")
    assert alert.acknowledged_at is None and alert.acknowledged_by_id is None
    assert [n.kind for n in notifications()] == [
        NotificationKind.FIRING,
        NotificationKind.RESOLVED,
        NotificationKind.FIRING,
    ]


def test_flapping_back_keeps_the_acknowledgement_of_the_episode(ctx):
    head = user("leitung@example.org")
    house = create_facility(licensed=1)
    create_stay(create_youth(), house, "2024-03-01 10:00")
    create_stay(create_youth(), house, "2024-03-01 10:00", "2024-03-04 10:00")
    create_stay(create_youth(), house, "2024-03-04 10:10")
    engine.check(at("2024-03-04 09:00"), rules=["over_occupancy"])
    alert = db.session.scalar(sa.select(Alert))
    inbox.acknowledge(audit.Actor.for_user(head), alert.id)
    engine.check(at("2024-03-04 10:00"), rules=["over_occupancy"])
    engine.check(at("2024-03-04 10:15"), rules=["over_occupancy"])
    assert (alert.status, alert.episode) == (AlertStatus.FIRING, 1)
    assert alert.acknowledged_by_id == head.id


def test_inbox_lists_the_most_severe_first(ctx):
    on_call = audit.Actor.for_user(user("nacht@example.org", role="on_call"))
    shelter = create_facility(licensed=10, kind="inobhutnahme")
    fill(shelter, 9, start="2024-01-01 10:00")  # nearly full, and long stays
    fill(create_facility(licensed=1), 2, start="2024-04-01 10:00")
    engine.check(at("2024-04-05 10:00"), rules=["near_full", "over_occupancy", "long_stay"])
    shown = inbox.inbox(on_call, at("2024-04-05 10:00"))
    severities = [a.severity for a in shown]
    assert severities == sorted(severities, reverse=True)
    assert shown[0].rule == "over_occupancy" and shown[1].rule == "near_full"
    assert {a.rule for a in shown[2:]} == {"long_stay"} and len(shown) == 11


def test_at_once_check_of_one_rule_leaves_other_rules_alone(ctx):
    house = create_facility(licensed=10)
    fill(house, 9)
    engine.check(at("2024-03-04 09:00"))
    near = db.session.scalar(sa.select(Alert).filter_by(rule="near_full"))
    assert near.status == AlertStatus.FIRING
    engine.check(at("2024-03-04 10:00"), rules=["over_occupancy"])
    assert near.status == AlertStatus.FIRING


def test_silences_are_scoped_to_their_rule_and_subject(app, ctx):
    head = audit.Actor.for_user(user("leitung@example.org"))
    now = utc_now()
    start = f"{now - timedelta(days=20):%Y-%m-%d %H:%M}"
    first, second = create_facility(licensed=1), create_facility(licensed=1)
    fill(first, 2, start=start)
    fill(second, 2, start=start)
    clearing = create_facility(licensed=10, kind="clearing")
    muted, heard = (
        create_stay(create_youth(uma=True), clearing, start, legal_basis="42a") for _ in range(2)
    )
    inbox.silence(head, rule="over_occupancy", facility_id=first.id, reason="Umbau", hours=24)
    inbox.silence(head, rule="near_full", facility_id=second.id, reason="Umbau", hours=24)
    inbox.silence(head, rule="report_42a", stay_id=muted.id, reason="Meldung läuft", hours=24)
    ended = inbox.silence(head, rule=None, facility_id=second.id, reason="Umbau", hours=24)
    inbox.end_silence(head, ended.id)
    engine.check(now, rules=["over_occupancy", "report_42a"])
    subjects = {(n.payload["rule"], n.payload["details"].get("reference")) for n in notifications()}
    assert subjects == {
        ("over_occupancy", None),  # the second house only
        ("report_42a", heard.youth.reference),
    }
    over = [n for n in notifications() if n.payload["rule"] == "over_occupancy"]
    alerts = {a.subject: a for a in db.session.scalars(sa.select(Alert))}
    assert len(over) == 1 and over[0].alert_id == alerts[f"facility:{second.id}"].id
    # Silenced alerts are still kept and shown.
    assert alerts[f"facility:{first.id}"].status == AlertStatus.FIRING
    assert alerts[f"stay:{muted.id}:42a_report"].status == AlertStatus.FIRING


# --- recipients and what alerts say ------------------------------------------------------------


def test_recipients_are_active_department_heads(ctx):
    user("leitung@example.org")
    user("vertretung@example.org")
    user("ehemals@example.org", active=False)
    user("haus@example.org", role="facility_manager")
    user("nacht@example.org", role="on_call")
    user("admin@example.org", role="admin")
    fill(create_facility(licensed=1), 2)
    engine.check(at("2024-03-04 09:00"), rules=["over_occupancy"])
    assert sorted(n.recipient for n in notifications()) == [
        "leitung@example.org",
        "vertretung@example.org",
    ]


def test_deadline_alerts_also_go_to_the_planning_areas_team(app, ctx):
    app.config["ALERT_AREA_ADDRESSES"] = {
        "Mitte/Süd": "asd-sued@example.org",
        "Nord": "asd-nord@example.org",
    }
    user("leitung@example.org")
    stay = stay_42a()  # planning area Mitte/Süd
    fill(create_facility(licensed=1, planning_area="Mitte/Süd"), 2, start="2024-11-07 10:00")
    engine.check(at("2024-11-08 10:00"), rules=["report_42a", "over_occupancy"])
    by_rule: dict[str, set[str]] = {}
    for note in notifications():
        by_rule.setdefault(note.payload["rule"], set()).add(note.recipient)
    assert by_rule == {
        "report_42a": {"leitung@example.org", "asd-sued@example.org"},
        "over_occupancy": {"leitung@example.org"},
    }
    assert stay.facility.planning_area == "Mitte/Süd"


def test_alerts_never_say_birth_dates_or_file_numbers(app, ctx):
    user("leitung@example.org")
    house = create_facility(licensed=1, kind="clearing", name="Clearing West")
    birth = date(2006, 11, 20)
    youth = create_youth(uma=True, birth_date=birth, file_number="AZ-QXK-ERSTE")
    stay = create_stay(youth, house, "2024-10-01 09:00", legal_basis="42a")
    create_stay(create_youth(file_number="AZ-QXK-ZWEITE"), house, "2024-10-01 09:00")
    other = create_stay(create_youth(file_number="AZ-QXK-DRITTE"), house, "2024-10-01 09:00")
    stays.discharge(audit.SYSTEM, other.id, reason="absconded", end=at("2024-11-06 10:00"))
    engine.check(at("2024-11-08 10:00"))
    fired = {a.rule for a in db.session.scalars(sa.select(Alert))}
    assert {"over_occupancy", "report_42a", "distribution_42a", "coming_of_age"} <= fired
    assert "hold_expiring" in fired and len(notifications()) >= len(fired)
    texts = [
        json.dumps(a.details, ensure_ascii=False) for a in db.session.scalars(sa.select(Alert))
    ]
    texts += [json.dumps(n.payload, ensure_ascii=False) for n in notifications()]
    for text in texts:
        for secret in ("QXK", birth.isoformat(), "20.11.2006", "2010-05-17", "17.05.2010"):
            assert secret not in text, (secret, text)
    assert any(youth.reference in text for text in texts)  # pseudonymous references only
    subjects = {a.subject for a in db.session.scalars(sa.select(Alert))}
    assert f"stay:{stay.id}:42a_report" in subjects and f"stay:{other.id}:hold" in subjects


# --- the scheduler: one acts, the other waits --------------------------------------------------


def test_take_lease_lets_one_holder_act_until_its_lease_runs_out(app):
    start = at("2024-03-04 09:00:00")

    def take(holder: str, seconds_later: float) -> bool:
        with app.app_context():
            taken = scheduler_module.take_lease(
                holder, 60, start + timedelta(seconds=seconds_later)
            )
            db.session.commit()
            return taken

    assert take("eins", 0)
    assert not take("zwei", 10)
    assert take("eins", 30)  # renewed: until +90 s
    assert not take("zwei", 89)
    assert take("zwei", 91)
    assert not take("eins", 100)
    with app.app_context():
        lease = db.session.get(ProcessLease, "scheduler")
        assert lease.holder == "zwei"
        assert lease.started_at == start + timedelta(seconds=91)
        assert lease.lease_until == start + timedelta(seconds=151)


def test_two_schedulers_taking_the_lease_at_once_on_sqlite(app):
    """SQLite's write lock (BEGIN IMMEDIATE) lets exactly one of them act; on PostgreSQL
    the advisory lock taken before the lease does that (below)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("on PostgreSQL only the advisory lock serialises the first lease")
    barrier = threading.Barrier(4)
    taken: dict[str, bool] = {}

    def take(holder: str) -> None:
        with app.app_context():
            barrier.wait(5)
            taken[holder] = scheduler_module.take_lease(holder, 60)
            db.session.commit()

    threads = [threading.Thread(target=take, args=(f"s{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(taken) == 4 and sum(taken.values()) == 1
    with app.app_context():
        assert taken[db.session.get(ProcessLease, "scheduler").holder] is True


def test_health_reports_the_heartbeat(app, client):
    assert client.get("/health").get_json()["scheduler"] is None
    with app.app_context():
        scheduler_module.take_lease("planer-1", 60)
        db.session.commit()
    body = client.get("/health").get_json()
    assert body["status"] == "ok" and body["database"] is True
    beat = body["scheduler"]
    assert beat["holder"] == "planer-1" and beat["alive"] is True
    seen = datetime.fromisoformat(beat["heartbeat_at"])
    assert abs(seen - utc_now()) < timedelta(seconds=30)
    with app.app_context():
        scheduler_module.take_lease("planer-1", 60, at("2024-03-04 09:00"))
        db.session.commit()
    assert client.get("/health").get_json()["scheduler"]["alive"] is False


def _waiting(app, name: str):
    app.config["SCHEDULER_HEARTBEAT_SECONDS"] = 0.05
    second = scheduler_module.Scheduler(app, name=name)
    outcome: dict[str, bool] = {}
    thread = threading.Thread(target=lambda: outcome.update(acting=second.wait_until_acting()))
    thread.start()
    return second, thread, outcome


def _close(scheduler: scheduler_module.Scheduler) -> None:
    if scheduler._lock_connection is not None:
        scheduler._lock_connection.close()
        scheduler._lock_connection = None


def test_a_second_scheduler_waits_and_says_so(app, caplog):
    caplog.set_level(logging.INFO, logger="placement.scheduler")
    with app.app_context():
        scheduler_module.take_lease("eins", 600)
        db.session.commit()
    second, thread, outcome = _waiting(app, "zwei")
    try:
        time.sleep(0.4)
        assert thread.is_alive()
    finally:
        second.stop()
        thread.join(5)
        _close(second)
    assert outcome == {"acting": False}
    waiting = [r for r in caplog.records if "another scheduler is acting" in r.getMessage()]
    assert len(waiting) == 1 and waiting[0].levelno == logging.WARNING
    assert "zwei" in waiting[0].getMessage()
    with app.app_context():
        assert db.session.get(ProcessLease, "scheduler").holder == "eins"


def test_a_second_scheduler_takes_over_when_the_lease_runs_out(app, request, caplog):
    """The first one died without a word: its lease runs out and the second one acts."""
    caplog.set_level(logging.INFO, logger="placement.scheduler")
    with app.app_context():
        scheduler_module.take_lease("eins", 0.5)
        db.session.commit()
    second, thread, outcome = _waiting(app, "zwei")
    try:
        thread.join(5)
        assert outcome == {"acting": True}
    finally:
        second.stop()
        thread.join(5)
        _close(second)
    assert any("scheduler zwei acts" in r.getMessage() for r in caplog.records)
    with app.app_context():
        assert db.session.get(ProcessLease, "scheduler").holder == "zwei"


def test_on_postgresql_the_advisory_lock_keeps_a_second_scheduler_out(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("the advisory lock is PostgreSQL's")
    app.config["SCHEDULER_HEARTBEAT_SECONDS"] = 0.05
    first = scheduler_module.Scheduler(app, name="eins")
    assert first.wait_until_acting()
    # Even with its lease row gone stale, the lock held on its connection keeps others out.
    with app.app_context():
        lease = db.session.get(ProcessLease, "scheduler")
        lease.lease_until = at("2024-03-04 09:00")
        db.session.commit()
    second, thread, outcome = _waiting(app, "zwei")
    try:
        time.sleep(0.4)
        assert thread.is_alive()
    finally:
        second.stop()
        thread.join(5)
        _close(second)
        _close(first)
    assert outcome == {"acting": False}
    with app.app_context():
        assert db.session.get(ProcessLease, "scheduler").holder == "eins"


@pytest.fixture
def scheduled_jobs(app):
    """The jobs of the built scheduler, started paused in a thread (defaults applied)."""
    built = scheduler_module.Scheduler(app, name="plan").build()
    thread = threading.Thread(target=built.start, kwargs={"paused": True})
    thread.start()
    deadline = time.monotonic() + 5
    while not built.running and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield built, {job.id: job for job in built.get_jobs()}
    finally:
        built.shutdown(wait=False)
        thread.join(5)


def fire_times(trigger, start: datetime, end: datetime) -> list[datetime]:
    times, previous, current = [], None, start
    while True:
        upcoming = trigger.get_next_fire_time(previous, current)
        if upcoming is None or upcoming >= end:
            return times
        times.append(upcoming)
        previous, current = upcoming, upcoming + timedelta(seconds=1)


def test_schedule_has_no_job_between_two_and_three_oclock(scheduled_jobs):
    built, jobs = scheduled_jobs
    assert set(jobs) == {
        "alerts-check",
        "alerts-send",
        "summary",
        "land-report",
        "land-report-deadline",
        "heartbeat",
        "retention",
    }
    # A normal Monday, the night the clocks go forward (31.03.2024) and back (27.10.2024).
    days = [date(2024, 3, 4), date(2024, 3, 31), date(2024, 10, 27)]
    for job_id, job in jobs.items():
        if job_id == "heartbeat":
            continue  # the lease is renewed around the clock (an interval, not a wall time)
        assert job.trigger.timezone == ZoneInfo("Europe/Berlin"), job_id
        for day in days:
            start = datetime(day.year, day.month, day.day, tzinfo=BERLIN)
            end = (start + timedelta(days=1, hours=2)).replace(hour=0)
            for moment in fire_times(job.trigger, start, end):
                assert local_hour(moment) != 2, (job_id, moment)


def local_hour(moment: datetime) -> int:
    return moment.astimezone(BERLIN).hour


@pytest.mark.parametrize(("seconds", "per_hour"), [(5, 720), (120, 30)])
def test_outbox_delivery_interval_comes_from_the_settings(app, seconds, per_hour):
    app.config["ALERT_SEND_SECONDS"] = seconds
    built = scheduler_module.Scheduler(app, name="plan").build()
    (send,) = [job for job in built.get_jobs() if job.id == "alerts-send"]
    monday = datetime(2024, 3, 4, tzinfo=BERLIN)
    times = fire_times(send.trigger, monday, monday + timedelta(days=1))
    assert len(times) == 23 * per_hour  # never between 02:00 and 03:00
    assert {local_hour(moment) for moment in times} == set(range(24)) - {2}


def test_schedule_fire_times_and_job_defaults(app, scheduled_jobs):
    built, jobs = scheduled_jobs
    assert built.timezone == ZoneInfo("Europe/Berlin")
    for job_id, job in jobs.items():
        assert (job.misfire_grace_time, job.coalesce, job.max_instances) == (300, True, 1), job_id
    monday = datetime(2024, 3, 4, tzinfo=BERLIN)
    sunday = datetime(2024, 3, 3, tzinfo=BERLIN)
    day = timedelta(days=1)
    checks = fire_times(jobs["alerts-check"].trigger, monday, monday + day)
    assert len(checks) == 23 * 60 // app.config["ALERT_CHECK_MINUTES"]
    sends = fire_times(jobs["alerts-send"].trigger, monday, monday + day)
    assert len(sends) == 23 * 60
    assert [
        m.astimezone(BERLIN).strftime("%H:%M")
        for m in fire_times(jobs["summary"].trigger, sunday, sunday + day)
    ] == ["07:00"]
    assert fire_times(jobs["land-report"].trigger, sunday, sunday + day) == []
    (report,) = fire_times(jobs["land-report"].trigger, monday, monday + day)
    (deadline,) = fire_times(jobs["land-report-deadline"].trigger, monday, monday + day)
    assert report.astimezone(BERLIN).strftime("%H:%M") == "08:00"
    assert deadline.astimezone(BERLIN).strftime("%H:%M") == "09:45"
    assert jobs["heartbeat"].trigger.interval == timedelta(
        seconds=app.config["SCHEDULER_HEARTBEAT_SECONDS"]
    )
    assert jobs["alerts-send"].args[1] == "plan"


def test_the_utc_offset_of_berlin_is_respected_by_daily_jobs(scheduled_jobs):
    _, jobs = scheduled_jobs
    winter = datetime(2024, 1, 15, tzinfo=UTC)
    summer = datetime(2024, 7, 15, tzinfo=UTC)
    (in_winter,) = fire_times(jobs["summary"].trigger, winter, winter + timedelta(days=1))
    (in_summer,) = fire_times(jobs["summary"].trigger, summer, summer + timedelta(days=1))
    assert in_winter.astimezone(UTC).hour == 6 and in_summer.astimezone(UTC).hour == 5
