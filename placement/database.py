"""Engine tuning per database.

SQLite: WAL (readers never wait for the writer), foreign keys on, a busy timeout, and
explicit BEGIN statements so that write transactions that check capacity can take the
write lock up front with ``BEGIN IMMEDIATE`` (pysqlite's own implicit BEGIN is disabled)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

SQLITE_BEGIN_OPTION = "sqlite_begin"


def engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """SQLALCHEMY_ENGINE_OPTIONS with the pool settings (DB_POOL_*) for a PostgreSQL URI:
    pre-ping, pool size, overflow, wait, recycle and libpq's connect timeout. Options given
    in SQLALCHEMY_ENGINE_OPTIONS win; SQLite keeps SQLAlchemy's own pool."""
    given = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    uri = config.get("SQLALCHEMY_DATABASE_URI")
    if not uri or make_url(uri).get_backend_name() != "postgresql":
        return given
    options: dict[str, Any] = {
        "pool_pre_ping": bool(config["DB_POOL_PRE_PING"]),
        "pool_size": int(config["DB_POOL_SIZE"]),
        "max_overflow": int(config["DB_MAX_OVERFLOW"]),
        "pool_timeout": float(config["DB_POOL_TIMEOUT"]),
        "pool_recycle": int(config["DB_POOL_RECYCLE"]),
    }
    connect_args = {"connect_timeout": int(config["DB_CONNECT_TIMEOUT"])}
    connect_args.update(given.pop("connect_args", None) or {})
    return options | given | {"connect_args": connect_args}


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
