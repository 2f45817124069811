"""Alert pages. Views parse, call the alert services, commit once, render or redirect."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm

from placement.extensions import db
from placement.messages import alert_line, alert_title, error_message
from placement.services.alerts import inbox, outbox
from placement.services.alerts.rules import RULES
from placement.services.errors import BadInput, Code, Forbidden, PlacementError
from placement.services.planning.plans import facilities_to_plan
from placement.views import actor

bp = Blueprint("alerts", __name__, url_prefix="/alerts")


class ActionForm(FlaskForm):
    """The CSRF token of the alert pages' buttons and small forms."""


def _int(value) -> int | None:
    return int(value) if str(value or "").strip().isdigit() else None


def _number(values, name: str) -> float | None:
    """A typed number (decimal comma allowed); empty is None, anything else an error."""
    raw = str(values.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw.replace(",", "."))
    except ValueError as exc:
        raise BadInput(Code.NOT_NUMBER, name) from exc


def _done(target: str, message: str | None = None):
    db.session.commit()
    if message:
        flash(message, "success")
    return redirect(target)


def _refused(error: PlacementError, target: str):
    if isinstance(error, Forbidden):
        raise error
    db.session.rollback()
    flash(error_message(error), "danger")
    return redirect(target)


@bp.route("/")
@login_required
def index():
    """The inbox: what fires now, most severe first, and what was resolved this week."""
    alerts = inbox.inbox(actor())
    return render_template(
        "alerts/index.html",
        alerts=alerts,
        form=ActionForm(),
        title=alert_title,
        line=alert_line,
    )


@bp.post("/<int:alert_id>/ack")
@login_required
def acknowledge(alert_id: int):
    """Mark an alert as seen and taken care of."""
    if not ActionForm().validate_on_submit():
        return redirect(url_for("alerts.index"))
    try:
        inbox.acknowledge(actor(), alert_id)
    except PlacementError as error:
        return _refused(error, url_for("alerts.index"))
    return _done(url_for("alerts.index"), _("Zur Kenntnis genommen."))


@bp.route("/silences", methods=["GET", "POST"])
@login_required
def silences():
    """Silence a rule for a facility or a stay, with a reason and an expiry."""
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        values = request.form
        try:
            inbox.silence(
                actor(),
                rule=values.get("rule") or None,
                facility_id=_int(values.get("facility_id")),
                stay_id=_int(values.get("stay_id")),
                reason=values.get("reason"),
                hours=_int(values.get("hours")),
            )
        except PlacementError as error:
            return _refused(error, url_for("alerts.silences", **request.args))
        return _done(url_for("alerts.silences"), _("Stummgeschaltet."))
    return render_template(
        "alerts/silences.html",
        form=form,
        silences=inbox.active_silences(actor()),
        rules=list(RULES),
        facilities=facilities_to_plan(actor()) if _may_manage() else [],
        preset=request.args,
    )


def _may_manage() -> bool:
    from placement.navigation import user_can

    return user_can("manage_alerts")


@bp.post("/silences/<int:silence_id>/end")
@login_required
def end_silence(silence_id: int):
    if not ActionForm().validate_on_submit():
        return redirect(url_for("alerts.silences"))
    try:
        inbox.end_silence(actor(), silence_id)
    except PlacementError as error:
        return _refused(error, url_for("alerts.silences"))
    return _done(url_for("alerts.silences"), _("Stummschaltung aufgehoben."))


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    """The rules' thresholds, office-wide or for one facility (department heads)."""
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        values = request.form
        rule = values.get("rule", "")
        editable = inbox.EDITABLE.get(rule, {})
        try:
            inbox.set_threshold(
                actor(),
                rule,
                facility_id=_int(values.get("facility_id")),
                enabled=values.get("enabled") == "1",
                **{name: _number(values, name) for name in editable},
            )
        except PlacementError as error:
            return _refused(error, url_for("alerts.settings"))
        return _done(url_for("alerts.settings"), _("Schwellenwerte gespeichert."))
    return render_template(
        "alerts/settings.html",
        form=form,
        rules=RULES,
        editable=inbox.EDITABLE,
        stored=inbox.settings(actor()),
        facilities=facilities_to_plan(actor()) if _may_manage() else [],
    )


@bp.route("/outbox")
@login_required
def dead_letters():
    """Notifications that could not be delivered, to send again (administrators)."""
    return render_template(
        "alerts/outbox.html", rows=outbox.dead_letters(actor()), form=ActionForm()
    )


@bp.post("/outbox/<int:notification_id>/resend")
@login_required
def resend(notification_id: int):
    if not ActionForm().validate_on_submit():
        return redirect(url_for("alerts.dead_letters"))
    try:
        outbox.resend(actor(), notification_id)
    except PlacementError as error:
        return _refused(error, url_for("alerts.dead_letters"))
    return _done(url_for("alerts.dead_letters"), _("Wird erneut gesendet."))
