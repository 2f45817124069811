"""GET /api/v1/forecast: the occupancy forecast of a facility, a facility kind, a youth
profile or the office for the next days (counts only)."""

from __future__ import annotations

from typing import Any

from placement.api import schemas
from placement.api.blueprint import actor, bp, errors, permission_first, role_needs
from placement.services.accounts.permissions import Permission
from placement.services.errors import BadInput, Code
from placement.services.reporting import forecasts


@bp.get("/forecast")
@permission_first(role_needs(Permission.VIEW_COUNTS))
@bp.arguments(schemas.ForecastQuery, location="query")
@bp.response(200, schemas.ForecastOut)
@errors(400, 403, 404, 422)
def forecast(query: dict[str, Any]):
    """Expected occupancy for each of the next ``days`` days (1 to 28, default 14) with an
    80 % band and the probability of exceeding the limit.

    One of ``facility_id``, ``kind`` or ``profile``; none of them: the whole office.
    ``admissions_per_day``, ``planned_ends`` and ``coming_of_age_ends`` say why."""
    facility_id, kind, profile = (query.get(k) for k in ("facility_id", "kind", "profile"))
    if facility_id is not None and (kind is not None or profile is not None):
        raise BadInput(Code.FORECAST_ONE_SUBJECT, "kind" if kind is not None else "profile")
    if facility_id is not None:
        projection = forecasts.facility_forecast(actor(), facility_id, days=query["days"])
    else:
        projection = forecasts.group_forecast(
            actor(), kind=kind, profile=profile, days=query["days"]
        )
    return {
        "facility_id": facility_id,
        **{name: getattr(projection, name) for name in FIELDS},
    }


FIELDS = (
    "subject",
    "key",
    "label",
    "computed_at",
    "occupied_now",
    "limit_now",
    "admissions_per_day",
    "planned_ends",
    "coming_of_age_ends",
    "window_weeks",
    "days",
)
