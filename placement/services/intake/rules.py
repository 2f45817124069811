"""Rules shared by the intake workflows: instants, closed vocabularies, reasons, ages,
the facility profile and the defaults of an admission."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from flask import current_app

from placement.extensions import db
from placement.models import Facility
from placement.models.enums import Gender, LegalBasis, UmaPolicy
from placement.models.youth import age_in_years
from placement.services.errors import BadInput, Code, NotFound, OverrideRequired, RuleViolation
from placement.timeutil import BERLIN
from placement.timeutil import now as utc_now

MIN_REASON_LENGTH = 3
MAX_AGE = 27
# Lengths of the free-text fields (their columns' sizes); forms and API schemas show them.
MAX_REASON_LENGTH = 500
MAX_REFERENCE_LENGTH = 40
MAX_FILE_NUMBER_LENGTH = 60
MAX_SIBLING_GROUP_LENGTH = 40
MAX_NOTE_LENGTH = 200
MAX_SIBLINGS = 12  # children found a place or admitted together
E = TypeVar("E", bound=StrEnum)


def checked_instant(value: datetime | None, field: str) -> datetime:
    """The given instant (default now), refused when it lies noticeably in the future."""
    current = utc_now()
    if value is None:
        return current
    tolerance = timedelta(minutes=current_app.config["MAX_FUTURE_MINUTES"])
    if value > current + tolerance:
        raise RuleViolation(Code.INSTANT_IN_FUTURE, field)
    return value


def code_of(enum_cls: type[E], value: E | str, field: str) -> E:
    """A code of a closed vocabulary; an unknown one names the field and the allowed codes."""
    try:
        return enum_cls(value)
    except ValueError as exc:
        allowed = ", ".join(member.value for member in enum_cls)
        raise RuleViolation(Code.UNKNOWN_VALUE, field, allowed=allowed) from exc


def bounded_text(value: str | None, field: str, limit: int) -> str | None:
    """A free-text value, stripped; None when empty; refused when longer than ``limit``."""
    text = (value or "").strip()
    if len(text) > limit:
        raise BadInput(Code.TOO_LONG, field, max=limit)
    return text or None


def reason_text(reason: str | None, field: str) -> str | None:
    """A short free-text reason, stripped; None when empty."""
    text = bounded_text(reason, field, MAX_REASON_LENGTH)
    if text is not None and len(text) < MIN_REASON_LENGTH:
        raise RuleViolation(Code.REASON_TOO_SHORT, field)
    return text


def berlin_day(instant: datetime) -> date:
    return instant.astimezone(BERLIN).date()


def age_on(birth_date: date, instant: datetime) -> int:
    """Whole years of age at ``instant`` (Berlin calendar day)."""
    return age_in_years(birth_date, berlin_day(instant))


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (28 February for a 29th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def estimated_birth_date(age: int, on: date) -> date:
    """The middle of the birth dates at which a youth is ``age`` on ``on``: the estimate
    recorded when only the age is known (no papers)."""
    earliest = years_before(on, age + 1) + timedelta(days=1)
    latest = years_before(on, age)
    return earliest + timedelta(days=(latest - earliest).days // 2)


def default_legal_basis(uma: bool) -> LegalBasis:
    """The legal basis an admission starts from: an unaccompanied minor is taken into
    vorläufige Inobhutnahme (§42a), anyone else for urgent danger (§42 (1) 2)."""
    return LegalBasis.P42A if uma else LegalBasis.P42_1_2


def facility(facility_id: int, field: str = "facility_id") -> Facility:
    facility = db.session.get(Facility, facility_id)
    if facility is None:
        raise NotFound(Code.UNKNOWN_FACILITY, field)
    return facility


def active_facility(facility_id: int, field: str = "facility_id") -> Facility:
    """The facility, which must be open for admissions."""
    found = facility(facility_id, field)
    if not found.active:
        raise RuleViolation(Code.FACILITY_INACTIVE, field)
    return found


class MismatchCode(StrEnum):
    AGE = "age"
    GENDER = "gender"
    UMA_ONLY = "uma_only"
    NO_UMA = "no_uma"


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Why a youth is outside a facility's profile."""

    code: MismatchCode
    params: dict[str, Any] = field(default_factory=dict)


def profile_mismatches(
    facility: Facility, age: int, gender: Gender | str, uma: bool
) -> list[Mismatch]:
    """How a youth of this profile falls outside the facility's profile (empty: fits)."""
    found = []
    if not facility.age_min <= age <= facility.age_max:
        found.append(
            Mismatch(
                MismatchCode.AGE, {"age": age, "min": facility.age_min, "max": facility.age_max}
            )
        )
    if str(gender) not in facility.genders:
        found.append(Mismatch(MismatchCode.GENDER))
    if facility.uma_policy == UmaPolicy.ONLY and not uma:
        found.append(Mismatch(MismatchCode.UMA_ONLY))
    if facility.uma_policy == UmaPolicy.NONE and uma:
        found.append(Mismatch(MismatchCode.NO_UMA))
    return found


ADULT_AGE = 18
BACKDATE_HOURS = 24  # an admission starting further back is confirmed with the date spelt out


class NoticeCode(StrEnum):
    START_BACKDATED = "start_backdated"
    START_IN_FUTURE = "start_in_future"
    ADULT = "adult"


@dataclass(frozen=True, slots=True)
class Notice:
    """Something an admission asks to be confirmed (it is not refused for it): a start far
    in the past or in the future, a person of full age. ``field`` is where it applies."""

    code: NoticeCode
    field: str
    params: dict[str, Any] = field(default_factory=dict)


def start_notices(
    requested: datetime | None, instant: datetime, current: datetime, field: str = "start"
) -> list[Notice]:
    """A start typed more than BACKDATE_HOURS back, or later than the clock tolerance, is
    confirmed with the date spelt out (a slip of the day or month is easy at night)."""
    if requested is None:
        return []
    tolerance = timedelta(minutes=current_app.config["MAX_FUTURE_MINUTES"])
    if instant < current - timedelta(hours=BACKDATE_HOURS):
        behind = current - instant
        return [Notice(NoticeCode.START_BACKDATED, field, _span(behind) | {"at": instant})]
    if instant > current + tolerance:
        return [
            Notice(NoticeCode.START_IN_FUTURE, field, _span(instant - current) | {"at": instant})
        ]
    return []


def admission_instant(value: datetime | None, current: datetime, field: str = "start") -> datetime:
    """The start of an admission (default now). A start announced a few hours ahead is
    confirmed (``start_notices``); more than BACKDATE_HOURS ahead it is refused, because
    it is a slip of the date, and a place for later is a reservation."""
    if value is None:
        return current
    if value > current + timedelta(hours=BACKDATE_HOURS):
        raise RuleViolation(Code.INSTANT_IN_FUTURE, field)
    return value


def _span(delta: timedelta) -> dict[str, int]:
    days = delta.days
    return {"days": days, "hours": round(delta.total_seconds() / 3600)}


def adult_notice(age: int, field: str) -> list[Notice]:
    """Of full age: §42 is for minors, so this is §41 help for young adults or an age
    assessment that found the person adult, and it is confirmed as such."""
    return [Notice(NoticeCode.ADULT, field, {"age": age})] if age >= ADULT_AGE else []


def require_override(mismatches: list[Mismatch], override: str | None) -> None:
    """An admission outside the profile needs a reason (it is never refused otherwise)."""
    if mismatches and override is None:
        raise OverrideRequired(Code.OVERRIDE_REQUIRED, "override_reason", mismatches=mismatches)


def absconded_hold_days() -> int:
    return int(current_app.config["ABSCONDED_HOLD_DAYS"])
