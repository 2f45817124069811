"""Login, logout and the start page."""

from __future__ import annotations

from placement.extensions import db
from placement.models import AuditEvent
from tests.conftest import PASSWORD


def test_login_logout_roundtrip(app, client, login):
    response = login()
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "Belegung" in page.get_data(as_text=True)
    assert client.post("/auth/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_keeps_email_and_says_why(app, client, login):
    login()
    client.post("/auth/logout")
    response = client.post("/auth/login", data={"email": "chef@example.org", "password": "nope"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "E-Mail oder Passwort ist falsch." in html
    assert 'value="chef@example.org"' in html


def test_missing_fields_are_named(client):
    html = client.post("/auth/login", data={}).get_data(as_text=True)
    assert "Bitte E-Mail angeben." in html and "Bitte Passwort angeben." in html


def test_login_does_not_redirect_to_other_hosts(app, client, login):
    login()
    client.post("/auth/logout")
    response = client.post(
        "/auth/login?next=//evil.example/x",
        data={"email": "chef@example.org", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/"


def test_login_is_audited(app, client, login):
    login()
    with app.app_context():
        actions = db.session.scalars(db.select(AuditEvent.action)).all()
    assert "user.login" in actions


def test_start_page_shows_counts_and_over_capacity_in_text(
    app, client, make_facility, make_youth, make_stay, login
):
    facility = make_facility(licensed=1, name="Haus Eins")
    for _ in range(2):
        make_stay(make_youth(), facility, "2024-01-01 08:00")
    db.session.commit()
    login()
    html = client.get("/").get_data(as_text=True)
    assert "Haus Eins" in html
    assert "überbelegt (+1)" in html
    assert "200 %" in html.replace("\xa0", " ")
