"""The main navigation: one current entry at most, a facility directory of its own, and a
favicon."""

from __future__ import annotations

import re

import pytest

from tests.conftest import create_facility
from tests.occupancy_scenario import build


def _current(html: str) -> list[str]:
    nav = html.split('aria-label="Hauptnavigation"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'class="nav-link active" aria-current="page" href="[^"]*">([^<]+)<', nav)


@pytest.fixture
def scenario(make_facility, make_youth, make_stay):
    return build(make_facility, make_youth, make_stay)


@pytest.mark.parametrize(
    ("role", "email"),
    [("on_call", "nacht@example.org"), ("admin", "admin@example.org")],
)
def test_at_most_one_current_entry_on_every_page(app, client, login, scenario, role, email):
    login(role, email)
    expected = {
        "/": "Übersicht",
        "/intake/places": "Platz finden",
        "/intake/reservations": "Reservierungen",
        "/einrichtungen": "Einrichtungen",
        f"/facilities/{scenario.a_id}": "Einrichtungen",
        "/reports/": "Berichte",
        "/reports/monthly?month=2024-03": "Berichte",
        "/alerts/": "Hinweise",
    }
    for url, entry in expected.items():
        response = client.get(url)
        if response.status_code in (403, 404):
            continue
        current = _current(response.get_data(as_text=True))
        assert current == [entry], (url, current)
    if role == "admin":
        html = client.get("/alerts/outbox").get_data(as_text=True)
        assert _current(html) == ["Zustellung"]


def test_current_entry_helper():
    from placement.navigation import current_entry

    visible = ["main.index", "intake.places", "intake.reservations", "main.facilities"]
    assert current_entry("intake.reservations", visible) == "intake.reservations"
    assert current_entry("intake.admit", visible) == "intake.places"
    assert current_entry("facilities.show", visible) == "main.facilities"
    assert current_entry("auth.login", visible) is None
    assert current_entry(None, visible) is None


def test_facility_directory_lists_profile_and_places(app, client, login, scenario):
    login("on_call", "nacht@example.org")
    response = client.get("/einrichtungen")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Verzeichnis der Einrichtungen" in html
    for name in ("Haus A", "Haus B", "Haus C"):
        assert name in html
    assert f'href="/facilities/{scenario.a_id}"' in html
    assert "Inobhutnahme" in html  # the kind
    assert "Belegt" not in html.split('id="directory"', 1)[1]  # places, never persons
    # The directory differs from the overview.
    assert 'id="board"' not in html
    # One kind only; a bad kind is named.
    html = client.get("/einrichtungen?kind=foster_emergency").get_data(as_text=True)
    assert "Haus A" not in html.split('id="directory"', 1)[1]
    response = client.get("/einrichtungen?kind=zoo")
    assert response.status_code == 422 and "„Art“: unbekannte Einrichtungsart" in (
        response.get_data(as_text=True)
    )
    # Users who cannot manage facilities land on the directory from /facilities/ too.
    assert client.get("/facilities/").headers["Location"].endswith("/einrichtungen")


def test_directory_hides_protected_district_and_closed_facilities(app, client, login):
    with app.app_context():
        from placement.extensions import db

        create_facility(name="Schutzhaus", district="Geheimviertel", anonymous_address=True)
        create_facility(name="Altes Haus", active=False)
        db.session.commit()
    login()
    html = client.get("/einrichtungen").get_data(as_text=True)
    assert "Schutzhaus" in html and "Geheimviertel" not in html and "geschützt" in html
    assert "Altes Haus" not in html


def test_directory_needs_login(client):
    assert client.get("/einrichtungen").status_code == 302


def test_favicon_is_local_and_linked(app, client, login):
    login()
    html = client.get("/").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and b"<svg" in icon.data
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.headers["Location"].endswith("favicon.svg")
