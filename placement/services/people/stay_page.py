"""Everything the stay page shows: the stay record, the youth's history, the other
siblings of the youth's sibling group, and whether the actor may take back its end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from placement.extensions import db
from placement.models import Youth
from placement.services.accounts import audit
from placement.services.accounts.permissions import PersonScope
from placement.services.errors import Code, PlacementError
from placement.services.intake import stays
from placement.services.intake.rules import age_on
from placement.services.people import scope
from placement.services.people.history import HistoryEntry, youth_history
from placement.services.people.search import YouthHit, current_stays, status_of

# Refusals the recorder of a discharge is told about (with the way forward: a correction).
HINTED = frozenset({Code.UNDO_EXPIRED, Code.UNDO_LATER_STAY, Code.UNDO_OPEN_STAY})


@dataclass(frozen=True)
class StayPage:
    record: stays.StayRecord
    history: list[HistoryEntry]
    siblings: list[YouthHit]  # the other members of the sibling group
    undo_until: datetime | None  # the actor may take back the end until then
    undo_hint: PlacementError | None  # why the actor's own discharge can no longer be undone


def other_siblings(youth: Youth, instant: datetime, visible: PersonScope) -> list[YouthHit]:
    """The other youths of ``youth``'s sibling group (not the youth itself), by
    reference, each with the stay that says where they are."""
    if not youth.sibling_group:
        return []
    others = db.session.scalars(
        scope.scoped_youths(
            select(Youth).where(Youth.sibling_group == youth.sibling_group, Youth.id != youth.id),
            visible,
            instant,
        ).order_by(Youth.reference)
    ).all()
    current = current_stays([o.id for o in others], visible, instant)
    return [
        YouthHit(
            youth=other,
            exact=False,
            age=age_on(other.birth_date, instant),
            stay=current.get(other.id),
            status=status_of(current.get(other.id), instant),
        )
        for other in others
    ]


def stay_page(actor: audit.Actor, stay_id: int, instant: datetime) -> StayPage:
    """The stay page's content (personal data: the view is audited by ``stay_record``)."""
    record = stays.stay_record(actor, stay_id)
    visible = scope.person_scope(actor)
    stay = record.stay
    refusal = stays.undo_refusal(actor, stay, instant) if stay.end_at is not None else None
    own = stay.ended_by_id is not None and stay.ended_by_id == actor.user_id
    return StayPage(
        record=record,
        history=youth_history(record.youth.id, visible, instant),
        siblings=other_siblings(record.youth, instant, visible),
        undo_until=stays.undo_until(stay) if stay.end_at is not None and refusal is None else None,
        undo_hint=refusal if own and refusal is not None and refusal.code in HINTED else None,
    )
