"""The facility directory: every open facility with its profile and places, for everyone
who may see counts (no persons, no protected addresses)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from placement.extensions import db
from placement.models import Facility
from placement.models.enums import FacilityKind, UmaPolicy, label
from placement.services.accounts import permissions
from placement.services.accounts.audit import Actor
from placement.services.accounts.permissions import Permission
from placement.services.intake.places import assigned_facility_ids, locatable
from placement.services.occupancy.core import PlaceState
from placement.services.occupancy.queries import place_states_at, state_of


@dataclass(frozen=True)
class DirectoryEntry:
    id: int
    name: str
    kind: FacilityKind
    operator: str | None
    planning_area: str | None
    district: str | None  # None for an anonymous placement, unless assigned to it
    age_min: int
    age_max: int
    genders: str
    uma_policy: UmaPolicy
    state: PlaceState


def facility_directory(
    actor: Actor, instant: datetime, kind: FacilityKind | None = None
) -> list[DirectoryEntry]:
    """Every active facility (of ``kind``) with profile and places at ``instant``, sorted
    by kind label and name; the district of an anonymous placement is left out for everyone
    not assigned to it."""
    permissions.require(actor.role, Permission.VIEW_COUNTS)
    query = select(Facility).where(Facility.active.is_(True))
    if kind is not None:
        query = query.where(Facility.kind == kind)
    facilities = db.session.scalars(query).all()
    states = place_states_at(instant)
    assigned = assigned_facility_ids(actor)
    entries = [
        DirectoryEntry(
            id=f.id,
            name=f.name,
            kind=f.kind,
            operator=f.operator,
            planning_area=f.planning_area,
            district=f.district if locatable(f, assigned) else None,
            age_min=f.age_min,
            age_max=f.age_max,
            genders=f.genders,
            uma_policy=f.uma_policy,
            state=state_of(states, f.id),
        )
        for f in facilities
    ]
    kind_labels = {k: label(k) for k in FacilityKind}
    entries.sort(key=lambda e: (kind_labels[e.kind], e.name.casefold()))
    return entries
