"""Need to know (OWASP ASVS 4.0 V4.1/V4.2, SGB VIII §§61-68): whose persons an account
sees and changes, enforced in the services so that pages and API agree; the permission
checked before any form is read (no 422 stay page for those who may not see it); ids
outside the scope answer 404; the account administration page."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, Facility, Stay, User
from placement.services.accounts import account_admin, audit, permissions, users
from placement.services.errors import Code, Forbidden, NotFound, RuleViolation
from placement.services.intake import stays
from placement.services.people import lists, scope, search, stay_page
from placement.services.planning import plans
from placement.services.planning.scenario import PlanParameters
from placement.timeutil import now as utc_now
from placement.worker import PlanWorker
from tests.conftest import PASSWORD, at, create_facility, create_stay, create_youth

# --- the world --------------------------------------------------------------------------------


@pytest.fixture
def world(app):
    """House A with an open stay (youth "A-OPEN") and an ended one ("A-GONE"); house B with
    an open stay ("B-OPEN"); accounts: a manager of A, a manager of B, on-call staff without
    facilities, a department head, an admin without and one with house A."""
    with app.app_context():
        house_a = create_facility(licensed=1, name="Haus A")
        house_b = create_facility(licensed=5, name="Haus B")
        a_open = create_youth(reference="A-OPEN", file_number="AZ-1")
        a_gone = create_youth(reference="A-GONE", file_number="AZ-2")
        b_open = create_youth(reference="B-OPEN", file_number="AZ-3")
        open_a = create_stay(a_open, house_a, "2024-01-01 10:00")
        create_stay(create_youth(reference="A-TWO"), house_a, "2024-01-02 10:00")
        gone_a = create_stay(a_gone, house_a, "2024-01-01 10:00", "2024-02-01 10:00")
        open_b = create_stay(b_open, house_b, "2024-01-05 10:00")
        accounts = {
            "manager_a": ("facility_manager", [house_a.id]),
            "manager_b": ("facility_manager", [house_b.id]),
            "on_call": ("on_call", []),
            "head": ("department_head", []),
            "admin": ("admin", []),
            "admin_a": ("admin", [house_a.id]),
        }
        ids = {}
        for name, (role, facility_ids) in accounts.items():
            user = users.create_user(
                audit.CLI,
                email=f"{name}@example.org",
                role=role,
                password=PASSWORD,
                facility_ids=facility_ids,
            )
            db.session.flush()
            ids[name] = user.id
        db.session.commit()
        return {
            "a": house_a.id,
            "b": house_b.id,
            "open_a": open_a.id,
            "gone_a": gone_a.id,
            "open_b": open_b.id,
            "users": ids,
            "roles": {name: role for name, (role, _f) in accounts.items()},
        }


def actor_of(world, name: str) -> audit.Actor:
    return audit.Actor(
        f"{name}@example.org", user_id=world["users"][name], role=world["roles"][name]
    )


def client_of(app, name: str):
    client = app.test_client()
    response = client.post(
        "/auth/login", data={"email": f"{name}@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    return client


def views_of(app, stay_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "stay.view", AuditEvent.object_id == stay_id)
        )


# --- the rule in the service -------------------------------------------------------------------


def test_person_scope_per_role(app, world):
    with app.app_context():
        assert permissions.person_scope(actor_of(world, "manager_a")).facility_ids == {world["a"]}
        on_call = permissions.person_scope(actor_of(world, "on_call"))
        assert on_call.open_anywhere and on_call.recorded_by == world["users"]["on_call"]
        assert on_call.facility_ids == frozenset()
        assert permissions.person_scope(actor_of(world, "admin")).facility_ids == frozenset()
        assert permissions.person_scope(actor_of(world, "admin_a")).facility_ids == {world["a"]}
        assert permissions.person_scope(audit.SYSTEM).everything
        with pytest.raises(Forbidden):
            permissions.person_scope(actor_of(world, "head"))
        assert scope.visible_facility_ids(actor_of(world, "manager_b")) == {world["b"]}


@pytest.mark.parametrize(
    ("name", "visible"),
    [
        ("manager_a", {"open_a", "gone_a"}),
        ("manager_b", {"open_b"}),
        ("on_call", {"open_a", "open_b"}),
        ("admin", set()),
        ("admin_a", {"open_a", "gone_a"}),
    ],
)
def test_stay_record_in_scope_and_404_outside(app, world, name, visible):
    with app.app_context():
        for key in ("open_a", "gone_a", "open_b"):
            if key in visible:
                assert stays.stay_record(actor_of(world, name), world[key]).stay.id == world[key]
            else:
                with pytest.raises(NotFound) as raised:
                    stays.stay_record(actor_of(world, name), world[key])
                assert raised.value.code == Code.UNKNOWN_STAY
        # An unknown id answers exactly as one outside the scope does.
        with pytest.raises(NotFound) as unknown:
            stays.stay_record(actor_of(world, name), 987_654)
        assert unknown.value.code == Code.UNKNOWN_STAY


def test_on_call_keeps_seeing_the_stays_they_recorded(app, world):
    with app.app_context():
        on_call = actor_of(world, "on_call")
        stays.discharge(on_call, world["open_b"], reason="return_home", end=at("2024-03-01 10:00"))
        db.session.commit()
        assert stays.stay_record(on_call, world["open_b"]).stay.end_at is not None
        ended = lists.list_stays(on_call, utc_now(), status="ended")
        assert {row.youth.reference for row in ended.items} == {"B-OPEN"}
        # The ended stay of house A stays hidden: someone else recorded it.
        with pytest.raises(NotFound):
            stays.stay_record(on_call, world["gone_a"])


def test_manager_of_another_house_cannot_change_the_stay(app, world):
    with app.app_context():
        manager_b = actor_of(world, "manager_b")
        for act in (
            lambda: stays.correct_stay(manager_b, world["open_a"], reason="x", legal_basis="34"),
            lambda: stays.discharge(manager_b, world["open_a"], reason="return_home"),
            lambda: stays.move(manager_b, world["open_a"], facility_id=world["b"]),
            lambda: stays.record_distribution(
                manager_b, world["open_a"], reported_on=None, result=None, age_assessed_on=None
            ),
            lambda: stays.undo_discharge(manager_b, world["gone_a"]),
        ):
            with pytest.raises(NotFound):
                act()
        db.session.rollback()
        assert db.session.get(Stay, world["open_a"]).end_at is None


def test_a_correction_cannot_move_a_stay_into_a_house_outside_the_scope(app, world):
    with app.app_context():
        with pytest.raises(NotFound) as raised:
            stays.correct_stay(
                actor_of(world, "manager_a"), world["open_a"], reason="x", facility_id=world["b"]
            )
        assert raised.value.field == "facility_id"
        stay = stays.correct_stay(
            actor_of(world, "manager_a"), world["open_a"], reason="Satz", legal_basis="34"
        )
        assert stay.legal_basis.value == "34"


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("manager_a", {"A-OPEN", "A-GONE", "A-TWO"}),
        ("manager_b", {"B-OPEN"}),
        ("on_call", {"A-OPEN", "A-TWO", "B-OPEN"}),
        ("admin", set()),
    ],
)
def test_search_and_lists_are_scoped(app, world, name, found):
    with app.app_context():
        who = actor_of(world, name)
        hits = search.search_youths(who, "AZ", utc_now()).items
        hits += search.search_youths(who, "A-TWO", utc_now()).items
        assert {h.youth.reference for h in hits} == found
        listed = lists.list_stays(who, utc_now(), status="all", page_size=100).items
        assert {row.youth.reference for row in listed} == found


def test_a_hit_never_names_a_stay_outside_the_scope(app, world):
    """A youth of house A moved to house B: A's manager finds them by their stay in A, not
    where they are now."""
    with app.app_context():
        moved = stays.move(audit.SYSTEM, world["open_a"], facility_id=world["b"])
        db.session.commit()
        hit = search.search_youths(actor_of(world, "manager_a"), "A-OPEN", utc_now()).items[0]
        assert hit.stay.id == world["open_a"] and hit.stay.facility_id == world["a"]
        hit = search.search_youths(actor_of(world, "manager_b"), "A-OPEN", utc_now()).items[0]
        assert hit.stay.id == moved.stays[0].id


def test_department_heads_see_no_persons(app, world):
    with app.app_context():
        head = actor_of(world, "head")
        for act in (
            lambda: search.search_youths(head, "AZ", utc_now()),
            lambda: lists.list_stays(head, utc_now()),
            lambda: stays.stay_record(head, world["open_a"]),
        ):
            with pytest.raises(Forbidden):
                act()


# --- pages and API -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action", ["discharge", "move", "correct", "distribution", "undo-discharge"]
)
def test_department_head_posting_bad_fields_gets_403_without_the_page(app, world, action):
    """The finding: a bad field used to answer 422 with the whole stay page."""
    client = client_of(app, "head")
    before = views_of(app, world["open_a"])
    response = client.post(
        f"/stays/{world['open_a']}/{action}",
        data={f"{action.split('-')[0]}-time": "kaputt", "correct-start_at": "kaputt"},
    )
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "A-OPEN" not in body and "AZ-1" not in body
    assert client.get(f"/stays/{world['open_a']}").status_code == 403
    assert views_of(app, world["open_a"]) == before


@pytest.mark.parametrize("action", ["discharge", "move", "correct", "distribution"])
def test_manager_of_another_house_gets_404_on_every_stay_action(app, world, action):
    client = client_of(app, "manager_b")
    response = client.post(f"/stays/{world['open_a']}/{action}", data={})
    assert response.status_code == 404
    assert "A-OPEN" not in response.get_data(as_text=True)
    assert client.get(f"/stays/{world['open_a']}").status_code == 404


def test_manager_corrects_only_in_own_house(app, world):
    data = {
        "correct-facility_id": str(world["a"]),
        "correct-legal_basis": "34",
        "correct-start_at": "2024-01-01T11:00",
        "correct-end_at": "",
        "correct-end_reason": "",
        "correct-reason": "Rechtsgrundlage",
    }
    assert (
        client_of(app, "manager_b").post(f"/stays/{world['open_a']}/correct", data=data).status_code
        == 404
    )
    assert (
        client_of(app, "manager_a").post(f"/stays/{world['open_a']}/correct", data=data).status_code
        == 302
    )


def test_api_scope_matches_the_pages(app, world):
    with app.app_context():
        tokens = {n: users.issue_token(audit.CLI, f"{n}@example.org") for n in world["users"]}
        db.session.commit()

    def call(name, method, path, **kw):
        headers = {"Authorization": f"Bearer {tokens[name]}"}
        return app.test_client().open(f"/api/v1{path}", method=method, headers=headers, **kw)

    stay = world["open_a"]
    assert call("manager_b", "PATCH", f"/stays/{stay}", json={"reason": 1}).status_code == 404
    assert call("head", "POST", f"/stays/{stay}/discharge", json={"time": "x"}).status_code == 403
    assert call("admin", "POST", f"/stays/{stay}/move", json={}).status_code == 404
    bad = call("manager_a", "POST", f"/stays/{stay}/discharge", json={"time": "x"})
    assert bad.status_code == 400 and bad.get_json()["field"] == "reason"  # in scope: the body
    assert call("head", "GET", "/stays?page=abc").status_code == 403
    listed = call("manager_b", "GET", "/stays?status=all").get_json()
    assert {row["youth"]["reference"] for row in listed} == {"B-OPEN"}
    found = call("on_call", "GET", "/youths?q=A-").get_json()
    assert {row["youth"]["reference"] for row in found} == {"A-OPEN", "A-TWO"}


def test_facility_page_residents_only_for_those_in_scope(app, world):
    path = f"/einrichtungen/{world['a']}"
    with app.test_request_context():
        from flask import url_for

        path = url_for("facilities.show", facility_id=world["a"])
    assert "A-OPEN" in client_of(app, "manager_a").get(path).get_data(as_text=True)
    assert "A-OPEN" in client_of(app, "on_call").get(path).get_data(as_text=True)
    for name in ("manager_b", "head", "admin"):
        response = client_of(app, name).get(path)
        assert response.status_code == 200 and "A-OPEN" not in response.get_data(as_text=True)


def test_plan_review_shows_references_only_to_those_who_see_the_house(app, world):
    with app.app_context():
        plan = plans.create_plan(
            audit.SYSTEM, PlanParameters(scope="relieve", relieve_facility_id=world["a"])
        )
        db.session.commit()
        plan_id = plan.id
    assert PlanWorker(app).run_once() == plan_id
    with app.app_context():
        head = plans.review(actor_of(world, "head"), plan_id)
        assert head.moves and {m.reference for m in head.moves} == {plans.MASKED}
        manager = plans.review(actor_of(world, "manager_a"), plan_id)
        assert {m.reference for m in manager.moves} <= {"A-OPEN", "A-TWO"}
        db.session.commit()
        viewed = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "plan.persons.view")
        ).all()
        assert [e.user_id for e in viewed] == [world["users"]["manager_a"]]
    html = client_of(app, "head").get(f"/plans/{plan_id}").get_data(as_text=True)
    assert "A-OPEN" not in html and "A-TWO" not in html


# --- account administration --------------------------------------------------------------------


def test_admin_page_lists_and_edits_accounts_with_an_audit_row(app, world):
    client = client_of(app, "admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert "manager_b@example.org" in page and "Haus B" in page
    user_id = world["users"]["manager_b"]
    response = client.post(
        f"/admin/users/{user_id}",
        data={"role": "facility_manager", "facility_ids": [str(world["a"]), str(world["b"])]},
    )
    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, user_id)
        assert {f.id for f in user.facilities} == {world["a"], world["b"]} and not user.active
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "user.update")
        ).one()
        assert event.before["facility_ids"] == [world["b"]] and event.after["active"] is False
    # Deactivated: the account can no longer log in.
    login = app.test_client().post(
        "/auth/login", data={"email": "manager_b@example.org", "password": PASSWORD}
    )
    assert login.status_code != 302


@pytest.mark.parametrize("name", ["manager_a", "on_call", "head"])
def test_admin_pages_are_for_admins_only(app, world, name):
    client = client_of(app, name)
    assert client.get("/admin/users").status_code == 403
    target = world["users"]["manager_b"]
    response = client.post(f"/admin/users/{target}", data={"role": "admin", "active": "y"})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(User, target).role.value == "facility_manager"


def test_admin_form_errors_name_the_field(app, world):
    client = client_of(app, "admin")
    own = world["users"]["admin"]
    response = client.post(f"/admin/users/{own}", data={"role": "on_call", "active": "y"})
    assert response.status_code == 422
    assert "eigene Konto" in response.get_data(as_text=True)
    response = client.post(f"/admin/users/{own}", data={"role": "kaiser", "active": "y"})
    assert response.status_code == 422
    target = world["users"]["manager_b"]
    response = client.post(
        f"/admin/users/{target}", data={"role": "facility_manager", "facility_ids": "abc"}
    )
    assert response.status_code == 422
    assert client.get("/admin/users/987654").status_code == 404


def test_account_service_rules(app, world):
    with app.app_context():
        admin = actor_of(world, "admin")
        target = world["users"]["manager_b"]
        with pytest.raises(RuleViolation) as same:
            account_admin.update_account(
                admin, target, role="facility_manager", facility_ids=[world["b"]], active=True
            )
        assert same.value.code == Code.NOTHING_CHANGED
        with pytest.raises(NotFound) as unknown:
            account_admin.update_account(
                admin, target, role="facility_manager", facility_ids=[424242], active=True
            )
        assert unknown.value.field == "facility_ids"
        with pytest.raises(RuleViolation) as own:
            account_admin.update_account(
                admin, world["users"]["admin"], role="admin", facility_ids=[], active=False
            )
        assert own.value.field == "active"
        with pytest.raises(Forbidden):
            account_admin.list_accounts(actor_of(world, "head"))
        # An admin assigned a facility sees its persons from then on.
        account_admin.update_account(
            admin, world["users"]["admin"], role="admin", facility_ids=[world["b"]], active=True
        )
        db.session.commit()
        assert stays.stay_record(admin, world["open_b"]).stay.id == world["open_b"]


def test_deactivating_on_the_admin_page_ends_the_sessions(app, world):
    victim = client_of(app, "manager_b")
    assert victim.get("/").status_code == 200
    admin = client_of(app, "admin")
    target = world["users"]["manager_b"]
    response = admin.post(
        f"/admin/users/{target}", data={"role": "facility_manager", "facility_ids": []}
    )
    assert response.status_code == 302
    # The browser that was signed in is sent to the login page on its next request.
    assert victim.get("/").status_code == 302


def test_admin_ends_all_sessions_and_lifts_a_lock_on_the_page(app, world):
    victim = client_of(app, "manager_b")
    target = world["users"]["manager_b"]
    admin = client_of(app, "admin")
    page = admin.get(f"/admin/users/{target}").get_data(as_text=True)
    assert "Alle Sitzungen beenden" in page and "Nicht gesperrt" in page
    response = admin.post(f"/admin/users/{target}/end-sessions")
    assert response.status_code == 302
    assert victim.get("/").status_code == 302
    with app.app_context():  # twenty failed sign-ins, each after its delay, lock the account
        start = utc_now() - timedelta(hours=12)
        for n in range(20):
            users.sign_in(
                "manager_b@example.org",
                "wrong" * 3,
                f"10.1.0.{n}",
                start + timedelta(minutes=16 * n),
            )
        db.session.commit()
    page = admin.get(f"/admin/users/{target}").get_data(as_text=True)
    assert "gesperrt." in page and "Sperre aufheben" in page
    assert admin.post(f"/admin/users/{target}/unlock").status_code == 302
    assert "Nicht gesperrt" in admin.get(f"/admin/users/{target}").get_data(as_text=True)
    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEvent.action).where(
                AuditEvent.object_id == target, AuditEvent.action.like("user.%")
            )
        ).all()
    assert "user.end_sessions" in actions and "user.unlock" in actions
    # Only admins.
    head = client_of(app, "head")
    assert head.post(f"/admin/users/{target}/end-sessions").status_code == 403
    assert head.post(f"/admin/users/{target}/unlock").status_code == 403
    assert admin.post("/admin/users/987654/end-sessions").status_code == 404


def test_the_stay_page_shows_the_history_only_within_the_scope(app, world):
    """A youth moved from house A to house B: the manager of B sees the stay in B and its
    history, not the earlier stay in A or what was recorded there."""
    with app.app_context():
        stays.correct_stay(
            audit.CLI, world["gone_a"], reason="Grund nur für Haus A", end_reason="hospital"
        )
        gone = db.session.get(Stay, world["gone_a"])
        youth_id = gone.youth_id
        later = create_stay(gone.youth, db.session.get(Facility, world["b"]), "2024-03-01 10:00")
        db.session.commit()
        later_id = later.id
        manager_b = actor_of(world, "manager_b")
        record = stays.stay_record(manager_b, later_id)
        assert [s.id for s in record.history] == [later_id]
        page = stay_page.stay_page(manager_b, later_id, utc_now())
        assert all(entry.stay_id == later_id for entry in page.history)
        # Someone who sees both houses sees both stays.
        admin_all = stays.stay_record(audit.CLI, later_id)
        assert {s.id for s in admin_all.history} == {world["gone_a"], later_id}
        assert youth_id == record.youth.id
    html = client_of(app, "manager_b").get(f"/stays/{later_id}").get_data(as_text=True)
    assert "Grund nur für Haus A" not in html
    html = client_of(app, "manager_a").get(f"/stays/{world['gone_a']}").get_data(as_text=True)
    assert "Grund nur für Haus A" in html
