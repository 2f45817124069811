"""The admission workflow, shared by the HTML form and the API.

An admission is one ``AdmissionRequest``. ``preview`` says what would happen (profile
mismatches, capacity warnings, possible duplicates) without writing anything; ``admit``
does it, checking everything again under the facility lock. An admission is never refused
for lack of places (an Inobhutnahme must happen): it is recorded with a warning and an
over-occupancy event in the same transaction.

Siblings are one request with several new youths (``youths``): one sibling group (a
generated code), every stay in one transaction under one facility lock, one capacity
warning and one confirmation for the group. A single admission is a group of one.

Confirmation: a preview carries a ``confirmation`` token that stands for what it showed.
An admission sent with that token is refused with ``confirmation_outdated`` (and the new
preview) when the situation under the lock differs from what was confirmed, e.g. the last
place was taken meanwhile. Sent without a token it is recorded as it is, with its warnings,
unless the preview has notices (a start more than 24 hours back or in the future, a person
of full age): those are refused with ``confirmation_required`` until confirmed.

Once only: an HTML form carries a one-time ``form_token``, spent in the transaction of the
admission (``FormSubmission``); sent again (back button) it is refused with the stay it
created. A file number or reference with an open stay is refused with that stay.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError

from placement.extensions import db
from placement.models import Facility, FormSubmission, Reservation, ReservationStatus, Stay, Youth
from placement.models.enums import Gender, LegalBasis, PlannedEndKind
from placement.services.accounts import audit, permissions
from placement.services.accounts.permissions import Permission
from placement.services.errors import BadInput, Code, Conflict, OverrideRequired, RuleViolation
from placement.services.intake import stays
from placement.services.intake.arrivals import (
    Warning,
    WarningCode,
    capacity_warnings,
    record_arrival,
    worst_state,
)
from placement.services.intake.reservations import get_reservation, holds_place
from placement.services.intake.rules import (
    MAX_AGE,
    MAX_SIBLINGS,
    Mismatch,
    Notice,
    active_facility,
    admission_instant,
    adult_notice,
    age_on,
    berlin_day,
    code_of,
    default_legal_basis,
    estimated_birth_date,
    profile_mismatches,
    reason_text,
    require_override,
    start_notices,
)
from placement.services.intake.youths import (
    CheckedYouth,
    NewYouth,
    check_new_youth,
    create_youth,
    generate_reference,
    generate_sibling_group,
    get_youth,
    same_file_number,
    youth_by_reference,
)
from placement.services.occupancy.locking import lock_facilities
from placement.timeutil import now as utc_now


@dataclass(frozen=True)
class AdmissionRequest:
    """One admission as asked for. The youth is an existing one (``youth_id`` or its
    pseudonymous ``youth_reference``), a new one (``youth``), or several new siblings
    admitted together (``youths``). Without a facility the reservation's is used; without
    a legal basis the default for the youth and facility. ``form_token`` is the one-time
    token of the form that sent it (HTML)."""

    facility_id: int | None = None
    legal_basis: LegalBasis | str | None = None
    youth_id: int | None = None
    youth_reference: str | None = None
    youth: NewYouth | None = None
    youths: tuple[NewYouth, ...] = ()
    start: datetime | None = None
    reservation_id: int | None = None
    override_reason: str | None = None
    confirmation: str | None = None
    form_token: str | None = None
    # The local day the stay is planned to end and why (the forecast counts it out then).
    planned_end_on: date | None = None
    planned_end_kind: PlannedEndKind | str | None = None


@dataclass(frozen=True)
class MemberPreview:
    """One youth of an admission: age, profile mismatches, notices, possible duplicates."""

    prefix: str  # the youth's field names start so: "youth.", "youths[1]."
    reference: str | None  # existing youth's reference, or the typed one
    age: int
    mismatches: list[Mismatch]
    notices: list[Notice]
    duplicates: list[str]


@dataclass(frozen=True)
class AdmissionPreview:
    """What an admission would do. ``members`` holds one entry per youth; ``age``,
    ``mismatches`` and ``duplicates`` are the first youth's and the group's in one."""

    facility: Facility
    legal_basis: LegalBasis
    members: list[MemberPreview]
    warnings: list[Warning]
    notices: list[Notice]  # the start's and every member's
    override_error: OverrideRequired | None  # what admit would refuse: no reason given
    confirmation: str

    @property
    def age(self) -> int:
        return self.members[0].age

    @property
    def mismatches(self) -> list[Mismatch]:
        return _unique(m for member in self.members for m in member.mismatches)

    @property
    def duplicates(self) -> list[str]:
        return _unique(d for member in self.members for d in member.duplicates)

    @property
    def group(self) -> bool:
        return len(self.members) > 1

    @property
    def over_capacity(self) -> bool:
        """Whether the facility is (or gets) over its limit, so the admission is reported."""
        return any(w.code != WarningCode.ABOVE_USABLE for w in self.warnings)

    @property
    def override_missing(self) -> bool:
        return self.override_error is not None

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.mismatches or self.warnings or self.duplicates or self.notices)


def _unique(items) -> list:
    seen: list = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


@dataclass
class AdmissionResult:
    stay: Stay  # the first youth's
    warnings: list[Warning] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)


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
    birth_date_estimated: bool  # precheck "estimated": derived from an age, umA youth
    birth_date_from_age: bool  # computed from the age the place finder had (to check)
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
    """Defaults for an admission: a date of birth computed from the age when only the age
    is known, marked as an estimate (age assessment pending) only for an unaccompanied
    minor, whose papers are what is missing; a typed date is never an estimate. The
    default legal basis for the youth. Unknown values stay empty."""
    if facility_id is not None and db.session.get(Facility, facility_id) is None:
        facility_id = None
    from_age = birth_date is None and age is not None and 0 <= age <= MAX_AGE
    if from_age:
        birth_date = estimated_birth_date(age, berlin_day(utc_now()))
    estimated = from_age and bool(uma)
    try:
        gender = Gender(gender) if gender else None
    except ValueError:
        gender = None
    return AdmissionDraft(
        facility_id, birth_date, estimated, from_age, gender, uma, default_legal_basis(uma)
    )


def new_form_token() -> str:
    """A one-time token for a rendered admission form."""
    return secrets.token_urlsafe(24)


def suggested_reference() -> str:
    """The generated pseudonymous reference an admission form offers as its default."""
    return generate_reference(utc_now())


# --- resolving a request --------------------------------------------------------------------


@dataclass(frozen=True)
class _Member:
    prefix: str
    youth: Youth | None  # existing youth
    new_youth: CheckedYouth | None

    @property
    def person(self) -> Youth | CheckedYouth:
        return self.youth or self.new_youth


@dataclass(frozen=True)
class _Resolved:
    facility: Facility
    instant: datetime
    members: list[_Member]
    legal_basis: LegalBasis
    override: str | None
    reservation: Reservation | None
    start_notices: list[Notice]
    planned_end_on: date | None = None
    planned_end_kind: PlannedEndKind | None = None


def _reservation(request: AdmissionRequest) -> Reservation | None:
    if request.reservation_id is None:
        return None
    reservation = get_reservation(request.reservation_id)
    if request.facility_id is not None and reservation.facility_id != request.facility_id:
        raise RuleViolation(Code.RESERVATION_OTHER_FACILITY, "reservation_id")
    if not holds_place(reservation, utc_now()):
        raise Conflict(Code.RESERVATION_NOT_OPEN, "reservation_id")
    return reservation


def spent_form(token: str | None) -> FormSubmission | None:
    """The record of an admission form already sent with this one-time token."""
    return db.session.get(FormSubmission, token) if token else None


def _check_form_token(token: str | None) -> None:
    spent = spent_form(token)
    if spent is not None:
        raise Conflict(Code.FORM_ALREADY_SUBMITTED, "form_token", stay_id=spent.stay_id)


def _spend_form_token(actor: audit.Actor, token: str | None) -> FormSubmission | None:
    """Spend a one-time form token before anything is written. The facility lock serialises
    copies of a form sent to one facility; copies sent at once to different facilities
    meet at the token's primary key, and the later one is refused like a resend."""
    if not token:
        return None
    submission = FormSubmission(token=token, used_at=utc_now(), user_id=actor.user_id)
    try:
        with db.session.begin_nested():
            db.session.add(submission)
    except IntegrityError:
        _check_form_token(token)
        raise
    return submission


def _planned_end(
    request: AdmissionRequest, instant: datetime, current: datetime
) -> tuple[date | None, PlannedEndKind | None]:
    """The planned end as the stay will carry it: a kind only with a day, the day not
    before the admission's local day nor before today."""
    kind = (
        code_of(PlannedEndKind, request.planned_end_kind, "planned_end_kind")
        if request.planned_end_kind
        else None
    )
    day = request.planned_end_on
    if day is None:
        if kind is not None:
            raise RuleViolation(Code.PLANNED_END_KIND_WITHOUT_DATE, "planned_end_on")
        return None, None
    if day < berlin_day(instant):
        raise RuleViolation(Code.PLANNED_END_BEFORE_ADMISSION, "planned_end_on")
    if day < berlin_day(current):
        raise RuleViolation(Code.PLANNED_END_IN_PAST, "planned_end_on")
    return day, kind


def _resolve(request: AdmissionRequest) -> _Resolved:
    """Every check that needs no lock, in the order a form is read."""
    _check_form_token(request.form_token)
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
        for name in ("youth_id", "youth_reference", "youth", "youths")
        if getattr(request, name) not in (None, "", ())
    ]
    if len(given) != 1:
        raise BadInput(Code.YOUTH_CHOICE, "youths" if request.youths else "youth")
    if len(request.youths) > MAX_SIBLINGS:
        raise RuleViolation(Code.SIBLINGS_OUT_OF_RANGE, "youths", max=MAX_SIBLINGS)
    current = utc_now()
    instant = admission_instant(request.start, current)
    members = []
    if request.youth_id is not None or request.youth_reference:
        if request.youth_id is not None:
            youth, name = get_youth(request.youth_id), "youth_id"
        else:
            youth, name = youth_by_reference(request.youth_reference), "youth_reference"
        open_stay = stays.open_stay_of(youth.id)
        if open_stay is not None:
            raise Conflict(Code.OPEN_STAY_EXISTS, name, stay_id=open_stay.id)
        if youth.birth_date > berlin_day(instant):
            raise RuleViolation(Code.ADMISSION_BEFORE_BIRTH, "start")
        if stays.find_overlap(youth.id, instant, None) is not None:
            raise Conflict(Code.OVERLAPPING_STAY, "start")
        members.append(_Member("youth.", youth, None))
    else:
        typed = (
            [("youth.", request.youth)]
            if request.youth is not None
            else [(f"youths[{index}].", youth) for index, youth in enumerate(request.youths)]
        )
        references: set[str] = set()
        for prefix, youth in typed:
            checked = check_new_youth(youth, at=instant, prefix=prefix)
            if checked.reference is not None:
                if checked.reference.lower() in references:
                    raise Conflict(
                        Code.DUPLICATE_REFERENCE, f"{prefix}reference", reference=checked.reference
                    )
                references.add(checked.reference.lower())
            members.append(_Member(prefix, None, checked))
    planned_on, planned_kind = _planned_end(request, instant, current)
    uma = members[0].person.uma
    basis = (
        code_of(LegalBasis, request.legal_basis, "legal_basis")
        if request.legal_basis
        else default_legal_basis(uma)
    )
    return _Resolved(
        target,
        instant,
        members,
        basis,
        override,
        reservation,
        start_notices(request.start, instant, current),
        planned_on,
        planned_kind,
    )


def _member_preview(resolved: _Resolved, member: _Member) -> MemberPreview:
    person = member.person
    age = age_on(person.birth_date, resolved.instant)
    duplicates = (
        [y.reference for y in same_file_number(member.new_youth.file_number)]
        if member.new_youth is not None
        else []
    )
    return MemberPreview(
        prefix=member.prefix,
        reference=person.reference,
        age=age,
        mismatches=profile_mismatches(resolved.facility, age, person.gender, person.uma),
        notices=adult_notice(age, f"{member.prefix}birth_date"),
        duplicates=duplicates,
    )


def _preview(request: AdmissionRequest, resolved: _Resolved) -> AdmissionPreview:
    """The preview of a resolved request, from the facility's state as ``admit`` will warn
    about it: at the admission instant or now, whichever is worse, with the youths' own
    reservation or absconding hold taken over by the arrival."""
    target = resolved.facility
    members = [_member_preview(resolved, member) for member in resolved.members]
    held = sum(
        stays.held_places(member.youth.id, target.id, resolved.instant)
        for member in resolved.members
        if member.youth is not None
    )
    releasing = resolved.reservation.places if resolved.reservation is not None else 0
    after = worst_state(target.id, resolved.instant).after_arrivals(
        len(members), releasing=releasing, releasing_held=held
    )
    warnings = capacity_warnings(target, after)
    mismatches = _unique(m for member in members for m in member.mismatches)
    notices = [*resolved.start_notices, *(n for member in members for n in member.notices)]
    return AdmissionPreview(
        facility=target,
        legal_basis=resolved.legal_basis,
        members=members,
        warnings=warnings,
        notices=notices,
        override_error=_override_error(mismatches, resolved.override),
        confirmation=_confirmation(request, resolved, members, warnings, notices),
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
    members: list[MemberPreview],
    warnings: list[Warning],
    notices: list[Notice],
) -> str:
    """A token for what a preview showed: the house, the persons, the time, the reservation,
    and the kinds of warning and notice. Changing any of them after seeing the warnings
    asks again."""
    persons = [
        ["id", member.youth.id]
        if member.youth is not None
        else [
            "new",
            member.new_youth.birth_date.isoformat(),
            member.new_youth.gender.value,
            member.new_youth.uma,
            member.new_youth.file_number,
        ]
        for member in resolved.members
    ]
    shown = [
        resolved.facility.id,
        persons[0] if len(persons) == 1 else persons,
        request.start.isoformat() if request.start else "now",
        request.reservation_id,
        sorted({m.code.value for member in members for m in member.mismatches}),
        sorted(w.code.value for w in warnings),
        [member.duplicates for member in members],
        sorted(f"{n.code.value}@{n.field}" for n in notices),
        [
            resolved.planned_end_on.isoformat() if resolved.planned_end_on else None,
            resolved.planned_end_kind.value if resolved.planned_end_kind else None,
        ],
    ]
    return hashlib.sha256(json.dumps(shown).encode()).hexdigest()[:20]


# --- the two services ---------------------------------------------------------------------


def preview(actor: audit.Actor, request: AdmissionRequest) -> AdmissionPreview:
    """What ``admit`` would do with this request (read only). Raises what admit raises,
    except for a missing override reason, which the preview reports instead."""
    permissions.require(actor.role, Permission.ADMIT)
    return _preview(request, _resolve(request))


def admit(actor: audit.Actor, request: AdmissionRequest) -> AdmissionResult:
    """Admit an existing youth, a new one or new siblings together into a facility, in one
    transaction; never refused for lack of places."""
    permissions.require(actor.role, Permission.ADMIT)
    target_id = request.facility_id
    if target_id is None and request.reservation_id is not None:
        target_id = _reservation(request).facility_id
    lock_facilities([] if target_id is None else [target_id])
    # Resolve under the lock: "now" then follows every admission that went before, and a
    # form sent twice at once finds its token spent by the first.
    resolved = _resolve(request)
    current = _preview(request, resolved)
    if request.confirmation is not None and request.confirmation != current.confirmation:
        raise ConfirmationOutdated(current)
    if current.override_error is not None:
        raise current.override_error
    if request.confirmation is None and current.notices:
        first = current.notices[0]
        raise RuleViolation(Code.CONFIRMATION_REQUIRED, first.field, notices=current.notices)
    submission = _spend_form_token(actor, request.form_token)
    group = _sibling_group(resolved)
    admitted: list[Stay] = []
    for member in resolved.members:
        new_youth = member.youth is None
        if not new_youth:
            youth = member.youth
        else:
            checked = member.new_youth
            if group is not None and checked.sibling_group is None:
                checked = replace(checked, sibling_group=group)
            youth = create_youth(actor, checked, at=resolved.instant)
        stay = stays.record_stay(
            actor,
            youth_id=youth.id,
            facility_id=resolved.facility.id,
            legal_basis=resolved.legal_basis,
            start_at=resolved.instant,
            override_reason=resolved.override,
            new_youth=new_youth,
        )
        if resolved.planned_end_on is not None:
            stay.planned_end_on = resolved.planned_end_on
            stay.planned_end_kind = resolved.planned_end_kind
            stay.planned_end_recorded_at = utc_now()
        if not new_youth:  # a new youth has no place held for them
            stays.release_absconding_hold(youth.id, resolved.instant)
        admitted.append(stay)
    first = admitted[0]
    if resolved.reservation is not None:
        _claim(resolved.reservation, first, resolved.instant)
    # One warning and one over-occupancy event for the group, once every stay counts.
    warnings = record_arrival(resolved.facility, first, resolved.instant)
    if submission is not None:
        submission.stay_id = first.id
    after: dict = {
        "warnings": [w.code.value for w in warnings],
        "reservation_id": request.reservation_id,
    }
    if resolved.planned_end_on is not None:
        after["planned_end_on"] = resolved.planned_end_on.isoformat()
        after["planned_end_kind"] = (
            resolved.planned_end_kind.value if resolved.planned_end_kind else None
        )
    if current.notices:  # what was confirmed: a backdated start, a person of full age
        after["confirmed"] = sorted({n.code.value for n in current.notices})
    if group is not None:
        after.update(sibling_group=group, group_size=len(admitted))
    for stay in admitted:
        audit.record(actor, "stay.admit", stay, reason=resolved.override, after=after)
    db.session.flush()
    return AdmissionResult(stay=first, warnings=warnings, stays=admitted)


def _sibling_group(resolved: _Resolved) -> str | None:
    """The sibling group of new siblings admitted together: the typed code if any (the
    first one typed), else a generated one. None for a single youth."""
    news = [m.new_youth for m in resolved.members if m.new_youth is not None]
    if len(news) < 2:
        return None
    typed = next((y.sibling_group for y in news if y.sibling_group), None)
    return typed or generate_sibling_group(resolved.instant)


def _claim(reservation: Reservation, stay: Stay, instant: datetime) -> None:
    """The admission takes over the reservation's places (checked open under the lock)."""
    reservation.status = ReservationStatus.ADMITTED
    reservation.closed_at = max(min(instant, utc_now()), reservation.created_at)
    reservation.stay_id = stay.id
