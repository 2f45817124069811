"""The HTML adapter's shared pieces: who acts, and how a coded service error is shown.

A service error names a field; it is shown at the form field of that name (a new youth's
``youth.birth_date`` at the form's ``birth_date``, as the form flattens the youth), with
the field's label in the message, and everything typed is kept. Errors without a visible
field of the form are flashed. Forbidden and NotFound from a service answer 403 and 404 pages."""

from __future__ import annotations

import contextlib

from flask import (
    Flask,
    before_render_template,
    current_app,
    flash,
    make_response,
    render_template,
    request,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from werkzeug import exceptions

from placement.extensions import db
from placement.messages import error_message
from placement.services.accounts import audit
from placement.services.errors import Forbidden, NotFound, PlacementError


def actor() -> audit.Actor:
    """The logged-in user as the services' actor."""
    return audit.Actor.for_user(current_user)


def form_field(form: FlaskForm, name: str | None):
    """The form field an error's field name refers to, if the form has it."""
    if not name:
        return None
    for candidate in (name, name.rsplit(".", 1)[-1]):
        field = form._fields.get(candidate)
        if field is not None:
            return field
    return None


def show_error(form: FlaskForm, error: PlacementError) -> None:
    """Undo the request's writes and show ``error`` at its field (or as a message). A
    missing permission is never a form error: it answers 403."""
    db.session.rollback()
    if isinstance(error, Forbidden):
        raise error
    field = form_field(form, error.field)
    if field is None or field.type == "HiddenField":
        flash(error_message(error), "danger")
        return
    field.errors = [*field.errors, error_message(error, str(field.label.text))]


def mark_errors(fields) -> tuple[str | None, list[tuple[str, str]]]:
    """Mark the fields with an error for assistive technology (``aria-invalid``) and put
    the focus on the first of them (``autofocus``), so that a refused form is not left with
    the focus on its first field. ``fields`` in the order the page shows them; returns the
    id that gets the focus and the (id, message) pairs the page's summary announces."""
    failed = [field for field in fields if field.errors]
    for field in failed:
        field.render_kw = {**(field.render_kw or {}), "aria-invalid": "true"}
    if not failed:
        return None, []
    failed[0].render_kw["autofocus"] = True
    targets = {field.id: _focus_target(field) for field in failed}
    summary = [(targets[field.id], str(message)) for field in failed for message in field.errors]
    return targets[failed[0].id], summary


def _focus_target(field) -> str:
    """The id of the element a field's error points to: a radio group's first option."""
    return f"{field.id}-0" if field.type == "RadioField" else field.id


def register(app: Flask) -> None:
    """Forbidden and NotFound raised by a service while rendering a page; German error
    pages with the navigation (the API under /api/ keeps its JSON errors); an expired or
    missing CSRF token on a form re-renders that form with what was typed."""

    @app.errorhandler(Forbidden)
    def _forbidden(_error):
        db.session.rollback()
        return error_page(exceptions.Forbidden())

    @app.errorhandler(NotFound)
    def _not_found(_error):
        db.session.rollback()
        return error_page(exceptions.NotFound())

    for status in ERROR_PAGES:
        app.register_error_handler(status, error_page)
    app.register_error_handler(CSRFError, csrf_failed)


# Texts of the error pages: (title, explanation).
ERROR_PAGES = {
    400: (
        _l("Ungültige Anfrage"),
        _l("Die Anfrage konnte nicht verarbeitet werden. Bitte prüfen Sie die Eingaben."),
    ),
    403: (
        _l("Keine Berechtigung"),
        _l(
            "Ihre Rolle erlaubt diese Seite oder Aktion nicht. Wenden Sie sich bei Bedarf an "
            "die Administration."
        ),
    ),
    404: (
        _l("Seite nicht gefunden"),
        _l(
            "Diese Seite gibt es nicht (mehr). Vielleicht ist der Link veraltet oder der "
            "Eintrag wurde entfernt."
        ),
    ),
    405: (
        _l("Aktion nicht möglich"),
        _l(
            "Diese Adresse lässt sich so nicht aufrufen. Bitte benutzen Sie die Schaltflächen "
            "und Formulare der Anwendung."
        ),
    ),
    413: (
        _l("Anfrage zu groß"),
        _l("Die gesendeten Daten sind zu groß. Bitte kürzen Sie die Eingaben."),
    ),
    500: (
        _l("Interner Fehler"),
        _l(
            "Etwas ist schiefgegangen; es wurde nichts gespeichert. Bitte versuchen Sie es "
            "erneut. Bleibt der Fehler, melden Sie ihn bitte mit Uhrzeit der Administration."
        ),
    ),
}

# Form views that re-render their form when its CSRF token is missing or expired. Each one
# validates a Flask-WTF form (with its CSRF token) before it writes anything, so that the
# repeated call can only show the form again, never act without a valid token.
RERENDER_ON_EXPIRED_TOKEN = frozenset({"intake.admit", "intake.reserve", "auth.login"})


def _api_error(error: exceptions.HTTPException):
    """The API's own JSON answer for an HTTP error under /api/."""
    api = current_app.extensions["flask-smorest"]["blp_name_to_api"]["api"]
    return api.handle_http_exception(error)


def error_page(error: exceptions.HTTPException, *, title=None, text=None):
    """A German error page with the navigation (HTML); JSON under /api/."""
    if request.path.startswith("/api/"):
        return _api_error(error)
    status = error.code or 500
    with contextlib.suppress(Exception):  # a broken connection must not hide the page
        db.session.rollback()
    default_title, default_text = ERROR_PAGES.get(status, ERROR_PAGES[400])
    try:
        body = render_template(
            f"errors/{status}.html",
            status=status,
            title=title or default_title,
            text=text or default_text,
        )
    except Exception:  # noqa: BLE001 - the error page itself must not fail
        body = (
            f"<!doctype html><title>{status}</title><h1>{default_title}</h1><p>{default_text}</p>"
        )
    response = make_response(body, status)
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _app_object() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def _hide_token_errors(_sender, template, context, **_extra) -> None:
    for value in context.values():
        if isinstance(value, FlaskForm) and "csrf_token" in value._fields:
            value.csrf_token.errors = []


def csrf_failed(error: CSRFError):
    """A form sent with a missing or expired token: the form again, everything typed kept
    (never a password) and a fresh token, with a request to send it once more."""
    if request.path.startswith("/api/"):
        return _api_error(exceptions.BadRequest())
    message = _(
        "Ihre Sitzung ist abgelaufen oder das Formular war zu lange geöffnet; es wurde nichts "
        "gespeichert. Bitte prüfen Sie die Eingaben und senden Sie das Formular noch einmal ab."
    )
    view = current_app.view_functions.get(request.endpoint or "")
    if request.endpoint in RERENDER_ON_EXPIRED_TOKEN and view is not None:
        db.session.rollback()
        flash(message, "warning")
        # The message above replaces the form's English token error.
        with before_render_template.connected_to(_hide_token_errors, _app_object()):
            response = make_response(view(**(request.view_args or {})))
        if response.status_code < 400:
            response.status_code = 422
        return response
    return error_page(
        exceptions.BadRequest(),
        title=_("Sitzung abgelaufen"),
        text=_(
            "Ihre Sitzung ist abgelaufen oder das Formular war zu lange geöffnet; es wurde "
            "nichts gespeichert. Bitte laden Sie die Seite neu und senden Sie das Formular "
            "noch einmal ab."
        ),
    )
