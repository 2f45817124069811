"""`flask backup FILE`: a consistent copy of the SQLite database that restores to the same
rows and the same audit chain; refusals for bad targets and for PostgreSQL."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from placement import create_app
from placement.extensions import db
from placement.services.accounts import audit, users
from tests.conftest import create_facility, create_stay, create_youth, make_app


@pytest.fixture
def sqlite_app(tmp_path, monkeypatch):
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'live.sqlite'}")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def populate(app) -> None:
    """Facilities, youths, stays and accounts through the services (each writes audit)."""
    with app.app_context():
        house = create_facility(licensed=4, name="Haus Sicherung")
        other = create_facility(licensed=2)
        for n in range(3):
            create_stay(create_youth(), house, f"2024-02-0{n + 1} 10:00")
        create_stay(create_youth(), other, "2024-02-01 10:00", "2024-02-05 09:00")
        users.create_user(
            audit.CLI, email="admin@example.org", role="admin", password="long enough password"
        )
        db.session.commit()


def row_counts(app) -> dict[str, int]:
    """The number of rows of every table (Alembic's version table too)."""
    with app.app_context():
        names = sa.inspect(db.engine).get_table_names()
        with db.engine.connect() as conn:
            counts = {
                name: conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar()
                for name in names
            }
        db.session.remove()
    return counts


def verify(app) -> str:
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_backup_restores_every_row_and_the_audit_chain(sqlite_app, tmp_path, monkeypatch):
    populate(sqlite_app)
    before = row_counts(sqlite_app)
    head = verify(sqlite_app)
    assert before["stay"] == 4 and before["audit_event"] > 5 and before["alembic_version"] == 1

    target = tmp_path / "backups" / "platzplan.sqlite"
    target.parent.mkdir()
    result = sqlite_app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert str(target) in result.output and "Bytes" in result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # personal data: owner only
    assert list(target.parent.iterdir()) == [target]  # no temporary file left behind
    # One self-contained file: not in WAL mode.
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"

    # Open the backup as the app's database.
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "restored-instance"))
    restored = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{target}",
        }
    )
    assert row_counts(restored) == before
    assert verify(restored) == head
    assert "letzter Hash" in head
    with restored.app_context():
        db.engine.dispose()


def test_backup_leaves_out_a_transaction_still_open(sqlite_app, tmp_path):
    """The copy is a snapshot of what was committed, while another process writes."""
    populate(sqlite_app)
    live = sqlite_app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    writer = sqlite3.connect(live, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO process_heartbeat (kind, holder, beat_at) VALUES ('x', 'y', '2024-01-01')"
    )
    try:
        result = sqlite_app.test_cli_runner().invoke(args=["backup", str(tmp_path / "b.sqlite")])
        assert result.exit_code == 0, result.output
    finally:
        writer.execute("COMMIT")
        writer.close()
    with sqlite3.connect(tmp_path / "b.sqlite") as copy:
        assert copy.execute("SELECT count(*) FROM process_heartbeat").fetchone()[0] == 0
    assert row_counts(sqlite_app)["process_heartbeat"] == 1


def test_existing_file_is_refused_without_force(sqlite_app, tmp_path):
    target = tmp_path / "old.sqlite"
    target.write_bytes(b"earlier backup")
    runner = sqlite_app.test_cli_runner()
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code != 0
    assert "--force" in result.output and str(target) in result.output
    assert target.read_bytes() == b"earlier backup"

    result = runner.invoke(args=["backup", str(target), "--force"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("missing-dir/b.sqlite", "gibt es nicht"),
        (".", "Verzeichnis"),
    ],
)
def test_bad_targets(sqlite_app, tmp_path, name, expected):
    result = sqlite_app.test_cli_runner().invoke(args=["backup", str(tmp_path / name)])
    assert result.exit_code != 0
    assert expected in result.output
    assert not (tmp_path / "missing-dir").exists()


def test_the_database_itself_is_refused(sqlite_app):
    live = sqlite_app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    content = Path(live).read_bytes()
    result = sqlite_app.test_cli_runner().invoke(args=["backup", live, "--force"])
    assert result.exit_code != 0
    assert "Datenbank selbst" in result.output
    assert Path(live).read_bytes() == content


def test_postgresql_is_referred_to_pg_dump(tmp_path, monkeypatch, postgres_url):
    if postgres_url is None:
        pytest.skip("no PostgreSQL server available")
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": postgres_url}
    )
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "pg.dump")])
    assert result.exit_code != 0
    assert "pg_dump --format=custom" in result.output
    assert not (tmp_path / "pg.dump").exists()
    with app.app_context():
        db.engine.dispose()
