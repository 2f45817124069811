"""The outbox's sending side: a sender claims due notifications for a while, delivers them
grouped per recipient outside any transaction, and marks them sent; a failed delivery is
retried with exponential backoff and, after ``ALERT_MAX_ATTEMPTS``, becomes a dead letter
that an administrator can send again.

At least once towards the mail server: a sender that dies after the server accepted a mail
but before marking it sent leaves its claim to run out, and the mail goes again. That is
the only way a notification can repeat; deciding twice is prevented by the unique key."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from placement.extensions import db
from placement.models.alert import Notification
from placement.models.enums import NotificationStatus
from placement.services.accounts import audit, permissions
from placement.services.accounts.permissions import Permission
from placement.services.errors import Code, Conflict, NotFound
from placement.services.occupancy.locking import lock_facilities
from placement.timeutil import now as utc_now


def _due(instant: datetime):
    return select(Notification).where(
        Notification.status == NotificationStatus.PENDING,
        Notification.next_attempt_at <= instant,
        or_(Notification.claimed_until.is_(None), Notification.claimed_until < instant),
    )


def claim(sender: str, instant: datetime | None = None, limit: int = 500) -> dict[str, list[int]]:
    """Due notifications claimed for ``sender``, by recipient (an idle check only reads)."""
    instant = instant or utc_now()
    if db.session.scalar(select(Notification.id).where(_due(instant).whereclause).limit(1)) is None:
        return {}
    query = _due(instant).order_by(Notification.id).limit(limit)
    if db.session.get_bind().dialect.name == "sqlite":
        lock_facilities([])
        rows = db.session.scalars(query).all()
    else:
        rows = db.session.scalars(query.with_for_update(skip_locked=True)).all()
    seconds = float(current_app.config["ALERT_CLAIM_SECONDS"])
    grouped: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        row.claimed_by = sender
        row.claimed_until = instant + timedelta(seconds=seconds)
        grouped[row.recipient].append(row.id)
    return dict(grouped)


def load(ids: list[int]) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)
        ).all()
    )


def mark_sent(ids: list[int], sender: str) -> None:
    db.session.execute(
        update(Notification)
        .where(Notification.id.in_(ids), Notification.claimed_by == sender)
        .values(status=NotificationStatus.SENT, sent_at=utc_now(), claimed_until=None)
    )


def mark_failed(ids: list[int], sender: str, error: str) -> None:
    """Retry later (1, 2, 4, 8 ... minutes) or, after the last attempt, a dead letter."""
    config = current_app.config
    most, base = int(config["ALERT_MAX_ATTEMPTS"]), float(config["ALERT_RETRY_SECONDS"])
    instant = utc_now()
    for row in load(ids):
        if row.claimed_by != sender:
            continue
        row.attempts += 1
        row.last_error = error[:2000]
        row.claimed_until = None
        if row.attempts >= most:
            row.status = NotificationStatus.DEAD
        else:
            row.next_attempt_at = instant + timedelta(seconds=base * 2 ** (row.attempts - 1))


def dead_letters(actor: audit.Actor) -> list[Notification]:
    permissions.require(actor.role, Permission.MANAGE)
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.status == NotificationStatus.DEAD)
            .order_by(Notification.created_at.desc())
        ).all()
    )


def resend(actor: audit.Actor, notification_id: int) -> Notification:
    """A dead letter goes out again (with a fresh count of attempts)."""
    permissions.require(actor.role, Permission.MANAGE)
    row = db.session.get(Notification, notification_id)
    if row is None:
        raise NotFound(Code.UNKNOWN_NOTIFICATION, "notification_id")
    if row.status != NotificationStatus.DEAD:
        raise Conflict(Code.NOT_A_DEAD_LETTER, "notification_id")
    row.status = NotificationStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = utc_now()
    row.claimed_until = None
    audit.record(actor, "notification.resend", row, after={"recipient": row.recipient})
    return row
