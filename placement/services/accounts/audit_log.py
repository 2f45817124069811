"""Reading the audit trail: the audit page's filters and pages, and its CSV export.

Readers need VIEW_AUDIT (department heads, admins). Personal values (references, file
numbers, birth dates, free-text reasons) are masked for every reader: the trail says who did
what to which record by id, and the record itself is open only within the reader's person
scope (an admin who is not assigned to a facility sees none of its persons here either).
Every read is itself audited, with the filters and the ids of the entries shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from placement.extensions import db
from placement.models import AuditEvent, User
from placement.services import paging
from placement.services.accounts.audit import PERSONAL_KEYS, Actor, instant_text, record
from placement.services.accounts.permissions import Permission, require
from placement.services.errors import Code, RuleViolation

SYSTEM_ACTORS = ("cli", "system", "scheduler")
MASK = "•••"
MAX_FILTER_LENGTH = 60
EXPORT_MAX_ROWS = 100_000


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit page: ``user`` is a user id (as text) or a system actor's
    label; ``action`` matches exactly or, ending in ".", as a prefix ("stay.")."""

    user: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def audited(self) -> dict[str, Any]:
        return {
            key: (instant_text(value) if isinstance(value, datetime) else value)
            for key, value in self.__dict__.items()
            if value not in (None, "")
        }


@dataclass(frozen=True)
class AuditEntry:
    """One entry as the page shows it (personal values masked for readers without the
    permission to see persons)."""

    id: int
    seq: int
    at: datetime
    actor: str
    user_id: int | None
    action: str
    object_type: str
    object_id: int | None
    before: Any
    after: Any
    reason: str | None
    erased: bool


def _require_reader(actor: Actor) -> None:
    require(actor.role, Permission.VIEW_AUDIT)


def _checked(query: AuditQuery) -> None:
    for name in ("user", "action", "object_type"):
        value = getattr(query, name)
        if value is not None and len(value) > MAX_FILTER_LENGTH:
            raise RuleViolation(Code.TOO_LONG, name, max=MAX_FILTER_LENGTH)
    if query.object_id is not None and not 0 <= query.object_id <= 2**31 - 1:
        raise RuleViolation(Code.OUT_OF_RANGE, "object_id")
    if query.since and query.until and query.until <= query.since:
        raise RuleViolation(Code.END_BEFORE_START, "until")


def _where(query: AuditQuery) -> list[Any]:
    conditions: list[Any] = []
    if query.user:
        if query.user.isdigit():
            conditions.append(AuditEvent.user_id == int(query.user))
        else:
            conditions += [AuditEvent.actor == query.user, AuditEvent.user_id.is_(None)]
    if query.action:
        if query.action.endswith("."):
            conditions.append(AuditEvent.action.startswith(query.action, autoescape=True))
        else:
            conditions.append(AuditEvent.action == query.action)
    if query.object_type:
        conditions.append(AuditEvent.object_type == query.object_type)
    if query.object_id is not None:
        conditions.append(AuditEvent.object_id == query.object_id)
    if query.since:
        conditions.append(AuditEvent.at >= query.since)
    if query.until:
        conditions.append(AuditEvent.at < query.until)
    return conditions


def _mask(values: Any) -> Any:
    if not isinstance(values, dict):
        return values
    return {
        key: (MASK if key in PERSONAL_KEYS and value is not None else value)
        for key, value in values.items()
    }


def _shown(row: AuditEvent) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        user_id=row.user_id,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        before=_mask(row.before),
        after=_mask(row.after),
        reason=None if row.reason is None else MASK,
        erased=bool(row.erased),
    )


def audit_page(
    actor: Actor, query: AuditQuery, page: int | None = None, page_size: int | None = None
) -> paging.Page[AuditEntry]:
    """One page of the audit trail, newest first, filtered (the view itself is audited)."""
    _require_reader(actor)
    _checked(query)
    number, size = paging.checked_paging(page, page_size, "AUDIT_PAGE_SIZE", "AUDIT_MAX_PAGE_SIZE")
    conditions = _where(query)
    total = db.session.scalar(select(func.count(AuditEvent.id)).where(*conditions)) or 0
    rows = db.session.scalars(
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.seq.desc())
        .offset((number - 1) * size)
        .limit(size)
    ).all()
    items = [_shown(row) for row in rows]
    record(
        actor,
        "audit.view",
        object_type="audit_event",
        after={
            "filters": query.audited(),
            "page": number,
            "total": total,
            "entry_ids": [item.id for item in items],
        },
    )
    return paging.Page(items, number, size, total)


def audit_export(actor: Actor, query: AuditQuery) -> list[AuditEntry]:
    """Every entry matching the filters (at most EXPORT_MAX_ROWS), newest first; the
    export itself is audited."""
    _require_reader(actor)
    _checked(query)
    rows = db.session.scalars(
        select(AuditEvent)
        .where(*_where(query))
        .order_by(AuditEvent.seq.desc())
        .limit(EXPORT_MAX_ROWS)
    ).all()
    items = [_shown(row) for row in rows]
    record(
        actor,
        "audit.export",
        object_type="audit_event",
        after={
            "filters": query.audited(),
            "rows": len(items),
            "first_seq": items[-1].seq if items else None,
            "last_seq": items[0].seq if items else None,
        },
    )
    return items


def audit_choices(actor: Actor) -> tuple[list[tuple[int, str]], list[str], list[str]]:
    """What the filters offer: the user accounts (id, e-mail), the actions and object
    types that occur."""
    _require_reader(actor)
    accounts = [(u.id, u.email) for u in db.session.scalars(select(User).order_by(User.email))]
    actions = list(db.session.scalars(select(AuditEvent.action).distinct().order_by("action")))
    types = list(
        db.session.scalars(select(AuditEvent.object_type).distinct().order_by("object_type"))
    )
    return accounts, actions, [t for t in types if t]
