"""Data schema of the transfer solver: scenario, plan and status values.

Everything here is a frozen dataclass, so a parsed scenario is safe to share between threads:
nobody can change it underneath a solve that reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

SCENARIO_FORMAT: Final = "placement-scenario/1"
PLAN_FORMAT: Final = "placement-plan/1"

OPTIMAL: Final = "OPTIMAL"
FEASIBLE: Final = "FEASIBLE"
INVALID_INPUT: Final = "INVALID_INPUT"
ERROR: Final = "ERROR"

FACILITY_KINDS: Final = frozenset(
    {
        "inobhutnahme",
        "clearing",
        "uma_group_home",
        "group_home",
        "foster_emergency",
        "emergency_shelter",
    }
)
GENDERS: Final = ("f", "m", "d")
UMA_POLICIES: Final = frozenset({"only", "allowed", "none"})
AGE_MIN: Final = 0
AGE_MAX: Final = 27

LEVELS: Final = ("overflow", "reserve_shortfall", "moves", "distance")


@dataclass(frozen=True, slots=True)
class Facility:
    id: str
    name: str
    kind: str | None
    capacity: int
    reserve: int
    age_min: int
    age_max: int
    genders: frozenset[str]
    uma: str
    location: tuple[float, float]

    def accepts(self, age: int, gender: str, uma: bool) -> bool:
        """True if this facility takes in a youth of this age, gender and umA status."""
        if not self.age_min <= age <= self.age_max or gender not in self.genders:
            return False
        if self.uma == "only":
            return uma
        if self.uma == "none":
            return not uma
        return True

    @property
    def usable(self) -> int:
        """Places that may be filled without touching the emergency reserve."""
        return self.capacity - self.reserve


@dataclass(frozen=True, slots=True)
class Youth:
    id: str
    facility: str
    age: int
    gender: str
    uma: bool
    group: str | None = None
    pinned: bool = False
    excluded: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Scenario:
    facilities: tuple[Facility, ...]
    youths: tuple[Youth, ...]
    max_moves: int | None = None
    max_move_km: float | None = None
    as_of: str | None = None

    def facility_index(self) -> dict[str, Facility]:
        return {f.id: f for f in self.facilities}


@dataclass(frozen=True, slots=True, order=True)
class Objective:
    """The four lexicographic levels; tuple order is the priority order."""

    overflow: int = 0
    reserve_shortfall: int = 0
    moves: int = 0
    distance: int = 0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.overflow, self.reserve_shortfall, self.moves, self.distance)

    def __add__(self, other: Objective) -> Objective:
        return Objective(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def to_dict(self) -> dict[str, int]:
        return dict(zip(LEVELS, self.as_tuple(), strict=True))


@dataclass(frozen=True, slots=True)
class Move:
    youth: str
    from_: str
    to: str

    def to_dict(self) -> dict[str, str]:
        return {"youth": self.youth, "from": self.from_, "to": self.to}


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a youth could not be moved: a stable English code and a German text for staff."""

    code: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "text": self.text}


@dataclass(frozen=True, slots=True)
class Explanation:
    youth: str
    facility: str
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "youth": self.youth,
            "facility": self.facility,
            "reasons": [r.to_dict() for r in self.reasons],
        }


@dataclass(frozen=True, slots=True)
class InputError:
    """One problem in a scenario: which entry, which field, what is wrong."""

    entry: str
    field: str | None
    message: str

    def to_dict(self) -> dict[str, str | None]:
        return {"entry": self.entry, "field": self.field, "message": self.message}


@dataclass(frozen=True, slots=True)
class Plan:
    status: str
    objective: Objective | None = None
    moves: tuple[Move, ...] = ()
    solve_seconds: float = 0.0
    explanations: tuple[Explanation, ...] = ()
    errors: tuple[InputError, ...] = ()
    # Levels proven optimal, in order; all four for OPTIMAL.
    proven_levels: tuple[str, ...] = ()
    stats: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"format": PLAN_FORMAT, "status": self.status}
        if self.status == INVALID_INPUT or self.status == ERROR:
            doc["errors"] = [e.to_dict() for e in self.errors]
            doc["solve_seconds"] = round(self.solve_seconds, 3)
            return doc
        doc["objective"] = (self.objective or Objective()).to_dict()
        doc["moves"] = [m.to_dict() for m in self.moves]
        doc["solve_seconds"] = round(self.solve_seconds, 3)
        doc["proven_levels"] = list(self.proven_levels)
        doc["explanations"] = [e.to_dict() for e in self.explanations]
        if self.stats:
            doc["stats"] = self.stats
        return doc


class InvalidScenarioError(ValueError):
    """Raised by the library API when a scenario does not satisfy the contract."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        first = errors[0] if errors else None
        summary = f"{first.entry}: {first.field}: {first.message}" if first else "invalid"
        super().__init__(f"{len(errors)} error(s) in scenario, first: {summary}")
