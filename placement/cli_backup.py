"""``flask backup FILE``: a consistent copy of the SQLite database while the app runs."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from placement import backup
from placement.extensions import db


def register(app: Flask) -> None:
    app.cli.add_command(backup_command)


@click.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Eine vorhandene Datei überschreiben.")
@with_appcontext
def backup_command(file: Path, force: bool) -> None:
    """Copy the SQLite database to FILE (online backup API); PostgreSQL: use pg_dump."""
    try:
        result = backup.backup_database(db.engine.url, file, force=force)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Sicherung geschrieben: {result.path} ({result.size} Bytes, {result.tables} Tabellen)."
    )
