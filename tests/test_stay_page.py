"""The stay page: unique ids and labels that point into their own form (defect 13), the
discharge with no preselected reason, a confirmation step and an undo for its recorder
(defect 1), the history from the audit trail in German words, and the other siblings."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, OverOccupancyEvent, Stay, User
from placement.services.accounts import audit
from placement.services.intake import admissions, stays
from placement.services.intake.admissions import AdmissionRequest
from placement.services.intake.youths import NewYouth
from placement.timeutil import now as utc_now
from tests.conftest import at, create_facility, create_stay, create_youth, sign_in


class _Ids(HTMLParser):
    """Every id with the form it is in, and every label's target with its form."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.form_of: dict[str, int | None] = {}
        self.labels: list[tuple[str, int | None]] = []
        self.form: int | None = None
        self.forms = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.forms += 1
            self.form = self.forms
        if "id" in attributes:
            self.ids.append(attributes["id"])
            self.form_of.setdefault(attributes["id"], self.form)
        if tag == "label" and attributes.get("for"):
            self.labels.append((attributes["for"], self.form))

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None


def parsed(html: str) -> _Ids:
    parser = _Ids()
    parser.feed(html)
    return parser


def client_as(app, role: str, email: str | None = None):
    client = app.test_client()
    response = sign_in(app, client, role=role, email=email or f"{role}@example.org")
    assert response.status_code == 302
    return client


def user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(User.id).filter_by(email=email))


@pytest.fixture
def world(app):
    """Two houses; an open §42a stay of a youth with two siblings (one placed elsewhere,
    one ended), and a youth without siblings."""
    with app.app_context():
        a = create_facility(licensed=2, name="Haus Amsel", age_min=12, age_max=17)
        b = create_facility(licensed=4, name="Haus Birke", age_min=12, age_max=17)
        youth = create_youth(reference="K-100", sibling_group="G-7", uma=True)
        sister = create_youth(reference="K-101", sibling_group="G-7", gender="f")
        brother = create_youth(reference="K-102", sibling_group="G-7")
        create_youth(reference="K-999", sibling_group="G-8")  # another group
        stay = create_stay(youth, a, "2024-03-01 10:00", legal_basis="42a")
        sister_stay = create_stay(sister, b, "2024-03-01 10:00")
        brother_stay = create_stay(brother, a, "2024-02-01 10:00", "2024-02-20 10:00")
        db.session.commit()
        ids = {
            "a": a.id,
            "b": b.id,
            "stay": stay.id,
            "sister_stay": sister_stay.id,
            "brother_stay": brother_stay.id,
        }
    return ids


def html_of(response) -> str:
    return response.get_data(as_text=True)


# --- defect 13: unique ids, labels in their own form -------------------------------------------


@pytest.mark.parametrize("role", ["facility_manager", "on_call", "admin"])
def test_stay_page_has_unique_ids_and_labels_point_into_their_own_form(app, world, role):
    client = client_as(app, role)
    html = html_of(client.get(f"/stays/{world['stay']}"))
    page = parsed(html)
    duplicates = [name for name, count in Counter(page.ids).items() if count > 1]
    assert duplicates == []
    assert page.labels, "the page has labelled fields"
    for target, form in page.labels:
        assert target in page.form_of, target
        assert page.form_of[target] == form, target
    # The correction's reason is its own field, not the discharge's select.
    if role != "on_call":
        assert 'for="correct-reason"' in html and 'id="correct-reason"' in html
    assert 'for="discharge-reason"' in html and 'id="discharge-reason"' in html
    assert 'id="reason"' not in html and 'id="csrf_token"' not in html


def test_ids_stay_unique_on_a_page_with_errors_and_a_confirmation(app, world):
    client = client_as(app, "facility_manager")
    bad = client.post(f"/stays/{world['stay']}/correct", data={"correct-start_at": ""})
    assert bad.status_code == 422
    confirm = client.post(
        f"/stays/{world['stay']}/discharge", data={"discharge-reason": "return_home"}
    )
    for response in (bad, confirm):
        page = parsed(html_of(response))
        assert [n for n, c in Counter(page.ids).items() if c > 1] == []
        for target, form in page.labels:
            assert page.form_of.get(target, "missing") == form, target


def test_forms_post_their_prefixed_fields(app, world):
    client = client_as(app, "facility_manager")
    response = client.post(
        f"/stays/{world['stay']}/correct",
        data={
            "correct-facility_id": world["a"],
            "correct-legal_basis": "42-1-2",
            "correct-start_at": "2024-03-01T12:00",
            "correct-end_at": "",
            "correct-end_reason": "",
            "correct-reason": "Uhrzeit vertippt",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        stay = db.session.get(Stay, world["stay"])
        assert stay.start_at == at("2024-03-01 10:00") + timedelta(hours=1)


# --- defect 1: discharge with a chosen reason, confirmed, undoable ---------------------------


def test_discharge_form_preselects_no_reason(app, world):
    html = html_of(client_as(app, "on_call").get(f"/stays/{world['stay']}"))
    select = re.search(r'<select[^>]*id="discharge-reason".*?</select>', html, re.S).group(0)
    options = re.findall(r"<option([^>]*)>([^<]*)</option>", select)
    assert options[0][0].strip().startswith('selected value=""') or (
        'value=""' in options[0][0] and "selected" in options[0][0]
    )
    assert options[0][1] == "– bitte wählen –"
    assert not any("selected" in attrs for attrs, _text in options[1:])


def test_discharge_without_reason_names_the_field_and_keeps_the_time(app, world):
    client = client_as(app, "on_call")
    response = client.post(
        f"/stays/{world['stay']}/discharge",
        data={"discharge-reason": "", "discharge-time": "2024-03-05T09:30"},
    )
    html = html_of(response)
    assert response.status_code == 422
    assert "Bitte einen Beendigungsgrund wählen." in html
    assert 'value="2024-03-05T09:30"' in html
    assert 'id="discharge-confirmation"' not in html
    with app.app_context():
        assert db.session.get(Stay, world["stay"]).end_at is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"discharge-reason": "x"}, "Keine gültige Auswahl."),
        ({"discharge-reason": "other", "discharge-time": "2999-01-01T10:00"}, "in der Zukunft"),
        (
            {"discharge-reason": "other", "discharge-time": "2024-02-01T10:00"},
            "Das Ende muss nach der Aufnahme liegen.",
        ),
        ({"discharge-reason": "other", "discharge-time": "gestern"}, "Zeitpunkt"),
    ],
)
def test_discharge_bad_input_is_shown_at_the_field(app, world, data, message):
    client = client_as(app, "on_call")
    response = client.post(f"/stays/{world['stay']}/discharge", data=data)
    assert response.status_code == 422
    assert message in html_of(response)
    with app.app_context():
        assert db.session.get(Stay, world["stay"]).end_at is None


def test_discharge_asks_for_confirmation_spelling_out_what_happens(app, world):
    client = client_as(app, "on_call")
    first = client.post(
        f"/stays/{world['stay']}/discharge",
        data={"discharge-reason": "return_home", "discharge-time": "2024-03-05T09:30"},
    )
    html = html_of(first)
    assert first.status_code == 200
    box = re.search(r'id="discharge-confirmation".*?</form>', html, re.S).group(0)
    for text in ("K-100", "Haus Amsel", "05.03.2024 09:30", "Rückführung zu den Sorgeberechtigten"):
        assert text in box
    assert "wird frei" in box and "15 Minuten" in box
    with app.app_context():
        assert db.session.get(Stay, world["stay"]).end_at is None
        assert not db.session.scalar(sa.select(AuditEvent).filter_by(action="stay.discharge"))
    hidden = dict(re.findall(r'<input type="hidden" name="(discharge-[^"]+)" value="([^"]*)"', box))
    assert hidden == {
        "discharge-reason": "return_home",
        "discharge-time": "2024-03-05T09:30:00",
        "discharge-confirm": "1",
    }
    done = client.post(f"/stays/{world['stay']}/discharge", data=hidden, follow_redirects=True)
    assert "Entlassung gespeichert. Bis" in html_of(done)
    with app.app_context():
        stay = db.session.get(Stay, world["stay"])
        assert stay.end_at == at("2024-03-05 08:30") and stay.end_reason.value == "return_home"
        assert stay.ended_by_id == user_id(app, "on_call@example.org")
        assert utc_now() - stay.ended_recorded_at < timedelta(minutes=1)


def test_discharge_now_confirms_the_instant_shown(app, world):
    client = client_as(app, "on_call")
    first = html_of(
        client.post(f"/stays/{world['stay']}/discharge", data={"discharge-reason": "absconded"})
    )
    assert "der Platz bleibt bis" in first
    time_value = re.search(r'name="discharge-time" value="([^"]+)"', first).group(1)
    client.post(
        f"/stays/{world['stay']}/discharge",
        data={
            "discharge-reason": "absconded",
            "discharge-time": time_value,
            "discharge-confirm": "1",
        },
    )
    with app.app_context():
        stay = db.session.get(Stay, world["stay"])
        assert stay.end_at is not None and stay.place_held_until == stay.end_at + timedelta(days=3)


def _discharged(app, client, stay_id, reason="return_home"):
    response = client.post(
        f"/stays/{stay_id}/discharge",
        data={"discharge-reason": reason, "discharge-confirm": "1"},
    )
    assert response.status_code == 302


def test_recorder_can_undo_a_discharge_within_the_window(app, world):
    client = client_as(app, "on_call")
    _discharged(app, client, world["stay"], reason="absconded")
    page = html_of(client.get(f"/stays/{world['stay']}"))
    assert 'id="undo-discharge"' in page and "zurücknehmen" in page
    undone = client.post(f"/stays/{world['stay']}/undo-discharge", follow_redirects=True)
    html = html_of(undone)
    assert "Entlassung zurückgenommen: K-100 ist wieder in Haus Amsel untergebracht." in html
    assert 'id="undo-discharge"' not in html
    with app.app_context():
        stay = db.session.get(Stay, world["stay"])
        assert (stay.end_at, stay.end_reason, stay.place_held_until) == (None, None, None)
        assert stay.ended_by_id is None and stay.ended_recorded_at is None
        event = db.session.scalar(sa.select(AuditEvent).filter_by(action="stay.undo_discharge"))
        assert event.before["end_reason"] == "absconded" and event.after["end_at"] is None
        assert event.user_id == user_id(app, "on_call@example.org")


def test_undo_is_refused_to_others_after_the_window_and_after_a_later_stay(app, world):
    client = client_as(app, "on_call")
    _discharged(app, client, world["stay"])
    # A colleague on call no longer sees the ended stay at all (need to know, #13) ...
    colleague = client_as(app, "on_call", "kollegin@example.org")
    assert colleague.post(f"/stays/{world['stay']}/undo-discharge").status_code == 404
    # ... the house's manager sees it, but may not undo what someone else recorded.
    other = client_as(app, "facility_manager", "leitung@example.org")
    page = html_of(other.get(f"/stays/{world['stay']}"))
    assert 'id="undo-discharge"' not in page
    refused = other.post(f"/stays/{world['stay']}/undo-discharge")
    assert refused.status_code == 409
    assert "Nur wer die Entlassung erfasst hat" in html_of(refused)

    with app.app_context():
        stay = db.session.get(Stay, world["stay"])
        stay.ended_recorded_at = utc_now() - timedelta(minutes=16)
        db.session.commit()
    page = html_of(client.get(f"/stays/{world['stay']}"))
    assert 'id="undo-discharge"' not in page
    assert "vor mehr als 15 Minuten" in page and "korrigieren" in page
    late = client.post(f"/stays/{world['stay']}/undo-discharge")
    assert late.status_code == 409 and "vor mehr als 15 Minuten" in html_of(late)
    with app.app_context():
        assert db.session.get(Stay, world["stay"]).end_at is not None


def test_undo_is_refused_once_the_youth_was_placed_again(app, world):
    client = client_as(app, "on_call")
    _discharged(app, client, world["stay"])
    with app.app_context():
        stay = db.session.get(Stay, world["stay"])
        stays.record_stay(
            audit.SYSTEM,
            youth_id=stay.youth_id,
            facility_id=world["b"],
            legal_basis="42a",
            start_at=utc_now(),
        )
        db.session.commit()
    refused = client.post(f"/stays/{world['stay']}/undo-discharge")
    assert refused.status_code == 409
    assert "einen weiteren" in html_of(refused)
    with app.app_context():
        assert db.session.get(Stay, world["stay"]).end_at is not None


def test_undo_of_a_move_is_refused(app, world):
    client = client_as(app, "on_call")
    moved = client.post(f"/stays/{world['stay']}/move", data={"move-facility_id": world["b"]})
    assert moved.status_code == 302
    with app.app_context():
        stay = db.session.get(Stay, world["stay"])
        assert stay.ended_by_id == user_id(app, "on_call@example.org")
        assert stay.ended_recorded_at is not None
    refused = client.post(f"/stays/{world['stay']}/undo-discharge")
    assert refused.status_code == 409 and "einen weiteren" in html_of(refused)


def test_undo_of_an_open_stay_and_without_permission(app, world):
    client = client_as(app, "on_call")
    response = client.post(f"/stays/{world['stay']}/undo-discharge")
    assert response.status_code == 409
    assert "nicht beendet" in html_of(response)
    assert client.post("/stays/999999/undo-discharge").status_code == 404
    head = client_as(app, "department_head")
    assert head.post(f"/stays/{world['stay']}/undo-discharge").status_code == 403


def test_undo_into_a_house_filled_meanwhile_warns_and_records_the_over_occupancy(app, world):
    client = client_as(app, "on_call")
    _discharged(app, client, world["stay"])
    with app.app_context():
        for _ in range(2):
            create_stay(
                create_youth(), db.session.get(Stay, world["stay"]).facility, "2024-03-06 10:00"
            )
        db.session.commit()
    undone = client.post(f"/stays/{world['stay']}/undo-discharge", follow_redirects=True)
    assert "überbelegt" in html_of(undone)
    with app.app_context():
        event = db.session.scalar(sa.select(OverOccupancyEvent))
        assert event.stay_id == world["stay"] and event.occupied == 3


def test_undo_window_follows_the_configuration(app, world):
    app.config["DISCHARGE_UNDO_MINUTES"] = 0
    client = client_as(app, "on_call")
    _discharged(app, client, world["stay"])
    assert client.post(f"/stays/{world['stay']}/undo-discharge").status_code == 409


def test_correction_that_ends_and_reopens_a_stay_keeps_who_ended_it(app, world):
    client = client_as(app, "facility_manager")
    data = {
        "correct-facility_id": world["a"],
        "correct-legal_basis": "42a",
        "correct-start_at": "2024-03-01T11:00",
        "correct-end_at": "2024-03-04T11:00",
        "correct-end_reason": "other",
        "correct-reason": "Ende nachgetragen",
    }
    assert client.post(f"/stays/{world['stay']}/correct", data=data).status_code == 302
    with app.app_context():
        stay = db.session.get(Stay, world["stay"])
        assert stay.ended_by_id == user_id(app, "facility_manager@example.org")
    reopen = {
        **data,
        "correct-end_at": "",
        "correct-end_reason": "",
        "correct-reason": "doch offen",
    }
    assert client.post(f"/stays/{world['stay']}/correct", data=reopen).status_code == 302
    with app.app_context():
        stay = db.session.get(Stay, world["stay"])
        assert stay.end_at is None and stay.ended_by_id is None and stay.ended_recorded_at is None


# --- history ----------------------------------------------------------------------------------


def test_history_tells_admission_moves_corrections_and_discharge_in_german(app, world):
    client = client_as(app, "facility_manager", "leitung@example.org")
    with app.app_context():
        db.session.execute(
            sa.update(User).filter_by(email="leitung@example.org").values(name="Frau Lind")
        )
        db.session.commit()
    stay_id = world["stay"]
    client.post(
        f"/stays/{stay_id}/distribution",
        data={"distribution-reported_on": "2024-03-04", "distribution-result": ""},
    )
    client.post(
        f"/stays/{stay_id}/correct",
        data={
            "correct-facility_id": world["a"],
            "correct-legal_basis": "42a",
            "correct-start_at": "2024-03-01T12:00",
            "correct-end_at": "",
            "correct-end_reason": "",
            "correct-reason": "Uhrzeit vertippt",
        },
    )
    moved = client.post(
        f"/stays/{stay_id}/move",
        data={"move-facility_id": world["b"], "move-time": "2024-03-06T10:00"},
    )
    new_id = int(moved.headers["Location"].rsplit("/", 1)[1])
    client.post(
        f"/stays/{new_id}/discharge",
        data={
            "discharge-reason": "follow_on_help",
            "discharge-time": "2024-03-20T09:00",
            "discharge-confirm": "1",
        },
    )
    client.post(f"/stays/{new_id}/undo-discharge")
    html = html_of(client.get(f"/stays/{new_id}"))
    history = re.search(r'<ol class="list-unstyled" id="history">(.*?)</ol>', html, re.S).group(1)
    kinds = re.findall(r'data-kind="([a-z_]+)"', history)
    assert kinds == ["recorded", "distribution", "correct", "move", "discharge", "undo_discharge"]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", history))
    for expected in (
        "Aufenthalt in Haus Amsel erfasst",
        "§ 42a-Verfahren (Haus Amsel) Zur Verteilung gemeldet am: – → 04.03.2024",
        "Korrektur (Haus Amsel) Beginn: 01.03.2024 11:00 → 01.03.2024 12:00 "
        "Grund: Uhrzeit vertippt",
        "Verlegung von Haus Amsel nach Haus Birke am 06.03.2024 10:00",
        "Entlassung aus Haus Birke am 20.03.2024 09:00",
        "Beendigungsgrund: Anschlusshilfe",
        "Entlassung zurückgenommen (Haus Birke)",
        "von Frau Lind",
    ):
        assert expected in text, expected
    assert "{" not in history and "_at" not in history  # no raw JSON or column names
    assert "von system" in text  # the stay recorded by a system process


def test_history_of_an_admission_names_facility_basis_and_override(app, world):
    client_as(app, "on_call")
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(email="on_call@example.org"))
        actor = audit.Actor.for_user(user)
        request = AdmissionRequest(
            facility_id=world["a"],
            legal_basis="42-1-2",
            start=at("2024-03-02 07:15"),
            youth=NewYouth(birth_date=date(2019, 1, 1), gender="m"),
            override_reason="Geschwister zusammen",
        )
        confirmation = admissions.preview(actor, request).confirmation
        result = admissions.admit(actor, replace(request, confirmation=confirmation))
        db.session.commit()
        stay_id = result.stay.id
    html = html_of(client_as(app, "facility_manager").get(f"/stays/{stay_id}"))
    history = re.search(r'id="history">(.*?)</ol>', html, re.S).group(1)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", history))
    assert re.findall(r'data-kind="([a-z_]+)"', history) == ["admit"]
    assert "Aufnahme in Haus Amsel ab 02.03.2024 08:15" in text
    assert "Rechtsgrundlage: § 42 Abs. 1 Nr. 2 (dringende Gefahr)" in text
    assert "Grund: Geschwister zusammen" in text and "von on_call@example.org" in text


def test_history_of_stays_without_audit_rows_comes_from_the_stays(app, world):
    with app.app_context():  # a database from before the audit trail (the app cannot delete)
        db.session.execute(sa.text("DELETE FROM audit_event"))
        db.session.commit()
    html = html_of(client_as(app, "facility_manager").get(f"/stays/{world['brother_stay']}"))
    history = re.search(r'id="history">(.*?)</ol>', html, re.S).group(1)
    assert re.findall(r'data-kind="([a-z_]+)"', history) == ["recorded", "ended"]
    assert "ohne Protokolleintrag" in history and "20.02.2024 11:00" in history


# --- siblings ---------------------------------------------------------------------------------


def test_stay_page_lists_the_other_siblings_with_facility_and_link(app, world):
    html = html_of(client_as(app, "facility_manager").get(f"/stays/{world['stay']}"))
    siblings = re.search(r'<ul id="siblings">(.*?)</ul>', html, re.S).group(1)
    assert "K-100" not in siblings and "K-999" not in siblings
    assert f'href="/stays/{world["sister_stay"]}">K-101</a>' in siblings
    assert "Haus Birke" in siblings
    assert f'href="/stays/{world["brother_stay"]}">K-102</a>' in siblings
    assert "nicht untergebracht (zuletzt Haus Amsel bis 20.02.2024 11:00)" in siblings
    assert siblings.index("K-101") < siblings.index("K-102")
    # On-call staff see the siblings with an open stay, not the one who left (#13).
    html = html_of(client_as(app, "on_call").get(f"/stays/{world['stay']}"))
    siblings = re.search(r'<ul id="siblings">(.*?)</ul>', html, re.S).group(1)
    assert "K-101" in siblings and "K-102" not in siblings


def test_stay_page_without_sibling_group_has_no_sibling_section(app, world):
    with app.app_context():
        alone = create_stay(
            create_youth(reference="K-200"),
            db.session.get(Stay, world["stay"]).facility,
            "2024-03-02 10:00",
        )
        lonely_group = create_stay(
            create_youth(reference="K-300", sibling_group="G-9"),
            db.session.get(Stay, world["stay"]).facility,
            "2024-03-02 10:00",
        )
        db.session.commit()
        alone_id, lonely_id = alone.id, lonely_group.id
    client = client_as(app, "on_call")
    assert 'id="siblings-h"' not in html_of(client.get(f"/stays/{alone_id}"))
    assert "Keine weiteren Geschwister erfasst." in html_of(client.get(f"/stays/{lonely_id}"))


def test_stay_page_needs_person_access_on_every_path(app, world):
    head = client_as(app, "department_head")
    assert head.get(f"/stays/{world['stay']}").status_code == 403
    assert head.post(f"/stays/{world['stay']}/discharge", data={}).status_code == 403
    assert client_as(app, "on_call").get("/stays/999999").status_code == 404
