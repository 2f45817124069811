"""Move plans under concurrency, against a real threaded server and a file database (and
PostgreSQL): simultaneous executions of one plan execute it once, execute and cancel never
both win, and simultaneous plan workers never claim the same plan."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, Plan, PlanStatus, Stay
from placement.models.enums import EndReason, Role
from placement.services.accounts import audit, users
from placement.services.errors import PlacementError
from placement.services.planning import plans, runner
from placement.services.planning.scenario import PlanParameters
from placement.worker import PlanWorker
from tests.conftest import create_facility, create_stay, create_youth
from tests.live_server import post_json, served
from tests.openapi_check import ResponseChecker
from tests.test_planning import EARLY, NORTH, SOUTH, WEST, born

MANAGER = audit.Actor("leitung", None, Role.FACILITY_MANAGER)
REQUESTS = 8
YOUTHS = 5  # in a house of one place: four of them move


@pytest.fixture
def world(app):
    """Haus Voll (1 place) with five youths, two free houses, and one token per role."""
    with app.app_context():
        full = create_facility(licensed=1, name="Haus Voll", **NORTH)
        create_facility(licensed=3, name="Haus Süd", **SOUTH)
        create_facility(licensed=3, name="Haus West", **WEST)
        youths = [create_youth(birth_date=born(14)) for _ in range(YOUTHS)]
        for youth in youths:
            create_stay(youth, full, EARLY)
        tokens = {}
        for role in ("department_head", "facility_manager"):
            email = f"{role}@example.org"
            users.create_user(audit.CLI, email=email, role=role, password="long enough password")
            tokens[role] = users.issue_token(audit.CLI, email)
        db.session.commit()
        return {"full": full.id, "youths": [y.id for y in youths], "tokens": tokens}


@pytest.fixture
def server(app):
    """The app served by werkzeug from a thread; yields the API's base URL."""
    with served(app) as base_url:
        yield f"{base_url}/api/v1"


def solved_plan(app, approve: bool) -> int:
    """A plan relieving every house, solved by a worker, approved when asked."""
    with app.app_context():
        plan_id = plans.create_plan(audit.SYSTEM, PlanParameters()).id
        db.session.commit()
    assert PlanWorker(app).run_once() == plan_id
    if approve:
        with app.app_context():
            plans.approve_plan(audit.SYSTEM, plan_id)
            db.session.commit()
    return plan_id


def at_once(calls) -> list:
    """Run every call at the same instant in its own thread; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list = []

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(not t.is_alive() for t in threads), "a call did not finish"
    return results


def post_all(app, requests) -> list[tuple[int, dict]]:
    """POST (url, token, body) requests at once; every answer checked against the OpenAPI
    document."""
    results = at_once([lambda r=r: post_json(*r) for r in requests])
    checker = ResponseChecker(app)
    for (url, _token, _body), (status, body) in zip(requests, results, strict=True):
        checker.check_raw("POST", url, status, body)
    return results


def open_stays(app) -> dict[int, list[int]]:
    """Youth id -> facility ids of their open stays."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(Stay.youth_id, Stay.facility_id).where(Stay.end_at.is_(None))
        )
        out: dict[int, list[int]] = {}
        for youth_id, facility_id in rows:
            out.setdefault(youth_id, []).append(facility_id)
        return out


def count(app, query) -> int:
    with app.app_context():
        return db.session.scalar(query)


TRANSFERS = (
    sa.select(sa.func.count()).select_from(Stay).where(Stay.end_reason == EndReason.TRANSFER)
)


@pytest.mark.parametrize(
    ("database_url", "approve", "role"),
    [
        ("sqlite", True, "facility_manager"),
        ("postgresql", True, "facility_manager"),
        ("sqlite", False, "department_head"),
        ("postgresql", False, "department_head"),
    ],
    ids=[
        "sqlite-approved plan, facility managers",
        "postgresql-approved plan, facility managers",
        "sqlite-proposed plan, department heads",
        "postgresql-proposed plan, department heads",
    ],
    indirect=["database_url"],
)
def test_simultaneous_executions_execute_once(app, world, server, approve, role):
    plan_id = solved_plan(app, approve)
    url = f"{server}/plans/{plan_id}/execute"
    results = post_all(app, [(url, world["tokens"][role], {})] * REQUESTS)

    assert Counter(status for status, _ in results) == {200: 1, 409: REQUESTS - 1}
    assert {b["code"] for s, b in results if s == 409} == {"plan_already_executed"}
    [winner] = [b for s, b in results if s == 200]
    assert winner["plan"]["status"] == "executed"
    moved = YOUTHS - 1
    assert winner["plan"]["executed_moves"] == len(winner["stays"]) == moved

    stays = open_stays(app)
    assert sorted(stays) == sorted(world["youths"])
    assert all(len(facilities) == 1 for facilities in stays.values())
    assert sum(f == [world["full"]] for f in stays.values()) == 1
    assert count(app, TRANSFERS) == moved
    executed = (
        sa.select(sa.func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "plan.execute", AuditEvent.object_id == plan_id)
    )
    assert count(app, executed) == 1


@pytest.mark.parametrize(
    "database_url",
    ["sqlite", "postgresql"],
    indirect=True,
)
def test_execute_and_cancel_at_once_never_both_win(app, world, server):
    plan_id = solved_plan(app, approve=True)
    token = world["tokens"]["facility_manager"]
    requests = [(f"{server}/plans/{plan_id}/execute", token, {})] * 3 + [
        (f"{server}/plans/{plan_id}/cancel", token, {})
    ] * 3
    results = post_all(app, requests)
    executed = [s for s, _ in results[:3]]
    cancelled = [s for s, _ in results[3:]]
    with app.app_context():
        status = db.session.get(Plan, plan_id).status
    if status == PlanStatus.EXECUTED:
        assert (executed.count(200), cancelled.count(200)) == (1, 0)
        assert count(app, TRANSFERS) == YOUTHS - 1
    else:
        assert status == PlanStatus.CANCELLED
        assert (executed.count(200), cancelled.count(200)) == (0, 1)
        assert count(app, TRANSFERS) == 0
    codes = {b["code"] for s, b in results if s == 409}
    assert codes <= {"plan_already_executed", "plan_cancelled", "plan_not_cancellable"}
    assert all(len(f) == 1 for f in open_stays(app).values())


# --- the same races, made deterministic ---------------------------------------------------


@pytest.fixture
def two_moves(app):
    """House A (1 place): x pinned, y1 and y2 both move to B; the plan is approved."""
    with app.app_context():
        a = create_facility(licensed=1, name="Haus A", **NORTH)
        create_facility(licensed=5, name="Haus B", **SOUTH)
        x, y1, y2 = (create_youth(birth_date=born(14)) for _ in range(3))
        create_stay(x, a, EARLY, pinned=True)
        create_stay(y1, a, EARLY)
        create_stay(y2, a, EARLY)
        db.session.commit()
        ids = {"y1": y1.id, "y2": y2.id}
    plan_id = solved_plan(app, approve=True)
    with app.app_context():
        assert {int(m["youth"]) for m in db.session.get(Plan, plan_id).result["moves"]} == set(
            ids.values()
        )
    return plan_id, ids


def _outcome(action) -> str:
    """'ok', 'stale' or the code of the refusal, in a transaction of its own."""
    try:
        done = action()
        db.session.commit()
        return "stale" if getattr(done, "stale", None) else "ok"
    except PlacementError as error:
        db.session.rollback()
        return error.code.value


COMPETITORS = {
    # what another request does while the first decides -> (first, second) outcomes allowed
    "cancel": (
        lambda plan_id, ids: plans.cancel_plan(MANAGER, plan_id),
        {("ok", "plan_not_cancellable"), ("plan_cancelled", "ok")},
    ),
    "execute the other move": (
        lambda plan_id, ids: plans.execute_plan(MANAGER, plan_id, [ids["y2"]]),
        {("ok", "plan_already_executed"), ("plan_already_executed", "ok")},
    ),
    "execute all": (
        lambda plan_id, ids: plans.execute_plan(MANAGER, plan_id),
        {("ok", "plan_already_executed"), ("plan_already_executed", "ok")},
    ),
}


@pytest.mark.parametrize("competitor", list(COMPETITORS))
@pytest.mark.parametrize(
    "database_url",
    ["sqlite", "postgresql"],
    indirect=True,
)
def test_nothing_slips_in_while_execution_decides(app, two_moves, monkeypatch, competitor):
    """A second request is started at the one moment that matters: after execute_plan
    checked the plan's status and before it writes (when its facility lock is taken, or,
    if that lock lets go of the plan's, right then). The plan row is meant to be locked
    throughout, so the second request waits and then finds the plan done."""
    plan_id, ids = two_moves
    action, allowed = COMPETITORS[competitor]
    real_lock = plans.lock_facilities
    first_thread = threading.get_ident()
    second: dict[str, str] = {}

    def compete(timeout: float) -> threading.Thread:
        def run():
            with app.app_context():
                second["outcome"] = _outcome(lambda: action(plan_id, ids))

        thread = threading.Thread(target=run)
        thread.start()
        thread.join(timeout)  # under a proper lock it waits for us: let it
        return thread

    def spy(facility_ids):
        if not facility_ids or threading.get_ident() != first_thread:
            return real_lock(facility_ids)  # the plan lock, or the second request
        session = db.session()
        rollback, started = session.rollback, []

        def rollback_then_compete():
            rollback()
            if not started:  # the plan's lock is let go of here: this is the gap
                started.append(compete(timeout=10))

        session.rollback = rollback_then_compete
        try:
            real_lock(facility_ids)
        finally:
            del session.rollback
        if not started:
            started.append(compete(timeout=0.5))
        spy.thread = started[0]

    monkeypatch.setattr(plans, "lock_facilities", spy)
    with app.app_context():
        first = _outcome(lambda: plans.execute_plan(MANAGER, plan_id, [ids["y1"]]))
    spy.thread.join(30)
    assert not spy.thread.is_alive()
    assert (first, second["outcome"]) in allowed
    with app.app_context():
        executions = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "plan.execute", AuditEvent.object_id == plan_id)
        )
        status = db.session.get(Plan, plan_id).status
    assert executions == (0 if status == PlanStatus.CANCELLED else 1)
    assert status in (PlanStatus.EXECUTED, PlanStatus.CANCELLED)


# --- workers --------------------------------------------------------------------------------


def queue(app, n: int) -> list[int]:
    with app.app_context():
        ids = [plans.create_plan(audit.SYSTEM, PlanParameters(keep_free=i)).id for i in range(n)]
        db.session.commit()
        return ids


def claim(app, name: str):
    with app.app_context():
        try:
            job = runner.claim_next(name, 30)
            db.session.commit()
            return job.plan_id if job else None
        finally:
            db.session.remove()


@pytest.mark.parametrize(("claimers", "queued"), [(6, 1), (6, 3)])
def test_simultaneous_claims_never_take_a_plan_twice(app, world, claimers, queued):
    plan_ids = queue(app, queued)
    results = at_once([lambda i=i: claim(app, f"w{i}") for i in range(claimers)])
    taken = [r for r in results if r is not None]
    assert sorted(taken) == sorted(plan_ids)  # each plan once, every plan taken
    assert results.count(None) == claimers - queued
    with app.app_context():
        for i, plan_id in enumerate(results):
            if plan_id is not None:
                plan = db.session.get(Plan, plan_id)
                assert (plan.status, plan.worker_id) == (PlanStatus.RUNNING, f"w{i}")


@pytest.mark.parametrize("queued", [1, 2])
def test_simultaneous_workers_solve_each_plan_once(app, world, queued):
    plan_ids = queue(app, queued)
    workers = [PlanWorker(app, name=f"worker-{i}") for i in range(3)]
    results = at_once([w.run_once for w in workers])
    assert sorted(r for r in results if r is not None) == sorted(plan_ids)
    with app.app_context():
        for plan_id in plan_ids:
            plan = db.session.get(Plan, plan_id)
            assert plan.status == PlanStatus.PROPOSED and plan.result is not None
        starts = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "plan.start")
        )
        assert starts == queued
