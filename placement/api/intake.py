"""API for the intake workflows: facilities, place finder, admissions, reservations, stays.

Each endpoint lets its schema read the request, calls one service, commits writes once,
and lets its schema write the answer."""

from __future__ import annotations

from typing import Any

from placement.api import schemas
from placement.api.blueprint import (
    PAGINATION_HEADER,
    actor,
    bp,
    commit,
    errors,
    pagination_headers,
    permission_first,
    role_needs,
)
from placement.services.accounts.permissions import Permission
from placement.services.intake import admissions, places, reservations, stays
from placement.services.intake.admissions import AdmissionRequest
from placement.services.intake.places import PlaceQuery
from placement.services.intake.youths import NewYouth
from placement.timeutil import now as utc_now

# --- facilities and the place finder ------------------------------------------------------


@bp.get("/facilities")
@bp.response(200, schemas.FacilityOut(many=True))
@errors(403)
def list_facilities():
    """Facilities with their profile.

    Addresses and locations of anonymous placements only for roles that see persons."""
    return places.facility_directory(actor())


@bp.get("/places")
@permission_first(role_needs(Permission.ADMIT))
@bp.arguments(schemas.PlacesQuery, location="query")
@bp.response(200, schemas.PlaceOptionOut(many=True), headers=PAGINATION_HEADER)
@errors(403, 404, 422)
def find_places(query: dict[str, Any]):
    """The place finder: facilities ranked for a profile, full and unsuitable ones marked.

    Suitable facilities with room first, nearest first; give ``age`` or ``birth_date``.
    Every active facility, or with ``page``/``page_size`` one page of them (where it
    stands in the whole: ``X-Pagination``)."""
    search = PlaceQuery(
        gender=query.get("gender"),
        uma=query["uma"],
        age=query.get("age"),
        birth_date=query.get("birth_date"),
        siblings=query["siblings"],
        latitude=query.get("lat"),
        longitude=query.get("lon"),
        near_facility_id=query.get("near"),
    )
    found = places.find_places_page(
        actor(), search, utc_now(), page=query.get("page"), page_size=query.get("page_size")
    )
    return found.items, 200, pagination_headers(found)


# --- admissions ----------------------------------------------------------------------------


def new_youth(youth: dict[str, Any]) -> NewYouth:
    """The service's new youth from a validated youth body."""
    birth_date = youth.get("birth_date")
    return NewYouth(
        birth_date=birth_date or youth.get("birth_date_estimated"),
        estimated=birth_date is None and youth.get("birth_date_estimated") is not None,
        age=youth.get("age"),
        gender=youth.get("gender"),
        uma=youth["uma"],
        reference=youth.get("reference"),
        file_number=youth.get("file_number"),
        sibling_group=youth.get("sibling_group"),
    )


def admission_request(data: dict[str, Any], **fixed: Any) -> AdmissionRequest:
    """The service's request value from a validated admission body: one youth, or new
    siblings in ``youths``."""
    youth = data.get("youth")
    return AdmissionRequest(
        facility_id=data.get("facility_id"),
        legal_basis=data.get("legal_basis"),
        youth_id=data.get("youth_id"),
        youth_reference=data.get("youth_reference"),
        youth=new_youth(youth) if youth is not None else None,
        youths=tuple(new_youth(y) for y in data.get("youths") or ()),
        start=data.get("start"),
        override_reason=data.get("override_reason"),
        confirmation=data.get("confirmation"),
        planned_end_on=data.get("planned_end_on"),
        planned_end_kind=data.get("planned_end_kind"),
        **fixed,
    )


@bp.post("/admissions/preview")
@permission_first(role_needs(Permission.ADMIT))
@bp.arguments(schemas.NewAdmissionIn)
@bp.response(200, schemas.PreviewOut)
@errors(403, 404, 409, 422)
def preview_admission(data: dict[str, Any]):
    """What an admission would do: profile mismatches, capacity warnings, duplicates and
    notices (per youth in ``youths``).

    Nothing is written. Send ``confirmation`` with the admission to have it refused (409
    ``confirmation_outdated``) if the situation changed meanwhile; with notices (a start
    more than 24 hours back or in the future, a person of full age) it is required."""
    return admissions.preview(actor(), admission_request(data))


@bp.post("/admissions")
@permission_first(role_needs(Permission.ADMIT))
@bp.arguments(schemas.NewAdmissionIn)
@bp.response(201, schemas.AdmittedOut)
@errors(403, 404, 409, 422)
def create_admission(data: dict[str, Any]):
    """Admit a youth, or new siblings together (``youths``); never refused for lack of places.

    Siblings get one generated sibling group and are recorded in one transaction with one
    capacity warning; ``stays`` lists one stay per youth. A file number or reference with
    an open stay is refused (409, ``stay_id`` of that stay)."""
    result = admissions.admit(actor(), admission_request(data))
    commit()
    return result


# --- reservations --------------------------------------------------------------------------


@bp.get("/reservations")
@bp.response(200, schemas.ReservationOut(many=True))
@errors(403)
def list_reservations():
    """Reservations holding a place now, soonest to expire first.

    ``note`` is null for callers who do not see persons of the reservation's facility."""
    return reservations.active_reservations(actor())


@bp.post("/reservations")
@permission_first(role_needs(Permission.ADMIT))
@bp.arguments(schemas.ReservationIn)
@bp.response(201, schemas.ReservationOut)
@errors(403, 404, 409, 422)
def create_reservation(data: dict[str, Any]):
    """Hold free places (``places``, one per child) for an announced admission (default 2
    hours).

    ``note``: at most 200 characters, no names, no reasons; answered only to callers who
    see persons of the facility."""
    reservation = reservations.reserve(
        actor(),
        facility_id=data["facility_id"],
        places=data["places"],
        expires_at=data.get("expires_at"),
        note=data.get("note"),
    )
    commit()
    return reservations.shown(actor(), reservation)


@bp.post("/reservations/<int:reservation_id>/admit")
@permission_first(role_needs(Permission.ADMIT))
@bp.arguments(schemas.AdmissionIn)
@bp.response(201, schemas.AdmittedOut)
@errors(403, 404, 409, 422)
def admit_reservation(data: dict[str, Any], reservation_id: int):
    """Turn a reservation into the admission (the held places are used)."""
    result = admissions.admit(actor(), admission_request(data, reservation_id=reservation_id))
    commit()
    return result


@bp.delete("/reservations/<int:reservation_id>")
@bp.response(200, schemas.ReservationOut)
@errors(403, 404, 409)
def cancel_reservation(reservation_id: int):
    """Cancel a reservation and give its place back."""
    reservation = reservations.cancel(actor(), reservation_id)
    commit()
    return reservations.shown(actor(), reservation)


def stay_access(*needed: Permission):
    """A ``permission_first`` check: the permissions, and the stay in the caller's scope."""

    def check(stay_id: int, **_path) -> object:  # the stay
        return stays.require_access(actor(), stay_id, *needed)

    return check


# --- stays ---------------------------------------------------------------------------------


# GET /stays (lists with filters and pages) is in api.people.


@bp.post("/stays/<int:stay_id>/discharge")
@permission_first(stay_access(Permission.DISCHARGE))
@bp.arguments(schemas.DischargeIn)
@bp.response(200, schemas.StayOut)
@errors(403, 404, 409, 422)
def discharge_stay(data: dict[str, Any], stay_id: int):
    """End a stay with a reason and time (default now)."""
    stay = stays.discharge(actor(), stay_id, reason=data["reason"], end=data.get("time"))
    commit()
    return stay


@bp.post("/stays/<int:stay_id>/undo-discharge")
@bp.response(200, schemas.UndoneOut)
@errors(403, 404, 409)
def undo_discharge(stay_id: int):
    """Take back a discharge one recorded oneself within DISCHARGE_UNDO_MINUTES.

    Refused (409) after the window (then a correction, PATCH, is the way), for another's
    discharge, or once the youth has a later or another open stay."""
    result = stays.undo_discharge(actor(), stay_id)
    commit()
    return result


@bp.post("/stays/<int:stay_id>/move")
@permission_first(stay_access(Permission.DISCHARGE, Permission.ADMIT))
@bp.arguments(schemas.MoveIn)
@bp.response(201, schemas.MovedOut)
@errors(403, 404, 409, 422)
def move_stay(data: dict[str, Any], stay_id: int):
    """Move to another facility in one transaction (co-located siblings along when
    ``with_siblings``)."""
    result = stays.move(
        actor(),
        stay_id,
        facility_id=data["facility_id"],
        time=data.get("time"),
        with_siblings=data["with_siblings"],
        override_reason=data.get("override_reason"),
        legal_basis=data.get("legal_basis"),
    )
    commit()
    return result


@bp.patch("/stays/<int:stay_id>")
@permission_first(stay_access(Permission.CORRECT))
@bp.arguments(schemas.CorrectionIn)
@bp.response(200, schemas.StayOut)
@errors(403, 404, 409, 422)
def correct_stay(data: dict[str, Any], stay_id: int):
    """Correct a stay (reason required, audited before and after, nothing deleted)."""
    reason = data.pop("reason")
    stay = stays.correct_stay(actor(), stay_id, reason=reason, **data)
    commit()
    return stay


@bp.post("/stays/<int:stay_id>/distribution")
@permission_first(stay_access(Permission.DISCHARGE))
@bp.arguments(schemas.DistributionIn)
@bp.response(200, schemas.StayOut)
@errors(403, 404, 422)
def record_distribution(data: dict[str, Any], stay_id: int):
    """The §42a procedure of a stay: reported for distribution on, result, age assessment
    (a report or a result stops the §42a clock)."""
    stay = stays.record_distribution(
        actor(),
        stay_id,
        reported_on=data["reported_on"],
        result=data["result"],
        age_assessed_on=data["age_assessed_on"],
    )
    commit()
    return stay


@bp.post("/stays/<int:stay_id>/planned-end")
@permission_first(stay_access(Permission.DISCHARGE))
@bp.arguments(schemas.PlannedEndIn)
@bp.response(200, schemas.StayOut)
@errors(403, 404, 409, 422)
def set_planned_end(data: dict[str, Any], stay_id: int):
    """Set, change or clear (``planned_end_on: null``) when and why an open stay is
    planned to end ("Übergabe nach §42b am", "Anschlusshilfe ab").

    The forecast counts the youth out on that day. A day before the admission or before
    today is refused (422), an ended stay too (409)."""
    stay = stays.set_planned_end(
        actor(),
        stay_id,
        planned_end_on=data["planned_end_on"],
        kind=data["planned_end_kind"],
    )
    commit()
    return stay
