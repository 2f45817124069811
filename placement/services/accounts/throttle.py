"""Failed sign-ins, counted per account and per client address in the database, so that
every worker sees the same counts (ASVS 2.2.1).

After ``LOGIN_FREE_FAILURES`` (5) failures further attempts are refused until a delay has
passed, which doubles with every further failure (30 s, 1, 2, 4, 8 min, then 15 min at most);
after ``LOGIN_LOCK_FAILURES`` (20) the account is locked until an administrator lifts the
lock. Addresses get the delays but no lock (a shared office address must not lock everyone
out). Counts older than ``LOGIN_FAILURE_WINDOW_HOURS`` start again from zero. The keys are
HMACs of the e-mail address (also of unknown ones, so that the answer is the same) and of
the client address: the table holds neither in clear."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from placement.extensions import db
from placement.models import LoginThrottle
from placement.models.base import utcnow

ACCOUNT = "account"
ADDRESS = "address"


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is not even checked: locked, or blocked until ``until``."""

    locked: bool
    until: datetime | None = None


def _key(kind: str, value: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def account_key(email: str) -> str:
    return _key(ACCOUNT, email.strip().lower())


def address_key(address: str | None) -> str:
    return _key(ADDRESS, address or "unknown")


def _config(name: str) -> float:
    return float(current_app.config[name])


def lock_failures() -> int:
    """Failures after which an account is locked."""
    return int(_config("LOGIN_LOCK_FAILURES"))


def delay_after(failures: int) -> timedelta | None:
    """The wait imposed after this many consecutive failures (None: no wait)."""
    free = int(_config("LOGIN_FREE_FAILURES"))
    if failures < free:
        return None
    seconds = _config("LOGIN_FIRST_DELAY_SECONDS") * 2 ** min(failures - free, 16)
    return timedelta(seconds=min(seconds, _config("LOGIN_MAX_DELAY_MINUTES") * 60))


def _fresh(row: LoginThrottle | None, now: datetime) -> LoginThrottle | None:
    """``row``, unless its count is older than the window: then it is deleted (the count
    starts again) and None."""
    window = timedelta(hours=_config("LOGIN_FAILURE_WINDOW_HOURS"))
    if row is not None and row.locked_at is None and now - row.last_failure_at > window:
        db.session.delete(row)
        db.session.flush()
        return None
    return row


def _read(key: str) -> LoginThrottle | None:
    return db.session.get(LoginThrottle, key, populate_existing=True)


def _current(key: str, now: datetime) -> LoginThrottle | None:
    return _fresh(_read(key), now)


def _refusal(rows: Iterable[LoginThrottle | None], now: datetime) -> Refusal | None:
    until: datetime | None = None
    for row in rows:
        row = _fresh(row, now)
        if row is None:
            continue
        if row.locked_at is not None:
            return Refusal(locked=True)
        if row.blocked_until is not None and row.blocked_until > now:
            until = max(until, row.blocked_until) if until else row.blocked_until
    return Refusal(locked=False, until=until) if until else None


def refusal(keys: list[str], now: datetime | None = None) -> Refusal | None:
    """Whether an attempt under any of these keys must be refused right now."""
    now = now or utcnow()
    return _refusal((_read(key) for key in keys), now)


def refusal_of(row: LoginThrottle | None, now: datetime | None = None) -> Refusal | None:
    """``refusal`` for a key whose row (or None: no failures counted) was read already,
    joined to another query."""
    return _refusal([row], now or utcnow())


def record_failure(key: str, kind: str, now: datetime | None = None) -> LoginThrottle:
    """Count one failure under ``key`` (atomically, several workers may count at once) and
    set the delay or the lock it earns."""
    now = now or utcnow()
    _current(key, now)  # an old count starts again
    bump = (
        update(LoginThrottle)
        .where(LoginThrottle.key == key)
        .values(failures=LoginThrottle.failures + 1, last_failure_at=now)
    )
    if db.session.execute(bump).rowcount == 0:
        try:
            with db.session.begin_nested():
                db.session.add(LoginThrottle(key=key, kind=kind, failures=1, last_failure_at=now))
        except IntegrityError:
            db.session.execute(bump)
    row = db.session.get(LoginThrottle, key, populate_existing=True)
    assert row is not None
    wait = delay_after(row.failures)
    row.blocked_until = now + wait if wait else None
    if kind == ACCOUNT and row.failures >= lock_failures():
        row.locked_at = row.locked_at or now
    db.session.flush()
    return row


def clear(key: str) -> bool:
    """Forget the failures under ``key`` (a successful login, an admin's unlock); True if
    there were any."""
    return db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key)).rowcount > 0


def is_locked(key: str) -> bool:
    return (
        db.session.scalar(select(LoginThrottle.locked_at).where(LoginThrottle.key == key))
        is not None
    )
