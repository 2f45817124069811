"""User accounts."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from placement.extensions import db
from placement.models import Facility, LoginThrottle, User
from placement.models.enums import Role
from placement.services.accounts import audit, passwords, sessions, throttle
from placement.services.accounts.permissions import Permission, require
from placement.services.errors import (
    Code,
    Conflict,
    Forbidden,
    NotFound,
    PlacementError,
    RuleViolation,
    Unauthenticated,
)

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH
DEMO_DOMAIN = "demo.local"  # the demo accounts (services.seed.demo) live here

# Who fails to sign in is not known: audit rows name the account (if any) as the object.
ANONYMOUS = audit.Actor("anonym")

__all__ = ["Role", "authenticate", "create_user", "end_sessions", "sign_in", "unlock"]


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
    passwords.check_policy(password, email)
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


def _by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None (no throttling: see ``sign_in``).
    Unknown accounts take as long as known ones."""
    user = _by_email(email)
    if user is None:
        passwords.verify_dummy(password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    if passwords.needs_rehash(user.password_hash):
        user.set_password(password)  # older parameters or werkzeug's hash: upgrade now
    return user


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: the user, or why not (``error``)."""

    user: User | None
    error: PlacementError | None = None


def sign_in(email: str, password: str, address: str | None, now: datetime | None = None) -> SignIn:
    """Check credentials under the throttle: refused attempts are not even checked, failed
    ones count for the account and the client address; failures, refusals and lockouts go
    to the audit log. The caller commits either way (the counts must persist)."""
    account_key = throttle.account_key(email)
    address_key = throttle.address_key(address)
    user = _by_email(email)
    subject = {"object_type": "user", "object_id": user.id if user else None}
    refused = throttle.refusal([account_key, address_key], now)
    if refused is not None:
        audit.record(
            ANONYMOUS,
            "user.login_refused",
            reason="locked" if refused.locked else "throttled",
            after={"address": address},
            **subject,
        )
        if refused.locked:
            return SignIn(None, Unauthenticated(Code.ACCOUNT_LOCKED, "email"))
        return SignIn(None, Unauthenticated(Code.LOGIN_THROTTLED, "email", until=refused.until))
    found = authenticate(email, password)
    if found is None:
        row = throttle.record_failure(account_key, throttle.ACCOUNT, now)
        throttle.record_failure(address_key, throttle.ADDRESS, now)
        audit.record(ANONYMOUS, "user.login_failed", after={"address": address}, **subject)
        if row.locked_at is not None and row.failures == throttle.lock_failures():
            audit.record(ANONYMOUS, "user.locked", after={"address": address}, **subject)
        return SignIn(None, Unauthenticated(Code.UNAUTHENTICATED, "password"))
    throttle.clear(account_key)
    return SignIn(found)


def record_login(user: User) -> None:
    """A successful login goes to the audit log."""
    audit.record(audit.Actor.for_user(user), "user.login", user)


def record_logout(user: User, everywhere: bool = False) -> None:
    """A logout goes to the audit log; ``everywhere`` also ends the user's other sessions."""
    if everywhere:
        sessions.end_all(user)
    audit.record(audit.Actor.for_user(user), "user.logout", user, after={"everywhere": everywhere})


def _account(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(Code.UNKNOWN_USER, "user", id=user_id)
    return user


def end_sessions(actor: audit.Actor, user_id: int) -> int:
    """End every session of an account at once (an administrator's "end all sessions");
    the number of sessions ended."""
    require(actor.role, Permission.MANAGE)
    user = _account(user_id)
    ended = sessions.end_all(user)
    audit.record(actor, "user.end_sessions", user, after={"sessions": ended})
    return ended


def end_own_sessions(actor: audit.Actor) -> int:
    """A user ends every session of their own account (the caller signs the current
    browser in again); the number of sessions ended."""
    if actor.user_id is None:
        raise Forbidden(Code.FORBIDDEN)
    user = _account(actor.user_id)
    ended = sessions.end_all(user)
    audit.record(actor, "user.end_sessions", user, after={"sessions": ended})
    return ended


def unlock(actor: audit.Actor, user_id: int) -> bool:
    """Lift the lock (and the delays) that failed sign-ins put on an account; True if
    there was anything to lift."""
    require(actor.role, Permission.MANAGE)
    user = _account(user_id)
    lifted = throttle.clear(throttle.account_key(user.email))
    audit.record(actor, "user.unlock", user, after={"lifted": lifted})
    return lifted


def is_locked(user: User) -> bool:
    """Whether failed sign-ins locked the account (for the admin page)."""
    return throttle.is_locked(throttle.account_key(user.email))


def set_active(actor: audit.Actor, user_id: int, active: bool) -> User:
    """Activate or deactivate an account; deactivation ends its sessions at once."""
    require(actor.role, Permission.MANAGE)
    user = _account(user_id)
    before = audit.snapshot(user)
    user.active = active
    if not active:
        sessions.end_all(user)
    audit.record(actor, "user.update", user, before=before, after=audit.snapshot(user))
    return user


def change_password(
    actor: audit.Actor, user_id: int, *, current: str, new: str, repeat: str
) -> User:
    """A user changes their own password: the current one must be right, the new one
    follows the policy and is typed twice. Every session of the account ends (the caller
    signs the current browser in again)."""
    user = _account(user_id)
    if actor.user_id != user.id:
        raise Forbidden(Code.FORBIDDEN)
    if not user.check_password(current):
        raise RuleViolation(Code.WRONG_PASSWORD, "current_password")
    passwords.check_policy(new, user.email, field="new_password")
    if new != repeat:
        raise RuleViolation(Code.PASSWORD_MISMATCH, "new_password_repeat")
    if new == current:
        raise RuleViolation(Code.PASSWORD_UNCHANGED, "new_password")
    user.set_password(new)
    sessions.end_all(user)
    audit.record(actor, "user.password_change", user)
    return user


def set_password(actor: audit.Actor, email: str, password: str) -> User:
    """An administrator (CLI) sets a new password; every session of the account ends."""
    require(actor.role, Permission.MANAGE)
    user = _by_email(email)
    if user is None:
        raise RuleViolation(Code.UNKNOWN_ACCOUNT, "email")
    passwords.check_policy(password, user.email)
    user.set_password(password)
    sessions.end_all(user)
    audit.record(actor, "user.password_reset", user)
    return user


def by_email(email: str) -> User:
    """The account with this e-mail address (any case)."""
    user = _by_email(email)
    if user is None:
        raise RuleViolation(Code.UNKNOWN_ACCOUNT, "email")
    return user


def demo_accounts() -> list[User]:
    """The active demo accounts (seeded by ``flask seed-demo``)."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.active.is_(True), func.lower(User.email).like(f"%@{DEMO_DOMAIN}"))
            .order_by(User.id)
        )
    )


def load_session_user(session_id: str) -> User | None:
    """Flask-Login's user loader: "id:generation"; None if the account is gone, inactive,
    or its sessions were ended since (the generation moved on)."""
    head, _, generation = session_id.partition(":")
    if not head.isdigit() or not generation.isdigit():
        return None
    user = db.session.get(User, int(head))
    if user is None or not user.active or (user.session_generation or 0) != int(generation):
        return None
    return user


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


def user_for_request_token(token: str, address: str | None) -> User:
    """The API's bearer check under the address throttle: failed tokens count for the
    client address like failed passwords; a blocked address is refused unchecked. Raises
    Unauthenticated; the caller commits (the count must persist).

    Every API request passes here, so a valid token costs one statement: the account and
    the address's throttle row are read together (a left join on the key)."""
    key = throttle.address_key(address)
    found = None
    if token:
        found = db.session.execute(
            select(User, LoginThrottle)
            .outerjoin(LoginThrottle, LoginThrottle.key == key)
            .where(User.api_token_hash == _token_digest(token))
            .execution_options(populate_existing=True)
        ).one_or_none()
    if found is None:
        user, refused = None, throttle.refusal([key])
    else:
        user, refused = found[0], throttle.refusal_of(found[1])
    if refused is not None:
        raise Unauthenticated(Code.LOGIN_THROTTLED, "Authorization", until=refused.until)
    if user is None or not user.active:
        throttle.record_failure(key, throttle.ADDRESS)
        audit.record(ANONYMOUS, "api.auth_failed", object_type="user", after={"address": address})
        raise Unauthenticated(Code.UNAUTHENTICATED, "Authorization")
    return user
