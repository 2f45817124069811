"""A large, reproducible synthetic database for load tests and benchmarks.

Same parameters, seed and end date give the same data (``random.Random(seed)``; no other
source of randomness). It only fills an *empty* database (no facilities, youths or stays):
explicit primary keys are used for the bulk inserts, and mixing synthetic with real data
would be a data-protection hazard anyway.

What it builds:
- facilities of every kind in Leipzig's planning areas and districts, sized by kind, with
  capacity histories (changes of licensed/usable places, temporary ceilings for some months);
- youths with chains of one to four stays (moves end with reason "transfer", the next stay
  starts at the same instant); a chain still running at the end date ends in an open stay,
  so each youth has at most one open stay and none of a youth's stays overlap;
- stay lengths scaled so that average occupancy is about 90 % of the licensed places, with
  facilities of uneven popularity: that produces realistic over-occupancy episodes, and an
  over-occupancy event is written for every admission that left a facility over its limit;
- a few open reservations and places held after abscondings;
- arrivals that are not uniform in time (``ArrivalPattern``): a yearly season (more in
  autumn and winter), a weekday pattern (most on Mondays, fewest on Sundays), an autumn
  wave of unaccompanied minors every year (strongest in autumn 2023, as in Leipzig) and a
  few short bursts a year, so that forecasts and their backtest have something to find.

Rows go in with bulk INSERTs in chunks; instead of one audit event per row a single summary
event ("synthetic.seed") records the parameters and counts."""

from __future__ import annotations

import bisect
import csv
import heapq
import io
import math
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from typing import Any

from sqlalchemy import func, insert, select, text

from placement.extensions import db
from placement.models import (
    CapacityPeriod,
    Facility,
    OverOccupancyEvent,
    Reservation,
    Stay,
    Youth,
)
from placement.models.enums import EndReason, FacilityKind, Gender, LegalBasis, UmaPolicy
from placement.services.accounts import audit
from placement.services.errors import Code, RuleViolation
from placement.services.occupancy.core import Capacity, PlaceState, period_in_force
from placement.timeutil import BERLIN

CHUNK = 5000
TARGET_UTILISATION = 0.8

# kind: (weight, min places, max places, [(age_min, age_max)], uma policy)
KINDS: dict[FacilityKind, tuple[float, int, int, list[tuple[int, int]], UmaPolicy]] = {
    FacilityKind.INOBHUTNAHME: (0.15, 8, 24, [(0, 11), (12, 17)], UmaPolicy.ALLOWED),
    FacilityKind.CLEARING: (0.05, 20, 48, [(12, 17)], UmaPolicy.ONLY),
    FacilityKind.UMA_GROUP_HOME: (0.15, 8, 25, [(14, 17)], UmaPolicy.ONLY),
    FacilityKind.GROUP_HOME: (0.35, 6, 12, [(6, 17), (12, 17)], UmaPolicy.ALLOWED),
    FacilityKind.FOSTER_EMERGENCY: (0.20, 1, 3, [(0, 5)], UmaPolicy.NONE),
    FacilityKind.EMERGENCY_SHELTER: (0.10, 15, 40, [(12, 17)], UmaPolicy.ALLOWED),
}
SHORT_NAMES = {
    FacilityKind.INOBHUTNAHME: "Inobhutnahmestelle",
    FacilityKind.CLEARING: "Clearinghaus",
    FacilityKind.UMA_GROUP_HOME: "umA-WG",
    FacilityKind.GROUP_HOME: "Wohngruppe",
    FacilityKind.FOSTER_EMERGENCY: "Bereitschaftspflege",
    FacilityKind.EMERGENCY_SHELTER: "Notunterkunft",
}
END_REASONS = (
    (EndReason.RETURN_HOME, 30),
    (EndReason.FOLLOW_ON_HELP, 35),
    (EndReason.DISTRIBUTION, 8),
    (EndReason.AGE_ASSESSMENT, 3),
    (EndReason.COMING_OF_AGE, 5),
    (EndReason.ABSCONDED, 8),
    (EndReason.HOSPITAL, 3),
    (EndReason.OTHER, 8),
)
STAYS_PER_YOUTH = ((1, 45), (2, 30), (3, 15), (4, 10))
EMERGENCY_KINDS = frozenset(
    {FacilityKind.INOBHUTNAHME, FacilityKind.CLEARING, FacilityKind.EMERGENCY_SHELTER}
)


# Arrivals per weekday (Monday first) relative to the mean: offices and police bring more
# youths in on Mondays and Fridays, fewer at weekends.
WEEKDAY_FACTORS = (1.3, 1.1, 1.05, 1.05, 1.2, 0.7, 0.6)


@dataclass(frozen=True)
class Burst:
    """A stretch of days with ``factor`` times the usual arrivals (``uma``: only umA)."""

    start: date
    days: int
    factor: float
    uma: bool

    def factor_on(self, day: date, uma: bool) -> float:
        offset = (day - self.start).days
        if offset < 0 or offset >= self.days or (self.uma and not uma):
            return 1.0
        # Rises and falls: a triangle that peaks in the middle of the stretch.
        shape = 1 - abs(2 * (offset + 0.5) / self.days - 1)
        return 1 + (self.factor - 1) * shape


@dataclass(frozen=True)
class ArrivalPattern:
    """The arrival intensity relative to the mean: season x weekday x bursts."""

    bursts: tuple[Burst, ...]

    @classmethod
    def make(cls, rng: random.Random, first: date, last: date) -> ArrivalPattern:
        bursts = []
        for year in range(first.year, last.year + 1):
            # The autumn wave of unaccompanied minors; autumn 2023 was the strongest.
            strength = 3.2 if year == 2023 else rng.uniform(1.6, 2.4)
            bursts.append(Burst(date(year, 9, 1) + timedelta(days=rng.randint(-10, 20)),
                                rng.randint(70, 100), strength, True))  # fmt: skip
            for _ in range(3):  # short bursts (a closed house elsewhere, a raid ...)
                start = date(year, 1, 1) + timedelta(days=rng.randint(0, 350))
                bursts.append(Burst(start, rng.randint(7, 21), rng.uniform(1.6, 2.6), False))
        return cls(tuple(bursts))

    def intensity(self, day: date, uma: bool) -> float:
        season = 1 + 0.2 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 300) / 365.25)
        value = season * WEEKDAY_FACTORS[day.weekday()]
        for burst in self.bursts:
            value *= burst.factor_on(day, uma)
        return value

    def sampler(self, first: date, last: date, uma: bool) -> _ArrivalSampler:
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        table = {day: self.intensity(day, uma) for day in days}
        return _ArrivalSampler(table, max(table.values()))


@dataclass(frozen=True)
class _ArrivalSampler:
    table: dict[date, float]
    bound: float

    def arrival(self, rng: random.Random, history_start: datetime, span: float) -> datetime:
        """An arrival instant drawn from the intensity (rejection sampling: a uniform
        instant is kept with probability intensity / bound)."""
        while True:
            moment = history_start + timedelta(seconds=rng.random() * span)
            if rng.random() * self.bound <= self.table[moment.astimezone(BERLIN).date()]:
                return moment


@dataclass(frozen=True)
class SyntheticResult:
    facilities: int
    capacity_periods: int
    youths: int
    stays: int
    open_stays: int
    over_occupancy_events: int
    reservations: int


def _districts() -> list[tuple[str, str]]:
    raw = resources.files("placement.demo").joinpath("leipzig-ortsteile.csv").read_text("utf-8")
    return [(row["ortsteil"], row["planungsraum"]) for row in csv.DictReader(io.StringIO(raw))]


def _berlin_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=BERLIN).astimezone(UTC)


def _is_empty() -> bool:
    models = (Facility, Youth, Stay)
    return not any(db.session.scalar(select(func.count()).select_from(m)) for m in models)


def seed_synthetic(
    actor: audit.Actor,
    *,
    facilities: int,
    youths: int,
    years: float,
    seed: int = 42,
    until: date | None = None,
) -> SyntheticResult:
    """Fill an empty database with synthetic facilities, capacity histories, youths and stays
    ending at 00:00 Berlin of ``until`` (default today). Only flushes."""
    if facilities < 1 or youths < 0 or years <= 0:
        raise RuleViolation(Code.INVALID_SEED_SIZE, "facilities")
    if not _is_empty():
        raise RuleViolation(Code.DATABASE_NOT_EMPTY, "database")
    rng = random.Random(seed)
    end_day = until or datetime.now(BERLIN).date()
    # The history ends at 00:00 (Berlin) of the end date, so it never reaches the future.
    horizon = _berlin_midnight(end_day)
    history_start = horizon - timedelta(days=round(years * 365.25))
    origin = history_start - timedelta(days=120)  # capacity exists before the first stay

    facility_rows, period_rows, limits = _facilities(rng, facilities, origin, horizon)
    places = sum(row["_licensed"] for row in facility_rows)
    expected_stays = youths * sum(n * w for n, w in STAYS_PER_YOUTH) / 100
    span_days = (horizon - history_start).total_seconds() / 86400
    mean_days = max(1.0, TARGET_UTILISATION * places * span_days / max(expected_stays, 1) * 0.97)
    youth_rows, stay_rows = _youths_and_stays(
        rng, youths, facility_rows, limits, history_start, horizon, mean_days
    )
    event_rows = _over_occupancy_events(stay_rows, limits)
    # An own stream: changes to the history above do not move the reservations.
    reservation_rows = _reservations(
        random.Random(f"{seed}-reservations"), facility_rows, horizon, stay_rows, limits
    )

    for row in facility_rows:
        del row["_licensed"], row["_weight"]
    _bulk(Facility, facility_rows)
    _bulk(CapacityPeriod, period_rows)
    _bulk(Youth, youth_rows)
    _bulk(Stay, stay_rows)
    _bulk(OverOccupancyEvent, event_rows)
    _bulk(Reservation, reservation_rows)
    _advance_sequences()
    result = SyntheticResult(
        facilities=len(facility_rows),
        capacity_periods=len(period_rows),
        youths=len(youth_rows),
        stays=len(stay_rows),
        open_stays=sum(1 for row in stay_rows if row["end_at"] is None),
        over_occupancy_events=len(event_rows),
        reservations=len(reservation_rows),
    )
    audit.record(
        actor,
        "synthetic.seed",
        object_type="database",
        after={
            "facilities": facilities,
            "youths": youths,
            "years": years,
            "seed": seed,
            "until": end_day.isoformat(),
            **result.__dict__,
        },
    )
    db.session.flush()
    return result


def _bulk(model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(model), rows[start : start + CHUNK])


def _advance_sequences() -> None:
    """PostgreSQL: explicit ids do not move the serial sequences; move them past the rows."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in ("facility", "youth", "stay"):
        db.session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 1))"
            )
        )


def _facilities(rng: random.Random, count: int, origin: datetime, horizon: datetime):
    districts = _districts()
    kinds = list(KINDS)
    weights = [KINDS[k][0] for k in kinds]
    facility_rows: list[dict[str, Any]] = []
    period_rows: list[dict[str, Any]] = []
    # Per facility: sorted (valid_from, valid_until, limit) for the over-occupancy sweep.
    limits: dict[int, list[Capacity]] = {}
    span = (horizon - origin).total_seconds()
    for number in range(1, count + 1):
        kind = rng.choices(kinds, weights)[0]
        _w, low, high, ages, uma_policy = KINDS[kind]
        age_min, age_max = rng.choice(ages)
        genders = (
            "f"
            if kind in (FacilityKind.GROUP_HOME, FacilityKind.INOBHUTNAHME)
            and (rng.random() < 0.15)
            else "dfm"
        )
        district, area = rng.choice(districts)
        licensed = rng.randint(low, high)
        facility_rows.append(
            {
                "id": number,
                "code": f"syn-{number:04d}",
                "name": f"{SHORT_NAMES[kind]} {district} {number}",
                "kind": kind,
                "operator": rng.choice(["Stadt Leipzig", "Freier Träger A", "Freier Träger B"]),
                "planning_area": area,
                "district": district,
                "street": f"Beispielstraße {number}",
                "postal_code": f"04{rng.randint(100, 359)}",
                "city": "Leipzig",
                "latitude": round(51.34 + rng.uniform(-0.06, 0.06), 5),
                "longitude": round(12.37 + rng.uniform(-0.1, 0.1), 5),
                "age_min": age_min,
                "age_max": age_max,
                "genders": genders,
                "uma_policy": uma_policy,
                "anonymous_address": genders == "f" or rng.random() < 0.05,
                "active": True,
                "created_at": origin,
                "updated_at": origin,
                "_licensed": licensed,
                # Uneven popularity makes some houses run over while others have room.
                "_weight": licensed * rng.lognormvariate(0, 0.35),
            }
        )
        # Capacity history: up to three changes, sometimes a temporary ceiling for months.
        changes = sorted(
            origin + timedelta(seconds=rng.uniform(0.05, 0.95) * span)
            for _ in range(rng.choices([0, 1, 2, 3], [35, 35, 20, 10])[0])
        )
        changes = [c.replace(minute=0, second=0, microsecond=0) for c in changes]
        bounds = [origin, *changes, None]
        current = licensed
        facility_limits = []
        for index in range(len(bounds) - 1):
            valid_from, valid_until = bounds[index], bounds[index + 1]
            if valid_until is not None and valid_until <= valid_from:
                continue
            if index:
                current = max(1, current + rng.randint(-2, 3))
            ceiling = None
            if current >= 4 and rng.random() < 0.25 and valid_until is not None:
                ceiling = current + max(1, round(current * rng.uniform(0.2, 0.6)))
            usable = current - (rng.randint(1, 2) if rng.random() < 0.2 and current > 2 else 0)
            if ceiling is not None and rng.random() < 0.5:
                usable = ceiling
            period_rows.append(
                {
                    "facility_id": number,
                    "valid_from": valid_from,
                    "valid_until": valid_until,
                    "licensed_places": current,
                    "usable_places": usable,
                    "temporary_ceiling": ceiling,
                    "reserved_places": 1 if usable >= 10 and rng.random() < 0.3 else 0,
                    "note": "befristete Überbelegung (synthetisch)" if ceiling else None,
                }
            )
            facility_limits.append(Capacity(valid_from, valid_until, current, usable, ceiling, 0))
        limits[number] = facility_limits
    return facility_rows, period_rows, limits


def _eligible_index(facility_rows: list[dict[str, Any]]):
    """Eligible facilities per (age, gender, uma), with cumulative popularity weights."""
    eligible: dict[tuple[int, str, bool], tuple[list[int], list[float]]] = {}
    for age in range(18):
        for gender in ("f", "m", "d"):
            for uma in (False, True):
                ids, cumulative, total = [], [], 0.0
                for row in facility_rows:
                    policy = row["uma_policy"]
                    fits_age = row["age_min"] <= age <= row["age_max"]
                    if not fits_age or gender not in row["genders"]:
                        continue
                    if (policy == UmaPolicy.ONLY and not uma) or (policy == UmaPolicy.NONE and uma):
                        continue
                    total += row["_weight"]
                    ids.append(row["id"])
                    cumulative.append(total)
                eligible[(age, gender, uma)] = (ids, cumulative)
    return eligible


def _youths_and_stays(
    rng: random.Random,
    count: int,
    facility_rows: list[dict[str, Any]],
    limits: dict[int, list[Capacity]],
    history_start: datetime,
    horizon: datetime,
    mean_days: float,
):
    """Youths and their stays, simulated in time order so that placements prefer a facility
    with room, as on-call staff would: up to three popularity-weighted picks, then any
    fitting facility with room; only when none has room is an emergency house overfilled
    (Inobhutnahme has no capacity exception), or else the first pick."""
    eligible = _eligible_index(facility_rows)
    all_ids = [row["id"] for row in facility_rows]
    all_cumulative = list(_accumulate(row["_weight"] for row in facility_rows))
    kind_of = {row["id"]: row["kind"] for row in facility_rows}
    weight_of = {row["id"]: row["_weight"] for row in facility_rows}
    age_max_of = {row["id"]: row["age_max"] for row in facility_rows}
    age_min_of = {row["id"]: row["age_min"] for row in facility_rows}
    emergency_ids = [row["id"] for row in facility_rows if row["kind"] in EMERGENCY_KINDS]
    starts_of = {fid: [p.valid_from for p in periods] for fid, periods in limits.items()}
    reasons, reason_weights = zip(*END_REASONS, strict=True)
    chain_lengths, chain_weights = zip(*STAYS_PER_YOUTH, strict=True)
    span = (horizon - history_start).total_seconds()
    first_day = history_start.astimezone(BERLIN).date()
    last_day = horizon.astimezone(BERLIN).date()
    pattern = ArrivalPattern.make(rng, first_day, last_day)
    samplers = {uma: pattern.sampler(first_day, last_day, uma) for uma in (False, True)}
    sigma = 0.9
    mu = math.log(mean_days) - sigma * sigma / 2  # lognormal with the wanted mean

    def limit_at(facility_id: int, moment: datetime) -> int:
        index = bisect.bisect_right(starts_of[facility_id], moment) - 1
        return limits[facility_id][index].limit if index >= 0 else 0

    youth_rows: list[dict[str, Any]] = []
    pending: list[tuple[datetime, int, int, int]] = []  # (start, youth, position, chain)
    for number in range(1, count + 1):
        age = rng.choices((rng.randint(0, 5), rng.randint(6, 11), rng.randint(12, 13),
                           rng.randint(14, 17)), (15, 15, 15, 55))[0]  # fmt: skip
        uma = age >= 14 and rng.random() < 0.45
        arrival = samplers[uma].arrival(rng, history_start, span)
        arrival = arrival.replace(second=0, microsecond=0)
        gender = (
            ("m" if rng.random() < 0.9 else "f")
            if uma
            else rng.choices(("f", "m", "d"), (49, 49, 2))[0]
        )
        birth = arrival.date() - timedelta(days=round(age * 365.25) + rng.randint(0, 364))
        youth_rows.append(
            {
                "id": number,
                "reference": f"SYN-{number:06d}",
                "birth_date": birth,
                "birth_date_estimated": uma and rng.random() < 0.5,
                "gender": Gender(gender),
                "uma": uma,
                "distribution_excluded": False,
                "created_at": arrival,
                "updated_at": arrival,
            }
        )
        pending.append((arrival, number, 0, rng.choices(chain_lengths, chain_weights)[0]))
    heapq.heapify(pending)

    occupied: dict[int, int] = defaultdict(int)
    releases: list[tuple[datetime, int]] = []  # (end, facility)
    stay_rows: list[dict[str, Any]] = []
    while pending:
        start, number, position, chain = heapq.heappop(pending)
        if start >= horizon:
            continue
        while releases and releases[0][0] <= start:
            occupied[heapq.heappop(releases)[1]] -= 1
        youth = youth_rows[number - 1]
        gender, uma = youth["gender"].value, youth["uma"]
        age_now = min(17, max(0, (start.date() - youth["birth_date"]).days // 365))
        ids, cumulative = eligible.get((age_now, gender, uma)) or ([], [])
        if not ids:
            ids, cumulative = all_ids, all_cumulative
        picks = rng.choices(ids, cum_weights=cumulative, k=3)
        facility_id = next((f for f in picks if occupied[f] < limit_at(f, start)), None)
        if facility_id is None:
            with_room = [f for f in ids if occupied[f] < limit_at(f, start)]
            emergency = [f for f in picks if kind_of[f] in EMERGENCY_KINDS]
            # Only a crunch (no fitting house has room, as in a burst) overfills a house:
            # the office's overflow house for such a youth, the largest-share one of those
            # that must take everyone (Inobhutnahme, Clearing, shelter). Over-occupancy
            # builds up there with the pressure instead of being +1 noise everywhere.
            # A group home or a foster family never takes one over its licence: when no
            # emergency house fits the youth's profile, one that takes the age does.
            if with_room:
                facility_id = rng.choice(with_room)
            else:
                emergency = [f for f in ids if kind_of[f] in EMERGENCY_KINDS] or [
                    f for f in emergency_ids if age_min_of[f] <= age_now <= age_max_of[f]
                ]
                facility_id = max(emergency, key=weight_of.__getitem__) if emergency else picks[0]
        adult_at = _berlin_midnight(_eighteenth_birthday(youth["birth_date"]))
        if start >= adult_at:
            continue  # of age by now: no longer placed in youth care
        length = timedelta(days=min(rng.lognormvariate(mu, sigma), 3 * 365))
        end = (start + max(length, timedelta(hours=2))).replace(second=0, microsecond=0)
        # Houses that take youths up to 17 end the stay on the 18th birthday.
        comes_of_age = age_max_of[facility_id] <= 17 and end > adult_at
        if comes_of_age:
            end = adult_at
        if uma and position == 0:
            basis = LegalBasis.P42A
        elif kind_of[facility_id] in (FacilityKind.GROUP_HOME, FacilityKind.UMA_GROUP_HOME):
            basis = LegalBasis.P34
        else:
            basis = rng.choice((LegalBasis.P42_1_1, LegalBasis.P42_1_2, LegalBasis.P42_1_2))
        row = {
            "id": len(stay_rows) + 1,
            "youth_id": number,
            "facility_id": facility_id,
            "legal_basis": basis,
            "start_at": start,
            "end_at": None,
            "end_reason": None,
            "pinned": False,
            "place_held_until": None,
            "created_at": start,
            "updated_at": start,
        }
        stay_rows.append(row)
        occupied[facility_id] += 1
        if end >= horizon:
            continue  # still running: the youth's chain ends in an open stay
        row["end_at"] = row["updated_at"] = end
        if comes_of_age:
            row["end_reason"] = EndReason.COMING_OF_AGE
            heapq.heappush(releases, (end, facility_id))
            continue
        if position + 1 < chain and rng.random() < 0.6:
            row["end_reason"] = EndReason.TRANSFER
            heapq.heappush(releases, (end, facility_id))
            heapq.heappush(pending, (end, number, position + 1, chain))
            continue
        reason = rng.choices(reasons, reason_weights)[0]
        row["end_reason"] = reason
        if reason == EndReason.ABSCONDED:
            row["place_held_until"] = end + timedelta(days=rng.randint(1, 3))
        # A held place counts as occupied (as the capacity core counts it): it is free
        # for the next youth only when the hold ends.
        heapq.heappush(releases, (row["place_held_until"] or end, facility_id))
        if position + 1 < chain:
            gap = timedelta(days=rng.uniform(14, 400))
            heapq.heappush(
                pending, ((end + gap).replace(microsecond=0), number, position + 1, chain)
            )
    return youth_rows, stay_rows


def _eighteenth_birthday(birth: date) -> date:
    try:
        return birth.replace(year=birth.year + 18)
    except ValueError:  # born on 29 February
        return date(birth.year + 18, 3, 1)


def _accumulate(values):
    total = 0.0
    for value in values:
        total += value
        yield total


def _over_occupancy_events(stay_rows, limits) -> list[dict[str, Any]]:
    """An event for every admission after which a facility held more than its limit, as the
    admission service records them."""
    changes: dict[int, list[tuple[datetime, int, int | None]]] = defaultdict(list)
    for row in stay_rows:
        # At one instant ends (-1, sorted first) apply before starts: [start, end) half-open.
        changes[row["facility_id"]].append((row["start_at"], 1, row["id"]))
        if row["end_at"] is not None:
            changes[row["facility_id"]].append((row["end_at"], -1, None))
    events = []
    for facility_id, facility_changes in changes.items():
        facility_changes.sort(key=lambda c: (c[0], c[1]))
        periods = limits[facility_id]
        occupied = 0
        for moment, delta, stay_id in facility_changes:
            occupied += delta
            if delta < 0:
                continue
            state = PlaceState(period_in_force(periods, moment), occupied)
            if state.over_capacity:
                events.append(
                    {
                        "facility_id": facility_id,
                        "stay_id": stay_id,
                        "at": moment,
                        "occupied": occupied,
                        "limit": state.limit,
                        "created_at": moment,
                    }
                )
    return events


def _reservations(
    rng: random.Random, facility_rows, horizon: datetime, stay_rows, limits
) -> list[dict[str, Any]]:
    """A few places held for announced arrivals, made in the last hours of the history, in
    houses with a free place (the capacity core refuses one in a full house)."""
    taken: dict[int, int] = defaultdict(int)
    for stay in stay_rows:
        ends = stay["place_held_until"] or stay["end_at"]
        if stay["start_at"] < horizon and (ends is None or ends > horizon):
            taken[stay["facility_id"]] += 1
    rows = []
    for row in facility_rows:
        periods = [p for p in limits[row["id"]] if p.valid_from <= horizon]
        limit = periods[-1].limit if periods else 0
        if rng.random() < 0.04 and taken[row["id"]] < limit:
            created = horizon - timedelta(hours=rng.randint(1, 20))
            rows.append(
                {
                    "facility_id": row["id"],
                    "created_at": created,
                    "expires_at": horizon + timedelta(hours=rng.randint(30, 72)),
                    "note": "synthetisch",
                }
            )
    return rows
