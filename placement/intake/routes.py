"""Intake pages: find a place, admit, reserve, discharge, move, correct.

Views parse the form, call one service, commit once, and render or redirect. Service errors
name a field; they are shown at that field and everything typed is kept."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from placement.extensions import db
from placement.intake import bp
from placement.intake.forms import (
    AdmissionForm,
    CorrectionForm,
    DischargeForm,
    MoveForm,
    PlaceSearchForm,
    ReservationForm,
)
from placement.models import Facility, Reservation, Stay
from placement.models.enums import Gender
from placement.services import admissions, audit, permissions, reservations, youths
from placement.services.errors import PlacementError
from placement.services.permissions import Permission
from placement.services.places import PlaceQuery, age_on, find_places
from placement.timeutil import BERLIN, from_local, to_local_naive
from placement.timeutil import now as utc_now

# Service field names -> form field names (the API nests youth fields under "youth.").
FIELD_MAP = {
    "youth.birth_date": "birth_date",
    "youth.gender": "gender",
    "youth.reference": "reference",
    "youth.uma": "uma",
    "youth_id": "existing_reference",
    "youth": "birth_date",
    "expires_at": "hours",
}


def _actor() -> audit.Actor:
    return audit.Actor.for_user(current_user)


def _require(permission: Permission) -> None:
    if not permissions.can(current_user.role, permission):
        abort(403)


def _show_error(form, error: PlacementError) -> None:
    """Attach a service error to the form field it names (or flash it)."""
    db.session.rollback()
    name = FIELD_MAP.get(error.field or "", error.field or "")
    field = getattr(form, name, None) if name else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "danger")


def _facility_choices() -> list[tuple[int, str]]:
    facilities = db.session.scalars(
        select(Facility).where(Facility.active.is_(True)).order_by(Facility.name)
    )
    return [(f.id, f.name) for f in facilities]


# --- find a place ----------------------------------------------------------------------------


@bp.get("/intake/places")
@login_required
def places():
    """Place finder: suitable facilities with free places first; full ones marked below."""
    _require(Permission.ADMIT)
    form = PlaceSearchForm(request.args)
    facilities = db.session.scalars(select(Facility).order_by(Facility.name)).all()
    form.near.choices = [("", _("– kein Standort –"))] + [
        (str(f.id), f.name)
        for f in facilities
        if f.latitude is not None and not f.anonymous_address
    ]
    results = None
    if request.args and form.validate():
        results = _search(form, facilities)
    status = 422 if request.args and form.errors else 200
    return render_template("intake/places.html", form=form, results=results), status


def _search(form: PlaceSearchForm, facilities: list[Facility]):
    now = utc_now()
    if form.birth_date.data is not None:
        if form.birth_date.data > now.astimezone(BERLIN).date():
            form.birth_date.errors = [_("Das Geburtsdatum liegt in der Zukunft.")]
            return None
        age = age_on(form.birth_date.data, now)
    elif form.age.data is not None:
        age = form.age.data
    else:
        form.age.errors = [_("Bitte Alter oder Geburtsdatum angeben.")]
        return None
    lat = float(form.lat.data) if form.lat.data is not None else None
    lon = float(form.lon.data) if form.lon.data is not None else None
    if form.near.data:
        near = next((f for f in facilities if str(f.id) == form.near.data), None)
        if near is not None:
            lat, lon = near.latitude, near.longitude
    try:
        query = PlaceQuery(
            age=age,
            gender=Gender(form.gender.data),
            uma=form.uma.data == "1",
            siblings=form.siblings.data or 1,
            latitude=lat,
            longitude=lon,
        )
    except PlacementError as error:
        _show_error(form, error)
        return None
    return {"query": query, "options": find_places(query, now)}


# --- admit -----------------------------------------------------------------------------------


@bp.route("/intake/admit", methods=["GET", "POST"])
@login_required
def admit():
    """Admission: preview warnings, confirm, record. Never refused for lack of places."""
    _require(Permission.ADMIT)
    form = AdmissionForm()
    form.facility_id.choices = _facility_choices()
    reservation = None
    if request.method == "GET":
        _prefill_admission(form)
    reservation_id = form.reservation_id.data or request.args.get("reservation_id")
    if reservation_id:
        reservation = (
            db.session.get(Reservation, int(reservation_id))
            if str(reservation_id).isdigit()
            else None
        )
    preview = None
    if form.validate_on_submit():
        try:
            target = _admission_target(form)
            if form.confirm.data != _confirmation_key(form):
                preview = _preview(form, target)
            if preview is None or not (preview["mismatches"] or preview["warnings"]):
                result = admissions.admit(
                    _actor(),
                    facility_id=form.facility_id.data,
                    legal_basis=form.legal_basis.data,
                    start=from_local(form.start.data),
                    override_reason=form.override_reason.data or None,
                    reservation_id=int(form.reservation_id.data)
                    if form.reservation_id.data
                    else None,
                    **target,
                )
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
                    flash(warning.message, "warning")
                return redirect(url_for("intake.stay", stay_id=result.stay.id))
            form.confirm.data = _confirmation_key(form)
        except PlacementError as error:
            _show_error(form, error)
            preview = None
            form.confirm.data = ""
    status = 422 if form.errors else 200
    return render_template(
        "intake/admit.html", form=form, preview=preview, reservation=reservation
    ), status


def _confirmation_key(form: AdmissionForm) -> str:
    """What a confirmation applies to: changing the house, the person or the time after
    seeing the warnings asks again."""
    fields = (
        "facility_id",
        "existing_reference",
        "birth_date",
        "gender",
        "uma",
        "start",
        "reservation_id",
    )
    return "|".join(str(getattr(form, name).data or "") for name in fields)


def _prefill_admission(form: AdmissionForm) -> None:
    args = request.args
    if args.get("facility_id", "").isdigit():
        form.facility_id.data = int(args["facility_id"])
    if args.get("gender") in ("f", "m", "d"):
        form.gender.data = args["gender"]
    if args.get("uma") in ("0", "1"):
        form.uma.data = args["uma"]
        form.legal_basis.data = "42a" if args["uma"] == "1" else "42-1-2"
    if args.get("birth_date"):
        with contextlib.suppress(ValueError):  # a mistyped link just leaves the field empty
            form.birth_date.data = date.fromisoformat(args["birth_date"])
    elif args.get("age", "").isdigit():
        # Only the age is known (no papers): prefill an estimate, marked as such.
        today = utc_now().astimezone(BERLIN).date()
        form.birth_date.data = today - timedelta(days=round(365.25 * int(args["age"]) + 182))
        form.birth_date_estimated.data = True
    form.reservation_id.data = args.get("reservation_id", "")


def _admission_target(form: AdmissionForm) -> dict:
    """Either an existing youth (by reference) or the typed-in new one."""
    if form.existing_reference.data:
        youth = youths.find_by_reference(form.existing_reference.data)
        if youth is None:
            raise PlacementError(_("Kein Eintrag mit diesem Kürzel."), field="existing_reference")
        return {"youth_id": youth.id}
    missing = [name for name in ("birth_date", "gender") if not getattr(form, name).data]
    if missing:
        raise PlacementError(
            _("Bitte ausfüllen (oder eine vorhandene Person angeben)."), field=missing[0]
        )
    return {
        "new_youth": youths.NewYouth(
            birth_date=form.birth_date.data,
            gender=form.gender.data,
            uma=form.uma.data == "1",
            estimated=form.birth_date_estimated.data,
            reference=form.reference.data,
            file_number=form.file_number.data,
            sibling_group=form.sibling_group.data,
        )
    }


def _preview(form: AdmissionForm, target: dict) -> dict:
    if "youth_id" in target:
        youth = youths.get_youth(target["youth_id"])
        profile = {"birth_date": youth.birth_date, "gender": youth.gender, "uma": youth.uma}
    else:
        new = target["new_youth"]
        start = admissions.checked_instant(from_local(form.start.data), "start")
        youths.validate_new_youth(new, at=start)
        profile = {"birth_date": new.birth_date, "gender": new.gender, "uma": new.uma}
    reserved_here = 1 if form.reservation_id.data else 0
    mismatches, warnings = admissions.preview_admission(
        form.facility_id.data, start=from_local(form.start.data), released=reserved_here, **profile
    )
    if mismatches and not form.override_reason.data:
        form.override_reason.errors = [
            *form.override_reason.errors,
            _("Außerhalb des Profils: bitte kurz begründen, warum trotzdem hier aufgenommen wird."),
        ]
    return {"mismatches": mismatches, "warnings": warnings}


# --- reservations ----------------------------------------------------------------------------


@bp.post("/intake/reserve")
@login_required
def reserve():
    """Hold a free place for an announced admission."""
    _require(Permission.ADMIT)
    form = ReservationForm()
    if form.validate_on_submit():
        try:
            reservation = reservations.reserve(
                _actor(),
                facility_id=int(form.facility_id.data),
                expires_at=utc_now() + timedelta(hours=form.hours.data),
                note=form.note.data or None,
            )
            db.session.commit()
            flash(
                _(
                    "Platz in %(name)s reserviert bis %(until)s.",
                    name=reservation.facility.name,
                    until=reservation.expires_at.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M"),
                ),
                "success",
            )
            return redirect(url_for("intake.reservations"))
        except (PlacementError, ValueError) as error:
            if isinstance(error, ValueError):
                error = PlacementError(_("Bitte Einrichtung wählen."), field="facility_id")
            _show_error(form, error)
    for field_errors in form.errors.values():
        for message in field_errors:
            flash(message, "danger")
    return redirect(request.referrer or url_for("intake.places"))


@bp.get("/intake/reservations", endpoint="reservations")
@login_required
def reservations_page():
    """Open reservations, soonest to expire first."""
    _require(Permission.ADMIT)
    return render_template(
        "intake/reservations.html", reservations=reservations.active_reservations()
    )


@bp.post("/intake/reservations/<int:reservation_id>/cancel")
@login_required
def cancel_reservation(reservation_id: int):
    """Give a held place back."""
    try:
        reservations.cancel(_actor(), reservation_id)
        db.session.commit()
        flash(_("Reservierung storniert."), "info")
    except PlacementError as error:
        db.session.rollback()
        flash(error.message, "danger")
    return redirect(url_for("intake.reservations"))


# --- one stay: view, discharge, move, correct --------------------------------------------------


def _stay_or_404(stay_id: int) -> Stay:
    stay = db.session.get(Stay, stay_id)
    if stay is None:
        abort(404)
    return stay


def _stay_page(stay: Stay, status: int = 200, **forms):
    discharge_form = forms.get("discharge") or DischargeForm()
    move_form = forms.get("move") or MoveForm()
    move_form.facility_id.choices = [c for c in _facility_choices() if c[0] != stay.facility_id]
    correction = forms.get("correct") or CorrectionForm(
        data={
            "facility_id": stay.facility_id,
            "legal_basis": stay.legal_basis.value,
            "start_at": to_local_naive(stay.start_at),
            "end_at": to_local_naive(stay.end_at),
            "end_reason": stay.end_reason.value if stay.end_reason else "",
        }
    )
    correction.facility_id.choices = _facility_choices()
    history = db.session.scalars(
        select(Stay).where(Stay.youth_id == stay.youth_id).order_by(Stay.start_at)
    ).all()
    return render_template(
        "intake/stay.html",
        stay=stay,
        youth=stay.youth,
        history=history,
        age=age_on(stay.youth.birth_date, utc_now()),
        discharge_form=discharge_form,
        move_form=move_form,
        correction_form=correction,
        siblings=admissions.siblings_in_same_facility(stay) if stay.end_at is None else [],
    ), status


@bp.get("/stays/<int:stay_id>")
@login_required
def stay(stay_id: int):
    """One stay with the youth's history and the actions on it (personal data: audited)."""
    _require(Permission.VIEW_PERSONS)
    record = _stay_or_404(stay_id)
    audit.record(_actor(), "stay.view", record)
    db.session.commit()
    return _stay_page(record)


@bp.post("/stays/<int:stay_id>/discharge")
@login_required
def discharge(stay_id: int):
    """End a stay with reason and time."""
    form = DischargeForm()
    if form.validate_on_submit():
        try:
            admissions.discharge(
                _actor(), stay_id, reason=form.reason.data, end=from_local(form.time.data)
            )
            db.session.commit()
            flash(_("Entlassung gespeichert."), "success")
            return redirect(url_for("intake.stay", stay_id=stay_id))
        except PlacementError as error:
            _show_error(form, error)
    return _stay_page(_stay_or_404(stay_id), 422, discharge=form)


@bp.post("/stays/<int:stay_id>/move")
@login_required
def move(stay_id: int):
    """Move to another facility (siblings along when asked)."""
    form = MoveForm()
    form.facility_id.choices = _facility_choices()
    if form.validate_on_submit():
        try:
            result = admissions.move(
                _actor(),
                stay_id,
                facility_id=form.facility_id.data,
                time=from_local(form.time.data),
                with_siblings=form.with_siblings.data,
                override_reason=form.override_reason.data or None,
            )
            db.session.commit()
            flash(_("Verlegung gespeichert."), "success")
            for warning in result.warnings:
                flash(warning.message, "warning")
            return redirect(url_for("intake.stay", stay_id=result.stays[0].id))
        except PlacementError as error:
            _show_error(form, error)
    return _stay_page(_stay_or_404(stay_id), 422, move=form)


@bp.post("/stays/<int:stay_id>/correct")
@login_required
def correct(stay_id: int):
    """Correct a recorded stay; the reason and the before/after go to the audit log."""
    form = CorrectionForm()
    form.facility_id.choices = _facility_choices()
    if form.validate_on_submit():
        try:
            admissions.correct_stay(
                _actor(),
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
            _show_error(form, error)
    return _stay_page(_stay_or_404(stay_id), 422, correct=form)
