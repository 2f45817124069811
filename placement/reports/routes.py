from datetime import date

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from placement.facilities.display import table_rows_html
from placement.facilities.params import parse_at
from placement.messages import error_message
from placement.services.errors import BadInput
from placement.services.reporting import downloads, reports
from placement.timeutil import local
from placement.timeutil import now as utcnow
from placement.views import actor

bp = Blueprint("reports", __name__, url_prefix="/reports")


FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@bp.before_request
@login_required
def require_login():
    """Reports show counts only; the services check that the role may see them."""


@bp.route("/")
def index():
    """Choose a report: Stichtag or month."""
    now = local(utcnow())
    previous = date(now.year - (now.month == 1), (now.month - 2) % 12 + 1, 1)
    return render_template(
        "reports/index.html",
        default_month=previous.strftime("%Y-%m"),
        default_at=now.strftime("%Y-%m-%dT%H:%M"),
    )


@bp.route("/stichtag")
def stichtag():
    """Occupancy per facility at one instant (default now), as page, CSV or XLSX."""
    params = parse_at(request.args, label=_("Stichtag"))
    try:
        report = reports.stichtag_report(actor(), params.instant)
    except BadInput as error:
        # A Stichtag in the future or before the data: no report, only the message.
        params.errors["at"] = error_message(error, _("Stichtag"))
        return render_template("reports/stichtag.html", report=None, params=params), 422
    stamp = local(params.instant)
    title = _("Stichtagsbericht")
    subtitle = _("Stichtag %(at)s (Europe/Berlin)", at=stamp.strftime("%d.%m.%Y %H:%M"))
    table = downloads.stichtag_table(report)
    download = _download(table, title, subtitle, f"stichtag-{stamp:%Y-%m-%d-%H%M}")
    if download is not None:
        return download
    return render_template(
        "reports/stichtag.html",
        report=report,
        params=params,
        subtitle=subtitle,
        downloads=_download_urls(),
        print_url=_print_url(),
        **_html_table(table),
    ), (422 if params.errors else 200)


@bp.route("/monthly")
def monthly():
    """Monthly figures per facility (default: the previous month), as page, CSV or XLSX."""
    errors: dict[str, str] = {}
    raw = (request.args.get("month") or "").strip()
    now = local(utcnow())
    year, month = (now.year - (now.month == 1), (now.month - 2) % 12 + 1)
    if raw:
        try:
            parsed = date.fromisoformat(raw + "-01")
            if not 1990 <= parsed.year <= 2100:
                raise ValueError(raw)
            year, month = parsed.year, parsed.month
        except ValueError:
            errors["month"] = _(
                "„Monat“: „%(value)s“ ist kein gültiger Monat (JJJJ-MM). Angezeigt wird der "
                "Vormonat.",
                value=raw,
            )
    try:
        report = reports.monthly_report(actor(), year, month)
    except BadInput as error:
        # A month not begun yet or before the data: no report, only the message.
        errors["month"] = error_message(error, _("Monat"))
        return _monthly_refused(errors, raw)
    title = _("Monatsbericht")
    subtitle = _("%(month)02d/%(year)s (Europe/Berlin)", month=month, year=year)
    table = downloads.monthly_table(report)
    download = _download(table, title, subtitle, f"monatsbericht-{year}-{month:02d}")
    if download is not None:
        return download
    return render_template(
        "reports/monthly.html",
        report=report,
        errors=errors,
        typed=raw,
        month_value=f"{year}-{month:02d}",
        subtitle=subtitle,
        downloads=_download_urls(),
        print_url=_print_url(),
        **_html_table(table),
    ), (422 if errors else 200)


def _monthly_refused(errors: dict[str, str], typed: str):
    return render_template(
        "reports/monthly.html", report=None, errors=errors, typed=typed, month_value=typed
    ), 422


def _print_url() -> str:
    """The same report as a print view (landscape, no navigation)."""
    args = {k: v for k, v in request.args.to_dict().items() if k not in ("format", "print")}
    return url_for(request.endpoint, **args, print=1)


def _download(table, title: str, subtitle: str, filename: str):
    fmt = request.args.get("format", "")
    if fmt not in FORMATS:
        return None
    body = downloads.to_csv(table) if fmt == "csv" else downloads.to_xlsx(table, title, subtitle)
    return Response(
        body,
        mimetype=FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'},
    )


def _download_urls() -> dict[str, str]:
    args = request.args.to_dict()
    return {fmt: url_for(request.endpoint, **{**args, "format": fmt}) for fmt in ("csv", "xlsx")}


def _html_table(table) -> dict:
    """The page shows exactly the rows of the downloads; shares are shown in per cent."""
    headers, rows = table
    shares = frozenset(i for i, h in enumerate(headers) if "Anteil" in h)
    return {"headers": headers, "rows_html": table_rows_html(rows, percent_columns=shares)}


@bp.route("/land")
def land():
    """The daily umA report for the Land office (counts only), as page or CSV."""
    from placement.services.reporting import land as land_report

    params = parse_at(request.args, label=_("Stichtag"))
    counts = land_report.land_counts(actor(), params.instant)
    stamp = local(params.instant)
    day = stamp.strftime("%d.%m.%Y")
    if request.args.get("format") == "csv":
        name = f"belegungsmeldung-uma-{stamp.date().isoformat()}.csv"  # as the mail's
        return Response(
            land_report.land_csv(day, counts).encode("utf-8-sig"),
            mimetype=FORMATS["csv"],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    headers, rows = land_report.land_table(counts)
    return render_template("reports/land.html", params=params, headers=headers, rows=rows, day=day)
