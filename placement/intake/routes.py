"""Intake pages: find a place, admit, reserve, discharge, move, correct.

Views parse the form, call the services, commit once, and render or redirect. Every rule,
default and permission is in the services; their coded errors are shown at the field they
name, and everything typed is kept."""

from __future__ import annotations

import contextlib
import re
from dataclasses import replace
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from placement.extensions import db
from placement.intake.forms import (
    STAY_FORM_PREFIXES,
    AdmissionForm,
    CorrectionForm,
    DischargeForm,
    DistributionForm,
    MoveForm,
    PlaceSearchForm,
    PlannedEndForm,
    ReservationForm,
    UndoDischargeForm,
)
from placement.messages import (
    error_message,
    mismatch_messages,
    notice_message,
    warning_message,
)
from placement.people.display import history_entry
from placement.services.accounts import permissions
from placement.services.accounts.permissions import Permission
from placement.services.errors import Conflict, Forbidden, NotFound, PlacementError
from placement.services.intake import admissions, places, reservations, stays
from placement.services.intake.admissions import AdmissionRequest, ConfirmationOutdated
from placement.services.intake.places import ChildQuery, PlaceQuery
from placement.services.intake.rules import MAX_NOTE_LENGTH, MAX_SIBLINGS
from placement.services.intake.youths import NewYouth
from placement.services.people import stay_page as stay_pages
from placement.timeutil import from_local, local, to_local_naive
from placement.timeutil import now as utc_now
from placement.views import actor, mark_errors, show_error

bp = Blueprint("intake", __name__)


def _choices(facilities) -> list[tuple[int, str]]:
    return [(f.id, f.name) for f in facilities]


def _int(value) -> int | None:
    return int(value) if str(value or "").isdigit() else None


# --- find a place ----------------------------------------------------------------------------


@bp.get("/intake/places", endpoint="places")
@login_required
def places_page():
    """Place finder: facilities that fit every child with enough free places first; full
    and unsuitable ones marked below, mismatches named per child. "Kind hinzufügen" (a
    submit button, so it works without JavaScript) shows the form with one more row."""
    form = PlaceSearchForm(request.args)
    form.near.choices = [("", _("– kein Standort –"))] + [
        (str(f.id), f.name) for f in places.reference_points(actor())
    ]
    results = None
    focus = None
    failed = False
    if form.add_child.data or request.args.get("remove_child"):
        _edit_rows(form.children, request.args.get("remove_child"))
        added = form.add_child.data and form.children.entries
        focus = f"{form.children.entries[-1].id}-age" if added else "age"
    elif request.args and form.validate():
        try:
            results = places.find_places(actor(), _place_query(form), utc_now())
        except PlacementError as error:
            failed = _show_row_error(form, error, "children", form.children)
    status = 422 if request.args and (form.errors or failed) else 200
    error_focus, form_errors = mark_errors(_place_fields(form))
    return render_template(
        "intake/places.html",
        form=form,
        results=results,
        mismatches=mismatch_messages,
        focus=error_focus or focus,
        form_errors=form_errors,
        admit_args=_admit_args(form, results) if results else {},
        note_max=MAX_NOTE_LENGTH,
    ), status


def _place_fields(form: PlaceSearchForm) -> list:
    """The place finder's fields in the order of the page."""
    fields = [form.age, form.birth_date, form.gender, form.uma]
    for row in form.children.entries:
        fields += [row.form.age, row.form.birth_date, row.form.gender]
    return [*fields, form.near, form.lat, form.lon]


def _edit_rows(rows, remove: str | None) -> None:
    """Add an empty row, or remove the row at index ``remove`` (a button's value)."""
    if remove is None or not remove.isdigit():
        if len(rows.entries) < (rows.max_entries or 0):
            rows.append_entry()
        return
    index = int(remove)
    if 0 <= index < len(rows.entries):
        rows.entries.pop(index)


def _show_row_error(form, error: PlacementError, prefix: str, rows) -> bool:
    """Show a service error at its field: ``<prefix>[0].x`` is the form's own ``x`` (the
    first child), ``<prefix>[i].x`` the ``x`` of row i-1; others as ``show_error`` does."""
    match = re.fullmatch(rf"{prefix}\[(\d+)\]\.(\w+)", error.field or "")
    if match is None:
        show_error(form, error)
        return True
    index, name = int(match.group(1)), match.group(2)
    if index == 0:
        show_error(form, replace_field(error, name))
        return True
    db.session.rollback()
    row = rows.entries[index - 1] if index - 1 < len(rows.entries) else None
    field = row.form._fields.get(name) if row is not None else None
    if field is None:
        flash(error_message(error), "danger")
        return True
    label = _("Kind %(n)s: %(field)s", n=index + 1, field=field.label.text)
    # The row's field is not in the errors the form cached when it was validated.
    field.errors = [*field.errors, error_message(error, label)]
    return True


def replace_field(error: PlacementError, name: str) -> PlacementError:
    """The same error, naming the form's own field ``name``."""
    copy = type(error).__new__(type(error))
    copy.__dict__.update(error.__dict__)
    copy.field = name
    copy.args = error.args
    return copy


def _place_query(form: PlaceSearchForm) -> PlaceQuery:
    children = ()
    if form.children.entries:
        children = tuple(
            ChildQuery(gender=c.gender.data or None, age=c.age.data, birth_date=c.birth_date.data)
            for c in [form, *(row.form for row in form.children.entries)]
        )
    siblings = _int(request.args.get("siblings"))
    return PlaceQuery(
        gender=form.gender.data or None,
        uma=form.uma.data == "1",
        age=form.age.data,
        birth_date=form.birth_date.data,
        siblings=1 if siblings is None else siblings,
        latitude=float(form.lat.data) if form.lat.data is not None else None,
        longitude=float(form.lon.data) if form.lon.data is not None else None,
        near_facility_id=_int(form.near.data),
        children=children,
    )


def _admit_args(form: PlaceSearchForm, results) -> dict:
    """What the admission form is prefilled with from this search: every child's gender
    and typed date of birth, or else the age."""
    rows = [form, *(row.form for row in form.children.entries)]
    args: dict = {"uma": "1" if results.search.uma else "0"}
    args.update(gender=[], age=[], birth_date=[])
    for index, child in enumerate(results.search.children):
        typed = rows[min(index, len(rows) - 1)].birth_date.data
        args["gender"].append(child.gender.value)
        args["birth_date"].append(typed.isoformat() if typed else "")
        args["age"].append("" if typed else str(child.age))
    return args


# --- admit -----------------------------------------------------------------------------------


@bp.route("/intake/admit", methods=["GET", "POST"])
@login_required
def admit():
    """Admission of one youth or of siblings together: check, show warnings and notices
    and ask to confirm once for everyone, record. Never refused for lack of places; a form
    is recorded once (its one-time token)."""
    form = AdmissionForm()
    form.facility_id.choices = _choices(places.open_facilities(actor()))
    if request.method == "GET":
        _prefill(form)
    reservation_id = _int(form.reservation_id.data or request.args.get("reservation_id"))
    reservation = _reservation(reservation_id)
    preview = None
    status = 200
    existing = None  # the stay a refused admission points to
    focus = "facility_id"
    if request.method == "POST" and (form.add_sibling.data or request.form.get("remove_sibling")):
        _edit_rows(form.siblings, request.form.get("remove_sibling"))
        if form.add_sibling.data and form.siblings.entries:
            row = form.siblings.entries[-1].form
            row.reference.data = row.reference.data or admissions.suggested_reference()
            focus = f"{form.siblings.entries[-1].id}-birth_date"
        form.confirm.data = ""
    elif form.validate_on_submit():
        try:
            admission = _admission_request(form, reservation_id)
            if admission.confirmation is None:
                preview = admissions.preview(actor(), admission)
                if preview.override_error is not None:
                    show_error(form, preview.override_error)
                if not preview.needs_confirmation:
                    admission = replace(admission, confirmation=preview.confirmation)
            if admission.confirmation is not None:
                result = admissions.admit(actor(), admission)
                db.session.commit()
                refs = ", ".join(stay.youth.reference for stay in result.stays)
                flash(
                    _(
                        "Aufnahme von %(ref)s in %(facility)s gespeichert.",
                        ref=refs,
                        facility=result.stay.facility.name,
                    ),
                    "success",
                )
                for warning in result.warnings:
                    flash(warning_message(warning), "warning")
                return redirect(url_for("intake.stay", stay_id=result.stay.id))
        except ConfirmationOutdated as outdated:
            db.session.rollback()
            flash(error_message(outdated), "warning")
            preview = outdated.preview
        except PlacementError as error:
            existing = error.params.get("stay_id")
            _show_row_error(form, error, "youths", form.siblings)
            preview = None
            status = 422
        form.confirm.data = preview.confirmation if preview is not None else ""
    if form.errors and status == 200:
        status = 422
    error_focus, form_errors = mark_errors(_admission_fields(form))
    return render_template(
        "intake/admit.html",
        form=form,
        preview=preview,
        reservation=reservation,
        mismatches=mismatch_messages,
        warning_message=warning_message,
        notice_message=_notice_text(preview),
        existing_stay=existing,
        focus=error_focus or focus,
        form_errors=form_errors,
    ), status


def _admission_fields(form: AdmissionForm) -> list:
    """The admission form's fields in the order of the page."""
    fields = [form.facility_id, form.legal_basis, form.youth_reference, form.birth_date]
    fields += [form.birth_date_estimated, form.gender, form.uma, form.reference]
    fields += [form.file_number, form.sibling_group]
    for row in form.siblings.entries:
        row = row.form
        fields += [row.birth_date, row.birth_date_estimated, row.gender, row.reference]
        fields.append(row.file_number)
    return [*fields, form.start, form.override_reason, form.planned_end_on, form.planned_end_kind]


def _notice_text(preview):
    """The text of a preview's notice, naming the child ("Kind 2") in a group."""

    def text(notice) -> str:
        match = re.match(r"youths\[(\d+)\]", notice.field)
        if preview is None or not preview.group or match is None:
            return notice_message(notice)
        return notice_message(notice, _("Kind %(n)s", n=int(match.group(1)) + 1))

    return text


def _reservation(reservation_id: int | None):
    if reservation_id is None:
        return None
    try:
        return reservations.get_reservation(reservation_id)
    except PlacementError:
        return None


def _prefill(form: AdmissionForm) -> None:
    """Defaults from what the place finder knew, one row per child (the service decides
    them), a suggested pseudonymous reference per child and the form's one-time token."""
    args = request.args
    genders = args.getlist("gender")
    ages = args.getlist("age")
    dates = args.getlist("birth_date")
    held = _reservation(_int(args.get("reservation_id")))
    count = max(len(genders), len(ages), len(dates), held.places if held else 1, 1)
    uma = args.get("uma") == "1"
    drafts = []
    for index in range(min(count, MAX_SIBLINGS)):
        birth_date = None
        with contextlib.suppress(ValueError, IndexError):  # a mistyped link: left empty
            birth_date = date.fromisoformat(dates[index])
        drafts.append(
            admissions.draft(
                facility_id=_int(args.get("facility_id")),
                age=_int(ages[index] if index < len(ages) else None),
                birth_date=birth_date,
                gender=genders[index] if index < len(genders) else None,
                uma=uma,
            )
        )
    first = drafts[0]
    if first.birth_date_from_age:
        form.birth_date.description = _("Aus dem Alter berechnet – bitte prüfen.")
    form.facility_id.data = first.facility_id
    form.birth_date.data = first.birth_date
    form.birth_date_estimated.data = first.birth_date_estimated
    form.gender.data = first.gender.value if first.gender else None
    form.uma.data = "1" if first.uma else "0"
    form.legal_basis.data = first.legal_basis.value
    form.reservation_id.data = args.get("reservation_id", "")
    form.reference.data = admissions.suggested_reference()
    form.form_token.data = admissions.new_form_token()
    for draft in drafts[1:]:
        row = form.siblings.append_entry().form
        row.birth_date.data = draft.birth_date
        row.birth_date_estimated.data = draft.birth_date_estimated
        row.gender.data = draft.gender.value if draft.gender else None
        row.reference.data = admissions.suggested_reference()


def _admission_request(form: AdmissionForm, reservation_id: int | None) -> AdmissionRequest:
    """An existing youth (by reference), the typed-in new one, or new siblings (one row
    each). Typed times are checked for the clock changes here (``from_local``)."""
    reference = (form.youth_reference.data or "").strip() or None
    uma = form.uma.data == "1"
    new_youth = None
    youths: tuple[NewYouth, ...] = ()
    first = None
    if reference is None or form.siblings.entries:
        first = NewYouth(
            birth_date=form.birth_date.data,
            gender=form.gender.data or None,
            uma=uma,
            estimated=form.birth_date_estimated.data,
            reference=form.reference.data,
            file_number=form.file_number.data,
            sibling_group=form.sibling_group.data,
        )
    if form.siblings.entries:
        youths = (
            first,
            *(
                NewYouth(
                    birth_date=row.form.birth_date.data,
                    gender=row.form.gender.data or None,
                    uma=uma,
                    estimated=row.form.birth_date_estimated.data,
                    reference=row.form.reference.data,
                    file_number=row.form.file_number.data,
                    sibling_group=form.sibling_group.data,
                )
                for row in form.siblings.entries
            ),
        )
    elif reference is None:
        new_youth = first
    return AdmissionRequest(
        facility_id=form.facility_id.data,
        legal_basis=form.legal_basis.data,
        youth_reference=reference,
        youth=new_youth,
        youths=youths,
        start=from_local(form.start.data, "start"),
        reservation_id=reservation_id,
        override_reason=form.override_reason.data or None,
        confirmation=form.confirm.data or None,
        form_token=form.form_token.data or None,
        planned_end_on=form.planned_end_on.data,
        planned_end_kind=form.planned_end_kind.data or None,
    )


# --- reservations ----------------------------------------------------------------------------


@bp.post("/intake/reserve")
@login_required
def reserve():
    """Hold free places (one per child) for an announced admission."""
    permissions.require(actor().role, Permission.ADMIT)  # before the form is read
    form = ReservationForm()
    if form.validate_on_submit():
        try:
            reservation = reservations.reserve(
                actor(),
                facility_id=_int(form.facility_id.data) or 0,
                hours=form.hours.data,
                note=form.note.data or None,
                places=form.places.data or 1,
            )
            db.session.commit()
            until = local(reservation.expires_at).strftime("%d.%m.%Y %H:%M")
            name = reservation.facility.name
            if reservation.places == 1:
                message = _("Platz in %(name)s reserviert bis %(until)s.", name=name, until=until)
            else:
                message = _(
                    "%(n)s Plätze in %(name)s reserviert bis %(until)s.",
                    n=reservation.places,
                    name=name,
                    until=until,
                )
            flash(message, "success")
            return redirect(url_for("intake.reservations"))
        except PlacementError as error:
            show_error(form, error)
    for field_errors in form.errors.values():
        for message in field_errors:
            flash(message, "danger")
    return redirect(request.referrer or url_for("intake.places"))


@bp.get("/intake/reservations", endpoint="reservations")
@login_required
def reservations_page():
    """Open reservations, soonest to expire first."""
    return render_template(
        "intake/reservations.html", reservations=reservations.active_reservations(actor())
    )


@bp.post("/intake/reservations/<int:reservation_id>/cancel")
@login_required
def cancel_reservation(reservation_id: int):
    """Give a held place back."""
    permissions.require(actor().role, Permission.ADMIT)  # before anything is shown
    try:
        reservations.cancel(actor(), reservation_id)
        db.session.commit()
        flash(_("Reservierung storniert."), "info")
    except (Forbidden, NotFound):
        raise
    except PlacementError as error:
        db.session.rollback()
        flash(error_message(error), "danger")
    return redirect(url_for("intake.reservations"))


# --- one stay: view, discharge (confirmed, undoable), move, correct ---------------------------

PREFIX = STAY_FORM_PREFIXES


def _stay_page(stay_id: int, status: int = 200, discharge_preview=None, **forms):
    """The stay page (audited); the permission is checked before anything is rendered,
    on error paths too. Forms not submitted are built without the request's data, each
    with its own prefix (unique ids on the page)."""
    page = stay_pages.stay_page(actor(), stay_id, utc_now())
    db.session.commit()  # the audit entry of the view
    stay = page.record.stay
    choices = _choices(places.open_facilities(actor()))
    move_form = forms.get("move") or MoveForm(formdata=None, prefix=PREFIX["move"])
    move_form.facility_id.choices = [c for c in choices if c[0] != stay.facility_id]
    correction = forms.get("correct") or CorrectionForm(
        formdata=None,
        prefix=PREFIX["correct"],
        data={
            "facility_id": stay.facility_id,
            "legal_basis": stay.legal_basis.value,
            "start_at": to_local_naive(stay.start_at),
            "end_at": to_local_naive(stay.end_at),
            "end_reason": stay.end_reason.value if stay.end_reason else "",
        },
    )
    correction.facility_id.choices = choices
    distribution = forms.get("distribution") or DistributionForm(
        formdata=None,
        prefix=PREFIX["distribution"],
        data={
            "reported_on": stay.distribution_reported_on,
            "result": stay.distribution_result.value if stay.distribution_result else "",
            "age_assessed_on": stay.age_assessed_on,
        },
    )
    planned_end = forms.get("planned_end") or PlannedEndForm(
        formdata=None,
        prefix=PREFIX["planned_end"],
        data={
            "planned_end_on": stay.planned_end_on,
            "planned_end_kind": stay.planned_end_kind.value if stay.planned_end_kind else "",
        },
    )
    return render_template(
        "intake/stay.html",
        page=page,
        record=page.record,
        stay=stay,
        youth=page.record.youth,
        discharge_form=forms.get("discharge")
        or DischargeForm(formdata=None, prefix=PREFIX["discharge"]),
        discharge_preview=discharge_preview,
        discharge_time=(
            to_local_naive(discharge_preview.instant).strftime("%Y-%m-%dT%H:%M:%S")
            if discharge_preview is not None
            else ""
        ),
        undo_form=UndoDischargeForm(formdata=None, prefix=PREFIX["undo"]),
        move_form=move_form,
        correction_form=correction,
        distribution_form=distribution,
        planned_end_form=planned_end,
        history_entry=history_entry,
        error_message=error_message,
    ), status


@bp.get("/stays/<int:stay_id>")
@login_required
def stay(stay_id: int):
    """One stay with the youth's history, siblings and the actions on it (personal data:
    audited)."""
    return _stay_page(stay_id)


@bp.post("/stays/<int:stay_id>/discharge")
@login_required
def discharge(stay_id: int):
    """End a stay with reason and time: first what will be recorded, then, confirmed, the
    discharge (which its recorder may take back for DISCHARGE_UNDO_MINUTES)."""
    stays.require_access(actor(), stay_id, Permission.DISCHARGE)  # before the form is read
    form = DischargeForm(prefix=PREFIX["discharge"])
    if form.validate_on_submit():
        try:
            if form.confirm.data != "1":
                preview = stays.preview_discharge(
                    actor(), stay_id, reason=form.reason.data, end=from_local(form.time.data)
                )
                db.session.rollback()
                return _stay_page(stay_id, 200, discharge_preview=preview, discharge=form)
            stay = stays.discharge(
                actor(), stay_id, reason=form.reason.data, end=from_local(form.time.data)
            )
            db.session.commit()
            until = stays.undo_until(stay)
            flash(
                _(
                    "Entlassung gespeichert. Bis %(until)s können Sie sie zurücknehmen.",
                    until=local(until).strftime("%H:%M"),
                )
                if until is not None
                else _("Entlassung gespeichert."),
                "success",
            )
            return redirect(url_for("intake.stay", stay_id=stay_id))
        except PlacementError as error:
            show_error(form, error)
    form.confirm.data = ""
    return _stay_page(stay_id, 422, discharge=form)


@bp.post("/stays/<int:stay_id>/undo-discharge")
@login_required
def undo_discharge(stay_id: int):
    """Take back a discharge one recorded oneself a short while ago; afterwards (or when
    the youth was placed elsewhere meanwhile) a correction is the way."""
    stays.require_access(actor(), stay_id, Permission.DISCHARGE)  # before the form is read
    form = UndoDischargeForm(prefix=PREFIX["undo"])
    if not form.validate_on_submit():
        flash(_("Das Formular ist abgelaufen; bitte erneut versuchen."), "danger")
        return redirect(url_for("intake.stay", stay_id=stay_id))
    try:
        result = stays.undo_discharge(actor(), stay_id)
        db.session.commit()
    except Forbidden:
        raise
    except PlacementError as error:
        db.session.rollback()
        flash(error_message(error), "danger")
        return _stay_page(stay_id, 409 if isinstance(error, Conflict) else 404)
    flash(
        _(
            "Entlassung zurückgenommen: %(ref)s ist wieder in %(facility)s untergebracht.",
            ref=result.stay.youth.reference,
            facility=result.stay.facility.name,
        ),
        "success",
    )
    for warning in result.warnings:
        flash(warning_message(warning), "warning")
    return redirect(url_for("intake.stay", stay_id=stay_id))


@bp.post("/stays/<int:stay_id>/move")
@login_required
def move(stay_id: int):
    """Move to another facility (siblings along when asked)."""
    stays.require_access(actor(), stay_id, Permission.DISCHARGE, Permission.ADMIT)
    form = MoveForm(prefix=PREFIX["move"])
    form.facility_id.choices = _choices(places.open_facilities(actor()))
    if form.validate_on_submit():
        try:
            result = stays.move(
                actor(),
                stay_id,
                facility_id=form.facility_id.data,
                time=from_local(form.time.data),
                with_siblings=form.with_siblings.data,
                override_reason=form.override_reason.data or None,
            )
            db.session.commit()
            flash(_("Verlegung gespeichert."), "success")
            for warning in result.warnings:
                flash(warning_message(warning), "warning")
            return redirect(url_for("intake.stay", stay_id=result.stays[0].id))
        except PlacementError as error:
            show_error(form, error)
    return _stay_page(stay_id, 422, move=form)


@bp.post("/stays/<int:stay_id>/correct")
@login_required
def correct(stay_id: int):
    """Correct a recorded stay; the reason and the before/after go to the audit log."""
    stays.require_access(actor(), stay_id, Permission.CORRECT)  # before the form is read
    form = CorrectionForm(prefix=PREFIX["correct"])
    form.facility_id.choices = _choices(places.open_facilities(actor()))
    if form.validate_on_submit():
        try:
            stays.correct_stay(
                actor(),
                stay_id,
                reason=form.reason.data,
                facility_id=form.facility_id.data,
                legal_basis=form.legal_basis.data,
                start_at=from_local(form.start_at.data),
                end_at=from_local(form.end_at.data),
                end_reason=form.end_reason.data or None,
            )
            db.session.commit()
            flash(_("Korrektur gespeichert."), "success")
            return redirect(url_for("intake.stay", stay_id=stay_id))
        except PlacementError as error:
            show_error(form, error)
    return _stay_page(stay_id, 422, correct=form)


@bp.post("/stays/<int:stay_id>/distribution")
@login_required
def distribution(stay_id: int):
    """Record the §42a procedure: reported on, result, age assessment."""
    stays.require_access(actor(), stay_id, Permission.DISCHARGE)  # before the form is read
    form = DistributionForm(prefix=PREFIX["distribution"])
    if form.validate_on_submit():
        try:
            stays.record_distribution(
                actor(),
                stay_id,
                reported_on=form.reported_on.data,
                result=form.result.data or None,
                age_assessed_on=form.age_assessed_on.data,
            )
            db.session.commit()
            flash(_("§ 42a-Angaben gespeichert."), "success")
            return redirect(url_for("intake.stay", stay_id=stay_id))
        except PlacementError as error:
            show_error(form, error)
    return _stay_page(stay_id, 422, distribution=form)


@bp.post("/stays/<int:stay_id>/planned-end")
@login_required
def planned_end(stay_id: int):
    """Set, change or clear when and why an open stay is planned to end (the forecast
    counts the youth out on that day)."""
    stays.require_access(actor(), stay_id, Permission.DISCHARGE)  # before the form is read
    form = PlannedEndForm(prefix=PREFIX["planned_end"])
    if form.validate_on_submit():
        try:
            stay = stays.set_planned_end(
                actor(),
                stay_id,
                planned_end_on=form.planned_end_on.data,
                kind=form.planned_end_kind.data or None,
            )
            db.session.commit()
            flash(
                _("Geplantes Ende gespeichert.")
                if stay.planned_end_on is not None
                else _("Geplantes Ende gelöscht."),
                "success",
            )
            return redirect(url_for("intake.stay", stay_id=stay_id))
        except PlacementError as error:
            show_error(form, error)
    return _stay_page(stay_id, 422, planned_end=form)
