"""API for facility administration: profiles, places (capacity periods) and confirmed
occupancy. Facility managers act on the facilities assigned to their account, administrators
on all (the scope is checked by the services, as for the HTML pages)."""

from __future__ import annotations

from typing import Any

from placement.api import schemas
from placement.api.blueprint import actor, bp, commit, errors, permission_first, role_needs
from placement.services.accounts import permissions
from placement.services.accounts.permissions import Permission
from placement.services.facilities import admin
from placement.services.intake.places import facility_info
from placement.services.occupancy import capacity
from placement.timeutil import now as utc_now


def facility_access(facility_id: int, **_path) -> None:
    """A ``permission_first`` check: the facility is the caller's to manage."""
    permissions.require_facility(actor(), facility_id, Permission.MANAGE_FACILITY)


def capacity_change(data: dict[str, Any]) -> capacity.CapacityChange:
    """The service's change from a validated body: keys left out keep their value."""
    keep = capacity.KEEP
    return capacity.CapacityChange(
        valid_from=data.get("valid_from") or utc_now(),
        licensed=data.get("licensed"),
        usable=data.get("usable"),
        kept_free=data.get("kept_free"),
        ceiling=data.get("ceiling", keep),
        ceiling_until=data.get("ceiling_until", keep),
        ceiling_reference=data.get("ceiling_reference", keep),
        note=data.get("note"),
        confirmation=data.get("confirmation"),
    )


@bp.post("/facilities")
@permission_first(role_needs(Permission.MANAGE))
@bp.arguments(schemas.FacilityIn)
@bp.response(201, schemas.FacilityOut)
@errors(400, 403, 409, 422)
def create_facility(data: dict[str, Any]):
    """Create a facility (administrators only).

    Without ``code`` a unique, URL-safe one is generated from the name; with ``licensed``
    (and ``usable``) its first capacity period starts now."""
    code = data.pop("code", None)
    licensed, usable = data.pop("licensed", None), data.pop("usable", None)
    facility = admin.create_facility(actor(), data, code=code, licensed=licensed, usable=usable)
    commit()
    return facility_info(actor(), facility)


@bp.patch("/facilities/<int:facility_id>")
@permission_first(facility_access)
@bp.arguments(schemas.FacilityPatchIn)
@bp.response(200, schemas.FacilityOut)
@errors(400, 403, 404, 422)
def update_facility(data: dict[str, Any], facility_id: int):
    """Change a facility's profile, or close (``active: false``) and reopen it.

    Fields left out keep their value; every change is audited with before and after."""
    facility = admin.update_facility(actor(), facility_id, data)
    commit()
    return facility_info(actor(), facility)


@bp.get("/facilities/<int:facility_id>/capacity")
@bp.response(200, schemas.CapacityPeriodOut(many=True))
@errors(403, 404)
def capacity_history(facility_id: int):
    """The facility's capacity periods, newest first (nothing is ever overwritten)."""
    return capacity.capacity_history(actor(), facility_id)


@bp.post("/facilities/<int:facility_id>/capacity/preview")
@permission_first(facility_access)
@bp.arguments(schemas.CapacityIn)
@bp.response(200, schemas.CapacityPreviewOut)
@errors(400, 403, 404, 422)
def preview_capacity(data: dict[str, Any], facility_id: int):
    """What a change of places would do: the period it closes, the periods it opens, and
    how many people would be placed above the usable places. Nothing is written."""
    return capacity.preview_change(actor(), facility_id, capacity_change(data))


@bp.post("/facilities/<int:facility_id>/capacity")
@permission_first(facility_access)
@bp.arguments(schemas.CapacityIn)
@bp.response(201, schemas.CapacityChangedOut)
@errors(400, 403, 404, 409, 422)
def change_capacity(data: dict[str, Any], facility_id: int):
    """Change places from ``valid_from`` (default now): licensed, usable, kept free, and a
    temporary ceiling until a date with the authority's reference.

    If more people would be placed than places are usable, the change is refused with 409
    ``over_usable_confirmation`` until it is sent with the ``confirmation`` of its preview."""
    result = capacity.change_capacity(actor(), facility_id, capacity_change(data))
    commit()
    return result


@bp.post("/facilities/<int:facility_id>/confirm")
@bp.response(200, schemas.FacilityOut)
@errors(403, 404, 422)
def confirm_occupancy(facility_id: int):
    """Confirm "our numbers are right as of now" for the facility (audited)."""
    facility = admin.confirm_occupancy(actor(), facility_id)
    commit()
    return facility_info(actor(), facility)
