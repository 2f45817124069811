"""The admission workflow, shared by the HTML form and the API.

An admission is one ``AdmissionRequest``. ``preview`` says what would happen (profile
mismatches, capacity warnings, possible duplicates) without writing anything; ``admit``
does it, checking everything again under the facility lock. An admission is never refused
for lack of places (an Inobhutnahme must happen): it is recorded with a warning and an
over-occupancy event in the same transaction.

Confirmation: a preview carries a ``confirmation`` token that stands for what it showed.
An admission sent with that token is refused with ``confirmation_outdated`` (and the new
preview) when the situation under the lock differs from what was confirmed, e.g. the last
place was taken meanwhile. Sent without a token it is recorded as it is, with its warnings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime

from placement.extensions import db
from placement.models import Facility, Reservation, ReservationStatus, Stay, Youth
from placement.models.enums import Gender, LegalBasis
from placement.services.accounts import audit, permissions
from placement.services.accounts.permissions import Permission
from placement.services.errors import BadInput, Code, Conflict, OverrideRequired, RuleViolation
from placement.services.intake import stays
from placement.services.intake.arrivals import (
    Warning,
    capacity_warnings,
    record_arrival,
    worst_state,
)
from placement.services.intake.reservations import get_reservation, holds_place
from placement.services.intake.rules import (
    MAX_AGE,
    Mismatch,
    active_facility,
    age_on,
    berlin_day,
    checked_instant,
    code_of,
    default_legal_basis,
    estimated_birth_date,
    profile_mismatches,
    reason_text,
    require_override,
)
from placement.services.intake.youths import (
    CheckedYouth,
    NewYouth,
    check_new_youth,
    create_youth,
    get_youth,
    same_file_number,
    youth_by_reference,
)
from placement.services.occupancy.locking import lock_facilities
from placement.timeutil import now as utc_now


@dataclass(frozen=True)
class AdmissionRequest:
    """One admission as asked for. The youth is an existing one (``youth_id`` or its
    pseudonymous ``youth_reference``) or a new one (``youth``). Without a facility the
    reservation's is used; without a legal basis the default for the youth and facility."""

    facility_id: int | None = None
    legal_basis: LegalBasis | str | None = None
    youth_id: int | None = None
    youth_reference: str | None = None
    youth: NewYouth | None = None
    start: datetime | None = None
    reservation_id: int | None = None
    override_reason: str | None = None
    confirmation: str | None = None


@dataclass(frozen=True)
class AdmissionPreview:
    """What an admission would do."""

    facility: Facility
    legal_basis: LegalBasis
    age: int
    mismatches: list[Mismatch]
    warnings: list[Warning]
    duplicates: list[str]  # references of youths recorded under the same file number
    override_error: OverrideRequired | None  # what admit would refuse: no reason given
    confirmation: str

    @property
    def override_missing(self) -> bool:
        return self.override_error is not None

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.mismatches or self.warnings or self.duplicates)


@dataclass
class AdmissionResult:
    stay: Stay
    warnings: list[Warning] = field(default_factory=list)


class ConfirmationOutdated(Conflict):
    """The situation changed since the preview that was confirmed; ``preview`` is new."""

    def __init__(self, preview: AdmissionPreview) -> None:
        super().__init__(Code.CONFIRMATION_OUTDATED, "confirmation")
        self.preview = preview


@dataclass(frozen=True)
class AdmissionDraft:
    """Prefilled values of an admission form from what the place finder knew."""

    facility_id: int | None
    birth_date: date | None
    birth_date_estimated: bool
    gender: Gender | None
    uma: bool
    legal_basis: LegalBasis


def draft(
    *,
    facility_id: int | None = None,
    age: int | None = None,
    birth_date: date | None = None,
    gender: Gender | str | None = None,
    uma: bool = False,
) -> AdmissionDraft:
    """Defaults for an admission: an estimated date of birth when only the age is known,
    the default legal basis for the youth. Unknown values stay empty."""
    if facility_id is not None and db.session.get(Facility, facility_id) is None:
        facility_id = None
    estimated = birth_date is None and age is not None and 0 <= age <= MAX_AGE
    if estimated:
        birth_date = estimated_birth_date(age, berlin_day(utc_now()))
    try:
        gender = Gender(gender) if gender else None
    except ValueError:
        gender = None
    return AdmissionDraft(facility_id, birth_date, estimated, gender, uma, default_legal_basis(uma))


# --- resolving a request --------------------------------------------------------------------


@dataclass(frozen=True)
class _Resolved:
    facility: Facility
    instant: datetime
    youth: Youth | None  # existing youth
    new_youth: CheckedYouth | None
    legal_basis: LegalBasis
    override: str | None
    reservation: Reservation | None

    @property
    def birth_date(self) -> date:
        return (self.youth or self.new_youth).birth_date

    @property
    def gender(self) -> Gender:
        return (self.youth or self.new_youth).gender

    @property
    def uma(self) -> bool:
        return (self.youth or self.new_youth).uma


def _reservation(request: AdmissionRequest) -> Reservation | None:
    if request.reservation_id is None:
        return None
    reservation = get_reservation(request.reservation_id)
    if request.facility_id is not None and reservation.facility_id != request.facility_id:
        raise RuleViolation(Code.RESERVATION_OTHER_FACILITY, "reservation_id")
    if not holds_place(reservation, utc_now()):
        raise Conflict(Code.RESERVATION_NOT_OPEN, "reservation_id")
    return reservation


def _resolve(request: AdmissionRequest) -> _Resolved:
    """Every check that needs no lock, in the order a form is read."""
    reservation = _reservation(request)
    facility_id = request.facility_id
    if facility_id is None:
        if reservation is None:
            raise BadInput(Code.MISSING, "facility_id")
        facility_id = reservation.facility_id
    target = active_facility(facility_id)
    override = reason_text(request.override_reason, "override_reason")
    given = [
        name
        for name in ("youth_id", "youth_reference", "youth")
        if getattr(request, name) not in (None, "")
    ]
    if len(given) != 1:
        raise BadInput(Code.YOUTH_CHOICE, "youth")
    instant = checked_instant(request.start, "start")
    youth = new_youth = None
    if request.youth_id is not None:
        youth = get_youth(request.youth_id)
    elif request.youth_reference:
        youth = youth_by_reference(request.youth_reference)
    else:
        new_youth = check_new_youth(request.youth, at=instant)
    if youth is not None:
        if stays.open_stay_of(youth.id) is not None:
            field = "youth_id" if request.youth_id is not None else "youth_reference"
            raise Conflict(Code.OPEN_STAY_EXISTS, field)
        if youth.birth_date > berlin_day(instant):
            raise RuleViolation(Code.ADMISSION_BEFORE_BIRTH, "start")
        if stays.find_overlap(youth.id, instant, None) is not None:
            raise Conflict(Code.OVERLAPPING_STAY, "start")
    uma = (youth or new_youth).uma
    basis = (
        code_of(LegalBasis, request.legal_basis, "legal_basis")
        if request.legal_basis
        else default_legal_basis(uma)
    )
    return _Resolved(target, instant, youth, new_youth, basis, override, reservation)


def _preview(request: AdmissionRequest, resolved: _Resolved) -> AdmissionPreview:
    """The preview of a resolved request, from the facility's state as ``admit`` will warn
    about it: at the admission instant or now, whichever is worse, with the youth's own
    reservation or absconding hold taken over by the arrival."""
    target = resolved.facility
    age = age_on(resolved.birth_date, resolved.instant)
    mismatches = profile_mismatches(target, age, resolved.gender, resolved.uma)
    held = (
        stays.held_places(resolved.youth.id, target.id, resolved.instant)
        if resolved.youth is not None
        else 0
    )
    after = worst_state(target.id, resolved.instant).after_arrivals(
        1, releasing=int(resolved.reservation is not None), releasing_held=held
    )
    warnings = capacity_warnings(target, after)
    duplicates = (
        [y.reference for y in same_file_number(resolved.new_youth.file_number)]
        if resolved.new_youth is not None
        else []
    )
    return AdmissionPreview(
        facility=target,
        legal_basis=resolved.legal_basis,
        age=age,
        mismatches=mismatches,
        warnings=warnings,
        duplicates=duplicates,
        override_error=_override_error(mismatches, resolved.override),
        confirmation=_confirmation(request, resolved, mismatches, warnings, duplicates),
    )


def _override_error(mismatches: list[Mismatch], override: str | None) -> OverrideRequired | None:
    try:
        require_override(mismatches, override)
    except OverrideRequired as error:
        return error
    return None


def _confirmation(
    request: AdmissionRequest,
    resolved: _Resolved,
    mismatches: list[Mismatch],
    warnings: list[Warning],
    duplicates: list[str],
) -> str:
    """A token for what a preview showed: the house, the person, the time, the reservation,
    and the kinds of warning. Changing any of them after seeing the warnings asks again."""
    person = (
        ["id", resolved.youth.id]
        if resolved.youth is not None
        else [
            "new",
            resolved.new_youth.birth_date.isoformat(),
            resolved.gender.value,
            resolved.uma,
            resolved.new_youth.file_number,
        ]
    )
    shown = [
        resolved.facility.id,
        person,
        request.start.isoformat() if request.start else "now",
        request.reservation_id,
        sorted(m.code.value for m in mismatches),
        sorted(w.code.value for w in warnings),
        duplicates,
    ]
    return hashlib.sha256(json.dumps(shown).encode()).hexdigest()[:20]


# --- the two services ---------------------------------------------------------------------


def preview(actor: audit.Actor, request: AdmissionRequest) -> AdmissionPreview:
    """What ``admit`` would do with this request (read only). Raises what admit raises,
    except for a missing override reason, which the preview reports instead."""
    permissions.require(actor.role, Permission.ADMIT)
    return _preview(request, _resolve(request))


def admit(actor: audit.Actor, request: AdmissionRequest) -> AdmissionResult:
    """Admit an existing or new youth into a facility; never refused for lack of places."""
    permissions.require(actor.role, Permission.ADMIT)
    target_id = request.facility_id
    if target_id is None and request.reservation_id is not None:
        target_id = _reservation(request).facility_id
    lock_facilities([] if target_id is None else [target_id])
    # Resolve under the lock: "now" then follows every admission that went before.
    resolved = _resolve(request)
    current = _preview(request, resolved)
    if request.confirmation is not None and request.confirmation != current.confirmation:
        raise ConfirmationOutdated(current)
    if current.override_error is not None:
        raise current.override_error
    if resolved.youth is not None:
        youth = resolved.youth
    else:
        youth = create_youth(actor, resolved.new_youth, at=resolved.instant)
    stay = stays.record_stay(
        actor,
        youth_id=youth.id,
        facility_id=resolved.facility.id,
        legal_basis=resolved.legal_basis,
        start_at=resolved.instant,
        override_reason=resolved.override,
    )
    stays.release_absconding_hold(youth.id, resolved.instant)
    if resolved.reservation is not None:
        _claim(resolved.reservation, stay, resolved.instant)
    warnings = record_arrival(resolved.facility, stay, resolved.instant)
    audit.record(
        actor,
        "stay.admit",
        stay,
        reason=resolved.override,
        after={
            "warnings": [w.code.value for w in warnings],
            "reservation_id": request.reservation_id,
        },
    )
    return AdmissionResult(stay=stay, warnings=warnings)


def _claim(reservation: Reservation, stay: Stay, instant: datetime) -> None:
    """The admission takes over the reservation's place (checked open under the lock)."""
    reservation.status = ReservationStatus.ADMITTED
    reservation.closed_at = max(min(instant, utc_now()), reservation.created_at)
    reservation.stay_id = stay.id
