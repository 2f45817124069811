from datetime import timedelta

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from placement.extensions import db
from placement.facilities.params import parse_at, parse_day
from placement.services.reporting import charts, facility_page
from placement.timeutil import local
from placement.views import actor

bp = Blueprint("facilities", __name__, url_prefix="/facilities")


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
    page = facility_page.facility_page(
        actor(), facility_id, params.instant, chart_from=chart_from, chart_until=chart_until
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
    )
    return render_template(
        "facilities/show.html",
        page=page,
        params=params,
        chart=chart,
        show_address=page.address_visible,
        see_persons=page.residents is not None,
    )
