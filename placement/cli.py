"""Flask commands: demo data, scenario import, user accounts. Each command commits once."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from placement import cli_synthetic
from placement.extensions import db
from placement.messages import error_message
from placement.services.accounts import audit, users
from placement.services.errors import PlacementError
from placement.services.seed import demo
from placement.services.seed.scenario_import import import_scenario

users_cli = AppGroup("users", help="Benutzerkonten verwalten.")
worker_cli = AppGroup("worker", help="Umzugspläne außerhalb der Webprozesse berechnen.")
alerts_cli = AppGroup("alerts", help="Hinweise prüfen und Benachrichtigungen senden.")
scheduler_cli = AppGroup("scheduler", help="Der Zeitplan-Prozess (Hinweise, Berichte).")


def register(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(import_scenario_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(worker_cli)
    app.cli.add_command(alerts_cli)
    app.cli.add_command(scheduler_cli)
    cli_synthetic.register(app)


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Fill an empty database with the Leipzig demo (does nothing if data exists)."""
    if demo.seed_demo(audit.CLI):
        db.session.commit()
        click.echo(
            f"Demo angelegt. Anmeldung z. B. als leitung@demo.local, Passwort {demo.DEMO_PASSWORD}"
        )
    else:
        click.echo("Die Datenbank enthält bereits Daten; es wurde nichts angelegt.")


@click.command("import-scenario")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as-of", "as_of", help="Stichtag JJJJ-MM-TT (Standard: as_of der Datei)")
def import_scenario_command(file: Path, as_of: str | None) -> None:
    """Import facilities and youths from a placement-scenario/1 JSON file."""
    try:
        data = json.loads(file.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{file}: kein gültiges JSON ({exc})") from exc
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError as exc:
        raise click.BadParameter(
            "Datum im Format JJJJ-MM-TT erwartet.", param_hint="--as-of"
        ) from exc
    try:
        result = import_scenario(audit.CLI, data, as_of=day)
    except PlacementError as exc:
        db.session.rollback()
        for line in getattr(exc, "errors", [error_message(exc)]):
            click.echo(f"Fehler: {line}", err=True)
        raise click.exceptions.Exit(2) from exc
    db.session.commit()
    click.echo(
        f"Einrichtungen: {result.facilities_created} neu, {result.facilities_updated} "
        f"aktualisiert; Jugendliche: {result.youths_created} neu, "
        f"{result.youths_skipped} bereits vorhanden."
    )


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([r.value for r in users.Role]))
@click.option("--name", default="")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option(
    "--facility",
    "facility_ids",
    type=int,
    multiple=True,
    help="Id einer Einrichtung, die dem Konto zugeordnet wird (mehrfach möglich).",
)
def users_create_command(
    email: str, role: str, name: str, password: str, facility_ids: tuple[int, ...]
) -> None:
    """Create a user account (optionally assigned to facilities)."""
    try:
        user = users.create_user(
            audit.CLI,
            email=email,
            role=role,
            name=name,
            password=password,
            facility_ids=list(facility_ids),
        )
    except PlacementError as exc:
        db.session.rollback()
        raise click.ClickException(error_message(exc)) from exc
    db.session.commit()
    click.echo(f"Konto {user.email} ({user.role.value}) angelegt.")
    for facility in user.facilities:
        click.echo(f"Zugeordnet: {facility.name} (Id {facility.id})")


@users_cli.command("token")
@click.argument("email")
def users_token_command(email: str) -> None:
    """Print a new API token for EMAIL (the previous one stops working)."""
    try:
        token = users.issue_token(audit.CLI, email)
    except PlacementError as exc:
        db.session.rollback()
        raise click.ClickException(error_message(exc)) from exc
    db.session.commit()
    click.echo("Neues API-Token (wird nur jetzt angezeigt):")
    click.echo(token)


@worker_cli.command("run")
@click.option("--once", is_flag=True, help="Nur einen wartenden Plan berechnen, dann enden.")
@with_appcontext
def worker_run_command(once: bool) -> None:
    """Solve queued move plans (blocks; several workers may run side by side)."""
    from flask import current_app

    from placement.worker import PlanWorker

    plan_worker = PlanWorker(current_app._get_current_object())
    if once:
        plan_id = plan_worker.run_once()
        click.echo(f"Plan {plan_id} berechnet." if plan_id else "Kein Plan wartet.")
        return
    click.echo(f"Rechenprozess {plan_worker.name} wartet auf Umzugspläne (Strg+C beendet).")
    try:
        plan_worker.run_forever()
    except KeyboardInterrupt:
        plan_worker.stop()


@alerts_cli.command("check")
@with_appcontext
def alerts_check_command() -> None:
    """Run every alert rule once (for cron users and tests)."""
    from flask import current_app

    from placement import jobs

    result = jobs.check_alerts(current_app._get_current_object())
    click.echo(
        f"Neu: {result.fired}, Erinnerungen: {result.reminded}, erledigt: {result.resolved}, "
        f"Benachrichtigungen: {result.notifications}."
    )


@alerts_cli.command("send")
@with_appcontext
def alerts_send_command() -> None:
    """Deliver the outbox once."""
    from flask import current_app

    from placement import jobs
    from placement.worker import worker_name

    sent, failed = jobs.send_outbox(current_app._get_current_object(), worker_name())
    click.echo(f"{sent} Mails gesendet, {failed} fehlgeschlagen (werden wiederholt).")


@scheduler_cli.command("run")
@with_appcontext
def scheduler_run_command() -> None:
    """Run the scheduler (blocks; only one acts even if several are started)."""
    import logging

    from flask import current_app

    from placement.scheduler import Scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # Every run of every job (the heartbeat too) would be a line: only problems.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    scheduler = Scheduler(current_app._get_current_object())
    click.echo(f"Zeitplan-Prozess {scheduler.name} startet.")
    try:
        scheduler.run()
    except KeyboardInterrupt:
        scheduler.stop()
