"""Seeded, realistic scenario generator for the benchmark (and for larger tests).

The shape follows the domain: cities with a mix of emergency shelters (Inobhutnahme), clearing
houses, umA group homes, ordinary group homes, emergency foster families and crisis shelters,
each with the age ranges, genders and umA policies such places really have; facilities
cluster around city centres, a fifth of them lie in the countryside; about one in eight
houses is over-occupied (110-160 %), the rest are 60-100 % full. Youths mostly fit the house
they are in (emergency admissions need not), some are sibling groups (mostly placed
together), some are pinned, and some must not go to particular houses nearby.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from solver.model import SCENARIO_FORMAT


@dataclass(frozen=True, slots=True)
class Size:
    name: str
    label: str
    facilities: int
    youths: int
    cities: int
    region_km: float
    max_move_km: float | None = None
    max_moves: int | None = None


SIZES: dict[str, Size] = {
    "city": Size("city", "city (Leipzig)", 15, 160, 1, 0.0),
    "large": Size("large", "large city", 150, 1_800, 1, 0.0, max_move_km=40),
    "land": Size("land", "Land", 1_100, 13_000, 14, 180.0, max_move_km=40),
    "national": Size(
        "national", "national stress", 5_000, 60_000, 70, 700.0, max_move_km=40, max_moves=3_000
    ),
}

# (kind, weight, profile generator) -> capacity, reserve, age range, genders, uma policy
_KINDS: list[tuple[str, float]] = [
    ("inobhutnahme", 0.15),
    ("clearing", 0.05),
    ("uma_group_home", 0.15),
    ("group_home", 0.45),
    ("foster_emergency", 0.15),
    ("emergency_shelter", 0.05),
]

_CENTRE = (51.0, 10.5)  # the middle of Germany


def _facility_profile(kind: str, rng: random.Random) -> dict[str, Any]:
    all_genders = ["f", "m", "d"]
    if kind == "inobhutnahme":
        if rng.random() < 0.4:
            age = (0, 11)
            cap = rng.randint(6, 10)
        else:
            age = (12, 17)
            cap = rng.randint(8, 14)
        genders = ["f", "d"] if rng.random() < 0.15 else all_genders
        return dict(capacity=cap, reserve=1, age=age, genders=genders, uma="allowed")
    if kind == "clearing":
        cap = rng.randint(20, 50)
        return dict(capacity=cap, reserve=2, age=(12, 17), genders=all_genders, uma="allowed")
    if kind == "uma_group_home":
        cap = rng.randint(10, 40)
        genders = ["m"] if rng.random() < 0.6 else all_genders
        age = (14, 17) if rng.random() < 0.7 else (14, 20)
        return dict(capacity=cap, reserve=0, age=age, genders=genders, uma="only")
    if kind == "group_home":
        age = rng.choice([(6, 13), (12, 17), (12, 17), (14, 20), (16, 21)])
        uma = rng.choice(["allowed", "allowed", "none"])
        genders = rng.choice([all_genders, all_genders, all_genders, ["f", "d"], ["m", "d"]])
        return dict(capacity=rng.randint(6, 12), reserve=0, age=age, genders=genders, uma=uma)
    if kind == "foster_emergency":
        age = rng.choice([(0, 3), (0, 6)])
        return dict(capacity=rng.randint(1, 3), reserve=0, age=age, genders=all_genders, uma="none")
    cap = rng.randint(20, 60)
    return dict(capacity=cap, reserve=0, age=(12, 17), genders=all_genders, uma="allowed")


def _offset(origin: tuple[float, float], km_north: float, km_east: float) -> list[float]:
    lat = origin[0] + km_north / 111.2
    lon = origin[1] + km_east / (111.2 * math.cos(math.radians(origin[0])))
    return [round(lat, 5), round(lon, 5)]


def _cities(size: Size, rng: random.Random) -> list[tuple[tuple[float, float], float, float]]:
    """City centres with a weight (share of facilities) and a spread in km."""
    if size.cities == 1:
        spread = 6.0 if size.facilities < 50 else 14.0
        return [((51.34, 12.37), 1.0, spread)]
    cities = []
    for i in range(size.cities):
        north = rng.uniform(-size.region_km / 2, size.region_km / 2)
        east = rng.uniform(-size.region_km / 2, size.region_km / 2) * 0.8
        weight = 1.0 / (i + 1) ** 0.9  # a few big cities, many small towns
        spread = 3.0 + 12.0 * weight**0.5
        cities.append((tuple(_offset(_CENTRE, north, east)), weight, spread))
    return cities  # type: ignore[return-value]


def _youth_for(fac: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    lo, hi = fac["age_min"], fac["age_max"]
    if rng.random() < 0.08:  # emergency admission, need not fit the house
        age = rng.randint(0, 17)
        gender = rng.choice(["f", "m", "m", "d"])
        uma = rng.random() < 0.3
    else:
        age = rng.randint(lo, min(hi, 19))
        gender = rng.choices(fac["genders"], weights=[_gender_weight(g) for g in fac["genders"]])[0]
        if fac["uma"] == "only":
            uma = True
        elif fac["uma"] == "none":
            uma = False
        else:
            uma = age >= 14 and rng.random() < 0.35
    if uma and rng.random() < 0.9 and age >= 12:
        gender = "m" if "m" in fac["genders"] else gender
    return {"age": age, "gender": gender, "uma": uma}


def _gender_weight(g: str) -> float:
    return {"f": 0.45, "m": 0.53, "d": 0.02}[g]


def generate(size: Size | str, seed: int = 1) -> dict[str, Any]:
    """A `placement-scenario/1` document of the given size, reproducible from the seed."""
    if isinstance(size, str):
        size = SIZES[size]
    rng = random.Random(f"{size.name}-{seed}")
    cities = _cities(size, rng)
    weights = [w for _c, w, _s in cities]
    facilities: list[dict[str, Any]] = []
    facility_city: list[int] = []
    for i in range(size.facilities):
        kind = rng.choices([k for k, _ in _KINDS], weights=[w for _, w in _KINDS])[0]
        profile = _facility_profile(kind, rng)
        ci = rng.choices(range(len(cities)), weights=weights)[0]
        centre, _w, spread = cities[ci]
        if size.cities > 1 and rng.random() < 0.2:  # countryside, further out
            spread *= 3
        location = _offset(centre, rng.gauss(0, spread), rng.gauss(0, spread))
        facilities.append(
            {
                "id": f"F{i + 1:05d}",
                "name": f"{kind.replace('_', ' ').title()} {i + 1}",
                "kind": kind,
                "capacity": profile["capacity"],
                "reserve": profile["reserve"],
                "age_min": profile["age"][0],
                "age_max": profile["age"][1],
                "genders": profile["genders"],
                "uma": profile["uma"],
                "location": location,
            }
        )
        facility_city.append(ci)

    # Occupancy: one house in eight is over-occupied, the rest 60-100 % full.
    loads = [
        rng.uniform(1.1, 1.6) if rng.random() < 0.125 else rng.uniform(0.6, 1.0) for _ in facilities
    ]
    raw = [f["capacity"] * load for f, load in zip(facilities, loads, strict=True)]
    scale = size.youths / sum(raw)
    occupancy = [max(0, round(r * scale)) for r in raw]
    diff = size.youths - sum(occupancy)
    while diff:
        i = rng.randrange(len(occupancy))
        if diff > 0:
            occupancy[i] += 1
            diff -= 1
        elif occupancy[i] > 0:
            occupancy[i] -= 1
            diff += 1

    by_city: dict[int, list[int]] = {}
    for i, ci in enumerate(facility_city):
        by_city.setdefault(ci, []).append(i)

    youths: list[dict[str, Any]] = []
    group_no = 0
    for fi, fac in enumerate(facilities):
        left = occupancy[fi]
        while left > 0:
            base = _youth_for(fac, rng)
            size_group = 1
            if left >= 2 and rng.random() < 0.04:
                size_group = min(left, rng.choice([2, 2, 3, 4]))
            group = None
            if size_group > 1:
                group_no += 1
                group = f"G{group_no:05d}"
            for k in range(size_group):
                y = dict(base)
                if k:
                    y["age"] = max(0, min(27, base["age"] + rng.randint(-3, 3)))
                youths.append(
                    {
                        "facility": fac["id"],
                        **y,
                        "group": group,
                        "pinned": rng.random() < 0.05,
                        "excluded": [],
                    }
                )
            left -= size_group
            if group and rng.random() < 0.1:
                # A sibling placed elsewhere in the same city.
                other = facilities[rng.choice(by_city[facility_city[fi]])]
                youths.append(
                    {
                        "facility": other["id"],
                        **_youth_for(other, rng),
                        "group": group,
                        "pinned": False,
                        "excluded": [],
                    }
                )

    # Exclusions: a house near the family, or a conflict with a resident.
    for y in youths:
        if rng.random() < 0.03:
            fi = int(y["facility"][1:]) - 1
            pool = by_city[facility_city[fi]]
            y["excluded"] = sorted(
                {facilities[rng.choice(pool)]["id"] for _ in range(rng.randint(1, 2))}
                - {y["facility"]}
            )

    # Siblings placed elsewhere came on top of the planned occupancy: trim back to the size.
    while len(youths) > size.youths:
        i = rng.randrange(len(youths))
        if youths[i]["group"] is None:
            youths[i] = youths[-1]
            youths.pop()

    rng.shuffle(youths)  # list order is admission order
    for i, y in enumerate(youths):
        y["id"] = f"Y{i + 1:06d}"
    youths = [
        {k: y[k] for k in ("id", "facility", "age", "gender", "uma", "group", "pinned", "excluded")}
        for y in youths
    ]
    return {
        "format": SCENARIO_FORMAT,
        "as_of": "2023-11-03",
        "max_moves": size.max_moves,
        "max_move_km": size.max_move_km,
        "facilities": facilities,
        "youths": youths,
    }
