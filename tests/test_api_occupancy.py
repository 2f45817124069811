"""GET /api/v1/occupancy."""

from __future__ import annotations

import pytest

from placement.extensions import db
from placement.services.accounts import audit, users
from tests.occupancy_scenario import build


@pytest.fixture
def scenario(make_facility, make_youth, make_stay):
    return build(make_facility, make_youth, make_stay)


@pytest.fixture
def token(app, scenario):
    with app.app_context():
        users.create_user(
            audit.CLI, email="api@example.org", role="department_head", password="x" * 12
        )
        value = users.issue_token(audit.CLI, "api@example.org")
        db.session.commit()
    return {"Authorization": f"Bearer {value}"}


def test_occupancy_at_stichtag(client, token):
    response = client.get("/api/v1/occupancy?at=2024-03-01T12:00:00Z", headers=token)
    assert response.status_code == 200
    body = response.get_json()
    assert body["at"].startswith("2024-03-01T12:00:00")
    rows = {f["name"]: f for f in body["facilities"]}
    a, b, c = rows["Haus A"], rows["Haus B"], rows["Haus C"]
    assert {k: a[k] for k in ("kind", "licensed", "usable", "ceiling", "occupied", "reserved")} == {
        "kind": "inobhutnahme",
        "licensed": 3,
        "usable": 3,
        "ceiling": 5,
        "occupied": 4,
        "reserved": 0,
    }
    assert a["free"] == 0  # 3 usable - 4 occupied is clamped at zero
    assert (b["occupied"], b["reserved"], b["free"], b["ceiling"]) == (3, 1, 0, None)
    assert (c["occupied"], c["reserved"], c["free"]) == (0, 1, 5)  # the reservation counts
    assert isinstance(a["id"], int) and a["name"] == "Haus A"


def test_berlin_wall_clock_and_default_now(client, token):
    body = client.get("/api/v1/occupancy?at=2024-03-01T13:00", headers=token).get_json()
    assert body["at"].startswith("2024-03-01T12:00:00")
    now = client.get("/api/v1/occupancy", headers=token)
    assert now.status_code == 200
    occupied = {f["name"]: f["occupied"] for f in now.get_json()["facilities"]}
    assert occupied == {"Haus A": 3, "Haus B": 2, "Haus C": 0}


def test_bad_at_is_400_naming_the_field(client, token):
    response = client.get("/api/v1/occupancy?at=morgen", headers=token)
    assert response.status_code == 400
    assert response.get_json()["field"] == "at"
    assert "gültiger Zeitpunkt" in response.get_json()["error"]


def test_needs_a_token_and_is_documented(client, scenario):
    assert client.get("/api/v1/occupancy").status_code == 401
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "get" in spec["paths"]["/api/v1/occupancy"]
