"""Search youths by pseudonymous reference or file number: exact or prefix, ignoring case,
exact matches first. The search is audited with its query, never with its results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select

from placement.extensions import db
from placement.models import Stay, Youth
from placement.models.enums import EndReason
from placement.services import paging
from placement.services.accounts import audit
from placement.services.accounts.permissions import PersonScope
from placement.services.errors import BadInput, Code, RuleViolation
from placement.services.intake.rules import MAX_FILE_NUMBER_LENGTH, age_on
from placement.services.people import scope

MAX_QUERY_LENGTH = MAX_FILE_NUMBER_LENGTH


@dataclass(frozen=True)
class YouthHit:
    """A youth found, with the stay that says where they are (open, or the latest)."""

    youth: Youth
    exact: bool
    age: int
    stay: Stay | None  # the open stay, else the latest one
    status: str  # "placed", "absconded" (place still held), "ended", "none"


def _like_prefix(text: str) -> str:
    """A LIKE pattern matching values that begin with ``text`` (wildcards escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def checked_query(query: str | None) -> str:
    text = (query or "").strip()
    if not text:
        raise RuleViolation(Code.SEARCH_QUERY_REQUIRED, "q")
    if len(text) > MAX_QUERY_LENGTH:
        raise BadInput(Code.TOO_LONG, "q", max=MAX_QUERY_LENGTH)
    return text


def status_of(stay: Stay | None, instant: datetime) -> str:
    if stay is None:
        return "none"
    if stay.end_at is None:
        return "placed"
    if (
        stay.end_reason == EndReason.ABSCONDED
        and stay.place_held_until is not None
        and stay.place_held_until > instant
    ):
        return "absconded"
    return "ended"


def search_youths(
    actor: audit.Actor,
    query: str | None,
    instant: datetime,
    *,
    page: int | None = None,
    page_size: int | None = None,
) -> paging.Page[YouthHit]:
    """Youths whose reference or file number is ``query`` or begins with it (case is
    ignored), exact matches first, then by reference; within the actor's scope."""
    visible = scope.person_scope(actor)
    text = checked_query(query)
    number, size = paging.checked_paging(page, page_size)
    lowered = text.lower()
    pattern = _like_prefix(lowered)
    reference, file_number = func.lower(Youth.reference), func.lower(Youth.file_number)
    matches = or_(reference.like(pattern, escape="\\"), file_number.like(pattern, escape="\\"))
    exact = or_(reference == lowered, file_number == lowered)
    base = scope.scoped_youths(select(Youth).where(matches), visible, instant)
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    youths = db.session.scalars(
        base.order_by(case((exact, 0), else_=1), Youth.reference)
        .offset((number - 1) * size)
        .limit(size)
    ).all()
    stays = current_stays([y.id for y in youths], visible, instant)
    hits = [
        YouthHit(
            youth=youth,
            exact=lowered in (youth.reference.lower(), (youth.file_number or "").lower()),
            age=age_on(youth.birth_date, instant),
            stay=stays.get(youth.id),
            status=status_of(stays.get(youth.id), instant),
        )
        for youth in youths
    ]
    audit.record(
        actor,
        "youths.search",
        object_type="youth",
        after={
            "query": text,
            "page": number,
            "page_size": size,
            "total": total,
            "youth_ids": [y.id for y in youths],
        },
    )
    return paging.Page(hits, number, size, total)


def current_stays(
    youth_ids: list[int], visible: PersonScope | None = None, instant: datetime | None = None
) -> dict[int, Stay]:
    """Per youth: the open stay, else the latest by start; of the stays in ``visible``
    (None: every stay), so that a hit never names a facility outside the actor's scope."""
    found: dict[int, Stay] = {}
    if not youth_ids:
        return found
    query = select(Stay).where(Stay.youth_id.in_(youth_ids)).order_by(Stay.start_at)
    if visible is not None:
        query = scope.scoped_stays(query, visible, instant)
    for stay in db.session.scalars(query):
        current = found.get(stay.youth_id)
        if current is None or current.end_at is not None:
            found[stay.youth_id] = stay
    return found
