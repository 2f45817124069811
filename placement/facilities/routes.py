from datetime import timedelta

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from placement.extensions import db
from placement.facilities import bp
from placement.facilities.params import parse_at, parse_day
from placement.services import audit, charts, overview
from placement.services.permissions import Permission, can
from placement.timeutil import local

MAX_CHART_DAYS = 3 * 366


@bp.route("/")
@login_required
def index():
    """The facility list is the overview (kept as a separate entry for the navigation)."""
    return redirect(url_for("main.index", **request.args))


@bp.route("/<int:facility_id>")
@login_required
def show(facility_id: int):
    """One facility as of now or ``at``: profile, capacity history, chart, over-occupancy
    episodes and, for users allowed to see persons, the residents (that view is audited)."""
    if not can(current_user.role, Permission.VIEW_COUNTS):
        abort(403)
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
    see_persons = can(current_user.role, Permission.VIEW_PERSONS)
    page = overview.facility_page(
        facility_id,
        params.instant,
        with_residents=see_persons,
        chart_from=chart_from,
        chart_until=chart_until,
    )
    if page is None:
        abort(404)
    if see_persons:
        audit.record(
            audit.Actor.for_user(current_user),
            "facility.residents.view",
            page.facility,
            after={"at": params.instant.isoformat(), "residents": len(page.residents or [])},
        )
        db.session.commit()
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
    )
    show_address = not page.facility.anonymous_address or see_persons
    return render_template(
        "facilities/show.html",
        page=page,
        params=params,
        chart=chart,
        show_address=show_address,
        see_persons=see_persons,
    )
