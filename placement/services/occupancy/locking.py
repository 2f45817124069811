"""Write transactions that check capacity take their locks first.

SQLite: the transaction must begin IMMEDIATE (the database-wide write lock), otherwise two
requests could both read "one place free" before either writes. PostgreSQL: the facility
rows are locked with SELECT ... FOR NO KEY UPDATE, in id order so that moves never
deadlock. NO KEY: the lock serialises capacity decisions as FOR UPDATE would, but leaves
other transactions free to insert rows that refer to a locked facility (a stay, an
alert): their foreign-key check takes a KEY SHARE lock, which FOR UPDATE blocks. Blocked
there while holding the audit chain's lock, such a transaction deadlocked with a move
that held the facility and waited for the chain (tests/test_lock_order.py)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from placement.database import SQLITE_BEGIN_OPTION
from placement.extensions import db
from placement.models import Facility

WROTE = "placement_wrote"
LOCKED = "placement_locked"  # this transaction began IMMEDIATE (SQLite)


@event.listens_for(Session, "after_flush")
def _mark_written(session, _context) -> None:
    session.info[WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _clear_written(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(WROTE, None)
        session.info.pop(LOCKED, None)


def take_write_lock() -> bool:
    """On SQLite, hold the database's write lock from now until the transaction ends and
    return True (False on PostgreSQL, where nothing needs doing). A transaction that reads
    first and writes later would otherwise fail at once with "database is locked" when
    another one committed in between (SQLite cannot move a read snapshot that is no longer
    the latest forward to write; the busy timeout does not help). Every request that may
    write takes it first (``placement.create_app``), as capacity decisions do."""
    session = db.session()
    if session.get_bind().dialect.name != "sqlite":
        return False
    if session.new or session.dirty or session.deleted:
        session.flush()
    if session.info.get(WROTE) or session.info.get(LOCKED):
        return True  # this transaction holds SQLite's write lock already
    if session.in_transaction():
        # Only reads so far (e.g. loading the logged-in user): end that transaction so
        # that the next one can begin IMMEDIATE.
        session.rollback()
    session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    session.info[LOCKED] = True
    return True


def lock_facilities(facility_ids: Iterable[int]) -> None:
    """Serialise capacity decisions on these facilities until the transaction ends."""
    if take_write_lock():
        return
    ids = sorted(set(facility_ids))
    db.session.execute(
        select(Facility.id)
        .where(Facility.id.in_(ids))
        .order_by(Facility.id)
        .with_for_update(key_share=True)
    )
