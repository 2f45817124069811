from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from placement import scheduler
from placement.facilities import display
from placement.facilities.params import parse_board
from placement.main.probe import from_loopback
from placement.messages import error_message
from placement.models.enums import FacilityKind, Gender, choices
from placement.services import health as health_service
from placement.services.errors import BadInput, Code, Forbidden, PlacementError
from placement.services.reporting import directory, overview
from placement.timeutil import now as utcnow
from placement.views import actor

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def index():
    """Start page: every active facility with its occupancy now or as of ``at`` (counts
    only) and its expected shortage (forecast), filtered by kind, planning area, youth
    profile and shortage, with totals."""
    params = parse_board(request.args)
    board_options = {"with_forecast": True, "order": params.order}
    try:
        board = overview.board_at(
            actor(), params.instant, params.filters, as_of=params.as_of, **board_options
        )
    except BadInput as error:
        # A future or too early "as of": say so at the field and show the current state.
        params.errors["at"] = " ".join(
            (error_message(error, _("Stand")), _("Angezeigt wird der aktuelle Stand."))
        )
        params.instant, params.as_of = utcnow(), False
        board = overview.board_at(actor(), params.instant, params.filters, **board_options)
    return render_template(
        "main/index.html",
        board=board,
        params=params,
        kind_choices=choices(FacilityKind),
        gender_choices=choices(Gender),
        fmt=display,
    ), (422 if params.errors else 200)


@bp.route("/einrichtungen")
@login_required
def facilities():
    """The facility directory: kind, planning area, profile and places of every open
    facility, each linked to its page; optionally one kind only."""
    errors: dict[str, str] = {}
    kind = None
    raw_kind = request.args.get("kind", "")
    if raw_kind:
        try:
            kind = FacilityKind(raw_kind)
        except ValueError:
            errors["kind"] = _("„Art“: unbekannte Einrichtungsart.")
    entries = directory.facility_directory(actor(), utcnow(), kind)
    return render_template(
        "main/facilities.html",
        entries=entries,
        errors=errors,
        kind=raw_kind,
        kind_choices=choices(FacilityKind),
    ), (422 if errors else 200)


@bp.route("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on their own; the icon is the SVG in static/."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.route("/health")
def health():
    """Liveness probe for monitoring, with the scheduler's heartbeat; no personal data."""
    try:
        beat = scheduler.heartbeat()
    except Exception:  # noqa: BLE001 - the database does not answer
        return {"status": "error", "database": False}, 503
    return {"status": "ok", "database": True, "scheduler": beat}


def _probe_error(error: PlacementError, status: str, code: int):
    """A probe's JSON error: status word, German message, field and stable code."""
    body = {"status": status, "error": error_message(error), "field": error.field}
    return body | {"code": error.code.value}, code


def _probe_actor():
    """The logged-in user as the services' actor, or None (loaded only when asked)."""
    return actor() if current_user.is_authenticated else None


@bp.route("/healthz")
def healthz():
    """Health probe: 200 when the database answers, else 503; with ``deep=1`` (an
    administrator, or a caller on this machine) also heartbeats, outbox and dead letters,
    503 naming what is stale. Counts and ages only; never cached (security_headers)."""
    deep = request.args.get("deep", "0")
    if deep not in ("0", "1"):
        return _probe_error(
            BadInput(Code.UNKNOWN_VALUE, "deep", allowed="0, 1"), "bad_request", 400
        )
    try:
        result = health_service.check(
            deep=deep == "1", actor=_probe_actor, from_loopback=from_loopback(request)
        )
    except Forbidden as error:
        return _probe_error(error, "forbidden", 403)
    if result is None:
        return {"status": "unavailable"}, 503
    return result.as_json(), (200 if result.ok else 503)
