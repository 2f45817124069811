"""Where is a place free for this youth? The place finder, and the facility directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select

from placement.extensions import db
from placement.models import Facility
from placement.models.enums import Gender
from placement.services.accounts import permissions
from placement.services.accounts.audit import Actor
from placement.services.accounts.permissions import Permission
from placement.services.errors import BadInput, Code, RuleViolation
from placement.services.intake.rules import (
    MAX_AGE,
    Mismatch,
    age_on,
    berlin_day,
    facility,
    profile_mismatches,
)
from placement.services.occupancy.core import PlaceState
from placement.services.occupancy.queries import place_states_at, state_of
from solver.geo import haversine_km

MAX_SIBLINGS = 12


@dataclass(frozen=True)
class PlaceQuery:
    """A place finder search: the youth's age or date of birth, gender, umA, how many
    siblings go together, and optionally a location (coordinates or a facility nearby)."""

    gender: Gender | str | None
    uma: bool
    age: int | None = None
    birth_date: date | None = None
    siblings: int = 1
    latitude: float | None = None
    longitude: float | None = None
    near_facility_id: int | None = None


@dataclass(frozen=True)
class Search:
    """A checked query: the age it stands for and where to measure distances from."""

    age: int
    gender: Gender
    uma: bool
    siblings: int
    origin: tuple[float, float] | None


@dataclass(frozen=True)
class FacilityInfo:
    """A facility as shown to one actor: the address and location of an anonymous
    placement only for those who may see persons."""

    facility: Facility
    address_visible: bool

    @property
    def address(self) -> dict[str, str | None] | None:
        if not self.address_visible:
            return None
        f = self.facility
        return {"street": f.street, "postal_code": f.postal_code, "city": f.city}

    @property
    def genders(self) -> list[Gender]:
        return sorted(self.facility.gender_set)

    @property
    def location(self) -> list[float] | None:
        f = self.facility
        if not self.address_visible or f.latitude is None or f.longitude is None:
            return None
        return [f.latitude, f.longitude]


def facility_info(actor: Actor, facility: Facility) -> FacilityInfo:
    """What ``actor`` may see of ``facility``'s whereabouts."""
    visible = not facility.anonymous_address or permissions.can(actor.role, Permission.VIEW_PERSONS)
    return FacilityInfo(facility, visible)


@dataclass(frozen=True)
class PlaceOption:
    info: FacilityInfo
    state: PlaceState
    mismatches: list[Mismatch] = field(default_factory=list)
    distance_km: float | None = None
    siblings: int = 1

    @property
    def facility(self) -> Facility:
        return self.info.facility

    @property
    def suitable(self) -> bool:
        return not self.mismatches

    @property
    def has_room(self) -> bool:
        return self.state.free >= self.siblings

    @property
    def rank(self) -> tuple:
        """Suitable with room first, then suitable but full, then unsuitable; nearest and
        emptiest first within each."""
        tier = 0 if self.suitable and self.has_room else 1 if self.suitable else 2
        distance = self.distance_km if self.distance_km is not None else float("inf")
        return (tier, distance, -self.state.free, self.facility.name)


@dataclass(frozen=True)
class PlaceResult:
    search: Search
    options: list[PlaceOption]


def check_query(query: PlaceQuery, instant: datetime) -> Search:
    """The query checked, field by field."""
    if query.birth_date is not None:
        if query.birth_date > berlin_day(instant):
            raise RuleViolation(Code.BIRTH_DATE_IN_FUTURE, "birth_date")
        age = age_on(query.birth_date, instant)
        if age > MAX_AGE:
            raise RuleViolation(Code.TOO_OLD, "birth_date", max=MAX_AGE)
    elif query.age is not None:
        age = query.age
        if not 0 <= age <= MAX_AGE:
            raise RuleViolation(Code.AGE_OUT_OF_RANGE, "age", max=MAX_AGE)
    else:
        raise BadInput(Code.AGE_OR_BIRTH_DATE_REQUIRED, "age")
    if not query.gender:
        raise BadInput(Code.GENDER_REQUIRED, "gender")
    try:
        gender = Gender(query.gender)
    except ValueError as exc:
        allowed = ", ".join(g.value for g in Gender)
        raise RuleViolation(Code.UNKNOWN_VALUE, "gender", allowed=allowed) from exc
    if not 1 <= query.siblings <= MAX_SIBLINGS:
        raise RuleViolation(Code.SIBLINGS_OUT_OF_RANGE, "siblings", max=MAX_SIBLINGS)
    origin = None
    if query.near_facility_id is not None:
        near = facility(query.near_facility_id, "near")
        if near.latitude is not None and near.longitude is not None and not near.anonymous_address:
            origin = (near.latitude, near.longitude)
    elif query.latitude is not None or query.longitude is not None:
        if query.latitude is None or query.longitude is None:
            missing = "lat" if query.latitude is None else "lon"
            raise RuleViolation(Code.LOCATION_INCOMPLETE, missing)
        if not -90 <= query.latitude <= 90:
            raise RuleViolation(Code.LATITUDE_OUT_OF_RANGE, "lat")
        if not -180 <= query.longitude <= 180:
            raise RuleViolation(Code.LONGITUDE_OUT_OF_RANGE, "lon")
        origin = (query.latitude, query.longitude)
    return Search(age, gender, bool(query.uma), query.siblings, origin)


def find_places(actor: Actor, query: PlaceQuery, instant: datetime) -> PlaceResult:
    """Every active facility, ranked for this query. Full and unsuitable facilities stay
    in the list, marked, because an Inobhutnahme is never refused. Five queries in all."""
    permissions.require(actor.role, Permission.ADMIT)
    search = check_query(query, instant)
    facilities = db.session.scalars(select(Facility).where(Facility.active.is_(True))).all()
    states = place_states_at(instant)
    options = []
    for found in facilities:
        distance = None
        if search.origin is not None and found.latitude is not None and found.longitude is not None:
            distance = round(haversine_km(search.origin, (found.latitude, found.longitude)), 1)
        options.append(
            PlaceOption(
                info=facility_info(actor, found),
                state=state_of(states, found.id),
                mismatches=profile_mismatches(found, search.age, search.gender, search.uma),
                distance_km=distance,
                siblings=search.siblings,
            )
        )
    return PlaceResult(search, sorted(options, key=lambda option: option.rank))


def open_facilities(actor: Actor) -> list[Facility]:
    """The facilities that take admissions and moves, by name."""
    permissions.require(actor.role, Permission.ADMIT)
    return db.session.scalars(
        select(Facility).where(Facility.active.is_(True)).order_by(Facility.name)
    ).all()


def reference_points(actor: Actor) -> list[Facility]:
    """Facilities whose location may serve as "near" in a search (not anonymous ones)."""
    permissions.require(actor.role, Permission.ADMIT)
    return db.session.scalars(
        select(Facility)
        .where(Facility.latitude.is_not(None), Facility.anonymous_address.is_(False))
        .order_by(Facility.name)
    ).all()


def facility_directory(actor: Actor) -> list[FacilityInfo]:
    """All facilities with their profile, by name."""
    permissions.require(actor.role, Permission.VIEW_COUNTS)
    facilities = db.session.scalars(select(Facility).order_by(Facility.name)).all()
    return [facility_info(actor, f) for f in facilities]
