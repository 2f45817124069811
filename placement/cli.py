"""Flask commands: demo data, scenario import, user accounts. Each command commits once."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from placement import cli_backup, cli_synthetic
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
audit_cli = AppGroup("audit", help="Das Protokoll (Hash-Kette) prüfen.")
retention_cli = AppGroup("retention", help="Personenbezogene Daten nach Fristablauf entfernen.")
forecast_cli = AppGroup("forecast", help="Belegungsprognose: Rückrechnung (Backtest).")


def register(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(import_scenario_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(worker_cli)
    app.cli.add_command(alerts_cli)
    app.cli.add_command(scheduler_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(retention_cli)
    app.cli.add_command(forecast_cli)
    cli_synthetic.register(app)
    cli_backup.register(app)


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Fill an empty database with the Leipzig demo (does nothing if data exists). Only
    into a demo or development database: production refuses demo accounts."""
    if current_app.config.get("ENV", "production") == "production":
        raise click.ClickException(
            "Demo-Konten gehören nicht in eine Produktionsdatenbank: "
            "PLACEMENT_ENV=demo setzen (das tut `make run`)."
        )
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


@users_cli.command("end-sessions")
@click.argument("email")
def users_end_sessions_command(email: str) -> None:
    """End every session of EMAIL at once (the browser must sign in again)."""
    try:
        ended = users.end_sessions(audit.CLI, users.by_email(email).id)
    except PlacementError as exc:
        db.session.rollback()
        raise click.ClickException(error_message(exc)) from exc
    db.session.commit()
    click.echo(f"{ended} Sitzung(en) von {email.strip().lower()} beendet.")


@users_cli.command("unlock")
@click.argument("email")
def users_unlock_command(email: str) -> None:
    """Lift the lock that failed sign-ins put on EMAIL."""
    try:
        lifted = users.unlock(audit.CLI, users.by_email(email).id)
    except PlacementError as exc:
        db.session.rollback()
        raise click.ClickException(error_message(exc)) from exc
    db.session.commit()
    if lifted:
        click.echo(f"Sperre für {email.strip().lower()} aufgehoben.")
    else:
        click.echo(f"{email.strip().lower()} war nicht gesperrt.")


@users_cli.command("set-password")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def users_set_password_command(email: str, password: str) -> None:
    """Set a new password for EMAIL; every session of the account ends."""
    try:
        user = users.set_password(audit.CLI, email, password)
    except PlacementError as exc:
        db.session.rollback()
        raise click.ClickException(error_message(exc)) from exc
    db.session.commit()
    click.echo(f"Passwort für {user.email} gesetzt; alle Sitzungen beendet.")


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


AUDIT_PROBLEMS = {
    "gap": "Eintrag fehlt (Lücke in der Nummerierung)",
    "link": "Verweis auf den vorigen Eintrag passt nicht",
    "hash": "Inhalt wurde verändert (Hash passt nicht)",
    "unverifiable": "personenbezogener Wert ohne Salz, nicht prüfbar",
}


@audit_cli.command("verify")
@with_appcontext
def audit_verify_command() -> None:
    """Check the audit hash chain; exit code 1 names the first broken entry."""
    result = audit.verify_chain()
    db.session.rollback()
    if result.first_break is None:
        click.echo(f"Protokoll in Ordnung: {result.entries} Einträge, letzter Hash {result.head}.")
        return
    broken = result.first_break
    click.echo(
        f"Protokoll beschädigt: erster fehlerhafter Eintrag Nr. {broken.seq} (Id {broken.id}): "
        f"{AUDIT_PROBLEMS[broken.problem]}.",
        err=True,
    )
    raise click.exceptions.Exit(1)


@retention_cli.command("apply")
@click.option("--dry-run", is_flag=True, help="Nur anzeigen, was entfernt würde; nichts ändern.")
@with_appcontext
def retention_apply_command(dry_run: bool) -> None:
    """Remove personal fields of youths whose last stay ended RETENTION_PERSON_YEARS ago."""
    from flask import current_app

    from placement.services.accounts import retention
    from placement.timeutil import local

    years = int(current_app.config["RETENTION_PERSON_YEARS"])
    if dry_run:
        plan = retention.plan_retention(years=years)
        db.session.rollback()
    else:
        plan = retention.apply_retention(audit.CLI, years=years)
        db.session.commit()
    limit = local(plan.limit).strftime("%d.%m.%Y %H:%M")
    click.echo(f"Frist: letzter Aufenthalt vor {limit} beendet ({years} Jahre).")
    click.echo(
        ("Probelauf, würde ändern: " if dry_run else "Geändert: ")
        + f"Jugendliche anonymisiert: {len(plan.youth_ids)}, "
        f"Aufenthalte (bleiben erhalten): {len(plan.stay_ids)}, "
        f"Begründungen entfernt: {plan.override_reasons}, "
        f"Ausschlüsse entfernt: {plan.exclusions}, "
        f"Protokolleinträge geschwärzt: {len(plan.audit_ids)}."
    )
    if plan.youth_ids:
        click.echo("Jugendliche (Id): " + ", ".join(map(str, plan.youth_ids)))
    if plan.audit_ids:
        click.echo("Protokolleinträge (Id): " + ", ".join(map(str, plan.audit_ids)))
    if dry_run:
        click.echo("Probelauf: nichts geändert.")


@forecast_cli.command("backtest")
@with_appcontext
@click.option("--weeks", default=26, show_default=True, type=click.IntRange(1, 520))
@click.option("--json", "as_json", is_flag=True, help="Ergebnis als JSON ausgeben.")
@click.option(
    "--within",
    type=click.IntRange(1, 28),
    default=None,
    help="Frühwarnregel: innerhalb so vieler Tage (Standard: Regel forecast_over).",
)
@click.option(
    "--probability",
    type=click.FloatRange(0.01, 1.0),
    default=None,
    help="Frühwarnregel: ab dieser Wahrscheinlichkeit (Standard: Regel forecast_over).",
)
def forecast_backtest_command(
    weeks: int, as_json: bool, within: int | None, probability: float | None
) -> None:
    """Replay the last WEEKS day by day without looking ahead and score the forecast."""
    from placement.services.forecast import backtest
    from placement.services.reporting import forecasts

    # The alert rule's office-wide settings (forecast_over), as the overview uses them.
    warn_days, warn_p = forecasts.warning_settings()
    result = backtest.run_backtest(
        weeks=weeks, within_days=within or warn_days, probability=probability or warn_p
    )
    db.session.rollback()  # read only
    if as_json:
        click.echo(json.dumps(result.as_json()))
        return
    click.echo(backtest.report_text(result))
