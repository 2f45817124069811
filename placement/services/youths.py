"""Youth records: creation with the checks a night intake needs."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from placement.extensions import db
from placement.models import Youth
from placement.models.enums import AgeAssessment, Gender
from placement.services import audit
from placement.services.errors import NotFound, PlacementError
from placement.services.places import age_on
from placement.timeutil import BERLIN

MAX_AGE = 27


@dataclass(frozen=True)
class NewYouth:
    """A youth as typed in: ``birth_date`` is an estimate when ``estimated`` is set."""

    birth_date: date
    gender: Gender | str
    uma: bool
    estimated: bool = False
    reference: str | None = None
    file_number: str | None = None
    sibling_group: str | None = None
    age_assessment: AgeAssessment | str | None = None


class DuplicateReference(PlacementError):
    status_code = 409


def generate_reference(instant: datetime) -> str:
    """A pseudonymous reference such as IO-2026-7F3KQ2 (no personal data in it)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    while True:
        code = "".join(secrets.choice(alphabet) for _ in range(6))
        reference = f"IO-{instant.astimezone(BERLIN).year}-{code}"
        if not db.session.scalar(select(Youth.id).where(Youth.reference == reference)):
            return reference


def validate_new_youth(data: NewYouth, *, at: datetime, prefix: str = "youth.") -> str | None:
    """Check a typed-in youth against the admission instant ``at``; returns the cleaned
    reference (None: to be generated). Field names in errors carry ``prefix``."""
    today = at.astimezone(BERLIN).date()
    if data.birth_date > today:
        raise PlacementError("Das Geburtsdatum liegt in der Zukunft.", field=f"{prefix}birth_date")
    if age_on(data.birth_date, at) > MAX_AGE:
        raise PlacementError(
            f"Das Geburtsdatum ergibt ein Alter über {MAX_AGE} Jahren.",
            field=f"{prefix}birth_date",
        )
    try:
        Gender(data.gender)
    except ValueError as exc:
        raise PlacementError(
            "Geschlecht: 'f', 'm' oder 'd' angeben.", field=f"{prefix}gender"
        ) from exc
    reference = (data.reference or "").strip() or None
    if reference is None:
        return None
    if len(reference) > 40:
        raise PlacementError(
            "Das Kürzel ist zu lang (höchstens 40 Zeichen).", field=f"{prefix}reference"
        )
    if db.session.scalar(select(Youth.id).where(func.lower(Youth.reference) == reference.lower())):
        raise DuplicateReference(
            f"Das Kürzel „{reference}“ ist bereits vergeben; bitte die vorhandene Person wählen.",
            field=f"{prefix}reference",
        )
    return reference


def create_youth(actor: audit.Actor, data: NewYouth, *, at: datetime) -> Youth:
    """Create a youth record after ``validate_new_youth``; ``at`` is the admission instant."""
    reference = validate_new_youth(data, at=at) or generate_reference(at)
    gender = Gender(data.gender)
    if data.age_assessment is not None:
        assessment = AgeAssessment(data.age_assessment)
    else:
        assessment = AgeAssessment.PENDING if data.estimated else AgeAssessment.DOCUMENTED
    youth = Youth(
        reference=reference,
        file_number=(data.file_number or "").strip() or None,
        birth_date=data.birth_date,
        birth_date_estimated=data.estimated,
        age_assessment=assessment,
        gender=gender,
        uma=data.uma,
        sibling_group=(data.sibling_group or "").strip() or None,
    )
    db.session.add(youth)
    audit.record(actor, "youth.create", youth, after=audit.snapshot(youth))
    return youth


def get_youth(youth_id: int, field: str = "youth_id") -> Youth:
    youth = db.session.get(Youth, youth_id)
    if youth is None:
        raise NotFound("Diese Person ist nicht bekannt.", field=field)
    return youth


def find_by_reference(reference: str) -> Youth | None:
    return db.session.scalar(
        select(Youth).where(func.lower(Youth.reference) == reference.strip().lower())
    )
