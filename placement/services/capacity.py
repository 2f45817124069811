"""Capacity periods: which places apply at an instant, and adding new periods."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, select

from placement.extensions import db
from placement.models import CapacityPeriod, Facility
from placement.services import audit
from placement.services.errors import InvalidPeriod, NotFound


def _covering(instant: datetime):
    return (CapacityPeriod.valid_from <= instant) & or_(
        CapacityPeriod.valid_until.is_(None), CapacityPeriod.valid_until > instant
    )


def capacity_at(facility_id: int, instant: datetime) -> CapacityPeriod | None:
    """The capacity period of one facility in force at ``instant`` (None if none is)."""
    return db.session.scalar(
        select(CapacityPeriod).where(CapacityPeriod.facility_id == facility_id, _covering(instant))
    )


def capacities_at(
    instant: datetime, facility_ids: Iterable[int] | None = None
) -> dict[int, CapacityPeriod]:
    """Capacity periods in force at ``instant``, by facility id, in one query."""
    query = select(CapacityPeriod).where(_covering(instant))
    if facility_ids is not None:
        query = query.where(CapacityPeriod.facility_id.in_(list(facility_ids)))
    return {period.facility_id: period for period in db.session.scalars(query)}


def add_capacity_period(
    actor: audit.Actor,
    facility_id: int,
    *,
    valid_from: datetime,
    licensed_places: int,
    usable_places: int | None = None,
    temporary_ceiling: int | None = None,
    reserved_places: int = 0,
    valid_until: datetime | None = None,
    note: str | None = None,
) -> CapacityPeriod:
    """Add a period from ``valid_from``. An open-ended period in force then is closed at
    ``valid_from``; any other overlap with existing periods is refused."""
    facility = db.session.get(Facility, facility_id)
    if facility is None:
        raise NotFound("Einrichtung nicht gefunden.", field="facility_id")
    usable = licensed_places if usable_places is None else usable_places
    _check_numbers(licensed_places, usable, temporary_ceiling, reserved_places)
    if valid_until is not None and valid_until <= valid_from:
        raise InvalidPeriod("„Gültig bis“ muss nach „gültig ab“ liegen.", field="valid_until")

    periods = db.session.scalars(
        select(CapacityPeriod)
        .where(CapacityPeriod.facility_id == facility_id)
        .order_by(CapacityPeriod.valid_from)
    ).all()
    for period in periods:
        if period.valid_until is None and period.valid_from < valid_from:
            before = audit.snapshot(period)
            period.valid_until = valid_from
            audit.record(
                actor, "capacity_period.close", period, before=before, after=audit.snapshot(period)
            )
        ends_before = valid_until is not None and valid_until <= period.valid_from
        starts_after = period.valid_until is not None and period.valid_until <= valid_from
        if not (ends_before or starts_after):
            raise InvalidPeriod(
                "Der Zeitraum überschneidet sich mit einem bestehenden Kapazitätszeitraum.",
                field="valid_from",
            )

    period = CapacityPeriod(
        facility_id=facility_id,
        valid_from=valid_from,
        valid_until=valid_until,
        licensed_places=licensed_places,
        usable_places=usable,
        temporary_ceiling=temporary_ceiling,
        reserved_places=reserved_places,
        note=note,
    )
    db.session.add(period)
    audit.record(actor, "capacity_period.create", period, after=audit.snapshot(period))
    return period


def _check_numbers(licensed: int, usable: int, ceiling: int | None, reserved: int) -> None:
    if licensed < 0:
        raise InvalidPeriod("Genehmigte Plätze dürfen nicht negativ sein.", field="licensed_places")
    if usable < 0:
        raise InvalidPeriod("Belegbare Plätze dürfen nicht negativ sein.", field="usable_places")
    if reserved < 0:
        raise InvalidPeriod("Freihalteplätze dürfen nicht negativ sein.", field="reserved_places")
    if ceiling is not None and ceiling <= licensed:
        raise InvalidPeriod(
            "Eine befristete Obergrenze muss über den genehmigten Plätzen liegen.",
            field="temporary_ceiling",
        )
    if usable > (ceiling if ceiling is not None else licensed):
        raise InvalidPeriod(
            "Belegbare Plätze dürfen die genehmigten Plätze (bzw. die befristete Obergrenze) "
            "nicht übersteigen.",
            field="usable_places",
        )
    if reserved > usable:
        raise InvalidPeriod(
            "Freihalteplätze dürfen die belegbaren Plätze nicht übersteigen.",
            field="reserved_places",
        )
