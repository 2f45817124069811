"""Ending sessions: the server-side rows go, and the account's session generation moves on,
so that any session or cookie issued before no longer signs anyone in (ASVS 3.3.1, 3.3.3,
3.3.4). The rows themselves are written by ``placement.auth.session_store``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from placement.extensions import db
from placement.models import User, UserSession


def end_all(user: User) -> int:
    """End every session of ``user``; the number of sessions that were open."""
    user.session_generation = (user.session_generation or 0) + 1
    result = db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    db.session.flush()
    return result.rowcount or 0


def open_sessions(user_id: int) -> list[tuple[datetime, datetime]]:
    """(began, last seen) of the account's sessions, most recent first."""
    rows = db.session.execute(
        select(UserSession.created_at, UserSession.last_seen_at)
        .where(UserSession.user_id == user_id)
        .order_by(UserSession.last_seen_at.desc())
    )
    return [(row.created_at, row.last_seen_at) for row in rows]
