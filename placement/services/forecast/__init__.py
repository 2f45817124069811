"""Occupancy forecast and early warning (issue #14).

The contract between the parts (the forecast core implements it; the overview, the facility
chart, the API and the alert rule use it). Change it only together with its users.

- ``ForecastDay``: one local day (Europe/Berlin) of the horizon. The value forecast is the
  occupancy counted like the capacity core does (open stays + reservations + held places)
  at the end of that day (local midnight that ends it). ``expected`` is the mean, ``low`` and
  ``high`` the 10 % and 90 % quantiles (an 80 % band), ``limit`` the usable places on that
  day (the ceiling in force, else licensed; None for groups without one), ``p_over`` the
  probability that occupancy exceeds ``limit`` (0.0 when there is no limit).
- ``Forecast``: a subject (a facility, a facility kind, a profile, or the office), its state
  now, the days, and the inputs that explain it (mean admissions per day over the horizon,
  planned ends and turning-18 ends within it), so that a page or a mail can say why.
- Functions (implemented in ``projection.py``, re-exported here):
  ``project_facilities(facility_ids=None, *, at=None, days=DEFAULT_DAYS) -> dict[int, Forecast]``
  (one batch for many facilities: the overview and the alert rule call it for every facility),
  ``project_facility(facility_id, *, at=None, days=DEFAULT_DAYS) -> Forecast``,
  ``project_group(*, kind=None, profile=None, at=None, days=DEFAULT_DAYS) -> Forecast``
  (kind: a FacilityKind; profile: a key of ``PROFILES``; neither: office-wide),
  ``first_shortage(forecast, *, within_days, probability) -> ForecastDay | None``.
"""

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
    p_over: float


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
    """The first day within ``within_days`` whose probability of exceeding the limit is at
    least ``probability``, or None."""
    for day in forecast.days[:within_days]:
        if day.limit is not None and day.p_over >= probability:
            return day
    return None
