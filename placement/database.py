"""Engine tuning per database.

SQLite: WAL (readers never wait for the writer), foreign keys on, a busy timeout, and
explicit BEGIN statements so that write transactions that check capacity can take the
write lock up front with ``BEGIN IMMEDIATE`` (pysqlite's own implicit BEGIN is disabled)."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine

SQLITE_BEGIN_OPTION = "sqlite_begin"


def configure_engine(engine: Engine, busy_timeout_ms: int) -> None:
    """Install the connection and transaction hooks this project relies on."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE"):
            raise ValueError(f"unsupported SQLite BEGIN mode {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")
