"""Admissions, discharges, moves and corrections: the intake workflows.

An admission is never refused for lack of places (an Inobhutnahme must happen): it is
recorded with a warning and an over-occupancy event in the same transaction. Capacity is
read after ``lock_facilities``, so concurrent admissions each see the truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import select

from placement.extensions import db
from placement.models import Facility, OverOccupancyEvent, Reservation, ReservationStatus, Stay
from placement.models.enums import EndReason, LegalBasis
from placement.services import audit, permissions, stays
from placement.services.errors import NotFound, OpenStayExists, PlacementError
from placement.services.locking import lock_facilities
from placement.services.permissions import Permission
from placement.services.places import (
    CapacityState,
    absconded_hold_days,
    age_on,
    capacity_state,
    profile_mismatches,
)
from placement.services.youths import NewYouth, create_youth, get_youth
from placement.timeutil import now as utc_now

MIN_REASON_LENGTH = 3
E = TypeVar("E", bound=StrEnum)


class OverrideRequired(PlacementError):
    """The youth is outside the facility's profile and no override reason was given."""

    def __init__(self, mismatches: list[str]) -> None:
        super().__init__(
            "Außerhalb des Profils der Einrichtung (" + "; ".join(mismatches) + "). "
            "Für eine Aufnahme bitte einen kurzen Grund angeben.",
            field="override_reason",
        )
        self.mismatches = mismatches


class StayClosed(PlacementError):
    status_code = 409


@dataclass(frozen=True)
class Warning:
    code: str
    message: str
    facility_id: int
    occupied: int
    limit: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "facility_id": self.facility_id,
            "occupied": self.occupied,
            "limit": self.limit,
        }


@dataclass
class AdmissionResult:
    stay: Stay
    warnings: list[Warning] = field(default_factory=list)


@dataclass
class MoveResult:
    stays: list[Stay]
    warnings: list[Warning] = field(default_factory=list)


# --- shared checks ------------------------------------------------------------------------


def checked_instant(value: datetime | None, name: str) -> datetime:
    """The given instant (default now), refused when it lies noticeably in the future."""
    current = utc_now()
    if value is None:
        return current
    tolerance = timedelta(minutes=current_app.config["MAX_FUTURE_MINUTES"])
    if value > current + tolerance:
        raise PlacementError("Der Zeitpunkt liegt in der Zukunft.", field=name)
    return value


def _code(enum_cls: type[E], value: E | str, field: str, what: str) -> E:
    """A code of a closed vocabulary; an unknown one names the field and the allowed codes."""
    try:
        return enum_cls(value)
    except ValueError as exc:
        allowed = ", ".join(member.value for member in enum_cls)
        raise PlacementError(f"{what} (erlaubt: {allowed}).", field=field) from exc


def _legal_basis(value: LegalBasis | str) -> LegalBasis:
    return _code(LegalBasis, value, "legal_basis", "Unbekannte Rechtsgrundlage")


def _end_reason(value: EndReason | str, field: str = "reason") -> EndReason:
    return _code(EndReason, value, field, "Unbekannter Beendigungsgrund")


def active_facility(facility_id: int, name: str = "facility_id") -> Facility:
    facility = db.session.get(Facility, facility_id)
    if facility is None:
        raise NotFound("Diese Einrichtung ist nicht bekannt.", field=name)
    if not facility.active:
        raise PlacementError("Diese Einrichtung ist nicht aktiv.", field=name)
    return facility


def _reason_text(reason: str | None, name: str) -> str | None:
    if reason is None or not reason.strip():
        return None
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise PlacementError("Bitte den Grund in ein paar Worten angeben.", field=name)
    if len(reason) > 500:
        raise PlacementError("Der Grund ist zu lang (höchstens 500 Zeichen).", field=name)
    return reason.strip()


def _check_profile(facility: Facility, youth, instant: datetime, override: str | None) -> None:
    mismatches = profile_mismatches(
        facility, age_on(youth.birth_date, instant), youth.gender, youth.uma
    )
    if mismatches and override is None:
        raise OverrideRequired(mismatches)


def capacity_warnings(facility: Facility, state: CapacityState) -> list[Warning]:
    """What staff must know about a facility's state after a youth came in."""
    if not state.has_period:
        return [
            Warning(
                "no_capacity",
                "Für diese Einrichtung sind keine Plätze hinterlegt.",
                facility.id,
                state.occupied,
                0,
            )
        ]
    if state.over_capacity:
        return [
            Warning(
                "over_capacity",
                f"{facility.name} ist überbelegt: {state.occupied} Personen auf {state.limit} "
                "genehmigten Plätzen.",
                facility.id,
                state.occupied,
                state.limit,
            )
        ]
    if state.occupied + state.reserved > state.usable:
        return [
            Warning(
                "above_usable",
                f"{facility.name}: mehr Personen ({state.occupied}) und Reservierungen "
                f"({state.reserved}) als belegbare Plätze ({state.usable}).",
                facility.id,
                state.occupied,
                state.limit,
            )
        ]
    return []


def _record_arrival(facility: Facility, stay: Stay, instant: datetime) -> list[Warning]:
    """Capacity warnings for a youth arriving at ``instant``; an over-occupancy event is
    written with them in the same transaction."""
    db.session.flush()
    worst: CapacityState | None = None
    for moment in sorted({instant, max(instant, utc_now())}):
        state = capacity_state(facility.id, moment)
        if worst is None or state.occupied - state.limit > worst.occupied - worst.limit:
            worst = state
    warnings = capacity_warnings(facility, worst)
    if any(w.code in ("over_capacity", "no_capacity") for w in warnings):
        db.session.add(
            OverOccupancyEvent(
                facility_id=facility.id,
                stay_id=stay.id,
                at=instant,
                occupied=worst.occupied,
                limit=worst.limit,
            )
        )
    return warnings


# --- preview (no writes) ---------------------------------------------------------------------


def preview_admission(
    facility_id: int,
    *,
    birth_date,
    gender,
    uma: bool,
    start: datetime | None = None,
    released: int = 0,
) -> tuple[list[str], list[Warning]]:
    """Profile mismatches and capacity warnings an admission would cause (read only).

    ``released`` places are held by the reservation the admission turns into."""
    facility = active_facility(facility_id)
    instant = checked_instant(start, "start")
    mismatches = profile_mismatches(facility, age_on(birth_date, instant), gender, uma)
    state = capacity_state(facility.id, instant)
    after = CapacityState(
        state.licensed,
        state.usable,
        state.limit,
        state.occupied + 1,
        max(0, state.reserved - released),
        state.has_period,
    )
    return mismatches, capacity_warnings(facility, after)


# --- admission ------------------------------------------------------------------------------


def admit(
    actor: audit.Actor,
    *,
    facility_id: int,
    legal_basis: LegalBasis | str,
    start: datetime | None = None,
    youth_id: int | None = None,
    new_youth: NewYouth | None = None,
    override_reason: str | None = None,
    reservation_id: int | None = None,
) -> AdmissionResult:
    """Admit an existing or new youth into a facility; never refused for lack of places."""
    permissions.require(actor.role, Permission.ADMIT)
    basis = _legal_basis(legal_basis)
    override = _reason_text(override_reason, "override_reason")
    if (youth_id is None) == (new_youth is None):
        raise PlacementError(
            "Bitte entweder eine vorhandene Person oder neue Angaben senden.", field="youth"
        )
    lock_facilities([facility_id])
    # "now" is read under the lock, so that it follows every admission that went before.
    instant = checked_instant(start, "start")
    facility = active_facility(facility_id)

    if youth_id is not None:
        youth = get_youth(youth_id)
        if stays.open_stay_of(youth.id) is not None:
            raise OpenStayExists(
                "Diese Person ist bereits aufgenommen; bitte stattdessen verlegen.",
                field="youth_id",
            )
        if youth.birth_date > instant.date():
            raise PlacementError("Die Aufnahme liegt vor dem Geburtsdatum.", field="start")
    else:
        youth = create_youth(actor, new_youth, at=instant)
    _check_profile(facility, youth, instant, override)

    reservation = _claim_reservation(reservation_id, facility.id, instant)
    stay = stays.record_stay(
        actor, youth_id=youth.id, facility_id=facility.id, legal_basis=basis, start_at=instant
    )
    stay.override_reason = override
    _release_absconding_hold(youth.id, instant)
    if reservation is not None:
        reservation.stay_id = stay.id
    warnings = _record_arrival(facility, stay, instant)
    audit.record(
        actor,
        "stay.admit",
        stay,
        reason=override,
        after={"warnings": [w.code for w in warnings], "reservation_id": reservation_id},
    )
    return AdmissionResult(stay=stay, warnings=warnings)


def _claim_reservation(
    reservation_id: int | None, facility_id: int, instant: datetime
) -> Reservation | None:
    if reservation_id is None:
        return None
    reservation = db.session.get(Reservation, reservation_id)
    if reservation is None:
        raise NotFound("Diese Reservierung ist nicht bekannt.", field="reservation_id")
    if reservation.facility_id != facility_id:
        raise PlacementError(
            "Die Reservierung gilt für eine andere Einrichtung.", field="reservation_id"
        )
    current = utc_now()
    if reservation.status != ReservationStatus.OPEN or not reservation.is_active(current):
        raise StayClosed(
            "Die Reservierung ist nicht mehr offen (abgelaufen, storniert oder "
            "schon genutzt); bitte direkt aufnehmen.",
            field="reservation_id",
        )
    reservation.status = ReservationStatus.ADMITTED
    reservation.closed_at = max(min(instant, current), reservation.created_at)
    return reservation


def _release_absconding_hold(youth_id: int, instant: datetime) -> None:
    """A youth who returns ends the hold kept for them since absconding."""
    held = db.session.scalars(
        select(Stay).where(
            Stay.youth_id == youth_id, Stay.place_held_until > instant, Stay.end_at <= instant
        )
    ).all()
    for stay in held:
        stay.place_held_until = instant


# --- discharge ------------------------------------------------------------------------------


def _open_stay(stay_id: int) -> Stay:
    stay = db.session.get(Stay, stay_id)
    if stay is None:
        raise NotFound("Dieser Aufenthalt ist nicht bekannt.", field="stay_id")
    if stay.end_at is not None:
        raise StayClosed("Dieser Aufenthalt ist bereits beendet.", field="stay_id")
    return stay


def discharge(
    actor: audit.Actor, stay_id: int, *, reason: EndReason | str, end: datetime | None = None
) -> Stay:
    """End a stay. After an absconding the place stays held for ABSCONDED_HOLD_DAYS."""
    permissions.require(actor.role, Permission.DISCHARGE)
    end_reason = _end_reason(reason)
    instant = checked_instant(end, "time")
    stay = _open_stay(stay_id)
    if instant <= stay.start_at:
        raise PlacementError("Das Ende muss nach der Aufnahme liegen.", field="time")
    before = audit.snapshot(stay)
    stay.end_at = instant
    stay.end_reason = end_reason
    if end_reason == EndReason.ABSCONDED:
        stay.place_held_until = instant + timedelta(days=absconded_hold_days())
    audit.record(actor, "stay.discharge", stay, before=before, after=audit.snapshot(stay))
    return stay


# --- move -----------------------------------------------------------------------------------


def siblings_in_same_facility(stay: Stay) -> list[Stay]:
    """Open stays of the youth's sibling group in the same facility (the stay included)."""
    group = stay.youth.sibling_group
    if not group:
        return [stay]
    from placement.models import Youth

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
    permissions.require(actor.role, Permission.DISCHARGE)
    permissions.require(actor.role, Permission.ADMIT)
    override = _reason_text(override_reason, "override_reason")
    basis = _legal_basis(legal_basis) if legal_basis is not None else None
    first = db.session.get(Stay, stay_id)
    if first is None:
        raise NotFound("Dieser Aufenthalt ist nicht bekannt.", field="stay_id")
    lock_facilities([first.facility_id, facility_id])
    instant = checked_instant(time, "time")
    first = _open_stay(stay_id)
    target = active_facility(facility_id)
    if target.id == first.facility_id:
        raise PlacementError("Die Person ist bereits in dieser Einrichtung.", field="facility_id")
    moving = siblings_in_same_facility(first) if with_siblings else [first]
    for stay in moving:
        if instant <= stay.start_at:
            raise PlacementError("Die Verlegung muss nach der Aufnahme liegen.", field="time")
        _check_profile(target, stay.youth, instant, override)

    new_stays = []
    for stay in moving:
        before = audit.snapshot(stay)
        stay.end_at = instant
        stay.end_reason = EndReason.TRANSFER
        audit.record(
            actor, "stay.move_out", stay, before=before, after=audit.snapshot(stay), reason=override
        )
        db.session.flush()
        new = stays.record_stay(
            actor,
            youth_id=stay.youth_id,
            facility_id=target.id,
            legal_basis=basis or stay.legal_basis,
            start_at=instant,
            pinned=stay.pinned,
        )
        new.override_reason = override
        new_stays.append(new)
    warnings = _record_arrival(target, new_stays[-1], instant)
    return MoveResult(stays=new_stays, warnings=warnings)


# --- correction -----------------------------------------------------------------------------

UNSET: Any = object()


def correct_stay(
    actor: audit.Actor,
    stay_id: int,
    *,
    reason: str,
    start_at: datetime = UNSET,
    end_at: datetime | None = UNSET,
    end_reason: EndReason | str | None = UNSET,
    facility_id: int = UNSET,
    legal_basis: LegalBasis | str = UNSET,
) -> Stay:
    """Correct a recorded stay (wrong time, wrong facility...). Nothing is deleted: the
    audit log keeps the state before and after, with the reason."""
    permissions.require(actor.role, Permission.CORRECT)
    why = _reason_text(reason, "reason")
    if why is None:
        raise PlacementError("Bitte angeben, warum korrigiert wird.", field="reason")
    stay = db.session.get(Stay, stay_id)
    if stay is None:
        raise NotFound("Dieser Aufenthalt ist nicht bekannt.", field="stay_id")
    targets = {stay.facility_id} | ({facility_id} if facility_id is not UNSET else set())
    lock_facilities(targets)
    before = audit.snapshot(stay)

    new_start = stay.start_at if start_at is UNSET else checked_instant(start_at, "start_at")
    new_end = (
        stay.end_at
        if end_at is UNSET
        else (None if end_at is None else checked_instant(end_at, "end_at"))
    )
    new_reason = (
        stay.end_reason
        if end_reason is UNSET
        else (None if end_reason is None else _end_reason(end_reason, "end_reason"))
    )
    if new_end is None:
        new_reason = None
    elif new_reason is None:
        raise PlacementError(
            "Für ein Ende bitte einen Beendigungsgrund angeben.", field="end_reason"
        )
    if new_end is not None and new_end <= new_start:
        raise PlacementError("Das Ende muss nach dem Beginn liegen.", field="end_at")
    if new_end is None and stay.end_at is not None:
        other = stays.open_stay_of(stay.youth_id)
        if other is not None:
            raise OpenStayExists("Die Person hat bereits einen offenen Aufenthalt.", field="end_at")
    if stays.find_overlap(stay.youth_id, new_start, new_end, exclude_stay_id=stay.id):
        raise PlacementError(
            "Der Zeitraum überschneidet sich mit einem anderen Aufenthalt dieser Person.",
            field="start_at" if start_at is not UNSET else "end_at",
        )
    if facility_id is not UNSET:
        stay.facility_id = active_facility(facility_id).id
    if legal_basis is not UNSET:
        stay.legal_basis = _legal_basis(legal_basis)
    stay.start_at, stay.end_at, stay.end_reason = new_start, new_end, new_reason
    stay.place_held_until = (
        new_end + timedelta(days=absconded_hold_days())
        if new_reason == EndReason.ABSCONDED and new_end is not None
        else None
    )
    after = audit.snapshot(stay)
    if after == before:
        raise PlacementError("Es wurde nichts geändert.", field=None)
    audit.record(actor, "stay.correct", stay, before=before, after=after, reason=why)
    return stay
