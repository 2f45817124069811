"""Youth records: creation with the checks a night intake needs, and finding a record."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from placement.extensions import db
from placement.models import Stay, Youth
from placement.models.enums import AgeAssessment, Gender
from placement.services.accounts import audit
from placement.services.errors import BadInput, Code, Conflict, NotFound, RuleViolation
from placement.services.intake.rules import (
    MAX_AGE,
    MAX_FILE_NUMBER_LENGTH,
    MAX_REFERENCE_LENGTH,
    MAX_SIBLING_GROUP_LENGTH,
    age_on,
    berlin_day,
    bounded_text,
    code_of,
    estimated_birth_date,
)

FIELD = "youth."  # a new youth's fields are named youth.<name> (the API nests them so)


@dataclass(frozen=True)
class NewYouth:
    """A youth as typed in. Give ``birth_date`` (``estimated`` when it is an estimate) or
    only the ``age``, from which an estimated date of birth is recorded."""

    birth_date: date | None = None
    gender: Gender | str | None = None
    uma: bool = False
    estimated: bool = False
    age: int | None = None
    reference: str | None = None
    file_number: str | None = None
    sibling_group: str | None = None
    age_assessment: AgeAssessment | str | None = None


@dataclass(frozen=True)
class CheckedYouth:
    """A typed-in youth after every check, ready to be recorded."""

    birth_date: date
    estimated: bool
    gender: Gender
    uma: bool
    reference: str | None  # None: to be generated
    file_number: str | None
    sibling_group: str | None
    age_assessment: AgeAssessment


def generate_reference(instant: datetime) -> str:
    """A pseudonymous reference such as IO-2026-7F3KQ2 (no personal data in it)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    while True:
        code = "".join(secrets.choice(alphabet) for _ in range(6))
        reference = f"IO-{berlin_day(instant).year}-{code}"
        if not db.session.scalar(select(Youth.id).where(Youth.reference == reference)):
            return reference


def generate_sibling_group(instant: datetime) -> str:
    """A sibling group code such as G-2026-7F3K for siblings admitted together."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    while True:
        code = "".join(secrets.choice(alphabet) for _ in range(4))
        group = f"G-{berlin_day(instant).year}-{code}"
        if not db.session.scalar(select(Youth.id).where(Youth.sibling_group == group)):
            return group


# A word of a personal name: letters (any script), inner hyphens and apostrophes; no digits.
_NAME_WORD = re.compile(r"^[^\W\d_]+(?:['’-][^\W\d_]+)*\.?$")


def looks_like_name(text: str) -> bool:
    """Whether a pseudonym field holds what looks like a personal name ("Mustermann, Max",
    "Max Mustermann", "Müller-Lüdenscheidt, Anna-Lena") rather than a code ("IO-2026-17",
    "UMA 2026 17", "K7", "LE-ABC123"). Codes carry digits or are a single word; names are
    two to five words of letters, or a comma between letters."""
    if any(ch.isdigit() for ch in text):
        return False
    words = [w for w in re.split(r"[\s,]+", text.strip()) if w]
    if not all(_NAME_WORD.match(w) for w in words) or sum(len(w) for w in words) < 4:
        return False
    return 2 <= len(words) <= 5


def checked_reference(value: str | None, field: str) -> str | None:
    """A pseudonymous reference as typed: bounded, never a personal name, not taken."""
    reference = bounded_text(value, field, MAX_REFERENCE_LENGTH)
    if reference is not None and looks_like_name(reference):
        raise RuleViolation(Code.REFERENCE_LOOKS_LIKE_NAME, field)
    return reference


def check_new_youth(data: NewYouth, *, at: datetime, prefix: str = FIELD) -> CheckedYouth:
    """Check a typed-in youth against the admission instant ``at``; errors name the field
    ``prefix`` + name (``youth.birth_date``, ``youths[1].birth_date``)."""
    FIELD = prefix  # noqa: N806 - the prefix of this youth's field names
    today = berlin_day(at)
    estimated = data.estimated
    if data.birth_date is not None:
        birth_date = data.birth_date
    elif data.age is not None:
        if not 0 <= data.age <= MAX_AGE:
            raise RuleViolation(Code.AGE_OUT_OF_RANGE, f"{FIELD}age", max=MAX_AGE)
        birth_date, estimated = estimated_birth_date(data.age, today), True
    else:
        raise BadInput(Code.BIRTH_DATE_REQUIRED, f"{FIELD}birth_date")
    if birth_date > today:
        raise RuleViolation(Code.BIRTH_DATE_IN_FUTURE, f"{FIELD}birth_date")
    if age_on(birth_date, at) > MAX_AGE:
        raise RuleViolation(Code.TOO_OLD, f"{FIELD}birth_date", max=MAX_AGE)
    if data.gender is None or data.gender == "":
        raise BadInput(Code.GENDER_REQUIRED, f"{FIELD}gender")
    try:
        gender = Gender(data.gender)
    except ValueError as exc:
        allowed = ", ".join(g.value for g in Gender)
        raise RuleViolation(Code.UNKNOWN_VALUE, f"{FIELD}gender", allowed=allowed) from exc
    if data.age_assessment is not None:
        assessment = code_of(AgeAssessment, data.age_assessment, f"{FIELD}age_assessment")
    else:
        assessment = AgeAssessment.PENDING if estimated else AgeAssessment.DOCUMENTED
    reference = checked_reference(data.reference, f"{FIELD}reference")
    if reference is not None:
        taken = find_by_reference(reference)
        if taken is not None:
            open_stay = _open_stay_id(taken.id)
            if open_stay is not None:
                raise Conflict(Code.OPEN_STAY_EXISTS, f"{FIELD}reference", stay_id=open_stay)
            raise Conflict(Code.DUPLICATE_REFERENCE, f"{FIELD}reference", reference=reference)
    file_number = bounded_text(data.file_number, f"{FIELD}file_number", MAX_FILE_NUMBER_LENGTH)
    if file_number is not None:
        for other in same_file_number(file_number):
            open_stay = _open_stay_id(other.id)
            if open_stay is not None:
                stay = db.session.get(Stay, open_stay)
                raise Conflict(
                    Code.FILE_NUMBER_OPEN_STAY,
                    f"{FIELD}file_number",
                    stay_id=open_stay,
                    file_number=file_number,
                    reference=other.reference,
                    facility=stay.facility.name,
                )
    sibling_group = bounded_text(
        data.sibling_group, f"{FIELD}sibling_group", MAX_SIBLING_GROUP_LENGTH
    )
    return CheckedYouth(
        birth_date=birth_date,
        estimated=estimated,
        gender=gender,
        uma=bool(data.uma),
        reference=reference,
        file_number=file_number,
        sibling_group=sibling_group,
        age_assessment=assessment,
    )


def create_youth(actor: audit.Actor, data: CheckedYouth, *, at: datetime) -> Youth:
    """Record a checked youth; ``at`` is the admission instant (for the reference)."""
    youth = Youth(
        reference=data.reference or generate_reference(at),
        file_number=data.file_number,
        birth_date=data.birth_date,
        birth_date_estimated=data.estimated,
        age_assessment=data.age_assessment,
        gender=data.gender,
        uma=data.uma,
        sibling_group=data.sibling_group,
    )
    db.session.add(youth)
    audit.record(actor, "youth.create", youth, after=audit.snapshot(youth))
    return youth


def get_youth(youth_id: int, field: str = "youth_id") -> Youth:
    youth = db.session.get(Youth, youth_id)
    if youth is None:
        raise NotFound(Code.UNKNOWN_YOUTH, field)
    return youth


def find_by_reference(reference: str) -> Youth | None:
    """The youth with this pseudonymous reference (case does not matter)."""
    return db.session.scalar(
        select(Youth).where(func.lower(Youth.reference) == reference.strip().lower())
    )


def youth_by_reference(reference: str, field: str = "youth_reference") -> Youth:
    youth = find_by_reference(reference)
    if youth is None:
        raise NotFound(Code.UNKNOWN_REFERENCE, field)
    return youth


def _open_stay_id(youth_id: int) -> int | None:
    """The id of the youth's open stay (one without an end), if any."""
    return db.session.scalar(
        select(Stay.id).where(Stay.youth_id == youth_id, Stay.end_at.is_(None)).limit(1)
    )


def same_file_number(file_number: str | None) -> list[Youth]:
    """Youths already recorded under this file number (a new record may be a duplicate)."""
    if not file_number:
        return []
    return db.session.scalars(
        select(Youth).where(Youth.file_number == file_number.strip()).order_by(Youth.reference)
    ).all()
