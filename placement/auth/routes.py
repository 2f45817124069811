from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user

from placement.auth.forms import LoginForm
from placement.extensions import db
from placement.services.accounts import users

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _safe_next(target: str | None) -> str:
    """Only same-site relative targets, so the login page cannot redirect elsewhere."""
    if (
        target
        and not urlsplit(target).netloc
        and target.startswith("/")
        and not target.startswith("//")
    ):
        return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with e-mail and password."""
    form = LoginForm()
    if form.validate_on_submit():
        user = users.authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors.append(_("E-Mail oder Passwort ist falsch."))
        else:
            login_user(user, remember=form.remember.data)
            users.record_login(user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), (422 if form.errors else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Log out."""
    logout_user()
    flash(_("Sie wurden abgemeldet."), "info")
    return redirect(url_for("auth.login"))
