"""The plan worker: takes queued move plans and solves them off the request.

With the embedded default (``make run``) a daemon thread in the app process runs it; in
production it is its own process, ``flask --app placement worker run``. Several workers may
run at once: each claims a plan with a lease (``services.planning.runner``) and renews it
from a heartbeat thread while the solver works; the solver itself never touches the
database session. While it runs, a worker also beats its liveness (``process_heartbeat``,
every ``WORKER_HEARTBEAT_SECONDS``), which /healthz?deep=1 reports, idle or solving."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

from flask import Flask

from placement.extensions import db
from placement.services import health
from placement.services.planning import runner
from solver import propose
from solver.greedy import greedy_as_plan
from solver.parse import parse_scenario_dict

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class PlanWorker:
    """Solves queued plans one after another."""

    def __init__(self, app: Flask, name: str | None = None) -> None:
        self.app = app
        self.name = name or worker_name()
        config = app.config
        self.lease = float(config["PLAN_LEASE_SECONDS"])
        self.heartbeat = float(config["PLAN_HEARTBEAT_SECONDS"])
        self.poll = float(config["PLAN_POLL_SECONDS"])
        self.solver_workers = int(config["PLAN_SOLVER_WORKERS"])
        self.liveness = float(config["WORKER_HEARTBEAT_SECONDS"])
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def run_once(self) -> int | None:
        """Claim and solve one queued plan; its id, or None if none was waiting."""
        with self.app.app_context():
            try:
                job = runner.claim_next(self.name, self.lease)
                db.session.commit()
            finally:
                db.session.remove()
        if job is None:
            return None
        self._solve(job)
        return job.plan_id

    def run_forever(self) -> None:
        """Poll for plans until ``stop()``; a failing poll is logged and retried."""
        log.info("plan worker %s started", self.name)
        alive = threading.Thread(target=self._beat_liveness, name="plan-worker-alive", daemon=True)
        alive.start()
        while not self.stopping.is_set():
            try:
                if self.run_once() is None:
                    self.stopping.wait(self.poll)
            except Exception:  # noqa: BLE001 - the loop must survive a database outage
                log.exception("plan worker %s: poll failed", self.name)
                self.stopping.wait(self.poll * 5)
        log.info("plan worker %s stopped", self.name)

    def _beat_liveness(self) -> None:
        """Say "alive" now and every ``liveness`` seconds until stopped (also while a plan
        is being solved); a failed beat is logged and the next one tried."""
        while not self.stopping.is_set():
            try:
                self._write(health.beat, health.PLAN_WORKER, self.name)
            except Exception:  # noqa: BLE001 - the database may be down for a while
                log.warning("plan worker %s: liveness heartbeat failed", self.name)
            self.stopping.wait(self.liveness)

    def stop(self, timeout: float | None = None) -> None:
        """Stop polling; with ``timeout``, wait that long for the running thread to end."""
        self.stopping.set()
        if timeout is not None and self.thread is not None:
            self.thread.join(timeout)

    def _write(self, action, *args) -> Any:
        """One short transaction of its own (the heartbeat thread uses this too)."""
        with self.app.app_context():
            try:
                value = action(*args)
                db.session.commit()
                return value
            except Exception:
                db.session.rollback()
                raise
            finally:
                db.session.remove()

    def _solve(self, job: runner.Job) -> None:
        started = time.perf_counter()
        progress: dict[str, Any] = {"stage": "greedy", "elapsed": 0.0}
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.heartbeat):
                progress["elapsed"] = round(time.perf_counter() - started, 1)
                try:
                    if not self._write(
                        runner.renew, job.plan_id, self.name, self.lease, dict(progress)
                    ):
                        log.info("plan %s is no longer ours (cancelled or expired)", job.plan_id)
                        return
                except Exception:  # noqa: BLE001 - a missed beat only shortens the lease
                    log.exception("plan %s: heartbeat failed", job.plan_id)

        heart = threading.Thread(target=beat, name=f"plan-{job.plan_id}-heartbeat", daemon=True)
        heart.start()
        try:
            scenario, errors = parse_scenario_dict(job.scenario)
            if scenario is None:
                raise ValueError(f"stored scenario does not parse: {errors[:3]}")
            greedy = greedy_as_plan(scenario)
            greedy_doc = {"objective": greedy.objective.to_dict(), "moves": len(greedy.moves)}
            progress.update(stage="solving", best=greedy_doc["objective"])
            plan = propose(scenario, time_limit=job.time_limit, workers=self.solver_workers)
            if plan.status not in ("OPTIMAL", "FEASIBLE"):
                raise ValueError(
                    f"solver answered {plan.status}: {[e.to_dict() for e in plan.errors][:3]}"
                )
            done.set()
            heart.join(timeout=self.heartbeat + 5)
            if not self._write(runner.finish, job.plan_id, self.name, plan.to_dict(), greedy_doc):
                log.info("plan %s finished after it was cancelled or expired", job.plan_id)
        except Exception as exc:  # noqa: BLE001 - a failed solve is a failed plan, not a crash
            done.set()
            log.exception("plan %s failed", job.plan_id)
            self._write(runner.fail, job.plan_id, self.name, f"{type(exc).__name__}: {exc}")
        finally:
            done.set()


def start_thread(app: Flask) -> PlanWorker:
    """Run a plan worker in a daemon thread of this process (the embedded default)."""
    worker = PlanWorker(app)
    worker.thread = threading.Thread(target=worker.run_forever, name="plan-worker", daemon=True)
    worker.thread.start()
    return worker
