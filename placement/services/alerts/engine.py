"""Alert state with Alertmanager's semantics: one row per rule and subject, an episode that
opens when it starts firing (unless it flapped back within the grace), at most one reminder
per repeat interval while it fires, one resolved notice when it stops. Every decision
writes its notifications into the outbox in the same transaction, with a unique key per
(rule, subject, episode, recipient, kind), so a repeated or parallel check decides nothing
twice. Silences suppress notifications, not the state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from placement.extensions import db
from placement.models import OverOccupancyEvent, User
from placement.models.alert import Alert, Notification, Silence
from placement.models.enums import AlertStatus, NotificationKind, Role
from placement.services.alerts.rules import RULES, Finding, context, findings
from placement.services.occupancy.locking import lock_facilities
from placement.timeutil import now as utc_now


@dataclass
class CheckResult:
    fired: int = 0
    reminded: int = 0
    resolved: int = 0
    notifications: int = 0


def _config(name: str) -> Any:
    return current_app.config[name]


def lock_alerts() -> None:
    """One alert check (or immediate alert) at a time: SQLite's write lock, or a
    transaction-scoped advisory lock on PostgreSQL."""
    session = db.session()
    if session.get_bind().dialect.name == "sqlite":
        lock_facilities([])
    else:
        session.execute(select(db.func.pg_advisory_xact_lock(7_421_001)))


def recipients(alert: Alert, rule_code: str) -> list[str]:
    """Department heads get everything; deadline alerts also go to the planning area's
    ASD team (``ALERT_AREA_ADDRESSES``). Facility managers see their alerts in the inbox
    (accounts are not tied to facilities yet, so no mail would reach only the right ones)."""
    heads = db.session.scalars(
        select(User.email).where(User.role == Role.DEPARTMENT_HEAD, User.active.is_(True))
    ).all()
    addresses = set(heads)
    if RULES[rule_code].deadline and alert.planning_area:
        area = _config("ALERT_AREA_ADDRESSES").get(alert.planning_area)
        if area:
            addresses.add(area)
    return sorted(addresses)


def silenced(alert: Alert, instant: datetime) -> bool:
    query = select(Silence.id).where(
        Silence.expires_at > instant,
        Silence.ended_at.is_(None),
        or_(Silence.rule.is_(None), Silence.rule == alert.rule),
        or_(
            (Silence.facility_id.is_not(None)) & (Silence.facility_id == alert.facility_id),
            (Silence.stay_id.is_not(None)) & (Silence.stay_id == alert.stay_id),
        ),
    )
    return db.session.scalar(query.limit(1)) is not None


def queue(
    key: str, kind: NotificationKind, recipient: str, payload: dict[str, Any], **extra
) -> bool:
    """Put one notification in the outbox unless its key is there already."""
    table = Notification.__table__
    insert = sqlite_insert if db.session.get_bind().dialect.name == "sqlite" else pg_insert
    values = {
        "key": key[:300],
        "kind": kind,
        "recipient": recipient,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": utc_now(),
        "created_at": utc_now(),
        "severity": extra.get("severity", 1),
        "alert_id": extra.get("alert_id"),
    }
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(table.c.id)
    )
    return db.session.execute(statement).first() is not None


def _notify(alert: Alert, kind: NotificationKind, instant: datetime) -> int:
    if silenced(alert, instant):
        return 0
    count = 0
    for recipient in recipients(alert, alert.rule):
        suffix = instant.isoformat() if kind == NotificationKind.REMINDER else ""
        key = f"{alert.rule}|{alert.subject}|{alert.episode}|{recipient}|{kind.value}|{suffix}"
        payload = {"rule": alert.rule, "details": alert.details, "kind": kind.value}
        count += queue(key, kind, recipient, payload, severity=alert.severity, alert_id=alert.id)
    alert.last_notified_at = instant
    return count


def apply(found: list[Finding], instant: datetime, rules: list[str] | None = None) -> CheckResult:
    """Bring the alert state in line with what fires now (call under ``lock_alerts``)."""
    result = CheckResult()
    repeat = timedelta(hours=float(_config("ALERT_REPEAT_HOURS")))
    grace = timedelta(minutes=float(_config("ALERT_FLAP_GRACE_MINUTES")))
    query = select(Alert)
    if rules is not None:
        query = query.where(Alert.rule.in_(rules))
    existing = {(a.rule, a.subject): a for a in db.session.scalars(query)}
    seen = set()
    for finding in found:
        key = (finding.rule, finding.subject)
        seen.add(key)
        alert = existing.get(key)
        if alert is None:
            alert = Alert(
                rule=finding.rule,
                subject=finding.subject,
                status=AlertStatus.FIRING,
                episode=1,
                started_at=instant,
            )
            db.session.add(alert)
            existing[key] = alert
            _fill(alert, finding, instant)
            db.session.flush()
            result.fired += 1
            result.notifications += _notify(alert, NotificationKind.FIRING, instant)
            continue
        if alert.status == AlertStatus.RESOLVED:
            flapped = alert.resolved_at is not None and instant - alert.resolved_at <= grace
            if not flapped and _resolution_unannounced(alert):
                # No check ran after the grace: the old episode's end is told first.
                result.notifications += _announce_resolution(alert, instant)
            _fill(alert, finding, instant)
            alert.status = AlertStatus.FIRING
            if flapped:
                alert.resolved_at = None  # the same episode goes on
                continue
            alert.acknowledged_at = alert.acknowledged_by_id = None
            alert.episode += 1
            alert.started_at = instant
            alert.resolved_at = None
            result.fired += 1
            result.notifications += _notify(alert, NotificationKind.FIRING, instant)
            continue
        _fill(alert, finding, instant)
        if alert.last_notified_at is None or instant - alert.last_notified_at >= repeat:
            result.reminded += 1
            result.notifications += _notify(alert, NotificationKind.REMINDER, instant)
    for key, alert in existing.items():
        if key in seen:
            continue
        if alert.status == AlertStatus.FIRING:
            alert.status = AlertStatus.RESOLVED
            alert.resolved_at = instant
            result.resolved += 1
            if _superseded(alert):
                alert.last_notified_at = instant  # handed over: its resolution is not news
        # The resolved notice waits out the flapping grace: an alert that fires again
        # within it goes on in silence, as if it had never stopped.
        due = alert.resolved_at is not None and instant - alert.resolved_at >= grace
        if due and _resolution_unannounced(alert):
            result.notifications += _announce_resolution(alert, instant)
    return result


def _superseded(alert: Alert) -> bool:
    """Whether the rule that takes over from the alert's rule fires for its subject now
    (an early warning that came true goes on as the over-occupancy alert)."""
    successor = RULES[alert.rule].superseded_by
    if successor is None:
        return False
    query = select(Alert.id).where(
        Alert.rule == successor,
        Alert.subject == alert.subject,
        Alert.status == AlertStatus.FIRING,
    )
    return db.session.scalar(query.limit(1)) is not None


def _resolution_unannounced(alert: Alert) -> bool:
    notified = alert.last_notified_at
    return (
        RULES[alert.rule].notify_resolved
        and alert.resolved_at is not None
        and (notified is None or notified < alert.resolved_at)
    )


def _announce_resolution(alert: Alert, instant: datetime) -> int:
    if silenced(alert, instant):
        alert.last_notified_at = instant  # nobody wanted to hear of it
        return 0
    return _notify(alert, NotificationKind.RESOLVED, instant)


def _fill(alert: Alert, finding: Finding, instant: datetime) -> None:
    alert.severity = finding.severity
    alert.details = finding.details
    alert.facility_id = finding.facility_id
    alert.stay_id = finding.stay_id
    alert.planning_area = finding.planning_area
    alert.last_seen_at = instant


def check(instant: datetime | None = None, rules: list[str] | None = None) -> CheckResult:
    """Run every rule (or the named ones) once and apply the result; the caller commits."""
    lock_alerts()
    instant = instant or utc_now()
    ctx = context(instant)
    return apply(findings(ctx, rules), instant, rules)


# --- at once: an admission or move that causes over-occupancy ------------------------------

AT_ONCE = "placement_over_occupancy_at_once"


@event.listens_for(Session, "after_flush")
def _note_over_occupancy(session, _context) -> None:
    """An over-occupancy event was written (by an admission or a move)."""
    if any(isinstance(obj, OverOccupancyEvent) for obj in session.new):
        session.info[AT_ONCE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_over_occupancy(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(AT_ONCE, None)


# Inserted first: it runs before the audit trail seals the transaction's entries (the chain
# lock must be the last lock a transaction takes).
@event.listens_for(Session, "before_commit", insert=True)
def _alert_at_once(session) -> None:
    """Its alert is raised in the same transaction, not at the next scheduled check."""
    pending = any(isinstance(obj, OverOccupancyEvent) for obj in session.new)
    if (session.info.pop(AT_ONCE, False) or pending) and has_app_context():
        session.flush()
        check(rules=["over_occupancy"])
