"""The API blueprint, authentication, the decorator that documents error answers, and the
paging header of the paged lists."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from http import HTTPStatus

from flask import g, request
from flask_smorest import Blueprint

from placement.api.errors import ApiParser, error_response
from placement.extensions import csrf, db
from placement.services.accounts import audit, users
from placement.services.errors import PlacementError, Unauthenticated
from placement.services.paging import Page


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = ApiParser()


bp = ApiBlueprint(
    "api",
    __name__,
    url_prefix="/api/v1",
    description="Plätze, Aufnahmen, Reservierungen und Aufenthalte (Bearer-Token).",
)
csrf.exempt(bp)


def commit() -> None:
    """Commit the request's one transaction and keep the loaded objects as written: the
    answer is serialised from them, where an expiring commit would reload each of them (the
    caller's account too) in a new transaction, a round trip apiece."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def actor() -> audit.Actor:
    """The user behind the request's bearer token."""
    return audit.Actor.for_user(g.api_user)


@bp.before_request
def authenticate() -> None:
    """Every endpoint needs ``Authorization: Bearer TOKEN`` (``flask users token EMAIL``)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        # Failed tokens count per client address like failed passwords (the commit keeps
        # the count although the request fails).
        g.api_user = users.user_for_request_token(
            token.strip() if scheme.lower() == "bearer" else "", request.remote_addr
        )
    except Unauthenticated:
        db.session.commit()
        raise


@bp.errorhandler(PlacementError)
def placement_error(error: PlacementError):
    response, status = error_response(error)
    if status == HTTPStatus.UNAUTHORIZED:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response, status


def permission_first(check: Callable[..., object]):
    """Run ``check(**path arguments)`` (a service call that raises Forbidden or NotFound)
    before the request body or query is parsed: a caller without the permission gets 403
    (or 404 for an object outside their scope), never a 422 about the body. Put it between
    the route and ``bp.arguments``."""

    def decorate(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            # What the check loaded (a stay) stays referenced for the request: the
            # service's own check finds it in the session, whose identity map holds objects
            # only weakly, instead of selecting it again.
            g.permission_checked = check(**kwargs)
            return view(*args, **kwargs)

        return checked

    return decorate


def role_needs(permission) -> Callable[..., None]:
    """A ``permission_first`` check: the caller's role has ``permission``."""
    from placement.services.accounts import permissions

    def check(**_path) -> None:
        permissions.require(actor().role, permission)

    return check


def errors(*statuses: int):
    """Document the error answers an endpoint can give (besides 401 for everyone)."""

    def decorate(view):
        for status in sorted({401, *statuses}):
            view = bp.alt_response(status, response=HTTPStatus(status).name)(view)
        return view

    return decorate


PAGINATION_HEADER = {
    "X-Pagination": {
        "description": "JSON: total, total_pages, page, page_size, first_page, last_page "
        "and previous_page/next_page where they exist",
        "schema": {"type": "string"},
    }
}


def pagination_headers(page: Page) -> dict[str, str]:
    """flask-smorest's X-Pagination header for ``page``."""
    value: dict[str, int] = {
        "total": page.total,
        "total_pages": page.pages,
        "page": page.page,
        "page_size": page.page_size,
        "first_page": 1,
        "last_page": page.pages,
    }
    if page.has_previous:
        value["previous_page"] = page.page - 1
    if page.has_next:
        value["next_page"] = page.page + 1
    return {"X-Pagination": json.dumps(value)}
