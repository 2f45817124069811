"""Upgrading a populated database from the previous migration head to the current one.

The previous head is computed (the ``down_revision`` of the current head), so these tests
keep testing the newest migration when another one lands. The data goes in with SQLAlchemy
Core against the tables reflected from the previous schema (the models describe the new
one), then ``flask db upgrade`` runs and the data is read back: every row of every old
table unchanged, the occupancy the services compute, the stays through the models, new
columns at their defaults, the audit chain intact, the one-open-stay index still there.

On PostgreSQL the upgrade must also rewrite none of the big tables (``relfilenode``
unchanged) and must fail cleanly, not hang, when a reader holds a table it alters.

Why not "the upgrade passes while a reader holds stays open": in PostgreSQL every
``ALTER TABLE ... ADD COLUMN`` takes an ACCESS EXCLUSIVE lock, also when it only changes
the catalogue (no rewrite), and that lock conflicts with the ACCESS SHARE lock of any open
transaction that has read the table. Such an upgrade waits for the reader whether it
rewrites or not, so the test could not tell the two apart. What can be checked instead,
and is what matters in production (run the upgrade with a short ``lock_timeout`` and retry
it): under an open reader the upgrade gives up with ``lock_not_available`` within the
timeout, leaving the schema and data of the previous head (one transaction), and once the
reader is gone it gets its locks within the same short timeout. That the lock is then held
only briefly follows from the unchanged ``relfilenode`` (no rewrite)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from placement import PACKAGE_DIR, create_app
from placement.extensions import db
from placement.models import Stay
from placement.services.accounts import audit
from placement.services.intake import stays
from placement.services.occupancy import queries

MIGRATIONS = str(PACKAGE_DIR / "migrations")
# Tables whose rewrite would lock the office out for long on a real database.
BIG_TABLES = ("stay", "youth", "audit_event")
LOCK_TIMEOUT_MS = 300


def heads() -> tuple[str, str]:
    """(current head, previous head) of the app's migrations."""
    from alembic.config import Config

    config = Config(f"{MIGRATIONS}/alembic.ini")
    config.set_main_option("script_location", MIGRATIONS)
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    assert head is not None
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str), f"head {head} is a merge or the first migration"
    return head, previous


HEAD, PREVIOUS = heads()


def make_old_app(tmp_path, monkeypatch, database_url, **options):
    """An app on an empty database migrated to the previous head only."""
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "ENV": "demo",
            **options,
        }
    )
    with app.app_context():
        upgrade(revision=PREVIOUS)
    return app


@pytest.fixture
def old_app(tmp_path, monkeypatch, database_url):
    app = make_old_app(tmp_path, monkeypatch, database_url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- the data, written against the previous schema ---------------------------------------------


NOW = datetime.now(UTC).replace(microsecond=0, tzinfo=None)  # naive UTC, as stored


def ago(**delta) -> datetime:
    return NOW - timedelta(**delta)


@dataclass
class Inserted:
    open_per_facility: dict[int, int] = field(default_factory=dict)
    held_per_facility: dict[int, int] = field(default_factory=dict)
    reserved_per_facility: dict[int, int] = field(default_factory=dict)
    stays: dict[int, dict] = field(default_factory=dict)  # id -> the row as inserted
    audit_entries: int = 0


def _insert(conn, table: sa.Table, **values) -> int:
    return conn.execute(table.insert().values(**values)).inserted_primary_key[0]


def populate(engine: sa.Engine) -> Inserted:
    """Facilities with capacity histories, youths with open and ended stays (a move, an
    absconding with its place held), reservations, and audit entries chained as the audit
    service seals them; raw SQL through the reflected previous schema."""
    meta = sa.MetaData()
    meta.reflect(bind=engine)
    t = meta.tables
    result = Inserted()
    with engine.begin() as conn:
        user = _insert(
            conn,
            t["user"],
            email="leitung@example.org",
            name="Leitung",
            role="facility_manager",
            password_hash="not-a-real-hash",
            active=True,
            created_at=ago(days=400),
        )
        facility_ids = []
        for n, (licensed, kind) in enumerate(
            [(6, "inobhutnahme"), (4, "group_home"), (10, "emergency_shelter")], start=1
        ):
            fid = _insert(
                conn,
                t["facility"],
                code=f"haus-{n}",
                name=f"Haus {n}",
                kind=kind,
                age_min=0,
                age_max=17,
                genders="dfm",
                uma_policy="allowed",
                anonymous_address=n == 2,
                active=True,
                planning_area="Mitte",
                latitude=51.3 + n / 100,
                longitude=12.37,
                created_at=ago(days=400),
                updated_at=ago(days=3),
                confirmed_at=ago(hours=n),
                confirmed_by_id=user,
            )
            facility_ids.append(fid)
            # An earlier period with fewer places, then the one in force now.
            _insert(
                conn,
                t["capacity_period"],
                facility_id=fid,
                valid_from=ago(days=400),
                valid_until=ago(days=100),
                licensed_places=licensed - 1,
                usable_places=licensed - 1,
                reserved_places=0,
            )
            _insert(
                conn,
                t["capacity_period"],
                facility_id=fid,
                valid_from=ago(days=100),
                licensed_places=licensed,
                usable_places=licensed,
                temporary_ceiling=licensed + 2 if n == 3 else None,
                ceiling_reference="LJA-2026-1" if n == 3 else None,
                reserved_places=1 if n == 1 else 0,
                note="Erweiterung",
                created_by_id=user,
                created_at=ago(days=100),
            )
        f1, f2, f3 = facility_ids

        youths = [
            _insert(
                conn,
                t["youth"],
                reference=f"Y-{n:04d}",
                file_number=f"AZ-{n}" if n % 2 else None,
                birth_date=date(2009 + n % 6, 1 + n % 12, 1 + n),
                birth_date_estimated=n == 3,
                age_assessment="pending" if n == 3 else "documented",
                gender="fmd"[n % 3],
                uma=n in (3, 4),
                sibling_group="G-1" if n in (5, 6) else None,
                distribution_excluded=False,
                created_at=ago(days=200 - n),
                updated_at=ago(days=10),
            )
            for n in range(1, 10)
        ]

        def stay(youth, facility, start, end=None, reason=None, **extra):
            row = {
                "youth_id": youth,
                "facility_id": facility,
                "legal_basis": extra.pop("legal_basis", "42-1-2"),
                "start_at": start,
                "end_at": end,
                "end_reason": reason,
                "pinned": extra.pop("pinned", False),
                "created_at": start,
                "updated_at": end or start,
                **extra,
            }
            sid = _insert(conn, t["stay"], **row)
            result.stays[sid] = row
            if end is None:
                result.open_per_facility[facility] = result.open_per_facility.get(facility, 0) + 1

        # Open stays: three in house 1, two in house 2 (one after a move from house 1).
        stay(youths[0], f1, ago(days=20))
        stay(youths[1], f1, ago(days=5), override_reason="Notfall nachts", pinned=True)
        stay(
            youths[2],
            f1,
            ago(days=40),
            legal_basis="42a",
            distribution_reported_on=(NOW - timedelta(days=38)).date(),
        )
        stay(youths[3], f1, ago(days=60), ago(days=30), "transfer", ended_by_id=user)
        stay(youths[3], f2, ago(days=30))
        stay(youths[4], f2, ago(days=3))
        # Ended stays: back home, and an absconding whose place is still held.
        stay(
            youths[5],
            f2,
            ago(days=90),
            ago(days=50),
            "return_home",
            ended_by_id=user,
            ended_recorded_at=ago(days=50),
        )
        stay(youths[6], f3, ago(days=10), ago(days=1), "absconded", place_held_until=ago(days=-2))
        result.held_per_facility[f3] = 1
        stay(youths[7], f3, ago(days=300), ago(days=200), "follow_on_help")
        stay(youths[7], f1, ago(days=150), ago(days=120), "coming_of_age")

        # Reservations: one holding two places now, one cancelled, one admitted.
        _insert(
            conn,
            t["reservation"],
            facility_id=f2,
            created_at=ago(hours=1),
            expires_at=ago(hours=-1),
            status="open",
            note="Geschwister",
            created_by_id=user,
            places=2,
        )
        result.reserved_per_facility[f2] = 2
        for status in ("cancelled", "admitted"):
            _insert(
                conn,
                t["reservation"],
                facility_id=f1,
                created_at=ago(days=7),
                expires_at=ago(days=6),
                status=status,
                closed_at=ago(days=6, hours=12),
                places=1,
            )

        # Audit entries, sealed into the chain as audit.record does (one with a personal
        # value, so with a salt).
        prev = None
        entries = [
            ("facility.create", "facility", f1, None, {"name": "Haus 1"}, None),
            ("stay.admit", "stay", 1, None, {"facility_id": f1}, None),
            ("stay.discharge", "stay", 7, {"end_at": None}, {"end_reason": "return_home"}, None),
            ("youth.update", "youth", youths[0], {"file_number": "AZ-0"}, None, "Tippfehler"),
            ("reservation.create", "reservation", 1, None, {"places": 2}, None),
        ]
        for seq, (action, object_type, object_id, before, after, reason) in enumerate(
            entries, start=1
        ):
            salt = "0" * 31 + str(seq) if audit.personal_paths(before, after, reason) else None
            at = ago(days=10 - seq)
            row = SimpleNamespace(
                seq=seq,
                at=at.replace(tzinfo=UTC),
                user_id=user,
                actor="Leitung",
                action=action,
                object_type=object_type,
                object_id=object_id,
                before=before,
                after=after,
                reason=reason,
                prev_hash=prev,
                salt=salt,
                erased=None,
            )
            digest = audit.entry_hash(row)
            _insert(conn, t["audit_event"], **{**vars(row), "at": at, "hash": digest})
            prev = digest
            result.audit_entries += 1
    return result


# --- reading back ------------------------------------------------------------------------------


def snapshot(engine: sa.Engine) -> dict[str, tuple[set[str], list[dict]]]:
    """Every table of the schema: its columns and its rows ordered by primary key."""
    meta = sa.MetaData()
    meta.reflect(bind=engine)
    tables = {}
    with engine.connect() as conn:
        for name, table in meta.tables.items():
            if name == "alembic_version":
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = [dict(r._mapping) for r in conn.execute(table.select().order_by(*order))]
            tables[name] = ({c.name for c in table.columns}, rows)
    return tables


def assert_old_rows_kept(before, after) -> None:
    """Every old table still there with the same rows; old columns with the same values."""
    assert set(before) <= set(after), f"tables lost: {set(before) - set(after)}"
    for name, (_columns, rows) in before.items():
        new_rows = after[name][1]
        assert len(new_rows) == len(rows), name
        for old, new in zip(rows, new_rows, strict=True):
            assert {k: new.get(k, "<dropped>") for k in old} == old, name


def new_columns(engine: sa.Engine, before) -> dict[str, list[sa.Column]]:
    meta = sa.MetaData()
    meta.reflect(bind=engine)
    return {
        name: [c for c in meta.tables[name].columns if c.name not in before[name][0]]
        for name in before
    }


def assert_new_columns_defaulted(engine, before) -> None:
    """A new column without a server default is NULL in every old row; one with a default
    holds one value in all of them."""
    with engine.connect() as conn:
        for name, columns in new_columns(engine, before).items():
            table = sa.table(name, *(sa.column(c.name) for c in columns))
            for column in columns:
                values = set(conn.execute(sa.select(table.c[column.name])).scalars())
                if column.server_default is None:
                    assert values <= {None}, f"{name}.{column.name}: {values}"
                else:
                    assert len(values) <= 1, f"{name}.{column.name}: {values}"


def indexes(engine: sa.Engine, table: str) -> set[tuple]:
    inspector = sa.inspect(engine)
    return {
        (ix["name"], tuple(ix["column_names"]), ix["unique"]) for ix in inspector.get_indexes(table)
    }


def version(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()


def check_services_see(inserted: Inserted) -> None:
    """Inside an app context of the upgraded app: occupancy, holds and reservations as the
    services compute them, the stays through the models, the audit chain."""
    now = NOW.replace(tzinfo=UTC)
    assert queries.occupancy_at(now) == inserted.open_per_facility
    states = queries.place_states_at(now)
    for fid, count in inserted.open_per_facility.items():
        assert states[fid].occupied == count
    for fid, held in inserted.held_per_facility.items():
        assert states[fid].held == held
    for fid, places in inserted.reserved_per_facility.items():
        assert states[fid].reserved == places + inserted.held_per_facility.get(fid, 0)

    loaded = {s.id: s for s in db.session.scalars(sa.select(Stay))}
    assert set(loaded) == set(inserted.stays)
    for sid, row in inserted.stays.items():
        stay = loaded[sid]
        assert (stay.youth_id, stay.facility_id) == (row["youth_id"], row["facility_id"])
        assert stay.start_at == row["start_at"].replace(tzinfo=UTC)
        assert stay.end_at == (row["end_at"] and row["end_at"].replace(tzinfo=UTC))
        assert (stay.end_reason and stay.end_reason.value) == row["end_reason"]
        assert stay.legal_basis.value == row["legal_basis"]
        assert stay.override_reason == row.get("override_reason")
        assert stay.youth.reference.startswith("Y-")
        assert stay.facility.code.startswith("haus-")

    verification = audit.verify_chain()
    assert verification.ok, verification.first_break
    assert verification.entries == inserted.audit_entries


def check_one_open_stay_per_youth(engine: sa.Engine, inserted: Inserted) -> None:
    """The partial unique index survived (SQLite's batch mode recreates the table)."""
    row = next(r for r in inserted.stays.values() if r["end_at"] is None)
    stay_table = sa.Table("stay", sa.MetaData(), autoload_with=engine)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(stay_table.insert().values(**{**row, "start_at": NOW, "created_at": NOW}))


def relfilenodes(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT relname, relfilenode FROM pg_class WHERE relname IN :names").bindparams(
                sa.bindparam("names", expanding=True)
            ),
            {"names": list(BIG_TABLES)},
        )
        return dict(rows.all())


# --- the tests ---------------------------------------------------------------------------------


def test_previous_head_is_the_down_revision_of_the_head(old_app):
    with old_app.app_context():
        assert version(db.engine) == PREVIOUS
        upgrade()
        assert version(db.engine) == HEAD


def test_upgrade_keeps_every_row_and_the_services_read_it(old_app):
    with old_app.app_context():
        engine = db.engine
        inserted = populate(engine)
        before = snapshot(engine)
        stay_indexes = indexes(engine, "stay")
        nodes = relfilenodes(engine) if engine.dialect.name == "postgresql" else None

        upgrade()

        assert version(engine) == HEAD
        after = snapshot(engine)
        assert_old_rows_kept(before, after)
        assert_new_columns_defaulted(engine, before)
        assert stay_indexes <= indexes(engine, "stay")
        check_one_open_stay_per_youth(engine, inserted)
        if nodes is not None:
            assert relfilenodes(engine) == nodes, "the upgrade rewrote a big table"
        check_services_see(inserted)

        # The head's models write to the upgraded database: a discharge frees the place
        # and is sealed into the chain.
        sid, row = next((s, r) for s, r in inserted.stays.items() if r["end_at"] is None)
        stays.discharge(audit.SYSTEM, sid, reason="return_home")
        db.session.commit()
        now = datetime.now(UTC)
        fid = row["facility_id"]
        assert queries.occupancy_at(now).get(fid, 0) == inserted.open_per_facility[fid] - 1
        assert audit.verify_chain().entries == inserted.audit_entries + 1
        assert audit.verify_chain().ok


def test_downgrade_to_the_previous_head_and_upgrade_again(old_app):
    with old_app.app_context():
        engine = db.engine
        inserted = populate(engine)
        before = snapshot(engine)

        upgrade()
        downgrade(revision=PREVIOUS)
        assert version(engine) == PREVIOUS
        assert snapshot(engine) == before

        upgrade()
        assert version(engine) == HEAD
        assert_old_rows_kept(before, snapshot(engine))
        check_services_see(inserted)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_upgrade_under_lock_timeout_fails_cleanly_then_passes(tmp_path, monkeypatch, database_url):
    """A reader holding the big tables open: the upgrade, run with a short lock_timeout,
    either needs none of their exclusive locks and passes, or gives up with
    lock_not_available and leaves the previous head's schema and data untouched. With the
    reader gone it passes under the same timeout without rewriting a big table."""
    options = {
        "SQLALCHEMY_ENGINE_OPTIONS": {
            # statement_timeout only keeps a broken lock_timeout from hanging the suite.
            "connect_args": {
                "options": f"-c lock_timeout={LOCK_TIMEOUT_MS} -c statement_timeout=60000"
            }
        }
    }
    app = make_old_app(tmp_path, monkeypatch, database_url, **options)
    with app.app_context():
        engine = db.engine
        inserted = populate(engine)
        before = snapshot(engine)
        nodes = relfilenodes(engine)
        reader_engine = sa.create_engine(database_url)
        reader = reader_engine.connect()
        try:
            transaction = reader.begin()
            for table in BIG_TABLES:  # ACCESS SHARE on each until the transaction ends
                reader.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            failure: list[BaseException] = []

            def run_upgrade():
                with app.app_context():
                    try:
                        upgrade()
                    except BaseException as exc:  # noqa: BLE001 (inspected below)
                        failure.append(exc)

            worker = threading.Thread(target=run_upgrade)
            worker.start()
            worker.join(timeout=60)
            assert not worker.is_alive(), "the upgrade waited past its lock_timeout"
            transaction.rollback()
        finally:
            reader.close()
            reader_engine.dispose()

        if failure:
            error = failure[0]
            assert isinstance(error, sa.exc.OperationalError), error
            assert getattr(error.orig, "sqlstate", None) == "55P03"  # lock_not_available
            assert version(engine) == PREVIOUS
            assert snapshot(engine) == before
            upgrade()  # the reader is gone: the same short timeout suffices
        assert version(engine) == HEAD
        assert relfilenodes(engine) == nodes
        assert_old_rows_kept(before, snapshot(engine))
        check_services_see(inserted)
        db.session.remove()
    engine.dispose()


def test_a_fresh_installation_downgrades_and_upgrades_again(app):
    """The conftest app, migrated from nothing to the head in one run as every new
    installation is (SQLite's batch copies once kept the CHECK of a dropped column here)."""
    with app.app_context():
        downgrade(revision=PREVIOUS)
        assert version(db.engine) == PREVIOUS
        upgrade()
        assert version(db.engine) == HEAD


def test_an_older_installation_with_data_upgrades(tmp_path, monkeypatch, database_url):
    """A database at an older head, with a capacity period referring to its facility, is
    upgraded through migrations that rebuild the facility table (SQLite's batch mode:
    copy, drop, rename). With foreign keys enforced SQLite refused the drop ("FOREIGN KEY
    constraint failed"); the migrations now run with them off, check them afterwards and
    turn them on again."""
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": database_url}
    )
    with app.app_context():
        upgrade(revision="ac76282e1222")  # before the facility administration migration
        stamp = NOW.isoformat(" ")
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO facility (id, code, name, kind, age_min, age_max, genders,"
                    " uma_policy, anonymous_address, active, created_at, updated_at) VALUES"
                    " (1, 'alt', 'Haus Alt', 'group_home', 12, 17, 'dfm', 'allowed', false,"
                    " true, :at, :at)"
                ),
                {"at": stamp},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO capacity_period (facility_id, valid_from, licensed_places,"
                    " usable_places, reserved_places) VALUES (1, :at, 8, 8, 0)"
                ),
                {"at": stamp},
            )
        upgrade()
        assert version(db.engine) == HEAD
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM facility")).scalar() == "Haus Alt"
            assert conn.execute(sa.text("SELECT count(*) FROM capacity_period")).scalar() == 1
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.session.remove()
        db.engine.dispose()
