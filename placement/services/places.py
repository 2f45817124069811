"""Where is a place free for this youth? Profile checks and capacity state of facilities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app
from sqlalchemy import select

from placement.extensions import db
from placement.models import CapacityPeriod, Facility
from placement.models.enums import Gender, UmaPolicy
from placement.models.youth import age_in_years
from placement.services.capacity import capacities_at, capacity_at
from placement.services.errors import PlacementError
from placement.services.occupancy import occupancy_at, reserved_at
from placement.timeutil import BERLIN
from solver.geo import haversine_km


def age_on(birth_date: date, instant: datetime) -> int:
    """Whole years of age at ``instant`` (Berlin calendar day)."""
    return age_in_years(birth_date, instant.astimezone(BERLIN).date())


def profile_mismatches(facility: Facility, age: int, gender: Gender | str, uma: bool) -> list[str]:
    """Why a youth of this profile is outside the facility's profile (German, empty if fits)."""
    reasons = []
    if not facility.age_min <= age <= facility.age_max:
        reasons.append(
            f"Alter {age} liegt außerhalb von {facility.age_min}–{facility.age_max} Jahren"
        )
    if str(gender) not in facility.genders:
        reasons.append("Geschlecht wird hier nicht aufgenommen")
    if facility.uma_policy == UmaPolicy.ONLY and not uma:
        reasons.append("nur für unbegleitete Minderjährige (umA)")
    if facility.uma_policy == UmaPolicy.NONE and uma:
        reasons.append("nimmt keine unbegleiteten Minderjährigen (umA) auf")
    return reasons


@dataclass(frozen=True)
class CapacityState:
    """Places and their use at one instant."""

    licensed: int
    usable: int
    limit: int
    occupied: int
    reserved: int
    has_period: bool = True

    @property
    def free(self) -> int:
        return max(0, self.usable - self.occupied - self.reserved)

    @property
    def over_capacity(self) -> bool:
        return self.occupied > self.limit

    @classmethod
    def of(cls, period: CapacityPeriod | None, occupied: int, reserved: int) -> CapacityState:
        if period is None:
            return cls(0, 0, 0, occupied, reserved, has_period=False)
        return cls(period.licensed_places, period.usable_places, period.limit, occupied, reserved)


def capacity_state(facility_id: int, instant: datetime) -> CapacityState:
    """The capacity state of one facility (call under lock_facilities when deciding)."""
    return CapacityState.of(
        capacity_at(facility_id, instant),
        occupancy_at(instant, [facility_id]).get(facility_id, 0),
        reserved_at(instant, [facility_id]).get(facility_id, 0),
    )


@dataclass(frozen=True)
class PlaceQuery:
    age: int
    gender: Gender
    uma: bool
    siblings: int = 1
    latitude: float | None = None
    longitude: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.age <= 27:
            raise PlacementError("Das Alter muss zwischen 0 und 27 Jahren liegen.", field="age")
        if not 1 <= self.siblings <= 12:
            raise PlacementError(
                "Die Zahl gemeinsam unterzubringender Geschwister muss zwischen 1 und 12 liegen.",
                field="siblings",
            )
        if (self.latitude is None) != (self.longitude is None):
            field_name = "lon" if self.longitude is None else "lat"
            raise PlacementError(
                "Für den Standort bitte Breite und Länge angeben.", field=field_name
            )
        if self.latitude is not None and not -90 <= self.latitude <= 90:
            raise PlacementError("Die Breite muss zwischen -90 und 90 liegen.", field="lat")
        if self.longitude is not None and not -180 <= self.longitude <= 180:
            raise PlacementError("Die Länge muss zwischen -180 und 180 liegen.", field="lon")


@dataclass(frozen=True)
class PlaceOption:
    facility: Facility
    state: CapacityState
    mismatches: list[str] = field(default_factory=list)
    distance_km: float | None = None
    siblings: int = 1

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


def find_places(query: PlaceQuery, instant: datetime) -> list[PlaceOption]:
    """Every active facility, ranked for this profile. Full and unsuitable facilities stay
    in the list, marked, because an Inobhutnahme is never refused. Four queries in all."""
    facilities = db.session.scalars(select(Facility).where(Facility.active.is_(True))).all()
    periods = capacities_at(instant)
    occupied = occupancy_at(instant)
    reserved = reserved_at(instant)
    here = (query.latitude, query.longitude) if query.latitude is not None else None
    options = []
    for facility in facilities:
        distance = None
        if here is not None and facility.latitude is not None and facility.longitude is not None:
            distance = round(haversine_km(here, (facility.latitude, facility.longitude)), 1)
        options.append(
            PlaceOption(
                facility=facility,
                state=CapacityState.of(
                    periods.get(facility.id),
                    occupied.get(facility.id, 0),
                    reserved.get(facility.id, 0),
                ),
                mismatches=profile_mismatches(facility, query.age, query.gender, query.uma),
                distance_km=distance,
                siblings=query.siblings,
            )
        )
    return sorted(options, key=lambda option: option.rank)


def absconded_hold_days() -> int:
    return int(current_app.config["ABSCONDED_HOLD_DAYS"])
