"""Move planning through its two surfaces: the HTML pages under /plans (who may see what,
the form's errors at their fields, start -> review -> execute, print view, downloads,
stale, cancel, replan) and the API under /api/v1/plans (every answer schema-checked by
the ``api`` fixture)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, Plan, PlanStatus, Stay
from placement.services.accounts import audit
from placement.services.intake import stays as stay_service
from placement.services.planning import plans, runner
from placement.services.planning.scenario import PlanParameters
from placement.timeutil import now
from placement.worker import PlanWorker
from solver.validate import validate_plan
from tests.conftest import create_facility, create_stay, create_youth
from tests.test_planning import EARLY, NORTH, SOUTH, WEST, born

# --- data and helpers -----------------------------------------------------------------------


@pytest.fixture
def world(app):
    """Haus Voll (1 place) with three youths; Haus Frei (5 places); Haus West (5 places).
    Relieving Haus Voll moves two youths."""
    with app.app_context():
        full = create_facility(licensed=1, name="Haus Voll", **NORTH)
        free = create_facility(licensed=5, name="Haus Frei", **SOUTH)
        west = create_facility(licensed=5, name="Haus West", **WEST)
        youths = [create_youth(birth_date=born(14)) for _ in range(3)]
        for youth in youths:
            create_stay(youth, full, EARLY)
        db.session.commit()
        return {
            "full": full.id,
            "free": free.id,
            "west": west.id,
            "youths": [y.id for y in youths],
            "refs": {y.id: y.reference for y in youths},
        }


def start(app, **parameters) -> int:
    """A plan queued through the service (as the system)."""
    with app.app_context():
        plan = plans.create_plan(audit.SYSTEM, PlanParameters(**parameters))
        db.session.commit()
        return plan.id


def solved(app, **parameters) -> int:
    plan_id = start(app, **parameters)
    assert PlanWorker(app).run_once() == plan_id
    return plan_id


def plan_row(app, plan_id: int) -> Plan:
    with app.app_context():
        plan = db.session.get(Plan, plan_id)
        db.session.expunge(plan)
        return plan


def moved_ids(app, plan_id: int) -> list[int]:
    return sorted(int(m["youth"]) for m in plan_row(app, plan_id).result["moves"])


def discharge(app, youth_id: int) -> None:
    with app.app_context():
        stay = stay_service.open_stay_of(youth_id)
        stay_service.discharge(audit.SYSTEM, stay.id, reason="return_home")
        db.session.commit()


def open_facility(app, youth_id: int) -> int | None:
    with app.app_context():
        stay = stay_service.open_stay_of(youth_id)
        return stay.facility_id if stay else None


def html_of(response) -> str:
    return response.get_data(as_text=True)


def field_block(html: str, name: str) -> str:
    """The rendered form group of field ``name`` (label, input, error)."""
    blocks = [b for b in html.split('<div class="mb-3">') if f'id="{name}"' in b]
    assert blocks, f"no field {name}"
    return blocks[0]


def status_of(html: str) -> str:
    return re.search(r'id="plan-status" data-status="(\w+)"', html).group(1)


def switch(client, login, role: str, email: str) -> None:
    client.post("/auth/logout")
    login(role=role, email=email)


FORM = {
    "scope": "office",
    "keep_free": "0",
    "time_limit": "30",
    "pin_recent_admissions": "y",
    "pin_coming_of_age": "y",
}

# --- HTML: who may see what -----------------------------------------------------------------

PAGES = ["/plans/", "/plans/new", "/plans/{id}", "/plans/{id}/print", "/plans/{id}/scenario.json"]


@pytest.mark.parametrize("role", ["department_head", "facility_manager"])
def test_planners_see_every_page(app, client, login, world, role):
    plan_id = solved(app, scope="relieve", relieve_facility_id=world["full"])
    login(role=role, email=f"{role}@example.org")
    for path in PAGES + ["/plans/{id}/plan.json"]:
        response = client.get(path.format(id=plan_id))
        assert response.status_code == 200, path
    assert "Umzugspläne" in html_of(client.get("/"))  # in the navigation


@pytest.mark.parametrize("path", [p for p in PAGES if p != "/plans/new"])
def test_on_call_staff_get_403(app, client, login, world, path):
    plan_id = solved(app)
    login(role="on_call", email="nacht@example.org")
    assert client.get(path.format(id=plan_id)).status_code == 403
    assert 'href="/plans/"' not in html_of(client.get("/"))


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_on_call_staff_cannot_open_the_new_plan_form(app, client, login, world, method):
    login(role="on_call", email="nacht@example.org")
    response = client.open("/plans/new", method=method, data=FORM if method == "POST" else None)
    assert response.status_code == 403


def test_on_call_posting_the_form_writes_nothing(app, client, login, world):
    login(role="on_call", email="nacht@example.org")
    client.post("/plans/new", data=FORM)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Plan)) == 0


def test_index_lists_plans_and_filters_by_facility(app, client, login, world):
    office = solved(app)
    relieve_west = start(app, scope="relieve", relieve_facility_id=world["west"])
    login()
    html = html_of(client.get("/plans/"))
    assert html.index(f"Plan {relieve_west}") < html.index(f"Plan {office}")
    assert "Vorschlag" in html and "wartet" in html
    html = html_of(client.get(f"/plans/?facility_id={world['west']}"))
    assert f"Plan {relieve_west}" in html
    assert f"/plans/new?facility_id={world['west']}" in html
    assert "Noch keine Pläne." in html_of(client.get(f"/plans/?facility_id={world['full'] + 99}"))


def test_new_plan_from_a_facility_preselects_relief(app, client, login, world):
    login()
    html = html_of(client.get(f"/plans/new?facility_id={world['full']}"))
    assert re.search(r'<input[^>]*checked[^>]*value="relieve"|value="relieve"[^>]*checked', html)
    assert re.search(
        rf'<option selected value="{world["full"]}">|value="{world["full"]}" selected', html
    )


# --- HTML: the form's errors at their fields ------------------------------------------------

BAD_FORMS = [
    # (name, form values, field, part of the message, value kept in the page)
    ("negative moves", {"max_moves": "-1"}, "max_moves", "positive Zahl", 'value="-1"'),
    ("moves not a number", {"max_moves": "viele"}, "max_moves", "", 'value="viele"'),
    ("zero km", {"max_move_km": "0"}, "max_move_km", "positive Zahl", 'value="0"'),
    ("keep_free too big", {"keep_free": "51"}, "keep_free", "außerhalb", 'value="51"'),
    ("keep_free negative", {"keep_free": "-2"}, "keep_free", "außerhalb", 'value="-2"'),
    ("no time", {"time_limit": "0"}, "time_limit", "außerhalb", 'value="0"'),
    ("too much time", {"time_limit": "301"}, "time_limit", "außerhalb", 'value="301"'),
    ("unknown pinned", {"pinned": "X-NIEMAND"}, "pinned", "", 'value="X-NIEMAND"'),
    (
        "one facility",
        {"scope": "facilities", "facility_ids": ["{full}"]},
        "facility_ids",
        "mindestens zwei",
        "selected",
    ),
    (
        "relieve without facility",
        {"scope": "relieve", "relieve_facility_id": "0", "max_moves": "7"},
        "relieve_facility_id",
        "fehlt",
        'value="7"',
    ),
]


@pytest.mark.parametrize(
    ("values", "field", "message", "kept"),
    [row[1:] for row in BAD_FORMS],
    ids=[row[0] for row in BAD_FORMS],
)
def test_bad_form_input_is_shown_at_the_field(
    app, client, login, world, values, field, message, kept
):
    login()
    data = {**FORM}
    for key, value in values.items():
        data[key] = [v.format(**world) for v in value] if isinstance(value, list) else value
    response = client.post("/plans/new", data=data)
    html = html_of(response)
    assert response.status_code == 422
    block = field_block(html, field)
    assert "is-invalid" in block and "invalid-feedback" in block
    assert message in block
    assert kept in html
    if values.get("scope"):
        assert re.search(
            rf'checked[^>]*value="{values["scope"]}"|value="{values["scope"]}"[^>]*checked', html
        )
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Plan)) == 0


# --- HTML: start, review, execute -----------------------------------------------------------


def test_start_review_and_execute_through_the_pages(app, client, login, world):
    login()
    data = {**FORM, "scope": "relieve", "relieve_facility_id": str(world["full"])}
    response = client.post("/plans/new", data=data)
    assert response.status_code == 302
    plan_id = int(re.search(r"/plans/(\d+)$", response.headers["Location"]).group(1))

    html = html_of(client.get(f"/plans/{plan_id}"))
    assert status_of(html) == "queued"
    assert "Wartet auf den Rechenprozess." in html and 'http-equiv="refresh"' in html
    assert PlanWorker(app).run_once() == plan_id

    html = html_of(client.get(f"/plans/{plan_id}"))
    assert status_of(html) == "proposed" and 'http-equiv="refresh"' not in html
    objective = re.search(r'id="plan-objective">([^<]*)<', html).group(1)
    assert objective.startswith("Überbelegung von 2 auf 0") and "2 Umzüge" in objective
    assert 'id="plan-greedy"' in html
    changes = re.search(r'id="plan-changes">(.*?)</table>', html, re.S).group(1)
    assert "Haus Voll" in changes
    boxes = re.findall(r'name="moves" value="(\d+)"', html)
    assert sorted(map(int, boxes)) == moved_ids(app, plan_id)
    for youth_id in boxes:  # department heads see no persons (#13)
        assert world["refs"][int(youth_id)] not in html
    assert "Haus Voll → " in html

    response = client.post(f"/plans/{plan_id}/execute", data={"moves_shown": "1", "moves": boxes})
    assert response.status_code == 302
    html = html_of(client.get(f"/plans/{plan_id}"))
    assert "2 Umzüge ausgeführt." in html
    assert status_of(html) == "executed"
    assert "Mit denselben Vorgaben neu planen" in html and "Abbrechen" not in html
    assert 'id="execute"' not in html
    for youth_id in map(int, boxes):
        assert open_facility(app, youth_id) != world["full"]
    with app.app_context():
        views = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "plan.persons.view", AuditEvent.object_id == plan_id)
        )
        assert views == 0  # no reference was shown, so no person was viewed


def test_department_head_executes_only_the_checked_moves(app, client, login, world):
    plan_id = solved(app, scope="relieve", relieve_facility_id=world["full"])
    first, second = moved_ids(app, plan_id)
    login()
    client.post(f"/plans/{plan_id}/execute", data={"moves_shown": "1", "moves": [str(first)]})
    html = html_of(client.get(f"/plans/{plan_id}"))
    assert "1 Umzüge ausgeführt." in html
    assert open_facility(app, first) != world["full"]
    assert open_facility(app, second) == world["full"]


def test_nothing_checked_is_refused_with_a_message(app, client, login, world):
    plan_id = solved(app)
    login()
    client.post(f"/plans/{plan_id}/execute", data={"moves_shown": "1"})
    html = html_of(client.get(f"/plans/{plan_id}"))
    assert "Bitte mindestens einen Umzug auswählen." in html
    assert status_of(html) == "proposed"


def test_facility_manager_executes_what_the_department_head_approved(app, client, login, world):
    plan_id = solved(app, scope="relieve", relieve_facility_id=world["full"])
    first, second = moved_ids(app, plan_id)
    login(role="facility_manager", email="leitung@example.org")
    html = html_of(client.get(f"/plans/{plan_id}"))
    assert 'name="moves"' not in html and "Auswahl genehmigen" not in html
    assert 'id="execute"' not in html
    refused = client.post(
        f"/plans/{plan_id}/approve", data={"moves_shown": "1", "moves": [str(first)]}
    )
    assert refused.status_code == 403  # a missing permission is never a form error
    assert status_of(html_of(client.get(f"/plans/{plan_id}"))) == "proposed"

    switch(client, login, "department_head", "chef@example.org")
    client.post(f"/plans/{plan_id}/approve", data={"moves_shown": "1", "moves": [str(first)]})
    html = html_of(client.get(f"/plans/{plan_id}"))
    assert "Plan genehmigt." in html and status_of(html) == "approved"
    assert open_facility(app, first) == world["full"]  # approved, not yet executed

    switch(client, login, "facility_manager", "leitung@example.org")
    html = html_of(client.get(f"/plans/{plan_id}"))
    assert "Genehmigte Umzüge ausführen" in html
    assert html.count("✓") == 1
    client.post(f"/plans/{plan_id}/execute", data={})
    html = html_of(client.get(f"/plans/{plan_id}"))
    assert "1 Umzüge ausgeführt." in html and status_of(html) == "executed"
    assert open_facility(app, first) != world["full"]
    assert open_facility(app, second) == world["full"]


def test_print_view_and_downloads(app, client, login, world):
    plan_id = solved(app, scope="relieve", relieve_facility_id=world["full"])
    plan = plan_row(app, plan_id)
    login(role="facility_manager", email="leitung@example.org")
    html = html_of(client.get(f"/plans/{plan_id}/print"))
    assert f"Plan {plan_id}" in html
    targets = {int(m["to"]) for m in plan.result["moves"]}
    names = {world["free"]: "Haus Frei", world["west"]: "Haus West"}
    for target in targets:
        assert f"von Haus Voll nach {names[target]}" in html
    for youth_id in moved_ids(app, plan_id):
        assert world["refs"][youth_id] in html
    assert html.count("☐") == 2

    for document, body in (("scenario", plan.scenario), ("plan", plan.result)):
        response = client.get(f"/plans/{plan_id}/{document}.json")
        assert response.mimetype == "application/json"
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="plan-{plan_id}-{document}.json"'
        )
        assert json.loads(response.get_data()) == body
    scenario = json.loads(client.get(f"/plans/{plan_id}/scenario.json").get_data())
    result = json.loads(client.get(f"/plans/{plan_id}/plan.json").get_data())
    check = validate_plan(scenario, result)
    assert check.ok and check.objective.to_dict() == result["objective"]
    assert client.get(f"/plans/{plan_id}/other.json").status_code == 404
    assert client.get("/plans/999999").status_code == 404


def test_a_stale_plan_says_what_changed_and_can_be_replanned(app, client, login, world):
    plan_id = solved(app, scope="relieve", relieve_facility_id=world["full"])
    gone = moved_ids(app, plan_id)[0]
    discharge(app, gone)
    login()
    client.post(f"/plans/{plan_id}/execute", data={})
    html = html_of(client.get(f"/plans/{plan_id}"))
    assert "Nicht ausgeführt: der Plan ist veraltet." in html
    assert status_of(html) == "stale"
    stale = re.search(r'id="plan-stale">(.*?)</div>', html, re.S).group(1)
    assert (
        f"Der Aufenthalt von {world['refs'][gone]} wurde seit der Planung geändert oder beendet."
        in stale
    )
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(Stay).where(Stay.end_reason == "transfer")
            )
            == 0
        )
    response = client.post(f"/plans/{plan_id}/replan", data={})
    assert response.status_code == 302
    new_id = int(re.search(r"/plans/(\d+)$", response.headers["Location"]).group(1))
    assert new_id != plan_id
    new = plan_row(app, new_id)
    assert new.status == PlanStatus.QUEUED and new.parameters == plan_row(app, plan_id).parameters
    assert status_of(html_of(client.get(f"/plans/{new_id}"))) == "queued"


def test_cancel_button_withdraws_a_plan(app, client, login, world):
    plan_id = solved(app)
    login(role="facility_manager", email="leitung@example.org")
    assert "Abbrechen" in html_of(client.get(f"/plans/{plan_id}"))
    client.post(f"/plans/{plan_id}/cancel", data={})
    html = html_of(client.get(f"/plans/{plan_id}"))
    assert "Plan abgebrochen." in html and status_of(html) == "cancelled"
    assert "Mit denselben Vorgaben neu planen" in html
    client.post(f"/plans/{plan_id}/cancel", data={})
    assert "kann nicht abgebrochen werden" in html_of(client.get(f"/plans/{plan_id}"))


def test_running_and_failed_plans_say_so(app, client, login, world):
    plan_id = start(app)
    with app.app_context():
        runner.claim_next("w1", 30)
        db.session.commit()
    login()
    html = html_of(client.get(f"/plans/{plan_id}"))
    assert status_of(html) == "running" and "Wird berechnet" in html
    with app.app_context():
        db.session.get(Plan, plan_id).lease_until = now() - timedelta(seconds=1)
        db.session.commit()
    html = html_of(client.get(f"/plans/{plan_id}"))
    assert status_of(html) == "failed"
    assert "nicht mehr gemeldet" in html and "Mit denselben Vorgaben neu planen" in html
    assert plan_row(app, plan_id).status == PlanStatus.FAILED  # stored, not only shown


# --- API ------------------------------------------------------------------------------------


def test_api_start_follow_and_fetch_the_scenario(app, api, world):
    started = api.post("/plans", json={"scope": "relieve", "relieve_facility_id": world["full"]})
    assert started.status_code == 202
    body = started.get_json()
    assert body["status"] == "queued"
    plan_id = body["id"]
    queued = api.get(f"/plans/{plan_id}").get_json()
    assert (queued["status"], queued["stage"], queued["objective"], queued["moves"]) == (
        "queued",
        None,
        None,
        [],
    )
    assert (queued["scope"], queued["relieve_facility_id"]) == ("relieve", world["full"])
    assert PlanWorker(app).run_once() == plan_id
    done = api.get(f"/plans/{plan_id}", role="department_head").get_json()
    assert done["status"] == "proposed" and done["stage"] == "done"
    assert done["objective"]["overflow"] == 0 and done["objective"]["moves"] == 2
    assert len(done["moves"]) == 2 and {m["from"] for m in done["moves"]} == {world["full"]}
    assert done["greedy"]["moves"] >= 0 and done["error"] is None and done["stale"] == []
    scenario = api.get(f"/plans/{plan_id}/scenario").get_json()
    assert scenario == plan_row(app, plan_id).scenario
    assert {f["id"] for f in scenario["facilities"]} == {
        str(world[k]) for k in ("full", "free", "west")
    }


def test_api_progress_of_a_running_plan_and_a_lost_worker(app, api, world):
    plan_id = api.post("/plans", json={}).get_json()["id"]
    with app.app_context():
        runner.claim_next("w1", 30)
        runner.renew(plan_id, "w1", 30, {"stage": "solving", "elapsed": 2.5, "best": None})
        db.session.commit()
    running = api.get(f"/plans/{plan_id}").get_json()
    assert (running["status"], running["stage"], running["elapsed"]) == ("running", "solving", 2.5)
    with app.app_context():
        db.session.get(Plan, plan_id).lease_until = now() - timedelta(seconds=1)
        db.session.commit()
    failed = api.get(f"/plans/{plan_id}").get_json()
    assert failed["status"] == "failed" and "nicht mehr gemeldet" in failed["error"]
    assert plan_row(app, plan_id).error == "worker_lost"


BAD_BODIES = [
    # (name, body, status, code, field)
    ("moves not integer", {"max_moves": "viele"}, 400, "not_integer", "max_moves"),
    ("moves fraction", {"max_moves": 1.5}, 400, "not_integer", "max_moves"),
    ("km not number", {"max_move_km": "weit"}, 400, "not_number", "max_move_km"),
    ("ids not list", {"facility_ids": 3}, 400, "not_list", "facility_ids"),
    ("flag not boolean", {"pin_coming_of_age": "ja"}, 400, "not_boolean", "pin_coming_of_age"),
    ("unknown scope", {"scope": "alles"}, 422, "unknown_value", "scope"),
    ("relieve nobody", {"scope": "relieve"}, 400, "missing", "relieve_facility_id"),
    ("negative moves", {"max_moves": -1}, 422, "negative_limit", "max_moves"),
    ("zero km", {"max_move_km": 0}, 422, "negative_limit", "max_move_km"),
    ("keep_free", {"keep_free": 51}, 422, "out_of_range", "keep_free"),
    ("time", {"time_limit": 0.5}, 422, "out_of_range", "time_limit"),
    ("time too long", {"time_limit": 301}, 422, "out_of_range", "time_limit"),
    (
        "one facility",
        {"scope": "facilities", "facility_ids": ["full"]},
        422,
        "plan_needs_two_facilities",
        "facility_ids",
    ),
    (
        "unknown facility",
        {"scope": "facilities", "facility_ids": ["full", 999999]},
        404,
        "unknown_facility",
        "facility_ids",
    ),
    (
        "unknown closed",
        {"closed_facility_ids": [999999]},
        404,
        "unknown_facility",
        "closed_facility_ids",
    ),
    ("unknown pinned", {"pinned_youth_ids": [999999]}, 404, "unknown_youth", "pinned_youth_ids"),
]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [row[1:] for row in BAD_BODIES],
    ids=[row[0] for row in BAD_BODIES],
)
def test_api_bad_bodies_name_the_field(app, api, world, body, status, code, field):
    body = {
        k: [world.get(v, v) for v in value]
        if isinstance(value, list) and k == "facility_ids"
        else value
        for k, value in body.items()
    }
    response = api.post("/plans", json=body)
    assert response.status_code == status
    answer = response.get_json()
    assert (answer["code"], answer["field"]) == (code, field)
    assert answer["error"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Plan)) == 0


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/plans", "pinned_youth_ids"),
        ("/plans", "facility_ids"),
        ("/plans", "closed_facility_ids"),
        ("/plans/{id}/execute", "moves"),
    ],
)
def test_api_a_list_element_that_is_no_integer_is_a_400(app, api, world, path, field):
    plan_id = solved(app)
    response = api.post(path.format(id=plan_id), json={field: ["x"]}, role="department_head")
    assert response.status_code == 400
    assert response.get_json()["code"] == "not_integer"
    assert response.get_json()["field"] in (field, f"{field}[0]")


def test_api_execute_selected_moves(app, api, world):
    plan_id = solved(app, scope="relieve", relieve_facility_id=world["full"])
    first, second = moved_ids(app, plan_id)
    response = api.post(
        f"/plans/{plan_id}/execute", json={"moves": [first]}, role="department_head"
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["plan"]["status"] == "executed"
    assert (body["plan"]["executed_moves"], body["plan"]["approved_moves"]) == (1, [first])
    [stay] = body["stays"]
    assert stay["youth"]["id"] == first and stay["end"] is None
    assert stay["facility_id"] == open_facility(app, first) != world["full"]
    assert open_facility(app, second) == world["full"]
    again = api.post(f"/plans/{plan_id}/execute", json={}, role="department_head")
    assert again.status_code == 409 and again.get_json()["code"] == "plan_already_executed"
    cancel = api.post(f"/plans/{plan_id}/cancel")
    assert cancel.status_code == 409 and cancel.get_json()["code"] == "plan_not_cancellable"


@pytest.mark.parametrize(
    ("moves", "code"),
    [([999999], "unknown_move"), ([], "no_moves_selected")],
)
def test_api_execute_refuses_bad_selections(app, api, world, moves, code):
    plan_id = solved(app)
    response = api.post(f"/plans/{plan_id}/execute", json={"moves": moves}, role="department_head")
    assert response.status_code == 422
    assert (response.get_json()["code"], response.get_json()["field"]) == (code, "moves")
    assert plan_row(app, plan_id).status == PlanStatus.PROPOSED


def test_api_facility_manager_cannot_execute_a_proposed_plan(app, api, world):
    plan_id = solved(app)
    response = api.post(f"/plans/{plan_id}/execute", json={})
    assert response.status_code == 409 and response.get_json()["code"] == "plan_not_approved"
    with app.app_context():
        plans.approve_plan(audit.SYSTEM, plan_id)
        db.session.commit()
    assert api.post(f"/plans/{plan_id}/execute", json={}).status_code == 200


def test_api_stale_plan_is_refused_naming_what_changed(app, api, world):
    plan_id = solved(app, scope="relieve", relieve_facility_id=world["full"])
    gone = moved_ids(app, plan_id)[0]
    discharge(app, gone)
    response = api.post(f"/plans/{plan_id}/execute", json={}, role="department_head")
    assert response.status_code == 409
    body = response.get_json()
    assert (body["code"], body["field"]) == ("plan_went_stale", "plan_id")
    assert world["refs"][gone] in body["error"]
    shown = api.get(f"/plans/{plan_id}").get_json()
    assert shown["status"] == "stale"
    assert any(world["refs"][gone] in line for line in shown["stale"])
    again = api.post(f"/plans/{plan_id}/execute", json={}, role="department_head")
    assert again.status_code == 409 and again.get_json()["code"] == "plan_stale"
    for youth_id in world["youths"]:
        if youth_id != gone:
            assert open_facility(app, youth_id) == world["full"]


def test_api_cancel(app, api, world):
    plan_id = api.post("/plans", json={}).get_json()["id"]
    cancelled = api.post(f"/plans/{plan_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    again = api.post(f"/plans/{plan_id}/cancel")
    assert again.status_code == 409 and again.get_json()["code"] == "plan_not_cancellable"
    assert PlanWorker(app).run_once() is None  # a cancelled plan is never solved
    execute = api.post(f"/plans/{plan_id}/execute", json={}, role="department_head")
    assert execute.status_code == 409 and execute.get_json()["code"] == "plan_cancelled"
    assert api.post("/plans/999999/cancel").get_json()["code"] == "unknown_plan"


def test_api_on_call_staff_get_403(app, api, world):
    plan_id = solved(app)
    calls = [
        ("POST", "/plans", {}),
        ("GET", f"/plans/{plan_id}", None),
        ("GET", f"/plans/{plan_id}/scenario", None),
        ("POST", f"/plans/{plan_id}/execute", {}),
        ("POST", f"/plans/{plan_id}/cancel", None),
    ]
    for method, path, body in calls:
        response = api.call(method, path, role="on_call", json=body)
        assert response.status_code == 403, path
        assert response.get_json()["code"] == "forbidden"
    assert plan_row(app, plan_id).status == PlanStatus.PROPOSED
