"""Account administration: who has which role and which facilities (admins only, every
change audited). Managing accounts needs no person data: nothing here reads youths."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from placement.extensions import db
from placement.models import Facility, User
from placement.models.enums import Role
from placement.services.accounts import audit, permissions, sessions
from placement.services.accounts.permissions import Permission
from placement.services.errors import Code, NotFound, RuleViolation


@dataclass(frozen=True)
class AccountRow:
    user: User
    facility_names: list[str]


def list_accounts(actor: audit.Actor) -> list[AccountRow]:
    """Every account, active first, by e-mail address, with its facilities."""
    permissions.require(actor.role, Permission.MANAGE)
    users = db.session.scalars(select(User).order_by(User.active.desc(), func.lower(User.email)))
    return [AccountRow(u, [f.name for f in u.facilities]) for u in users]


def get_account(actor: audit.Actor, user_id: int) -> User:
    """One account (NotFound for an unknown id, after the permission)."""
    permissions.require(actor.role, Permission.MANAGE)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(Code.UNKNOWN_ACCOUNT, "user_id")
    return user


def assignable_facilities(actor: audit.Actor) -> list[Facility]:
    """The facilities an account may be assigned to, by name."""
    permissions.require(actor.role, Permission.MANAGE)
    return list(db.session.scalars(select(Facility).order_by(Facility.name)))


def update_account(
    actor: audit.Actor,
    user_id: int,
    *,
    role: Role | str,
    facility_ids: list[int],
    active: bool,
) -> User:
    """Set an account's role, facilities and whether it may log in. An admin cannot take
    away their own administration or deactivate themselves (no lock-out by mistake)."""
    user = get_account(actor, user_id)
    try:
        new_role = Role(role)
    except ValueError as exc:
        raise RuleViolation(Code.UNKNOWN_ROLE, "role") from exc
    facilities = []
    for facility_id in dict.fromkeys(facility_ids):
        facility = db.session.get(Facility, facility_id)
        if facility is None:
            raise NotFound(Code.UNKNOWN_FACILITY, "facility_ids", id=facility_id)
        facilities.append(facility)
    if user.id == actor.user_id and new_role != Role.ADMIN:
        raise RuleViolation(Code.OWN_ACCOUNT_LOCKOUT, "role")
    if user.id == actor.user_id and not active:
        raise RuleViolation(Code.OWN_ACCOUNT_LOCKOUT, "active")
    before = {
        "role": user.role.value,
        "active": user.active,
        "facility_ids": sorted(f.id for f in user.facilities),
    }
    after = {
        "role": new_role.value,
        "active": active,
        "facility_ids": sorted(f.id for f in facilities),
    }
    if before == after:
        raise RuleViolation(Code.NOTHING_CHANGED)
    if user.active and not active:
        sessions.end_all(user)  # a deactivated account is signed out everywhere at once
    user.role = new_role
    user.active = active
    user.facilities = facilities
    audit.record(actor, "user.update", user, before=before, after=after)
    return user
