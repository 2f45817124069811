from flask import Blueprint, render_template, request
from flask_login import login_required

from placement import scheduler
from placement.facilities import display
from placement.facilities.params import parse_board
from placement.models.enums import FacilityKind, Gender, choices
from placement.services.reporting import overview
from placement.views import actor

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def index():
    """Start page: every active facility with its occupancy now or as of ``at`` (counts
    only), filtered by kind, planning area and youth profile, with totals."""
    params = parse_board(request.args)
    board = overview.board_at(actor(), params.instant, params.filters)
    return render_template(
        "main/index.html",
        board=board,
        params=params,
        kind_choices=choices(FacilityKind),
        gender_choices=choices(Gender),
        fmt=display,
    )


@bp.route("/health")
def health():
    """Liveness probe for monitoring, with the scheduler's heartbeat; no personal data."""
    try:
        beat = scheduler.heartbeat()
    except Exception:  # noqa: BLE001 - the database does not answer
        return {"status": "error", "database": False}, 503
    return {"status": "ok", "database": True, "scheduler": beat}
