"""User accounts."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import func, select

from placement.extensions import db
from placement.models import Facility, User
from placement.models.enums import Role
from placement.services.accounts import audit
from placement.services.errors import Code, Conflict, NotFound, RuleViolation

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD_LENGTH = 10

__all__ = ["Role", "authenticate", "create_user"]


def create_user(
    actor: audit.Actor,
    *,
    email: str,
    role: Role | str,
    password: str,
    name: str = "",
    facility_ids: list[int] | None = None,
) -> User:
    """Create an account; e-mail addresses are unique regardless of case. ``facility_ids``
    are the facilities assigned to it (a facility manager's houses)."""
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise RuleViolation(Code.INVALID_EMAIL, "email")
    try:
        role = Role(role)
    except ValueError as exc:
        raise RuleViolation(Code.UNKNOWN_ROLE, "role") from exc
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RuleViolation(Code.PASSWORD_TOO_SHORT, "password", min=MIN_PASSWORD_LENGTH)
    if db.session.scalar(select(User).where(func.lower(User.email) == email)):
        raise Conflict(Code.EMAIL_TAKEN, "email")
    facilities = []
    for facility_id in dict.fromkeys(facility_ids or []):
        facility = db.session.get(Facility, facility_id)
        if facility is None:
            raise NotFound(Code.UNKNOWN_FACILITY, "facility", id=facility_id)
        facilities.append(facility)
    user = User(email=email, role=role, name=name)
    user.set_password(password)
    user.facilities = facilities
    db.session.add(user)
    audit.record(
        actor,
        "user.create",
        user,
        after={**audit.snapshot(user), "facility_ids": [f.id for f in facilities]},
    )
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.active or not user.check_password(password):
        return None
    return user


def record_login(user: User) -> None:
    """A successful login goes to the audit log."""
    audit.record(audit.Actor.for_user(user), "user.login", user)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(actor: audit.Actor, email: str) -> str:
    """A new API token for the user (replacing the previous one); only its hash is stored."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise RuleViolation(Code.UNKNOWN_ACCOUNT, "email")
    token = secrets.token_urlsafe(32)
    user.api_token_hash = _token_digest(token)
    audit.record(actor, "user.token", user)
    return token


def user_for_token(token: str) -> User | None:
    """The active user holding this API token, or None."""
    if not token:
        return None
    user = db.session.scalar(select(User).where(User.api_token_hash == _token_digest(token)))
    return user if user is not None and user.active else None
