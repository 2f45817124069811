"""The HTML adapter's shared pieces: who acts, and how a coded service error is shown.

A service error names a field; it is shown at the form field of that name (a new youth's
``youth.birth_date`` at the form's ``birth_date``, as the form flattens the youth), with
the field's label in the message, and everything typed is kept. Errors without a visible
field of the form are flashed. Forbidden and NotFound from a service answer 403 and 404 pages."""

from __future__ import annotations

from flask import Flask, flash
from flask_login import current_user
from flask_wtf import FlaskForm
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


def register(app: Flask) -> None:
    """Forbidden and NotFound raised by a service while rendering a page."""

    @app.errorhandler(Forbidden)
    def _forbidden(_error):
        db.session.rollback()
        return exceptions.Forbidden()

    @app.errorhandler(NotFound)
    def _not_found(_error):
        db.session.rollback()
        return exceptions.NotFound()
