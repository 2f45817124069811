"""Youth profiles the office watches (umA boys 14–17, girls, small children): which
facilities take such a youth. One list for the forecast, the overview and the alert rule
"no place for a profile"."""

from __future__ import annotations

from typing import Any, Protocol

from placement.models.enums import UmaPolicy


class FacilityProfile(Protocol):
    age_min: int
    age_max: int
    genders: str
    uma_policy: UmaPolicy | str


# key -> {"key", "label" (German), "age_min", "age_max", "genders", "uma" (True: umA,
# False: not umA, None: either)}
PROFILES: dict[str, dict[str, Any]] = {
    profile["key"]: profile
    for profile in (
        {"key": "uma_boys_14_17", "label": "umA-Jungen 14–17", "age_min": 14, "age_max": 17,
         "genders": ["m"], "uma": True},
        {"key": "girls_12_17", "label": "Mädchen 12–17", "age_min": 12, "age_max": 17,
         "genders": ["f"], "uma": None},
        {"key": "children_0_6", "label": "Kinder 0–6", "age_min": 0, "age_max": 6,
         "genders": ["f", "m", "d"], "uma": None},
    )
}  # fmt: skip


def accepts(facility: FacilityProfile, profile: dict[str, Any]) -> bool:
    """Whether ``facility`` takes youths of ``profile`` (age range overlaps, a gender in
    common, umA policy compatible)."""
    if facility.age_min > profile["age_max"] or facility.age_max < profile["age_min"]:
        return False
    if not set(profile["genders"]) & set(facility.genders):
        return False
    policy = UmaPolicy(facility.uma_policy)
    if profile["uma"] is True and policy == UmaPolicy.NONE:
        return False
    return not (profile["uma"] is False and policy == UmaPolicy.ONLY)
