"""Creating and editing facilities, closing and reopening them, and "our numbers are
right as of now" (confirmed occupancy). Every change is audited with before and after."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from placement.extensions import db
from placement.models import Facility, Stay, User
from placement.models.enums import FacilityKind, Gender, UmaPolicy
from placement.services.accounts import audit, permissions
from placement.services.accounts.permissions import Permission
from placement.services.errors import Code, Conflict, RuleViolation
from placement.services.occupancy import capacity
from placement.timeutil import now as utc_now

MAX_AGE = 27
CODE_LENGTH = 64
CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
POSTAL_CODE_PATTERN = re.compile(r"^\d{5}$")
TEXT_LIMITS = {
    "name": 200,
    "operator": 200,
    "street": 200,
    "postal_code": 10,
    "city": 100,
    "district": 100,
    "planning_area": 100,
}
# Everything of a facility's profile that can be edited (the code only when creating).
PROFILE_FIELDS = (
    "name",
    "kind",
    "operator",
    "street",
    "postal_code",
    "city",
    "district",
    "planning_area",
    "latitude",
    "longitude",
    "age_min",
    "age_max",
    "genders",
    "uma_policy",
    "anonymous_address",
)


@dataclass(frozen=True)
class ManagedFacility:
    """A facility on the administration list with its confirmation state."""

    facility: Facility
    confirmed_by: str | None
    stale: bool
    open_stays: int


def _text(values: dict[str, Any], name: str) -> None:
    if name not in values:
        return
    raw = values[name]
    if raw is not None and not isinstance(raw, str):
        raise RuleViolation(Code.NOT_TEXT, name)
    text = (raw or "").strip() or None
    if text is not None and len(text) > TEXT_LIMITS[name]:
        raise RuleViolation(Code.TOO_LONG, name, max=TEXT_LIMITS[name])
    values[name] = text


def _enum(values: dict[str, Any], name: str, enum_cls) -> None:
    if name not in values:
        return
    try:
        values[name] = enum_cls(values[name])
    except ValueError as exc:
        allowed = ", ".join(m.value for m in enum_cls)
        raise RuleViolation(Code.UNKNOWN_VALUE, name, allowed=allowed) from exc


def _genders(values: dict[str, Any]) -> None:
    if "genders" not in values:
        return
    raw = values["genders"]
    codes: Iterable[Any] = raw if isinstance(raw, list | tuple | set | frozenset) else (raw or "")
    try:
        genders = {Gender(code) for code in codes}
    except ValueError as exc:
        allowed = ", ".join(g.value for g in Gender)
        raise RuleViolation(Code.UNKNOWN_VALUE, "genders", allowed=allowed) from exc
    if not genders:
        raise RuleViolation(Code.GENDERS_REQUIRED, "genders")
    values["genders"] = "".join(sorted(g.value for g in genders))


def _clean(raw: Mapping[str, Any], facility: Facility | None) -> dict[str, Any]:
    """Checked profile values; keys left out keep the facility's value."""
    values = {key: raw[key] for key in PROFILE_FIELDS if key in raw}
    for name in TEXT_LIMITS:
        _text(values, name)
    if "name" in values and values["name"] is None or facility is None and not values.get("name"):
        raise RuleViolation(Code.MISSING, "name")
    if facility is None and values.get("kind") is None:
        raise RuleViolation(Code.MISSING, "kind")
    _enum(values, "kind", FacilityKind)
    _enum(values, "uma_policy", UmaPolicy)
    _genders(values)
    if values.get("postal_code") and not POSTAL_CODE_PATTERN.match(values["postal_code"]):
        raise RuleViolation(Code.POSTAL_CODE_INVALID, "postal_code")
    for name in ("age_min", "age_max"):
        if name in values:
            value = values[name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise RuleViolation(Code.NOT_INTEGER, name)
            if not 0 <= value <= MAX_AGE:
                raise RuleViolation(Code.AGE_OUT_OF_RANGE, name, max=MAX_AGE)
    age_min = values.get("age_min", facility.age_min if facility else 0)
    age_max = values.get("age_max", facility.age_max if facility else 17)
    if age_min > age_max:
        raise RuleViolation(Code.AGE_RANGE_INVALID, "age_min")
    latitude = values.get("latitude", facility.latitude if facility else None)
    longitude = values.get("longitude", facility.longitude if facility else None)
    if (latitude is None) != (longitude is None):
        missing = "latitude" if latitude is None else "longitude"
        raise RuleViolation(Code.LOCATION_INCOMPLETE, missing)
    if latitude is not None and not -90 <= latitude <= 90:
        raise RuleViolation(Code.LATITUDE_OUT_OF_RANGE, "latitude")
    if longitude is not None and not -180 <= longitude <= 180:
        raise RuleViolation(Code.LONGITUDE_OUT_OF_RANGE, "longitude")
    if "anonymous_address" in values:
        values["anonymous_address"] = bool(values["anonymous_address"])
    return values


def _slug(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.replace("ß", "ss"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:40] or "einrichtung"


def _code_taken(code: str) -> bool:
    return db.session.scalar(select(func.count()).where(Facility.code == code)) > 0


def _new_code(name: str) -> str:
    """A unique, URL-safe code from the name (a random suffix when it is taken)."""
    base = _slug(name)
    code = base
    while _code_taken(code):
        code = f"{base}-{secrets.token_hex(3)}"
    return code


def create_facility(
    actor: audit.Actor,
    values: Mapping[str, Any],
    *,
    code: str | None = None,
    licensed: int | None = None,
    usable: int | None = None,
) -> Facility:
    """Create a facility (administrators only). Without ``code`` one is generated from the
    name; with ``licensed`` its first capacity period starts now."""
    permissions.require(actor.role, Permission.MANAGE)
    clean = _clean(values, None)
    if code is not None and (code := code.strip()):
        if len(code) > CODE_LENGTH or not CODE_PATTERN.match(code):
            raise RuleViolation(Code.FACILITY_CODE_INVALID, "code", max=CODE_LENGTH)
        if _code_taken(code):
            raise Conflict(Code.FACILITY_CODE_TAKEN, "code", value=code)
    else:
        code = _new_code(clean["name"])
    if usable is not None and licensed is None:
        raise RuleViolation(Code.CAPACITY_REQUIRED, "licensed")
    facility = Facility(code=code, active=True, **clean)
    db.session.add(facility)
    db.session.flush()
    audit.record(actor, "facility.create", facility, after=audit.snapshot(facility))
    if licensed is not None:
        capacity.change_capacity(
            actor,
            facility.id,
            capacity.CapacityChange(valid_from=utc_now(), licensed=licensed, usable=usable),
        )
    return facility


def update_facility(actor: audit.Actor, facility_id: int, values: Mapping[str, Any]) -> Facility:
    """Change a facility's profile; keys left out keep their value. Audited with before
    and after (nothing is audited when nothing changed). ``active`` (if given and
    different) closes or reopens the facility."""
    facility = permissions.require_facility(actor, facility_id, Permission.MANAGE_FACILITY)
    clean = _clean(values, facility)
    before = audit.snapshot(facility)
    for key, value in clean.items():
        setattr(facility, key, value)
    after = audit.snapshot(facility)
    if after != before:
        audit.record(actor, "facility.update", facility, before=before, after=after)
    active = values.get("active")
    if active is not None and bool(active) != facility.active:
        if active:
            reopen_facility(actor, facility_id)
        else:
            close_facility(actor, facility_id)
    return facility


def open_stay_count(facility_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(Stay.facility_id == facility_id, Stay.end_at.is_(None))
    )


def close_facility(actor: audit.Actor, facility_id: int, reason: str | None = None) -> int:
    """Close a facility: it takes no admissions and is not suggested any more; its
    history stays. Returns the number of stays still open there (to be moved or ended)."""
    facility = permissions.require_facility(actor, facility_id, Permission.MANAGE_FACILITY)
    if not facility.active:
        raise RuleViolation(Code.FACILITY_ALREADY_CLOSED, "active")
    facility.active = False
    audit.record(
        actor,
        "facility.close",
        facility,
        before={"active": True},
        after={"active": False},
        reason=(reason or "").strip()[:500] or None,
    )
    return open_stay_count(facility_id)


def reopen_facility(actor: audit.Actor, facility_id: int) -> Facility:
    """Reopen a closed facility."""
    facility = permissions.require_facility(actor, facility_id, Permission.MANAGE_FACILITY)
    if facility.active:
        raise RuleViolation(Code.FACILITY_ALREADY_OPEN, "active")
    facility.active = True
    audit.record(
        actor, "facility.reopen", facility, before={"active": False}, after={"active": True}
    )
    return facility


def confirm_occupancy(actor: audit.Actor, facility_id: int) -> Facility:
    """A facility's manager confirms "our numbers are right as of now"."""
    facility = permissions.require_facility(actor, facility_id, Permission.MANAGE_FACILITY)
    if not facility.active:
        raise RuleViolation(Code.FACILITY_INACTIVE, "facility_id")
    before = _confirmation(facility)
    facility.confirmed_at = utc_now()
    facility.confirmed_by_id = actor.user_id
    audit.record(actor, "facility.confirm", facility, before=before, after=_confirmation(facility))
    return facility


def _confirmation(facility: Facility) -> dict[str, Any]:
    confirmed = facility.confirmed_at
    return {
        "confirmed_at": confirmed.isoformat() if confirmed else None,
        "confirmed_by_id": facility.confirmed_by_id,
    }


def facility_for_edit(actor: audit.Actor, facility_id: int) -> Facility:
    """The facility, for those who may manage it."""
    return permissions.require_facility(actor, facility_id, Permission.MANAGE_FACILITY)


def may_manage(actor: audit.Actor, facility_id: int) -> bool:
    """Whether ``actor`` may edit this facility, change its places and confirm them."""
    return permissions.may_act_on_facility(actor, facility_id, Permission.MANAGE_FACILITY)


def managed_facilities(actor: audit.Actor, now: datetime | None = None) -> list[ManagedFacility]:
    """The facilities ``actor`` manages (all, closed ones too, for administrators), by
    name, with who confirmed their figures last and whether that is too long ago."""
    permissions.require(actor.role, Permission.MANAGE_FACILITY)
    query = select(Facility).order_by(Facility.active.desc(), Facility.name)
    if not (actor.role is None or permissions.can(actor.role, Permission.MANAGE)):
        user = db.session.get(User, actor.user_id)
        ids = [f.id for f in user.facilities] if user else []
        query = query.where(Facility.id.in_(ids))
    facilities = db.session.scalars(query).all()
    names = dict(
        db.session.execute(
            select(User.id, User.email).where(
                User.id.in_({f.confirmed_by_id for f in facilities if f.confirmed_by_id})
            )
        ).all()
    )
    counts = dict(
        db.session.execute(
            select(Stay.facility_id, func.count())
            .where(Stay.end_at.is_(None))
            .group_by(Stay.facility_id)
        ).all()
    )
    now = now or utc_now()
    return [
        ManagedFacility(
            facility=f,
            confirmed_by=names.get(f.confirmed_by_id),
            stale=capacity.confirmation_stale(f.confirmed_at, now),
            open_stays=counts.get(f.id, 0),
        )
        for f in facilities
    ]


def confirmed_by(facility: Facility) -> str | None:
    """Who confirmed the facility's figures last (e-mail address), if anybody."""
    if facility.confirmed_by_id is None:
        return None
    user = db.session.get(User, facility.confirmed_by_id)
    return user.email if user else None
