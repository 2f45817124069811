"""Fault tests: the real processes (gunicorn with deploy/gunicorn.conf.py, the scheduler,
the plan worker) are killed with SIGKILL in the middle of their work, restarted, and the
database is checked afterwards. The load, the accounts and the invariants (occupancy from
the API equals the open stays, no youth with two open stays, no overlapping stays) are the
load benchmark's own (``benchmarks/bench_load.py``); the processes are in tests/processes.py.

Small data, short leases and short load phases; every wait polls for its condition."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import select

from benchmarks import bench_load
from benchmarks.bench_load import Account, Client, Mode, OpenStay
from placement.extensions import db
from placement.models import AuditEvent, Notification, Plan, PlanStatus, Stay, Youth
from placement.models.enums import NotificationKind, NotificationStatus
from placement.services.accounts import audit, users
from placement.services.planning import plans
from placement.services.planning.scenario import PlanParameters, moves_of
from placement.worker import PlanWorker
from solver.generate import generate
from tests.conftest import PASSWORD, create_facility, create_stay, create_youth
from tests.postgres import private_cluster
from tests.processes import children, environment, flask_process, gunicorn, wait_for
from tests.smtp_server import SmtpServer
from tests.test_planning import EARLY, NORTH, SOUTH, WEST, born

SMALL = Mode(facilities=8, youths=150, years=0.3, seconds=0, clients=4, think=0.0)
CLIENTS = 4
LOAD_SECONDS = 5  # each load phase; the faults happen inside it


@dataclass
class World:
    url: str
    instance: Path
    accounts: list[Account]
    stays: list[OpenStay]
    lonely_youths: set[int]  # youths without any stay before the test (the generator's)


def build_world(url: str, instance: Path) -> World:
    bench_load.seed(url, SMALL, 7)
    accounts, open_stays = bench_load.prepare(url, 3)
    with app_context(url):
        lonely = set(youths_without_stays())
    return World(url, instance, accounts, open_stays, lonely)


@pytest.fixture
def instance(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "instance"
    folder.mkdir()
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(folder))
    return folder


@pytest.fixture
def world(database_url, instance) -> World:
    return build_world(database_url, instance)


class app_context:  # noqa: N801 - used like a function: ``with app_context(url):``
    """An app context of the test process on ``url`` that disposes of its engine."""

    def __init__(self, url: str) -> None:
        self.app = bench_load.make_app(url)

    def __enter__(self):
        self.context = self.app.app_context()
        self.context.push()
        return self.app

    def __exit__(self, *exc) -> None:
        db.session.remove()
        db.engine.dispose()
        self.context.pop()


def activity_watch(engine: sa.Engine) -> sa.Connection:
    """A connection for polling pg_stat_activity. In autocommit, because PostgreSQL reads
    the activity of other backends once per transaction: polled inside one transaction,
    the view would keep showing what it showed first (a backend long gone still open)."""
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def youths_without_stays() -> list[int]:
    return list(
        db.session.scalars(
            select(Youth.id).outerjoin(Stay, Stay.youth_id == Youth.id).where(Stay.id.is_(None))
        )
    )


def half_writes(world: World) -> list[str]:
    """Traces of a request that was cut off halfway: a youth admitted without a stay, an
    audit entry without its change, a broken audit chain."""
    problems = []
    with app_context(world.url):
        lonely = set(youths_without_stays()) - world.lonely_youths
        problems += [f"youth {y} was created without a stay" for y in sorted(lonely)]
        admitted = set(
            db.session.scalars(
                select(AuditEvent.object_id).where(AuditEvent.action == "stay.admit")
            )
        )
        present = set(db.session.scalars(select(Stay.id).where(Stay.id.in_(admitted))))
        problems += [f"audited admission of missing stay {s}" for s in sorted(admitted - present)]
        ended = select(AuditEvent.object_id).where(
            AuditEvent.action.in_(("stay.discharge", "stay.move_out"))
        )
        still_open = db.session.scalars(
            select(Stay.id).where(Stay.id.in_(ended), Stay.end_at.is_(None))
        ).all()
        problems += [f"audited end of stay {s}, which is still open" for s in still_open]
        chain = audit.verify_chain()
        if chain.first_break is not None:
            problems.append(f"audit chain broken at {chain.first_break}")
    return problems


# --- load --------------------------------------------------------------------------------------


def clients_for(world: World, base: str) -> list[Client]:
    made = [
        Client(
            base,
            world.accounts[n % len(world.accounts)],
            world.stays[n::CLIENTS],
            random.Random(f"faults-{n}"),
        )
        for n in range(CLIENTS)
    ]
    for client in made:
        client.sign_in()
    return made


def start_load(clients: list[Client], seconds: float = LOAD_SECONDS) -> list[threading.Thread]:
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=c.run, args=(deadline,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    return threads


def join(threads: list[threading.Thread], clients: list[Client]) -> None:
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a client hangs"
    assert [c.crash for c in clients if c.crash] == []


WRITES = ("admission", "move", "discharge")


def answered_writes(clients: list[Client], since: dict[int, int] | None = None) -> int:
    since = since or {}
    return sum(
        1
        for n, client in enumerate(clients)
        for result in client.results[since.get(n, 0) :]
        if result.kind in WRITES and 200 <= result.status < 300
    )


def marks(clients: list[Client]) -> dict[int, int]:
    return {n: len(c.results) for n, c in enumerate(clients)}


def statuses(clients: list[Client], since: dict[int, int] | None = None) -> Counter:
    since = since or {}
    return Counter(r.status for n, c in enumerate(clients) for r in c.results[since.get(n, 0) :])


def failures(counted: Counter) -> dict[int, int]:
    """Answers that are no clean answer: none at all (0) or a server error."""
    return {s: n for s, n in counted.items() if s == 0 or s >= 500}


# --- 1. a web worker killed under load ----------------------------------------------------------


def test_killed_web_worker_is_replaced_and_nothing_is_half_written(world):
    with gunicorn(world.url, world.instance, workers=2) as (base, master):
        clients = clients_for(world, base)
        threads = start_load(clients)
        wait_for(lambda: answered_writes(clients) >= 5, "writes before the kill")
        before = children(master)
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        replaced = wait_for(
            lambda: (now := children(master)) and len(now) == 2 and victim not in now and now,
            "the master replaced the killed worker",
        )
        after = marks(clients)
        wait_for(lambda: answered_writes(clients, after) >= 5, "writes after the replacement")
        join(threads, clients)

        # The killed worker's request (a sync worker serves one at a time) got no answer;
        # every other request was answered, and none with a server error.
        assert failures(statuses(clients)) in ({}, {0: 1})
        assert failures(statuses(clients, after)) == {}
        assert victim not in replaced and before[1] in replaced
        assert bench_load.check(world.url, base, world.accounts[0]) == []
    assert half_writes(world) == []


# --- 2. the scheduler killed while it sends the outbox ---------------------------------------

RECIPIENTS = 12


def queue_notifications(url: str) -> list[str]:
    recipients = [f"fault-{n:02d}@example.org" for n in range(RECIPIENTS)]
    with app_context(url):
        upgrade()
        for n, recipient in enumerate(recipients):
            db.session.add(
                Notification(
                    key=f"fault-test:{n}",
                    kind=NotificationKind.SUMMARY,
                    recipient=recipient,
                    payload={"lines": [f"Testzeile {n}"]},
                )
            )
        db.session.commit()
    return recipients


def outbox_states(url: str) -> Counter:
    with app_context(url):
        rows = db.session.execute(
            select(Notification.status, Notification.claimed_until).where(
                Notification.key.like("fault-test:%")
            )
        ).all()
    return Counter((row.status, row.claimed_until is None) for row in rows)


def test_killed_scheduler_sends_every_notification_once(database_url, instance, tmp_path):
    # The scheduler sends nothing between 02:00 and 03:00 (Europe/Berlin) by default: the
    # test lets it work around the clock (CI may run at any hour).
    recipients = queue_notifications(database_url)
    smtp = SmtpServer()
    smtp.handler.delay = 0.25  # each mail takes a while: the kill lands mid-round
    smtp.start()
    env = environment(
        database_url,
        instance,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
        MAIL_TIMEOUT=10,
        ALERT_SEND_SECONDS=1,
        SCHEDULER_WAKING_HOURS="0-23",
        ALERT_CLAIM_SECONDS=3,
        SCHEDULER_LEASE_SECONDS=3,
        SCHEDULER_HEARTBEAT_SECONDS=1,
    )
    log = tmp_path / "scheduler.log"
    all_sent = (NotificationStatus.SENT, True)  # sent, and no claim left

    def delivered() -> list[str]:
        return [r for m in smtp.messages for r in m.rcpt_tos if r in recipients]

    try:
        with flask_process(["scheduler", "run"], env, log) as first:
            wait_for(
                lambda: len(delivered()) >= 3, lambda: f"mails before the kill: {first.output()}"
            )
            first.kill()
        at_kill = len(delivered())
        assert at_kill < RECIPIENTS, "the kill came too late to interrupt the sending"
        # The dead sender left the rest claimed: its claim has to run out.
        assert outbox_states(database_url)[(NotificationStatus.PENDING, False)] > 0
        with flask_process(["scheduler", "run"], env, log) as second:
            wait_for(
                lambda: outbox_states(database_url) == {all_sent: RECIPIENTS},
                lambda: f"every notification sent after the restart: {second.output()}",
                timeout=40,
                every=0.2,
            )
        counts = Counter(delivered())
    finally:
        smtp.stop()
    assert set(counts) == set(recipients)  # none lost
    # At least once: only the mail in flight at the kill may have gone twice.
    assert sorted(counts.values())[:-1] == [1] * (RECIPIENTS - 1)
    assert max(counts.values()) <= 2


# --- 3. the plan worker killed while it solves ------------------------------------------------


def plan_state(url: str, plan_id: int) -> tuple[PlanStatus, str | None, dict | None]:
    with app_context(url):
        plan = db.session.get(Plan, plan_id)
        return plan.status, plan.error, plan.progress


def stays_now(url: str) -> list[tuple]:
    with app_context(url):
        return db.session.execute(
            select(Stay.id, Stay.facility_id, Stay.end_at).order_by(Stay.id)
        ).all()


def test_killed_plan_worker_leaves_no_plan_running(world, tmp_path):
    with app_context(world.url):
        # A plan as large as a Land's (solver/generate.py): its solve takes seconds.
        hard = plans.create_plan(audit.SYSTEM, PlanParameters(time_limit=60))
        hard.scenario = generate("land", 3)
        db.session.commit()
        hard_id = hard.id
    before = stays_now(world.url)
    env = environment(
        world.url,
        world.instance,
        PLAN_LEASE_SECONDS=2,
        PLAN_HEARTBEAT_SECONDS=0.5,
        PLAN_POLL_SECONDS=0.2,
        PLAN_SOLVER_WORKERS=1,
        WORKER_HEARTBEAT_SECONDS=1,
    )
    log = tmp_path / "worker.log"
    with flask_process(["worker", "run"], env, log) as first:
        wait_for(
            lambda: (plan_state(world.url, hard_id)[2] or {}).get("stage") == "solving",
            lambda: f"the worker solving the plan: {first.output()}",
            every=0.1,
        )
        first.kill()
    assert plan_state(world.url, hard_id)[0] == PlanStatus.RUNNING  # left behind

    with app_context(world.url):
        easy_id = plans.create_plan(audit.SYSTEM, PlanParameters(time_limit=5)).id
        db.session.commit()
    with flask_process(["worker", "run"], env, log) as second:
        wait_for(
            lambda: plan_state(world.url, hard_id)[:2] == (PlanStatus.FAILED, "worker_lost"),
            lambda: f"the lost plan failed once its lease ran out: {second.output()}",
            every=0.2,
        )
        wait_for(
            lambda: plan_state(world.url, easy_id)[0] == PlanStatus.PROPOSED,
            lambda: f"the restarted worker solves the next plan: {second.output()}",
            every=0.2,
        )
    assert stays_now(world.url) == before  # solving never moves anybody


# --- 3b. a web worker killed while it executes a plan -----------------------------------------


def test_the_activity_watch_reads_afresh_on_every_poll(database_url):
    """The guard of the waits below: a backend that connects after the first poll is seen
    by the next one (inside one transaction it would not be, and a wait would time out)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("pg_stat_activity is PostgreSQL's")
    engine = sa.create_engine(database_url)
    probe = sa.create_engine(database_url, connect_args={"application_name": "watch-probe"})
    probes = sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'watch-probe'")
    try:
        with activity_watch(engine) as watch:
            assert watch.execute(probes).scalar() == 0
            with probe.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
                assert watch.execute(probes).scalar() == 1
    finally:
        probe.dispose()
        engine.dispose()


@pytest.fixture
def approved_plan(database_url, instance):
    """Haus Voll (1 place) with five youths and two free houses; a solved, approved plan
    whose moves go two routes (one transaction writes them one route after the other)."""
    with app_context(database_url) as app:
        upgrade()
        full = create_facility(licensed=1, name="Haus Voll", **NORTH)
        create_facility(licensed=3, name="Haus Süd", **SOUTH)
        create_facility(licensed=3, name="Haus West", **WEST)
        for _ in range(5):
            create_stay(create_youth(birth_date=born(14)), full, EARLY)
        email = "leitung@example.org"
        users.create_user(audit.CLI, email=email, role="department_head", password=PASSWORD)
        token = users.issue_token(audit.CLI, email)
        db.session.commit()
        plan_id = plans.create_plan(audit.SYSTEM, PlanParameters(time_limit=5)).id
        db.session.commit()
    assert PlanWorker(app).run_once() == plan_id
    with app_context(database_url):
        plan = plans.approve_plan(audit.SYSTEM, plan_id)
        db.session.commit()
        moves = moves_of(plan.result)
    assert len({(m.from_id, m.to_id) for m in moves}) == 2
    world = World(database_url, instance, [Account(email, token)], [], set())
    return world, plan_id, moves


def open_stay_places(url: str, youth_ids: list[int]) -> dict[int, int]:
    with app_context(url):
        return dict(
            db.session.execute(
                select(Stay.youth_id, Stay.facility_id).where(
                    Stay.youth_id.in_(youth_ids), Stay.end_at.is_(None)
                )
            ).all()
        )


def busy_writing(url: str) -> bool:
    """SQLite: somebody holds the write lock (the execution's transaction is open)."""
    connection = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        connection.close()


SLOW_INSERT = """
CREATE TRIGGER hold_mid_way AFTER INSERT ON stay WHEN NEW.youth_id = {youth} BEGIN
    SELECT count(*) FROM ten a, ten b, ten c, ten d, ten e, ten f, ten g, ten h, ten i;
END"""


@contextmanager
def execution_held_mid_way(engine: sa.Engine, youth_id: int) -> Iterator[None]:
    """Inside: a plan execution that moves ``youth_id`` after its first route waits there,
    its transaction open, until the worker is killed. PostgreSQL: the youth's open stay is
    locked. SQLite has no row locks to wait on: the insert of the youth's new stay counts a
    billion rows instead (half a minute or more). Released on a normal exit only (a
    failure leaves the test's database as it is)."""
    with engine.connect() as holder:
        if engine.dialect.name == "postgresql":
            holder.execute(
                select(Stay.id)
                .where(Stay.youth_id == youth_id, Stay.end_at.is_(None))
                .with_for_update()
            )
            yield
            holder.rollback()
        else:
            holder.exec_driver_sql("CREATE TABLE ten (n INTEGER)")
            holder.exec_driver_sql("INSERT INTO ten VALUES " + ",".join(["(0)"] * 10))
            holder.exec_driver_sql(SLOW_INSERT.format(youth=int(youth_id)))
            holder.commit()
            yield
            holder.exec_driver_sql("DROP TRIGGER hold_mid_way")
            holder.exec_driver_sql("DROP TABLE ten")
            holder.commit()


def test_killed_web_worker_mid_execution_executes_all_or_nothing(approved_plan):
    world, plan_id, moves = approved_plan
    youths = sorted(m.youth_id for m in moves)
    before = open_stay_places(world.url, youths)
    last_route = max((m.from_id, m.to_id) for m in moves)
    held_youth = min(m.youth_id for m in moves if (m.from_id, m.to_id) == last_route)
    postgres = world.url.startswith("postgresql")
    headers = {"Authorization": f"Bearer {world.accounts[0].token}"}
    with gunicorn(world.url, world.instance, workers=2) as (base, master):
        engine = sa.create_engine(world.url)
        try:
            answer: list = []

            def execute() -> None:
                try:
                    answer.append(
                        requests.post(
                            f"{base}/api/v1/plans/{plan_id}/execute",
                            json={},
                            headers=headers,
                            timeout=30,
                        ).status_code
                    )
                except requests.RequestException:
                    answer.append(0)

            thread = threading.Thread(target=execute, daemon=True)
            victims = children(master)
            # The execution writes the first route, then waits inside its transaction.
            with execution_held_mid_way(engine, held_youth):
                thread.start()
                if postgres:
                    waiting = sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database() AND pid <> pg_backend_pid()"
                    )
                    with activity_watch(engine) as watch:
                        wait_for(
                            lambda: watch.execute(waiting).scalar(), "the execution waits mid-way"
                        )
                else:
                    wait_for(lambda: busy_writing(world.url), "the execution's open transaction")
                for pid in victims:
                    os.kill(pid, signal.SIGKILL)
            thread.join(timeout=30)
            if postgres:  # the killed worker's transaction ends with its connection
                open_transactions = sa.text(
                    # This test's database only (the cluster holds others: the migrated
                    # template, postgres), listed so that a failure names what is open.
                    "SELECT pid, state, wait_event, left(query, 80) FROM pg_stat_activity "
                    "WHERE xact_start IS NOT NULL AND backend_type = 'client backend' "
                    "AND datname = current_database() AND pid <> pg_backend_pid()"
                )
                with activity_watch(engine) as watch:
                    wait_for(
                        lambda: not watch.execute(open_transactions).all(),
                        # Which transactions are still open, should it fail.
                        lambda: (
                            "the cut-off transaction rolled back; still open: "
                            + repr(watch.execute(open_transactions).all())
                        ),
                        timeout=60,
                    )
        finally:
            engine.dispose()
        wait_for(
            lambda: len(now := children(master)) == 2 and not set(now) & set(victims),
            "the master replaced the killed workers",
        )
        after = open_stay_places(world.url, youths)
        status = plan_state(world.url, plan_id)[0]
        assert answer == [0]  # the kill came while the transaction was open mid-way
        assert after == before  # and took the first route's moves with it
        assert status == PlanStatus.APPROVED  # the plan can still be executed, once
        again = requests.post(
            f"{base}/api/v1/plans/{plan_id}/execute", json={}, headers=headers, timeout=30
        )
        assert again.status_code == 200, again.text
        after = open_stay_places(world.url, youths)
        assert after == {m.youth_id: m.to_id for m in moves}  # every move, each once
        assert plan_state(world.url, plan_id)[0] == PlanStatus.EXECUTED
        assert bench_load.check(world.url, base, world.accounts[0]) == []
    assert half_writes(world) == []


# --- 4. PostgreSQL restarted under the web workers' feet -------------------------------------


@pytest.fixture
def cluster(instance):
    with private_cluster() as running:
        if running is None:
            message = "no PostgreSQL server could be started (install Debian's postgresql)"
            if os.environ.get("PLACEMENT_REQUIRE_POSTGRES"):
                pytest.fail(message)
            pytest.skip(message)
        yield running


def test_web_workers_survive_a_postgres_restart(cluster, instance):
    world = build_world(cluster.url, instance)
    with gunicorn(world.url, world.instance, workers=2) as (base, master):
        workers = children(master)
        clients = clients_for(world, base)
        probe = requests.Session()
        headers = {"Authorization": f"Bearer {world.accounts[0].token}"}

        def answers() -> bool:
            try:
                got = probe.get(f"{base}/api/v1/occupancy", headers=headers, timeout=10)
            except requests.RequestException:
                return False
            return got.status_code == 200

        # Restarted while clients write: requests fail for a moment, then succeed again.
        threads = start_load(clients)
        wait_for(lambda: answered_writes(clients) >= 5, "writes before the restart")
        cluster.restart()
        wait_for(answers, "answers within seconds of the restart", timeout=10)
        after = marks(clients)
        wait_for(lambda: answered_writes(clients, after) >= 5, "writes after the restart")
        join(threads, clients)

        # Restarted while the workers are idle: every pooled connection is dead, and the
        # pre-ping replaces it before the first request uses it.
        cluster.restart()
        results = [answers() for _ in range(12)]
        assert all(results), results
        assert children(master) == workers  # no worker was restarted
        assert bench_load.check(world.url, base, world.accounts[0]) == []
    assert half_writes(world) == []
