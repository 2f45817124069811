"""Who may do what. Checked in the service layer, so that web, API and CLI agree."""

from __future__ import annotations

from enum import StrEnum

from placement.models.enums import Role
from placement.services.errors import Code, Forbidden


class Permission(StrEnum):
    VIEW_COUNTS = "view_counts"  # occupancy, reports: numbers only
    VIEW_PERSONS = "view_persons"  # residents with reference, age, deadlines
    ADMIT = "admit"  # admissions and reservations
    DISCHARGE = "discharge"  # discharges and moves
    CORRECT = "correct"  # corrections of recorded stays
    MANAGE = "manage"  # facilities, capacity, accounts
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
