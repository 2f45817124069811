"""The access walk (OWASP ASVS 4.0 V4): every route of the app's url_map, API included, for
anonymous callers and every role, in and out of facility scope, on GET and, where the
route takes it, on POST (PATCH, DELETE) with a valid CSRF token and bad fields. Each answer
must be what the table below decides: allowed, or forbidden (the login page for anonymous
HTML, 401 for the anonymous API, 403/404 otherwise), and a seeded youth's reference, file
number and birth date appear only for those who may see that youth.

The routes come from ``app.url_map``: a new route without a decision here fails."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest

from placement.extensions import db
from placement.intake.forms import STAY_FORM_PREFIXES
from placement.services.accounts import audit, users
from placement.services.intake import reservations
from placement.services.planning import plans
from placement.services.planning.scenario import PlanParameters
from placement.worker import PlanWorker
from tests.conftest import PASSWORD, create_facility, create_stay, create_youth, make_app

# --- who walks -------------------------------------------------------------------------------

ANON = "anonymous"
ON_CALL = "on_call"  # no facilities assigned: sees open stays city-wide
MANAGER_IN = "manager_in"  # facility manager of house A (where the seeded youth lives)
MANAGER_OUT = "manager_out"  # facility manager of house B
HEAD = "department_head"
ADMIN = "admin"  # no facilities assigned: accounts and facilities, no persons
ADMIN_IN = "admin_in"  # admin assigned to house A

PRINCIPALS = [ANON, ON_CALL, MANAGER_IN, MANAGER_OUT, HEAD, ADMIN, ADMIN_IN]
ROLE = {
    ON_CALL: "on_call",
    MANAGER_IN: "facility_manager",
    MANAGER_OUT: "facility_manager",
    HEAD: "department_head",
    ADMIN: "admin",
    ADMIN_IN: "admin",
}
HOUSE = {MANAGER_IN: "A", MANAGER_OUT: "B", ADMIN_IN: "A"}

# Who may see the seeded youth (open stay in house A): on-call staff (open stays), and
# those assigned to house A.
SEES_YOUTH = frozenset({ON_CALL, MANAGER_IN, ADMIN_IN})

# The seeded youth's personal data, as stored and as shown.
REFERENCE = "WALK-P-4711"
FILE_NUMBER = "AZ-WALK-0815"
BIRTH_DATE = date(2011, 3, 4)
MARKERS = (REFERENCE, FILE_NUMBER, "04.03.2011", "2011-03-04")

# --- the decisions ---------------------------------------------------------------------------

LOGGED_IN = frozenset(PRINCIPALS) - {ANON}
EVERYONE = frozenset(PRINCIPALS)
ADMITTERS = frozenset({ON_CALL, MANAGER_IN, MANAGER_OUT, ADMIN, ADMIN_IN})  # ADMIT
PERSON_ROLES = ADMITTERS  # VIEW_PERSONS (lists and searches answer within the scope)
PLANNERS = frozenset({MANAGER_IN, MANAGER_OUT, HEAD, ADMIN, ADMIN_IN})  # PLAN
APPROVERS = frozenset({HEAD, ADMIN, ADMIN_IN})  # APPROVE_PLAN
ALERT_MANAGERS = frozenset({HEAD, ADMIN, ADMIN_IN})  # MANAGE_ALERTS
ADMINS = frozenset({ADMIN, ADMIN_IN})  # MANAGE
HOUSE_A_MANAGERS = frozenset({MANAGER_IN, ADMIN, ADMIN_IN})  # MANAGE_FACILITY of house A
STAY_VIEWERS = SEES_YOUTH  # the stay page of the seeded youth
STAY_ACTORS = SEES_YOUTH  # discharge, move, §42a (DISCHARGE and the stay in scope)
STAY_CORRECTORS = frozenset({MANAGER_IN, ADMIN_IN})  # CORRECT and the stay in scope

# endpoint -> who is allowed, for every method of the route, or {method: who}.
EXPECTED: dict[str, frozenset[str] | dict[str, frozenset[str]]] = {
    # public
    "auth.login": EVERYONE,
    "main.health": EVERYONE,
    "main.healthz": EVERYONE,  # ?deep=1: admins and loopback only (tests/test_healthz.py)
    "main.favicon": EVERYONE,
    "static": EVERYONE,
    "bootstrap.static": EVERYONE,
    "api-docs.openapi_json": EVERYONE,
    "auth.logout": LOGGED_IN,
    "auth.password": LOGGED_IN,
    "auth.end_other_sessions": LOGGED_IN,
    "settings.index": LOGGED_IN,
    # counts
    "main.index": LOGGED_IN,
    "main.facilities": LOGGED_IN,
    "facilities.show": LOGGED_IN,
    "reports.index": LOGGED_IN,
    "reports.land": LOGGED_IN,
    "reports.monthly": LOGGED_IN,
    "reports.stichtag": LOGGED_IN,
    "api.occupancy": LOGGED_IN,
    "api.forecast": LOGGED_IN,
    "api.list_facilities": LOGGED_IN,
    # intake
    "intake.places": ADMITTERS,
    "intake.admit": ADMITTERS,
    "intake.reserve": ADMITTERS,
    "intake.reservations": ADMITTERS,
    "intake.cancel_reservation": ADMITTERS,
    "api.find_places": ADMITTERS,
    "api.preview_admission": ADMITTERS,
    "api.create_admission": ADMITTERS,
    "api.list_reservations": ADMITTERS,
    "api.create_reservation": ADMITTERS,
    "api.cancel_reservation": ADMITTERS,
    "api.admit_reservation": ADMITTERS,
    # one stay (of the seeded youth, in house A)
    "intake.stay": STAY_VIEWERS,
    "intake.discharge": STAY_ACTORS,
    "intake.undo_discharge": STAY_ACTORS,
    "intake.move": STAY_ACTORS,
    "intake.distribution": STAY_ACTORS,
    "intake.planned_end": STAY_ACTORS,
    "intake.correct": STAY_CORRECTORS,
    "api.discharge_stay": STAY_ACTORS,
    "api.undo_discharge": STAY_ACTORS,
    "api.move_stay": STAY_ACTORS,
    "api.record_distribution": STAY_ACTORS,
    "api.set_planned_end": STAY_ACTORS,
    "api.correct_stay": STAY_CORRECTORS,
    # people
    "people.search": PERSON_ROLES,
    "people.placed": PERSON_ROLES,
    "people.absconded": PERSON_ROLES,
    "api.search_youths": PERSON_ROLES,
    "api.list_stays": PERSON_ROLES,
    # facility administration (house A)
    "facilities.index": LOGGED_IN,  # without MANAGE_FACILITY: sent to the directory
    "facilities.new": ADMINS,
    "facilities.edit": HOUSE_A_MANAGERS,
    "facilities.capacity_page": HOUSE_A_MANAGERS,
    "facilities.close": HOUSE_A_MANAGERS,
    "facilities.reopen": HOUSE_A_MANAGERS,
    "facilities.confirm": HOUSE_A_MANAGERS,
    "api.create_facility": ADMINS,
    "api.update_facility": HOUSE_A_MANAGERS,
    "api.capacity_history": HOUSE_A_MANAGERS,
    "api.preview_capacity": HOUSE_A_MANAGERS,
    "api.change_capacity": HOUSE_A_MANAGERS,
    "api.confirm_occupancy": HOUSE_A_MANAGERS,
    # planning
    "planning.index": PLANNERS,
    "planning.new": PLANNERS,
    "planning.show": PLANNERS,
    "planning.download": PLANNERS,
    "planning.print_view": PLANNERS,
    "planning.cancel": PLANNERS,
    "planning.replan": PLANNERS,
    "planning.execute": PLANNERS,
    "planning.approve": APPROVERS,
    "api.create_plan": PLANNERS,
    "api.get_plan": PLANNERS,
    "api.get_scenario": PLANNERS,
    "api.execute_plan": PLANNERS,
    "api.cancel_plan": PLANNERS,
    # alerts
    "alerts.index": LOGGED_IN,
    "alerts.acknowledge": LOGGED_IN,
    "alerts.settings": {"GET": LOGGED_IN, "POST": ALERT_MANAGERS},
    "alerts.silences": {"GET": LOGGED_IN, "POST": ALERT_MANAGERS},
    "alerts.end_silence": ALERT_MANAGERS,
    "alerts.dead_letters": ADMINS,
    "alerts.resend": ADMINS,
    # accounts and the audit log
    "audit.index": frozenset({HEAD, ADMIN, ADMIN_IN}),  # VIEW_AUDIT
    "admin.users": ADMINS,
    "admin.edit_user": ADMINS,
    "admin.end_sessions": ADMINS,
    "admin.unlock": ADMINS,
}

# Path arguments whose object is not seeded: an allowed caller gets 404 there too.
UNSEEDED = {"alert_id", "notification_id", "silence_id"}
PUBLIC_FILES = {"static": "platzplan.css", "bootstrap.static": "css/bootstrap.min.css"}

# Bad values for every field name the forms use (with and without the stay forms'
# prefixes): no write may succeed with them.
BAD_FIELDS = (
    "time",
    "reason",
    "facility_id",
    "start_at",
    "end_at",
    "end_reason",
    "legal_basis",
    "reported_on",
    "result",
    "age_assessed_on",
    "planned_end_on",
    "hours",
    "places",
    "birth_date",
    "gender",
    "age",
    "licensed_places",
    "valid_from",
    "name",
    "kind",
    "role",
    "locale",
    "email",
    "scope",
    "max_moves",
    "threshold",
    "until",
)
BAD_FORM = {name: "kaputt\x7f" * 3 for name in BAD_FIELDS} | {
    f"{prefix}-{name}": "kaputt" for prefix in STAY_FORM_PREFIXES.values() for name in BAD_FIELDS
}
BAD_JSON = {
    "time": "kaputt",
    "reason": 17,
    "facility_id": "kaputt",
    "start_at": "kaputt",
    "places": "kaputt",
    "hours": "kaputt",
    "youth": "kaputt",
    "scope": 17,
    "moves": "kaputt",
    "reported_on": "kaputt",
    "licensed_places": "kaputt",
    "name": 17,
}


# --- the world -------------------------------------------------------------------------------


@dataclass
class World:
    app: object
    args: dict[str, object]
    tokens: dict[str, str]
    emails: dict[str, str]


@pytest.fixture
def world(tmp_path, database_url, monkeypatch):
    """Houses A (1 place, the seeded youth and one more) and B (5 places); a reservation
    in A, a computed plan relieving A, and one account per principal (with an API token);
    CSRF protection on, as in production."""
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(tmp_path, database_url, WTF_CSRF_ENABLED=True)
    with app.app_context():
        house_a = create_facility(licensed=1, name="Walk-Haus A")
        house_b = create_facility(licensed=5, name="Walk-Haus B")
        youth = create_youth(
            reference=REFERENCE, file_number=FILE_NUMBER, birth_date=BIRTH_DATE, gender="m"
        )
        stay = create_stay(youth, house_a, "2024-01-01 10:00")
        create_stay(create_youth(birth_date=BIRTH_DATE), house_a, "2024-01-02 10:00")
        reservation = reservations.reserve(audit.SYSTEM, facility_id=house_b.id, hours=8)
        houses = {"A": house_a.id, "B": house_b.id}
        emails, tokens, ids = {}, {}, {}
        for principal, role in ROLE.items():
            email = f"{principal}@walk.example.org"
            house = HOUSE.get(principal)
            user = users.create_user(
                audit.CLI,
                email=email,
                role=role,
                password=PASSWORD,
                facility_ids=[houses[house]] if house else [],
            )
            db.session.flush()
            emails[principal], ids[principal] = email, user.id
            tokens[principal] = users.issue_token(audit.CLI, email)
        db.session.commit()  # the facilities as loaded from the database (enums)
        args = {"stay_id": stay.id, "facility_id": house_a.id, "reservation_id": reservation.id}
        plan = plans.create_plan(
            audit.SYSTEM, PlanParameters(scope="relieve", relieve_facility_id=house_a.id)
        )
        db.session.commit()
        args |= {"plan_id": plan.id, "user_id": ids[MANAGER_OUT], "document": "plan"}
    assert PlanWorker(app).run_once() == args["plan_id"]
    yield World(app, args, tokens, emails)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def client_for(world: World, principal: str):
    """A test client logged in as ``principal`` (through the login form, with its token)."""
    client = world.app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    if principal == ANON:
        return client, csrf_token(page)
    response = client.post(
        "/auth/login",
        data={
            "email": world.emails[principal],
            "password": PASSWORD,
            "csrf_token": csrf_token(page),
        },
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return client, csrf_token(client.get("/").get_data(as_text=True))


def rules(app) -> list:
    """Every routed endpoint; those of the session (login, password, logout) last, as they
    may renew or end the session and with it the CSRF token."""
    found = [r for r in app.url_map.iter_rules()]
    return sorted(
        found,
        key=lambda r: (r.endpoint.startswith("auth."), r.endpoint == "auth.logout", r.endpoint),
    )


def path_of(world: World, rule) -> tuple[str, bool]:
    """The rule's URL with the seeded objects' ids; whether an argument is unseeded."""
    values: dict[str, object] = {}
    unseeded = False
    for name in rule.arguments:
        if name == "filename":
            values[name] = PUBLIC_FILES[rule.endpoint]
        elif name in UNSEEDED:
            values[name] = 999_999
            unseeded = True
        else:
            values[name] = world.args[name]
    with world.app.test_request_context():
        built = rule.build(values, append_unknown=False)
    return built[1], unseeded


def allowed(endpoint: str, method: str) -> frozenset[str]:
    decision = EXPECTED[endpoint]
    if isinstance(decision, dict):
        return decision["GET" if method == "GET" else "POST"]
    return decision


def test_every_route_has_a_decision(tmp_path, monkeypatch):
    """A new route fails here until the table says who may use it (and stale rows too)."""
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'routes.db'}")
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert sorted(endpoints - EXPECTED.keys()) == [], "routes without a decision"
    assert sorted(EXPECTED.keys() - endpoints) == [], "decisions without a route"
    for endpoint, decision in EXPECTED.items():
        if isinstance(decision, dict):
            assert set(decision) == {"GET", "POST"}, endpoint


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_walk(world, principal):
    """Every route, every method, for one principal: the decided answer, and no personal
    data of the seeded youth where the principal may not see it."""
    client, token = client_for(world, principal)
    failures: list[str] = []
    seen: list[str] = []
    for rule in rules(world.app):
        if rule.endpoint not in EXPECTED:
            failures.append(f"{rule.rule} ({rule.endpoint}): no decision in EXPECTED")
            continue
        path, unseeded = path_of(world, rule)
        api = rule.rule.startswith("/api/")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            kwargs: dict = {}
            if api:
                if principal != ANON:
                    kwargs["headers"] = {"Authorization": f"Bearer {world.tokens[principal]}"}
                if method != "GET":
                    kwargs["json"] = BAD_JSON
            elif method != "GET":
                kwargs["data"] = {**BAD_FORM, "csrf_token": token}
            response = client.open(path, method=method, **kwargs)
            body = response.get_data(as_text=True)
            status = response.status_code
            may = principal in allowed(rule.endpoint, method)
            where = f"{method} {path} ({rule.endpoint}) -> {status}"
            to_login = status in (302, 303) and "/auth/login" in response.headers.get(
                "Location", ""
            )
            if status >= 500:
                failures.append(f"{where}: server error")
            elif may:
                denied = status in (401, 403) or to_login or (status == 404 and not unseeded)
                if denied and rule.endpoint not in ("static", "bootstrap.static"):
                    failures.append(f"{where}: should be allowed")
            elif principal == ANON:
                expected = status == 401 if api else to_login
                if not expected:
                    failures.append(f"{where}: anonymous should get {401 if api else 'login'}")
            elif status not in (403, 404):
                failures.append(f"{where}: should be forbidden (403/404)")
            if principal not in SEES_YOUTH or not may:
                leaked = [m for m in MARKERS if m in body]
                if leaked:
                    failures.append(f"{where}: shows {leaked}")
            if principal in SEES_YOUTH and may and REFERENCE in body:
                seen.append(rule.endpoint)
    assert failures == [], "\n".join(failures)
    # The markers are real: those who may see the youth find them on the stay page.
    assert ("intake.stay" in seen) == (principal in SEES_YOUTH), seen
