"""German error pages with the navigation; JSON errors under /api/ stay as they are; an
expired or missing CSRF token re-renders the form with what was typed."""

from __future__ import annotations

import re

import pytest
from flask import abort

from placement.extensions import db
from placement.models import Stay, Youth
from tests.conftest import create_facility, sign_in


def _body(response) -> str:
    return response.get_data(as_text=True)


def test_404_page_is_german_with_navigation(app, client, login):
    login()
    response = client.get("/gibt-es-nicht")
    html = _body(response)
    assert response.status_code == 404
    assert "Seite nicht gefunden" in html and "Fehler 404" in html
    assert 'aria-label="Hauptnavigation"' in html and "Berichte" in html
    assert "Not Found" not in html and "The requested URL" not in html
    assert 'lang="de"' in html


def test_404_for_anonymous_users_links_to_login(client):
    html = _body(client.get("/gibt-es-nicht"))
    assert "Seite nicht gefunden" in html and "Zur Anmeldung" in html


def test_405_400_413_and_403_pages(app, client, login):
    login("on_call", "dienst@example.org")
    response = client.post("/reports/")
    assert response.status_code == 405 and "Aktion nicht möglich" in _body(response)
    assert "GET" in response.headers["Allow"]
    assert "Method Not Allowed" not in _body(response)
    response = client.post("/auth/login", data="x" * (2 * 1024 * 1024),
                           content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code == 413 and "Anfrage zu groß" in _body(response)
    response = client.get("/alerts/outbox")
    if response.status_code == 403:
        assert "Keine Berechtigung" in _body(response) and "Forbidden" not in _body(response)


@pytest.fixture
def failing_routes(app):
    @app.get("/_test/boom")
    def boom():
        raise RuntimeError("kaputt")

    @app.get("/_test/forbidden")
    def forbidden():
        abort(403)

    @app.get("/_test/bad")
    def bad():
        abort(400)

    return app


def test_500_403_400_pages(failing_routes, login):
    app = failing_routes
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    sign_in(app, client)
    response = client.get("/_test/boom")
    assert response.status_code == 500
    html = _body(response)
    assert "Interner Fehler" in html and "es wurde nichts gespeichert" in html
    assert "kaputt" not in html and "Internal Server Error" not in html
    response = client.get("/_test/forbidden")
    assert response.status_code == 403 and "Keine Berechtigung" in _body(response)
    response = client.get("/_test/bad")
    assert response.status_code == 400 and "Ungültige Anfrage" in _body(response)


def test_api_keeps_json_errors(api):
    response = api.get("/gibt-es-nicht", role="department_head")
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"
    response = api.call("PUT", "/occupancy", role="department_head")
    assert response.status_code == 405
    assert response.get_json()["code"] == "method_not_allowed"


# --- CSRF: missing or expired tokens ------------------------------------------------------


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_login_with_expired_token_keeps_email_never_password(csrf_app):
    client = csrf_app.test_client()
    fresh = _token(_body(client.get("/auth/login")))
    response = client.post(
        "/auth/login",
        data={"email": "chef@example.org", "password": "geheim-geheim", "csrf_token": "alt"},
    )
    html = _body(response)
    assert response.status_code == 422
    assert "Ihre Sitzung ist abgelaufen" in html and "noch einmal ab" in html
    assert 'value="chef@example.org"' in html
    assert "geheim-geheim" not in html
    assert _token(html)  # a token to send the form again with
    assert "The CSRF token" not in html and fresh


def test_admission_with_missing_token_is_shown_again_and_records_nothing(csrf_app, client):
    app = csrf_app
    with app.app_context():
        facility = create_facility(name="Haus Rot")
        db.session.commit()
        facility_id = facility.id
    app.config["WTF_CSRF_ENABLED"] = False
    sign_in(app, client, role="on_call", email="nacht@example.org")
    app.config["WTF_CSRF_ENABLED"] = True
    data = {
        "facility_id": str(facility_id),
        "youth_choice": "new",
        "reference": "FALL-CSRF-1",
        "birth_date": "2010-05-01",
        "gender": "m",
        "legal_basis": "42_1_1",
        "start": "2026-11-30T22:15",
        "file_number": "AZ-77",
    }
    response = client.post("/intake/admit", data=data)  # no token at all
    html = _body(response)
    assert response.status_code == 422
    assert "Ihre Sitzung ist abgelaufen" in html
    assert 'value="FALL-CSRF-1"' in html and 'value="2010-05-01"' in html
    assert 'value="2026-11-30T22:15"' in html
    assert _token(html)
    with app.app_context():
        assert db.session.query(Youth).filter_by(reference="FALL-CSRF-1").count() == 0
        assert db.session.query(Stay).count() == 0


def test_other_forms_with_bad_token_get_a_german_page(csrf_app, client):
    app = csrf_app
    app.config["WTF_CSRF_ENABLED"] = False
    sign_in(app, client)
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/auth/logout", data={"csrf_token": "alt"})
    html = _body(response)
    assert response.status_code == 400
    assert "Sitzung abgelaufen" in html and "The CSRF token" not in html
    # Nothing happened: still logged in.
    assert client.get("/").status_code == 200
