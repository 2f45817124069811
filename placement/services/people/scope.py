"""Whose data an actor may find. The rule itself is ``permissions.person_scope`` (accounts
slice, so that intake's stay actions enforce it too); here it narrows the queries of the
lists, the search and the stay page, for HTML and API alike."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, exists, select

from placement.models import Stay, Youth
from placement.services.accounts import audit, permissions
from placement.services.accounts.permissions import PersonScope


def person_scope(actor: audit.Actor) -> PersonScope:
    """The stays whose persons ``actor`` may see (Forbidden without VIEW_PERSONS)."""
    return permissions.person_scope(actor)


def visible_facility_ids(actor: audit.Actor) -> frozenset[int] | None:
    """The facilities whose residents (open and past) ``actor`` may find; None means every
    facility. On-call staff see open stays everywhere but the full history only of their
    assigned facilities: this is that set. Raises Forbidden for roles that may not see
    persons."""
    return person_scope(actor).facility_ids


def scoped_stays(query: Select, scope: PersonScope, instant: datetime | None = None) -> Select:
    """``query`` (over Stay) limited to stays in ``scope``."""
    if scope.everything:
        return query
    return query.where(scope.stay_condition(instant))


def scoped_youths(query: Select, scope: PersonScope, instant: datetime | None = None) -> Select:
    """``query`` (over Youth) limited to youths with a stay in ``scope``."""
    if scope.everything:
        return query
    return query.where(
        exists(select(Stay.id).where(Stay.youth_id == Youth.id, scope.stay_condition(instant)))
    )
