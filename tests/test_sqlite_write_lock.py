"""A request that may write holds SQLite's write lock from its start: a transaction that
reads first and writes later would otherwise fail with "database is locked" as soon as
another request committed in between (found by the load benchmark: concurrent discharges
answered 500). Reads keep WAL's concurrent snapshots."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.engine import make_url

from placement.extensions import db


def _sqlite_only(app) -> None:
    if make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() != "sqlite":
        pytest.skip("SQLite only (PostgreSQL locks rows where capacity is decided)")


def _other_writer_can_begin(app) -> bool:
    path = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_writing_request_holds_the_write_lock_from_its_start(app, method):
    _sqlite_only(app)
    with app.test_request_context("/intake/", method=method):
        app.preprocess_request()
        assert not _other_writer_can_begin(app)
        db.session.rollback()
        assert _other_writer_can_begin(app)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_reading_request_does_not_block_writers(app, method):
    _sqlite_only(app)
    with app.test_request_context("/", method=method):
        app.preprocess_request()
        db.session.execute(db.text("SELECT 1"))
        assert _other_writer_can_begin(app)
        db.session.rollback()


def test_postgresql_takes_no_database_wide_lock(app):
    from placement.services.occupancy.locking import take_write_lock

    with app.test_request_context("/intake/", method="POST"):
        app.preprocess_request()
        assert take_write_lock() is (db.engine.dialect.name == "sqlite")
        db.session.rollback()
