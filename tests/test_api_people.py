"""The API for finding people: GET /youths?q= and GET /stays with filters and pages, and
POST /stays/{id}/undo-discharge; every answer is checked against the OpenAPI document."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, Stay
from placement.services.accounts import audit
from placement.services.intake import stays
from placement.services.intake.rules import years_before
from placement.timeutil import local
from placement.timeutil import now as utc_now
from tests.conftest import create_facility, create_youth


def born(age: int):
    return years_before(local(utc_now()).date(), age) - timedelta(days=30)


@pytest.fixture
def world(app):
    with app.app_context():
        amsel = create_facility(licensed=10, name="Haus Amsel", kind="inobhutnahme")
        birke = create_facility(licensed=10, name="Haus Birke", kind="uma_group_home")
        rows = {}
        for ref, file_number, age, uma, facility, basis, days in (
            ("AB-1", "51.2-100", 15, False, amsel, "42-1-2", 3),
            ("ab-10", None, 8, False, birke, "34", 4),
            ("X-7", "AB-1-7", 16, True, birke, "42a", 20),
            ("G-1", None, 14, True, birke, "42a", 5),
        ):
            youth = create_youth(
                reference=ref, file_number=file_number, birth_date=born(age), uma=uma
            )
            rows[ref] = stays.record_stay(
                audit.SYSTEM,
                youth_id=youth.id,
                facility_id=facility.id,
                legal_basis=basis,
                start_at=utc_now() - timedelta(days=days),
            ).id
        stays.discharge(
            audit.SYSTEM, rows["G-1"], reason="absconded", end=utc_now() - timedelta(hours=2)
        )
        db.session.commit()
        return {"amsel": amsel.id, "birke": birke.id, **rows}


def pagination(response) -> dict:
    return json.loads(response.headers["X-Pagination"])


# --- GET /youths ------------------------------------------------------------------------------


def test_search_by_reference_or_file_number(api, world):
    response = api.get("/youths?q=ab-1", role="on_call")
    assert response.status_code == 200
    hits = response.get_json()
    assert [(h["youth"]["reference"], h["exact"]) for h in hits] == [
        ("AB-1", True),
        ("X-7", False),
        ("ab-10", False),
    ]
    assert hits[0]["status"] == "placed" and hits[0]["stay"]["id"] == world["AB-1"]
    assert hits[0]["file_number"] == "51.2-100" and hits[0]["age"] == 15
    assert pagination(response) == {
        "total": 3,
        "total_pages": 1,
        "page": 1,
        "page_size": 50,
        "first_page": 1,
        "last_page": 1,
    }
    gone = api.get("/youths?q=G-1").get_json()[0]
    assert gone["status"] == "absconded" and gone["stay"]["place_held_until"] is not None
    assert api.get("/youths?q=nichts").get_json() == []


def test_search_pages(api, world):
    response = api.get("/youths?q=ab&page=2&page_size=2")
    assert [h["youth"]["reference"] for h in response.get_json()] == ["ab-10"]
    assert pagination(response)["previous_page"] == 1 and "next_page" not in pagination(response)


@pytest.mark.parametrize(
    ("query", "status", "field", "code"),
    [
        ("", 400, "q", "missing"),
        ("?q=", 422, "q", "search_query_required"),
        ("?q=%20%20", 422, "q", "search_query_required"),
        ("?q=" + "x" * 61, 400, "q", "too_long"),
        ("?q=a&page=0", 400, "page", "out_of_range"),
        ("?q=a&page=x", 400, "page", "not_integer"),
        ("?q=a&page_size=500", 422, "page_size", "out_of_range"),
    ],
)
def test_search_bad_input(api, world, query, status, field, code):
    response = api.get(f"/youths{query}")
    assert response.status_code == status, response.get_json()
    assert response.get_json()["field"] == field and response.get_json()["code"] == code


def test_search_needs_person_access_and_is_audited(api, world, app):
    response = api.get("/youths?q=AB", role="department_head")
    assert response.status_code == 403
    api.get("/youths?q=AB")
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).filter_by(action="youths.search"))
        assert event.after["query"] == "AB" and event.user_id is not None


# --- GET /stays ----------------------------------------------------------------------------------


def refs(response) -> list[str]:
    return [row["youth"]["reference"] for row in response.get_json()]


def test_stays_open_and_absconded(api, world):
    placed = api.get("/stays?status=open")
    assert placed.status_code == 200
    assert refs(placed) == ["AB-1", "X-7", "ab-10"]
    row = placed.get_json()[1]
    assert row["facility_name"] == "Haus Birke" and row["age"] == 16
    assert row["deadlines"][0] == {
        "code": "42a_report",
        "due": row["deadlines"][0]["due"],
        "overdue": True,
        "due_soon": True,
    }
    absconded = api.get("/stays?status=absconded").get_json()
    assert [r["youth"]["reference"] for r in absconded] == ["G-1"]
    assert absconded[0]["end_reason"] == "absconded" and absconded[0]["deadlines"] == []
    assert refs(api.get("/stays?open=true")) == refs(placed)  # the older form
    assert refs(api.get("/stays?open=false")) == ["G-1"]
    assert len(api.get("/stays").get_json()) == 4


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("facility_id={amsel}", ["AB-1"]),
        ("kind=uma_group_home", ["X-7", "ab-10"]),
        ("uma=true", ["X-7"]),
        ("uma=false&age_band=6-11", ["ab-10"]),
        ("legal_basis=42a", ["X-7"]),
        ("deadline=any", ["X-7"]),
        ("deadline=42a_report&kind=inobhutnahme", []),
        ("sort=reference", ["AB-1", "X-7", "ab-10"]),
        ("sort=start", ["X-7", "ab-10", "AB-1"]),
    ],
)
def test_stays_filters(api, world, query, expected):
    response = api.get(f"/stays?status=open&{query.format(**world)}")
    assert response.status_code == 200, response.get_json()
    assert refs(response) == expected


def test_stays_pages(api, world):
    first = api.get("/stays?status=open&page_size=2")
    second = api.get("/stays?status=open&page_size=2&page=2")
    assert refs(first) == ["AB-1", "X-7"] and refs(second) == ["ab-10"]
    assert pagination(first)["next_page"] == 2 and pagination(first)["total"] == 3


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("status=weg", 422, "status"),
        ("kind=schloss", 422, "kind"),
        ("age_band=3-4", 422, "age_band"),
        ("legal_basis=x", 422, "legal_basis"),
        ("deadline=bald", 422, "deadline"),
        ("sort=alter", 422, "sort"),
        ("uma=vielleicht", 400, "uma"),
        ("facility_id=abc", 400, "facility_id"),
        ("page=0", 400, "page"),
        ("page_size=0", 400, "page_size"),
        ("status=absconded&deadline=any", 422, "deadline"),
    ],
)
def test_stays_bad_input(api, world, query, status, field):
    response = api.get(f"/stays?{query}")
    assert response.status_code == status, response.get_json()
    assert response.get_json()["field"] == field


def test_stays_need_person_access_and_are_audited_with_filters(api, world, app):
    assert api.get("/stays?status=open", role="department_head").status_code == 403
    api.get(f"/stays?status=absconded&facility_id={world['birke']}")
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).filter_by(action="stays.view"))
        assert event.after["status"] == "absconded"
        assert event.after["filters"] == {"facility_id": world["birke"]}
        assert "G-1" not in json.dumps(event.after)


# --- POST /stays/{id}/undo-discharge -------------------------------------------------------------


def test_undo_discharge_by_its_recorder(api, world, app):
    stay_id = world["AB-1"]
    discharged = api.post(
        f"/stays/{stay_id}/discharge", json={"reason": "absconded"}, role="on_call"
    )
    assert discharged.status_code == 200
    assert discharged.get_json()["place_held_until"] is not None
    assert api.post(f"/stays/{stay_id}/undo-discharge", role="facility_manager").status_code == 409
    undone = api.post(f"/stays/{stay_id}/undo-discharge", role="on_call")
    assert undone.status_code == 200
    body = undone.get_json()
    assert body["stay"]["end"] is None and body["stay"]["place_held_until"] is None
    assert body["warnings"] == []
    again = api.post(f"/stays/{stay_id}/undo-discharge", role="on_call")
    assert again.status_code == 409 and again.get_json()["code"] == "undo_stay_open"
    with app.app_context():
        assert db.session.get(Stay, stay_id).end_at is None


def test_undo_discharge_refusals(api, world, app):
    stay_id = world["AB-1"]
    api.post(f"/stays/{stay_id}/discharge", json={"reason": "return_home"}, role="on_call")
    other = api.post(f"/stays/{stay_id}/undo-discharge", role="admin")
    assert (other.status_code, other.get_json()["code"]) == (409, "undo_not_own")
    assert "Korrektur" in other.get_json()["error"]
    with app.app_context():
        stay = db.session.get(Stay, stay_id)
        stay.ended_recorded_at = utc_now() - timedelta(minutes=16)
        db.session.commit()
    late = api.post(f"/stays/{stay_id}/undo-discharge", role="on_call")
    assert (late.status_code, late.get_json()["code"]) == (409, "undo_expired")
    assert "15 Minuten" in late.get_json()["error"] and late.get_json()["field"] == "stay_id"
    forbidden = api.post(f"/stays/{stay_id}/undo-discharge", role="department_head")
    assert forbidden.status_code == 403
    assert api.post("/stays/999999/undo-discharge", role="on_call").status_code == 404


def test_undo_after_a_move_or_a_new_admission_is_refused(api, world, app):
    moved = api.post(
        f"/stays/{world['AB-1']}/move", json={"facility_id": world["birke"]}, role="on_call"
    )
    assert moved.status_code == 201
    refused = api.post(f"/stays/{world['AB-1']}/undo-discharge", role="on_call")
    assert refused.get_json()["code"] == "undo_later_stay"
    stay_id = world["ab-10"]
    api.post(f"/stays/{stay_id}/discharge", json={"reason": "other"}, role="on_call")
    with app.app_context():
        stay = db.session.get(Stay, stay_id)
        # Placed elsewhere meanwhile with a start before the end (a backdated admission).
        later = stays.record_stay(
            audit.SYSTEM,
            youth_id=stay.youth_id,
            facility_id=world["amsel"],
            legal_basis="34",
            start_at=stay.end_at + timedelta(seconds=1),
        )
        db.session.commit()
        assert later.id
    refused = api.post(f"/stays/{stay_id}/undo-discharge", role="on_call")
    assert refused.get_json()["code"] == "undo_later_stay"


def test_discharge_without_reason_names_the_field(api, world):
    response = api.post(f"/stays/{world['AB-1']}/discharge", json={}, role="on_call")
    assert response.status_code == 400
    assert response.get_json()["field"] == "reason" and response.get_json()["code"] == "missing"
