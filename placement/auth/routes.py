"""Login, logout, the password change and the user's own sessions."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from placement.auth import session_store
from placement.auth.forms import EndSessionsForm, LoginForm, PasswordChangeForm
from placement.extensions import db
from placement.messages import error_message
from placement.services.accounts import sessions, users
from placement.services.errors import Code, PlacementError
from placement.services.seed.demo import DEMO_PASSWORD
from placement.views import actor, show_error

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _safe_next(target: str | None) -> str:
    """Only same-site relative targets, so the login page cannot redirect elsewhere."""
    if (
        target
        and not urlsplit(target).netloc
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return url_for("main.index")


def _sign_in_fresh(user, *, persistent: bool) -> None:
    """Continue under a new session id with nothing from before (no fixation, a new CSRF
    secret), signed in as ``user``."""
    session_store.regenerate()
    flask_session.permanent = persistent
    login_user(user, remember=False)


def _demo_notice() -> list[str]:
    """The demo accounts to name on the login page (never in production)."""
    if current_app.config.get("ENV") == "production":
        return []
    return [user.email for user in users.demo_accounts()]


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with e-mail and password (throttled per account and per address)."""
    form = LoginForm()
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        outcome = users.sign_in(form.email.data, form.password.data, request.remote_addr)
        if outcome.user is not None:
            _sign_in_fresh(outcome.user, persistent=bool(form.remember.data))
            users.record_login(outcome.user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
        db.session.commit()  # the failure counts and the audit rows
        error = outcome.error
        assert error is not None
        if error.code == Code.UNAUTHENTICATED:
            form.password.errors.append(_("E-Mail oder Passwort ist falsch."))
        else:
            form.password.errors.append(error_message(error))
            status = 429
    page = render_template(
        "auth/login.html", form=form, demo_accounts=_demo_notice(), demo_password=DEMO_PASSWORD
    )
    return page, status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Log out: this session ends on the server; with ``everywhere``, every session."""
    users.record_logout(current_user, everywhere=request.form.get("everywhere") == "1")
    db.session.commit()
    logout_user()
    session_store.regenerate()
    flash(_("Sie wurden abgemeldet."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change one's own password; every other session of the account ends."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            user = users.change_password(
                actor(),
                current_user.id,
                current=form.current_password.data,
                new=form.new_password.data,
                repeat=form.new_password_repeat.data,
            )
        except PlacementError as exc:
            show_error(form, exc)
        else:
            db.session.commit()
            _sign_in_fresh(user, persistent=bool(flask_session.permanent))
            flash(_("Das Passwort wurde geändert. Alle anderen Sitzungen sind beendet."), "success")
            return redirect(url_for("auth.password"))
    return _account_page(form, EndSessionsForm(), 422 if form.errors else 200)


@bp.route("/sessions/end", methods=["POST"])
@login_required
def end_other_sessions():
    """End every other session of one's own account (e.g. a forgotten workstation)."""
    form = EndSessionsForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        ended = users.end_own_sessions(actor())
        db.session.commit()
        _sign_in_fresh(user, persistent=bool(flask_session.permanent))
        flash(_("%(count)s Sitzung(en) beendet.", count=max(ended - 1, 0)), "success")
        return redirect(url_for("auth.password"))
    return _account_page(PasswordChangeForm(formdata=None), form, 422)


def _account_page(password_form, sessions_form, status: int):
    return (
        render_template(
            "auth/password.html",
            form=password_form,
            sessions_form=sessions_form,
            open_sessions=sessions.open_sessions(current_user.id),
        ),
        status,
    )
