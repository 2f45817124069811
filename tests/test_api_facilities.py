"""The facility administration API: POST/PATCH /facilities, places (with the over-usable
confirmation), confirm occupancy, and the facility scope of managers. Every answer is
checked against the OpenAPI document by the ``api`` fixture."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, CapacityPeriod, Facility, User
from tests.conftest import create_facility, create_stay, create_youth


def _assign(app, api, role: str, *facility_ids: int) -> None:
    """Give the API user of ``role`` these facilities."""
    api.token_for(role)
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(email=f"{role}@example.org"))
        user.facilities = [db.session.get(Facility, i) for i in facility_ids]
        db.session.commit()


@pytest.fixture
def houses(app, api):
    with app.app_context():
        mine = create_facility(licensed=6, name="Haus Eigen")
        other = create_facility(licensed=6, name="Haus Fremd")
        for _ in range(5):
            create_stay(create_youth(), mine, "2024-01-01 10:00")
        db.session.commit()
        ids = (mine.id, other.id)
    _assign(app, api, "facility_manager", ids[0])
    return ids


def _periods(app, facility_id):
    with app.app_context():
        return [
            (p.licensed_places, p.usable_places, p.temporary_ceiling, p.reserved_places)
            for p in db.session.scalars(
                sa.select(CapacityPeriod)
                .where(CapacityPeriod.facility_id == facility_id)
                .order_by(CapacityPeriod.valid_from)
            )
        ]


def test_admin_creates_a_facility_with_a_generated_code(api):
    body = {
        "name": "Notunterkunft Friesenstraße",
        "kind": "emergency_shelter",
        "age_min": 14,
        "age_max": 17,
        "genders": ["m"],
        "uma": "only",
        "street": "Friesenstraße 8",
        "postal_code": "04177",
        "city": "Leipzig",
        "latitude": 51.35,
        "longitude": 12.33,
        "licensed": 25,
    }
    response = api.post("/facilities", json=body, role="admin")
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert data["code"] == "notunterkunft-friesenstrasse" and data["uma"] == "only"
    assert data["genders"] == ["m"] and data["confirmed_at"] is None
    assert data["confirmation_stale"] is True and data["active"] is True
    occupancy = api.get("/occupancy", role="admin").get_json()["facilities"]
    assert [(f["name"], f["licensed"]) for f in occupancy] == [("Notunterkunft Friesenstraße", 25)]
    again = api.post("/facilities", json={**body, "code": data["code"]}, role="admin")
    assert again.status_code == 409 and again.get_json()["code"] == "facility_code_taken"
    assert again.get_json()["field"] == "code"


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"kind": "clearing"}, 400, "missing", "name"),
        ({"name": "X"}, 400, "missing", "kind"),
        ({"name": "X", "kind": "burg"}, 422, "unknown_value", "kind"),
        ({"name": "X", "kind": "clearing", "age_min": "zwölf"}, 400, "not_integer", "age_min"),
        ({"name": "X", "kind": "clearing", "age_min": 18, "age_max": 12}, 422,
         "age_range_invalid", "age_min"),
        ({"name": "X", "kind": "clearing", "genders": []}, 422, "genders_required", "genders"),
        ({"name": "X", "kind": "clearing", "latitude": 51.3}, 422,
         "location_incomplete", "longitude"),
        ({"name": "X", "kind": "clearing", "code": "Ä Ö"}, 422, "facility_code_invalid", "code"),
        ({"name": "X", "kind": "clearing", "usable": 3}, 422, "capacity_required", "licensed"),
        ({"name": "X", "kind": "clearing", "licensed": 3, "usable": 4}, 422,
         "usable_above_limit", "usable"),
    ],
)  # fmt: skip
def test_create_errors_name_the_field(api, body, status, code, field):
    response = api.post("/facilities", json=body, role="admin")
    assert response.status_code == status, response.get_json()
    assert (response.get_json()["code"], response.get_json()["field"]) == (code, field)


def test_only_administrators_create_facilities(api, houses):
    body = {"name": "X", "kind": "clearing"}
    assert api.post("/facilities", json=body).status_code == 403
    assert api.post("/facilities", json=body, role="department_head").status_code == 403


def test_manager_patches_own_facility_and_is_refused_elsewhere(app, api, houses):
    mine, other = houses
    response = api.patch(f"/facilities/{mine}", json={"name": "Haus Eigen Süd", "age_min": 12})
    assert response.status_code == 200
    assert response.get_json()["name"] == "Haus Eigen Süd"
    assert response.get_json()["age_min"] == 12
    assert api.patch(f"/facilities/{other}", json={"name": "Fremd"}).status_code == 403
    # Error paths answer 403 too, before any rule is checked.
    assert api.patch(f"/facilities/{other}", json={"age_min": 99}).status_code == 403
    assert api.patch("/facilities/999999", json={"name": "x"}).status_code == 404
    assert api.patch(f"/facilities/{mine}", json={"name": "x"}, role="on_call").status_code == 403
    bad = api.patch(f"/facilities/{mine}", json={"postal_code": "1"})
    assert bad.status_code == 422 and bad.get_json()["field"] == "postal_code"
    null_name = api.patch(f"/facilities/{mine}", json={"name": None})
    assert null_name.status_code == 422 and null_name.get_json()["field"] == "name"
    with app.app_context():
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "facility.update")
        )
        assert event.before["name"] == "Haus Eigen" and event.after["name"] == "Haus Eigen Süd"


def test_close_and_reopen_through_patch(app, api, houses):
    mine, _other = houses
    closed = api.patch(f"/facilities/{mine}", json={"active": False})
    assert closed.status_code == 200 and closed.get_json()["active"] is False
    found = api.get("/places?age=15&gender=m&uma=false").get_json()
    assert mine not in [o["facility"]["id"] for o in found]
    assert api.post(f"/facilities/{mine}/confirm").status_code == 422
    assert api.patch(f"/facilities/{mine}", json={"active": True}).get_json()["active"] is True


def test_capacity_change_with_the_over_usable_confirmation(app, api, houses):
    mine, _other = houses
    body = {"valid_from": "2025-03-01T08:00:00+01:00", "usable": 3}
    preview = api.post(f"/facilities/{mine}/capacity/preview", json=body)
    assert preview.status_code == 200
    data = preview.get_json()
    assert data["needs_confirmation"] is True and data["over_by"] == 2 and data["occupied"] == 5
    assert data["closes"] is not None and data["creates"][0]["usable"] == 3
    refused = api.post(f"/facilities/{mine}/capacity", json=body)
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "over_usable_confirmation"
    assert "2 Personen mehr" in refused.get_json()["error"]
    assert _periods(app, mine) == [(6, 6, None, 0)]  # nothing written
    outdated = api.post(f"/facilities/{mine}/capacity", json={**body, "confirmation": "alt"})
    assert outdated.status_code == 409 and outdated.get_json()["code"] == "confirmation_outdated"
    done = api.post(
        f"/facilities/{mine}/capacity", json={**body, "confirmation": data["confirmation"]}
    )
    assert done.status_code == 201, done.get_json()
    result = done.get_json()
    assert result["over_by"] == 2 and result["closed"]["valid_until"].startswith("2025-03-01")
    assert result["created"][0]["usable"] == 3 and result["created"][0]["created_by_id"]
    assert _periods(app, mine) == [(6, 6, None, 0), (6, 3, None, 0)]
    history = api.get(f"/facilities/{mine}/capacity").get_json()
    assert [p["usable"] for p in history] == [3, 6]  # newest first


def test_ceiling_through_the_api_and_fields_left_out_keep_their_value(app, api, houses):
    _mine, other = houses
    _assign(app, api, "facility_manager", other)
    body = {
        "valid_from": "2025-11-06T09:00:00+01:00",
        "ceiling": 9,
        "usable": 9,
        "ceiling_until": "2026-03-31",
        "ceiling_reference": "LJA-2025-117",
        "kept_free": 1,
    }
    response = api.post(f"/facilities/{other}/capacity", json=body)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()["created"]
    assert [(p["ceiling"], p["usable"], p["kept_free"]) for p in created] == [
        (9, 9, 1),
        (None, 6, 1),
    ]
    assert created[0]["valid_until"] == created[1]["valid_from"]
    assert created[0]["ceiling_reference"] == "LJA-2025-117"
    # Later: only kept_free changes; ceiling, its end and reference stay.
    response = api.post(
        f"/facilities/{other}/capacity",
        json={"valid_from": "2025-12-01T00:00:00+01:00", "kept_free": 2},
    )
    created = response.get_json()["created"]
    assert [(p["ceiling"], p["kept_free"], p["ceiling_reference"]) for p in created] == [
        (9, 2, "LJA-2025-117")
    ]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"usable": "viele"}, 400, "not_integer", "usable"),
        ({"valid_from": "gestern"}, 400, "not_instant", "valid_from"),
        ({"ceiling_until": "31.03.2026", "ceiling": 8}, 400, "not_date", "ceiling_until"),
        ({"usable": 7}, 422, "usable_above_limit", "usable"),
        ({"licensed": -1}, 422, "negative_places", "licensed"),
        ({"kept_free": 7}, 422, "kept_free_above_usable", "kept_free"),
        ({"ceiling": 8, "ceiling_reference": "Az"}, 422, "ceiling_end_required", "ceiling_until"),
        ({"ceiling": 8, "ceiling_until": "2099-01-01"}, 422,
         "ceiling_reference_required", "ceiling_reference"),
        ({"ceiling": 6, "ceiling_until": "2099-01-01", "ceiling_reference": "Az"}, 422,
         "ceiling_not_above_licensed", "ceiling"),
        ({"ceiling_until": "2099-01-01"}, 422, "ceiling_end_without_ceiling", "ceiling_until"),
        ({"valid_from": "2020-01-01T01:00:00+01:00"}, 422, "period_starts_there", "valid_from"),
    ],
)  # fmt: skip
def test_capacity_errors_name_the_field(app, api, houses, body, status, code, field):
    _mine, other = houses
    _assign(app, api, "facility_manager", other)
    response = api.post(f"/facilities/{other}/capacity", json=body)
    assert response.status_code == status, response.get_json()
    assert (response.get_json()["code"], response.get_json()["field"]) == (code, field)
    assert _periods(app, other) == [(6, 6, None, 0)]


def test_capacity_and_confirm_are_scoped_to_the_managers_facilities(api, houses):
    _mine, other = houses
    body = {"usable": 5}
    assert api.post(f"/facilities/{other}/capacity", json=body).status_code == 403
    assert api.post(f"/facilities/{other}/capacity", json={"usable": -5}).status_code == 403
    assert api.post(f"/facilities/{other}/capacity/preview", json=body).status_code == 403
    assert api.get(f"/facilities/{other}/capacity").status_code == 403
    assert api.post(f"/facilities/{other}/confirm").status_code == 403
    assert api.post("/facilities/999999/confirm").status_code == 404
    assert api.post("/facilities/999999/capacity", json=body).status_code == 404
    assert api.post(f"/facilities/{other}/confirm", role="department_head").status_code == 403
    assert api.post(f"/facilities/{other}/confirm", role="admin").status_code == 200


def test_confirm_occupancy_shows_in_occupancy_and_facility_answers(app, api, houses):
    mine, other = houses
    response = api.post(f"/facilities/{mine}/confirm")
    assert response.status_code == 200
    confirmed = response.get_json()
    assert confirmed["confirmed_at"] and confirmed["confirmation_stale"] is False
    rows = {f["id"]: f for f in api.get("/occupancy").get_json()["facilities"]}
    assert rows[mine]["confirmed_at"] == confirmed["confirmed_at"]
    assert rows[mine]["confirmation_stale"] is False
    assert rows[other]["confirmed_at"] is None and rows[other]["confirmation_stale"] is True
    listed = {f["id"]: f for f in api.get("/facilities").get_json()}
    assert listed[mine]["confirmed_at"] == confirmed["confirmed_at"]
    found = api.get("/places?age=15&gender=m&uma=false").get_json()
    assert {o["facility"]["id"]: o["facility"]["confirmation_stale"] for o in found} == {
        mine: False,
        other: True,
    }
    with app.app_context():
        facility = db.session.get(Facility, mine)
        facility.confirmed_at -= timedelta(hours=25)
        db.session.commit()
    rows = {f["id"]: f for f in api.get("/occupancy").get_json()["facilities"]}
    assert rows[mine]["confirmation_stale"] is True
    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.action == "facility.confirm")
        ).all()
        assert actions == ["facility.confirm"]
