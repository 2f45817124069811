"""The contract's values and ``first_shortage`` (see the package docstring). In a module of
their own so that the implementation (``projection``) can import them without importing the
package, which re-exports both (no import circle)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

DEFAULT_DAYS = 14
MAX_DAYS = 28


@dataclass(frozen=True)
class ForecastDay:
    date: date
    expected: float
    low: int
    high: int
    limit: int | None
    p_over: float  # P(over the limit at this day's end)
    # P(over at the end of this day or of an earlier one of the forecast): the early
    # warning's "within N days"; facilities only (None for groups of facilities)
    p_over_by: float | None = None

    @property
    def chance(self) -> float:
        """The chance the early warning weighs: over by this day (facilities), else on it."""
        return self.p_over if self.p_over_by is None else self.p_over_by


@dataclass(frozen=True)
class Forecast:
    subject: str  # "facility" | "kind" | "profile" | "office"
    key: str  # facility id as text, the kind's value, the profile key, or "office"
    label: str  # German label for pages and mails
    computed_at: datetime  # UTC instant the forecast starts from
    occupied_now: int
    limit_now: int | None
    days: list[ForecastDay]
    admissions_per_day: float  # expected admissions per day over the horizon
    planned_ends: int  # stays with a planned end within the horizon
    coming_of_age_ends: int  # youths turning 18 within the horizon where the house ends at 17
    window_weeks: int  # trailing window the admission rate was measured over


def first_shortage(
    forecast: Forecast, *, within_days: int, probability: float
) -> ForecastDay | None:
    """The first day within ``within_days`` by which the facility has been over its limit
    with at least ``probability`` (for groups: the first day over with it), or None."""
    for day in forecast.days[:within_days]:
        if day.limit is not None and day.chance >= probability:
            return day
    return None
