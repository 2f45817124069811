"""The job side of move plans: claiming a queued plan with a lease, renewing the lease
while the solver works, storing the result. Each function is one short transaction that
the worker commits; the solver itself runs outside any transaction (``placement.worker``).

On PostgreSQL several runners claim with ``FOR UPDATE SKIP LOCKED``; on SQLite the claim
takes the database's write lock. A plan whose runner stops renewing its lease is failed by
the next runner or progress poll that sees it, so no plan stays ``running`` for ever."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from placement.extensions import db
from placement.models import Plan, PlanStatus
from placement.services.accounts import audit
from placement.services.occupancy.locking import lock_facilities
from placement.services.planning.plans import expire_lease
from placement.timeutil import now as utc_now


@dataclass(frozen=True)
class Job:
    plan_id: int
    scenario: dict[str, Any]
    time_limit: float


def expire_leases(instant: datetime | None = None) -> int:
    """Fail every running plan whose lease has run out; how many."""
    instant = instant or utc_now()
    expired = db.session.scalars(
        select(Plan).where(Plan.status == PlanStatus.RUNNING, Plan.lease_until < instant)
    ).all()
    return sum(expire_lease(plan, instant) for plan in expired)


def claim_next(worker_id: str, lease_seconds: float) -> Job | None:
    """Take the oldest queued plan for ``worker_id``, or None. An idle poll only reads: on
    SQLite a write lock taken every poll would make other transactions that read before
    they write fail to upgrade."""
    instant = utc_now()
    waiting = select(Plan.id).where(
        or_(
            Plan.status == PlanStatus.QUEUED,
            (Plan.status == PlanStatus.RUNNING) & (Plan.lease_until < instant),
        )
    )
    if db.session.scalar(waiting.limit(1)) is None:
        return None
    expire_leases(instant)
    query = select(Plan).where(Plan.status == PlanStatus.QUEUED).order_by(Plan.created_at, Plan.id)
    if db.session.get_bind().dialect.name == "sqlite":
        lock_facilities([])  # BEGIN IMMEDIATE: one claimer at a time
        plan = db.session.scalars(query.limit(1)).first()
    else:
        plan = db.session.scalars(query.limit(1).with_for_update(skip_locked=True)).first()
    if plan is None:
        return None
    plan.status = PlanStatus.RUNNING
    plan.worker_id = worker_id
    plan.started_at = plan.heartbeat_at = instant
    plan.lease_until = instant + timedelta(seconds=lease_seconds)
    plan.progress = {"stage": "started", "elapsed": 0.0}
    audit.record(audit.SYSTEM, "plan.start", plan, after={"worker": worker_id})
    return Job(plan.id, plan.scenario, plan.time_limit)


def _mine(plan_id: int, worker_id: str):
    return update(Plan).where(
        Plan.id == plan_id, Plan.worker_id == worker_id, Plan.status == PlanStatus.RUNNING
    )


def renew(plan_id: int, worker_id: str, lease_seconds: float, progress: dict[str, Any]) -> bool:
    """Extend the lease and store progress; False once the plan is no longer this runner's
    to finish (cancelled, or failed after a lost lease)."""
    instant = utc_now()
    result = db.session.execute(
        _mine(plan_id, worker_id).values(
            heartbeat_at=instant,
            lease_until=instant + timedelta(seconds=lease_seconds),
            progress=progress,
        )
    )
    return result.rowcount == 1


def finish(
    plan_id: int, worker_id: str, result: dict[str, Any], greedy: dict[str, Any] | None
) -> bool:
    """Store the solver's plan; False if the plan was cancelled or failed meanwhile."""
    instant = utc_now()
    done = db.session.execute(
        _mine(plan_id, worker_id).values(
            status=PlanStatus.PROPOSED,
            result=result,
            greedy=greedy,
            finished_at=instant,
            lease_until=None,
            progress={"stage": "done", "elapsed": result.get("solve_seconds", 0.0)},
        )
    )
    if done.rowcount == 1:
        audit.record(
            audit.SYSTEM,
            "plan.propose",
            object_type="plan",
            object_id=plan_id,
            after={"status": result.get("status"), "objective": result.get("objective")},
        )
    return done.rowcount == 1


def fail(plan_id: int, worker_id: str, message: str) -> bool:
    """The solve went wrong: the plan fails with ``message`` (logged by the worker)."""
    done = db.session.execute(
        _mine(plan_id, worker_id).values(
            status=PlanStatus.FAILED, error=message[:2000], finished_at=utc_now(), lease_until=None
        )
    )
    if done.rowcount == 1:
        audit.record(
            audit.SYSTEM,
            "plan.fail",
            object_type="plan",
            object_id=plan_id,
            after={"error": message},
        )
    return done.rowcount == 1
