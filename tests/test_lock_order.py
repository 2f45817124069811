"""Locks that two transactions take in opposite order must not deadlock (PostgreSQL).

Found by the load benchmark on PostgreSQL: a move held its two facilities
(``lock_facilities``) and waited for the audit chain's advisory lock, while an admission
elsewhere held the chain (its entries were written) and its immediate over-occupancy check
raised an alert naming one of the moving facilities. Inserting that alert checks its
foreign key with a KEY SHARE lock on the facility row, which ``FOR UPDATE`` blocks: the
move answered 500 with "deadlock detected". The facility lock is ``FOR NO KEY UPDATE``:
it still serialises capacity decisions, and rows may still refer to a locked facility."""

from __future__ import annotations

import functools
import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from placement.extensions import db
from placement.models import AuditEvent, Facility, Stay, User, Youth
from placement.models.enums import EndReason, Role
from placement.services.accounts import audit
from placement.services.errors import Code, PlacementError
from placement.services.intake import stays
from placement.services.occupancy.locking import lock_facilities
from tests.conftest import create_facility, create_stay, create_youth

WAIT = 20  # seconds; PostgreSQL reports a deadlock after deadlock_timeout (1 s)


def _postgresql_only(app) -> None:
    if make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() != "postgresql":
        pytest.skip("SQLite serialises all writers with one database-wide lock")


def _run(app, *targets) -> list[BaseException]:
    """Each target in a thread of its own, with its own app context and session."""
    errors: list[BaseException] = []

    def guarded(target):
        with app.app_context():
            try:
                target()
            except BaseException as exc:  # noqa: BLE001 - reported by the caller
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=guarded, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT * 2)
    assert not any(thread.is_alive() for thread in threads), "a transaction hangs"
    return errors


def test_a_row_may_refer_to_a_locked_facility_while_the_locker_waits_for_the_chain(app):
    _postgresql_only(app)
    with app.app_context():
        house = create_facility(licensed=2, name="Haus Kette")
        youth = create_youth()
        db.session.commit()
        house_id, youth_id = house.id, youth.id
    locked, chained = threading.Event(), threading.Event()

    def mover() -> None:  # the facilities first, then the audit entry
        lock_facilities([house_id])
        locked.set()
        assert chained.wait(WAIT)
        audit.record(audit.SYSTEM, "test.after_lock", object_type="facility", object_id=1)
        db.session.commit()

    def chained_writer() -> None:  # the audit entry first, then a row naming the facility
        assert locked.wait(WAIT)
        audit.record(audit.SYSTEM, "test.chain_first", object_type="facility", object_id=2)
        chained.set()
        create_stay(
            db.session.get(Youth, youth_id),
            db.session.get(Facility, house_id),
            "2024-01-01 08:00",
        )
        db.session.commit()

    assert _run(app, mover, chained_writer) == []
    with app.app_context():
        assert audit.verify_chain().ok


def test_the_facility_lock_still_serialises_capacity_decisions(app):
    """A second ``lock_facilities`` on the same facility waits for the first to end."""
    _postgresql_only(app)
    with app.app_context():
        house_id = create_facility(name="Haus Reihe").id
        db.session.commit()
    locked, order = threading.Event(), []

    def first() -> None:
        lock_facilities([house_id])
        locked.set()
        threading.Event().wait(0.5)  # the second is waiting meanwhile
        order.append("first")
        db.session.commit()

    def second() -> None:
        assert locked.wait(WAIT)
        lock_facilities([house_id])
        order.append("second")
        db.session.commit()

    assert _run(app, first, second) == []
    assert order == ["first", "second"]


def _refusals_of_the_second(app, first_action, second_action) -> list[Code]:
    """Run ``first_action`` and, while its transaction is still open, ``second_action`` in
    another thread (it waits for the first's row locks); the codes of the refusals the
    second raised. Both commit."""
    done, refused = threading.Event(), []

    def first() -> None:
        first_action()
        done.set()
        threading.Event().wait(0.5)  # the second is waiting meanwhile
        db.session.commit()

    def second() -> None:
        assert done.wait(WAIT)
        try:
            second_action()
        except PlacementError as exc:
            refused.append(exc.code)
        db.session.commit()

    assert _run(app, first, second) == []
    return refused


def _open_stay_id(**overrides) -> int:
    stay = create_stay(
        create_youth(), create_facility(name="Haus Akte"), "2024-01-01 08:00", **overrides
    )
    db.session.commit()
    return stay.id


def _discharge(stay_id: int, reason: str = "return_home"):
    return lambda: stays.discharge(audit.SYSTEM, stay_id, reason=reason)


def _audited(stay_id: int, action: str) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.object_id == stay_id, AuditEvent.action == action)
    return list(db.session.scalars(query))


@pytest.mark.parametrize("second_action", ["discharge", "move"])
def test_of_two_changes_of_one_stay_the_second_finds_it_ended(app, second_action):
    """Two discharges (or a discharge and a move) of one stay at once: the second waits for
    the first and is refused because the stay has ended, instead of ending it again (which
    would overwrite the end, or open a second stay)."""
    _postgresql_only(app)
    with app.app_context():
        house, other = create_facility(name="Haus Ende"), create_facility(name="Haus Weiter")
        stay = create_stay(create_youth(), house, "2024-01-01 08:00")
        db.session.commit()
        stay_id, other_id = stay.id, other.id

    def again() -> None:
        if second_action == "discharge":
            stays.discharge(audit.SYSTEM, stay_id, reason="other")
        else:
            stays.move(audit.SYSTEM, stay_id, facility_id=other_id)

    refused = _refusals_of_the_second(app, _discharge(stay_id), again)
    assert refused == [Code.STAY_CLOSED]
    with app.app_context():
        ended = db.session.get(Stay, stay_id)
        assert ended.end_reason == EndReason.RETURN_HOME
        assert db.session.scalar(select(func.count()).select_from(Stay)) == 1
        assert len(_audited(stay_id, "stay.discharge")) == 1


def test_of_two_undos_of_one_discharge_the_second_finds_the_stay_open(app):
    """A double click on "take back the discharge": the second undo waits for the first
    and is refused because the stay is open again. Before, it judged the stay as read
    before the wait (still ended) and gave the wrong reason: that the youth had another
    open stay."""
    _postgresql_only(app)
    with app.app_context():
        house = create_facility(name="Haus Zurück")
        stay = create_stay(create_youth(), house, "2024-01-01 08:00")
        user = User(email="undo@example.org", role=Role.ON_CALL, password_hash="-")
        db.session.add(user)
        db.session.commit()
        actor = audit.Actor.for_user(user)
        stays.discharge(actor, stay.id, reason="return_home")
        db.session.commit()
        stay_id = stay.id
    undo = functools.partial(stays.undo_discharge, actor, stay_id)
    assert _refusals_of_the_second(app, undo, undo) == [Code.UNDO_STAY_OPEN]
    with app.app_context():
        assert db.session.get(Stay, stay_id).end_at is None
        assert len(_audited(stay_id, "stay.undo_discharge")) == 1


def test_a_planned_end_set_while_the_stay_is_discharged_is_refused(app):
    """Before, it checked the stay as read before the discharge's lock and then wrote a
    planned end onto the ended stay."""
    _postgresql_only(app)
    with app.app_context():
        stay_id = _open_stay_id()
    plan_end = functools.partial(
        stays.set_planned_end, audit.SYSTEM, stay_id, planned_end_on=date(2099, 1, 31)
    )
    assert _refusals_of_the_second(app, _discharge(stay_id), plan_end) == [Code.STAY_CLOSED]
    with app.app_context():
        assert db.session.get(Stay, stay_id).planned_end_on is None
        assert _audited(stay_id, "stay.planned_end") == []


def test_of_two_identical_distribution_records_the_second_changes_nothing(app):
    """A double submit of the §42a form: the second sees the first's values and is refused
    as changing nothing, instead of auditing a change from a state that no longer was."""
    _postgresql_only(app)
    with app.app_context():
        stay_id = _open_stay_id(legal_basis="42a")
    record = functools.partial(
        stays.record_distribution,
        audit.SYSTEM,
        stay_id,
        reported_on=date(2024, 1, 2),
        result=None,
        age_assessed_on=None,
    )
    assert _refusals_of_the_second(app, record, record) == [Code.NOTHING_CHANGED]
    with app.app_context():
        assert len(_audited(stay_id, "stay.distribution")) == 1


def test_a_correction_during_a_discharge_keeps_the_end_and_the_held_place(app):
    """A correction of the admission time while the stay is being discharged (absconded):
    it waits, then corrects the ended stay. Before, it worked from the stay read before the
    wait: its audit entry showed the stay open and the absconding's held place was lost."""
    _postgresql_only(app)
    with app.app_context():
        stay_id = _open_stay_id()
    correct = functools.partial(
        stays.correct_stay,
        audit.SYSTEM,
        stay_id,
        reason="Aufnahmezeit falsch erfasst",
        start_at=datetime(2024, 1, 1, 6, 0, tzinfo=UTC),
    )
    assert _refusals_of_the_second(app, _discharge(stay_id, "absconded"), correct) == []
    with app.app_context():
        stay = db.session.get(Stay, stay_id)
        assert stay.end_reason == EndReason.ABSCONDED
        assert stay.place_held_until is not None
        [entry] = _audited(stay_id, "stay.correct")
        assert entry.before["end_at"] is not None
        assert entry.after["place_held_until"] is not None
        assert audit.verify_chain().ok
