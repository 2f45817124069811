"""/healthz: the database probe, the deep check (heartbeats, outbox, dead letters), who may
ask for the deep check (administrators, this machine; behind a proxy too), and the pool
options that reach the engine on PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from placement import create_app, scheduler
from placement.extensions import db
from placement.models import Notification, ProcessHeartbeat
from placement.services import health
from placement.timeutil import now as utc_now
from placement.worker import start_thread
from tests.conftest import make_app

OUTSIDE = {"REMOTE_ADDR": "203.0.113.5"}  # a caller elsewhere (TEST-NET-3)
RECIPIENT = "leitung@amt.example"


def beat_everything(app, scheduler_age: float = 0.0, worker_age: float = 0.0) -> None:
    """A scheduler lease and a plan worker heartbeat, this many seconds old."""
    with app.app_context():
        now = utc_now()
        assert scheduler.take_lease("sched-1", 60, now - timedelta(seconds=scheduler_age))
        health.beat(health.PLAN_WORKER, "worker-1", now - timedelta(seconds=worker_age))
        db.session.commit()


def deep(client, **kwargs):
    response = client.get("/healthz?deep=1", **kwargs)
    return response.status_code, response.get_json()


# --- the plain probe ----------------------------------------------------------------------


def test_database_answers(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/healthz?deep=0").get_json() == {"status": "ok"}


DOWN = {
    "sqlite": "sqlite:////nonexistent-platzplan-dir/down.sqlite",
    # Nothing listens on port 1: the connection is refused at once.
    "postgresql": "postgresql+psycopg://platzplan@127.0.0.1:1/platzplan",
}


@pytest.fixture(params=sorted(DOWN))
def down_app(request, tmp_path, monkeypatch):
    """An app whose database does not answer."""
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": DOWN[request.param],
            "ENV": "demo",
            "DB_CONNECT_TIMEOUT": 2,
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("path", ["/healthz", "/healthz?deep=1"])
def test_database_does_not_answer(down_app, path):
    client = down_app.test_client()
    response = client.get(path)  # from loopback: the deep check is allowed
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable"}
    assert response.headers["Cache-Control"] == "no-store"


def test_database_down_with_a_session_cookie_is_503_and_keeps_the_cookie(down_app):
    """A browser sends its session cookie: still 503, not 500, and not logged out."""
    client = down_app.test_client()
    client.set_cookie("session", "a" * 43)
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (503, {"status": "unavailable"})
    assert "Set-Cookie" not in response.headers
    assert client.get("/health").status_code == 503


def test_database_goes_away_during_the_deep_check(app, client, monkeypatch):
    """A failure after SELECT 1 (reading the figures) is 503 as well, never a 500."""
    from sqlalchemy.exc import OperationalError

    def broken(now=None):
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(health, "deep_health", broken)
    assert deep(client) == (503, {"status": "unavailable"})


def test_bad_deep_value_names_the_field(client):
    response = client.get("/healthz?deep=yes")
    body = response.get_json()
    assert response.status_code == 400
    assert (body["field"], body["code"]) == ("deep", "unknown_value")
    assert "deep" in body["error"]


# --- the deep check -------------------------------------------------------------------------


def test_fresh_heartbeats(app, client):
    beat_everything(app, scheduler_age=5, worker_age=3)
    status, body = deep(client)
    assert status == 200
    assert (body["status"], body["database"], body["stale"]) == ("ok", "ok", [])
    assert 4 <= body["scheduler"]["heartbeat_age_seconds"] < 30
    assert 2 <= body["plan_worker"]["heartbeat_age_seconds"] < 30
    assert body["scheduler"]["stale_after_seconds"] == 60
    assert body["plan_worker"]["stale"] is False


@pytest.mark.parametrize(
    ("scheduler_age", "worker_age", "stale"),
    [(120, 0, ["scheduler"]), (0, 120, ["plan_worker"]), (120, 120, ["scheduler", "plan_worker"])],
)
def test_stale_heartbeat_is_503_and_named(app, client, scheduler_age, worker_age, stale):
    beat_everything(app, scheduler_age=scheduler_age, worker_age=worker_age)
    status, body = deep(client)
    assert (status, body["status"], body["stale"]) == (503, "unavailable", stale)
    for name in ("scheduler", "plan_worker"):
        assert body[name]["stale"] is (name in stale)


def test_thresholds_come_from_the_config(app, client):
    beat_everything(app, scheduler_age=120, worker_age=120)
    app.config["HEALTH_SCHEDULER_STALE_SECONDS"] = 300
    app.config["HEALTH_WORKER_STALE_SECONDS"] = 300
    status, body = deep(client)
    assert (status, body["stale"]) == (200, [])
    assert body["scheduler"]["stale_after_seconds"] == 300


def test_missing_heartbeats_are_stale(client):
    """A scheduler or worker that never ran is not alive."""
    status, body = deep(client)
    assert (status, body["stale"]) == (503, ["scheduler", "plan_worker"])
    assert body["scheduler"]["heartbeat_age_seconds"] is None
    assert body["plan_worker"]["heartbeat_age_seconds"] is None


def test_outbox_backlog_and_dead_letters(app, client):
    beat_everything(app)
    now = utc_now()
    with app.app_context():

        def note(n, status, created_minutes_ago, due_in_minutes=0):
            db.session.add(
                Notification(
                    key=f"test:{n}",
                    kind="firing",
                    recipient=RECIPIENT,
                    payload={"lines": ["Überbelegung: Haus Geheim"]},
                    status=status,
                    created_at=now - timedelta(minutes=created_minutes_ago),
                    next_attempt_at=now + timedelta(minutes=due_in_minutes),
                )
            )

        note(1, "pending", 10, due_in_minutes=-1)  # due, the oldest
        note(2, "pending", 2, due_in_minutes=-1)  # due
        note(3, "pending", 30, due_in_minutes=5)  # retry later: not due yet
        note(4, "sent", 60)
        note(5, "dead", 90)
        note(6, "dead", 90)
        db.session.commit()
    status, body = deep(client)
    assert status == 200  # a backlog is reported, it does not make the probe fail
    assert body["outbox"]["due"] == 2
    assert 595 <= body["outbox"]["oldest_due_age_seconds"] <= 660
    assert body["dead_letters"] == 2
    text = str(body)
    assert RECIPIENT not in text and "Geheim" not in text  # counts and ages only


def test_empty_outbox(app, client):
    beat_everything(app)
    _, body = deep(client)
    assert body["outbox"] == {"due": 0, "oldest_due_age_seconds": None}
    assert body["dead_letters"] == 0


def test_the_plan_worker_beats_while_it_runs(app, client):
    """The worker process (and the thread `make run` starts) writes its liveness row."""
    app.config["WORKER_HEARTBEAT_SECONDS"] = 0.05
    worker = start_thread(app)  # what `make run` starts; `flask worker run` runs the same loop
    try:
        deadline = time.monotonic() + 10
        first = None
        while time.monotonic() < deadline:
            with app.app_context():
                row = db.session.get(ProcessHeartbeat, health.PLAN_WORKER)
                seen, holder = (row.beat_at, row.holder) if row else (None, None)
                db.session.rollback()
            if first is None:
                first = seen
            elif seen is not None and seen > first:
                break
            time.sleep(0.05)
        assert first is not None and seen > first, "the heartbeat is not renewed"
        assert holder == worker.name
    finally:
        worker.stop(timeout=10)
    assert not worker.thread.is_alive()
    _, body = deep(client)
    assert body["plan_worker"]["stale"] is False


# --- who may ask for the deep check -----------------------------------------------------------


def test_deep_refused_for_anonymous_callers_elsewhere(app, client):
    beat_everything(app)
    response = client.get("/healthz?deep=1", environ_base=OUTSIDE)
    body = response.get_json()
    assert response.status_code == 403
    assert (body["status"], body["field"], body["code"]) == ("forbidden", "deep", "forbidden")
    assert "scheduler" not in body
    # The plain probe stays open to everyone.
    assert client.get("/healthz", environ_base=OUTSIDE).status_code == 200


@pytest.mark.parametrize("role", ["on_call", "facility_manager", "department_head"])
def test_deep_refused_for_non_admins_elsewhere(app, client, login, role):
    beat_everything(app)
    login(role=role, email=f"{role}@example.org")
    status, body = deep(client, environ_base=OUTSIDE)
    assert (status, body["field"]) == (403, "deep")


def test_deep_allowed_for_a_logged_in_admin_elsewhere(app, client, login):
    beat_everything(app)
    login(role="admin", email="admin@example.org")
    status, body = deep(client, environ_base=OUTSIDE)
    assert (status, body["status"], body["stale"]) == (200, "ok", [])


def test_deep_allowed_from_ipv6_loopback(app, client):
    beat_everything(app)
    assert deep(client, environ_base={"REMOTE_ADDR": "::1"})[0] == 200


# Behind a reverse proxy on this host every peer address is 127.0.0.1: only the forwarded
# client address (trusted through ProxyFix) may count.
PROXIED = [
    # (PROXY_FIX_X_FOR, headers, allowed)
    (0, {"X-Forwarded-For": "203.0.113.5"}, False),  # proxied, header not trusted
    (0, {"X-Forwarded-For": "127.0.0.1"}, False),  # not trusted, even if it says loopback
    (0, {"X-Real-IP": "127.0.0.1"}, False),
    (0, {"Forwarded": "for=127.0.0.1"}, False),
    (1, {"X-Forwarded-For": "203.0.113.5"}, False),  # a client elsewhere, via the proxy
    (1, {"X-Forwarded-For": "127.0.0.1, 203.0.113.5"}, False),  # a forged first entry
    (1, {"X-Real-IP": "127.0.0.1"}, False),  # ProxyFix does not read X-Real-IP
    (1, {"X-Forwarded-For": "127.0.0.1"}, True),  # a client on this host, via the proxy
    (2, {"X-Forwarded-For": "127.0.0.1"}, False),  # fewer hops than proxies trusted
    (2, {"X-Forwarded-For": "127.0.0.1, 127.0.0.1"}, True),
    (1, {}, True),  # straight to the app server on this host (no proxy)
]


@pytest.mark.parametrize(("x_for", "headers", "allowed"), PROXIED)
def test_deep_behind_a_proxy(tmp_path, monkeypatch, x_for, headers, allowed):
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'proxy.sqlite'}", PROXY_FIX_X_FOR=x_for)
    beat_everything(app)
    client = app.test_client()
    response = client.get(
        "/healthz?deep=1", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    )
    assert response.status_code == (200 if allowed else 403), response.get_json()
    with app.app_context():
        db.engine.dispose()


def test_the_old_health_endpoint_still_answers(client):
    body = client.get("/health").get_json()
    assert (body["status"], body["database"]) == ("ok", True)


# --- the pool --------------------------------------------------------------------------------


def test_pool_options_reach_the_engine_on_postgresql(app):
    with app.app_context():
        engine = db.engine
        if engine.dialect.name != "postgresql":
            assert engine.pool._pre_ping is False  # SQLite keeps SQLAlchemy's defaults
            return
        pool = engine.pool
        assert pool._pre_ping is True
        assert (pool.size(), pool._max_overflow, pool._timeout, pool._recycle) == (
            5,
            5,
            10,
            1800,
        )
        with engine.connect() as conn:
            params = conn.connection.dbapi_connection.info.get_parameters()
        assert params["connect_timeout"] == "5"


def test_pool_options_are_configurable(tmp_path, monkeypatch, postgres_url):
    if postgres_url is None:
        pytest.skip("no PostgreSQL server available")
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": postgres_url,
            "DB_POOL_SIZE": 3,
            "DB_MAX_OVERFLOW": 1,
            "DB_POOL_TIMEOUT": 4,
            "DB_POOL_RECYCLE": 600,
            "DB_CONNECT_TIMEOUT": 7,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 900},  # explicit options win
        }
    )
    with app.app_context():
        pool = db.engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout, pool._recycle) == (3, 1, 4, 900)
        with db.engine.connect() as conn:
            params = conn.connection.dbapi_connection.info.get_parameters()
        assert params["connect_timeout"] == "7"
        db.engine.dispose()
