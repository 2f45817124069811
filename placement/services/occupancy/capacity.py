"""Capacity periods: adding one (imports, demo), changing a facility's places from an
instant without overwriting history, and whether a facility's figures are confirmed.

The period in force is read through ``queries.capacities_at``; the rules that read a
period are in ``core``. A change from an instant closes the period in force then and opens
a new one that runs as far as the old one did; a temporary ceiling until a date is a
period ending then (the end of that day, Europe/Berlin), followed by one with the same
places without the ceiling, up to the next existing period. Overlaps are refused."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Final

from flask import current_app
from sqlalchemy import select

from placement.extensions import db
from placement.models import CapacityPeriod, Facility, User
from placement.services.accounts import audit, permissions
from placement.services.accounts.permissions import Permission
from placement.services.errors import Code, Conflict, NotFound, RuleViolation
from placement.services.occupancy.core import Capacity, period_in_force
from placement.services.occupancy.locking import lock_facilities
from placement.services.occupancy.queries import occupancy_at
from placement.timeutil import BERLIN, local
from placement.timeutil import now as utc_now

MAX_REFERENCE_LENGTH = 200
MAX_NOTE_LENGTH = 500


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
    ceiling_reference: str | None = None,
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
        ceiling_reference=ceiling_reference,
        created_by_id=actor.user_id,
    )
    db.session.add(period)
    audit.record(actor, "capacity_period.create", period, after=audit.snapshot(period))
    return period


# Field names as both surfaces call them (API body keys and form field names).
NUMBER_FIELDS = {
    "licensed": "licensed_places",
    "usable": "usable_places",
    "kept_free": "reserved_places",
    "ceiling": "temporary_ceiling",
}
_OLD_NAMES = {name: name for name in NUMBER_FIELDS.values()}


def _check_numbers(
    licensed: int,
    usable: int,
    ceiling: int | None,
    reserved: int,
    names: dict[str, str] | None = None,
) -> None:
    names = names or _OLD_NAMES
    for value, name in (
        (licensed, names["licensed_places"]),
        (usable, names["usable_places"]),
        (reserved, names["reserved_places"]),
        (ceiling or 0, names["temporary_ceiling"]),
    ):
        if value < 0:
            raise RuleViolation(Code.NEGATIVE_PLACES, name)
    if ceiling is not None and ceiling <= licensed:
        raise RuleViolation(Code.CEILING_NOT_ABOVE_LICENSED, names["temporary_ceiling"])
    if usable > (ceiling if ceiling is not None else licensed):
        raise RuleViolation(Code.USABLE_ABOVE_LIMIT, names["usable_places"])
    if reserved > usable:
        raise RuleViolation(Code.KEPT_FREE_ABOVE_USABLE, names["reserved_places"])


# --- changing the places of a facility ----------------------------------------------------


class Keep(Enum):
    """A value left out of a change: the one in force stays."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


@dataclass(frozen=True)
class CapacityChange:
    """A change of places from ``valid_from``. ``None`` for the numbers and ``KEEP`` for
    the ceiling fields keep the value in force then; ``ceiling=None`` ends a ceiling.
    ``ceiling_until`` is the last day (Europe/Berlin) the ceiling applies."""

    valid_from: datetime
    licensed: int | None = None
    usable: int | None = None
    kept_free: int | None = None
    ceiling: int | None | Keep = KEEP
    ceiling_until: date | None | Keep = KEEP
    ceiling_reference: str | None | Keep = KEEP
    note: str | None = None
    confirmation: str | None = None


@dataclass(frozen=True)
class PlannedPeriod:
    """A capacity period a change would create."""

    valid_from: datetime
    valid_until: datetime | None
    licensed: int
    usable: int
    ceiling: int | None
    kept_free: int
    ceiling_reference: str | None
    note: str | None

    def key(self) -> list:
        return [
            self.valid_from.isoformat(),
            self.valid_until.isoformat() if self.valid_until else None,
            self.licensed,
            self.usable,
            self.ceiling,
            self.kept_free,
            self.ceiling_reference,
        ]


@dataclass(frozen=True)
class CapacityPreview:
    """What a change would do (nothing written): the period it closes, the periods it
    creates, and whether more people would be placed than places are usable."""

    facility: Facility
    valid_from: datetime
    current: CapacityPeriod | None  # the period in force at valid_from
    creates: list[PlannedPeriod]
    checked_at: datetime  # when occupancy was compared with the usable places
    occupied: int
    usable: int
    over_before: int  # occupied above the usable places before the change
    confirmation: str

    @property
    def over_by(self) -> int:
        return max(0, self.occupied - self.usable)

    @property
    def needs_confirmation(self) -> bool:
        return self.over_by > self.over_before


@dataclass
class CapacityResult:
    facility: Facility
    closed: CapacityPeriod | None
    created: list[CapacityPeriod] = field(default_factory=list)
    over_by: int = 0


class OverUsableConfirmationRequired(Conflict):
    """More people would be placed than places are usable; ``preview`` says how many."""

    def __init__(self, preview: CapacityPreview) -> None:
        super().__init__(
            Code.OVER_USABLE_CONFIRMATION,
            "confirmation",
            over=preview.over_by,
            occupied=preview.occupied,
            usable=preview.usable,
        )
        self.preview = preview


class CapacityConfirmationOutdated(Conflict):
    """The situation changed since the preview that was confirmed."""

    def __init__(self, preview: CapacityPreview) -> None:
        super().__init__(Code.CONFIRMATION_OUTDATED, "confirmation")
        self.preview = preview


def day_end(day: date) -> datetime:
    """The instant a period "until ``day``" ends: the next midnight in Europe/Berlin."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=BERLIN).astimezone(UTC)


def _text(value: str | None, name: str, limit: int) -> str | None:
    text = (value or "").strip() or None
    if text is not None and len(text) > limit:
        raise RuleViolation(Code.TOO_LONG, name, max=limit)
    return text


def _periods(facility_id: int) -> list[CapacityPeriod]:
    return list(
        db.session.scalars(
            select(CapacityPeriod)
            .where(CapacityPeriod.facility_id == facility_id)
            .order_by(CapacityPeriod.valid_from)
        ).all()
    )


def _plan(facility: Facility, change: CapacityChange, now: datetime) -> CapacityPreview:
    """The periods ``change`` creates, checked against the rules and existing periods."""
    start = change.valid_from
    periods = _periods(facility.id)
    for period in periods:
        if period.valid_from == start:
            raise RuleViolation(
                Code.PERIOD_STARTS_THERE,
                "valid_from",
                start=local(start).strftime("%d.%m.%Y %H:%M"),
            )
    current = next((p for p in periods if Capacity.of(p).covers(start)), None)
    later = [p for p in periods if p.valid_from > start]
    tail_end = current.valid_until if current else (later[0].valid_from if later else None)

    if current is None and change.licensed is None:
        raise RuleViolation(Code.CAPACITY_REQUIRED, "licensed")
    licensed = change.licensed if change.licensed is not None else current.licensed_places
    usable = (
        change.usable
        if change.usable is not None
        else (current.usable_places if current else licensed)
    )
    kept_free = (
        change.kept_free
        if change.kept_free is not None
        else (current.reserved_places if current else 0)
    )
    current_ceiling = current.temporary_ceiling if current else None
    ceiling = current_ceiling if change.ceiling is KEEP else change.ceiling
    until = None if change.ceiling_until is KEEP else change.ceiling_until
    reference = (
        (current.ceiling_reference if current and current_ceiling is not None else None)
        if change.ceiling_reference is KEEP
        else _text(change.ceiling_reference, "ceiling_reference", MAX_REFERENCE_LENGTH)
    )
    note = _text(change.note, "note", MAX_NOTE_LENGTH)
    _check_numbers(licensed, usable, ceiling, kept_free, {v: k for k, v in NUMBER_FIELDS.items()})

    if ceiling is None:
        if until is not None:
            raise RuleViolation(Code.CEILING_END_WITHOUT_CEILING, "ceiling_until")
        reference = None
        end = tail_end
    else:
        if until is not None:
            end = day_end(until)
            if current_ceiling is not None and current.valid_until is not None:
                last_day = local(current.valid_until - timedelta(microseconds=1)).date()
                if last_day == until:
                    end = current.valid_until  # the same last day as in force
        elif current_ceiling is not None:
            end = current.valid_until  # the ceiling in force keeps its end
        else:
            raise RuleViolation(Code.CEILING_END_REQUIRED, "ceiling_until")
        if end is not None and end <= start:
            raise RuleViolation(Code.PERIOD_END_BEFORE_START, "ceiling_until")
        if reference is None and current_ceiling is None:
            raise RuleViolation(Code.CEILING_REFERENCE_REQUIRED, "ceiling_reference")
    clash = next((p for p in later if end is None or p.valid_from < end), None)
    if clash is not None:
        raise RuleViolation(
            Code.PERIOD_OVERLAPS_NEXT,
            "ceiling_until" if ceiling is not None else "valid_from",
            start=local(clash.valid_from).strftime("%d.%m.%Y %H:%M"),
        )
    creates = [PlannedPeriod(start, end, licensed, usable, ceiling, kept_free, reference, note)]
    if ceiling is not None and end is not None and (tail_end is None or end < tail_end):
        # After the ceiling: the same places without it, as far as the old period ran.
        after_usable = min(usable, licensed)
        creates.append(
            PlannedPeriod(
                end,
                tail_end,
                licensed,
                after_usable,
                None,
                min(kept_free, after_usable),
                None,
                None,
            )
        )

    # Compare occupancy with the usable places where the change matters first: now if a
    # new period covers now, else its start.
    checks = []
    for planned in creates:
        at = max(planned.valid_from, now)
        if planned.valid_until is not None and at >= planned.valid_until:
            at = planned.valid_from
        checks.append((at, planned.usable))
    occupied_by_check = [
        (at, occupancy_at(at, [facility.id]).get(facility.id, 0), places) for at, places in checks
    ]
    checked_at, occupied, worst_usable = max(occupied_by_check, key=lambda c: c[1] - c[2])
    before = period_in_force([Capacity.of(p) for p in periods], checked_at)
    over_before = max(0, occupied - before.usable) if before else occupied
    token = hashlib.sha256(
        json.dumps(
            [facility.id, [p.key() for p in creates], occupied, current.id if current else None]
        ).encode()
    ).hexdigest()[:20]
    return CapacityPreview(
        facility=facility,
        valid_from=start,
        current=current,
        creates=creates,
        checked_at=checked_at,
        occupied=occupied,
        usable=worst_usable,
        over_before=over_before,
        confirmation=token,
    )


def preview_change(actor: audit.Actor, facility_id: int, change: CapacityChange) -> CapacityPreview:
    """What ``change_capacity`` would do (read only); raises what it would raise, except
    that a needed confirmation is reported (``needs_confirmation``, ``over_by``)."""
    facility = permissions.require_facility(actor, facility_id, Permission.MANAGE_FACILITY)
    return _plan(facility, change, utc_now())


def change_capacity(actor: audit.Actor, facility_id: int, change: CapacityChange) -> CapacityResult:
    """Change a facility's places from ``change.valid_from``: the period in force then is
    closed and new periods follow; nothing is overwritten. If more people would be placed
    than places are usable, the change needs the ``confirmation`` of its preview."""
    permissions.require_facility(actor, facility_id, Permission.MANAGE_FACILITY)
    lock_facilities([facility_id])
    facility = db.session.get(Facility, facility_id)
    preview = _plan(facility, change, utc_now())
    if change.confirmation is not None and change.confirmation != preview.confirmation:
        raise CapacityConfirmationOutdated(preview)
    if preview.needs_confirmation and change.confirmation is None:
        raise OverUsableConfirmationRequired(preview)

    current = preview.current
    before = audit.snapshot(current) if current is not None else None
    if current is not None:
        current.valid_until = change.valid_from
        audit.record(
            actor, "capacity_period.close", current, before=before, after=audit.snapshot(current)
        )
        db.session.flush()  # the closed period must end before the new one starts
    created = []
    for planned in preview.creates:
        period = CapacityPeriod(
            facility_id=facility_id,
            valid_from=planned.valid_from,
            valid_until=planned.valid_until,
            licensed_places=planned.licensed,
            usable_places=planned.usable,
            temporary_ceiling=planned.ceiling,
            reserved_places=planned.kept_free,
            ceiling_reference=planned.ceiling_reference,
            note=planned.note,
            created_by_id=actor.user_id,
        )
        db.session.add(period)
        audit.record(actor, "capacity_period.create", period, after=audit.snapshot(period))
        created.append(period)
    audit.record(
        actor,
        "facility.capacity",
        facility,
        before={"period": before},
        after={
            "periods": [audit.snapshot(p) for p in created],
            "occupied": preview.occupied,
            "over_usable_by": preview.over_by,
        },
    )
    return CapacityResult(facility, current, created, preview.over_by)


def capacity_history(actor: audit.Actor, facility_id: int) -> list[CapacityPeriod]:
    """Every capacity period of the facility, newest first (for its managers)."""
    permissions.require_facility(actor, facility_id, Permission.MANAGE_FACILITY)
    return list(reversed(_periods(facility_id)))


@dataclass(frozen=True)
class CapacityPage:
    """The capacity page: the history (newest first), who recorded each period, and the
    period in force now with the current occupancy."""

    facility: Facility
    periods: list[CapacityPeriod]
    current: CapacityPeriod | None
    occupied: int
    recorded_by: dict[int, str]


def capacity_page(actor: audit.Actor, facility_id: int) -> CapacityPage:
    """Everything the capacity page of a facility shows (for its managers)."""
    facility = permissions.require_facility(actor, facility_id, Permission.MANAGE_FACILITY)
    periods = _periods(facility_id)
    now = utc_now()
    current = next((p for p in periods if Capacity.of(p).covers(now)), None)
    ids = {p.created_by_id for p in periods if p.created_by_id is not None}
    names = (
        dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())
        if ids
        else {}
    )
    return CapacityPage(
        facility=facility,
        periods=list(reversed(periods)),
        current=current,
        occupied=occupancy_at(now, [facility_id]).get(facility_id, 0),
        recorded_by=names,
    )


# --- confirmed figures ---------------------------------------------------------------------


def confirmation_stale(confirmed_at: datetime | None, now: datetime | None = None) -> bool:
    """Whether a facility's figures were never confirmed, or not within the configured
    hours (FACILITY_CONFIRMATION_STALE_HOURS): such figures are flagged, because users of
    a place registry phone around when they cannot trust them."""
    if confirmed_at is None:
        return True
    hours = current_app.config["FACILITY_CONFIRMATION_STALE_HOURS"]
    return confirmed_at < (now or utc_now()) - timedelta(hours=hours)
