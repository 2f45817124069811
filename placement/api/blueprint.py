"""The API blueprint, authentication, and the decorator that documents error answers."""

from __future__ import annotations

from http import HTTPStatus

from flask import g, request
from flask_smorest import Blueprint

from placement.api.errors import ApiParser, error_response
from placement.extensions import csrf
from placement.services.accounts import audit, users
from placement.services.errors import Code, PlacementError, Unauthenticated


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = ApiParser()


bp = ApiBlueprint(
    "api",
    __name__,
    url_prefix="/api/v1",
    description="Plätze, Aufnahmen, Reservierungen und Aufenthalte (Bearer-Token).",
)
csrf.exempt(bp)


def actor() -> audit.Actor:
    """The user behind the request's bearer token."""
    return audit.Actor.for_user(g.api_user)


@bp.before_request
def authenticate() -> None:
    """Every endpoint needs ``Authorization: Bearer TOKEN`` (``flask users token EMAIL``)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user = users.user_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        raise Unauthenticated(Code.UNAUTHENTICATED, "Authorization")
    g.api_user = user


@bp.errorhandler(PlacementError)
def placement_error(error: PlacementError):
    response, status = error_response(error)
    if status == HTTPStatus.UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response, status


def errors(*statuses: int):
    """Document the error answers an endpoint can give (besides 401 for everyone)."""

    def decorate(view):
        for status in sorted({401, *statuses}):
            view = bp.alt_response(status, response=HTTPStatus(status).name)(view)
        return view

    return decorate
