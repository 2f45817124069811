"""People pages: search by reference or file number, the city-wide lists of youths placed
and absconded. Views parse the query, call one service, commit its audit entry, render."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from placement.extensions import db
from placement.people.display import STATUS_LABELS
from placement.people.forms import SearchForm, StayFilterForm
from placement.services.errors import PlacementError
from placement.services.people import lists, scope, search
from placement.services.people.lists import StayFilters, StayStatus
from placement.timeutil import now as utc_now
from placement.views import actor, show_error

bp = Blueprint("people", __name__)

SORT_LABELS = {
    lists.Sort.FACILITY: _l("Einrichtung"),
    lists.Sort.REFERENCE: _l("Kürzel"),
    lists.Sort.START: _l("Aufnahme (älteste zuerst)"),
    lists.Sort.DEADLINE: _l("nächste Frist"),
    lists.Sort.HELD_UNTIL: _l("Platz gehalten bis"),
}
SORTS = {
    StayStatus.OPEN: [
        lists.Sort.FACILITY,
        lists.Sort.DEADLINE,
        lists.Sort.START,
        lists.Sort.REFERENCE,
    ],
    StayStatus.ABSCONDED: [
        lists.Sort.HELD_UNTIL,
        lists.Sort.FACILITY,
        lists.Sort.REFERENCE,
    ],
}


def _int(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


@bp.get("/people/search", endpoint="search")
@login_required
def search_page():
    """Find youths by pseudonymous reference or file number (audited)."""
    scope.person_scope(actor())  # the permission, before the query is read or rendered
    form = SearchForm(request.args)
    results = None
    status = 200
    if "q" in request.args and form.validate():
        try:
            results = search.search_youths(actor(), form.q.data, utc_now(), page=form.page.data)
            db.session.commit()  # the audit entry of the search
        except PlacementError as error:
            show_error(form, error)
    if form.errors:
        status = 422
    return render_template(
        "people/search.html", form=form, results=results, status_labels=STATUS_LABELS
    ), status


def _list_page(state: StayStatus, template: str):
    # The permission (in filter_facilities), before the query is read or rendered.
    facilities = lists.filter_facilities(actor())
    form = StayFilterForm(request.args)
    form.facility_id.choices = [("", str(_l("alle")))] + [(str(f.id), f.name) for f in facilities]
    form.sort.choices = [("", str(_l("Standard")))] + [
        (s.value, str(SORT_LABELS[s])) for s in SORTS[state]
    ]
    if state != StayStatus.OPEN:
        del form.deadline
    result = None
    if form.validate():
        filters = StayFilters(
            facility_id=_int(form.facility_id.data),
            kind=form.kind.data or None,
            uma={"1": True, "0": False}.get(form.uma.data or ""),
            age_band=form.age_band.data or None,
            legal_basis=form.legal_basis.data or None,
            deadline=(form.deadline.data or None) if "deadline" in form else None,
        )
        try:
            result = lists.list_stays(
                actor(),
                utc_now(),
                status=state,
                filters=filters,
                sort=form.sort.data or None,
                page=form.page.data,
            )
            db.session.commit()  # the audit entry of the view
        except PlacementError as error:
            show_error(form, error)
    status = 422 if form.errors else 200
    return render_template(template, form=form, result=result, args=request.args.to_dict()), status


@bp.get("/people/placed", endpoint="placed")
@login_required
def placed_page():
    """Youths placed now, city-wide, with filters and their deadlines (audited)."""
    return _list_page(StayStatus.OPEN, "people/placed.html")


@bp.get("/people/absconded", endpoint="absconded")
@login_required
def absconded_page():
    """Youths absconded whose place is still held, with the held places (audited)."""
    return _list_page(StayStatus.ABSCONDED, "people/absconded.html")
