"""Backups of the database while the app runs.

SQLite: Python's ``sqlite3`` online backup API copies a consistent snapshot (readers do not
wait for the writer in WAL mode, and a transaction still open elsewhere is not in the
copy). The copy is written to a temporary file next to the target, checked
(``PRAGMA integrity_check``), switched from WAL to a self-contained single file and only
then renamed onto the target, readable by its owner only: it holds personal data.

PostgreSQL has its own tool for this, ``pg_dump --format=custom`` (and ``pg_restore``);
see docs/production.md."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

PG_DUMP_HINT = (
    "Die Datenbank ist PostgreSQL: dafür `pg_dump --format=custom --file=DATEI DATENBANK` "
    "verwenden (Wiederherstellen mit `pg_restore`, siehe docs/production.md)."
)


class BackupError(Exception):
    """A backup that cannot be made, with the German reason."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    tables: int


def sqlite_file(url: URL) -> Path:
    """The database file of a SQLite URL (BackupError for other databases or in memory)."""
    if url.get_backend_name() == "postgresql":
        raise BackupError(PG_DUMP_HINT)
    if url.get_backend_name() != "sqlite":
        raise BackupError(f"Sicherung für {url.get_backend_name()} nicht vorgesehen.")
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError("Die SQLite-Datenbank liegt nicht in einer Datei.")
    source = Path(url.database)
    if not source.is_file():
        raise BackupError(f"Datenbankdatei {source} gibt es nicht.")
    return source


def check_target(source: Path, target: Path, *, force: bool) -> Path:
    """The absolute target path, or BackupError: a directory, a missing directory, an
    existing file without ``force``, or the database itself."""
    target = target.expanduser().absolute()
    if target.is_dir():
        raise BackupError(f"{target} ist ein Verzeichnis; bitte einen Dateinamen angeben.")
    if not target.parent.is_dir():
        raise BackupError(f"Das Verzeichnis {target.parent} gibt es nicht.")
    if target.exists() and target.resolve() == source.resolve():
        raise BackupError(f"{target} ist die Datenbank selbst.")
    if target.exists() and not force:
        raise BackupError(f"{target} gibt es schon; mit --force wird die Datei überschrieben.")
    return target


def backup_database(url: URL, target: Path, *, force: bool = False) -> BackupResult:
    """Copy the app's SQLite database to ``target`` (see the module docstring)."""
    source = sqlite_file(url)
    target = check_target(source, target, force=force)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)  # mkstemp: mode 0600
    try:
        with (
            contextlib.closing(sqlite3.connect(source, timeout=15)) as src,
            contextlib.closing(sqlite3.connect(temporary)) as dst,
        ):
            src.backup(dst)  # all pages in one step: one snapshot
            dst.execute("PRAGMA journal_mode = DELETE")
            verdict = dst.execute("PRAGMA integrity_check").fetchone()[0]
            tables = dst.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
        if verdict != "ok":
            raise BackupError(f"Die Kopie ist nicht in Ordnung: {verdict}")
        os.replace(temporary, target)
    except sqlite3.Error as exc:
        raise BackupError(f"Sicherung fehlgeschlagen: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return BackupResult(target, target.stat().st_size, int(tables))
