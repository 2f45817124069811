"""The alert pages as each role sees them: the inbox with acknowledgement, silences,
thresholds, the dead letters with resend, the Land report page and its CSV, and the §42a
procedure on the stay page and in the API."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from placement import jobs
from placement.extensions import db
from placement.models import (
    Alert,
    AlertSetting,
    AuditEvent,
    Facility,
    Notification,
    Silence,
    Stay,
    User,
)
from placement.models.enums import NotificationKind, NotificationStatus
from placement.services.accounts import audit
from placement.services.alerts import inbox
from placement.services.intake.rules import berlin_day
from placement.timeutil import now as real_now
from tests.conftest import at, create_facility, create_stay, create_youth, sign_in

T0 = at("2024-03-04 09:00")
ROLES = ["department_head", "facility_manager", "on_call", "admin"]


def client_as(app, role: str):
    client = app.test_client()
    response = sign_in(app, client, role=role, email=f"{role}@example.org")
    assert response.status_code == 302
    return client


def user_id(app, role: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(User.id).filter_by(email=f"{role}@example.org"))


def over_occupied(app, name: str = "Haus Amsel", licensed: int = 1, occupants: int = 2) -> int:
    with app.app_context():
        create_facility(licensed=60, name="Reserve Nord", kind="group_home")
        facility = create_facility(licensed=licensed, name=name)
        for _ in range(occupants):
            create_stay(create_youth(), facility, "2024-03-01 10:00")
        db.session.commit()
        facility_id = facility.id
    jobs.check_alerts(app, T0)
    return facility_id


def alert_id(app, rule: str = "over_occupancy") -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Alert.id).filter_by(rule=rule))


def count(app, model, **where) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).filter_by(**where))


def page(response) -> str:
    return response.get_data(as_text=True)


# --- the inbox ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_inbox(app, role):
    over_occupied(app)
    client = client_as(app, role)
    response = client.get("/alerts/")
    assert response.status_code == 200
    html = page(response)
    assert "Überbelegung: Haus Amsel (+1)" in html
    assert "Haus Amsel ist überbelegt: 2 Personen bei 1 Plätzen (+1)." in html
    assert "dringend" in html and "Zur Kenntnis</button>" in html
    manages = role in ("department_head", "admin")
    assert ('href="/alerts/silences"' in html) is manages
    assert ("Stummschalten</a>" in html) is manages
    assert 'href="/alerts/"' in page(client.get("/"))  # in the navigation


def test_acknowledge_records_who_and_when(app):
    over_occupied(app)
    client = client_as(app, "facility_manager")
    before = real_now()
    response = client.post(f"/alerts/{alert_id(app)}/ack", follow_redirects=True)
    assert response.status_code == 200
    html = page(response)
    assert "Zur Kenntnis genommen." in html
    assert "Zur Kenntnis</button>" not in html
    with app.app_context():
        alert = db.session.get(Alert, alert_id(app))
        assert alert.acknowledged_by_id == user_id(app, "facility_manager")
        assert before - timedelta(seconds=1) <= alert.acknowledged_at <= real_now()
        event = db.session.scalar(sa.select(AuditEvent).filter_by(action="alert.acknowledge"))
        assert event.user_id == alert.acknowledged_by_id and event.object_id == alert.id
    unknown = client.post("/alerts/999999/ack", follow_redirects=True)
    assert "Dieser Hinweis ist nicht bekannt." in page(unknown)


# --- silences ------------------------------------------------------------------------------


def test_department_head_silences_with_reason_and_hours_and_ends_it(app):
    facility = over_occupied(app)
    client = client_as(app, "department_head")
    form = client.get(f"/alerts/silences?rule=over_occupancy&facility_id={facility}")
    html = page(form)
    assert "<option selected>over_occupancy</option>" in html
    assert f'<option value="{facility}" selected>Haus Amsel</option>' in html
    before = real_now()
    response = client.post(
        "/alerts/silences",
        data={
            "rule": "over_occupancy",
            "facility_id": str(facility),
            "reason": "Mit dem Landesjugendamt abgestimmt",
            "hours": "24",
        },
        follow_redirects=True,
    )
    html = page(response)
    assert "Stummgeschaltet." in html and "Mit dem Landesjugendamt abgestimmt" in html
    with app.app_context():
        (made,) = db.session.scalars(sa.select(Silence)).all()
        assert (made.rule, made.facility_id, made.stay_id) == ("over_occupancy", facility, None)
        assert made.created_by_id == user_id(app, "department_head")
        expected = before + timedelta(hours=24)
        assert expected <= made.expires_at <= real_now() + timedelta(hours=24)
        silence_id = made.id
    ended = client.post(f"/alerts/silences/{silence_id}/end", follow_redirects=True)
    assert "Stummschaltung aufgehoben." in page(ended)
    assert "Keine Stummschaltung aktiv." in page(ended)
    with app.app_context():
        assert db.session.get(Silence, silence_id).ended_at is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reason": ""}, "Bitte angeben, warum stummgeschaltet wird."),
        ({"reason": "ab"}, "Bitte den Grund in ein paar Worten angeben."),
        ({"hours": ""}, "Bitte angeben, bis wann (höchstens 90 Tage)."),
        ({"hours": "0"}, "Bitte angeben, bis wann (höchstens 90 Tage)."),
        ({"hours": "2161"}, "Bitte angeben, bis wann (höchstens 90 Tage)."),
        ({"hours": "zwei"}, "Bitte angeben, bis wann (höchstens 90 Tage)."),
        ({"facility_id": ""}, "Bitte eine Einrichtung oder einen Aufenthalt wählen."),
        ({"rule": "quatsch"}, "unbekannter Wert"),
    ],
)
def test_bad_silences_are_refused_with_a_message(app, changes, message):
    facility = over_occupied(app)
    client = client_as(app, "department_head")
    data = {"rule": "over_occupancy", "facility_id": str(facility), "reason": "Umbau im Haus"}
    data["hours"] = "24"
    data.update(changes)
    response = client.post("/alerts/silences", data=data, follow_redirects=True)
    assert response.status_code == 200
    assert message in page(response)
    assert "Stummgeschaltet." not in page(response)
    assert count(app, Silence) == 0


@pytest.mark.parametrize("role", ["facility_manager", "on_call"])
def test_only_department_heads_and_admins_silence(app, role):
    facility = over_occupied(app)
    with app.app_context():
        made = inbox.silence(
            audit.SYSTEM, rule=None, facility_id=facility, reason="Umbau im Haus", hours=5
        )
        db.session.commit()
        silence_id = made.id
    client = client_as(app, role)
    listing = client.get("/alerts/silences")
    assert listing.status_code == 200
    assert "Umbau im Haus" in page(listing) and "Neue Stummschaltung" not in page(listing)
    refused = client.post(
        "/alerts/silences",
        data={"facility_id": str(facility), "reason": "Eigenmächtig", "hours": "5"},
    )
    assert refused.status_code == 403
    assert client.post(f"/alerts/silences/{silence_id}/end").status_code == 403
    assert count(app, Silence) == 1
    with app.app_context():
        assert db.session.get(Silence, silence_id).ended_at is None
    admin = client_as(app, "admin")
    assert "Neue Stummschaltung" in page(admin.get("/alerts/silences"))


# --- thresholds -----------------------------------------------------------------------------


def test_department_head_sets_near_full_office_wide_and_for_one_facility(app):
    with app.app_context():
        first = create_facility(licensed=10, name="Haus Birke")
        second = create_facility(licensed=10, name="Haus Eibe")
        for facility in (first, second):
            for _ in range(8):
                create_stay(create_youth(), facility, "2024-03-01 10:00")
        db.session.commit()
        first_id, second_id = first.id, second.id
    client = client_as(app, "department_head")
    saved = client.post(
        "/alerts/settings",
        data={"rule": "near_full", "facility_id": "", "enabled": "1", "share": "0,8"},
        follow_redirects=True,
    )
    assert "Schwellenwerte gespeichert." in page(saved)
    one = client.post(
        "/alerts/settings",
        data={"rule": "near_full", "facility_id": str(second_id), "enabled": "1", "share": "0.95"},
        follow_redirects=True,
    )
    assert "Schwellenwerte gespeichert." in page(one)
    html = page(client.get("/alerts/settings"))
    assert "alle Einrichtungen: enabled=True share=0.8" in html
    assert f"Einrichtung {second_id}: enabled=True share=0.95" in html
    with app.app_context():
        stored = {
            (s.rule, s.facility_id): (s.params, s.updated_by_id)
            for s in db.session.scalars(sa.select(AlertSetting))
        }
    head = user_id(app, "department_head")
    assert stored == {
        ("near_full", None): ({"enabled": True, "share": 0.8}, head),
        ("near_full", second_id): ({"enabled": True, "share": 0.95}, head),
    }
    jobs.check_alerts(app, T0)
    with app.app_context():
        near = db.session.scalars(sa.select(Alert).filter_by(rule="near_full")).all()
        assert [a.facility_id for a in near] == [first_id]
    assert count(app, AuditEvent, action="alert_setting.update") == 2


@pytest.mark.parametrize("share", ["0.3", "1.5", "0,49"])
def test_a_share_out_of_range_is_refused(app, share):
    client = client_as(app, "department_head")
    response = client.post(
        "/alerts/settings",
        data={"rule": "near_full", "enabled": "1", "share": share},
        follow_redirects=True,
    )
    assert "„share“ liegt außerhalb des erlaubten Bereichs." in page(response)
    assert "Schwellenwerte gespeichert." not in page(response)
    assert count(app, AlertSetting) == 0


def test_a_share_that_is_not_a_number_is_refused(app):
    client = client_as(app, "department_head")
    response = client.post(
        "/alerts/settings",
        data={"rule": "near_full", "enabled": "1", "share": "viel"},
        follow_redirects=True,
    )
    assert "Schwellenwerte gespeichert." not in page(response)


@pytest.mark.parametrize("role", ["facility_manager", "on_call"])
def test_only_department_heads_change_thresholds(app, role):
    client = client_as(app, role)
    listing = client.get("/alerts/settings")
    assert listing.status_code == 200 and "near_full" in page(listing)
    assert "Speichern</button>" not in page(listing)
    refused = client.post("/alerts/settings", data={"rule": "near_full", "share": "0.8"})
    assert refused.status_code == 403
    assert count(app, AlertSetting) == 0


# --- dead letters ----------------------------------------------------------------------------


def dead_letter(app, **overrides) -> int:
    values = {
        "key": f"over_occupancy|facility:1|1|leitung@example.org|firing|{overrides}",
        "kind": NotificationKind.FIRING,
        "recipient": "leitung@example.org",
        "payload": {"rule": "over_occupancy", "details": {}, "kind": "firing"},
        "status": NotificationStatus.DEAD,
        "attempts": 8,
        "last_error": "SMTPRecipientsRefused: 550 mailbox unavailable",
        "severity": 3,
    }
    values.update(overrides)
    with app.app_context():
        row = Notification(**values)
        db.session.add(row)
        db.session.commit()
        return row.id


def test_admin_sees_dead_letters_and_sends_them_again(app):
    dead = dead_letter(app)
    pending = dead_letter(app, status=NotificationStatus.PENDING, attempts=1)
    client = client_as(app, "admin")
    assert 'href="/alerts/outbox"' in page(client.get("/"))
    listing = page(client.get("/alerts/outbox"))
    assert "leitung@example.org" in listing and "550 mailbox unavailable" in listing
    assert listing.count("Erneut senden") == 1
    response = client.post(f"/alerts/outbox/{dead}/resend", follow_redirects=True)
    assert "Wird erneut gesendet." in page(response)
    assert "Alles zugestellt." in page(response)
    with app.app_context():
        row = db.session.get(Notification, dead)
        assert (row.status, row.attempts) == (NotificationStatus.PENDING, 0)
        event = db.session.scalar(sa.select(AuditEvent).filter_by(action="notification.resend"))
        assert event.user_id == user_id(app, "admin")
    again = client.post(f"/alerts/outbox/{pending}/resend", follow_redirects=True)
    assert "Wird erneut gesendet." not in page(again)
    assert 'class="alert alert-danger"' in page(again)
    unknown = client.post("/alerts/outbox/999999/resend", follow_redirects=True)
    assert 'class="alert alert-danger"' in page(unknown)


@pytest.mark.parametrize("role", ["department_head", "facility_manager", "on_call"])
def test_dead_letters_are_for_admins_only(app, role):
    dead = dead_letter(app)
    client = client_as(app, role)
    assert 'href="/alerts/outbox"' not in page(client.get("/"))
    assert client.get("/alerts/outbox").status_code == 403
    assert client.post(f"/alerts/outbox/{dead}/resend").status_code == 403
    with app.app_context():
        assert db.session.get(Notification, dead).status == NotificationStatus.DEAD


# --- the Land report page -----------------------------------------------------------------


def uma_in_care(app) -> None:
    with app.app_context():
        clearing = create_facility(licensed=10, kind="clearing", name="Clearing Süd")
        home = create_facility(licensed=10, kind="uma_group_home", name="umA-WG Ost")
        for _ in range(2):
            create_stay(create_youth(uma=True), clearing, "2024-11-01 10:00", legal_basis="42a")
        create_stay(create_youth(uma=True), home, "2024-11-01 10:00", legal_basis="42-1-3")
        create_stay(create_youth(uma=False), home, "2024-11-01 10:00")
        create_stay(create_youth(uma=True), home, "2024-11-20 10:00", legal_basis="42a")
        db.session.commit()


def table_rows(html: str) -> dict[str, list[str]]:
    body = html.split('id="land-report"')[1].split("</table>")[0]
    found = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>.*?</t[hd]>", row)
        ]
        if cells and cells[0] != "Einrichtungsart":
            found[cells[0]] = cells[1:]
    return found


@pytest.mark.parametrize("role", ROLES)
def test_land_report_page_shows_counts_only(app, role):
    uma_in_care(app)
    client = client_as(app, role)
    response = client.get("/reports/land?at=2024-11-19T10:00")
    assert response.status_code == 200
    html = page(response)
    assert "Stand 19.11.2024" in html
    rows = table_rows(html)
    assert rows["Clearingeinrichtung"] == ["0", "0", "0", "2", "0", "0", "2"]
    assert rows["umA-Wohngruppe"] == ["0", "0", "1", "0", "0", "0", "1"]
    assert rows["Gesamt"] == ["0", "0", "1", "2", "0", "0", "3"]  # the later arrival not yet
    assert not re.search(r"Y-\d{5}", html)  # no reference (a random CSRF token may hold "Y-")
    assert 'href="/reports/land?at=2024-11-19T10:00&amp;format=csv"' in html


def test_land_report_csv_download(app):
    uma_in_care(app)
    client = client_as(app, "department_head")
    response = client.get("/reports/land?at=2024-11-19T10:00&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="belegungsmeldung-uma-2024-11-19.csv"'
    )
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert table[0][:7] == [
        "Stichtag",
        "Einrichtungsart",
        "§ 42 Abs. 1 Nr. 1 (auf eigenen Wunsch)",
        "§ 42 Abs. 1 Nr. 2 (dringende Gefahr)",
        "§ 42 Abs. 1 Nr. 3 (unbegleitet eingereist)",
        "§ 42a (vorläufige Inobhutnahme)",
        "§ 34 (Heimerziehung)",
    ]
    assert table[0][-1] == "Gesamt" and len(table[0]) == 9
    assert table[-1] == ["19.11.2024", "Gesamt", "0", "0", "1", "2", "0", "0", "3"]
    assert len(table) == 1 + 6 + 1  # a row per facility kind and the total
    assert not re.search(rb"Y-\d{5}", data)


def test_land_report_names_the_other_legal_basis(app):
    client = client_as(app, "department_head")
    response = client.get("/reports/land?at=2024-11-19T10:00&format=csv")
    header = next(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")), delimiter=";"))
    assert header[7] == "sonstige"


def test_land_report_bad_stichtag_falls_back_to_now(app):
    uma_in_care(app)
    client = client_as(app, "on_call")
    html = page(client.get("/reports/land?at=gestern"))
    assert "„gestern“ ist kein gültiger Zeitpunkt" in html
    assert f"Stand {berlin_day(real_now()):%d.%m.%Y}" in html
    assert table_rows(html)["Gesamt"][-1] == "4"


def test_land_report_for_a_past_stichtag_counts_youths_discharged_since(app):
    with app.app_context():
        clearing = create_facility(licensed=10, kind="clearing")
        create_stay(
            create_youth(uma=True),
            clearing,
            "2024-11-01 10:00",
            "2024-11-25 10:00",
            legal_basis="42a",
            end_reason="distribution",
        )
        db.session.commit()
    client = client_as(app, "department_head")
    rows = table_rows(page(client.get("/reports/land?at=2024-11-19T10:00")))
    assert rows["Clearingeinrichtung"][-1] == "1"


# --- the §42a procedure -----------------------------------------------------------------------


def stays_42a(app) -> tuple[int, int, date]:
    """A §42a stay and an ordinary one, both from three days ago; and that day."""
    start = real_now() - timedelta(days=3)
    with app.app_context():
        facility = create_facility(licensed=10, kind="clearing", name="Clearing Nord")
        uma = create_stay(
            create_youth(uma=True), facility, f"{start:%Y-%m-%d %H:%M}", legal_basis="42a"
        )
        other = create_stay(create_youth(), facility, f"{start:%Y-%m-%d %H:%M}")
        db.session.commit()
        return uma.id, other.id, berlin_day(uma.start_at)


def test_the_stay_page_offers_the_42a_form_for_42a_stays_only(app):
    uma, other, _ = stays_42a(app)
    client = client_as(app, "on_call")
    assert 'id="distribution"' in page(client.get(f"/stays/{uma}"))
    assert 'id="distribution"' not in page(client.get(f"/stays/{other}"))
    assert client_as(app, "department_head").get(f"/stays/{uma}").status_code == 403


def test_the_42a_form_refuses_bad_dates_at_their_field(app):
    uma, _, start_day = stays_42a(app)
    client = client_as(app, "facility_manager")
    tomorrow = berlin_day(real_now()) + timedelta(days=1)
    future = client.post(
        f"/stays/{uma}/distribution", data={"distribution-reported_on": tomorrow.isoformat()}
    )
    assert future.status_code == 422
    html = page(future)
    assert "Das Datum liegt in der Zukunft." in html
    field = 'id="distribution-reported_on"'
    assert field in html and "is-invalid" in html.split(field)[0][-300:]
    before = client.post(
        f"/stays/{uma}/distribution",
        data={"distribution-age_assessed_on": (start_day - timedelta(days=1)).isoformat()},
    )
    assert before.status_code == 422
    assert "Das Datum liegt vor der Aufnahme." in page(before)
    with app.app_context():
        stay = db.session.get(Stay, uma)
        assert stay.distribution_reported_on is None and stay.age_assessed_on is None
    saved = client.post(
        f"/stays/{uma}/distribution",
        data={
            "distribution-reported_on": start_day.isoformat(),
            "distribution-result": "assigned_land",
        },
        follow_redirects=True,
    )
    assert "§ 42a-Angaben gespeichert." in page(saved)
    with app.app_context():
        stay = db.session.get(Stay, uma)
        assert stay.distribution_reported_on == start_day
        assert stay.distribution_result.value == "assigned_land"
        assert db.session.scalar(sa.select(AuditEvent).filter_by(action="stay.distribution"))


def test_distribution_api_refuses_bad_dates_naming_the_field(app, api):
    uma, other, start_day = stays_42a(app)
    tomorrow = (berlin_day(real_now()) + timedelta(days=1)).isoformat()
    earlier = (start_day - timedelta(days=1)).isoformat()
    cases = [
        (uma, {"reported_on": tomorrow}, "reported_on", "date_in_future"),
        (uma, {"age_assessed_on": tomorrow}, "age_assessed_on", "date_in_future"),
        (uma, {"reported_on": earlier}, "reported_on", "date_before_admission"),
        (uma, {"age_assessed_on": earlier}, "age_assessed_on", "date_before_admission"),
        (other, {"reported_on": start_day.isoformat()}, "stay_id", "not_a_42a_stay"),
        (uma, {"result": "irgendwas"}, "result", None),
    ]
    for stay_id, body, field, code in cases:
        response = api.post(f"/stays/{stay_id}/distribution", json=body)
        assert response.status_code == 422, body
        answer = response.get_json()
        assert answer["field"] == field, body
        if code:
            assert answer["code"] == code, body
    assert api.post("/stays/999999/distribution", json={}).status_code == 404
    forbidden = api.post(
        f"/stays/{uma}/distribution", json={"reported_on": None}, role="department_head"
    )
    assert forbidden.status_code == 403
    done = api.post(
        f"/stays/{uma}/distribution",
        json={"reported_on": start_day.isoformat(), "age_assessed_on": start_day.isoformat()},
    )
    assert done.status_code == 200
    body = done.get_json()
    assert body["distribution_reported_on"] == start_day.isoformat()
    assert body["age_assessed_on"] == start_day.isoformat()
    assert body["distribution_result"] is None
    same = api.post(
        f"/stays/{uma}/distribution",
        json={"reported_on": start_day.isoformat(), "age_assessed_on": start_day.isoformat()},
    )
    assert same.status_code == 422 and same.get_json()["code"] == "nothing_changed"


def test_reporting_for_distribution_resolves_the_42a_alert(app, api):
    uma, _, start_day = stays_42a(app)
    with app.app_context():
        facility_id = db.session.get(Stay, uma).facility_id
    instant = datetime.combine(start_day + timedelta(days=14), time(10), tzinfo=UTC)  # overdue
    jobs.check_alerts(app, instant)
    with app.app_context():
        alert = db.session.scalar(sa.select(Alert).filter_by(rule="report_42a"))
        assert alert.status.value == "firing" and alert.facility_id == facility_id
    api.post(f"/stays/{uma}/distribution", json={"reported_on": start_day.isoformat()})
    jobs.check_alerts(app, instant + timedelta(minutes=5))
    with app.app_context():
        alert = db.session.scalar(sa.select(Alert).filter_by(rule="report_42a"))
        assert alert.status.value == "resolved"
        assert db.session.get(Facility, facility_id).name == "Clearing Nord"
