"""The settings page; the language chosen per request (hooks registered app-wide)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required

from placement.extensions import db
from placement.services.accounts import preferences
from placement.services.errors import PlacementError
from placement.settings import locale
from placement.settings.forms import SettingsForm
from placement.views import actor, show_error

bp = Blueprint("settings", __name__, url_prefix="/settings")
bp.before_app_request(locale.remember_choice)


@bp.app_context_processor
def _language_helpers() -> dict[str, object]:
    """``get_locale()`` for ``<html lang>``, ``language_links()`` for the login page."""
    return {"get_locale": locale.current, "language_links": locale.language_links}


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    """The user's own settings: the interface language."""
    form = SettingsForm(data={"locale": current_user.locale or ""})
    if form.validate_on_submit():
        try:
            preferences.set_locale(actor(), form.locale.data)
        except PlacementError as error:
            show_error(form, error)
        else:
            db.session.commit()
            locale.forget_choice()
            refresh()  # the confirmation already in the language just chosen
            flash(_("Einstellungen gespeichert."), "success")
            return redirect(url_for("settings.index"))
    return render_template("settings/index.html", form=form), (422 if form.errors else 200)
