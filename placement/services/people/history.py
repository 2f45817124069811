"""A youth's history as the stay page tells it: admissions, moves, corrections with the
values before and after, discharges and their undoing, the §42a procedure; read from the
audit trail and the youth's stays, in time order, with who recorded it and when.

Entries are structured (kind, facilities, changed values); the HTML adapter words them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from placement.extensions import db
from placement.models import AuditEvent, Facility, Stay, User
from placement.models.enums import DistributionResult, EndReason, LegalBasis, PlannedEndKind
from placement.services.accounts.permissions import PersonScope
from placement.services.people.scope import scoped_stays

# The audit actions that belong to a stay's history (views are not history).
ACTIONS = (
    "stay.create",
    "stay.admit",
    "stay.move_out",
    "stay.correct",
    "stay.discharge",
    "stay.undo_discharge",
    "stay.distribution",
    "stay.planned_end",
)
# Snapshot columns a correction or the §42a procedure can change, in the order shown.
SHOWN_FIELDS = (
    "facility_id",
    "legal_basis",
    "start_at",
    "end_at",
    "end_reason",
    "place_held_until",
    "distribution_reported_on",
    "distribution_result",
    "age_assessed_on",
    "planned_end_on",
    "planned_end_kind",
)
_INSTANTS = {"start_at", "end_at", "place_held_until"}
_DATES = {"distribution_reported_on", "age_assessed_on", "planned_end_on"}
_CODES: dict[str, Any] = {
    "legal_basis": LegalBasis,
    "end_reason": EndReason,
    "distribution_result": DistributionResult,
    "planned_end_kind": PlannedEndKind,
}


@dataclass(frozen=True)
class Change:
    """One value before and after; instants, dates and codes typed, facilities by name."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class HistoryEntry:
    """One event: ``kind`` is admit, recorded, move, correct, discharge, undo_discharge,
    distribution, planned_end or ended (an end known from the stay only)."""

    kind: str
    at: datetime  # when it was recorded (for entries from the stay: when it happened)
    stay_id: int
    facility: str
    who: str | None
    when: datetime | None = None  # the instant it took effect (start, end, move)
    target: str | None = None  # a move's new facility
    legal_basis: LegalBasis | None = None
    end_reason: EndReason | None = None
    held_until: datetime | None = None
    reason: str | None = None
    changes: list[Change] = field(default_factory=list)


def _value(name: str, raw: Any, facilities: dict[int, str]) -> Any:
    if raw is None:
        return None
    if name == "facility_id":
        return facilities.get(raw, f"#{raw}")
    if name in _INSTANTS:
        return datetime.fromisoformat(raw)
    if name in _DATES:
        return date.fromisoformat(raw)
    if name in _CODES:
        try:
            return _CODES[name](raw)
        except ValueError:
            return raw
    return raw


def _changes(event: AuditEvent, facilities: dict[int, str]) -> list[Change]:
    before, after = event.before or {}, event.after or {}
    return [
        Change(
            name,
            _value(name, before.get(name), facilities),
            _value(name, after.get(name), facilities),
        )
        for name in SHOWN_FIELDS
        if name in after and before.get(name) != after.get(name)
    ]


def _who(event: AuditEvent, names: dict[int, str]) -> str:
    if event.user_id is not None and names.get(event.user_id):
        return names[event.user_id]
    return event.actor


def youth_history(youth_id: int, visible: PersonScope, instant: datetime) -> list[HistoryEntry]:
    """Everything recorded about the youth's stays within ``visible``, oldest first: a
    manager sees the history in their own houses, on-call staff that of the open stay and of
    the stays they recorded, never the rest (need to know). The caller checks the permission
    and audits the view (it is part of the stay page)."""
    query = select(Stay).where(Stay.youth_id == youth_id).order_by(Stay.start_at)
    stays = {s.id: s for s in db.session.scalars(scoped_stays(query, visible, instant))}
    if not stays:
        return []
    events = db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.object_type == "stay",
            AuditEvent.object_id.in_(list(stays)),
            AuditEvent.action.in_(ACTIONS),
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    facility_ids = {s.facility_id for s in stays.values()}
    for event in events:
        for snapshot in (event.before or {}, event.after or {}):
            if isinstance(snapshot.get("facility_id"), int):
                facility_ids.add(snapshot["facility_id"])
    facilities = dict(
        db.session.execute(
            select(Facility.id, Facility.name).where(Facility.id.in_(facility_ids))
        ).all()
    )
    user_ids = {e.user_id for e in events if e.user_id is not None}
    names = {
        user_id: (name or email)
        for user_id, name, email in db.session.execute(
            select(User.id, User.name, User.email).where(User.id.in_(user_ids))
        ).all()
    }
    by_start: dict[datetime, Stay] = {s.start_at: s for s in stays.values()}
    admitted = {e.object_id for e in events if e.action == "stay.admit"}
    # The start as first recorded (a later correction may have changed it).
    recorded_start = {
        e.object_id: _value("start_at", (e.after or {}).get("start_at"), facilities)
        for e in reversed(events)
        if e.action == "stay.create"
    }
    moved_in = set()
    entries: list[HistoryEntry] = []
    started: set[int] = set()
    ended: set[int] = set()
    for event in events:
        stay = stays[event.object_id]
        after, before = event.after or {}, event.before or {}
        here = facilities.get(
            after.get("facility_id", before.get("facility_id", stay.facility_id)),
            facilities.get(stay.facility_id, ""),
        )
        who = _who(event, names)
        if event.action == "stay.admit":
            started.add(stay.id)
            entries.append(
                HistoryEntry(
                    "admit",
                    event.at,
                    stay.id,
                    facilities.get(stay.facility_id, ""),
                    who,
                    when=recorded_start.get(stay.id) or stay.start_at,
                    legal_basis=stay.legal_basis,
                    reason=event.reason,
                    changes=_changes(event, facilities),  # a planned end given on admission
                )
            )
        elif event.action == "stay.create":
            if stay.id in admitted or stay.id in moved_in:
                continue
            started.add(stay.id)
            entries.append(
                HistoryEntry(
                    "recorded",
                    event.at,
                    stay.id,
                    here,
                    who,
                    when=_value("start_at", after.get("start_at"), facilities),
                    legal_basis=_value("legal_basis", after.get("legal_basis"), facilities),
                )
            )
        elif event.action == "stay.move_out":
            ended.add(stay.id)
            instant = _value("end_at", after.get("end_at"), facilities)
            successor = by_start.get(instant) if instant is not None else None
            if successor is not None and successor.id != stay.id:
                moved_in.add(successor.id)
                started.add(successor.id)
            entries.append(
                HistoryEntry(
                    "move",
                    event.at,
                    stay.id,
                    here,
                    who,
                    when=instant,
                    target=facilities.get(successor.facility_id) if successor else None,
                    reason=event.reason,
                )
            )
        elif event.action == "stay.discharge":
            ended.add(stay.id)
            entries.append(
                HistoryEntry(
                    "discharge",
                    event.at,
                    stay.id,
                    here,
                    who,
                    when=_value("end_at", after.get("end_at"), facilities),
                    end_reason=_value("end_reason", after.get("end_reason"), facilities),
                    held_until=_value(
                        "place_held_until", after.get("place_held_until"), facilities
                    ),
                )
            )
        elif event.action == "stay.undo_discharge":
            ended.discard(stay.id)
            entries.append(
                HistoryEntry(
                    "undo_discharge",
                    event.at,
                    stay.id,
                    here,
                    who,
                    when=_value("end_at", before.get("end_at"), facilities),
                    end_reason=_value("end_reason", before.get("end_reason"), facilities),
                )
            )
        else:  # stay.correct, stay.distribution, stay.planned_end
            if "end_at" in after and after.get("end_at") is not None:
                ended.add(stay.id)
            entries.append(
                HistoryEntry(
                    event.action.removeprefix("stay."),
                    event.at,
                    stay.id,
                    here,
                    who,
                    reason=event.reason,
                    changes=_changes(event, facilities),
                )
            )
    # Stays recorded without an audit trail (older data): what the stay itself says.
    for stay in stays.values():
        if stay.id not in started:
            entries.append(
                HistoryEntry(
                    "recorded",
                    stay.start_at,
                    stay.id,
                    facilities.get(stay.facility_id, ""),
                    None,
                    when=stay.start_at,
                    legal_basis=stay.legal_basis,
                )
            )
        if stay.end_at is not None and stay.id not in ended:
            entries.append(
                HistoryEntry(
                    "ended",
                    stay.end_at,
                    stay.id,
                    facilities.get(stay.facility_id, ""),
                    None,
                    when=stay.end_at,
                    end_reason=stay.end_reason,
                )
            )
    sequence = {id(entry): index for index, entry in enumerate(entries)}
    entries.sort(key=lambda e: (e.at, sequence[id(e)]))
    return entries
