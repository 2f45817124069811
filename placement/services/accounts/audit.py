"""The audit trail: every write and every view of personal data leaves a row."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import inspect

from placement.extensions import db
from placement.models import AuditEvent
from placement.models.enums import Role


@dataclass(frozen=True)
class Actor:
    """Who acts: a logged-in user, or a named system process (CLI, scheduler), whose
    ``role`` is None and who passes every permission check."""

    label: str
    user_id: int | None = None
    role: Role | None = None

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        return cls(label=user.email, user_id=user.id, role=user.role)


CLI = Actor("cli")
SYSTEM = Actor("system")


def _json_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def snapshot(obj: Any) -> dict[str, Any]:
    """The column values of a model instance, JSON-safe (for before/after)."""
    mapper = inspect(obj).mapper
    return {
        attr.key: _json_value(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in ("created_at", "updated_at", "password_hash", "api_token_hash")
    }


def record(
    actor: Actor,
    action: str,
    obj: Any = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
) -> AuditEvent:
    """Append one audit event. ``obj`` (if given) names the subject and is flushed first."""
    if obj is not None:
        db.session.flush()
        object_type = object_type or obj.__tablename__
        object_id = object_id if object_id is not None else obj.id
    event = AuditEvent(
        actor=actor.label,
        user_id=actor.user_id,
        action=action,
        object_type=object_type or "",
        object_id=object_id,
        before=before,
        after=after,
        reason=reason,
    )
    db.session.add(event)
    return event
