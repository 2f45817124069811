"""Where is a place free for this youth? The place finder, and the facility directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import select

from placement.extensions import db
from placement.models import Facility
from placement.models.enums import FacilityKind, Gender, UmaPolicy
from placement.models.facility import genders_of
from placement.services import paging
from placement.services.accounts import permissions
from placement.services.accounts.audit import Actor
from placement.services.accounts.permissions import Permission
from placement.services.errors import BadInput, Code, RuleViolation
from placement.services.intake.rules import (
    ADULT_AGE,
    MAX_AGE,
    MAX_SIBLINGS,
    Mismatch,
    age_on,
    berlin_day,
    facility,
    profile_mismatches,
)
from placement.services.occupancy.capacity import confirmation_stale
from placement.services.occupancy.core import PlaceState
from placement.services.occupancy.queries import place_states_at, state_of
from solver.geo import haversine_km


@dataclass(frozen=True)
class ChildQuery:
    """One child of a sibling group in a search: age or date of birth, and gender."""

    gender: Gender | str | None
    age: int | None = None
    birth_date: date | None = None


@dataclass(frozen=True)
class PlaceQuery:
    """A place finder search: the youth's age or date of birth, gender, umA, how many
    siblings go together, and optionally a location (coordinates or a facility nearby).
    With ``children`` each sibling is checked with their own age and gender (the fields
    are then named ``children[i].age`` ...); otherwise ``siblings`` children of the one
    profile are looked for."""

    gender: Gender | str | None
    uma: bool
    age: int | None = None
    birth_date: date | None = None
    siblings: int = 1
    latitude: float | None = None
    longitude: float | None = None
    near_facility_id: int | None = None
    children: tuple[ChildQuery, ...] = ()


@dataclass(frozen=True)
class Child:
    """A checked child of a search."""

    age: int
    gender: Gender

    @property
    def adult(self) -> bool:
        return self.age >= ADULT_AGE


@dataclass(frozen=True)
class Search:
    """A checked query: the age it stands for and where to measure distances from; with
    siblings, every child's age and gender (the first child's are ``age``/``gender``)."""

    age: int
    gender: Gender
    uma: bool
    siblings: int
    origin: tuple[float, float] | None
    children: tuple[Child, ...] = ()

    @property
    def adults(self) -> list[int]:
        """Positions (0-based) of children of full age: §42 is for minors, so flagged."""
        return [i for i, child in enumerate(self.children) if child.adult]


class FacilityValues(NamedTuple):
    """A facility's columns as the place finder reads them: plain values, not an ORM
    object (loading and reading 150 of those took a quarter of a search)."""

    id: int
    code: str
    name: str
    kind: FacilityKind
    operator: str | None
    planning_area: str | None
    district: str | None
    street: str | None
    postal_code: str | None
    city: str | None
    latitude: float | None
    longitude: float | None
    age_min: int
    age_max: int
    genders: str
    uma_policy: UmaPolicy
    anonymous_address: bool
    active: bool
    confirmed_at: datetime | None

    @property
    def gender_set(self) -> frozenset[Gender]:
        return genders_of(self.genders)


_FACILITY_VALUES = select(*(getattr(Facility, name) for name in FacilityValues._fields))


@dataclass(frozen=True)
class FacilityInfo:
    """A facility as shown to one actor: the address, district and location of an
    anonymous placement only for those assigned to it (User.facilities)."""

    facility: Facility | FacilityValues
    address_visible: bool

    @property
    def address(self) -> dict[str, str | None] | None:
        if not self.address_visible:
            return None
        f = self.facility
        return {"street": f.street, "postal_code": f.postal_code, "city": f.city}

    @property
    def district(self) -> str | None:
        """The district (Ortsteil): None where the address is hidden."""
        return self.facility.district if self.address_visible else None

    @property
    def genders(self) -> list[Gender]:
        return sorted(self.facility.gender_set)

    @property
    def location(self) -> list[float] | None:
        f = self.facility
        if not self.address_visible or f.latitude is None or f.longitude is None:
            return None
        return [f.latitude, f.longitude]

    @property
    def confirmation_stale(self) -> bool:
        """Figures never confirmed by the facility, or not within the configured hours."""
        return confirmation_stale(self.facility.confirmed_at)


def assigned_facility_ids(actor: Actor) -> frozenset[int] | None:
    """The facilities assigned to ``actor``'s account (User.facilities); None for a system
    process, which may see everything. One query."""
    if actor.role is None:
        return None
    return permissions.assigned_facility_ids(actor.user_id)


def locatable(facility: Facility | FacilityValues, assigned: frozenset[int] | None) -> bool:
    """Whether a facility's whereabouts may be shown: always, unless its address is
    protected; then only to those assigned to it. Neither a role (not even an admin's)
    nor VIEW_PERSONS is enough: an anonymous placement (a girls' shelter, an emergency
    foster family) is protected from everyone who does not work with it."""
    if not facility.anonymous_address or assigned is None:
        return True
    return facility.id in assigned


def facility_info(
    actor: Actor,
    facility: Facility | FacilityValues,
    assigned: frozenset[int] | None | bool = False,
) -> FacilityInfo:
    """What ``actor`` may see of ``facility``'s whereabouts (``assigned``: the result of
    ``assigned_facility_ids`` when already looked up)."""
    if assigned is False:
        assigned = assigned_facility_ids(actor) if facility.anonymous_address else None
    return FacilityInfo(facility, locatable(facility, assigned))  # type: ignore[arg-type]


@dataclass(frozen=True)
class PlaceOption:
    info: FacilityInfo
    state: PlaceState
    mismatches: list[Mismatch] = field(default_factory=list)
    distance_km: float | None = None
    siblings: int = 1
    # Per child of the search, why they fall outside the profile (empty lists: they fit).
    child_mismatches: tuple[tuple[Mismatch, ...], ...] = ()

    @property
    def facility(self) -> Facility | FacilityValues:
        return self.info.facility

    @property
    def suitable(self) -> bool:
        """Everyone fits the profile."""
        return not self.mismatches

    @property
    def misfits(self) -> int:
        """How many children fall outside the profile."""
        return sum(1 for found in self.child_mismatches if found)

    @property
    def has_room(self) -> bool:
        return self.state.free >= self.siblings

    @property
    def rank(self) -> tuple:
        """Suitable with room first, then suitable but full, then unsuitable; nearest and
        emptiest first within each. Facilities without a known distance (no coordinates,
        or an anonymous placement: "Entfernung auf Anfrage") follow those with one in
        their group, by free places and name only, so that their position says nothing
        about where they are."""
        tier = 0 if self.suitable and self.has_room else 1 if self.suitable else 2
        unknown = self.distance_km is None
        distance = 0.0 if unknown else self.distance_km
        return (tier, self.misfits, unknown, distance, -self.state.free, self.facility.name)

    @property
    def distance_on_request(self) -> bool:
        """An anonymous placement whose distance the searcher may not learn."""
        return not self.info.address_visible


@dataclass(frozen=True)
class PlaceResult:
    search: Search
    options: list[PlaceOption]


def _check_child(child: ChildQuery, instant: datetime, prefix: str = "") -> Child:
    """One child's age (from the date of birth if given) and gender; fields ``prefix``+name."""
    if child.birth_date is not None:
        if child.birth_date > berlin_day(instant):
            raise RuleViolation(Code.BIRTH_DATE_IN_FUTURE, f"{prefix}birth_date")
        age = age_on(child.birth_date, instant)
        if age > MAX_AGE:
            raise RuleViolation(Code.TOO_OLD, f"{prefix}birth_date", max=MAX_AGE)
    elif child.age is not None:
        age = child.age
        if not 0 <= age <= MAX_AGE:
            raise RuleViolation(Code.AGE_OUT_OF_RANGE, f"{prefix}age", max=MAX_AGE)
    else:
        raise BadInput(Code.AGE_OR_BIRTH_DATE_REQUIRED, f"{prefix}age")
    if not child.gender:
        raise BadInput(Code.GENDER_REQUIRED, f"{prefix}gender")
    try:
        gender = Gender(child.gender)
    except ValueError as exc:
        allowed = ", ".join(g.value for g in Gender)
        raise RuleViolation(Code.UNKNOWN_VALUE, f"{prefix}gender", allowed=allowed) from exc
    return Child(age, gender)


def check_query(query: PlaceQuery, instant: datetime) -> Search:
    """The query checked, field by field (child by child)."""
    if query.children:
        if len(query.children) > MAX_SIBLINGS:
            raise RuleViolation(Code.SIBLINGS_OUT_OF_RANGE, "children", max=MAX_SIBLINGS)
        children = tuple(
            _check_child(child, instant, f"children[{index}].")
            for index, child in enumerate(query.children)
        )
        siblings = len(children)
    else:
        first = _check_child(ChildQuery(query.gender, query.age, query.birth_date), instant)
        if not 1 <= query.siblings <= MAX_SIBLINGS:
            raise RuleViolation(Code.SIBLINGS_OUT_OF_RANGE, "siblings", max=MAX_SIBLINGS)
        siblings = query.siblings
        children = (first,) * siblings
    age, gender = children[0].age, children[0].gender
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
    return Search(age, gender, bool(query.uma), siblings, origin, children)


def find_places(actor: Actor, query: PlaceQuery, instant: datetime) -> PlaceResult:
    """Every active facility, ranked for this query. Full and unsuitable facilities stay
    in the list, marked, because an Inobhutnahme is never refused. Five queries in all."""
    permissions.require(actor.role, Permission.ADMIT)
    search = check_query(query, instant)
    rows = db.session.execute(_FACILITY_VALUES.where(Facility.active.is_(True))).all()
    facilities = [FacilityValues._make(row) for row in rows]
    states = place_states_at(instant)
    assigned = assigned_facility_ids(actor)
    options = []
    for found in facilities:
        info = facility_info(actor, found, assigned)
        distance = None
        # Never measured for a hidden address: a distance, or even the order by distance,
        # from a few search points would give the shelter's location away.
        if (
            search.origin is not None
            and info.location is not None
            and found.latitude is not None
            and found.longitude is not None
        ):
            distance = round(haversine_km(search.origin, (found.latitude, found.longitude)), 1)
        per_child = tuple(
            tuple(profile_mismatches(found, child.age, child.gender, search.uma))
            for child in search.children
        )
        options.append(
            PlaceOption(
                info=info,
                state=state_of(states, found.id),
                mismatches=_unique(m for ms in per_child for m in ms),
                distance_km=distance,
                siblings=search.siblings,
                child_mismatches=per_child,
            )
        )
    return PlaceResult(search, sorted(options, key=lambda option: option.rank))


def find_places_page(
    actor: Actor,
    query: PlaceQuery,
    instant: datetime,
    page: int | None = None,
    page_size: int | None = None,
) -> paging.Page[PlaceOption]:
    """One page of ``find_places``' ranking (the API's finder): without ``page`` and
    ``page_size`` all of it, with either of them that page (default size
    PLACES_PAGE_SIZE, at most PLACES_MAX_PAGE_SIZE). The ranking needs every facility, so
    only the answer is cut: a client that shows the best few need not receive them all."""
    permissions.require(actor.role, Permission.ADMIT)
    cut = page is not None or page_size is not None
    if cut:
        number, size = paging.checked_paging(
            page, page_size, "PLACES_PAGE_SIZE", "PLACES_MAX_PAGE_SIZE"
        )
    options = find_places(actor, query, instant).options
    if not cut:
        return paging.Page(options, 1, max(1, len(options)), len(options))
    return paging.page_of(options, number, size)


def _unique(items) -> list:
    found: list = []
    for item in items:
        if item not in found:
            found.append(item)
    return found


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
    assigned = assigned_facility_ids(actor)
    return [facility_info(actor, f, assigned) for f in facilities]
