"""JSON API under /api/v1 for the office's case-management software.

Authentication: ``Authorization: Bearer TOKEN`` (``flask users token EMAIL``). Errors are
JSON bodies ``{"error": "<German message>", "field": "<name or null>"}``."""

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import HTTPException

from placement.extensions import csrf
from placement.services import users
from placement.services.errors import PlacementError

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

PUBLIC_ENDPOINTS = {"api.openapi"}

HTTP_MESSAGES = {
    400: "Ungültige Anfrage.",
    401: "Anmeldung erforderlich: Authorization: Bearer TOKEN.",
    403: "Für diese Aktion fehlt Ihnen die Berechtigung.",
    404: "Nicht gefunden.",
    405: "Diese Methode ist hier nicht erlaubt.",
    413: "Die Anfrage ist zu groß.",
    415: "Bitte JSON senden (Content-Type: application/json).",
}


def error_response(status: int, message: str, field: str | None = None):
    return jsonify({"error": message, "field": field}), status


@bp.before_request
def authenticate():
    """Resolve the bearer token to a user; every endpoint but the OpenAPI document needs one."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    user = users.user_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        response, status = error_response(401, HTTP_MESSAGES[401], "Authorization")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response, status
    g.api_user = user
    return None


@bp.errorhandler(PlacementError)
def placement_error(error: PlacementError):
    return error_response(error.status_code, error.message, error.field)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    status = error.code or 500
    return error_response(status, HTTP_MESSAGES.get(status, error.description or ""))


# Route modules register themselves on bp.
from placement.api import intake, occupancy, openapi  # noqa: E402,F401
