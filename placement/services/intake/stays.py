"""Stays: recording them while keeping their invariants (one open stay per youth, no
overlaps), discharge, move and correction.

A move is never refused for lack of places either: it is recorded with a warning and an
over-occupancy event in the same transaction. Capacity is read after ``lock_facilities``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select

from placement.extensions import db
from placement.models import Stay, Youth
from placement.models.enums import DistributionResult, EndReason, LegalBasis, PlannedEndKind
from placement.services.accounts import audit, permissions
from placement.services.accounts.permissions import Permission
from placement.services.errors import (
    Code,
    Conflict,
    Forbidden,
    NotFound,
    PlacementError,
    RuleViolation,
)
from placement.services.intake.arrivals import Warning, record_arrival
from placement.services.intake.rules import (
    absconded_hold_days,
    active_facility,
    age_on,
    berlin_day,
    checked_instant,
    code_of,
    facility,
    profile_mismatches,
    reason_text,
    require_override,
)
from placement.services.occupancy.locking import lock_facilities
from placement.timeutil import now as utc_now


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
    override_reason: str | None = None,
    new_youth: bool = False,
) -> Stay:
    """Record a stay after checking every invariant; refuses overlaps and second open stays.
    ``new_youth``: the youth was created in this transaction, so that no stay of theirs can
    exist to overlap (not even one another transaction records meanwhile: until the commit
    the youth is theirs alone)."""
    youth = db.session.get(Youth, youth_id)
    if youth is None:
        raise NotFound(Code.UNKNOWN_YOUTH, "youth_id")
    facility(facility_id)
    if end_at is not None and end_at <= start_at:
        raise RuleViolation(Code.END_BEFORE_START, "end_at")
    if (end_at is None) != (end_reason is None):
        raise RuleViolation(Code.END_REASON_WITHOUT_END, "end_reason")
    if not new_youth and end_at is None and open_stay_of(youth_id) is not None:
        raise Conflict(Code.OPEN_STAY_EXISTS, "youth_id")
    if not new_youth and find_overlap(youth_id, start_at, end_at) is not None:
        raise Conflict(Code.OVERLAPPING_STAY, "start_at")
    stay = Stay(
        youth=youth,  # referenced, so that the answer about the stay need not reload them
        youth_id=youth_id,
        facility_id=facility_id,
        legal_basis=LegalBasis(legal_basis),
        start_at=start_at,
        end_at=end_at,
        end_reason=EndReason(end_reason) if end_reason is not None else None,
        pinned=pinned,
        override_reason=override_reason,
    )
    db.session.add(stay)
    audit.record(actor, "stay.create", stay, after=audit.snapshot(stay))
    return stay


def require_access(actor: audit.Actor, stay_id: int, *needed: Permission) -> Stay:
    """The stay, if ``actor`` holds every permission in ``needed`` and may see its person
    (Forbidden, else NotFound for unknown and out-of-scope ids alike). Views call it before
    they read or validate a form, so that no error path renders anything first."""
    for permission in needed[1:]:
        permissions.require(actor.role, permission)
    return permissions.require_stay(actor, stay_id, needed[0])


def get_stay(stay_id: int) -> Stay:
    stay = db.session.get(Stay, stay_id)
    if stay is None:
        raise NotFound(Code.UNKNOWN_STAY, "stay_id")
    return stay


def _locked(stay: Stay) -> Stay:
    """``stay`` read afresh under a row lock that serialises changes of this stay until the
    transaction ends: of two changes at once the second judges (and audits) the stay as the
    first left it, not as it was read before the wait (NO KEY: rows may still refer to it)."""
    db.session.refresh(stay, with_for_update={"key_share": True})
    return stay


def _open_stay(stay_id: int, *, lock: bool = False) -> Stay:
    """The stay, refused once ended. ``lock``: read afresh under the stay's row lock
    (``_locked``), so that of two discharges or moves of one stay the second finds it ended."""
    stay = db.session.get(Stay, stay_id)
    if stay is None:
        raise NotFound(Code.UNKNOWN_STAY, "stay_id")
    if lock:
        _locked(stay)
    if stay.end_at is not None:
        raise Conflict(Code.STAY_CLOSED, "stay_id")
    return stay


def _holds(youth_id: int, instant: datetime):
    return select(Stay).where(
        Stay.youth_id == youth_id, Stay.place_held_until > instant, Stay.end_at <= instant
    )


def held_places(youth_id: int, facility_id: int, instant: datetime) -> int:
    """Places held for this youth at ``instant`` in this facility since an absconding."""
    return len(
        db.session.scalars(_holds(youth_id, instant).where(Stay.facility_id == facility_id)).all()
    )


def release_absconding_hold(youth_id: int, instant: datetime) -> None:
    """A youth who returns ends the hold kept for them since absconding."""
    for stay in db.session.scalars(_holds(youth_id, instant)).all():
        stay.place_held_until = instant


def _held_until(end_reason: EndReason | None, end: datetime | None) -> datetime | None:
    """After an absconding the place stays held for ABSCONDED_HOLD_DAYS."""
    if end_reason == EndReason.ABSCONDED and end is not None:
        return end + timedelta(days=absconded_hold_days())
    return None


@dataclass(frozen=True)
class StayRecord:
    """One stay as its page shows it: the youth, their other stays, siblings here."""

    stay: Stay
    youth: Youth
    age: int
    history: list[Stay]
    siblings: list[Stay]


def stay_record(actor: audit.Actor, stay_id: int) -> StayRecord:
    """A stay with the youth's stays in the actor's scope (personal data: the view is audited)."""
    stay = permissions.require_stay(actor, stay_id, Permission.VIEW_PERSONS)
    visible = permissions.person_scope(actor)  # the youth's other stays only within the scope
    history = db.session.scalars(
        select(Stay)
        .where(Stay.youth_id == stay.youth_id, visible.stay_condition())
        .order_by(Stay.start_at)
    ).all()
    audit.record(actor, "stay.view", stay)
    return StayRecord(
        stay=stay,
        youth=stay.youth,
        age=age_on(stay.youth.birth_date, utc_now()),
        history=list(history),
        siblings=siblings_in_same_facility(stay) if stay.end_at is None else [],
    )


def record_distribution(
    actor: audit.Actor,
    stay_id: int,
    *,
    reported_on: date | None,
    result: DistributionResult | str | None,
    age_assessed_on: date | None,
) -> Stay:
    """The §42a procedure of a stay: reported for distribution on, its result, and the
    date of the age assessment (§42f). A report or a result stops the §42a clock."""
    stay = _locked(permissions.require_stay(actor, stay_id, Permission.DISCHARGE))
    if stay.legal_basis != LegalBasis.P42A:
        raise RuleViolation(Code.NOT_A_42A_STAY, "stay_id")
    today = berlin_day(utc_now())
    start = berlin_day(stay.start_at)
    for value, name in ((reported_on, "reported_on"), (age_assessed_on, "age_assessed_on")):
        if value is not None and value > today:
            raise RuleViolation(Code.DATE_IN_FUTURE, name)
        if value is not None and value < start:
            raise RuleViolation(Code.DATE_BEFORE_ADMISSION, name)
    before = audit.snapshot(stay)
    stay.distribution_reported_on = reported_on
    stay.distribution_result = code_of(DistributionResult, result, "result") if result else None
    stay.age_assessed_on = age_assessed_on
    after = audit.snapshot(stay)
    if after == before:
        raise RuleViolation(Code.NOTHING_CHANGED)
    audit.record(actor, "stay.distribution", stay, before=before, after=after)
    return stay


def set_planned_end(
    actor: audit.Actor,
    stay_id: int,
    *,
    planned_end_on: date | None,
    kind: PlannedEndKind | str | None = None,
) -> Stay:
    """Set or clear (``planned_end_on=None``) the local day an open stay is planned to end
    and why ("Übergabe nach §42b am", "Anschlusshilfe ab"): the forecast counts the youth
    out on that day. A day before the admission or before today is refused."""
    require_access(actor, stay_id, Permission.DISCHARGE)
    stay = _open_stay(stay_id, lock=True)
    end_kind = code_of(PlannedEndKind, kind, "planned_end_kind") if kind else None
    if planned_end_on is None and end_kind is not None:
        raise RuleViolation(Code.PLANNED_END_KIND_WITHOUT_DATE, "planned_end_on")
    if planned_end_on is not None:
        if planned_end_on < berlin_day(stay.start_at):
            raise RuleViolation(Code.PLANNED_END_BEFORE_ADMISSION, "planned_end_on")
        if planned_end_on < berlin_day(utc_now()):
            raise RuleViolation(Code.PLANNED_END_IN_PAST, "planned_end_on")
    if (stay.planned_end_on, stay.planned_end_kind) == (planned_end_on, end_kind):
        raise RuleViolation(Code.NOTHING_CHANGED)
    before = audit.snapshot(stay)
    stay.planned_end_on = planned_end_on
    stay.planned_end_kind = end_kind
    stay.planned_end_recorded_at = utc_now() if planned_end_on is not None else None
    audit.record(actor, "stay.planned_end", stay, before=before, after=audit.snapshot(stay))
    return stay


# --- discharge ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DischargePreview:
    """What a discharge would record, spelled out before it is confirmed."""

    stay: Stay
    reason: EndReason
    instant: datetime
    place_held_until: datetime | None


def _discharge_values(
    actor: audit.Actor,
    stay_id: int,
    reason: EndReason | str | None,
    end: datetime | None,
    *,
    lock: bool = False,
) -> DischargePreview:
    permissions.require_stay(actor, stay_id, Permission.DISCHARGE)
    if reason is None or reason == "":
        raise RuleViolation(Code.MISSING, "reason")
    end_reason = code_of(EndReason, reason, "reason")
    instant = checked_instant(end, "time")
    stay = _open_stay(stay_id, lock=lock)
    if instant <= stay.start_at:
        raise RuleViolation(Code.DISCHARGE_BEFORE_ADMISSION, "time")
    return DischargePreview(stay, end_reason, instant, _held_until(end_reason, instant))


def preview_discharge(
    actor: audit.Actor, stay_id: int, *, reason: EndReason | str | None, end: datetime | None
) -> DischargePreview:
    """What ``discharge`` would record (nothing is written); raises what it raises. A
    missing time becomes now, so that the confirmation names the instant it records."""
    return _discharge_values(actor, stay_id, reason, end)


def _mark_ended(actor: audit.Actor, stay: Stay) -> None:
    """Who recorded the end and when: the window in which they may take it back."""
    stay.ended_by_id = actor.user_id
    stay.ended_recorded_at = utc_now()


def discharge(
    actor: audit.Actor, stay_id: int, *, reason: EndReason | str, end: datetime | None = None
) -> Stay:
    """End a stay. After an absconding the place stays held for ABSCONDED_HOLD_DAYS."""
    values = _discharge_values(actor, stay_id, reason, end, lock=True)
    stay = values.stay
    before = audit.snapshot(stay)
    stay.end_at = values.instant
    stay.end_reason = values.reason
    stay.place_held_until = values.place_held_until
    _mark_ended(actor, stay)
    audit.record(actor, "stay.discharge", stay, before=before, after=audit.snapshot(stay))
    return stay


def undo_minutes() -> int:
    return int(current_app.config["DISCHARGE_UNDO_MINUTES"])


def undo_until(stay: Stay) -> datetime | None:
    """Until when the recorded end of ``stay`` may be taken back (None: not ended, or the
    end was not recorded by a person)."""
    if stay.end_at is None or stay.ended_recorded_at is None or stay.ended_by_id is None:
        return None
    return stay.ended_recorded_at + timedelta(minutes=undo_minutes())


def undo_refusal(actor: audit.Actor, stay: Stay, instant: datetime) -> PlacementError | None:
    """Why ``actor`` may not take back the end of ``stay`` at ``instant`` (None: they may)."""
    if not permissions.can(actor.role, Permission.DISCHARGE):
        return Forbidden(Code.FORBIDDEN)
    if stay.end_at is None:
        return Conflict(Code.UNDO_STAY_OPEN, "stay_id")
    until = undo_until(stay)
    if actor.user_id is None or stay.ended_by_id != actor.user_id:
        return Conflict(Code.UNDO_NOT_OWN, "stay_id")
    if until is None or instant > until:
        return Conflict(Code.UNDO_EXPIRED, "stay_id", minutes=undo_minutes())
    later = db.session.scalar(
        select(Stay.id)
        .where(Stay.youth_id == stay.youth_id, Stay.id != stay.id, Stay.start_at >= stay.end_at)
        .limit(1)
    )
    if later is not None:
        return Conflict(Code.UNDO_LATER_STAY, "stay_id")
    if open_stay_of(stay.youth_id) is not None:
        return Conflict(Code.UNDO_OPEN_STAY, "stay_id")
    return None


def can_undo_discharge(actor: audit.Actor, stay: Stay) -> bool:
    """Whether the stay page offers ``actor`` to take back the end of ``stay`` now."""
    return undo_refusal(actor, stay, utc_now()) is None


@dataclass
class UndoResult:
    stay: Stay
    warnings: list[Warning] = field(default_factory=list)


def undo_discharge(actor: audit.Actor, stay_id: int) -> UndoResult:
    """Take back a discharge recorded by ``actor`` within DISCHARGE_UNDO_MINUTES: the stay
    is open again, as before the discharge (an absconding's held place is no longer held:
    the youth is placed again). Refused once the youth has a later or another open stay;
    after the window a correction is the way."""
    stay = permissions.require_stay(actor, stay_id, Permission.DISCHARGE)
    lock_facilities([stay.facility_id])
    _locked(stay)  # of two undos at once (a double click) the second finds it open again
    instant = utc_now()
    refusal = undo_refusal(actor, stay, instant)
    if refusal is not None:
        raise refusal
    before = audit.snapshot(stay)
    stay.end_at = None
    stay.end_reason = None
    stay.place_held_until = None
    stay.ended_by_id = None
    stay.ended_recorded_at = None
    audit.record(actor, "stay.undo_discharge", stay, before=before, after=audit.snapshot(stay))
    warnings = record_arrival(stay.facility, stay, instant)
    return UndoResult(stay=stay, warnings=warnings)


# --- move -----------------------------------------------------------------------------------


@dataclass
class MoveResult:
    stays: list[Stay]
    warnings: list[Warning] = field(default_factory=list)


def siblings_in_same_facility(stay: Stay) -> list[Stay]:
    """Open stays of the youth's sibling group in the same facility (the stay included)."""
    group = stay.youth.sibling_group
    if not group:
        return [stay]
    return db.session.scalars(
        select(Stay)
        .join(Youth)
        .where(
            Youth.sibling_group == group,
            Stay.end_at.is_(None),
            Stay.facility_id == stay.facility_id,
        )
        .order_by(Stay.id)
    ).all()


def move(
    actor: audit.Actor,
    stay_id: int,
    *,
    facility_id: int,
    time: datetime | None = None,
    with_siblings: bool = False,
    override_reason: str | None = None,
    legal_basis: LegalBasis | str | None = None,
) -> MoveResult:
    """Close the stay and open the next one in another facility, in one transaction."""
    permissions.require(actor.role, Permission.ADMIT)
    permissions.require_stay(actor, stay_id, Permission.DISCHARGE)
    override = reason_text(override_reason, "override_reason")
    basis = code_of(LegalBasis, legal_basis, "legal_basis") if legal_basis is not None else None
    first = get_stay(stay_id)
    lock_facilities([first.facility_id, facility_id])
    instant = checked_instant(time, "time")
    first = _open_stay(stay_id, lock=True)
    moving = siblings_in_same_facility(first) if with_siblings else [first]
    return transfer(actor, moving, facility_id, instant, override=override, legal_basis=basis)


def transfer(
    actor: audit.Actor,
    moving: list[Stay],
    facility_id: int,
    instant: datetime,
    *,
    override: str | None = None,
    legal_basis: LegalBasis | None = None,
) -> MoveResult:
    """Move open stays of one facility to another at ``instant``: end reason transfer, new
    stays from the same instant, profile checked. The caller checks the permission and
    holds the locks of both facilities (a move, or the execution of a plan)."""
    target = active_facility(facility_id)
    for stay in moving:
        if stay.facility_id == target.id:
            raise RuleViolation(Code.SAME_FACILITY, "facility_id")
        if instant <= stay.start_at:
            raise RuleViolation(Code.MOVE_BEFORE_ADMISSION, "time")
        youth = stay.youth
        mismatches = profile_mismatches(
            target, age_on(youth.birth_date, instant), youth.gender, youth.uma
        )
        require_override(mismatches, override)

    new_stays = []
    for stay in moving:
        before = audit.snapshot(stay)
        stay.end_at = instant
        stay.end_reason = EndReason.TRANSFER
        _mark_ended(actor, stay)
        audit.record(
            actor, "stay.move_out", stay, before=before, after=audit.snapshot(stay), reason=override
        )
        db.session.flush()
        new_stays.append(
            record_stay(
                actor,
                youth_id=stay.youth_id,
                facility_id=target.id,
                legal_basis=legal_basis or stay.legal_basis,
                start_at=instant,
                pinned=stay.pinned,
                override_reason=override,
            )
        )
    warnings = record_arrival(target, new_stays[-1], instant)
    return MoveResult(stays=new_stays, warnings=warnings)


# --- correction -----------------------------------------------------------------------------

UNSET: Any = object()


def correct_stay(
    actor: audit.Actor,
    stay_id: int,
    *,
    reason: str | None,
    start_at: datetime = UNSET,
    end_at: datetime | None = UNSET,
    end_reason: EndReason | str | None = UNSET,
    facility_id: int = UNSET,
    legal_basis: LegalBasis | str = UNSET,
) -> Stay:
    """Correct a recorded stay (wrong time, wrong facility...). Nothing is deleted: the
    audit log keeps the state before and after, with the reason. Fields left UNSET keep
    their value."""
    stay = permissions.require_stay(actor, stay_id, Permission.CORRECT)
    if facility_id is not UNSET and facility_id != stay.facility_id:
        permissions.require_target_facility(actor, facility_id)
    why = reason_text(reason, "reason")
    if why is None:
        raise RuleViolation(Code.REASON_REQUIRED, "reason")
    targets = {stay.facility_id} | ({facility_id} if facility_id is not UNSET else set())
    lock_facilities(targets)
    before = audit.snapshot(_locked(stay))

    new_start = stay.start_at if start_at is UNSET else checked_instant(start_at, "start_at")
    new_end = (
        stay.end_at
        if end_at is UNSET
        else (None if end_at is None else checked_instant(end_at, "end_at"))
    )
    new_reason = (
        stay.end_reason
        if end_reason is UNSET
        else (None if end_reason is None else code_of(EndReason, end_reason, "end_reason"))
    )
    if new_end is None:
        new_reason = None
    elif new_reason is None:
        raise RuleViolation(Code.END_REASON_REQUIRED, "end_reason")
    if new_end is not None and new_end <= new_start:
        raise RuleViolation(Code.END_BEFORE_START, "end_at")
    if new_end is None and stay.end_at is not None and open_stay_of(stay.youth_id) is not None:
        raise Conflict(Code.OPEN_STAY_EXISTS, "end_at")
    if find_overlap(stay.youth_id, new_start, new_end, exclude_stay_id=stay.id):
        # Unlike a new stay (a conflict with the record), a correction's own times are wrong.
        raise RuleViolation(
            Code.OVERLAPPING_STAY, "start_at" if start_at is not UNSET else "end_at"
        )
    if facility_id is not UNSET:
        stay.facility_id = active_facility(facility_id).id
    if legal_basis is not UNSET:
        stay.legal_basis = code_of(LegalBasis, legal_basis, "legal_basis")
    ended_now = new_end is not None and (stay.end_at is None or new_end != stay.end_at)
    stay.start_at, stay.end_at, stay.end_reason = new_start, new_end, new_reason
    stay.place_held_until = _held_until(new_reason, new_end)
    if new_end is None:
        stay.ended_by_id = stay.ended_recorded_at = None
    elif ended_now:
        _mark_ended(actor, stay)
    after = audit.snapshot(stay)
    if after == before:
        raise RuleViolation(Code.NOTHING_CHANGED)
    audit.record(actor, "stay.correct", stay, before=before, after=after, reason=why)
    return stay
