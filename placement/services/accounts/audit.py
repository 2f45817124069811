"""The audit trail: every write and every view of personal data leaves a row.

Rows are appended only (an ORM guard refuses updates and deletes) and form a hash chain:
entry n stores ``prev_hash`` (entry n-1's hash) and ``hash`` = SHA-256 over a canonical JSON
of its own fields and ``prev_hash``. Changing, deleting or inserting a row in the middle
breaks every later link; ``flask audit verify`` names the first broken entry.

Personal values (``PERSONAL_KEYS`` in before/after, and the free-text ``reason``) enter the
hash only as salted digests, SHA-256(salt | path | value), with a random salt per entry.
Retention can therefore erase them later and keep the digest in ``erased``: the entry's
hash, and with it the whole chain and any head hash noted elsewhere, stays valid. Retention
also drops the salt, so an erased birth date cannot be guessed back from its digest.

Appends are serialised so that concurrent writers cannot fork the chain: PostgreSQL takes a
transaction-level advisory lock before reading the last hash; SQLite holds its database-wide
write lock (BEGIN IMMEDIATE, as services.occupancy.locking does) before reading it. The
unique ``seq`` makes a fork impossible in the database as well.

On PostgreSQL the entries of a transaction are sealed and written when it commits (or when
it reads the audit table first), so that the chain lock is held for the last millisecond of
a write instead of from its first entry to its commit (under load it was held a third of
the time, writers queued behind it). It is then also the last lock a transaction takes,
after the facility and alert locks, so it cannot close a cycle with them. SQLite's write
lock covers the whole write transaction anyway; there an entry is written at once."""

from __future__ import annotations

import enum
import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import event, inspect, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql.util import find_tables

from placement.database import SQLITE_BEGIN_OPTION
from placement.extensions import db
from placement.models import AuditEvent
from placement.models.base import utcnow
from placement.models.enums import Role

# Keys of before/after whose values are personal data of a youth (or may be: a search
# query is often a reference or file number). Retention erases them.
PERSONAL_KEYS = frozenset(
    {
        "reference",
        "file_number",
        "birth_date",
        "sibling_group",
        "override_reason",
        "correction_reason",
        "query",
    }
)
# The advisory lock key of the chain (PostgreSQL), an arbitrary constant: "audit" in ASCII.
CHAIN_LOCK_KEY = 0x6175646974
# Execution option that lets exactly one statement change sealed rows: retention's erasure.
ERASURE_OPTION = "placement_audit_erasure"
CHAIN_VERSION = 1

_CHAIN = "placement_audit_chain_locked"  # this transaction may append (lock held)
_WROTE = "placement_audit_wrote"  # this transaction has written (SQLite: holds the lock)
_PENDING = "placement_audit_pending"  # PostgreSQL: entries to seal when the transaction ends
_SEALING = "placement_audit_sealing"  # PostgreSQL: the commit has sealed, append at once now
_SAVEPOINTS = "placement_audit_savepoints"  # PostgreSQL: pending entries at each savepoint


@dataclass(frozen=True)
class Actor:
    """Who acts: a logged-in user, or a named system process (CLI, scheduler), whose
    ``role`` is None and who passes every permission check."""

    label: str
    user_id: int | None = None
    role: Role | None = None

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        return cls(label=user.email, user_id=user.id, role=user.role)


CLI = Actor("cli")
SYSTEM = Actor("system")
SCHEDULER = Actor("scheduler")


def _json_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def snapshot(obj: Any) -> dict[str, Any]:
    """The column values of a model instance, JSON-safe (for before/after)."""
    mapper = inspect(obj).mapper
    return {
        attr.key: _json_value(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in ("created_at", "updated_at", "password_hash", "api_token_hash")
    }


# --- sealing ---------------------------------------------------------------------------------


def canonical(value: Any) -> str:
    """The canonical JSON text of a value: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def value_digest(salt: str, path: str, value: Any) -> str:
    """The salted digest that stands for a personal value in an entry's hash."""
    material = f"{salt}|{path}|{canonical(value)}".encode()
    return "sha256:" + hashlib.sha256(material).hexdigest()


def personal_paths(before: Any, after: Any, reason: str | None) -> list[str]:
    """The paths of the personal values an entry holds: ``before.<key>``, ``after.<key>``
    and ``reason``."""
    paths = [
        f"{side}.{key}"
        for side, values in (("before", before), ("after", after))
        if isinstance(values, dict)
        for key in sorted(values)
        if key in PERSONAL_KEYS and values[key] is not None
    ]
    if reason is not None:
        paths.append("reason")
    return paths


class Unverifiable(Exception):
    """An entry holds a personal value but no salt to check it with."""


def _masked(side: str, values: Any, salt: str | None, erased: dict[str, str]) -> Any:
    if not isinstance(values, dict):
        return values
    masked = {}
    for key, value in values.items():
        path = f"{side}.{key}"
        if path in erased:
            masked[key] = erased[path]
        elif key in PERSONAL_KEYS and value is not None:
            if salt is None:
                raise Unverifiable(path)
            masked[key] = value_digest(salt, path, value)
        else:
            masked[key] = value
    # An erased key must stay present (as null) for its digest to count.
    for path, digest in erased.items():
        prefix, _, key = path.partition(".")
        if prefix == side and key not in masked:
            masked[key] = digest
    return masked


def instant_text(instant: datetime) -> str:
    """The instant as it enters the hash: UTC, microseconds."""
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(row: Any) -> str:
    """SHA-256 over the canonical JSON of an entry (personal values as digests)."""
    erased = dict(row.erased or {})
    if "reason" in erased:
        reason = erased["reason"]
    elif row.reason is not None:
        if row.salt is None:
            raise Unverifiable("reason")
        reason = value_digest(row.salt, "reason", row.reason)
    else:
        reason = None
    document = {
        "v": CHAIN_VERSION,
        "seq": row.seq,
        "at": instant_text(row.at),
        "user_id": row.user_id,
        "actor": row.actor,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "before": _masked("before", row.before, row.salt, erased),
        "after": _masked("after", row.after, row.salt, erased),
        "reason": reason,
        "prev": row.prev_hash,
    }
    return hashlib.sha256(canonical(document).encode()).hexdigest()


def _stored(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """A private JSON copy, exactly as the database will hand it back (tuples become
    lists, later changes to the caller's dict do not reach the sealed entry)."""
    return None if values is None else json.loads(json.dumps(values))


def _hold_chain_lock(session: Session) -> None:
    """Serialise appends until this transaction ends (see the module docstring)."""
    if session.info.get(_CHAIN):
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    elif not session.info.get(_WROTE):
        if session.in_transaction():
            # Only reads so far (or BEGIN IMMEDIATE without a write yet): writing the entry
            # takes SQLite's write lock, or fails at once if another writer committed since
            # this transaction's snapshot (then ``record`` starts over, BEGIN IMMEDIATE).
            return
        session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    session.info[_CHAIN] = True


def _tail(session: Session) -> tuple[int, str | None]:
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (last.seq, last.hash) if last else (0, None)


def _append(session: Session, events: list[AuditEvent]) -> None:
    """Chain and write ``events`` after the tail, in their order (chain lock held)."""
    seq, prev = _tail(session)
    for entry in events:
        seq += 1
        entry.seq, entry.prev_hash = seq, prev
        entry.hash = prev = entry_hash(entry)
    session.add_all(events)
    session.flush()


def _busy(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return "locked" in message or "busy" in message


def _seal(session: Session) -> None:
    """PostgreSQL: write this transaction's pending entries, in the order recorded."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    _hold_chain_lock(session)
    _append(session, pending)


def record(
    actor: Actor,
    action: str,
    obj: Any = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
) -> AuditEvent:
    """Append one sealed audit event. ``obj`` (if given) names the subject. On SQLite it is
    flushed at once; on PostgreSQL it is sealed and flushed when the transaction commits or
    reads the audit table (see the module docstring), and dropped with a rollback."""
    session = db.session()
    session.flush()  # pending writes first: the subject's id, SQLite's write lock
    if obj is not None:
        object_type = object_type or obj.__tablename__
        object_id = object_id if object_id is not None else obj.id
    values = {
        "at": utcnow(),
        "actor": actor.label,
        "user_id": actor.user_id,
        "action": action,
        "object_type": object_type or "",
        "object_id": object_id,
        "before": _stored(before),
        "after": _stored(after),
        "reason": reason,
    }
    if personal_paths(values["before"], values["after"], reason):
        values["salt"] = secrets.token_hex(16)
    event = AuditEvent(**values)
    if session.get_bind().dialect.name == "postgresql":
        if not session.in_transaction():
            session.begin()  # the entry belongs to a transaction, and ends with it
        session.info.setdefault(_PENDING, []).append(event)
        if session.info.get(_SEALING):
            _seal(session)  # recorded by a listener that ran after the commit's sealing
        return event
    _hold_chain_lock(session)
    try:
        _append(session, [event])
    except OperationalError as exc:
        if session.get_bind().dialect.name != "sqlite" or session.info.get(_CHAIN):
            raise
        if not _busy(exc):
            raise
        # The read-only snapshot was stale: begin again with the write lock. Nothing was
        # written in this transaction, so nothing is lost.
        session.rollback()
        _hold_chain_lock(session)
        event = AuditEvent(**values)
        _append(session, [event])
    return event


# --- append-only -----------------------------------------------------------------------------


class AuditImmutable(RuntimeError):
    """Someone tried to change or delete an audit entry through the ORM."""


@event.listens_for(Session, "before_flush")
def _refuse_changes(session: Session, _context, _instances) -> None:
    for obj in session.deleted:
        if isinstance(obj, AuditEvent):
            raise AuditImmutable(f"audit entry {obj.id} cannot be deleted")
    for obj in session.dirty:
        if isinstance(obj, AuditEvent) and session.is_modified(obj, include_collections=False):
            raise AuditImmutable(f"audit entry {obj.id} cannot be changed")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state) -> None:
    if not (state.is_update or state.is_delete):
        return
    if state.execution_options.get(ERASURE_OPTION):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and getattr(table, "name", None) == AuditEvent.__tablename__:
        raise AuditImmutable("audit entries cannot be changed or deleted")


@event.listens_for(Session, "after_flush")
def _mark_written(session: Session, _context) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "before_commit")
def _seal_at_commit(session: Session) -> None:
    """Seal when the transaction commits, or a savepoint directly under it is released
    (entries sealed into a deeper savepoint would go if an outer one rolled back)."""
    # Registered without insert=True: the alerts' immediate check (which locks alerts) is
    # inserted before it, so the chain lock comes last.
    savepoint = session.get_nested_transaction()
    if savepoint is not None and savepoint.parent is not session.get_transaction():
        return
    _seal(session)
    if savepoint is None:
        session.info[_SEALING] = True


def _reads_audit(statement: Any) -> bool:
    return AuditEvent.__table__ in find_tables(
        statement, check_columns=True, include_aliases=True, include_joins=True
    )


@event.listens_for(Session, "do_orm_execute")
def _seal_before_reading(state) -> None:
    """A transaction that reads the audit table sees its own entries (PostgreSQL). Not
    inside a savepoint: entries sealed there would go if it rolled back, also those
    recorded before it."""
    session = state.session
    if (
        session.info.get(_PENDING)
        and state.is_select
        and not session.in_nested_transaction()
        and _reads_audit(state.statement)
    ):
        _seal(session)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_SAVEPOINTS, {})
        marks[id(transaction)] = len(session.info.get(_PENDING, ()))


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous: SessionTransaction) -> None:
    """Entries recorded inside a savepoint that rolled back go with it."""
    if previous.nested and _PENDING in session.info:
        mark = session.info.get(_SAVEPOINTS, {}).pop(id(previous), None)
        if mark is not None:
            del session.info[_PENDING][mark:]


@event.listens_for(Session, "after_transaction_end")
def _clear_chain_lock(session: Session, transaction) -> None:
    if transaction.parent is None:
        for key in (_CHAIN, _WROTE, _PENDING, _SEALING, _SAVEPOINTS):
            session.info.pop(key, None)


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """The first entry at which the chain does not hold, and why."""

    seq: int
    id: int
    problem: str


@dataclass(frozen=True)
class Verification:
    entries: int
    head: str | None
    first_break: Break | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def _entries(batch: int = 2000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        db.session.expunge_all()


def verify_chain() -> Verification:
    """Walk the chain from the first entry; stop at the first that does not hold."""
    expected_seq, prev, count = 1, None, 0
    for row in _entries():
        count += 1
        if row.seq != expected_seq:
            return Verification(count, prev, Break(row.seq, row.id, "gap"))
        if row.prev_hash != prev:
            return Verification(count, prev, Break(row.seq, row.id, "link"))
        try:
            actual = entry_hash(row)
        except Unverifiable:
            return Verification(count, prev, Break(row.seq, row.id, "unverifiable"))
        if actual != row.hash:
            return Verification(count, prev, Break(row.seq, row.id, "hash"))
        prev, expected_seq = row.hash, expected_seq + 1
    return Verification(count, prev, None)
