"""The intake pages: find, admit (with confirmation), reserve, discharge, move, correct."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, Facility, OverOccupancyEvent, Reservation, Stay, User
from tests.conftest import create_facility


@pytest.fixture
def setup(app, client, login):
    with app.app_context():
        a = create_facility(licensed=1, name="Haus A", age_min=12, age_max=17)
        b = create_facility(
            licensed=3, name="Haus B", age_min=12, age_max=17, latitude=51.40, longitude=12.45
        )
        db.session.commit()
        ids = (a.id, b.id)
    login(role="facility_manager", email="leitung-haus@example.org")
    return ids


def _new(facility_id, **overrides):
    data = {
        "facility_id": facility_id,
        "legal_basis": "42-1-2",
        "birth_date": "2010-04-01",
        "gender": "m",
        "uma": "0",
    }
    data.update(overrides)
    return data


def _confirmation(html: str) -> str:
    """The confirmation key the warning page hands back with "Trotzdem aufnehmen"."""
    return re.search(r'name="confirm"[^>]*value="([^"]*)"', html).group(1).replace("&#34;", '"')


def _stays(app):
    with app.app_context():
        return db.session.scalars(sa.select(Stay).order_by(Stay.id)).all()


def test_place_finder_lists_suitable_first_and_full_ones_marked(app, client, setup):
    a, b = setup
    client.post("/intake/admit", data=_new(a))
    html = client.get("/intake/places?age=15&gender=m&uma=0&siblings=1").get_data(as_text=True)
    order = re.findall(r'data-facility="(\d+)"', html)
    assert order == [str(b), str(a)]
    assert "passt, aber voll" in html


def test_place_finder_errors_keep_input(client, setup):
    response = client.get("/intake/places?age=99&gender=m&uma=0")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Alter zwischen 0 und 27 angeben." in html and 'value="99"' in html
    html = client.get("/intake/places?gender=m&uma=0").get_data(as_text=True)
    assert "Bitte Alter oder Geburtsdatum angeben." in html


def test_admission_with_room_is_saved_at_once(app, client, setup):
    a, _ = setup
    response = client.post("/intake/admit", data=_new(a, reference="N-1"))
    assert response.status_code == 302 and "/stays/" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Aufnahme von N-1 in Haus A gespeichert." in page
    assert [s.facility_id for s in _stays(app)] == [a]


def test_over_capacity_needs_confirmation_then_warns_and_records_event(app, client, setup):
    a, _ = setup
    client.post("/intake/admit", data=_new(a))
    first = client.post("/intake/admit", data=_new(a, reference="N-2"))
    html = first.get_data(as_text=True)
    assert first.status_code == 200
    assert "Bitte prüfen, dann bestätigen" in html and "überbelegt" in html
    assert 'value="N-2"' in html  # nothing typed is lost
    assert len(_stays(app)) == 1
    # Changing the person after seeing the warnings asks again.
    changed = _new(a, reference="N-2", birth_date="2011-04-01")
    again = client.post("/intake/admit", data={**changed, "confirm": _confirmation(html)})
    html = again.get_data(as_text=True)
    assert again.status_code == 200 and "Bitte prüfen, dann bestätigen" in html
    assert len(_stays(app)) == 1
    confirmed = client.post(
        "/intake/admit", data={**changed, "confirm": _confirmation(html)}, follow_redirects=True
    )
    assert "ist überbelegt: 2 Personen auf 1" in confirmed.get_data(as_text=True)
    assert len(_stays(app)) == 2
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OverOccupancyEvent)) == 1


def test_profile_mismatch_asks_for_a_reason(app, client, setup):
    a, _ = setup
    response = client.post("/intake/admit", data=_new(a, birth_date="2018-01-01"))
    html = response.get_data(as_text=True)
    assert "Außerhalb des Profils" in html and "bitte kurz begründen" in html
    assert not _stays(app)
    ok = client.post(
        "/intake/admit",
        data=_new(
            a,
            birth_date="2018-01-01",
            confirm=_confirmation(html),
            override_reason="Geschwister zusammen",
        ),
    )
    assert ok.status_code == 302
    assert _stays(app)[0].override_reason == "Geschwister zusammen"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"birth_date": "2999-01-01"}, "Das Geburtsdatum liegt in der Zukunft."),
        ({"birth_date": "1980-01-01"}, "ergibt ein Alter über 27 Jahren"),
        ({"birth_date": ""}, "Bitte ausfüllen"),
        ({"start": "2999-01-01T10:00"}, "Der Zeitpunkt liegt in der Zukunft."),
        ({"youth_reference": "GIBTS-NICHT"}, "Kein Eintrag mit diesem Kürzel."),
        ({"legal_basis": "x"}, "Keine gültige Auswahl."),
    ],
)
def test_admission_bad_input_is_shown_at_the_field_and_kept(app, client, setup, overrides, message):
    a, _ = setup
    response = client.post("/intake/admit", data=_new(a, file_number="AZ-77", **overrides))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert 'value="AZ-77"' in html
    assert not _stays(app)


@pytest.mark.parametrize(
    ("overrides", "focused"),
    [
        ({"birth_date": "2999-01-01"}, "birth_date"),  # a service error
        ({"legal_basis": "x"}, "legal_basis"),  # a form error
        ({"gender": ""}, "gender-0"),  # a radio group: its first option
        # The first in the page's order (the form class defines the legal basis later).
        ({"birth_date": "kein Datum", "legal_basis": "x"}, "legal_basis"),
    ],
)
def test_a_refused_admission_announces_its_errors_and_focuses_the_first(
    client, setup, overrides, focused
):
    a, _ = setup
    html = client.post("/intake/admit", data=_new(a, **overrides)).get_data(as_text=True)
    assert html.count("autofocus") == 1
    tag = re.search(rf'<(?:input|select)[^>]*id="{focused}"[^>]*>', html).group(0)
    assert "autofocus" in tag and 'aria-invalid="true"' in tag
    summary = re.search(r'<div[^>]*role="alert" id="form-errors">.*?</div>', html, re.S)
    assert summary and f'href="#{focused}"' in summary.group(0)


def test_a_refused_search_focuses_the_field_in_error(client, setup):
    html = client.get("/intake/places?birth_date=2999-01-01&gender=m&uma=0").get_data(as_text=True)
    assert html.count("autofocus") == 1
    tag = re.search(r'<input[^>]*id="birth_date"[^>]*>', html).group(0)
    assert "autofocus" in tag and 'aria-invalid="true"' in tag
    assert 'id="form-errors"' in html and "Das Geburtsdatum liegt in der Zukunft." in html


def test_admitting_someone_already_placed_offers_a_move(app, client, setup):
    a, b = setup
    client.post("/intake/admit", data=_new(a, reference="DOPPELT"))
    response = client.post(
        "/intake/admit",
        data={"facility_id": b, "legal_basis": "42a", "youth_reference": "DOPPELT"},
    )
    assert response.status_code == 422
    assert "bitte stattdessen verlegen" in response.get_data(as_text=True)


def test_reserve_list_admit_and_cancel(app, client, setup):
    a, b = setup
    with app.app_context():  # notes only for those who see persons there (test_free_text.py)
        user = db.session.scalar(sa.select(User).filter_by(email="leitung-haus@example.org"))
        user.facilities.append(db.session.get(Facility, b))
        db.session.commit()
    response = client.post(
        "/intake/reserve",
        data={"facility_id": b, "hours": 2, "note": "Polizei"},
        follow_redirects=True,
    )
    assert "Platz in Haus B reserviert" in response.get_data(as_text=True)
    client.post("/intake/reserve", data={"facility_id": b, "hours": 3})
    page = client.get("/intake/reservations").get_data(as_text=True)
    assert page.count("Stornieren") == 2 and "Polizei" in page
    with app.app_context():
        first, second = db.session.scalars(sa.select(Reservation).order_by(Reservation.id))
        first_id, second_id = first.id, second.id
    form = client.get(f"/intake/admit?facility_id={b}&reservation_id={first_id}")
    assert "Aus Reservierung in Haus B" in form.get_data(as_text=True)
    admitted = client.post("/intake/admit", data=_new(b, reservation_id=first_id))
    assert admitted.status_code == 302
    client.post(f"/intake/reservations/{second_id}/cancel")
    with app.app_context():
        states = [
            r.status.value
            for r in db.session.scalars(sa.select(Reservation).order_by(Reservation.id))
        ]
    assert states == ["admitted", "cancelled"]


def test_reservation_refused_when_full(app, client, setup):
    a, _ = setup
    client.post("/intake/admit", data=_new(a))
    response = client.post(
        "/intake/reserve", data={"facility_id": a, "hours": 2}, follow_redirects=True
    )
    assert "kein Platz frei" in response.get_data(as_text=True)


def test_discharge_move_and_correct_from_the_stay_page(app, client, setup):
    a, b = setup
    # A backdated start is confirmed with the date spelt out, then recorded.
    form = _new(a, start="2024-03-01T10:00")
    asked = client.post("/intake/admit", data=form).get_data(as_text=True)
    assert "Beginn liegt" in asked and "Freitag, 01.03.2024 10:00" in asked
    confirmed = client.post("/intake/admit", data={**form, "confirm": _confirmation(asked)})
    location = confirmed.headers["Location"]
    stay_id = int(location.rsplit("/", 1)[1])
    page = client.get(location).get_data(as_text=True)
    assert "01.03.2024 10:00" in page  # Berlin wall-clock time as typed

    bad = client.post(
        f"/stays/{stay_id}/move", data={"move-facility_id": b, "move-time": "2024-02-01T10:00"}
    )
    assert bad.status_code == 422
    assert "Die Verlegung muss nach der Aufnahme liegen." in bad.get_data(as_text=True)
    moved = client.post(
        f"/stays/{stay_id}/move",
        data={"move-facility_id": b, "move-time": "2024-03-05T12:00"},
    )
    new_id = int(moved.headers["Location"].rsplit("/", 1)[1])
    corrected = client.post(
        f"/stays/{new_id}/correct",
        data={
            "correct-facility_id": b,
            "correct-legal_basis": "42a",
            "correct-start_at": "2024-03-05T12:00",
            "correct-end_at": "",
            "correct-end_reason": "",
            "correct-reason": "Rechtsgrundlage falsch",
        },
    )
    assert corrected.status_code == 302
    missing_reason = client.post(
        f"/stays/{new_id}/correct",
        data={
            "correct-facility_id": b,
            "correct-legal_basis": "42a",
            "correct-start_at": "2024-03-05T12:00",
        },
    )
    assert "Bitte den Grund der Korrektur angeben." in missing_reason.get_data(as_text=True)
    discharge = {"discharge-reason": "follow_on_help", "discharge-time": "2024-03-20T09:00"}
    asked = client.post(f"/stays/{new_id}/discharge", data=discharge)
    assert asked.status_code == 200 and "Entlassung bestätigen" in asked.get_data(as_text=True)
    done = client.post(
        f"/stays/{new_id}/discharge",
        data={**discharge, "discharge-confirm": "1"},
        follow_redirects=True,
    )
    assert "Entlassung gespeichert." in done.get_data(as_text=True)
    stays = _stays(app)
    assert [(s.facility_id, s.end_reason.value) for s in stays] == [
        (a, "transfer"),
        (b, "follow_on_help"),
    ]
    assert stays[1].legal_basis.value == "42a"
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {"stay.view", "stay.move_out", "stay.correct", "stay.discharge"} <= actions


def test_department_head_cannot_open_intake_pages(app, client, setup, login):
    client.post("/auth/logout")
    login(role="department_head", email="chefin@example.org")
    assert client.get("/intake/places").status_code == 403
    assert client.post("/intake/admit", data={}).status_code == 403
