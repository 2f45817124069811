from flask import render_template
from flask_login import login_required

from placement.main import bp
from placement.services import overview


@bp.route("/")
@login_required
def index():
    """Start page: every active facility with its current occupancy (counts only)."""
    return render_template("main/index.html", board=overview.current_board())


@bp.route("/health")
def health():
    """Liveness probe for monitoring; touches no personal data."""
    return {"status": "ok"}
