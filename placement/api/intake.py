"""API for the intake workflows: facilities, place finder, admissions, reservations, stays."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import g, request
from sqlalchemy import select

from placement.api import bp
from placement.api.inputs import BadInput, boolean, instant, integer, json_body, text
from placement.api.openapi import SCHEMAS, document
from placement.extensions import db
from placement.models import Facility, Reservation, Stay
from placement.models.enums import Gender
from placement.services import admissions, audit, permissions, reservations
from placement.services.permissions import Permission
from placement.services.places import PlaceQuery, age_on, find_places
from placement.services.youths import NewYouth
from placement.timeutil import now as utc_now


def _actor() -> audit.Actor:
    return audit.Actor.for_user(g.api_user)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def facility_json(facility: Facility) -> dict[str, Any]:
    hide_address = facility.anonymous_address and not permissions.can(
        g.api_user.role, Permission.VIEW_PERSONS
    )
    return {
        "id": facility.id,
        "code": facility.code,
        "name": facility.name,
        "kind": facility.kind.value,
        "operator": facility.operator,
        "planning_area": facility.planning_area,
        "district": facility.district,
        "address": None
        if hide_address
        else {
            "street": facility.street,
            "postal_code": facility.postal_code,
            "city": facility.city,
        },
        "location": None
        if hide_address or facility.latitude is None
        else [facility.latitude, facility.longitude],
        "age_min": facility.age_min,
        "age_max": facility.age_max,
        "genders": sorted(facility.genders),
        "uma": facility.uma_policy.value,
        "anonymous_address": facility.anonymous_address,
        "active": facility.active,
    }


def stay_json(stay: Stay) -> dict[str, Any]:
    youth = stay.youth
    return {
        "id": stay.id,
        "facility_id": stay.facility_id,
        "youth": {
            "id": youth.id,
            "reference": youth.reference,
            "birth_date": youth.birth_date.isoformat(),
            "birth_date_estimated": youth.birth_date_estimated,
            "gender": youth.gender.value,
            "uma": youth.uma,
            "sibling_group": youth.sibling_group,
        },
        "legal_basis": stay.legal_basis.value,
        "start": _iso(stay.start_at),
        "end": _iso(stay.end_at),
        "end_reason": stay.end_reason.value if stay.end_reason else None,
        "pinned": stay.pinned,
        "place_held_until": _iso(stay.place_held_until),
        "override_reason": stay.override_reason,
    }


def reservation_json(reservation: Reservation) -> dict[str, Any]:
    return {
        "id": reservation.id,
        "facility_id": reservation.facility_id,
        "created_at": _iso(reservation.created_at),
        "expires_at": _iso(reservation.expires_at),
        "status": reservation.status.value,
        "closed_at": _iso(reservation.closed_at),
        "note": reservation.note,
        "stay_id": reservation.stay_id,
    }


def _require(permission: Permission) -> None:
    permissions.require(g.api_user.role, permission)


# --- facilities and the place finder ------------------------------------------------------------


@bp.get("/facilities")
def facilities():
    """All facilities with their profile."""
    _require(Permission.VIEW_COUNTS)
    rows = db.session.scalars(select(Facility).order_by(Facility.name)).all()
    return [facility_json(f) for f in rows]


def _date_param(name: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(f"„{name}“ ist kein Datum (JJJJ-MM-TT).", field=name) from exc


@bp.get("/places")
def places():
    """Facilities ranked for a profile: free places now, distance, over-capacity flags."""
    _require(Permission.VIEW_COUNTS)
    args = request.args
    current = utc_now()
    birth = _date_param("birth_date", args.get("birth_date"))
    age = age_on(birth, current) if birth is not None else integer(dict(args), "age")
    gender = args.get("gender")
    if gender not in ("f", "m", "d"):
        raise BadInput("„gender“ muss f, m oder d sein.", field="gender")
    uma = boolean(dict(args), "uma")
    siblings = integer(dict(args), "siblings", required=False)
    lat = _float(args, "lat")
    lon = _float(args, "lon")
    query = PlaceQuery(
        age=age,
        gender=Gender(gender),
        uma=uma,
        siblings=1 if siblings is None else siblings,
        latitude=lat,
        longitude=lon,
    )
    return [
        {
            "facility": facility_json(option.facility),
            "suitable": option.suitable,
            "mismatches": option.mismatches,
            "licensed": option.state.licensed,
            "usable": option.state.usable,
            "limit": option.state.limit,
            "occupied": option.state.occupied,
            "reserved": option.state.reserved,
            "free": option.state.free,
            "has_room": option.has_room,
            "over_capacity": option.state.over_capacity,
            "distance_km": option.distance_km,
        }
        for option in find_places(query, current)
    ]


def _float(args, name: str) -> float | None:
    value = args.get(name)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise BadInput(f"„{name}“ muss eine Zahl sein.", field=name) from exc


# --- admissions ----------------------------------------------------------------------------------


def _new_youth(data: Any) -> NewYouth:
    if not isinstance(data, dict):
        raise BadInput("„youth“ muss ein JSON-Objekt sein.", field="youth")
    estimated = data.get("birth_date_estimated") is not None and data.get("birth_date") is None
    name = "birth_date_estimated" if estimated else "birth_date"
    raw = data.get(name)
    if raw is None:
        raise BadInput(
            "Das Feld „youth.birth_date“ (oder „youth.birth_date_estimated“) fehlt.",
            field="youth.birth_date",
        )
    if not isinstance(raw, str):
        raise BadInput(f"„youth.{name}“ muss ein Datum (JJJJ-MM-TT) sein.", field=f"youth.{name}")
    try:
        birth = date.fromisoformat(raw)
    except ValueError as exc:
        raise BadInput(
            f"„youth.{name}“ ist kein Datum (JJJJ-MM-TT).", field=f"youth.{name}"
        ) from exc
    gender = data.get("gender")
    if gender not in ("f", "m", "d"):
        raise BadInput("„youth.gender“ muss f, m oder d sein.", field="youth.gender")
    uma = data.get("uma")
    if not isinstance(uma, bool):
        raise BadInput("„youth.uma“ muss true oder false sein.", field="youth.uma")
    for key in ("reference", "file_number", "sibling_group"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise BadInput(f"„youth.{key}“ muss ein Text sein.", field=f"youth.{key}")
    return NewYouth(
        birth_date=birth,
        gender=gender,
        uma=uma,
        estimated=estimated,
        reference=data.get("reference"),
        file_number=data.get("file_number"),
        sibling_group=data.get("sibling_group"),
    )


def _admission_args(data: dict[str, Any]) -> dict[str, Any]:
    youth_id = integer(data, "youth_id", required=False)
    if youth_id is None and "youth" not in data:
        raise BadInput("Bitte „youth_id“ oder ein neues „youth“-Objekt angeben.", field="youth")
    if youth_id is not None and "youth" in data:
        raise BadInput(
            "Bitte entweder „youth_id“ oder „youth“ angeben, nicht beides.", field="youth"
        )
    return {
        "youth_id": youth_id,
        "new_youth": _new_youth(data["youth"]) if youth_id is None else None,
        "legal_basis": text(data, "legal_basis", max_length=20),
        "start": instant(data, "start"),
        "override_reason": text(data, "override_reason", required=False),
    }


def _admission_response(result: admissions.AdmissionResult):
    db.session.commit()
    return {"stay": stay_json(result.stay), "warnings": [w.to_dict() for w in result.warnings]}, 201


@bp.post("/admissions")
def create_admission():
    """Admit a youth; 201 with the stay and warnings (e.g. over capacity)."""
    data = json_body()
    facility_id = integer(data, "facility_id")
    result = admissions.admit(_actor(), facility_id=facility_id, **_admission_args(data))
    return _admission_response(result)


# --- reservations --------------------------------------------------------------------------------


@bp.get("/reservations")
def list_reservations():
    """Reservations holding a place now."""
    _require(Permission.VIEW_COUNTS)
    return [reservation_json(r) for r in reservations.active_reservations()]


@bp.post("/reservations")
def create_reservation():
    """Hold one free place for an announced admission."""
    data = json_body()
    reservation = reservations.reserve(
        _actor(),
        facility_id=integer(data, "facility_id"),
        expires_at=instant(data, "expires_at"),
        note=text(data, "note", required=False, max_length=200),
    )
    db.session.commit()
    return reservation_json(reservation), 201


@bp.post("/reservations/<int:reservation_id>/admit")
def admit_reservation(reservation_id: int):
    """Turn a reservation into the admission."""
    data = json_body()
    result = reservations.admit_reserved(_actor(), reservation_id, **_admission_args(data))
    return _admission_response(result)


@bp.delete("/reservations/<int:reservation_id>")
def cancel_reservation(reservation_id: int):
    """Cancel a reservation and give its place back."""
    reservation = reservations.cancel(_actor(), reservation_id)
    db.session.commit()
    return reservation_json(reservation)


# --- stays ---------------------------------------------------------------------------------------


@bp.get("/stays")
def list_stays():
    """Stays, optionally of one facility and only open ones (personal data: audited)."""
    _require(Permission.VIEW_PERSONS)
    query = select(Stay).order_by(Stay.start_at)
    facility_id = integer(dict(request.args), "facility_id", required=False)
    if facility_id is not None:
        query = query.where(Stay.facility_id == facility_id)
    open_only = boolean(dict(request.args), "open", required=False)
    if open_only is True:
        query = query.where(Stay.end_at.is_(None))
    elif open_only is False:
        query = query.where(Stay.end_at.is_not(None))
    rows = db.session.scalars(query.limit(5000)).all()
    audit.record(
        _actor(),
        "stays.view",
        object_type="facility",
        object_id=facility_id,
        after={"count": len(rows), "open": open_only},
    )
    db.session.commit()
    return [stay_json(s) for s in rows]


@bp.post("/stays/<int:stay_id>/discharge")
def discharge_stay(stay_id: int):
    """End a stay with a reason and time (default now)."""
    data = json_body()
    stay = admissions.discharge(
        _actor(), stay_id, reason=text(data, "reason", max_length=40), end=instant(data, "time")
    )
    db.session.commit()
    return stay_json(stay)


@bp.post("/stays/<int:stay_id>/move")
def move_stay(stay_id: int):
    """Move to another facility (with co-located siblings when ``with_siblings``)."""
    data = json_body()
    result = admissions.move(
        _actor(),
        stay_id,
        facility_id=integer(data, "facility_id"),
        time=instant(data, "time"),
        with_siblings=bool(boolean(data, "with_siblings", required=False)),
        override_reason=text(data, "override_reason", required=False),
        legal_basis=text(data, "legal_basis", required=False, max_length=20),
    )
    db.session.commit()
    return {
        "stays": [stay_json(s) for s in result.stays],
        "warnings": [w.to_dict() for w in result.warnings],
    }, 201


@bp.patch("/stays/<int:stay_id>")
def correct_stay(stay_id: int):
    """Correct a stay; ``reason`` is required and the change is audited."""
    data = json_body()
    changes: dict[str, Any] = {}
    if "start_at" in data:
        changes["start_at"] = instant(data, "start_at", required=True)
    if "end_at" in data:  # null reopens a stay ended by mistake
        changes["end_at"] = instant(data, "end_at")
    if "end_reason" in data:
        changes["end_reason"] = data["end_reason"]
    if "facility_id" in data:
        changes["facility_id"] = integer(data, "facility_id")
    if "legal_basis" in data:
        changes["legal_basis"] = text(data, "legal_basis", max_length=20)
    stay = admissions.correct_stay(_actor(), stay_id, reason=text(data, "reason"), **changes)
    db.session.commit()
    return stay_json(stay)


# --- OpenAPI ----------------------------------------------------------------------------

_YOUTH_IN = {
    "type": "object",
    "required": ["gender", "uma"],
    "properties": {
        "reference": {
            "type": "string",
            "maxLength": 40,
            "description": "pseudonymous reference; generated when missing",
        },
        "birth_date": {"type": "string", "format": "date"},
        "birth_date_estimated": {
            "type": "string",
            "format": "date",
            "description": "instead of birth_date when estimated",
        },
        "gender": {"enum": ["f", "m", "d"]},
        "uma": {"type": "boolean"},
        "file_number": {"type": "string"},
        "sibling_group": {"type": "string"},
    },
}
SCHEMAS.update(
    {
        "NewYouth": _YOUTH_IN,
        "Warning": {
            "type": "object",
            "properties": {
                "code": {"enum": ["over_capacity", "above_usable", "no_capacity"]},
                "message": {"type": "string"},
                "facility_id": {"type": "integer"},
                "occupied": {"type": "integer"},
                "limit": {"type": "integer"},
            },
        },
        "Stay": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "facility_id": {"type": "integer"},
                "youth": {"type": "object"},
                "legal_basis": {"enum": ["42-1-1", "42-1-2", "42-1-3", "42a", "34", "other"]},
                "start": {"type": "string", "format": "date-time"},
                "end": {"type": ["string", "null"], "format": "date-time"},
                "end_reason": {"type": ["string", "null"]},
                "pinned": {"type": "boolean"},
                "place_held_until": {"type": ["string", "null"], "format": "date-time"},
                "override_reason": {"type": ["string", "null"]},
            },
        },
        "Reservation": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "facility_id": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"},
                "expires_at": {"type": "string", "format": "date-time"},
                "status": {"enum": ["open", "admitted", "cancelled"]},
                "note": {"type": ["string", "null"]},
                "stay_id": {"type": ["integer", "null"]},
            },
        },
        "Facility": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "code": {"type": "string"},
                "name": {"type": "string"},
                "kind": {"type": "string"},
                "age_min": {"type": "integer"},
                "age_max": {"type": "integer"},
                "genders": {"type": "array"},
                "uma": {"enum": ["only", "allowed", "none"]},
            },
        },
    }
)


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ADMISSION_BODY = {
    "type": "object",
    "required": ["legal_basis"],
    "properties": {
        "youth_id": {"type": "integer"},
        "youth": _ref("NewYouth"),
        "legal_basis": {"enum": ["42-1-1", "42-1-2", "42-1-3", "42a", "34", "other"]},
        "start": {
            "type": "string",
            "format": "date-time",
            "description": "default now; without offset: Europe/Berlin",
        },
        "override_reason": {
            "type": "string",
            "description": "required when outside the facility's profile",
        },
    },
}
_ADMITTED = _json(
    {
        "type": "object",
        "properties": {
            "stay": _ref("Stay"),
            "warnings": {"type": "array", "items": _ref("Warning")},
        },
    },
    "admitted",
)


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _path_id(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}]


def _query(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


document(
    "/facilities",
    "get",
    {
        "summary": "Facilities",
        "responses": {"200": _json({"type": "array", "items": _ref("Facility")})},
    },
)
document(
    "/places",
    "get",
    {
        "summary": "Place finder: facilities ranked for a profile, unsuitable ones marked",
        "parameters": [
            _query("age", {"type": "integer", "minimum": 0, "maximum": 27}),
            _query("birth_date", {"type": "string", "format": "date"}),
            _query("gender", {"enum": ["f", "m", "d"]}, True),
            _query("uma", {"type": "boolean"}, True),
            _query("siblings", {"type": "integer", "minimum": 1, "default": 1}),
            _query("lat", {"type": "number"}),
            _query("lon", {"type": "number"}),
        ],
        "responses": {"200": _json({"type": "array", "items": {"type": "object"}})},
    },
)
document(
    "/admissions",
    "post",
    {
        "summary": "Admit a youth (never refused for capacity; warnings say why to act)",
        "requestBody": _body(
            {
                **_ADMISSION_BODY,
                "required": ["facility_id", "legal_basis"],
                "properties": {**_ADMISSION_BODY["properties"], "facility_id": {"type": "integer"}},
            }
        ),
        "responses": {"201": _ADMITTED},
    },
)
document(
    "/reservations",
    "get",
    {
        "summary": "Reservations holding a place now",
        "responses": {"200": _json({"type": "array", "items": _ref("Reservation")})},
    },
)
document(
    "/reservations",
    "post",
    {
        "summary": "Hold one free place (default 2 hours)",
        "requestBody": _body(
            {
                "type": "object",
                "required": ["facility_id"],
                "properties": {
                    "facility_id": {"type": "integer"},
                    "expires_at": {"type": "string", "format": "date-time"},
                    "note": {"type": "string", "maxLength": 200},
                },
            }
        ),
        "responses": {"201": _json(_ref("Reservation"), "reserved")},
    },
)
document(
    "/reservations/{reservation_id}/admit",
    "post",
    {
        "summary": "Turn a reservation into the admission",
        "parameters": _path_id("reservation_id"),
        "requestBody": _body(_ADMISSION_BODY),
        "responses": {"201": _ADMITTED},
    },
)
document(
    "/reservations/{reservation_id}",
    "delete",
    {
        "summary": "Cancel a reservation",
        "parameters": _path_id("reservation_id"),
        "responses": {"200": _json(_ref("Reservation"))},
    },
)
document(
    "/stays",
    "get",
    {
        "summary": "Stays (personal data; the access is logged)",
        "parameters": [
            _query("facility_id", {"type": "integer"}),
            _query("open", {"type": "boolean"}),
        ],
        "responses": {"200": _json({"type": "array", "items": _ref("Stay")})},
    },
)
document(
    "/stays/{stay_id}/discharge",
    "post",
    {
        "summary": "Discharge",
        "parameters": _path_id("stay_id"),
        "requestBody": _body(
            {
                "type": "object",
                "required": ["reason"],
                "properties": {
                    "reason": {
                        "enum": [
                            "return_home",
                            "follow_on_help",
                            "distribution",
                            "age_assessment",
                            "coming_of_age",
                            "absconded",
                            "hospital",
                            "transfer",
                            "other",
                        ]
                    },
                    "time": {"type": "string", "format": "date-time"},
                },
            }
        ),
        "responses": {"200": _json(_ref("Stay"))},
    },
)
document(
    "/stays/{stay_id}/move",
    "post",
    {
        "summary": "Move to another facility in one transaction",
        "parameters": _path_id("stay_id"),
        "requestBody": _body(
            {
                "type": "object",
                "required": ["facility_id"],
                "properties": {
                    "facility_id": {"type": "integer"},
                    "time": {"type": "string", "format": "date-time"},
                    "with_siblings": {"type": "boolean"},
                    "override_reason": {"type": "string"},
                    "legal_basis": {"type": "string"},
                },
            }
        ),
        "responses": {
            "201": _json(
                {
                    "type": "object",
                    "properties": {
                        "stays": {"type": "array", "items": _ref("Stay")},
                        "warnings": {"type": "array", "items": _ref("Warning")},
                    },
                }
            )
        },
    },
)
document(
    "/stays/{stay_id}",
    "patch",
    {
        "summary": "Correct a stay (reason required, audited, nothing deleted)",
        "parameters": _path_id("stay_id"),
        "requestBody": _body(
            {
                "type": "object",
                "required": ["reason"],
                "properties": {
                    "reason": {"type": "string"},
                    "start_at": {"type": "string", "format": "date-time"},
                    "end_at": {"type": ["string", "null"], "format": "date-time"},
                    "end_reason": {"type": ["string", "null"]},
                    "facility_id": {"type": "integer"},
                    "legal_basis": {"type": "string"},
                },
            }
        ),
        "responses": {"200": _json(_ref("Stay"))},
    },
)
