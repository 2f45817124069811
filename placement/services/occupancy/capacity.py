"""Adding capacity periods (the period in force is read through ``queries.capacities_at``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from placement.extensions import db
from placement.models import CapacityPeriod, Facility
from placement.services.accounts import audit
from placement.services.errors import Code, NotFound, RuleViolation


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
        raise NotFound(Code.UNKNOWN_FACILITY, "facility_id")
    usable = licensed_places if usable_places is None else usable_places
    _check_numbers(licensed_places, usable, temporary_ceiling, reserved_places)
    if valid_until is not None and valid_until <= valid_from:
        raise RuleViolation(Code.PERIOD_END_BEFORE_START, "valid_until")

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
            raise RuleViolation(Code.PERIOD_OVERLAP, "valid_from")

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
    for value, name in (
        (licensed, "licensed_places"),
        (usable, "usable_places"),
        (reserved, "reserved_places"),
    ):
        if value < 0:
            raise RuleViolation(Code.NEGATIVE_PLACES, name)
    if ceiling is not None and ceiling <= licensed:
        raise RuleViolation(Code.CEILING_NOT_ABOVE_LICENSED, "temporary_ceiling")
    if usable > (ceiling if ceiling is not None else licensed):
        raise RuleViolation(Code.USABLE_ABOVE_LIMIT, "usable_places")
    if reserved > usable:
        raise RuleViolation(Code.KEPT_FREE_ABOVE_USABLE, "reserved_places")
