"""The scheduler process: ``flask --app placement scheduler run``. A blocking APScheduler
in Europe/Berlin with explicit job defaults; no job runs between 02:00 and 03:00
(SCHEDULER_WAKING_HOURS), where daylight saving time changes. It is never started inside
web workers or tests.

Only one scheduler acts at a time even if two are started by mistake: on PostgreSQL it
holds a session-level advisory lock, on SQLite a lease row (``process_lease``) that it
renews; the second one waits and says so in its log. Its heartbeat is in the lease row,
which ``/health`` reports."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask
from sqlalchemy import text

from placement import jobs
from placement.extensions import db
from placement.models import ProcessLease
from placement.services.occupancy.locking import lock_facilities
from placement.timeutil import now as utc_now
from placement.worker import worker_name

log = logging.getLogger(__name__)
NAME = "scheduler"
ADVISORY_KEY = 7_421_002
JOB_DEFAULTS = {"misfire_grace_time": 300, "coalesce": True, "max_instances": 1}


def take_lease(holder: str, seconds: float, instant: datetime | None = None) -> bool:
    """Become (or stay) the acting scheduler unless another one's lease still holds."""
    instant = instant or utc_now()
    lock_facilities([])  # SQLite: the write lock, so two schedulers cannot both take it
    lease = db.session.get(ProcessLease, NAME, with_for_update=True)
    if lease is None:
        db.session.add(
            ProcessLease(
                name=NAME,
                holder=holder,
                lease_until=instant + timedelta(seconds=seconds),
                heartbeat_at=instant,
                started_at=instant,
            )
        )
        return True
    if lease.holder != holder and lease.lease_until > instant:
        return False
    if lease.holder != holder:
        lease.started_at = instant
    lease.holder = holder
    lease.lease_until = instant + timedelta(seconds=seconds)
    lease.heartbeat_at = instant
    return True


def heartbeat() -> dict[str, object] | None:
    """The acting scheduler's last heartbeat (for /health)."""
    lease = db.session.get(ProcessLease, NAME)
    if lease is None:
        return None
    return {
        "holder": lease.holder,
        "heartbeat_at": lease.heartbeat_at.isoformat(),
        "lease_until": lease.lease_until.isoformat(),
        "alive": lease.lease_until > utc_now(),
    }


class Scheduler:
    """Waits until it may act, then runs the jobs and renews its lease."""

    def __init__(self, app: Flask, name: str | None = None) -> None:
        self.app = app
        self.name = name or worker_name()
        self.lease = float(app.config["SCHEDULER_LEASE_SECONDS"])
        self.beat = float(app.config["SCHEDULER_HEARTBEAT_SECONDS"])
        self.stopping = threading.Event()
        self._lock_connection = None
        self.scheduler: BlockingScheduler | None = None

    def _renew(self) -> bool:
        with self.app.app_context():
            try:
                acting = take_lease(self.name, self.lease)
                db.session.commit()
                return acting
            except Exception:
                db.session.rollback()
                raise
            finally:
                db.session.remove()

    def _advisory_lock(self) -> bool:
        """PostgreSQL: a session-level advisory lock on a connection kept open."""
        if self._lock_connection is not None:
            return True  # held since an earlier round, on the connection kept open
        with self.app.app_context():
            if db.engine.dialect.name != "postgresql":
                return True
            connection = db.engine.connect()
            taken = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
            ).scalar()
            if taken:
                connection.commit()
                self._lock_connection = connection
                return True
            connection.close()
            return False

    def wait_until_acting(self) -> bool:
        """Block until this process may act (False if stopped meanwhile)."""
        said = False
        while not self.stopping.is_set():
            if self._advisory_lock() and self._renew():
                log.info("scheduler %s acts", self.name)
                return True
            if not said:
                log.warning(
                    "scheduler %s: another scheduler is acting; waiting until it stops", self.name
                )
                said = True
            self.stopping.wait(self.beat)
        return False

    def _beat(self) -> None:
        if not self._renew():
            log.error("scheduler %s lost its lease to another scheduler; stopping", self.name)
            self.stop()

    def build(self) -> BlockingScheduler:
        app = self.app
        config = app.config
        scheduler = BlockingScheduler(timezone="Europe/Berlin", job_defaults=JOB_DEFAULTS)

        def at(clock: str, **extra) -> CronTrigger:
            hour, minute = clock.split(":")
            return CronTrigger(
                hour=int(hour), minute=int(minute), timezone="Europe/Berlin", **extra
            )

        waking = config["SCHEDULER_WAKING_HOURS"]
        every = int(config["ALERT_CHECK_MINUTES"])
        scheduler.add_job(
            jobs.check_alerts,
            CronTrigger(minute=f"*/{every}", hour=waking, timezone="Europe/Berlin"),
            args=[app],
            id="alerts-check",
        )
        send = int(config["ALERT_SEND_SECONDS"])  # below 60: every so many seconds
        sending = {"second": f"*/{send}"} if send < 60 else {"minute": f"*/{send // 60}"}
        scheduler.add_job(
            jobs.send_outbox,
            CronTrigger(**sending, hour=waking, timezone="Europe/Berlin"),
            args=[app, self.name],
            id="alerts-send",
        )
        scheduler.add_job(
            jobs.daily_summary, at(config["DAILY_SUMMARY_AT"]), args=[app], id="summary"
        )
        weekdays = {"day_of_week": "mon-fri"}
        scheduler.add_job(
            jobs.land_report, at(config["LAND_REPORT_AT"], **weekdays), args=[app], id="land-report"
        )
        scheduler.add_job(
            jobs.land_report_deadline,
            at(config["LAND_REPORT_DEADLINE"], **weekdays),
            args=[app],
            id="land-report-deadline",
        )
        scheduler.add_job(
            jobs.apply_retention, at(config["RETENTION_AT"]), args=[app], id="retention"
        )
        scheduler.add_job(self._beat, "interval", seconds=self.beat, id="heartbeat")
        return scheduler

    def run(self) -> None:
        if not self.wait_until_acting():
            return
        self.scheduler = self.build()
        try:
            self.scheduler.start()
        finally:
            if self._lock_connection is not None:
                self._lock_connection.close()

    def stop(self) -> None:
        self.stopping.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
