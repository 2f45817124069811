"""Intake pages: find a place, admit, reserve, discharge, move, correct.

Views parse the form, call the services, commit once, and render or redirect. Every rule,
default and permission is in the services; their coded errors are shown at the field they
name, and everything typed is kept."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from placement.extensions import db
from placement.intake.forms import (
    AdmissionForm,
    CorrectionForm,
    DischargeForm,
    DistributionForm,
    MoveForm,
    PlaceSearchForm,
    ReservationForm,
)
from placement.messages import error_message, mismatch_messages, warning_message
from placement.services.errors import PlacementError
from placement.services.intake import admissions, places, reservations, stays
from placement.services.intake.admissions import AdmissionRequest, ConfirmationOutdated
from placement.services.intake.places import PlaceQuery
from placement.services.intake.youths import NewYouth
from placement.timeutil import from_local, local, to_local_naive
from placement.timeutil import now as utc_now
from placement.views import actor, show_error

bp = Blueprint("intake", __name__)


def _choices(facilities) -> list[tuple[int, str]]:
    return [(f.id, f.name) for f in facilities]


def _int(value) -> int | None:
    return int(value) if str(value or "").isdigit() else None


# --- find a place ----------------------------------------------------------------------------


@bp.get("/intake/places", endpoint="places")
@login_required
def places_page():
    """Place finder: suitable facilities with free places first; full ones marked below."""
    form = PlaceSearchForm(request.args)
    form.near.choices = [("", _("– kein Standort –"))] + [
        (str(f.id), f.name) for f in places.reference_points(actor())
    ]
    results = None
    if request.args and form.validate():
        try:
            results = places.find_places(actor(), _place_query(form), utc_now())
        except PlacementError as error:
            show_error(form, error)
    status = 422 if request.args and form.errors else 200
    return render_template(
        "intake/places.html", form=form, results=results, mismatches=mismatch_messages
    ), status


def _place_query(form: PlaceSearchForm) -> PlaceQuery:
    return PlaceQuery(
        gender=form.gender.data or None,
        uma=form.uma.data == "1",
        age=form.age.data,
        birth_date=form.birth_date.data,
        siblings=1 if form.siblings.data is None else form.siblings.data,
        latitude=float(form.lat.data) if form.lat.data is not None else None,
        longitude=float(form.lon.data) if form.lon.data is not None else None,
        near_facility_id=_int(form.near.data),
    )


# --- admit -----------------------------------------------------------------------------------


@bp.route("/intake/admit", methods=["GET", "POST"])
@login_required
def admit():
    """Admission: check, show warnings and ask to confirm, record. Never refused for lack
    of places."""
    form = AdmissionForm()
    form.facility_id.choices = _choices(places.open_facilities(actor()))
    if request.method == "GET":
        _prefill(form)
    reservation_id = _int(form.reservation_id.data or request.args.get("reservation_id"))
    reservation = _reservation(reservation_id)
    preview = None
    status = 200
    if form.validate_on_submit():
        admission = _admission_request(form, reservation_id)
        try:
            if admission.confirmation is None:
                preview = admissions.preview(actor(), admission)
                if preview.override_error is not None:
                    show_error(form, preview.override_error)
                if not preview.needs_confirmation:
                    admission = replace(admission, confirmation=preview.confirmation)
            if admission.confirmation is not None:
                result = admissions.admit(actor(), admission)
                db.session.commit()
                flash(
                    _(
                        "Aufnahme von %(ref)s in %(facility)s gespeichert.",
                        ref=result.stay.youth.reference,
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
            show_error(form, error)
            preview = None
            status = 422
        form.confirm.data = preview.confirmation if preview is not None else ""
    if form.errors:
        status = 422
    return render_template(
        "intake/admit.html",
        form=form,
        preview=preview,
        reservation=reservation,
        mismatches=mismatch_messages,
        warning_message=warning_message,
    ), status


def _reservation(reservation_id: int | None):
    if reservation_id is None:
        return None
    try:
        return reservations.get_reservation(reservation_id)
    except PlacementError:
        return None


def _prefill(form: AdmissionForm) -> None:
    """Defaults from what the place finder knew (the service decides them)."""
    args = request.args
    birth_date = None
    with contextlib.suppress(ValueError):  # a mistyped link just leaves the field empty
        birth_date = date.fromisoformat(args.get("birth_date", ""))
    draft = admissions.draft(
        facility_id=_int(args.get("facility_id")),
        age=_int(args.get("age")),
        birth_date=birth_date,
        gender=args.get("gender"),
        uma=args.get("uma") == "1",
    )
    form.facility_id.data = draft.facility_id
    form.birth_date.data = draft.birth_date
    form.birth_date_estimated.data = draft.birth_date_estimated
    form.gender.data = draft.gender.value if draft.gender else None
    form.uma.data = "1" if draft.uma else "0"
    form.legal_basis.data = draft.legal_basis.value
    form.reservation_id.data = args.get("reservation_id", "")


def _admission_request(form: AdmissionForm, reservation_id: int | None) -> AdmissionRequest:
    """An existing youth (by reference) or the typed-in new one."""
    reference = (form.youth_reference.data or "").strip() or None
    new_youth = None
    if reference is None:
        new_youth = NewYouth(
            birth_date=form.birth_date.data,
            gender=form.gender.data or None,
            uma=form.uma.data == "1",
            estimated=form.birth_date_estimated.data,
            reference=form.reference.data,
            file_number=form.file_number.data,
            sibling_group=form.sibling_group.data,
        )
    return AdmissionRequest(
        facility_id=form.facility_id.data,
        legal_basis=form.legal_basis.data,
        youth_reference=reference,
        youth=new_youth,
        start=from_local(form.start.data),
        reservation_id=reservation_id,
        override_reason=form.override_reason.data or None,
        confirmation=form.confirm.data or None,
    )


# --- reservations ----------------------------------------------------------------------------


@bp.post("/intake/reserve")
@login_required
def reserve():
    """Hold a free place for an announced admission."""
    form = ReservationForm()
    if form.validate_on_submit():
        try:
            reservation = reservations.reserve(
                actor(),
                facility_id=_int(form.facility_id.data) or 0,
                hours=form.hours.data,
                note=form.note.data or None,
            )
            db.session.commit()
            flash(
                _(
                    "Platz in %(name)s reserviert bis %(until)s.",
                    name=reservation.facility.name,
                    until=local(reservation.expires_at).strftime("%d.%m.%Y %H:%M"),
                ),
                "success",
            )
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
    try:
        reservations.cancel(actor(), reservation_id)
        db.session.commit()
        flash(_("Reservierung storniert."), "info")
    except PlacementError as error:
        db.session.rollback()
        flash(error_message(error), "danger")
    return redirect(url_for("intake.reservations"))


# --- one stay: view, discharge, move, correct --------------------------------------------------


def _stay_page(stay_id: int, status: int = 200, **forms):
    """The stay page (audited); the permission is checked before anything is rendered,
    on error paths too."""
    record = stays.stay_record(actor(), stay_id)
    db.session.commit()  # the audit entry of the view
    stay = record.stay
    choices = _choices(places.open_facilities(actor()))
    move_form = forms.get("move") or MoveForm()
    move_form.facility_id.choices = [c for c in choices if c[0] != stay.facility_id]
    correction = forms.get("correct") or CorrectionForm(
        data={
            "facility_id": stay.facility_id,
            "legal_basis": stay.legal_basis.value,
            "start_at": to_local_naive(stay.start_at),
            "end_at": to_local_naive(stay.end_at),
            "end_reason": stay.end_reason.value if stay.end_reason else "",
        }
    )
    correction.facility_id.choices = choices
    distribution = forms.get("distribution") or DistributionForm(
        data={
            "reported_on": stay.distribution_reported_on,
            "result": stay.distribution_result.value if stay.distribution_result else "",
            "age_assessed_on": stay.age_assessed_on,
        }
    )
    return render_template(
        "intake/stay.html",
        record=record,
        stay=stay,
        youth=record.youth,
        discharge_form=forms.get("discharge") or DischargeForm(),
        move_form=move_form,
        correction_form=correction,
        distribution_form=distribution,
    ), status


@bp.get("/stays/<int:stay_id>")
@login_required
def stay(stay_id: int):
    """One stay with the youth's history and the actions on it (personal data: audited)."""
    return _stay_page(stay_id)


@bp.post("/stays/<int:stay_id>/discharge")
@login_required
def discharge(stay_id: int):
    """End a stay with reason and time."""
    form = DischargeForm()
    if form.validate_on_submit():
        try:
            stays.discharge(
                actor(), stay_id, reason=form.reason.data, end=from_local(form.time.data)
            )
            db.session.commit()
            flash(_("Entlassung gespeichert."), "success")
            return redirect(url_for("intake.stay", stay_id=stay_id))
        except PlacementError as error:
            show_error(form, error)
    return _stay_page(stay_id, 422, discharge=form)


@bp.post("/stays/<int:stay_id>/move")
@login_required
def move(stay_id: int):
    """Move to another facility (siblings along when asked)."""
    form = MoveForm()
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
    form = CorrectionForm()
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
    form = DistributionForm()
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
