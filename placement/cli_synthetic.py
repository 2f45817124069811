"""`flask seed-synthetic`: a large reproducible database for benchmarks and load tests."""

from __future__ import annotations

import time
from datetime import date, datetime

import click
from flask import Flask
from flask.cli import with_appcontext

from placement.extensions import db
from placement.messages import error_message
from placement.services.accounts import audit
from placement.services.errors import PlacementError
from placement.services.seed import synthetic


def register(app: Flask) -> None:
    app.cli.add_command(seed_synthetic_command)


@click.command("seed-synthetic")
@with_appcontext
@click.option("--facilities", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--youths", default=100_000, show_default=True, type=click.IntRange(0, 10_000_000))
@click.option("--years", default=5.0, show_default=True, type=click.FloatRange(0.1, 30))
@click.option("--seed", default=42, show_default=True, type=int)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Ende der Historie, 00:00 Uhr dieses Tages (Standard: heute). "
    "Gleiche Parameter, Seed und Ende ergeben dieselben Daten.",
)
def seed_synthetic_command(
    facilities: int, youths: int, years: float, seed: int, until: datetime | None
) -> None:
    """Fill an EMPTY database with synthetic facilities, youths and stays (refuses otherwise)."""
    started = time.perf_counter()
    end_day: date | None = until.date() if until else None
    try:
        result = synthetic.seed_synthetic(
            audit.CLI, facilities=facilities, youths=youths, years=years, seed=seed, until=end_day
        )
    except PlacementError as exc:
        db.session.rollback()
        raise click.ClickException(error_message(exc)) from exc
    db.session.commit()
    click.echo(
        f"Synthetische Daten angelegt in {time.perf_counter() - started:.1f} s: "
        f"{result.facilities} Einrichtungen, {result.capacity_periods} Kapazitätszeiträume, "
        f"{result.youths} Jugendliche, {result.stays} Aufenthalte ({result.open_stays} offen), "
        f"{result.over_occupancy_events} Überbelegungsereignisse, "
        f"{result.reservations} Reservierungen."
    )
