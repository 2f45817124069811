"""The API's error adapter: every error is ``{"error": <German message>, "field": <name or
null>, "code": <stable code>}`` with a status chosen by the kind of error.

Validation errors of the request schemas arrive here as marshmallow messages that are
already codes (see ``api.schemas``); they become the same coded errors the services raise."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import jsonify, request
from flask_smorest import Api as SmorestApi
from marshmallow.error_store import SCHEMA
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import HTTPException

from placement.api.schemas import ErrorOut
from placement.messages import error_message
from placement.services.errors import (
    BadInput,
    Code,
    Conflict,
    Forbidden,
    NotFound,
    PlacementError,
    RuleViolation,
    Unauthenticated,
)

STATUS_BY_KIND: list[tuple[type[PlacementError], int]] = [
    (BadInput, 400),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (RuleViolation, 422),
]

HTTP_CODES = {
    400: Code.BAD_REQUEST,
    401: Code.UNAUTHENTICATED,
    403: Code.FORBIDDEN,
    404: Code.NOT_FOUND,
    405: Code.METHOD_NOT_ALLOWED,
    413: Code.PAYLOAD_TOO_LARGE,
    415: Code.UNSUPPORTED_MEDIA_TYPE,
    500: Code.SERVER_ERROR,
}


def status_of(error: PlacementError) -> int:
    return next((status for kind, status in STATUS_BY_KIND if isinstance(error, kind)), 422)


def error_response(error: PlacementError, status: int | None = None):
    body = {"error": error_message(error), "field": error.field, "code": error.code.value}
    if isinstance(error.params.get("stay_id"), int):
        body["stay_id"] = error.params["stay_id"]  # the open stay an admission points to
    return jsonify(body), status or status_of(error)


# --- validation errors -------------------------------------------------------------------


def _first_error(messages: Any, path: tuple[str, ...] = ()) -> tuple[tuple[str, ...], str]:
    """The first (path, code) in marshmallow's nested error messages."""
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        return _first_error(value, (*path, str(key)))
    if isinstance(messages, list):
        return _first_error(messages[0], path)
    return path, str(messages)


def _field_at(schema: ma.Schema, path: tuple[str, ...]) -> ma.fields.Field | None:
    field = None
    for name in path:
        if name.isdigit() and isinstance(field, ma.fields.List):  # an element of a list
            field = field.inner
            schema = field.schema if isinstance(field, ma.fields.Nested) else None
            continue
        fields = schema.fields if schema is not None else {}
        field = fields.get(name)
        if field is None:
            return None
        schema = field.schema if isinstance(field, ma.fields.Nested) else None
    return field


def _params(field: ma.fields.Field | None) -> dict[str, Any]:
    """What the message of a field's error needs: allowed codes, maximum length."""
    params: dict[str, Any] = {}
    if isinstance(field, ma.fields.Enum):
        params["allowed"] = ", ".join(str(member.value) for member in field.enum)
    for validator in getattr(field, "validators", []):
        if isinstance(validator, ma.validate.Length) and validator.max is not None:
            params["max"] = validator.max
    return params


def schema_error(messages: Any, schema: ma.Schema) -> PlacementError:
    """The coded error for the first problem marshmallow found in a request."""
    path, code = _first_error(messages)
    path = path[1:]  # drop the location ("json", "query")
    if path and path[-1] == SCHEMA:
        path = path[:-1]
        code = Code.NOT_JSON if not path else Code.NOT_OBJECT
    code = code if code in Code._value2member_map_ else Code.BAD_REQUEST
    if not path:
        return BadInput(Code(code), "body")
    # A list element is named as the services name it: youths[1].birth_date.
    field = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path).lstrip(".")
    params = _params(_field_at(schema, path))
    if code == Code.UNKNOWN_VALUE:
        # A value outside a closed vocabulary, as when a service checks a code.
        return RuleViolation(Code.UNKNOWN_VALUE, field, **params)
    return BadInput(Code(code), field, **params)


class ApiParser(FlaskParser):
    """Request parsing for the API: only JSON bodies, and errors as coded errors."""

    DEFAULT_VALIDATION_STATUS = 400

    def load_json(self, req, schema):
        if not is_json_request(req):
            raise BadInput(Code.UNSUPPORTED_MEDIA_TYPE, "body")
        try:
            data = req.get_json(silent=True)
        except RecursionError:  # nested deeper than the parser's stack (a JSON bomb)
            data = None
        if data is None:
            raise BadInput(Code.NOT_JSON, "body")
        return data

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        raise schema_error(error.messages, schema)


class Api(SmorestApi):
    """flask-smorest with this project's error body. HTTP errors outside /api/ keep
    Flask's own pages (flask-smorest handles them application-wide)."""

    ERROR_SCHEMA = ErrorOut

    def handle_http_exception(self, error: HTTPException):
        if not request.path.startswith("/api/"):
            return error
        status = error.code or 500
        code = HTTP_CODES.get(status, Code.BAD_REQUEST)
        response, _status = error_response(PlacementError(code), status)
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response, status
