"""Alert delivery through a real SMTP server (aiosmtpd on the loopback): the mails, their
episodes, reminders and resolved notices, grouping, no duplicates under parallel checks
and senders, retries with backoff, dead letters, silences, the daily summary, the Land
report and its deadline, the alert raised at once by an admission, and the CLI."""

from __future__ import annotations

import csv
import io
import threading
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from placement import jobs
from placement.extensions import db
from placement.models import Alert, AuditEvent, Facility, LandReport, Notification, Stay, User
from placement.models.enums import AlertStatus, NotificationKind, NotificationStatus
from placement.services.accounts import audit, users
from placement.services.alerts import inbox, outbox
from placement.services.errors import Conflict, Forbidden
from placement.services.intake import stays
from placement.timeutil import now as real_now
from tests.conftest import at, create_facility, create_stay, create_youth
from tests.smtp_server import smtp_for

T0 = at("2024-03-04 09:00")  # a Monday, 10:00 in Berlin
HEAD = "leitung@example.org"
DEPUTY = "vertretung@example.org"
LAND = "lja-meldung@example.org"
PASSWORD = "long enough password"


@pytest.fixture
def smtp(app):
    with smtp_for(app) as server:
        yield server


@pytest.fixture
def smtp_down(app):
    """The mail server's port is known but nothing listens yet (``start()`` it later)."""
    with smtp_for(app, started=False) as server:
        yield server


class Clock:
    """The outbox's clock, moved forward by the test (retries, claims)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return real_now() + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    moved = Clock()
    monkeypatch.setattr(outbox, "utc_now", moved.now)
    return moved


# --- data -----------------------------------------------------------------------------------


def make_user(email: str, role: str = "department_head", name: str = "") -> User:
    return users.create_user(audit.SYSTEM, email=email, role=role, password=PASSWORD, name=name)


def office(app, *heads: str, near_full: bool = False) -> None:
    """Department heads, a facility manager (no mail) and a roomy spare house, so that
    every youth profile still has places. "Nearly full" is switched off unless asked for:
    a house that is no longer over its places is usually full."""
    with app.app_context():
        for email in heads:
            make_user(email, name="Erika Mustermann")
        make_user("haus@example.org", role="facility_manager")
        create_facility(licensed=60, name="Reserve Nord", kind="group_home")
        if not near_full:
            inbox.set_threshold(audit.SYSTEM, "near_full", enabled=False)
        db.session.commit()


def house(app, licensed: int, occupants: int, name: str, start: str = "2024-03-01 10:00", **kw):
    """A facility with ``occupants`` open stays from ``start``; returns (id, stay ids)."""
    with app.app_context():
        facility = create_facility(licensed=licensed, name=name, **kw)
        placed = [
            create_stay(
                create_youth(birth_date=date(2009, 4, 3), file_number=f"AZ-GEHEIM-{i}"),
                facility,
                start,
            )
            for i in range(occupants)
        ]
        db.session.commit()
        return facility.id, [s.id for s in placed]


def add_stay(app, facility_id: int, start: str, end: str | None = None, **youth) -> int:
    with app.app_context():
        stay = create_stay(create_youth(**youth), db.session.get(Facility, facility_id), start, end)
        db.session.commit()
        return stay.id


def discharge(app, stay_id: int, end: datetime, reason: str = "return_home") -> None:
    with app.app_context():
        stays.discharge(audit.SYSTEM, stay_id, reason=reason, end=end)
        db.session.commit()


def rows(app, **where) -> list[Notification]:
    with app.app_context():
        query = sa.select(Notification).filter_by(**where).order_by(Notification.id)
        found = list(db.session.scalars(query).all())
        db.session.expunge_all()
        return found


def the_alert(app, rule: str = "over_occupancy") -> Alert:
    with app.app_context():
        alert = db.session.scalar(sa.select(Alert).filter_by(rule=rule))
        db.session.expunge_all()
        return alert


def send(app, sender: str = "sender-1") -> tuple[int, int]:
    return jobs.send_outbox(app, sender)


def actor(app, email: str) -> audit.Actor:
    with app.app_context():
        return audit.Actor.for_user(db.session.scalar(sa.select(User).filter_by(email=email)))


# --- the firing mail ------------------------------------------------------------------------


def test_over_occupancy_mail_in_german_with_counts_only(app, smtp):
    office(app, HEAD)
    house(app, 2, 3, "Haus Am Mühlholz", kind="clearing")
    jobs.check_alerts(app, T0)
    assert send(app) == (1, 0)
    (mail,) = smtp.messages
    assert mail.rcpt_tos == [HEAD] and mail.to == HEAD
    assert mail.mail_from == app.config["MAIL_DEFAULT_SENDER"]
    assert mail.subject == "Überbelegung: Haus Am Mühlholz (+1)"
    assert mail.message.get_content_type() == "multipart/alternative"
    assert "Neu:" in mail.text
    assert "Haus Am Mühlholz ist überbelegt: 3 Personen bei 2 Plätzen (+1)." in mail.text
    assert "Europe/Berlin" in mail.text
    assert "<h2>Neu</h2>" in mail.html
    assert "<li>Haus Am Mühlholz ist überbelegt: 3 Personen bei 2 Plätzen (+1).</li>" in mail.html
    for secret in ("2009-04-03", "03.04.2009", "GEHEIM", "Y-", "Mustermann", "haus@"):
        assert secret not in mail.raw, secret
    (row,) = rows(app)
    assert (row.status, row.kind, row.attempts) == (NotificationStatus.SENT, "firing", 0)
    assert row.sent_at is not None
    assert send(app) == (0, 0)
    assert len(smtp.messages) == 1


def test_alert_mails_carry_date_and_message_id(app, smtp):
    office(app, HEAD)
    house(app, 1, 2, "Haus Zander")
    jobs.check_alerts(app, T0)
    send(app)
    (mail,) = smtp.messages
    assert mail.message["Date"] is not None
    assert mail.message["Message-ID"] is not None


def test_deadline_mail_also_goes_to_the_areas_team_with_the_reference_only(app, smtp):
    app.config["ALERT_AREA_ADDRESSES"] = {"Mitte/Süd": "asd-sued@example.org"}
    office(app, HEAD)
    with app.app_context():
        clearing = create_facility(licensed=10, kind="clearing", name="Clearing Ost")
        youth = create_youth(uma=True, birth_date=date(2008, 2, 2), file_number="AZ-GEHEIM-42")
        create_stay(youth, clearing, "2024-10-28 09:00", legal_basis="42a")  # Monday
        db.session.commit()
        reference = youth.reference
    jobs.check_alerts(app, at("2024-11-08 09:00"))  # due on 07.11. (Reformation Day in SN)
    assert send(app) == (2, 0)
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == ["asd-sued@example.org", HEAD]
    for mail in smtp.messages:
        assert mail.subject == f"§ 42a-Meldung fällig: {reference} (Clearing Ost)"
        assert (
            f"{reference} in Clearing Ost: Meldung zur Verteilung (§ 42a) bis 07.11.2024 fällig. "
            "Die Frist ist überschritten." in mail.text
        )
        for secret in ("GEHEIM", "2008-02-02", "02.02.2008"):
            assert secret not in mail.raw


def test_a_reminder_after_the_repeat_interval(app, smtp):
    office(app, HEAD)
    house(app, 2, 3, "Haus Elster")
    jobs.check_alerts(app, T0)
    send(app)
    jobs.check_alerts(app, T0 + timedelta(hours=23, minutes=59))
    assert send(app) == (0, 0)
    jobs.check_alerts(app, T0 + timedelta(hours=24))
    assert send(app) == (1, 0)
    first, reminder = smtp.messages
    assert reminder.subject == first.subject == "Überbelegung: Haus Elster (+1)"
    assert "Weiterhin:" in reminder.text and "Neu:" not in reminder.text
    jobs.check_alerts(app, T0 + timedelta(hours=30))
    assert send(app) == (0, 0)
    assert [r.kind for r in rows(app)] == ["firing", "reminder"]
    assert the_alert(app).episode == 1


def test_a_resolved_notice_after_a_discharge(app, smtp):
    office(app, HEAD)
    _, placed = house(app, 2, 3, "Haus Möwe")
    jobs.check_alerts(app, T0)
    send(app)
    discharge(app, placed[0], T0 + timedelta(hours=1))
    discharge(app, placed[1], T0 + timedelta(hours=1))
    result = jobs.check_alerts(app, T0 + timedelta(hours=2))
    assert result.resolved == 1
    assert send(app) == (0, 0)  # the resolved notice waits out the flapping grace
    jobs.check_alerts(app, T0 + timedelta(hours=2, minutes=30))
    assert send(app) == (1, 0)
    resolved = smtp.messages[-1]
    assert resolved.subject == "Erledigt: Überbelegung: Haus Möwe (+1)"
    assert "Erledigt:" in resolved.text and "Neu:" not in resolved.text
    alert = the_alert(app)
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_at == T0 + timedelta(hours=2)
    # Resolved alerts neither remind nor resolve again.
    jobs.check_alerts(app, T0 + timedelta(days=2))
    assert send(app) == (0, 0)
    assert len(smtp.messages) == 2


def test_flapping_back_within_the_grace_opens_no_new_episode(app, smtp):
    office(app, HEAD)
    facility, _ = house(app, 2, 2, "Haus Kranich")
    add_stay(app, facility, "2024-03-01 10:00", "2024-03-04 10:00")  # T0 + 1 h
    add_stay(app, facility, "2024-03-04 10:20", "2024-03-04 11:00")  # back after 20 min
    add_stay(app, facility, "2024-03-04 12:00")  # back an hour after the next end
    jobs.check_alerts(app, T0)
    jobs.check_alerts(app, T0 + timedelta(hours=1))
    assert send(app) == (1, 0)  # the firing notice; the resolved one waits out the grace
    jobs.check_alerts(app, T0 + timedelta(hours=1, minutes=20))
    alert = the_alert(app)
    assert (alert.status, alert.episode) == (AlertStatus.FIRING, 1)
    assert alert.started_at == T0 and alert.resolved_at is None
    assert send(app) == (0, 0)
    jobs.check_alerts(app, T0 + timedelta(hours=2))
    jobs.check_alerts(app, T0 + timedelta(hours=3))  # 60 min after resolving: beyond the grace
    alert = the_alert(app)
    assert (alert.status, alert.episode) == (AlertStatus.FIRING, 2)
    assert alert.started_at == T0 + timedelta(hours=3)
    assert send(app) == (1, 0)
    assert smtp.messages[-1].subject == "Überbelegung: Haus Kranich (+1)"
    # The late resolved notice of episode 1 and the new episode travel in one mail.
    assert "Neu:" in smtp.messages[-1].text and "Erledigt:" in smtp.messages[-1].text
    assert [(r.kind, r.key.split("|")[2]) for r in rows(app)] == [
        ("firing", "1"),
        ("resolved", "1"),
        ("firing", "2"),
    ]


def test_the_grace_is_configurable(app, smtp):
    app.config["ALERT_FLAP_GRACE_MINUTES"] = 90
    office(app, HEAD)
    facility, _ = house(app, 2, 2, "Haus Lerche")
    add_stay(app, facility, "2024-03-01 10:00", "2024-03-04 10:00")
    add_stay(app, facility, "2024-03-04 11:00")
    jobs.check_alerts(app, T0)
    jobs.check_alerts(app, T0 + timedelta(hours=1))
    jobs.check_alerts(app, T0 + timedelta(hours=2))
    assert the_alert(app).episode == 1


# --- grouping --------------------------------------------------------------------------------


def test_one_mail_per_recipient_and_run_naming_the_most_severe(app, smtp):
    office(app, HEAD, DEPUTY, near_full=True)
    house(app, 2, 4, "Haus Amsel")  # +2
    house(app, 1, 2, "Haus Buche")  # +1
    house(app, 10, 9, "Haus Clara")  # nearly full
    jobs.check_alerts(app, T0)
    assert send(app) == (2, 0)
    mails = smtp.messages
    assert sorted(m.rcpt_tos[0] for m in mails) == [HEAD, DEPUTY]
    for mail in mails:
        assert mail.subject == "Überbelegung: Haus Amsel (+2) und 2 weitere"
        lines = [line for line in mail.text.splitlines() if line.startswith("- ")]
        assert len(lines) == 3
        assert "fast voll" in lines[-1] and "Haus Clara" in lines[-1]  # the warning last
        assert {"Haus Amsel", "Haus Buche"} <= {line.split(" ist ")[0][2:] for line in lines}
    assert len(rows(app, status=NotificationStatus.SENT)) == 6


def test_a_firing_alert_names_the_mail_before_a_resolved_one(app, smtp):
    office(app, HEAD)
    _, first = house(app, 1, 2, "Haus Dohle")
    second, _ = house(app, 1, 1, "Haus Eiche")
    add_stay(app, second, "2024-03-04 09:30")
    jobs.check_alerts(app, T0)
    send(app)
    discharge(app, first[0], T0 + timedelta(minutes=30))
    jobs.check_alerts(app, T0 + timedelta(hours=1))
    jobs.check_alerts(app, T0 + timedelta(hours=1, minutes=30))  # Dohle's grace is over
    assert send(app) == (1, 0)
    mail = smtp.messages[-1]
    assert mail.subject == "Überbelegung: Haus Eiche (+1) und 1 weitere"
    text = mail.text
    assert text.index("Neu:") < text.index("Haus Eiche") < text.index("Erledigt:")
    assert text.index("Erledigt:") < text.index("Haus Dohle")


# --- nothing twice ---------------------------------------------------------------------------


def _in_threads(*calls) -> list:
    results: list = [None] * len(calls)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(calls))

    def run(index: int, call) -> None:
        try:
            barrier.wait(5)
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def test_no_duplicates_across_repeated_and_parallel_checks_and_senders(app, smtp):
    office(app, HEAD, DEPUTY, "dritte@example.org")
    house(app, 2, 3, "Haus Fink")
    minute = T0 + timedelta(minutes=1)
    _in_threads(*[lambda instant=i: jobs.check_alerts(app, instant) for i in [T0, minute] * 3])
    jobs.check_alerts(app, T0)
    jobs.check_alerts(app, minute)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Alert)) == 1
    assert sorted(r.recipient for r in rows(app)) == sorted([HEAD, DEPUTY, "dritte@example.org"])
    smtp.handler.delay = 0.2  # each delivery takes a moment: the senders overlap
    results = _in_threads(lambda: send(app, "sender-a"), lambda: send(app, "sender-b"))
    assert sum(sent for sent, _ in results) == 3 and sum(f for _, f in results) == 0
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == sorted(
        [HEAD, DEPUTY, "dritte@example.org"]
    )
    assert all(r.status == NotificationStatus.SENT for r in rows(app))
    assert send(app, "sender-c") == (0, 0)


def test_a_sender_that_died_before_marking_leaves_its_claim_to_run_out(app, smtp, clock):
    office(app, HEAD)
    house(app, 1, 2, "Haus Gans")
    jobs.check_alerts(app, T0)
    with app.app_context():
        claimed = outbox.claim("died")
        db.session.commit()
    assert list(claimed) == [HEAD]
    assert send(app, "sender-2") == (0, 0)  # still claimed
    clock.advance(seconds=app.config["ALERT_CLAIM_SECONDS"] + 1)
    assert send(app, "sender-2") == (1, 0)
    assert len(smtp.messages) == 1
    # The late sender cannot mark what another one delivered and marked.
    with app.app_context():
        outbox.mark_failed(claimed[HEAD], "died", "too late")
        db.session.commit()
    (row,) = rows(app)
    assert (row.status, row.attempts, row.claimed_by) == (NotificationStatus.SENT, 0, "sender-2")


# --- retries and dead letters -----------------------------------------------------------------


def test_delivery_is_retried_with_backoff_until_the_server_is_up(app, smtp_down, clock):
    office(app, HEAD)
    house(app, 1, 2, "Haus Habicht")
    jobs.check_alerts(app, T0)
    before = clock.now()
    assert send(app) == (0, 1)
    (row,) = rows(app)
    assert (row.status, row.attempts) == (NotificationStatus.PENDING, 1)
    assert row.last_error.startswith("ConnectionRefusedError")
    assert (
        before + timedelta(seconds=60) <= row.next_attempt_at <= clock.now() + timedelta(seconds=60)
    )
    assert row.claimed_until is None
    assert send(app) == (0, 0)  # not due yet: no attempt counted
    assert rows(app)[0].attempts == 1
    clock.advance(seconds=61)
    before = clock.now()
    assert send(app) == (0, 1)
    (row,) = rows(app)
    assert row.attempts == 2
    assert before + timedelta(seconds=120) <= row.next_attempt_at
    assert row.next_attempt_at <= clock.now() + timedelta(seconds=120)
    smtp_down.start()
    clock.advance(seconds=100)
    assert send(app) == (0, 0)  # the second pause is two minutes
    clock.advance(seconds=21)
    assert send(app) == (1, 0)
    (mail,) = smtp_down.messages
    assert mail.subject == "Überbelegung: Haus Habicht (+1)"
    (row,) = rows(app)
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 2)
    clock.advance(hours=1)
    assert send(app) == (0, 0)
    assert len(smtp_down.messages) == 1


def test_dead_letter_after_the_last_attempt_and_resend(app, smtp_down, clock):
    app.config["ALERT_MAX_ATTEMPTS"] = 2
    office(app, HEAD)
    with app.app_context():
        make_user("admin@example.org", role="admin")
        db.session.commit()
    house(app, 1, 2, "Haus Ibis")
    jobs.check_alerts(app, T0)
    assert send(app) == (0, 1)
    clock.advance(seconds=61)
    assert send(app) == (0, 1)
    (row,) = rows(app)
    assert (row.status, row.attempts) == (NotificationStatus.DEAD, 2)
    clock.advance(days=1)
    assert send(app) == (0, 0)  # a dead letter is not retried
    admin, head = actor(app, "admin@example.org"), actor(app, HEAD)
    with app.app_context():
        assert [n.id for n in outbox.dead_letters(admin)] == [row.id]
        with pytest.raises(Forbidden):
            outbox.dead_letters(head)
        with pytest.raises(Forbidden):
            outbox.resend(head, row.id)
        outbox.resend(admin, row.id)
        db.session.commit()
        with pytest.raises(Conflict):
            outbox.resend(admin, row.id)
        db.session.rollback()
        resent = db.session.scalar(sa.select(AuditEvent).filter_by(action="notification.resend"))
        assert resent.user_id == admin.user_id
    (row,) = rows(app)
    assert (row.status, row.attempts) == (NotificationStatus.PENDING, 0)
    smtp_down.start()
    assert send(app) == (1, 0)
    assert [m.subject for m in smtp_down.messages] == ["Überbelegung: Haus Ibis (+1)"]
    assert rows(app)[0].status == NotificationStatus.SENT


# --- silences --------------------------------------------------------------------------------


def _now_minute() -> datetime:
    return real_now().replace(second=0, microsecond=0)


def test_a_silence_suppresses_notifications_until_it_expires(app, smtp):
    now = _now_minute()
    office(app, HEAD)
    silenced, _ = house(app, 1, 2, "Haus Jaguar", start=f"{now - timedelta(days=2):%Y-%m-%d %H:%M}")
    other, _ = house(app, 1, 1, "Haus Kiebitz", start=f"{now - timedelta(days=2):%Y-%m-%d %H:%M}")
    add_stay(app, other, f"{now + timedelta(hours=24):%Y-%m-%d %H:%M}")
    jobs.check_alerts(app, now)
    assert send(app) == (1, 0)
    head = actor(app, HEAD)
    with app.app_context():
        inbox.silence(
            head,
            rule="over_occupancy",
            facility_id=silenced,
            reason="Mit dem Landesjugendamt abgestimmt",
            hours=48,
        )
        db.session.commit()
    jobs.check_alerts(app, now + timedelta(hours=25))  # a reminder would be due
    assert send(app) == (1, 0)  # only the other house, which is not silenced
    assert smtp.messages[-1].subject == "Überbelegung: Haus Kiebitz (+1)"
    jobs.check_alerts(app, now + timedelta(hours=47))
    assert send(app) == (0, 0)
    with app.app_context():
        shown = inbox.inbox(head, now + timedelta(hours=47))
        assert {a.details["facility"] for a in shown} == {"Haus Jaguar", "Haus Kiebitz"}
        assert all(a.status == AlertStatus.FIRING for a in shown)
    jobs.check_alerts(app, now + timedelta(hours=48, minutes=30))  # the silence has expired
    assert send(app) == (1, 0)
    mail = smtp.messages[-1]
    assert mail.subject == "Überbelegung: Haus Jaguar (+1)" and "Weiterhin:" in mail.text


def test_an_ended_silence_lets_notifications_through_again(app, smtp):
    now = _now_minute()
    office(app, HEAD)
    facility, _ = house(app, 1, 2, "Haus Lama", start=f"{now - timedelta(days=1):%Y-%m-%d %H:%M}")
    head = actor(app, HEAD)
    with app.app_context():
        made = inbox.silence(head, rule=None, facility_id=facility, reason="Umbau", hours=72)
        db.session.commit()
        silence_id = made.id
    jobs.check_alerts(app, now)
    assert send(app) == (0, 0)  # silenced from the start
    assert the_alert(app).status == AlertStatus.FIRING
    with app.app_context():
        inbox.end_silence(head, silence_id)
        db.session.commit()
    jobs.check_alerts(app, now + timedelta(minutes=5))
    assert send(app) == (1, 0)
    assert smtp.messages[-1].subject == "Überbelegung: Haus Lama (+1)"


# --- daily summary -----------------------------------------------------------------------------


def test_daily_summary_only_when_something_fires(app, smtp):
    office(app, HEAD, DEPUTY)
    _, placed = house(app, 1, 2, "Haus Marder")
    jobs.daily_summary(app, T0)
    assert rows(app) == []
    jobs.check_alerts(app, T0)
    send(app)
    smtp.clear()
    morning = at("2024-03-05 06:00")  # 07:00 in Berlin
    jobs.daily_summary(app, morning)
    jobs.daily_summary(app, morning + timedelta(minutes=30))  # once a day
    summaries = rows(app, kind=NotificationKind.SUMMARY)
    assert sorted(r.recipient for r in summaries) == [HEAD, DEPUTY]
    assert send(app) == (2, 0)
    for mail in smtp.messages:
        assert mail.subject == "Tageszusammenfassung: 1 offener Hinweis"
        assert "Stand 05.03.2024: 1 offener Hinweis." in mail.text
        assert "- Haus Marder ist überbelegt: 2 Personen bei 1 Plätzen (+1)." in mail.text
        assert "GEHEIM" not in mail.raw
    discharge(app, placed[0], at("2024-03-05 08:00"))
    jobs.check_alerts(app, at("2024-03-05 09:00"))
    send(app)
    jobs.daily_summary(app, at("2024-03-06 06:00"))
    assert len(rows(app, kind=NotificationKind.SUMMARY)) == 2


# --- the Land report ---------------------------------------------------------------------------


def uma_in_care(app) -> None:
    with app.app_context():
        clearing = create_facility(licensed=10, kind="clearing", name="Clearing Süd")
        home = create_facility(licensed=10, kind="uma_group_home", name="umA-WG Ost")
        for _ in range(2):
            create_stay(create_youth(uma=True), clearing, "2024-11-01 10:00", legal_basis="42a")
        create_stay(create_youth(uma=True), home, "2024-11-01 10:00", legal_basis="42-1-3")
        create_stay(create_youth(uma=False), home, "2024-11-01 10:00")  # not an umA
        create_stay(  # ended before the day
            create_youth(uma=True), home, "2024-11-01 10:00", "2024-11-10 10:00"
        )
        db.session.commit()


def test_land_report_on_a_working_day_with_the_csv(app, smtp):
    app.config["LAND_REPORT_ADDRESS"] = LAND
    office(app, HEAD)
    uma_in_care(app)
    tuesday = at("2024-11-19 07:00")  # 08:00 in Berlin
    jobs.land_report(app, tuesday)
    jobs.land_report(app, tuesday + timedelta(minutes=10))  # once a day
    (row,) = rows(app)
    assert (row.kind, row.recipient) == ("land_report", LAND)
    with app.app_context():
        (report,) = db.session.scalars(sa.select(LandReport)).all()
        assert report.day == date(2024, 11, 19)
        assert report.counts == {"clearing": {"42a": 2}, "uma_group_home": {"42-1-3": 1}}
    assert send(app) == (1, 0)
    (mail,) = smtp.messages
    assert mail.rcpt_tos == [LAND]
    assert mail.subject == "Tägliche Belegungsmeldung umA 19.11.2024"
    assert "Unbegleitete Minderjährige in Obhut am 19.11.2024: 3." in mail.text
    assert "Unbegleitete Minderjährige" in mail.html
    assert mail.message.get_content_type() == "multipart/mixed"
    attachments = mail.attachments()
    assert list(attachments) == ["belegungsmeldung-uma-2024-11-19.csv"]
    data = attachments["belegungsmeldung-uma-2024-11-19.csv"]
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for spreadsheet software
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert table[0][:2] == ["Stichtag", "Einrichtungsart"] and table[0][-1] == "Gesamt"
    by_kind = {line[1]: line[2:] for line in table[1:]}
    assert all(line[0] == "19.11.2024" for line in table[1:])
    assert by_kind["Clearingeinrichtung"] == ["0", "0", "0", "2", "0", "0", "2"]
    assert by_kind["umA-Wohngruppe"] == ["0", "0", "1", "0", "0", "0", "1"]
    assert by_kind["Gesamt"] == ["0", "0", "1", "2", "0", "0", "3"]
    assert "Y-" not in mail.raw  # counts only


@pytest.mark.parametrize(
    ("day", "subdivision", "sent"),
    [
        ("2024-10-31", "SN", False),  # Reformationstag in Sachsen
        ("2024-11-20", "SN", False),  # Buß- und Bettag in Sachsen
        ("2024-11-20", "BE", True),  # an ordinary Wednesday in Berlin
        ("2024-11-23", "SN", False),  # Saturday
    ],
)
def test_no_land_report_on_a_public_holiday_of_the_land(app, smtp, day, subdivision, sent):
    app.config["LAND_REPORT_ADDRESS"] = LAND
    app.config["HOLIDAY_SUBDIVISION"] = subdivision
    office(app, HEAD)
    uma_in_care(app)
    jobs.land_report(app, at(f"{day} 07:00"))
    assert send(app) == ((1, 0) if sent else (0, 0))
    jobs.land_report_deadline(app, at(f"{day} 08:45"))
    assert send(app) == (0, 0)  # sent in time, or no report due that day
    with app.app_context():
        reports = db.session.scalar(sa.select(sa.func.count()).select_from(LandReport))
        assert reports == (1 if sent else 0)
    if sent:
        assert [m.rcpt_tos for m in smtp.messages] == [[LAND]]


def test_land_report_deadline_reminds_department_heads_when_not_sent(app, smtp):
    """Without an address nothing can go to the Land: department heads hear by 09:45."""
    app.config["LAND_REPORT_ADDRESS"] = None
    office(app, HEAD, DEPUTY)
    uma_in_care(app)
    jobs.land_report(app, at("2024-11-19 07:00"))
    assert rows(app) == []
    jobs.land_report_deadline(app, at("2024-11-19 08:45"))
    jobs.land_report_deadline(app, at("2024-11-19 09:45"))  # once a day
    reminders = rows(app, kind=NotificationKind.LAND_REPORT_REMINDER)
    assert sorted(r.recipient for r in reminders) == [HEAD, DEPUTY]
    assert send(app) == (2, 0)
    for mail in smtp.messages:
        assert mail.subject == "Belegungsmeldung umA 19.11.2024 nicht gesendet"
        assert "Die Belegungsmeldung für den 19.11.2024 ist nicht beim Land angekommen." in (
            mail.text
        )
        assert "LAND_REPORT_ADDRESS" in mail.text
        assert "Berichte → Belegungsmeldung umA" in mail.text


def test_land_report_deadline_after_a_failed_and_after_a_sent_report(app, smtp_down):
    app.config["LAND_REPORT_ADDRESS"] = LAND
    office(app, HEAD)
    uma_in_care(app)
    jobs.land_report(app, at("2024-11-19 07:00"))
    assert send(app) == (0, 1)
    smtp_down.start()
    jobs.land_report_deadline(app, at("2024-11-19 08:45"))
    assert send(app) == (1, 0)  # the reminder; the report waits for its retry
    (mail,) = smtp_down.messages
    assert mail.rcpt_tos == [HEAD]
    assert "Die Meldung konnte bisher nicht zugestellt werden." in mail.text
    # The next day the report goes out in time: no reminder.
    jobs.land_report(app, at("2024-11-21 07:00"))
    assert send(app) == (1, 0)
    jobs.land_report_deadline(app, at("2024-11-21 08:45"))
    assert send(app) == (0, 0)
    assert len(rows(app, kind=NotificationKind.LAND_REPORT_REMINDER)) == 1


# --- at once: an admission over capacity ----------------------------------------------------


def _fresh_house(app, licensed: int, occupants: int, name: str, **kw) -> int:
    yesterday = real_now() - timedelta(days=1)
    facility, _ = house(app, licensed, occupants, name, start=f"{yesterday:%Y-%m-%d %H:%M}", **kw)
    return facility


def test_an_admission_over_capacity_raises_its_alert_in_the_same_request(app, api, smtp):
    office(app, HEAD)
    full = _fresh_house(app, 1, 1, "Haus Nachtigall")
    response = api.post(
        "/admissions",
        json={
            "facility_id": full,
            "legal_basis": "42-1-2",
            "youth": {"birth_date": "2010-04-01", "gender": "m", "uma": False},
        },
        role="on_call",
    )
    assert response.status_code == 201
    assert response.get_json()["warnings"][0]["code"] == "over_capacity"
    alert = the_alert(app)
    assert alert is not None and alert.status == AlertStatus.FIRING
    assert alert.subject == f"facility:{full}" and alert.details["over_by"] == 1
    (row,) = rows(app)
    assert (row.kind, row.recipient, row.alert_id) == ("firing", HEAD, alert.id)
    assert send(app) == (1, 0)
    assert smtp.messages[0].subject == "Überbelegung: Haus Nachtigall (+1)"
    # The scheduled check that follows decides nothing new.
    jobs.check_alerts(app)
    assert len(rows(app)) == 1


def test_a_move_over_capacity_raises_its_alert_at_once(app, api):
    office(app, HEAD)
    full = _fresh_house(app, 1, 1, "Haus Otter")
    source = _fresh_house(app, 5, 1, "Haus Pirol")
    with app.app_context():
        stay_id = db.session.scalar(sa.select(Stay.id).filter_by(facility_id=source))
    response = api.post(f"/stays/{stay_id}/move", json={"facility_id": full})
    assert response.status_code == 201
    alert = the_alert(app)
    assert alert.subject == f"facility:{full}"
    assert [r.recipient for r in rows(app)] == [HEAD]


def test_a_failed_admission_writes_no_alert(app, api):
    office(app, HEAD)
    full = _fresh_house(app, 1, 1, "Haus Quelle", age_min=12, age_max=17)
    young = {"birth_date": "2021-04-01", "gender": "m", "uma": False}
    refused = api.post(
        "/admissions",
        json={"facility_id": full, "legal_basis": "42-1-2", "youth": young},
        role="on_call",
    )
    assert refused.status_code == 422 and refused.get_json()["field"] == "override_reason"
    future = {"birth_date": "2099-01-01", "gender": "m", "uma": False}
    invalid = api.post(
        "/admissions",
        json={"facility_id": full, "legal_basis": "42-1-2", "youth": future},
        role="on_call",
    )
    assert invalid.status_code in (400, 422)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Alert)) == 0
    assert rows(app) == []


# --- the commands -------------------------------------------------------------------------


def test_cli_alerts_check_and_send(app, smtp):
    office(app, HEAD)
    _fresh_house(app, 1, 2, "Haus Rabe")
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["alerts", "check"])
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("Neu: 1, Erinnerungen: 0, erledigt: 0, ")
    again = runner.invoke(args=["alerts", "check"])
    assert again.output.startswith("Neu: 0, Erinnerungen: 0, erledigt: 0, ")
    assert len(rows(app)) == 1
    sent = runner.invoke(args=["alerts", "send"])
    assert sent.exit_code == 0, sent.output
    assert sent.output.strip() == "1 Mails gesendet, 0 fehlgeschlagen (werden wiederholt)."
    assert [m.subject for m in smtp.messages] == ["Überbelegung: Haus Rabe (+1)"]
    smtp.stop()
    _fresh_house(app, 1, 2, "Haus Schwan")
    runner.invoke(args=["alerts", "check"])
    failed = runner.invoke(args=["alerts", "send"])
    assert failed.exit_code == 0
    assert failed.output.strip() == "0 Mails gesendet, 1 fehlgeschlagen (werden wiederholt)."


def test_jobs_and_commands_report_what_they_queued(app, smtp, request):
    app.config["LAND_REPORT_ADDRESS"] = LAND
    office(app, HEAD, DEPUTY)
    _fresh_house(app, 1, 2, "Haus Taube")
    checked = app.test_cli_runner().invoke(args=["alerts", "check"])
    assert checked.output.strip() == "Neu: 1, Erinnerungen: 0, erledigt: 0, Benachrichtigungen: 2."
    assert jobs.daily_summary(app, real_now()) == 2
    assert jobs.land_report(app, at("2024-11-19 07:00")) is True
    assert jobs.land_report_deadline(app, at("2024-11-19 08:45")) == 2
