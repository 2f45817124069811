"""Who may do what. Checked in the service layer, so that web, API and CLI agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import ColumnElement, exists, false, or_, select, true

from placement.extensions import db
from placement.models import AuditEvent, Facility, Stay, user_facility
from placement.models.base import utcnow
from placement.models.enums import Role
from placement.services.errors import Code, Forbidden, NotFound


class Actor(Protocol):
    """Who acts (``audit.Actor``), as far as permissions look: declared here so that this
    module does not import the audit module, which imports it."""

    @property
    def user_id(self) -> int | None: ...

    @property
    def role(self) -> Role | None: ...


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
    VIEW_AUDIT = "view_audit"  # the audit trail (who did or viewed what), its CSV export


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
            Permission.VIEW_AUDIT,
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
    return is_assigned(actor.user_id, facility_id)


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


# --- whose persons an account may see (need to know, SGB VIII §§61-68) ----------------------

# Writes by which an account "recorded" a stay: an on-call worker keeps seeing the persons
# of the stays they admitted, discharged, moved or took back, also after the stay ended.
RECORDING_ACTIONS = (
    "stay.create",
    "stay.discharge",
    "stay.move_out",
    "stay.undo_discharge",
    "stay.distribution",
    "stay.correct",
)


@dataclass(frozen=True)
class PersonScope:
    """The stays whose persons an actor may see: every stay in ``facility_ids`` (None:
    every facility), plus, for on-call staff, every open stay (and every place held since
    an absconding) and the stays recorded by ``recorded_by``."""

    facility_ids: frozenset[int] | None
    open_anywhere: bool = False
    recorded_by: int | None = None

    @property
    def everything(self) -> bool:
        return self.facility_ids is None

    def stay_condition(self, instant: datetime | None = None) -> ColumnElement[bool]:
        """A SQL condition over Stay: the stay is in this scope."""
        if self.facility_ids is None:
            return true()
        terms: list[ColumnElement[bool]] = []
        if self.facility_ids:
            terms.append(Stay.facility_id.in_(self.facility_ids))
        if self.open_anywhere:
            held_at = instant or utcnow()
            terms.append(Stay.end_at.is_(None))
            terms.append(Stay.place_held_until > held_at)
        if self.recorded_by is not None:
            terms.append(Stay.ended_by_id == self.recorded_by)
            terms.append(
                exists(
                    select(AuditEvent.id).where(
                        AuditEvent.user_id == self.recorded_by,
                        AuditEvent.object_type == "stay",
                        AuditEvent.object_id == Stay.id,
                        AuditEvent.action.in_(RECORDING_ACTIONS),
                    )
                )
            )
        return or_(*terms) if terms else false()

    def covers(self, stay: Stay) -> bool:
        """Whether ``stay`` is in this scope."""
        if self.facility_ids is None or stay.facility_id in self.facility_ids:
            return True
        if not (self.open_anywhere or self.recorded_by is not None):
            return False
        found = db.session.scalar(
            select(Stay.id).where(Stay.id == stay.id, self.stay_condition()).limit(1)
        )
        return found is not None


def is_assigned(user_id: int | None, facility_id: int) -> bool:
    """Whether the facility is assigned to the account (User.facilities). One query."""
    if user_id is None:
        return False
    assigned = db.session.scalar(
        select(user_facility.c.facility_id).where(
            user_facility.c.user_id == user_id, user_facility.c.facility_id == facility_id
        )
    )
    return assigned is not None


def assigned_facility_ids(user_id: int | None) -> frozenset[int]:
    """The facilities assigned to an account (User.facilities)."""
    if user_id is None:
        return frozenset()
    return frozenset(
        db.session.scalars(
            select(user_facility.c.facility_id).where(user_facility.c.user_id == user_id)
        )
    )


def person_scope(actor: Actor) -> PersonScope:
    """Whose persons ``actor`` may see. Forbidden for roles without VIEW_PERSONS
    (department heads: counts, plans and alerts only). System processes see everyone;
    facility managers and admins the persons of their assigned facilities (an admin
    without assignments none: managing accounts needs no person data); on-call staff
    those of their assigned facilities, of every open stay (they must find a youth at
    night) and of the stays they recorded."""
    require(actor.role, Permission.VIEW_PERSONS)
    if actor.role is None:
        return PersonScope(None)
    assigned = assigned_facility_ids(actor.user_id)
    if Role(actor.role) == Role.ON_CALL:
        return PersonScope(assigned, open_anywhere=True, recorded_by=actor.user_id)
    return PersonScope(assigned)


def may_see_persons_of(actor: Actor, facility_id: int) -> bool:
    """Whether ``actor`` may see every person (also past stays) of this facility."""
    if not can(actor.role, Permission.VIEW_PERSONS):
        return False
    scope = person_scope(actor)
    return scope.facility_ids is None or facility_id in scope.facility_ids


def require_stay(actor: Actor, stay_id: int, permission: Permission) -> Stay:
    """The stay, if ``actor`` has ``permission`` and may see its person: Forbidden without
    the permission (before the stay is looked up), NotFound for an unknown stay and for
    one outside the actor's scope alike, so that ids cannot be probed."""
    require(actor.role, permission)
    scope = person_scope(actor)
    stay = db.session.get(Stay, stay_id)
    if stay is None or not scope.covers(stay):
        raise NotFound(Code.UNKNOWN_STAY, "stay_id")
    return stay


def require_target_facility(actor: Actor, facility_id: int) -> None:
    """A correction may move a stay only into a facility whose persons the actor sees."""
    scope = person_scope(actor)
    if scope.facility_ids is not None and facility_id not in scope.facility_ids:
        raise NotFound(Code.UNKNOWN_FACILITY, "facility_id")


def may_see_free_text(actor: Actor, facility_id: int | None) -> bool:
    """Whether ``actor`` may read the free text recorded for a facility's cases (a
    reservation's note, a profile-override or correction reason): those who see persons
    of that facility. System processes and on-call staff (who see every open stay) yes;
    facility managers and admins for the facilities assigned to their account; roles
    without VIEW_PERSONS never."""
    if not can(actor.role, Permission.VIEW_PERSONS):
        return False
    if actor.role is None or Role(actor.role) == Role.ON_CALL:
        return True
    return facility_id is not None and is_assigned(actor.user_id, facility_id)
