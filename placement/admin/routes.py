"""Account administration: the accounts with role and facilities, and the form that
changes them. Admins only (checked in the service, before any form is read)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required

from placement.admin.forms import AccountForm
from placement.extensions import db
from placement.services.accounts import account_admin, users
from placement.services.errors import PlacementError
from placement.views import actor, show_error

bp = Blueprint("admin", __name__)


@bp.get("/admin/users", endpoint="users")
@login_required
def users_page():
    """Every account with its role, facilities and whether it is active."""
    return render_template("admin/users.html", rows=account_admin.list_accounts(actor()))


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"], endpoint="edit_user")
@login_required
def edit_user(user_id: int):
    """Change an account's role, facilities and active flag (audited)."""
    user = account_admin.get_account(actor(), user_id)  # the permission, before the form
    facilities = account_admin.assignable_facilities(actor())
    form = AccountForm(
        data={
            "role": user.role.value,
            "facility_ids": [f.id for f in user.facilities],
            "active": user.active,
        }
    )
    form.facility_ids.choices = [(f.id, f.name) for f in facilities]
    if form.validate_on_submit():
        try:
            account_admin.update_account(
                actor(),
                user_id,
                role=form.role.data,
                facility_ids=list(form.facility_ids.data or []),
                active=bool(form.active.data),
            )
            db.session.commit()
            flash(_("Konto %(email)s gespeichert.", email=user.email), "success")
            return redirect(url_for("admin.users"))
        except PlacementError as error:
            show_error(form, error)
    status = 422 if form.errors else 200
    return _edit_page(form, user), status


def _edit_page(form: AccountForm, user):
    return render_template(
        "admin/edit_user.html", form=form, user=user, locked=users.is_locked(user)
    )


@bp.post("/admin/users/<int:user_id>/end-sessions", endpoint="end_sessions")
@login_required
def end_sessions(user_id: int):
    """End every session and remember-me cookie of an account at once (audited)."""
    ended = users.end_sessions(actor(), user_id)
    db.session.commit()
    flash(_("%(count)s Sitzung(en) beendet.", count=ended), "success")
    return redirect(url_for("admin.edit_user", user_id=user_id))


@bp.post("/admin/users/<int:user_id>/unlock", endpoint="unlock")
@login_required
def unlock(user_id: int):
    """Lift the lock that failed sign-ins put on an account (audited)."""
    lifted = users.unlock(actor(), user_id)
    db.session.commit()
    if lifted:
        flash(_("Sperre aufgehoben."), "success")
    else:
        flash(_("Das Konto war nicht gesperrt."), "info")
    return redirect(url_for("admin.edit_user", user_id=user_id))
