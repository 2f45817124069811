"""The intake API: shapes, rules, warnings and every bad input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, Facility, OverOccupancyEvent, Reservation, Stay, User
from tests.conftest import create_facility


@pytest.fixture
def houses(app):
    """Two youth houses with 2 places each and a small-children foster family."""
    with app.app_context():
        a = create_facility(
            licensed=2, name="Haus A", age_min=12, age_max=17, latitude=51.34, longitude=12.37
        )
        b = create_facility(
            licensed=2, name="Haus B", age_min=12, age_max=17, latitude=51.40, longitude=12.40
        )
        c = create_facility(
            licensed=1,
            name="Familie C",
            kind="foster_emergency",
            age_min=0,
            age_max=6,
            uma_policy="none",
            latitude=51.30,
            longitude=12.30,
        )
        db.session.commit()
        return a.id, b.id, c.id


def new_youth(**overrides):
    youth = {"birth_date": "2010-04-01", "gender": "m", "uma": False}
    youth.update(overrides)
    return youth


def admit(api, facility_id, role="on_call", confirm=True, **body):
    """Admit through the API; a start more than 24 hours back or ahead is confirmed with
    the preview's token first (as a client does after showing the notice), unless
    ``confirm`` is False."""
    payload = {"facility_id": facility_id, "legal_basis": "42-1-2", "youth": new_youth()}
    payload.update(body)
    payload = {k: v for k, v in payload.items() if v is not None}
    if confirm and "start" in payload and "confirmation" not in payload:
        shown = api.post("/admissions/preview", json=payload, role=role)
        if shown.status_code == 200 and shown.get_json()["notices"]:
            payload["confirmation"] = shown.get_json()["confirmation"]
    return api.post("/admissions", json=payload, role=role)


# --- authentication ----------------------------------------------------------------------


def test_token_required(app, client):
    response = client.get("/api/v1/facilities")
    assert response.status_code == 401
    assert response.get_json()["field"] == "Authorization"
    response = client.get("/api/v1/facilities", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401


def test_openapi_document_lists_every_endpoint(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/facilities",
        "/places",
        "/admissions",
        "/reservations",
        "/reservations/{reservation_id}/admit",
        "/reservations/{reservation_id}",
        "/stays",
        "/stays/{stay_id}/discharge",
        "/stays/{stay_id}/move",
    ):
        assert f"/api/v1{path}" in doc["paths"], path


def test_facilities_list(api, houses):
    data = api.get("/facilities").get_json()
    assert isinstance(data, list)
    assert {f["name"] for f in data} == {"Haus A", "Haus B", "Familie C"}


def test_anonymous_address_hidden_from_everyone_not_assigned(api, app):
    # Only those assigned to an anonymous placement see where it is (the full rules:
    # tests/test_anonymous_places.py).
    with app.app_context():
        create_facility(name="Zuflucht", anonymous_address=True, street="Geheimweg 1")
        db.session.commit()
    head = api.get("/facilities", role="department_head").get_json()[0]
    assert head["address"] is None and head["location"] is None
    staff = api.get("/facilities", role="on_call").get_json()[0]
    assert staff["address"] is None and staff["district"] is None
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(email="on_call@example.org"))
        user.facilities.append(db.session.scalar(sa.select(Facility).filter_by(name="Zuflucht")))
        db.session.commit()
    staff = api.get("/facilities", role="on_call").get_json()[0]
    assert staff["address"]["street"] == "Geheimweg 1"


def test_a_kept_facility_dump_follows_every_change(api, app):
    """The finder's facility dumps are kept per process (api.dumping): a change of the
    facility, of who may locate it or of its confirmation shows in the next answer."""
    with app.app_context():
        create_facility(name="Zuflucht", anonymous_address=True, street="Geheimweg 1")
        db.session.commit()

    def found() -> dict:
        return api.get("/places?age=15&gender=f&uma=false", role="on_call").get_json()[0][
            "facility"
        ]

    first = found()
    assert (first["address"], first["confirmation_stale"]) == (None, True)
    assert found() == first
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(email="on_call@example.org"))
        house = db.session.scalar(sa.select(Facility).filter_by(name="Zuflucht"))
        user.facilities.append(house)
        house.name = "Zuflucht Nord"
        house.confirmed_at = datetime.now(UTC)
        db.session.commit()
    now_seen = found()
    assert now_seen["name"] == "Zuflucht Nord" and now_seen["address"]["street"] == "Geheimweg 1"
    assert now_seen["confirmation_stale"] is False and now_seen["confirmed_at"] is not None
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(email="on_call@example.org"))
        user.facilities.clear()
        db.session.commit()
    assert found()["address"] is None  # no longer assigned: no longer told where it is


# --- place finder -------------------------------------------------------------------------


def test_place_finder_ranks_suitable_free_places_first(api, houses):
    a, b, c = houses
    admit(api, a)
    admit(api, a)  # Haus A is now full
    data = api.get("/places?age=15&gender=m&uma=false&lat=51.34&lon=12.37").get_json()
    names = [row["facility"]["name"] for row in data]
    assert names == ["Haus B", "Haus A", "Familie C"]
    assert data[0]["free"] == 2 and data[0]["has_room"] and data[0]["suitable"]
    assert data[1]["free"] == 0 and not data[1]["has_room"] and data[1]["suitable"]
    assert data[2]["suitable"] is False and "Alter 15" in data[2]["mismatches"][0]
    assert data[1]["distance_km"] == 0.0 and data[0]["distance_km"] > 5


def test_place_finder_reasons_follow_the_language_and_the_profile(api, houses):
    """The reasons are kept per locale and wording (messages.mismatch_messages)."""

    def reasons(age: int, **headers) -> list[str]:
        rows = api.get(f"/places?age={age}&gender=m&uma=false", headers=headers).get_json()
        return next(row["mismatches"] for row in rows if row["facility"]["name"] == "Familie C")

    german = reasons(15)
    assert german == ["Alter 15 liegt außerhalb von 0–6 Jahren"]
    assert reasons(15, **{"Accept-Language": "en"}) == ["age 15 is outside 0–6 years"]
    assert reasons(14) == ["Alter 14 liegt außerhalb von 0–6 Jahren"]
    assert reasons(15) == german


def test_place_finder_needs_room_for_all_siblings(api, houses):
    a, b, c = houses
    admit(api, b)
    data = api.get("/places?age=14&gender=f&uma=false&siblings=2").get_json()
    assert [row["facility"]["name"] for row in data][:2] == ["Haus A", "Haus B"]
    assert data[1]["has_room"] is False


def test_place_finder_counts_reservations(api, houses):
    a, b, c = houses
    api.post("/reservations", json={"facility_id": a})
    row = next(
        r
        for r in api.get("/places?age=15&gender=m&uma=false").get_json()
        if r["facility"]["id"] == a
    )
    assert (row["occupied"], row["reserved"], row["free"]) == (0, 1, 1)


def test_place_finder_by_birth_date(api, houses):
    today = datetime.now(UTC).date()
    baby = date(today.year - 2, 1, 1).isoformat()
    data = api.get(f"/places?birth_date={baby}&gender=f&uma=false").get_json()
    assert data[0]["facility"]["name"] == "Familie C"


def test_place_finder_pages_cut_the_ranking_of_every_facility(api, houses, app):
    """With page/page_size the answer is that part of the whole ranking, and where it
    stands is in X-Pagination; without them every facility, as before."""
    a, b, c = houses
    admit(api, a)
    admit(api, a)  # Haus A full: the ranking is B, A, C
    search = "/places?age=15&gender=m&uma=false&lat=51.34&lon=12.37"
    whole = api.get(search)
    assert [r["facility"]["name"] for r in whole.get_json()] == ["Haus B", "Haus A", "Familie C"]
    assert json.loads(whole.headers["X-Pagination"])["total"] == 3
    first = api.get(f"{search}&page_size=2")
    assert first.get_json() == whole.get_json()[:2]
    assert json.loads(first.headers["X-Pagination"]) == {
        "total": 3,
        "total_pages": 2,
        "page": 1,
        "page_size": 2,
        "first_page": 1,
        "last_page": 2,
        "next_page": 2,
    }
    second = api.get(f"{search}&page_size=2&page=2")
    assert second.get_json() == whole.get_json()[2:]
    assert json.loads(second.headers["X-Pagination"])["previous_page"] == 1
    assert api.get(f"{search}&page_size=2&page=3").get_json() == []
    app.config["PLACES_PAGE_SIZE"] = 1
    only_page = api.get(f"{search}&page=2")
    assert [r["facility"]["name"] for r in only_page.get_json()] == ["Haus A"]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("page=0", 400, "out_of_range"),
        ("page=x", 400, "not_integer"),
        ("page_size=0", 400, "out_of_range"),
        ("page_size=501", 422, "out_of_range"),
    ],
)
def test_place_finder_bad_page(api, houses, query, status, code):
    response = api.get(f"/places?age=15&gender=m&uma=false&{query}")
    assert response.status_code == status, response.get_json()
    assert response.get_json()["field"] == query.split("=")[0]
    assert response.get_json()["code"] == code


def test_place_finder_page_is_no_way_around_the_permission(api, houses):
    response = api.get("/places?age=15&gender=m&uma=false&page_size=501", role="department_head")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("gender=m&uma=false", "age"),
        ("age=x&gender=m&uma=false", "age"),
        ("age=30&gender=m&uma=false", "age"),
        ("age=15&gender=x&uma=false", "gender"),
        ("age=15&gender=m", "uma"),
        ("age=15&gender=m&uma=vielleicht", "uma"),
        ("age=15&gender=m&uma=false&siblings=0", "siblings"),
        ("age=15&gender=m&uma=false&lat=51", "lon"),
        ("age=15&gender=m&uma=false&lat=abc&lon=1", "lat"),
        ("birth_date=2010-13-01&gender=m&uma=false", "birth_date"),
    ],
)
def test_place_finder_bad_input(api, houses, query, field):
    response = api.get(f"/places?{query}")
    assert response.status_code in (400, 422)
    assert response.get_json()["field"] == field


# --- admissions -----------------------------------------------------------------------------


def test_admission_returns_stay_and_no_warning_when_room(api, houses, app):
    a, _, _ = houses
    response = admit(api, a, youth=new_youth(reference="P-1", file_number="51.2-123"))
    assert response.status_code == 201
    body = response.get_json()
    assert body["warnings"] == []
    assert body["stay"]["facility_id"] == a
    assert body["stay"]["youth"]["reference"] == "P-1"
    assert body["stay"]["legal_basis"] == "42-1-2"


def test_admission_over_capacity_warns_and_records_event(api, houses, app):
    a, _, _ = houses
    assert admit(api, a).get_json()["warnings"] == []
    assert admit(api, a).get_json()["warnings"] == []
    response = admit(api, a)
    assert response.status_code == 201
    warning = response.get_json()["warnings"][0]
    assert (warning["code"], warning["occupied"], warning["limit"]) == ("over_capacity", 3, 2)
    assert "überbelegt" in warning["message"]
    with app.app_context():
        events = db.session.scalars(sa.select(OverOccupancyEvent)).all()
        assert [(e.facility_id, e.occupied, e.limit) for e in events] == [(a, 3, 2)]
        assert events[0].stay_id == response.get_json()["stay"]["id"]


def test_generated_reference_when_none_given(api, houses):
    reference = admit(api, houses[0]).get_json()["stay"]["youth"]["reference"]
    assert reference.startswith("IO-")


def test_estimated_birth_date_marks_age_assessment_pending(api, houses, app):
    body = admit(
        api, houses[0], youth={"birth_date_estimated": "2009-01-01", "gender": "m", "uma": True}
    ).get_json()
    assert body["stay"]["youth"]["birth_date_estimated"] is True


def test_profile_mismatch_needs_override_reason_which_is_audited(api, houses, app):
    _, _, c = houses
    response = admit(api, c)  # a 15-year-old into a 0-6 foster family
    assert response.status_code == 422
    body = response.get_json()
    assert body["field"] == "override_reason" and "Alter" in body["error"]
    response = admit(api, c, override_reason="Geschwister bleiben zusammen")
    assert response.status_code == 201
    assert response.get_json()["stay"]["override_reason"] == "Geschwister bleiben zusammen"
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).filter_by(action="stay.admit"))
        assert event.reason == "Geschwister bleiben zusammen"


def test_existing_youth_with_open_stay_is_offered_a_move(api, houses):
    a, b, _ = houses
    youth_id = admit(api, a).get_json()["stay"]["youth"]["id"]
    response = api.post(
        "/admissions", json={"facility_id": b, "legal_basis": "42a", "youth_id": youth_id}
    )
    assert response.status_code == 409
    assert "verlegen" in response.get_json()["error"]


def test_existing_youth_after_discharge_can_be_admitted_again(api, houses):
    a, b, _ = houses
    stay = admit(api, a).get_json()["stay"]
    api.post(f"/stays/{stay['id']}/discharge", json={"reason": "return_home"})
    response = api.post(
        "/admissions",
        json={"facility_id": b, "legal_basis": "42-1-1", "youth_id": stay["youth"]["id"]},
    )
    assert response.status_code == 201


def _future(days=1):
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"youth": new_youth(birth_date="2999-01-01")}, 422, "youth.birth_date"),
        ({"youth": new_youth(birth_date="1990-01-01")}, 422, "youth.birth_date"),
        ({"youth": new_youth(birth_date="01.04.2010")}, 400, "youth.birth_date"),
        # A code outside a closed vocabulary is a rule violation (422) on every field.
        ({"youth": new_youth(gender="x")}, 422, "youth.gender"),
        ({"youth": new_youth(uma="ja")}, 400, "youth.uma"),
        ({"youth": {"gender": "m", "uma": False}}, 400, "youth.birth_date"),
        ({"youth": "Max"}, 400, "youth"),
        ({"youth": None, "youth_id": None}, 400, "youth"),
        ({"youth_id": 999999, "youth": None}, 404, "youth_id"),
        ({"facility_id": 999999}, 404, "facility_id"),
        ({"facility_id": "abc"}, 400, "facility_id"),
        ({"facility_id": None}, 400, "facility_id"),
        ({"legal_basis": "§99"}, 422, "legal_basis"),
        ({"legal_basis": None}, 400, "legal_basis"),
        ({"start": "gestern"}, 400, "start"),
        (
            {"start": "2020-01-01T10:00:00+01:00", "youth": new_youth(birth_date="2021-01-01")},
            422,
            "youth.birth_date",
        ),
        ({"override_reason": "x" * 501}, 400, "override_reason"),
        # Too long is a malformed input (400) on every text field.
        ({"youth": new_youth(reference="R" * 41)}, 400, "youth.reference"),
    ],
)
def test_admission_bad_input_names_the_field_and_writes_nothing(
    api, houses, app, body, status, field
):
    payload = {"facility_id": houses[0], "legal_basis": "42-1-2", "youth": new_youth()}
    payload.update(body)
    payload = {k: v for k, v in payload.items() if v is not None}
    response = api.post("/admissions", json=payload, role="on_call")
    assert response.status_code == status, response.get_json()
    assert response.get_json()["field"] == field
    assert response.get_json()["error"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Stay)) == 0


def test_admission_in_the_future_needs_a_confirmation(api, houses):
    soon = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    response = admit(api, houses[0], start=soon, confirm=False)
    assert response.status_code == 422 and response.get_json()["field"] == "start"
    assert response.get_json()["code"] == "confirmation_required"
    assert "in der Zukunft" in response.get_json()["error"]
    assert admit(api, houses[0], start=soon).status_code == 201


def test_admission_more_than_a_day_ahead_is_refused(api, houses):
    response = admit(api, houses[0], start=_future(2))
    assert response.status_code == 422 and response.get_json()["field"] == "start"
    assert response.get_json()["code"] == "instant_in_future"


def test_duplicate_reference_is_a_conflict(api, houses):
    admit(api, houses[0], youth=new_youth(reference="DUP"))
    response = admit(api, houses[1], youth=new_youth(reference="dup"))
    assert response.status_code == 409 and response.get_json()["field"] == "youth.reference"


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ("facility_id=1", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_bodies(api, houses, data, content_type):
    response = api.post("/admissions", data=data, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.get_json()["field"] == "body"


def test_oversized_body_is_refused(api, houses):
    response = api.post(
        "/admissions", data="x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "zu groß" in response.get_json()["error"]


def test_department_head_may_not_admit(api, houses):
    response = admit(api, houses[0], role="department_head")
    assert response.status_code == 403


# --- reservations ---------------------------------------------------------------------------


def test_reservation_holds_a_place_and_turns_into_the_admission(api, houses, app):
    a, _, _ = houses
    reservation = api.post("/reservations", json={"facility_id": a, "note": "Polizei"})
    assert reservation.status_code == 201
    res = reservation.get_json()
    assert res["status"] == "open"
    expires = datetime.fromisoformat(res["expires_at"])
    assert timedelta(hours=1, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=2)
    assert [r["id"] for r in api.get("/reservations").get_json()] == [res["id"]]

    response = api.post(
        f"/reservations/{res['id']}/admit", json={"legal_basis": "42-1-2", "youth": new_youth()}
    )
    assert response.status_code == 201
    assert response.get_json()["warnings"] == []
    assert api.get("/reservations").get_json() == []
    with app.app_context():
        stored = db.session.get(Reservation, res["id"])
        assert stored.status.value == "admitted"
        assert stored.stay_id == response.get_json()["stay"]["id"]
    again = api.post(
        f"/reservations/{res['id']}/admit", json={"legal_basis": "42-1-2", "youth": new_youth()}
    )
    assert again.status_code == 409


def test_reservations_never_exceed_free_places(api, houses):
    a, _, _ = houses
    admit(api, a)
    assert api.post("/reservations", json={"facility_id": a}).status_code == 201
    response = api.post("/reservations", json={"facility_id": a})
    assert response.status_code == 409
    assert response.get_json()["field"] == "facility_id"


def test_cancel_reservation_frees_the_place(api, houses):
    a, _, _ = houses
    first = api.post("/reservations", json={"facility_id": a}).get_json()
    api.post("/reservations", json={"facility_id": a})
    assert api.post("/reservations", json={"facility_id": a}).status_code == 409
    cancelled = api.delete(f"/reservations/{first['id']}")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert api.post("/reservations", json={"facility_id": a}).status_code == 201
    assert api.delete(f"/reservations/{first['id']}").status_code == 409


def test_reservation_expires_by_itself(api, houses, app):
    a, _, _ = houses
    res = api.post("/reservations", json={"facility_id": a}).get_json()
    with app.app_context():  # let it lapse: move its window into the past
        stored = db.session.get(Reservation, res["id"])
        stored.created_at = datetime.now(UTC) - timedelta(hours=3)
        stored.expires_at = datetime.now(UTC) - timedelta(hours=1)
        db.session.commit()
    assert api.get("/reservations").get_json() == []
    response = api.post(
        f"/reservations/{res['id']}/admit", json={"legal_basis": "42-1-2", "youth": new_youth()}
    )
    assert response.status_code == 409 and response.get_json()["field"] == "reservation_id"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 400, "facility_id"),
        ({"facility_id": 99999}, 404, "facility_id"),
        ({"facility_id": "FAC", "expires_at": None}, 400, "facility_id"),
        ({"expires_at": "2000-01-01T00:00:00Z"}, 422, "expires_at"),
        ({"expires_at": "bald"}, 400, "expires_at"),
        ({"note": "n" * 201}, 400, "note"),
    ],
)
def test_reservation_bad_input(api, houses, body, status, field):
    payload = {"facility_id": houses[0], **body}
    payload = {k: v for k, v in payload.items() if v is not None and k in body or k not in body}
    payload = {k: v for k, v in {**{"facility_id": houses[0]}, **body}.items() if v is not None}
    if body == {}:
        payload = {}
    response = api.post("/reservations", json=payload)
    assert response.status_code == status
    assert response.get_json()["field"] == field


def test_expiry_beyond_the_maximum_is_refused(api, houses):
    response = api.post(
        "/reservations", json={"facility_id": houses[0], "expires_at": _future(days=5)}
    )
    assert response.status_code == 422 and response.get_json()["field"] == "expires_at"


def test_unknown_reservation(api, houses):
    assert api.delete("/reservations/4242").status_code == 404
    response = api.post(
        "/reservations/4242/admit", json={"legal_basis": "42a", "youth": new_youth()}
    )
    assert response.status_code == 404


# --- discharge, move, list, correct ------------------------------------------------------------


def test_discharge_with_reason_and_time(api, houses):
    stay = admit(api, houses[0], start="2024-03-01T10:00:00+01:00").get_json()["stay"]
    response = api.post(
        f"/stays/{stay['id']}/discharge",
        json={"reason": "follow_on_help", "time": "2024-03-05T09:30:00+01:00"},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["end"] == "2024-03-05T08:30:00+00:00"
    assert body["end_reason"] == "follow_on_help" and body["place_held_until"] is None
    again = api.post(f"/stays/{stay['id']}/discharge", json={"reason": "other"})
    assert again.status_code == 409


def test_absconded_keeps_the_place_held(api, houses, app):
    a, _, _ = houses
    stay = admit(api, a).get_json()["stay"]
    admit(api, a)
    body = api.post(f"/stays/{stay['id']}/discharge", json={"reason": "absconded"}).get_json()
    held = datetime.fromisoformat(body["place_held_until"]) - datetime.fromisoformat(body["end"])
    assert held == timedelta(days=app.config["ABSCONDED_HOLD_DAYS"])
    row = next(
        r
        for r in api.get("/places?age=15&gender=m&uma=false").get_json()
        if r["facility"]["id"] == a
    )
    assert (row["occupied"], row["reserved"], row["free"]) == (1, 1, 0)
    # The youth comes back: the hold ends with the new admission.
    api.post(
        "/admissions",
        json={"facility_id": a, "legal_basis": "42-1-2", "youth_id": stay["youth"]["id"]},
    )
    row = next(
        r
        for r in api.get("/places?age=15&gender=m&uma=false").get_json()
        if r["facility"]["id"] == a
    )
    assert (row["occupied"], row["reserved"]) == (2, 0)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 400, "reason"),
        ({"reason": "weg"}, 422, "reason"),
        ({"reason": "other", "time": "2000-01-01T00:00:00Z"}, 422, "time"),
        ({"reason": "other", "time": "morgen"}, 400, "time"),
    ],
)
def test_discharge_bad_input(api, houses, body, status, field):
    stay = admit(api, houses[0]).get_json()["stay"]
    response = api.post(f"/stays/{stay['id']}/discharge", json=body)
    assert response.status_code == status
    assert response.get_json()["field"] == field


def test_discharge_in_the_future_and_unknown_stay(api, houses):
    stay = admit(api, houses[0]).get_json()["stay"]
    response = api.post(
        f"/stays/{stay['id']}/discharge", json={"reason": "other", "time": _future()}
    )
    assert response.status_code == 422
    assert api.post("/stays/99999/discharge", json={"reason": "other"}).status_code == 404


def test_move_closes_one_stay_and_opens_the_next(api, houses, app):
    a, b, _ = houses
    stay = admit(api, a, start="2024-03-01T10:00:00+01:00").get_json()["stay"]
    response = api.post(f"/stays/{stay['id']}/move", json={"facility_id": b})
    assert response.status_code == 201
    new = response.get_json()["stays"][0]
    assert new["facility_id"] == b and new["end"] is None
    stays = api.get(f"/stays?facility_id={a}").get_json()
    assert stays[0]["end_reason"] == "transfer" and stays[0]["end"] == new["start"]
    assert api.get(f"/stays?facility_id={a}&open=true").get_json() == []


def test_move_siblings_together(api, houses):
    a, b, _ = houses
    s1 = admit(api, a, youth=new_youth(sibling_group="G1")).get_json()["stay"]
    admit(api, a, youth=new_youth(sibling_group="G1", gender="f"))
    response = api.post(f"/stays/{s1['id']}/move", json={"facility_id": b, "with_siblings": True})
    assert len(response.get_json()["stays"]) == 2
    assert len(api.get(f"/stays?facility_id={b}&open=true").get_json()) == 2


def test_move_into_full_house_warns(api, houses):
    a, b, _ = houses
    admit(api, b)
    admit(api, b)
    stay = admit(api, a).get_json()["stay"]
    warnings = api.post(f"/stays/{stay['id']}/move", json={"facility_id": b}).get_json()["warnings"]
    assert warnings[0]["code"] == "over_capacity" and warnings[0]["occupied"] == 3


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 400, "facility_id"),
        ({"facility_id": 99999}, 404, "facility_id"),
        ({"facility_id": "same"}, 422, "facility_id"),
        ({"facility_id": "foster"}, 422, "override_reason"),
        ({"facility_id": "other", "time": "2000-01-01T00:00:00Z"}, 422, "time"),
    ],
)
def test_move_bad_input(api, houses, body, status, field):
    a, b, c = houses
    names = {"same": a, "foster": c, "other": b}
    if "facility_id" in body and body["facility_id"] in names:
        body = {**body, "facility_id": names[body["facility_id"]]}
    stay = admit(api, a).get_json()["stay"]
    response = api.post(f"/stays/{stay['id']}/move", json=body)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["field"] == field


def test_list_stays_needs_person_access_and_is_audited(api, houses, app):
    admit(api, houses[0])
    assert api.get("/stays", role="department_head").status_code == 403
    assert len(api.get("/stays?open=true").get_json()) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(AuditEvent).filter_by(action="stays.view"))


def test_correction_with_reason_is_audited_with_before_and_after(api, houses, app):
    a, b, _ = houses
    stay = admit(api, a, start="2024-03-01T10:00:00+01:00").get_json()["stay"]
    response = api.patch(
        f"/stays/{stay['id']}",
        json={
            "facility_id": b,
            "start_at": "2024-03-01T09:00:00+01:00",
            "reason": "falsche Einrichtung erfasst",
        },
    )
    assert response.status_code == 200
    assert response.get_json()["facility_id"] == b
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).filter_by(action="stay.correct"))
        assert event.before["facility_id"] == a and event.after["facility_id"] == b
        assert event.reason == "falsche Einrichtung erfasst"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Stay)) == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"start_at": "2024-03-01T08:00:00Z"}, 400, "reason"),
        ({"reason": "x", "start_at": "2024-03-01T08:00:00Z"}, 422, "reason"),
        (
            {"reason": "Tippfehler", "end_at": "2024-02-01T08:00:00Z", "end_reason": "other"},
            422,
            "end_at",
        ),
        ({"reason": "Tippfehler", "end_at": "2024-04-01T08:00:00Z"}, 422, "end_reason"),
        ({"reason": "Tippfehler", "start_at": None}, 400, "start_at"),
        ({"reason": "Tippfehler"}, 422, None),
    ],
)
def test_correction_bad_input(api, houses, body, status, field):
    stay = admit(api, houses[0], start="2024-03-01T10:00:00+01:00").get_json()["stay"]
    response = api.patch(f"/stays/{stay['id']}", json=body)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["field"] == field


def test_correction_cannot_create_overlaps(api, houses):
    a, b, _ = houses
    first = admit(api, a, start="2024-03-01T10:00:00+01:00").get_json()["stay"]
    api.post(
        f"/stays/{first['id']}/discharge",
        json={"reason": "return_home", "time": "2024-03-10T10:00:00+01:00"},
    )
    admit(
        api,
        b,
        legal_basis="42-1-1",
        youth=None,
        youth_id=first["youth"]["id"],
        start="2024-04-01T10:00:00+01:00",
    )
    response = api.patch(
        f"/stays/{first['id']}",
        json={"end_at": "2024-04-02T10:00:00+01:00", "reason": "späteres Ende"},
    )
    assert response.status_code == 422 and response.get_json()["field"] == "end_at"
    reopen = api.patch(f"/stays/{first['id']}", json={"end_at": None, "reason": "irrtümlich"})
    assert reopen.status_code == 409


def test_on_call_may_not_correct(api, houses):
    stay = admit(api, houses[0]).get_json()["stay"]
    response = api.patch(
        f"/stays/{stay['id']}", json={"reason": "Tippfehler", "legal_basis": "42a"}, role="on_call"
    )
    assert response.status_code == 403
