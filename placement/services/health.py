"""Health of the installation for monitoring (/healthz): does the database answer, and, in
the deep check, are the scheduler and the plan worker alive and is the outbox moving.

Only counts and ages: no names, addresses, references or message contents, so that the
answer may go to a monitoring system. The deep check is for administrators and for callers
on this machine (the HTTP adapter decides what "on this machine" means behind a proxy)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from placement.extensions import db
from placement.models import Notification, ProcessHeartbeat, ProcessLease
from placement.models.enums import NotificationStatus
from placement.services.accounts import permissions
from placement.services.accounts.permissions import Actor, Permission
from placement.services.errors import Code, Forbidden
from placement.timeutil import now as utc_now

PLAN_WORKER = "plan_worker"
SCHEDULER_LEASE = "scheduler"  # placement.scheduler.NAME (the scheduler's lease row)


@dataclass(frozen=True)
class Heartbeat:
    """How old a process's last heartbeat is (None: it never beat) and when that is stale."""

    age_seconds: float | None
    stale_after_seconds: float

    @property
    def stale(self) -> bool:
        return self.age_seconds is None or self.age_seconds > self.stale_after_seconds

    def as_json(self) -> dict[str, object]:
        return {
            "heartbeat_age_seconds": self.age_seconds,
            "stale_after_seconds": self.stale_after_seconds,
            "stale": self.stale,
        }


@dataclass(frozen=True)
class DeepHealth:
    """The deep check: heartbeats, the outbox backlog and the dead letters."""

    scheduler: Heartbeat
    plan_worker: Heartbeat
    outbox_due: int
    outbox_oldest_due_age_seconds: float | None
    dead_letters: int

    @property
    def stale(self) -> list[str]:
        """The processes whose heartbeat is stale or missing."""
        beats = (("scheduler", self.scheduler), (PLAN_WORKER, self.plan_worker))
        return [name for name, beat in beats if beat.stale]

    @property
    def ok(self) -> bool:
        return not self.stale

    def as_json(self) -> dict[str, object]:
        return {
            "status": "ok" if self.ok else "unavailable",
            "database": "ok",
            "stale": self.stale,
            "scheduler": self.scheduler.as_json(),
            PLAN_WORKER: self.plan_worker.as_json(),
            "outbox": {
                "due": self.outbox_due,
                "oldest_due_age_seconds": self.outbox_oldest_due_age_seconds,
            },
            "dead_letters": self.dead_letters,
        }


@dataclass(frozen=True)
class ShallowHealth:
    """The plain check: the database answered."""

    ok: bool = True

    def as_json(self) -> dict[str, object]:
        return {"status": "ok"}


def check(
    *, deep: bool, actor: Callable[[], Actor | None], from_loopback: bool
) -> ShallowHealth | DeepHealth | None:
    """The probe: None when the database does not answer; with ``deep`` the deep check,
    Forbidden unless the caller is on this machine or an administrator. ``actor`` loads
    the caller (from the database) only when the address does not already allow it."""
    try:
        if deep and not from_loopback:
            require_deep_access(actor(), from_loopback=False)
        if not database_answers():
            return None
        return deep_health() if deep else ShallowHealth()
    except SQLAlchemyError:  # the database went away while loading the caller or figures
        db.session.rollback()
        return None


def database_answers() -> bool:
    """Whether the database answers a ``SELECT 1`` (a failure is rolled back, not raised)."""
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        db.session.rollback()
        return False


def require_deep_access(actor: Actor | None, *, from_loopback: bool) -> None:
    """Deep checks: a caller on this machine, or a logged-in administrator (MANAGE)."""
    if from_loopback:
        return
    # Anonymous (None) is refused, and so is a role-less actor: over HTTP there are no
    # system processes.
    if actor is None or actor.role is None or not permissions.can(actor.role, Permission.MANAGE):
        raise Forbidden(Code.FORBIDDEN, "deep")


def _age(instant: datetime | None, now: datetime) -> float | None:
    if instant is None:
        return None
    return round(max(0.0, (now - instant).total_seconds()), 1)


def deep_health(now: datetime | None = None) -> DeepHealth:
    """Heartbeat ages of the scheduler and the plan worker, the outbox's due notifications
    (unsent, due now) and the age of the oldest, and the number of dead letters. Raises
    SQLAlchemyError when the database does not answer."""
    now = now or utc_now()
    config = current_app.config
    lease = db.session.get(ProcessLease, SCHEDULER_LEASE)
    worker = db.session.get(ProcessHeartbeat, PLAN_WORKER)
    due, oldest = db.session.execute(
        select(func.count(Notification.id), func.min(Notification.created_at)).where(
            Notification.status == NotificationStatus.PENDING,
            Notification.next_attempt_at <= now,
        )
    ).one()
    dead = db.session.scalar(
        select(func.count(Notification.id)).where(Notification.status == NotificationStatus.DEAD)
    )
    if oldest is not None and oldest.tzinfo is None:  # stored as naive UTC
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return DeepHealth(
        scheduler=Heartbeat(
            _age(lease.heartbeat_at if lease else None, now),
            float(config["HEALTH_SCHEDULER_STALE_SECONDS"]),
        ),
        plan_worker=Heartbeat(
            _age(worker.beat_at if worker else None, now),
            float(config["HEALTH_WORKER_STALE_SECONDS"]),
        ),
        outbox_due=int(due or 0),
        outbox_oldest_due_age_seconds=_age(oldest, now),
        dead_letters=int(dead or 0),
    )


def beat(kind: str, holder: str, instant: datetime | None = None) -> None:
    """Record a sign of life of a process of ``kind`` (the caller commits). Two first
    beats at once: one insert loses with an IntegrityError, and its next beat updates."""
    instant = instant or utc_now()
    updated = db.session.execute(
        update(ProcessHeartbeat)
        .where(ProcessHeartbeat.kind == kind)
        .values(holder=holder[:100], beat_at=instant)
    )
    if updated.rowcount == 0:
        db.session.add(ProcessHeartbeat(kind=kind, holder=holder[:100], beat_at=instant))
        db.session.flush()
