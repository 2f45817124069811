"""Free text (a reservation's note) only for those who see persons of the facility; the
reservation form asks for no names and no reasons."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import Facility, Reservation, Stay, User
from placement.services.accounts import audit, permissions
from placement.services.intake import reservations
from tests.conftest import create_facility, sign_in

# The scope rules themselves: test accounts get only the facilities given to them.
pytestmark = pytest.mark.usefixtures("scoped_accounts")

NOTE = "Polizei bringt, ca. 23 Uhr"


@pytest.fixture
def houses(app):
    with app.app_context():
        a = create_facility(name="Haus A", licensed=3).id
        b = create_facility(name="Haus B", licensed=3).id
        db.session.commit()
    return a, b


def assign(app, email: str, facility_id: int) -> None:
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(email=email))
        user.facilities.append(db.session.get(Facility, facility_id))
        db.session.commit()


def _user(role: str, email: str) -> User:
    from placement.services.accounts import users

    user = users.create_user(audit.CLI, email=email, role=role, password="long enough password")
    db.session.flush()
    return user


def test_who_may_see_free_text(ctx, app):
    a = create_facility(name="Haus A")
    b = create_facility(name="Haus B")
    manager, admin = _user("facility_manager", "fm@x.org"), _user("admin", "ad@x.org")
    head, night = _user("department_head", "dh@x.org"), _user("on_call", "oc@x.org")
    manager.facilities.append(a)
    admin.facilities.append(b)
    head.facilities.append(a)
    db.session.flush()
    see = permissions.may_see_free_text
    actor = audit.Actor.for_user
    assert see(actor(manager), a.id) and not see(actor(manager), b.id)
    assert see(actor(admin), b.id) and not see(actor(admin), a.id)
    assert not see(actor(head), a.id)  # counts only, assigned or not
    assert see(actor(night), a.id) and see(actor(night), b.id)  # sees every open stay
    assert see(audit.SYSTEM, a.id)
    assert not see(actor(manager), None)


def test_api_answers_drop_the_note_for_others(api, app, houses):
    a, b = houses
    made = api.post("/reservations", json={"facility_id": a, "note": NOTE}, role="on_call")
    assert made.status_code == 201 and made.get_json()["note"] == NOTE
    # A facility manager of another house may hold places here, but not read the note.
    listed = api.get("/reservations", role="facility_manager").get_json()
    assert [r["note"] for r in listed] == [None]
    assign(app, "facility_manager@example.org", a)
    listed = api.get("/reservations", role="facility_manager").get_json()
    assert [r["note"] for r in listed] == [NOTE]
    # An admin not assigned to the house writes a note and gets it back only as null.
    other = api.post("/reservations", json={"facility_id": b, "note": "Notiz B"}, role="admin")
    assert other.status_code == 201 and other.get_json()["note"] is None
    cancelled = api.delete(f"/reservations/{other.get_json()['id']}", role="admin")
    assert cancelled.status_code == 200 and cancelled.get_json()["note"] is None
    cancelled_by_night = api.delete(f"/reservations/{made.get_json()['id']}", role="on_call")
    assert cancelled_by_night.get_json()["note"] == NOTE
    with app.app_context():  # the note itself is kept
        notes = db.session.scalars(sa.select(Reservation.note).order_by(Reservation.id)).all()
    assert notes == [NOTE, "Notiz B"]


def test_api_note_is_short(api, houses):
    a, _ = houses
    response = api.post("/reservations", json={"facility_id": a, "note": "x" * 201})
    assert response.status_code == 400  # too long is malformed on every text field
    assert response.get_json()["field"] == "note"


def test_service_note_too_long_is_named(ctx, app):
    from placement.services.errors import BadInput

    house = create_facility(name="Haus A")
    with pytest.raises(BadInput) as caught:
        reservations.reserve(audit.SYSTEM, facility_id=house.id, note="x" * 201)
    assert caught.value.field == "note"


def test_reservation_page_hides_the_note_from_others(app, client, houses):
    a, _ = houses
    with app.app_context():
        reservations.reserve(audit.SYSTEM, facility_id=a, note=NOTE)
        db.session.commit()
    sign_in(app, client, role="facility_manager", email="leitung@example.org")
    page = client.get("/intake/reservations").get_data(as_text=True)
    assert NOTE not in page and "vertraulich" in page
    assign(app, "leitung@example.org", a)
    page = client.get("/intake/reservations").get_data(as_text=True)
    assert NOTE in page and "vertraulich" not in page


def test_reservation_form_asks_for_no_names_and_no_reasons(app, client, houses):
    sign_in(app, client, role="on_call", email="nacht@example.org")
    html = client.get("/intake/places?age=15&gender=m&uma=0&siblings=1").get_data(as_text=True)
    assert 'placeholder="Notiz: keine Namen, keine Gründe"' in html
    assert 'maxlength="200"' in html and 'aria-describedby="note-help"' in html
    assert 'id="note-help"' in html and "keine Namen, keine Gründe der Inobhutnahme" in html
    a, _ = houses
    response = client.post(
        "/intake/reserve", data={"facility_id": a, "hours": 2, "note": NOTE}, follow_redirects=True
    )
    assert "reserviert" in response.get_data(as_text=True)
    assert NOTE in client.get("/intake/reservations").get_data(as_text=True)
    response = client.post(
        "/intake/reserve",
        data={"facility_id": a, "hours": 2, "note": "x" * 201},
        follow_redirects=True,
    )
    assert "Der Text ist zu lang (höchstens 200 Zeichen)." in response.get_data(as_text=True)


def test_api_override_reason_only_for_those_who_see_persons_of_the_facility(api, app):
    with app.app_context():
        small = create_facility(name="Kleinkinder", age_min=0, age_max=5).id
        db.session.commit()
    body = {
        "facility_id": small,
        "legal_basis": "42-1-2",
        "youth": {"birth_date": "2010-04-01", "gender": "m", "uma": False},
        "override_reason": "kein anderer Platz frei",
    }
    night = api.post("/admissions", json=body, role="on_call")
    assert night.status_code == 201, night.get_json()
    assert night.get_json()["stay"]["override_reason"] == "kein anderer Platz frei"
    admin = api.post(
        "/admissions", json={**body, "youth": {**body["youth"], "gender": "f"}}, role="admin"
    )
    assert admin.status_code == 201, admin.get_json()
    assert admin.get_json()["stay"]["override_reason"] is None
    assert admin.get_json()["stays"][0]["override_reason"] is None
    with app.app_context():  # stored as given
        stored = db.session.scalars(sa.select(Stay.override_reason)).all()
    assert stored == ["kein anderer Platz frei"] * 2
