"""GET /api/v1/occupancy."""

from __future__ import annotations

import pytest

from tests.occupancy_scenario import build


@pytest.fixture
def scenario(make_facility, make_youth, make_stay):
    return build(make_facility, make_youth, make_stay)


def test_occupancy_at_stichtag(api, scenario):
    response = api.get("/occupancy?at=2024-03-01T12:00:00Z", role="department_head")
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


def test_berlin_wall_clock_and_default_now(api, scenario):
    body = api.get("/occupancy?at=2024-03-01T13:00", role="department_head").get_json()
    assert body["at"].startswith("2024-03-01T12:00:00")
    now = api.get("/occupancy", role="department_head")
    assert now.status_code == 200
    occupied = {f["name"]: f["occupied"] for f in now.get_json()["facilities"]}
    assert occupied == {"Haus A": 3, "Haus B": 2, "Haus C": 0}


def test_bad_at_is_400_naming_the_field(api, scenario):
    response = api.get("/occupancy?at=morgen", role="department_head")
    assert response.status_code == 400
    assert response.get_json()["field"] == "at"
    assert "gültiger Zeitpunkt" in response.get_json()["error"]


def test_needs_a_token_and_is_documented(client, api, scenario):
    unauthenticated = api.client.get("/api/v1/occupancy")
    assert unauthenticated.status_code == 401
    api.checker.check(unauthenticated)
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "get" in spec["paths"]["/api/v1/occupancy"]
