"""Who may do what. Checked in the service layer, so that web, API and CLI agree."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import select

from placement.extensions import db
from placement.models import Facility, user_facility
from placement.models.enums import Role
from placement.services.errors import Code, Forbidden, NotFound

if TYPE_CHECKING:
    from placement.services.accounts.audit import Actor


class Permission(StrEnum):
    VIEW_COUNTS = "view_counts"  # occupancy, reports: numbers only
    VIEW_PERSONS = "view_persons"  # residents with reference, age, deadlines
    ADMIT = "admit"  # admissions and reservations
    DISCHARGE = "discharge"  # discharges and moves
    CORRECT = "correct"  # corrections of recorded stays
    MANAGE = "manage"  # facilities, capacity, accounts
    # profile, places and "confirm occupancy" of the facilities assigned to the account
    # (User.facilities); with MANAGE: of every facility
    MANAGE_FACILITY = "manage_facility"
    PLAN = "plan"  # start, review (reference, age, gender), cancel and execute move plans
    APPROVE_PLAN = "approve_plan"  # approve a plan's moves
    ALERTS = "alerts"  # the alert inbox (counts, facility names, pseudonymous references)
    MANAGE_ALERTS = "manage_alerts"  # thresholds and silences


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ON_CALL: frozenset(
        {
            Permission.VIEW_COUNTS,
            Permission.VIEW_PERSONS,
            Permission.ADMIT,
            Permission.DISCHARGE,
            Permission.ALERTS,
        }
    ),
    Role.FACILITY_MANAGER: frozenset(
        {
            Permission.VIEW_COUNTS,
            Permission.VIEW_PERSONS,
            Permission.ADMIT,
            Permission.DISCHARGE,
            Permission.CORRECT,
            Permission.PLAN,
            Permission.ALERTS,
            Permission.MANAGE_FACILITY,
        }
    ),
    # Approving moves is a department head's decision; a facility manager may plan and
    # execute what was approved.
    Role.DEPARTMENT_HEAD: frozenset(
        {
            Permission.VIEW_COUNTS,
            Permission.PLAN,
            Permission.APPROVE_PLAN,
            Permission.ALERTS,
            Permission.MANAGE_ALERTS,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}


def can(role: Role | str | None, permission: Permission) -> bool:
    """Whether a role has a permission; ``None`` is a system process (CLI, scheduler)."""
    if role is None:
        return True
    return permission in ROLE_PERMISSIONS.get(Role(role), frozenset())


def require(role: Role | str | None, permission: Permission) -> None:
    """Raise Forbidden unless the role has the permission."""
    if not can(role, permission):
        raise Forbidden(Code.FORBIDDEN)


def may_act_on_facility(actor: Actor, facility_id: int, permission: Permission) -> bool:
    """Whether ``actor`` has ``permission`` for this facility: system processes and
    holders of MANAGE for every facility, everyone else for the facilities assigned to
    their account (User.facilities)."""
    if not can(actor.role, permission):
        return False
    if actor.role is None or can(actor.role, Permission.MANAGE):
        return True
    if actor.user_id is None:
        return False
    assigned = db.session.scalar(
        select(user_facility.c.facility_id).where(
            user_facility.c.user_id == actor.user_id,
            user_facility.c.facility_id == facility_id,
        )
    )
    return assigned is not None


def require_facility(actor: Actor, facility_id: int, permission: Permission) -> Facility:
    """The facility, if ``actor`` has ``permission`` for it: Forbidden without the
    permission or for a facility not assigned to the account, NotFound for an unknown one
    (checked after the role, so that the answer reveals nothing to those without it)."""
    require(actor.role, permission)
    facility = db.session.get(Facility, facility_id)
    if facility is None:
        raise NotFound(Code.UNKNOWN_FACILITY, "facility_id")
    if not may_act_on_facility(actor, facility_id, permission):
        raise Forbidden(Code.FORBIDDEN)
    return facility
