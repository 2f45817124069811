"""The early warning ("forecast_over"): a facility expected to exceed its licensed places
(or the ceiling in force) within N days with probability at least p, from the real
forecast on constructed histories. It fires, stays quiet, resolves when the risk goes away,
hands over to the over-occupancy alert when the warning comes true, keeps its episode while
the chance wavers just below the threshold, is silenced like the other rules, takes N and p
per facility and office-wide (also on the settings page), and its mail says why in one
German sentence (delivered to a real SMTP server on the loopback)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from placement import jobs
from placement.extensions import db
from placement.models import Alert, Facility, Notification, Stay
from placement.models.enums import AlertStatus, NotificationKind
from placement.services import forecast
from placement.services.accounts import audit, users
from placement.services.alerts import engine, inbox, rules
from placement.services.alerts.rules import WARNING
from placement.services.errors import RuleViolation
from placement.services.occupancy import capacity
from placement.timeutil import now as utc_now
from tests.conftest import create_facility, create_stay, create_youth, sign_in
from tests.smtp_server import smtp_for

RULE = "forecast_over"
HEAD = "leitung@example.org"
PASSWORD = "long enough password"


def minute(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)


# The histories end a few hours back, so that every check of a test (up to a few hours
# later) is at an instant that has been (the forecast starts from what is known).
NOW = minute(utc_now() - timedelta(hours=6))


def text(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M")


def german_day(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{day}.{month}.{year}"


# --- constructed histories -------------------------------------------------------------------


def stays_of_this_kind_last_long() -> None:
    """The length of stay of the facility kind, as history tells it: 40 stays of another
    house, long before the trailing window, that lasted 150 days each. A stay younger than
    that is hardly expected to end within the next weeks."""
    if db.session.scalar(sa.select(Facility.id).filter_by(name="Haus Archiv")) is not None:
        return
    archive = create_facility(licensed=50, name="Haus Archiv", age_min=0, age_max=17)
    for k in range(40):
        start = NOW - timedelta(days=360 - k)  # within the year the length of stay is read from
        create_stay(create_youth(), archive, text(start), text(start + timedelta(days=150)))


def growing_house(name: str, *, spare: int = 0, per_day: int = 1, weeks: int = 12):
    """A house that took ``per_day`` youths every day for ``weeks`` weeks and let none go
    yet (its kind's stays last 150 days): full now, with ``spare`` places left, and filling
    further at that rate."""
    stays_of_this_kind_last_long()
    days = weeks * 7
    occupants = days * per_day
    house = create_facility(licensed=occupants + spare, name=name, age_min=0, age_max=17)
    for day in range(days, 0, -1):
        for k in range(per_day):
            start = NOW - timedelta(days=day) + timedelta(hours=2 * k)
            create_stay(create_youth(), house, text(start))
    db.session.flush()
    return house


def chancy_house(name: str):
    """A growing house (one a day) with about a week's admissions of room left: whether
    it goes over within 7 days is a matter of chance."""
    return growing_house(name, spare=5, weeks=6)


def found(instant: datetime = NOW) -> dict[str, rules.Finding]:
    ctx = rules.context(instant)
    return {f.subject: f for f in rules.findings(ctx, [RULE])}


def head() -> audit.Actor:
    account = users.create_user(audit.SYSTEM, email=HEAD, role="department_head", password=PASSWORD)
    db.session.flush()
    return audit.Actor.for_user(account)


def alerts(rule: str = RULE) -> list[Alert]:
    return list(db.session.scalars(sa.select(Alert).filter_by(rule=rule)).all())


def notifications(rule: str = RULE) -> list[Notification]:
    rows = db.session.scalars(sa.select(Notification).order_by(Notification.id)).all()
    return [n for n in rows if n.payload.get("rule") == rule]


def max_chance(house, days: int = 7, at: datetime = NOW) -> float:
    """The highest chance within ``days`` of going over, as a check at ``at`` reads it (the
    window moves with the instant, so a later check may read another chance)."""
    projection = forecast.project_facilities([house.id], at=at, days=days)[house.id]
    return max(day.p_over for day in projection.days[:days])


# --- fires, or not -------------------------------------------------------------------------------


def test_fires_for_a_house_expected_over_its_places_within_a_week(ctx):
    house = growing_house("Haus Elster")
    projection = forecast.project_facilities([house.id], at=NOW, days=7)[house.id]
    day = forecast.first_shortage(projection, within_days=7, probability=0.7)
    assert day is not None  # the history makes it certain: one more a day, none leave
    finding = found()[f"facility:{house.id}"]
    assert finding.rule == RULE and finding.severity == WARNING
    assert finding.facility_id == house.id and finding.planning_area == "Mitte/Süd"
    details = finding.details
    assert details["facility"] == "Haus Elster"
    assert details["limit"] == 84 and details["occupied"] == 84
    assert details["date"] == day.date.isoformat()
    assert details["percent"] == round(day.p_over * 100) >= 70
    assert details["horizon"] == 7 and details["planned_ends"] == 0
    assert details["admissions_per_day"] == round(projection.admissions_per_day, 1) > 0


def test_quiet_for_a_house_with_room_for_the_expected_admissions(ctx):
    growing_house("Haus Weit", spare=40)
    growing_house("Haus Eng")
    assert [f.details["facility"] for f in found().values()] == ["Haus Eng"]


def test_a_house_over_its_limit_already_is_the_over_occupancy_rules_business(ctx):
    house = growing_house("Haus Voll", spare=-1)
    ctx_ = rules.context(NOW)
    assert f"facility:{house.id}" in {f.subject for f in rules.findings(ctx_, ["over_occupancy"])}
    assert found() == {}


def test_planned_ends_lower_the_risk_and_are_counted(ctx):
    house = growing_house("Haus Amsel", weeks=8)  # 56 youths, one a day
    assert f"facility:{house.id}" in found()
    # Ten of them leave in two days (hand-over after §42b): room for the next week.
    leaving = db.session.scalars(
        sa.select(Stay).where(Stay.facility_id == house.id).order_by(Stay.id).limit(10)
    ).all()
    for stay in leaving:
        stay.planned_end_on = (NOW + timedelta(days=2)).date()
        stay.planned_end_kind = "42b"
        stay.planned_end_recorded_at = NOW - timedelta(hours=1)
    db.session.flush()
    assert found() == {}
    projection = forecast.project_facilities([house.id], at=NOW, days=7)[house.id]
    assert projection.planned_ends == 10


def test_ceiling_running_out_is_seen_within_n_days_and_n_is_configurable(ctx):
    house = create_facility(licensed=10, name="Haus Kranich")
    until = NOW + timedelta(days=5)
    capacity.add_capacity_period(
        audit.SYSTEM,
        house.id,
        valid_from=NOW - timedelta(days=300),
        valid_until=until,
        licensed_places=10,
        usable_places=14,
        temporary_ceiling=14,
    )
    capacity.add_capacity_period(audit.SYSTEM, house.id, valid_from=until, licensed_places=10)
    stays_of_this_kind_last_long()
    for k in range(12):  # a month ago; stays of this kind last 150 days
        create_stay(create_youth(), house, text(NOW - timedelta(days=40 - k)))
    db.session.flush()
    finding = found()[f"facility:{house.id}"]  # 12 on 14 now, on 10 once the ceiling ends
    assert finding.details["limit"] == 10
    assert finding.details["date"] >= until.date().isoformat()
    assert finding.details["percent"] >= 90
    inbox.set_threshold(audit.SYSTEM, RULE, days=3)
    assert found() == {}
    inbox.set_threshold(audit.SYSTEM, RULE, facility_id=house.id, days=10)
    assert f"facility:{house.id}" in found()
    inbox.set_threshold(audit.SYSTEM, RULE, facility_id=house.id, enabled=False)
    assert found() == {}


def test_the_probability_threshold_is_configurable(ctx):
    house = chancy_house("Haus Specht")
    chance = max_chance(house)
    assert 0.15 < chance < 0.85, chance  # a matter of chance, not certain either way
    inbox.set_threshold(audit.SYSTEM, RULE, probability=round(min(chance + 0.05, 0.99), 2))
    assert found() == {}
    inbox.set_threshold(audit.SYSTEM, RULE, facility_id=house.id, probability=0.1)
    finding = found()[f"facility:{house.id}"]
    assert finding.details["percent"] >= 10


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": forecast.MAX_DAYS + 1}, "days"),
        ({"probability": 0.05}, "probability"),
        ({"probability": 1.0}, "probability"),
        ({"share": 0.9}, "share"),  # not a parameter of this rule
    ],
)
def test_thresholds_out_of_range_are_refused(ctx, values, field):
    with pytest.raises(RuleViolation) as refused:
        inbox.set_threshold(audit.SYSTEM, RULE, **values)
    assert refused.value.field == field


def test_the_forecast_is_computed_once_for_all_facilities(ctx, monkeypatch):
    growing_house("Haus Eins", weeks=8)
    growing_house("Haus Zwei", weeks=8)
    calls = []
    real = forecast.project_facilities

    def counted(ids=None, **kwargs):
        calls.append(sorted(ids or []))
        return real(ids, **kwargs)

    monkeypatch.setattr(forecast, "project_facilities", counted)
    assert len(found()) == 2
    assert len(calls) == 1
    names = set(db.session.scalars(sa.select(Facility.name).where(Facility.id.in_(calls[0]))))
    assert {"Haus Eins", "Haus Zwei"} <= names


# --- episodes: resolve, hand over, waver, silence ---------------------------------------------


def test_resolves_when_the_risk_goes_away(ctx):
    head()
    house = growing_house("Haus Möwe", weeks=8)
    result = engine.check(NOW, rules=[RULE])
    assert result.fired == 1
    (alert,) = alerts()
    assert alert.status == AlertStatus.FIRING and alert.facility_id == house.id
    # More places from now on: the risk is gone.
    capacity.add_capacity_period(audit.SYSTEM, house.id, valid_from=NOW, licensed_places=100)
    later = NOW + timedelta(minutes=10)
    assert engine.check(later, rules=[RULE]).resolved == 1
    assert alert.status == AlertStatus.RESOLVED
    engine.check(later + timedelta(minutes=31), rules=[RULE])  # after the flapping grace
    assert [n.kind for n in notifications()] == [
        NotificationKind.FIRING,
        NotificationKind.RESOLVED,
    ]


def test_a_warning_that_comes_true_is_handed_over_to_the_over_occupancy_alert(ctx):
    head()
    house = growing_house("Haus Reiher", weeks=8)
    engine.check(NOW)
    assert [a.status for a in alerts()] == [AlertStatus.FIRING]
    create_stay(create_youth(), house, text(NOW + timedelta(minutes=5)))  # one more: over
    later = NOW + timedelta(minutes=10)
    engine.check(later)
    (over,) = alerts("over_occupancy")
    assert over.status == AlertStatus.FIRING
    assert alerts()[0].status == AlertStatus.RESOLVED
    engine.check(later + timedelta(hours=1))  # well after the grace
    kinds = [n.kind for n in notifications()]
    assert kinds == [NotificationKind.FIRING]  # no "resolved": it came true
    assert [n.kind for n in notifications("over_occupancy")] == [NotificationKind.FIRING]


def test_a_chance_wavering_just_below_the_threshold_keeps_the_episode(ctx):
    head()
    house = chancy_house("Haus Meise")
    chance = max_chance(house)
    assert 0.15 < chance < 0.85, chance
    inbox.set_threshold(audit.SYSTEM, RULE, probability=round(max(chance - 0.02, 0.1), 2))
    engine.check(NOW, rules=[RULE])
    (alert,) = alerts()
    assert alert.status == AlertStatus.FIRING
    # The threshold is now a little above the chance: a new warning would not fire, the
    # one firing holds (within FORECAST_HOLD_MARGIN).
    later = NOW + timedelta(hours=1)
    chance = max_chance(house, at=later)
    inbox.set_threshold(audit.SYSTEM, RULE, probability=round(min(chance + 0.05, 0.99), 2))
    engine.check(later, rules=[RULE])
    assert (alert.status, alert.episode) == (AlertStatus.FIRING, 1)
    assert alert.facility_id == house.id
    # Well above it: resolved.
    later += timedelta(hours=1)
    chance = max_chance(house, at=later)
    inbox.set_threshold(audit.SYSTEM, RULE, probability=round(min(chance + 0.15, 0.99), 2))
    engine.check(later, rules=[RULE])
    assert alert.status == AlertStatus.RESOLVED


def test_a_new_warning_needs_the_full_threshold(ctx):
    house = chancy_house("Haus Star")
    chance = max_chance(house)
    assert 0.15 < chance < 0.85, chance
    inbox.set_threshold(audit.SYSTEM, RULE, probability=round(min(chance + 0.05, 0.99), 2))
    assert f"facility:{house.id}" not in found()


def test_a_silence_holds_the_notifications_not_the_alert(ctx):
    boss = head()
    first = growing_house("Haus Stumm", weeks=8)
    second = growing_house("Haus Laut", weeks=8)
    inbox.silence(boss, rule=RULE, facility_id=first.id, reason="Umzug geplant", hours=24)
    # A silence of another rule does not hold this one.
    inbox.silence(boss, rule="over_occupancy", facility_id=second.id, reason="bekannt", hours=24)
    engine.check(NOW, rules=[RULE])
    assert {a.facility_id: a.status for a in alerts()} == {
        first.id: AlertStatus.FIRING,
        second.id: AlertStatus.FIRING,
    }
    sent = notifications()
    assert [n.alert_id for n in sent] == [a.id for a in alerts() if a.facility_id == second.id]


def test_a_failing_forecast_holds_the_early_warnings_and_spares_the_other_rules(
    ctx, monkeypatch, caplog
):
    head()
    warned = growing_house("Haus Warnung")
    engine.check(NOW)
    (alert,) = alerts()
    details = dict(alert.details)

    def broken(*_args, **_kwargs):
        raise RuntimeError("forecast down")

    monkeypatch.setattr(forecast, "project_facilities", broken)
    over = growing_house("Haus Über", spare=-1)
    later = NOW + timedelta(hours=1)
    result = engine.check(later)
    assert result.resolved == 0
    assert (alert.status, alert.episode, alert.details) == (AlertStatus.FIRING, 1, details)
    assert alert.facility_id == warned.id
    # The over-occupancy rule ran as always.
    assert [a.facility_id for a in alerts("over_occupancy")] == [over.id]
    assert "forecast for the early-warning rule failed" in caplog.text


def test_a_check_of_a_later_instant_forecasts_from_now(ctx):
    house = growing_house("Haus Später")
    assert f"facility:{house.id}" in found(utc_now() + timedelta(days=2))


# --- the settings page --------------------------------------------------------------------------


def test_settings_page_shows_and_edits_days_and_probability(app, client):
    sign_in(app, client, role="department_head", email=HEAD)
    page = client.get("/alerts/settings").get_data(as_text=True)
    assert "forecast_over" in page and "days=7" in page and "probability=0.7" in page
    assert 'name="probability"' in page
    response = client.post(
        "/alerts/settings",
        data={"rule": RULE, "facility_id": "", "enabled": "1", "days": "5", "probability": "0,8"},
    )
    assert response.status_code == 302
    with app.app_context():
        stored = db.session.scalars(sa.select(rules.AlertSetting).filter_by(rule=RULE)).one()
        assert stored.params == {"enabled": True, "days": 5, "probability": 0.8}
    refused = client.post(
        "/alerts/settings",
        data={"rule": RULE, "enabled": "1", "probability": "1,5"},
        follow_redirects=True,
    )
    assert "„probability“ liegt außerhalb des erlaubten Bereichs." in refused.get_data(as_text=True)
    with app.app_context():
        stored = db.session.scalars(sa.select(rules.AlertSetting).filter_by(rule=RULE)).one()
        assert stored.params["probability"] == 0.8


# --- the mail ------------------------------------------------------------------------------


def test_the_mail_says_why_in_one_german_sentence(app):
    with smtp_for(app) as smtp:
        with app.app_context():
            head()
            inbox.set_threshold(audit.SYSTEM, "near_full", enabled=False)
            house = growing_house("Haus Elster")
            leaving = db.session.scalars(
                sa.select(Stay).where(Stay.facility_id == house.id).order_by(Stay.id).limit(2)
            ).all()
            for stay in leaving:
                stay.planned_end_on = (NOW + timedelta(days=3)).date()
                stay.planned_end_kind = "follow_on"
                stay.planned_end_recorded_at = NOW - timedelta(hours=1)
            db.session.commit()
            projection = forecast.project_facilities([house.id], at=NOW, days=7)[house.id]
            day = forecast.first_shortage(projection, within_days=7, probability=0.7)
            assert day is not None
            rate = f"{projection.admissions_per_day:.1f}".replace(".", ",")
        jobs.check_alerts(app, NOW)
        assert jobs.send_outbox(app, "sender-1") == (1, 0)
        (mail,) = smtp.messages
        assert mail.rcpt_tos == [HEAD]
        percent = round(day.chance * 100)
        assert day.p_over_by is not None and day.chance >= day.p_over
        shown = german_day(day.date.isoformat())
        assert mail.subject == f"Engpass erwartet: Haus Elster bis {shown} ({percent} %)"
        sentence = (
            f"Haus Elster: voraussichtlich bis {shown} über 84 Plätzen ({percent} %), jetzt 84 "
            f"belegt; im Mittel {rate} Aufnahmen pro Tag, 2 geplante Abgänge in 7 Tagen."
        )
        assert f"- {sentence}" in mail.text, mail.text
        assert f"<li>{sentence}</li>" in mail.html
        assert "Neu:" in mail.text
        assert not re.search(r"\d{4}-\d{2}-\d{2}", mail.text)  # dates as Germans write them


def test_the_sentence_for_no_planned_ends_and_coming_of_age(app):
    from placement.messages import alert_line, alert_title

    details = {
        "facility": "Haus Ost",
        "limit": 12,
        "date": "2026-12-05",
        "percent": 78,
        "expected": 13.2,
        "occupied": 11,
        "admissions_per_day": 1.4,
        "planned_ends": 0,
        "coming_of_age_ends": 1,
        "horizon": 7,
        "window_weeks": 12,
    }
    with app.test_request_context():
        assert alert_line(RULE, details) == (
            "Haus Ost: voraussichtlich bis 05.12.2026 über 12 Plätzen (78 %), jetzt 11 belegt; "
            "im Mittel 1,4 Aufnahmen pro Tag, keine geplanten Abgänge und 1 Abgang wegen "
            "Volljährigkeit in 7 Tagen."
        )
        assert alert_title(RULE, details) == "Engpass erwartet: Haus Ost bis 05.12.2026 (78 %)"
        one = {**details, "planned_ends": 1, "coming_of_age_ends": 0}
        assert "1 geplanter Abgang in 7 Tagen." in alert_line(RULE, one)


def test_the_inbox_shows_the_early_warning(app, client):
    with app.app_context():
        growing_house("Haus Zaunkönig", weeks=8)
        engine.check(NOW, rules=[RULE])
        db.session.commit()
    sign_in(app, client, role="department_head", email=HEAD)
    page = client.get("/alerts/").get_data(as_text=True)
    assert 'data-rule="forecast_over"' in page
    assert "Engpass erwartet: Haus Zaunkönig" in page
    assert "über 56 Plätzen" in page
