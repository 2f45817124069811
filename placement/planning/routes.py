"""Move-planning pages. Views parse the form, call the planning services, commit once and
render or redirect; permissions and every rule are in the services."""

from __future__ import annotations

import json
import re

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm

from placement.extensions import db
from placement.messages import (
    error_message,
    objective_sentence,
    plan_error_message,
    stale_messages,
    warning_message,
)
from placement.models.enums import PlanScope, PlanStatus
from placement.planning.forms import PlanForm
from placement.services.errors import Forbidden, PlacementError
from placement.services.intake import youths
from placement.services.planning import plans
from placement.services.planning.scenario import PlanParameters
from placement.views import actor, show_error

bp = Blueprint("planning", __name__, url_prefix="/plans")

WORKING = (PlanStatus.QUEUED, PlanStatus.RUNNING)


class ActionForm(FlaskForm):
    """The CSRF token of the plan page's buttons."""


def _facility_choices() -> list[tuple[int, str]]:
    return [(f.id, f.name) for f in plans.facilities_to_plan(actor())]


@bp.route("/")
@login_required
def index():
    """Plan history, office-wide or of one facility (``facility_id``)."""
    facility_id = request.args.get("facility_id", type=int)
    return render_template(
        "planning/index.html",
        plans=plans.list_plans(actor(), facility_id),
        facility_id=facility_id,
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Start a plan: for the office, chosen facilities, or to relieve one facility."""
    form = PlanForm()
    choices = _facility_choices()
    form.relieve_facility_id.choices = [(0, "–"), *choices]
    form.facility_ids.choices = choices
    form.closed_facility_ids.choices = choices
    if request.method == "GET" and request.args.get("facility_id", "").isdigit():
        form.scope.data = PlanScope.RELIEVE.value
        form.relieve_facility_id.data = int(request.args["facility_id"])
    if form.validate_on_submit():
        try:
            plan = plans.create_plan(actor(), _parameters(form))
            db.session.commit()
            return redirect(url_for("planning.show", plan_id=plan.id))
        except PlacementError as error:
            show_error(form, error)
    return render_template("planning/new.html", form=form), 422 if form.errors else 200


def _parameters(form: PlanForm) -> PlanParameters:
    pinned = tuple(
        youths.youth_by_reference(reference, "pinned").id
        for reference in re.split(r"[\s,;]+", form.pinned.data or "")
        if reference
    )
    return PlanParameters(
        scope=form.scope.data,
        facility_ids=tuple(form.facility_ids.data or ()),
        relieve_facility_id=form.relieve_facility_id.data or None,
        max_moves=form.max_moves.data,
        max_move_km=float(form.max_move_km.data) if form.max_move_km.data is not None else None,
        pinned_youth_ids=pinned,
        closed_facility_ids=tuple(form.closed_facility_ids.data or ()),
        keep_free=form.keep_free.data or 0,
        pin_recent_admissions=form.pin_recent_admissions.data,
        pin_coming_of_age=form.pin_coming_of_age.data,
        time_limit=float(form.time_limit.data or 0),
    )


@bp.route("/<int:plan_id>")
@login_required
def show(plan_id: int):
    """A plan: progress while it is computed, then the review (persons view: audited)."""
    plan = plans.get_plan(actor(), plan_id)
    review = (
        None if plan.status in WORKING or plan.result is None else plans.review(actor(), plan_id)
    )
    db.session.commit()  # a lost lease marked failed, the audit entry of the review
    return render_template(
        "planning/show.html",
        plan=plan,
        review=review,
        form=ActionForm(),
        working=plan.status in WORKING,
        sentence=objective_sentence,
        stale=stale_messages(plan.stale_reason or []),
        error_text=plan_error_message(plan.error) if plan.status == PlanStatus.FAILED else None,
    )


@bp.route("/<int:plan_id>/print")
@login_required
def print_view(plan_id: int):
    """The moves for the transport team: who, from, to, siblings together (audited)."""
    review = plans.review(actor(), plan_id)
    db.session.commit()
    return render_template("planning/print.html", review=review)


@bp.route("/<int:plan_id>/<any(scenario, plan):document>.json")
@login_required
def download(plan_id: int, document: str):
    """The scenario the plan was computed from, or the solver's plan, as JSON files: with
    both, ``python -m solver validate SCENARIO PLAN`` re-checks the plan."""
    body = plans.plan_document(actor(), plan_id, document)
    db.session.commit()
    return Response(
        json.dumps(body, ensure_ascii=False, indent=1),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="plan-{plan_id}-{document}.json"'},
    )


def _selected() -> list[int] | None:
    chosen = [int(v) for v in request.form.getlist("moves") if v.isdigit()]
    return chosen if "moves_shown" in request.form else None


def _act(plan_id: int, action) -> Response:
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("Die Sitzung ist abgelaufen; bitte erneut versuchen."), "danger")
        return redirect(url_for("planning.show", plan_id=plan_id))
    try:
        target = action()
        db.session.commit()
        return target
    except Forbidden:
        raise
    except PlacementError as error:
        db.session.rollback()
        flash(error_message(error), "danger")
        return redirect(url_for("planning.show", plan_id=plan_id))


@bp.post("/<int:plan_id>/approve")
@login_required
def approve(plan_id: int):
    """Approve the selected moves (department heads)."""

    def action():
        plans.approve_plan(actor(), plan_id, _selected())
        flash(_("Plan genehmigt."), "success")
        return redirect(url_for("planning.show", plan_id=plan_id))

    return _act(plan_id, action)


@bp.post("/<int:plan_id>/execute")
@login_required
def execute(plan_id: int):
    """Execute the approved (or, for department heads, the selected) moves at once."""

    def action():
        done = plans.execute_plan(actor(), plan_id, _selected())
        if done.executed:
            flash(_("%(n)s Umzüge ausgeführt.", n=len(done.stays)), "success")
            for warning in done.warnings:
                flash(warning_message(warning), "warning")
        else:
            flash(_("Nicht ausgeführt: der Plan ist veraltet."), "danger")
            for line in stale_messages(done.stale):
                flash(line, "danger")
        return redirect(url_for("planning.show", plan_id=plan_id))

    return _act(plan_id, action)


@bp.post("/<int:plan_id>/cancel")
@login_required
def cancel(plan_id: int):
    """Stop or withdraw a plan."""

    def action():
        plans.cancel_plan(actor(), plan_id)
        flash(_("Plan abgebrochen."), "info")
        return redirect(url_for("planning.show", plan_id=plan_id))

    return _act(plan_id, action)


@bp.post("/<int:plan_id>/replan")
@login_required
def replan(plan_id: int):
    """The same parameters again, from the database as it is now."""

    def action():
        plan = plans.replan(actor(), plan_id)
        return redirect(url_for("planning.show", plan_id=plan.id))

    return _act(plan_id, action)
