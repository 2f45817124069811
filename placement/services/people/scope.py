"""Whose data an actor may find: one function, so that a later issue can narrow it to the
facilities an account is assigned to (``User.facilities``)."""

from __future__ import annotations

from sqlalchemy import Select, exists, select

from placement.models import Stay, Youth
from placement.services.accounts import audit, permissions
from placement.services.accounts.permissions import Permission


def visible_facility_ids(actor: audit.Actor) -> frozenset[int] | None:
    """The facilities whose residents ``actor`` may find; None means every facility.

    Raises Forbidden for roles that may not see persons. For now every role that may see
    persons sees the whole office (on-call staff place city-wide at night)."""
    permissions.require(actor.role, Permission.VIEW_PERSONS)
    return None


def scoped_stays(query: Select, facility_ids: frozenset[int] | None) -> Select:
    """``query`` (over Stay) limited to stays in the visible facilities."""
    if facility_ids is None:
        return query
    return query.where(Stay.facility_id.in_(facility_ids))


def scoped_youths(query: Select, facility_ids: frozenset[int] | None) -> Select:
    """``query`` (over Youth) limited to youths with a stay in a visible facility."""
    if facility_ids is None:
        return query
    return query.where(
        exists(select(Stay.id).where(Stay.youth_id == Youth.id, Stay.facility_id.in_(facility_ids)))
    )
