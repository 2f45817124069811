"""The audit page: who did or viewed what, filtered and paged, and its CSV export.

Reading the trail is itself audited (by the service). Readers without the permission to
see persons (department heads) see personal values masked."""

from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from placement.audit.forms import ANY, AuditFilterForm
from placement.extensions import db
from placement.services.accounts import audit_log
from placement.services.errors import PlacementError
from placement.services.reporting.downloads import neutralise
from placement.timeutil import from_local, local
from placement.timeutil import now as utc_now
from placement.views import actor, show_error

bp = Blueprint("audit", __name__, url_prefix="/audit")

CSV_MIMETYPE = "text/csv; charset=utf-8"


def _fill_choices(form: AuditFilterForm) -> None:
    accounts, actions, types = audit_log.audit_choices(actor())  # the permission first: 403
    form.user.choices = [
        ANY,
        *[(str(user_id), email) for user_id, email in accounts],
        *[(label, _("System: %(name)s", name=label)) for label in audit_log.SYSTEM_ACTORS],
    ]
    groups = sorted({a.split(".", 1)[0] + "." for a in actions if "." in a})
    form.action.choices = [
        ANY,
        *[(group, _("%(group)s… (alle)", group=group)) for group in groups],
        *[(a, a) for a in actions],
    ]
    form.object_type.choices = [ANY, *[(t, t) for t in types]]


def _query(form: AuditFilterForm) -> audit_log.AuditQuery:
    return audit_log.AuditQuery(
        user=form.user.data or None,
        action=form.action.data or None,
        object_type=form.object_type.data or None,
        object_id=form.object_id.data,
        since=from_local(form.since.data, "since"),
        until=from_local(form.until.data, "until"),
    )


def _details(values) -> str:
    return "" if values is None else json.dumps(values, ensure_ascii=False, sort_keys=True)


def _csv(entries: list[audit_log.AuditEntry]) -> bytes:
    """Semicolon-separated, UTF-8 with BOM (what German Excel opens), cells neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        [
            _("Nr."),
            _("Zeit (Europe/Berlin)"),
            _("Benutzer"),
            _("Benutzer-Id"),
            _("Aktion"),
            _("Objektart"),
            _("Objekt-Id"),
            _("Vorher"),
            _("Nachher"),
            _("Begründung"),
            _("Gelöscht nach Frist"),
        ]
    )
    for e in entries:
        row = [
            e.seq,
            local(e.at).strftime("%d.%m.%Y %H:%M:%S"),
            e.actor,
            e.user_id,
            e.action,
            e.object_type,
            e.object_id,
            _details(e.before),
            _details(e.after),
            e.reason,
            _("ja") if e.erased else "",
        ]
        writer.writerow(["" if v is None else neutralise(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


@bp.get("/", endpoint="index")
@login_required
def index():
    """The audit trail, newest first, with filters; ``format=csv`` exports every match."""
    form = AuditFilterForm(request.args)
    _fill_choices(form)
    result = None
    if form.validate():
        try:
            query = _query(form)
            if request.args.get("format") == "csv":
                entries = audit_log.audit_export(actor(), query)
                db.session.commit()  # the audit entry of the export
                stamp = local(utc_now()).strftime("%Y-%m-%d-%H%M")
                return Response(
                    _csv(entries),
                    mimetype=CSV_MIMETYPE,
                    headers={
                        "Content-Disposition": f'attachment; filename="protokoll-{stamp}.csv"'
                    },
                )
            result = audit_log.audit_page(actor(), query, page=form.page.data)
            db.session.commit()  # the audit entry of the view
        except PlacementError as error:
            show_error(form, error)
    status = 422 if form.errors else 200
    args = {k: v for k, v in request.args.items() if k not in ("page", "format") and v}
    return render_template(
        "audit/index.html", form=form, result=result, args=args, details=_details
    ), status
