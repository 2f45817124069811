"""Recording stays while keeping their invariants: one open stay per youth, no overlaps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from placement.extensions import db
from placement.models import Facility, Stay, Youth
from placement.models.enums import EndReason, LegalBasis
from placement.services import audit
from placement.services.errors import NotFound, OpenStayExists, OverlappingStay, PlacementError


def find_overlap(
    youth_id: int, start_at: datetime, end_at: datetime | None, exclude_stay_id: int | None = None
) -> Stay | None:
    """A stay of this youth that shares any instant with [start_at, end_at), if one exists."""
    query = select(Stay).where(
        Stay.youth_id == youth_id,
        or_(Stay.end_at.is_(None), Stay.end_at > start_at),
    )
    if end_at is not None:
        query = query.where(Stay.start_at < end_at)
    if exclude_stay_id is not None:
        query = query.where(Stay.id != exclude_stay_id)
    return db.session.scalars(query.limit(1)).first()


def open_stay_of(youth_id: int) -> Stay | None:
    """The youth's current (open) stay, if any."""
    return db.session.scalar(select(Stay).where(Stay.youth_id == youth_id, Stay.end_at.is_(None)))


def record_stay(
    actor: audit.Actor,
    *,
    youth_id: int,
    facility_id: int,
    legal_basis: LegalBasis | str,
    start_at: datetime,
    end_at: datetime | None = None,
    end_reason: EndReason | str | None = None,
    pinned: bool = False,
) -> Stay:
    """Record a stay after checking every invariant; refuses overlaps and second open stays."""
    if db.session.get(Youth, youth_id) is None:
        raise NotFound("Jugendliche/r nicht gefunden.", field="youth_id")
    if db.session.get(Facility, facility_id) is None:
        raise NotFound("Einrichtung nicht gefunden.", field="facility_id")
    if end_at is not None and end_at <= start_at:
        raise PlacementError("Das Ende muss nach dem Beginn liegen.", field="end_at")
    if (end_at is None) != (end_reason is None):
        raise PlacementError(
            "Ein Beendigungsgrund ist genau dann anzugeben, wenn ein Ende angegeben ist.",
            field="end_reason",
        )
    if end_at is None and open_stay_of(youth_id) is not None:
        raise OpenStayExists(
            "Für diese/n Jugendliche/n besteht bereits ein offener Aufenthalt; "
            "bitte stattdessen verlegen.",
            field="youth_id",
        )
    clash = find_overlap(youth_id, start_at, end_at)
    if clash is not None:
        raise OverlappingStay(
            "Der Zeitraum überschneidet sich mit einem anderen Aufenthalt dieser/s Jugendlichen.",
            field="start_at",
        )
    stay = Stay(
        youth_id=youth_id,
        facility_id=facility_id,
        legal_basis=LegalBasis(legal_basis),
        start_at=start_at,
        end_at=end_at,
        end_reason=EndReason(end_reason) if end_reason is not None else None,
        pinned=pinned,
    )
    db.session.add(stay)
    audit.record(actor, "stay.create", stay, after=audit.snapshot(stay))
    return stay
