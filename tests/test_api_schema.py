"""The generated OpenAPI document: valid OpenAPI 3.1, enums from the model enums, and
every endpoint's answers (good and bad) validate against it. The ``api`` fixture checks
every answer of every API test; this module also makes sure no operation is left out."""

from __future__ import annotations

from datetime import date

from openapi_spec_validator import validate

from placement.models.enums import EndReason, FacilityKind, Gender, LegalBasis, UmaPolicy
from placement.models.reservation import ReservationStatus
from placement.services.errors import Code
from placement.timeutil import local
from placement.timeutil import now as utc_now
from tests.conftest import create_facility, create_stay, create_youth
from tests.openapi_check import openapi_document


def _operations(document) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_document_is_valid_openapi_3_1(app):
    document = openapi_document(app)
    assert document["openapi"] == "3.1.0"
    validate(document)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_enums_come_from_the_model_enums(app):
    schemas = openapi_document(app)["components"]["schemas"]

    def values(schema, prop):
        return [v for v in schemas[schema]["properties"][prop]["enum"] if v is not None]

    assert values("Stay", "legal_basis") == [m.value for m in LegalBasis]
    assert values("Stay", "end_reason") == [m.value for m in EndReason]
    assert values("Facility", "kind") == [m.value for m in FacilityKind]
    assert values("Facility", "uma") == [m.value for m in UmaPolicy]
    assert values("Youth", "gender") == [m.value for m in Gender]
    assert values("Reservation", "status") == [m.value for m in ReservationStatus]
    assert values("Error", "code") == [m.value for m in Code]


def test_every_operation_documents_the_answers_it_gives(app):
    for (method, path), operation in (
        ((m, p), openapi_document(app)["paths"][p][m.lower()])
        for m, p in _operations(openapi_document(app))
    ):
        responses = operation["responses"]
        assert "401" in responses, (method, path)
        assert any(status.startswith("2") for status in responses), (method, path)
        assert operation.get("summary"), (method, path)


def test_every_endpoint_answers_as_documented(app, api):
    """A tour of the whole API, good and bad requests; the fixture validates each answer
    against the document. At the end every documented operation must have answered."""
    with app.app_context():
        from placement.extensions import db

        house = create_facility(licensed=2, name="Haus Tour", age_min=12, age_max=17)
        other = create_facility(licensed=2, name="Haus Ziel", age_min=12, age_max=17)
        db.session.commit()
        house_id, other_id = house.id, other.id
    youth = {"birth_date": "2010-04-01", "gender": "m", "uma": False}

    assert api.get("/facilities").status_code == 200
    assert api.get("/facilities", role="department_head").status_code == 200
    assert api.get("/places?age=15&gender=m&uma=false").status_code == 200
    assert api.get("/places?age=15&gender=m&uma=false", role="department_head").status_code == 403
    assert api.get("/places?age=abc&gender=m&uma=false").status_code == 400
    assert api.get("/places?birth_date=2999-01-01&gender=m&uma=false").status_code == 422
    assert api.get("/places?age=15&gender=m&uma=false&near=999999").status_code == 404
    assert api.get("/occupancy").status_code == 200
    assert api.get("/occupancy?at=gestern").status_code == 400
    assert api.get(f"/forecast?facility_id={house_id}&days=3").status_code == 200
    assert api.get("/forecast?profile=girls_12_17").status_code == 200
    assert api.get("/forecast?days=0").status_code == 400
    assert api.get("/forecast?facility_id=999999").status_code == 404
    assert api.get("/forecast?kind=zelt").status_code == 422

    body = {"facility_id": house_id, "legal_basis": "42-1-2", "youth": youth}
    preview = api.post("/admissions/preview", json=body)
    assert preview.status_code == 200 and preview.get_json()["needs_confirmation"] is False
    assert api.post("/admissions/preview", json={**body, "facility_id": 999999}).status_code == 404
    admitted = api.post(
        "/admissions", json={**body, "confirmation": preview.get_json()["confirmation"]}
    )
    assert admitted.status_code == 201
    stay = admitted.get_json()["stay"]
    assert api.post("/admissions", json={**body, "youth": {"uma": "ja"}}).status_code == 400
    assert api.post("/admissions", json={**body, "legal_basis": "x"}).status_code == 422
    again = {"facility_id": other_id, "legal_basis": "42a", "youth_id": stay["youth"]["id"]}
    assert api.post("/admissions", json=again).status_code == 409
    assert api.post("/admissions", json=body, role="department_head").status_code == 403

    reservation = api.post("/reservations", json={"facility_id": house_id})
    assert reservation.status_code == 201
    rid = reservation.get_json()["id"]
    assert api.post("/reservations", json={"facility_id": house_id}).status_code == 409
    assert api.get("/reservations").status_code == 200
    assert api.get("/reservations", role="department_head").status_code == 403
    admit_body = {"legal_basis": "42-1-2", "youth": youth}
    assert api.post(f"/reservations/{rid}/admit", json=admit_body).status_code == 201
    assert api.post(f"/reservations/{rid}/admit", json=admit_body).status_code == 409
    assert api.post("/reservations/999999/admit", json=admit_body).status_code == 404
    second = api.post("/reservations", json={"facility_id": other_id}).get_json()["id"]
    assert api.delete(f"/reservations/{second}").status_code == 200
    assert api.delete(f"/reservations/{second}").status_code == 409
    assert api.delete("/reservations/999999").status_code == 404

    assert api.get("/stays?open=true").status_code == 200
    assert api.get("/stays?open=vielleicht").status_code == 400
    assert api.get("/stays", role="department_head").status_code == 403
    moved = api.post(f"/stays/{stay['id']}/move", json={"facility_id": other_id})
    assert moved.status_code == 201
    new_id = moved.get_json()["stays"][0]["id"]
    assert api.post(f"/stays/{stay['id']}/move", json={"facility_id": other_id}).status_code == 409
    assert api.post(f"/stays/{new_id}/move", json={"facility_id": other_id}).status_code == 422
    assert api.post("/stays/999999/move", json={"facility_id": other_id}).status_code == 404
    patch = {"reason": "Rechtsgrundlage falsch", "legal_basis": "42a"}
    assert api.patch(f"/stays/{new_id}", json=patch).status_code == 200
    assert api.patch(f"/stays/{new_id}", json={"legal_basis": "42a"}).status_code == 400
    assert api.patch("/stays/999999", json=patch).status_code == 404
    assert api.patch(f"/stays/{new_id}", json=patch, role="on_call").status_code == 403
    uma_body = {"facility_id": house_id, "legal_basis": "42a", "youth": {**youth, "uma": True}}
    uma_stay = api.post("/admissions", json=uma_body).get_json()["stay"]["id"]
    # The office's day (Europe/Berlin), not the machine's: from 23:00 UTC they differ.
    berlin_today = local(utc_now()).date()
    today = {"reported_on": berlin_today.isoformat(), "result": "assigned_land"}
    assert api.post(f"/stays/{uma_stay}/distribution", json=today).status_code == 200
    assert api.post(f"/stays/{uma_stay}/distribution", json={"result": "x"}).status_code == 422
    assert api.post(f"/stays/{stay['id']}/distribution", json=today).status_code == 422
    assert api.post("/stays/999999/distribution", json=today).status_code == 404
    planned = {"planned_end_on": date.fromordinal(berlin_today.toordinal() + 2).isoformat()}
    assert api.post(f"/stays/{uma_stay}/planned-end", json=planned).status_code == 200
    assert api.post(f"/stays/{uma_stay}/planned-end", json={}).status_code == 400
    past = {"planned_end_on": "2020-01-01"}
    assert api.post(f"/stays/{uma_stay}/planned-end", json=past).status_code == 422
    assert api.post(f"/stays/{stay['id']}/planned-end", json=planned).status_code == 409
    assert api.post("/stays/999999/planned-end", json=planned).status_code == 404
    assert (
        api.post(f"/stays/{uma_stay}/planned-end", json=planned, role="department_head").status_code
        == 403
    )
    assert (
        api.post(f"/stays/{uma_stay}/distribution", json=today, role="department_head").status_code
        == 403
    )
    assert api.post(f"/stays/{new_id}/discharge", json={"reason": "return_home"}).status_code == 200
    assert api.post(f"/stays/{new_id}/discharge", json={"reason": "other"}).status_code == 409
    assert api.post(f"/stays/{new_id}/discharge", json={}).status_code == 400
    assert api.post("/stays/999999/discharge", json={"reason": "other"}).status_code == 404
    assert api.post(f"/stays/{new_id}/undo-discharge").status_code == 200
    assert api.post(f"/stays/{new_id}/undo-discharge").status_code == 409
    assert api.post("/stays/999999/undo-discharge").status_code == 404
    assert api.post(f"/stays/{new_id}/undo-discharge", role="department_head").status_code == 403
    assert api.get("/youths?q=Y").status_code == 200
    assert api.get("/youths").status_code == 400
    assert api.get("/youths?q=%20").status_code == 422
    assert api.get("/youths?q=Y", role="department_head").status_code == 403
    assert api.get("/stays?status=absconded&deadline=any").status_code == 422

    # Move plans: started, solved by a worker, followed, executed, cancelled.
    from placement.worker import PlanWorker

    with app.app_context():
        full = create_facility(licensed=1, name="Haus Voll", age_min=12, age_max=17)
        create_facility(licensed=5, name="Haus Leer", age_min=12, age_max=17)
        for _ in range(3):
            create_stay(create_youth(), full, "2024-01-01 10:00")
        db.session.commit()
        full_id = full.id
    started = api.post("/plans", json={"scope": "relieve", "relieve_facility_id": full_id})
    assert started.status_code == 202
    plan_id = started.get_json()["id"]
    assert api.post("/plans", json={"max_moves": -1}).status_code == 422
    assert api.post("/plans", json={"scope": "relieve"}).status_code == 400
    unknown = {"facility_ids": [999999, house_id], "scope": "facilities"}
    assert api.post("/plans", json=unknown).status_code == 404
    assert api.post("/plans", json={}, role="on_call").status_code == 403
    assert api.get(f"/plans/{plan_id}").get_json()["status"] == "queued"
    PlanWorker(app).run_once()
    assert api.get(f"/plans/{plan_id}").get_json()["status"] == "proposed"
    assert api.get("/plans/999999").status_code == 404
    assert api.get(f"/plans/{plan_id}/scenario").status_code == 200
    assert api.get(f"/plans/{plan_id}/scenario", role="on_call").status_code == 403
    assert api.get("/plans/999999/scenario").status_code == 404
    assert (
        api.post(
            f"/plans/{plan_id}/execute", json={"moves": [999999]}, role="department_head"
        ).status_code
        == 422
    )
    assert api.post(f"/plans/{plan_id}/execute", json={}, role="department_head").status_code == 200
    assert api.post(f"/plans/{plan_id}/execute", json={}, role="department_head").status_code == 409
    assert api.post("/plans/999999/execute", json={}).status_code == 404
    assert api.post(f"/plans/{plan_id}/execute", json={}, role="on_call").status_code == 403
    assert api.post(f"/plans/{plan_id}/cancel").status_code == 409
    other = api.post("/plans", json={}).get_json()["id"]
    assert api.post(f"/plans/{other}/cancel").status_code == 200
    assert api.post("/plans/999999/cancel").status_code == 404
    assert api.post(f"/plans/{other}/cancel", role="on_call").status_code == 403

    # Facility administration: the manager of Haus Tour; Haus Ziel is not theirs.
    with app.app_context():
        from placement.models import Facility, User

        manager = db.session.scalar(db.select(User).filter_by(email="facility_manager@example.org"))
        manager.facilities = [db.session.get(Facility, house_id)]
        db.session.commit()
    new = {"name": "Haus Neu", "kind": "clearing", "licensed": 4}
    created = api.post("/facilities", json=new, role="admin")
    assert created.status_code == 201
    assert api.post("/facilities", json=new).status_code == 403
    assert api.post("/facilities", json={"kind": "clearing"}, role="admin").status_code == 400
    code = created.get_json()["code"]
    assert api.post("/facilities", json={**new, "code": code}, role="admin").status_code == 409
    assert api.patch(f"/facilities/{house_id}", json={"operator": "Stadt"}).status_code == 200
    assert api.patch(f"/facilities/{house_id}", json={"age_min": 40}).status_code == 422
    assert api.patch(f"/facilities/{other_id}", json={"operator": "x"}).status_code == 403
    assert api.patch("/facilities/999999", json={"operator": "x"}).status_code == 404
    assert api.get(f"/facilities/{house_id}/capacity").status_code == 200
    assert api.get("/facilities/999999/capacity").status_code == 404
    change = {"usable": 1}
    assert api.post(f"/facilities/{house_id}/capacity/preview", json=change).status_code == 200
    assert (
        api.post(f"/facilities/{house_id}/capacity/preview", json={"usable": 9}).status_code == 422
    )
    assert api.post(f"/facilities/{other_id}/capacity", json=change).status_code == 403
    assert api.post(f"/facilities/{house_id}/capacity", json={"usable": "x"}).status_code == 400
    assert api.post(f"/facilities/{house_id}/capacity", json=change).status_code in (201, 409)
    assert api.post(f"/facilities/{house_id}/confirm").status_code == 200
    assert api.post(f"/facilities/{other_id}/confirm").status_code == 403
    assert api.post("/facilities/999999/confirm").status_code == 404

    unauthenticated = api.client.get("/api/v1/stays")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["WWW-Authenticate"] == "Bearer"
    api.checker.check(unauthenticated)

    document = openapi_document(app)
    answered = {(method, path) for method, path, _status in api.checker.seen}
    assert _operations(document) <= answered, _operations(document) - answered
    for method, path, status in api.checker.seen:
        assert str(status) in document["paths"][path][method.lower()]["responses"], (
            method,
            path,
            status,
        )
