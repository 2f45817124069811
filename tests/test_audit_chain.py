"""The audit trail is append-only and tamper-evident: a hash chain that names the first
broken entry, that concurrent writers cannot fork, and that the ORM refuses to change."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import delete, select, text, update

from placement.extensions import db
from placement.models import AuditEvent
from placement.services.accounts import audit
from placement.services.accounts.audit import AuditImmutable, entry_hash, verify_chain
from tests.conftest import create_facility, create_stay, create_youth


def _entries() -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def test_entries_are_chained_in_order(ctx):
    facility = create_facility()
    youth = create_youth(reference="K-1", file_number="AZ 4711")
    audit.record(audit.CLI, "youth.create", youth, after=audit.snapshot(youth))
    create_stay(youth, facility, "2024-01-01 08:00", override_reason="Geschwister zusammen")
    db.session.commit()
    rows = _entries()
    assert len(rows) >= 3
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash is None
    for earlier, later in zip(rows, rows[1:], strict=False):
        assert later.prev_hash == earlier.hash
    for row in rows:
        assert row.hash == entry_hash(row) and len(row.hash) == 64
    result = verify_chain()
    assert result.ok and result.entries == len(rows) and result.head == rows[-1].hash


def test_personal_values_enter_the_hash_as_salted_digests(ctx):
    youth = create_youth(reference="K-2")
    event = audit.record(audit.CLI, "youth.create", youth, after=audit.snapshot(youth))
    other = audit.record(audit.CLI, "facility.update", object_type="facility", object_id=1)
    db.session.commit()
    assert event.salt and len(event.salt) == 32
    assert other.salt is None  # nothing personal: no salt
    paths = audit.personal_paths(event.before, event.after, event.reason)
    assert paths == ["after.birth_date", "after.reference"]  # no file number, no group
    # The hash covers the digest, and the digest the value: a different salt or value
    # gives a different hash.
    digest = audit.value_digest(event.salt, "after.reference", "K-2")
    assert digest.startswith("sha256:") and digest != audit.value_digest(
        "0" * 32, "after.reference", "K-2"
    )


def test_the_stored_copy_is_private(ctx):
    after = {"moves": [1, 2]}
    event = audit.record(audit.CLI, "plan.execute", object_type="plan", object_id=1, after=after)
    after["moves"].append(3)  # the caller changes its dict later
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(AuditEvent, event.id).after == {"moves": [1, 2]}
    assert verify_chain().ok


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_event SET action = 'youth.view' WHERE seq = 2",
        "UPDATE audit_event SET actor = 'someone else' WHERE seq = 2",
        'UPDATE audit_event SET after = \'{"reference": "FALSCH"}\' WHERE seq = 2',
        "UPDATE audit_event SET reason = 'anders begründet' WHERE seq = 2",
    ],
)
def test_tampering_with_raw_sql_is_detected_at_the_entry(ctx, tamper):
    youth = create_youth(reference="K-3")
    audit.record(audit.CLI, "youth.view", youth)
    audit.record(
        audit.CLI,
        "stay.correct",
        object_type="stay",
        object_id=5,
        after={"reference": "K-3"},
        reason="Tippfehler im Datum",
    )
    audit.record(audit.CLI, "youth.view", youth)
    db.session.commit()
    assert verify_chain().ok
    second = db.session.scalar(select(AuditEvent.id).where(AuditEvent.seq == 2))
    db.session.execute(text(tamper))
    db.session.commit()
    result = verify_chain()
    assert not result.ok
    assert (result.first_break.seq, result.first_break.id) == (2, second)
    assert result.first_break.problem == "hash"


def test_deleting_or_inserting_a_row_breaks_the_chain(ctx):
    for n in range(4):
        audit.record(audit.CLI, "youth.view", object_type="youth", object_id=n)
    db.session.commit()
    db.session.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    db.session.commit()
    result = verify_chain()
    assert (result.first_break.seq, result.first_break.problem) == (3, "gap")


def test_a_relinked_row_is_detected(ctx):
    for n in range(3):
        audit.record(audit.CLI, "youth.view", object_type="youth", object_id=n)
    db.session.commit()
    db.session.execute(text("UPDATE audit_event SET prev_hash = NULL WHERE seq = 3"))
    db.session.commit()
    assert verify_chain().first_break.problem == "link"


def test_the_orm_refuses_updates_and_deletes(ctx):
    event = audit.record(audit.CLI, "youth.view", object_type="youth", object_id=1)
    db.session.commit()
    event.action = "youth.create"
    with pytest.raises(AuditImmutable):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEvent, event.id))
    with pytest.raises(AuditImmutable):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(AuditImmutable):
        db.session.execute(update(AuditEvent).values(action="x"))
    db.session.rollback()
    with pytest.raises(AuditImmutable):
        db.session.execute(delete(AuditEvent))
    db.session.rollback()
    assert db.session.get(AuditEvent, event.id).action == "youth.view"
    assert verify_chain().ok


def test_verify_command_names_the_first_broken_entry(app, runner):
    with app.app_context():
        for n in range(3):
            audit.record(audit.CLI, "youth.view", object_type="youth", object_id=n)
        db.session.commit()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "3 Einträge" in ok.output
    with app.app_context():
        broken = db.session.scalar(select(AuditEvent.id).where(AuditEvent.seq == 2))
        db.session.execute(text("UPDATE audit_event SET object_id = 99 WHERE seq = 2"))
        db.session.commit()
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1
    assert f"Nr. 2 (Id {broken})" in bad.output and "verändert" in bad.output


def test_an_empty_trail_verifies(app, runner):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "0 Einträge" in result.output


def test_a_rolled_back_entry_leaves_no_gap(ctx):
    audit.record(audit.CLI, "youth.view", object_type="youth", object_id=1)
    db.session.commit()
    audit.record(audit.CLI, "youth.view", object_type="youth", object_id=2)
    db.session.rollback()
    audit.record(audit.CLI, "youth.view", object_type="youth", object_id=3)
    db.session.commit()
    assert [r.seq for r in _entries()] == [1, 2]
    assert verify_chain().ok


def test_a_transaction_reads_its_own_entries_before_it_commits(ctx):
    audit.record(audit.CLI, "youth.view", object_type="youth", object_id=1)
    audit.record(audit.CLI, "youth.view", object_type="youth", object_id=2)
    assert [r.object_id for r in _entries()] == [1, 2]
    count = select(db.func.count()).select_from(AuditEvent)
    audit.record(audit.CLI, "youth.view", object_type="youth", object_id=3)
    assert db.session.scalar(count) == 3
    db.session.commit()
    assert [r.seq for r in _entries()] == [1, 2, 3]
    assert verify_chain().ok


def test_an_entry_of_a_rolled_back_savepoint_goes_with_it(ctx):
    audit.record(audit.CLI, "youth.view", object_type="youth", object_id=1)
    savepoint = db.session.begin_nested()
    audit.record(audit.CLI, "youth.view", object_type="youth", object_id=2)
    savepoint.rollback()
    with db.session.begin_nested():
        audit.record(audit.CLI, "youth.view", object_type="youth", object_id=3)
    db.session.commit()
    assert [(r.seq, r.object_id) for r in _entries()] == [(1, 1), (2, 3)]
    assert verify_chain().ok


def test_an_inner_savepoint_does_not_outlive_the_outer_one(ctx):
    """Entries released into a savepoint that then rolls back are gone; those recorded
    before it stay."""
    audit.record(audit.CLI, "youth.view", object_type="youth", object_id=1)
    outer = db.session.begin_nested()
    audit.record(audit.CLI, "youth.view", object_type="youth", object_id=2)
    with db.session.begin_nested():
        audit.record(audit.CLI, "youth.view", object_type="youth", object_id=3)
    outer.rollback()
    audit.record(audit.CLI, "youth.view", object_type="youth", object_id=4)
    db.session.commit()
    assert [(r.seq, r.object_id) for r in _entries()] == [(1, 1), (2, 4)]
    assert verify_chain().ok


def test_a_read_inside_a_savepoint_that_rolls_back_loses_no_entry(ctx):
    audit.record(audit.CLI, "youth.view", object_type="youth", object_id=1)
    savepoint = db.session.begin_nested()
    db.session.scalar(select(AuditEvent.id).limit(1))
    savepoint.rollback()
    db.session.commit()
    assert [(r.seq, r.object_id) for r in _entries()] == [(1, 1)]
    assert verify_chain().ok


def test_an_open_transaction_does_not_hold_the_chain_on_postgresql(app):
    """PostgreSQL: entries are sealed at commit, so a long write that has recorded does
    not hold up every other writer until it ends (SQLite's one write lock does anyway)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite serialises all writers with one database-wide lock")
        audit.record(audit.CLI, "youth.view", object_type="youth", object_id=1)
        errors: list[BaseException] = []

        def other_writer() -> None:
            try:
                with app.app_context():
                    db.session.execute(text("SET lock_timeout = '5s'"))
                    audit.record(audit.CLI, "youth.view", object_type="youth", object_id=2)
                    db.session.commit()
                    db.session.remove()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(timeout=30)
        assert not errors, errors
        db.session.commit()
        assert [(r.seq, r.object_id) for r in _entries()] == [(1, 2), (2, 1)]
        assert verify_chain().ok


WRITERS = 8
PER_WRITER = 5


def test_concurrent_writers_keep_one_chain(app):
    """Threads with their own sessions append at once (file-backed SQLite, PostgreSQL):
    no fork, no gap, every entry kept, some after a read (as a view records)."""
    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                for i in range(PER_WRITER):
                    if i % 2:  # a view: a read first, then its audit entry
                        db.session.scalar(select(AuditEvent.id).limit(1))
                    audit.record(
                        audit.CLI, "youth.view", object_type="youth", object_id=n * 100 + i
                    )
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with app.app_context():
        rows = _entries()
        assert len(rows) == WRITERS * PER_WRITER
        assert sorted(r.object_id for r in rows) == sorted(
            n * 100 + i for n in range(WRITERS) for i in range(PER_WRITER)
        )
        assert verify_chain().ok


def test_the_migration_seals_existing_rows(app):
    from flask_migrate import downgrade, upgrade

    with app.app_context():
        db.session.remove()
        downgrade(revision="b13a00000001")
        for n in range(3):
            db.session.execute(
                text(
                    "INSERT INTO audit_event (at, actor, action, object_type, object_id, after,"
                    " reason) VALUES (:at, 'cli', 'youth.create', 'youth', :n, :after, :reason)"
                ),
                {
                    "at": f"2024-01-0{n + 1} 08:00:00.000000",
                    "n": n,
                    "after": json.dumps({"reference": f"ALT-{n}"}),
                    "reason": "Altbestand" if n == 1 else None,
                },
            )
        db.session.commit()
        upgrade()
        rows = _entries()
        assert [r.seq for r in rows] == [1, 2, 3]
        assert all(r.salt for r in rows)
        assert verify_chain().ok
        audit.record(audit.CLI, "youth.view", object_type="youth", object_id=1)
        db.session.commit()
        assert verify_chain().entries == 4 and verify_chain().ok
