"""Occupancy forecast and early warning (issue #14).

The contract between the parts (the forecast core implements it; the overview, the facility
chart, the API and the alert rule use it). Change it only together with its users.

- ``ForecastDay``: one local day (Europe/Berlin) of the horizon. The value forecast is the
  occupancy counted like the capacity core does (open stays + reservations + held places)
  at the end of that day (local midnight that ends it). ``expected`` is the mean, ``low`` and
  ``high`` the ends of the 80 % band (mid-distribution quantiles, see ``model.LOW_Q``),
  ``limit`` the usable places on that day (the ceiling in force, else licensed; None for
  groups without one), ``p_over`` the probability that occupancy exceeds ``limit`` at the
  day's end (0.0 when there is no limit), ``p_over_by`` (facilities only) that it has
  exceeded it at the end of this or an earlier forecast day: the early warning's "within N
  days" (``chance``).
- ``Forecast``: a subject (a facility, a facility kind, a profile, or the office), its state
  now, the days, and the inputs that explain it (mean admissions per day over the horizon,
  planned ends and turning-18 ends within it), so that a page or a mail can say why.
- Functions (implemented in ``projection.py``, re-exported here):
  ``project_facilities(facility_ids=None, *, at=None, days=DEFAULT_DAYS) -> dict[int, Forecast]``
  (one batch for many facilities: the overview and the alert rule call it for every facility),
  ``project_facility(facility_id, *, at=None, days=DEFAULT_DAYS) -> Forecast``,
  ``project_group(*, kind=None, profile=None, at=None, days=DEFAULT_DAYS) -> Forecast``
  (kind: a FacilityKind; profile: a key of ``PROFILES``; neither: office-wide),
  ``first_shortage(forecast, *, within_days, probability) -> ForecastDay | None`` (the first
  day whose ``chance`` reaches ``probability``).
"""

from __future__ import annotations

# The contract's values live in ``contract`` (so that the implementation can import them
# without importing this package); the functions are implemented in ``projection``.
from placement.services.forecast.contract import DEFAULT_DAYS as DEFAULT_DAYS
from placement.services.forecast.contract import MAX_DAYS as MAX_DAYS
from placement.services.forecast.contract import Forecast as Forecast
from placement.services.forecast.contract import ForecastDay as ForecastDay
from placement.services.forecast.contract import first_shortage as first_shortage
from placement.services.forecast.profiles import PROFILES as PROFILES
from placement.services.forecast.profiles import accepts as accepts
from placement.services.forecast.projection import project_facilities as project_facilities
from placement.services.forecast.projection import project_facility as project_facility
from placement.services.forecast.projection import project_group as project_group
