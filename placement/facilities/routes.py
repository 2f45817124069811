from dataclasses import replace
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from placement.extensions import db
from placement.facilities.forms import ActionForm, CapacityForm, FacilityForm
from placement.facilities.params import parse_at, parse_day, parse_forecast_days
from placement.formatting import format_local
from placement.messages import error_message
from placement.services.accounts import permissions
from placement.services.accounts.permissions import Permission
from placement.services.errors import BadInput, Forbidden, NotFound, PlacementError
from placement.services.facilities import admin
from placement.services.occupancy import capacity
from placement.services.reporting import charts, facility_page, forecasts
from placement.timeutil import from_local, local
from placement.timeutil import now as utc_now
from placement.views import actor, show_error

bp = Blueprint("facilities", __name__, url_prefix="/facilities")


MAX_CHART_DAYS = 3 * 366


@bp.route("/")
@login_required
def index():
    """For those who manage facilities, the list of their facilities (administrators: all,
    closed ones too) with the confirmation state; for everyone else, the directory."""
    if not permissions.can(current_user.role, Permission.MANAGE_FACILITY):
        return redirect(url_for("main.facilities", **request.args))
    rows = admin.managed_facilities(actor())
    return render_template(
        "facilities/index.html",
        rows=rows,
        may_create=permissions.can(current_user.role, Permission.MANAGE),
        stale_hours=current_app.config["FACILITY_CONFIRMATION_STALE_HOURS"],
        confirm_form=ActionForm(),
    )


@bp.route("/<int:facility_id>")
@login_required
def show(facility_id: int):
    """One facility as of now or ``at``: profile, capacity history, chart, over-occupancy
    episodes and, for users allowed to see persons, the residents (that view is audited)."""
    params = parse_at(request.args)
    chart_from = parse_day(request.args, "from", _("Diagramm von"), params.errors)
    chart_until = parse_day(request.args, "until", _("Diagramm bis"), params.errors)
    if (
        chart_from
        and chart_until
        and (chart_from > chart_until or (chart_until - chart_from).days >= MAX_CHART_DAYS)
    ):
        params.errors["from"] = _(
            "„Diagramm von“ muss vor „Diagramm bis“ liegen (höchstens drei Jahre)."
        )
        chart_from = chart_until = None
    if chart_from and not chart_until:
        chart_until = min(chart_from + timedelta(days=89), local(params.instant).date())
    forecast_days = parse_forecast_days(request.args, params.errors)
    try:
        page = facility_page.facility_page(
            actor(),
            facility_id,
            params.instant,
            chart_from=chart_from,
            chart_until=chart_until,
            as_of=params.as_of,
            forecast_days=forecast_days,
        )
    except BadInput as error:
        # A future or too early "as of": say so at the field and show the current state.
        db.session.rollback()
        params.errors["at"] = " ".join(
            (error_message(error, _("Stand")), _("Angezeigt wird der aktuelle Stand."))
        )
        params.instant, params.as_of = utc_now(), False
        page = facility_page.facility_page(
            actor(),
            facility_id,
            params.instant,
            chart_from=chart_from,
            chart_until=chart_until,
            forecast_days=forecast_days,
        )
    db.session.commit()  # the audit entry of a residents view
    chart = charts.occupancy_chart(
        page.chart_days,
        title=_("Belegung von %(name)s", name=page.facility.name),
        description=_(
            "Höchststand je Tag vom %(start)s bis %(end)s, mit Grenze und belegbaren Plätzen; "
            "dieselben Zahlen stehen in der Tabelle.",
            start=page.chart_from.strftime("%d.%m.%Y"),
            end=page.chart_until.strftime("%d.%m.%Y"),
        ),
        legend=(_("Höchststand je Tag"), _("Grenze"), _("belegbar")),
        forecast=page.chart_forecast,
        forecast_legend=(_("Prognose (erwartet)"), _("80-%-Band"), _("jetzt")),
    )
    may_manage = admin.may_manage(actor(), facility_id)
    warn_days, warn_p = forecasts.warning_settings()  # the alert rule's, office-wide
    return render_template(
        "facilities/show.html",
        page=page,
        params=params,
        chart=chart,
        show_address=page.address_visible,
        see_persons=page.residents is not None,
        may_manage=may_manage,
        confirm_form=ActionForm() if may_manage else None,
        confirmed_by=admin.confirmed_by(page.facility) if page.facility.confirmed_at else None,
        confirmation_stale=capacity.confirmation_stale(page.facility.confirmed_at),
        stale_hours=current_app.config["FACILITY_CONFIRMATION_STALE_HOURS"],
        forecast_days=forecast_days,
        forecast_typed=request.args.get("forecast_days", ""),
        warn_days=warn_days,
        warn_p=warn_p,
    ), (422 if params.errors else 200)


# --- administration ------------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Create a facility (administrators only); its code is generated when left empty."""
    permissions.require(current_user.role, Permission.MANAGE)
    form = FacilityForm()
    if request.method == "GET":
        form.age_min.data, form.age_max.data = 0, 17
        form.genders.data = ["d", "f", "m"]
        form.uma_policy.data = "allowed"
    if form.validate_on_submit():
        try:
            facility = admin.create_facility(
                actor(),
                form.profile(),
                code=form.code.data,
                licensed=form.licensed.data,
                usable=form.usable.data,
            )
            db.session.commit()
            flash(_("Einrichtung „%(name)s“ angelegt.", name=facility.name), "success")
            return redirect(url_for("facilities.show", facility_id=facility.id))
        except PlacementError as error:
            show_error(form, error)
    status = 422 if form.errors or request.method == "POST" else 200
    return render_template("facilities/edit.html", form=form, facility=None), status


@bp.route("/<int:facility_id>/edit", methods=["GET", "POST"])
@login_required
def edit(facility_id: int):
    """Edit a facility's profile (its managers and administrators)."""
    facility = admin.facility_for_edit(actor(), facility_id)
    form = FacilityForm()
    if request.method == "GET":
        form.fill(facility)
    if form.validate_on_submit():
        try:
            admin.update_facility(actor(), facility_id, form.profile())
            db.session.commit()
            flash(_("Änderungen gespeichert."), "success")
            return redirect(url_for("facilities.show", facility_id=facility_id))
        except PlacementError as error:
            show_error(form, error)
            facility = admin.facility_for_edit(actor(), facility_id)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "facilities/edit.html",
        form=form,
        facility=facility,
        action_form=ActionForm(formdata=None),
        open_stays=admin.open_stay_count(facility_id),
    ), status


@bp.post("/<int:facility_id>/close")
@login_required
def close(facility_id: int):
    """Close a facility: no admissions, not suggested any more; its history stays."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        still_open = admin.close_facility(actor(), facility_id, reason=form.reason.data)
        db.session.commit()
        flash(_("Die Einrichtung ist geschlossen."), "success")
        if still_open:
            flash(
                _(
                    "Dort sind noch %(n)s Aufenthalte offen: bitte verlegen oder beenden.",
                    n=still_open,
                ),
                "warning",
            )
    except (Forbidden, NotFound):
        raise
    except PlacementError as error:
        show_error(form, error)
    return redirect(url_for("facilities.edit", facility_id=facility_id))


@bp.post("/<int:facility_id>/reopen")
@login_required
def reopen(facility_id: int):
    """Reopen a closed facility."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        admin.reopen_facility(actor(), facility_id)
        db.session.commit()
        flash(_("Die Einrichtung ist wieder geöffnet."), "success")
    except (Forbidden, NotFound):
        raise
    except PlacementError as error:
        show_error(form, error)
    return redirect(url_for("facilities.edit", facility_id=facility_id))


@bp.post("/<int:facility_id>/confirm")
@login_required
def confirm(facility_id: int):
    """One click: "our numbers are right as of now"."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        facility = admin.confirm_occupancy(actor(), facility_id)
        db.session.commit()
        flash(
            _(
                "Belegung von %(name)s bestätigt (Stand %(at)s).",
                name=facility.name,
                at=format_local(facility.confirmed_at),
            ),
            "success",
        )
    except (Forbidden, NotFound):
        raise
    except PlacementError as error:
        show_error(form, error)
    target = form.next.data
    if target == "list":
        return redirect(url_for("facilities.index"))
    return redirect(url_for("facilities.show", facility_id=facility_id))


@bp.route("/<int:facility_id>/capacity", methods=["GET", "POST"])
@login_required
def capacity_page(facility_id: int):
    """The capacity history and a change of places from an instant. A change that would
    leave more people than usable places is shown first and saved only when confirmed."""
    page = capacity.capacity_page(actor(), facility_id)
    form = CapacityForm()
    if request.method == "GET":
        _prefill_capacity(form, page.current)
    preview = None
    status = 200
    if form.validate_on_submit():
        try:
            change = _capacity_change(form)
            if form.valid_from.data is None:
                shown = local(change.valid_from).replace(tzinfo=None)
                form.valid_from.data = shown
                form.valid_from.raw_data = [shown.strftime("%Y-%m-%dT%H:%M")]
            if change.confirmation is None:
                preview = capacity.preview_change(actor(), facility_id, change)
                if not preview.needs_confirmation:
                    change = replace(change, confirmation=preview.confirmation)
            if change.confirmation is not None:
                result = capacity.change_capacity(actor(), facility_id, change)
                db.session.commit()
                flash(
                    _(
                        "Plätze geändert: ein neuer Zeitraum gilt ab %(at)s.",
                        at=format_local(change.valid_from),
                    ),
                    "success",
                )
                if result.over_by:
                    flash(
                        _(
                            "%(n)s Personen mehr untergebracht als Plätze belegbar sind.",
                            n=result.over_by,
                        ),
                        "warning",
                    )
                return redirect(url_for("facilities.capacity_page", facility_id=facility_id))
        except capacity.CapacityConfirmationOutdated as outdated:
            db.session.rollback()
            flash(error_message(outdated), "warning")
            preview = outdated.preview
        except PlacementError as error:
            show_error(form, error)
            preview = None
        form.confirm.data = preview.confirmation if preview is not None else ""
        if preview is None or form.errors:
            status = 422
        page = capacity.capacity_page(actor(), facility_id)
    elif request.method == "POST":
        status = 422
    return render_template(
        "facilities/capacity.html", page=page, form=form, preview=preview
    ), status


def _prefill_capacity(form: CapacityForm, current) -> None:
    if current is None:
        return
    form.licensed.data = current.licensed_places
    form.usable.data = current.usable_places
    form.kept_free.data = current.reserved_places
    form.ceiling.data = current.temporary_ceiling
    if current.temporary_ceiling is not None:
        form.ceiling_reference.data = current.ceiling_reference
        if current.valid_until is not None:
            last = local(current.valid_until - timedelta(microseconds=1))
            form.ceiling_until.data = last.date()


def _capacity_change(form: CapacityForm) -> capacity.CapacityChange:
    """The service's change from the typed form: every number is sent as shown (an empty
    ceiling means none)."""
    # Empty: from now, to the minute, which the confirmation round sends back as typed.
    valid_from = from_local(form.valid_from.data, "valid_from") or utc_now().replace(
        second=0, microsecond=0
    )
    return capacity.CapacityChange(
        valid_from=valid_from,
        licensed=form.licensed.data,
        usable=form.usable.data,
        kept_free=form.kept_free.data,
        ceiling=form.ceiling.data,
        ceiling_until=form.ceiling_until.data,
        ceiling_reference=form.ceiling_reference.data,
        note=form.note.data,
        confirmation=form.confirm.data or None,
    )
