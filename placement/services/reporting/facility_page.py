"""The facility page: places at an instant, capacity history, the daily chart, the
over-occupancy episodes and, for those who may see persons, the residents (audited)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from placement.extensions import db
from placement.models import CapacityPeriod, Facility, OverOccupancyEvent, Stay, Youth
from placement.models.enums import Gender, LegalBasis
from placement.services import forecast as forecasting
from placement.services.accounts import audit, permissions
from placement.services.accounts.permissions import Permission, PersonScope
from placement.services.errors import Code, NotFound
from placement.services.intake import deadlines as deadline_rules
from placement.services.intake.places import facility_info
from placement.services.occupancy.core import (
    Capacity,
    DayStat,
    PlaceState,
    Step,
    occupancy_steps,
    period_in_force,
)
from placement.services.occupancy.queries import (
    holds_at,
    last_changed_at,
    occupancy_at,
    reservations_at,
    stays_covering,
)
from placement.services.reporting import forecasts, history
from placement.services.reporting.reports import berlin_midnight, daily_stats
from placement.timeutil import local

CHART_DAYS = 90


@dataclass(frozen=True)
class Resident:
    """A youth placed at the instant shown: pseudonymous reference, never a name."""

    stay_id: int
    reference: str
    age: int
    gender: Gender
    uma: bool
    legal_basis: LegalBasis
    start_at: datetime
    days: int
    deadlines: list[deadline_rules.Deadline]


@dataclass(frozen=True)
class Episode:
    """An over-occupancy episode: from the first recorded event until occupancy was back
    within the limit (``end`` None: still over at the instant shown)."""

    start: datetime
    end: datetime | None
    peak: int
    limit: int
    events: int


@dataclass(frozen=True)
class FacilityPage:
    facility: Facility
    state: PlaceState
    last_changed: datetime | None
    periods: list[CapacityPeriod]
    residents: list[Resident] | None  # None: the actor may not see persons
    episodes: list[Episode]
    chart_days: list[DayStat]
    chart_from: date
    chart_until: date
    address_visible: bool
    # The forecast from the instant shown (None for a closed facility), and the first day
    # it expects the facility over its limit (the overview's early warning).
    forecast: forecasting.Forecast | None = None
    shortage: forecasts.Shortage | None = None
    # The chart continues with the forecast when it ends on the instant's day.
    chart_forecast: ChartForecast | None = None

    @property
    def period_id(self) -> int | None:
        return self.state.capacity.period_id if self.state.capacity else None


@dataclass(frozen=True)
class ChartForecast:
    """A forecast as the chart draws it (``charts.ForecastLine``): from the instant it is
    computed from (its day, the share of that day gone, the occupancy then) on."""

    start_day: date
    start_fraction: float
    start_value: int
    days: list[forecasting.ForecastDay]

    @classmethod
    def of(cls, projection: forecasting.Forecast) -> ChartForecast:
        instant = projection.computed_at
        day = local(instant).date()
        start, end = berlin_midnight(day), berlin_midnight(day + timedelta(days=1))
        fraction = (instant - start) / (end - start)
        # The drawn band encloses the dashed line: a skewed count's mean can lie just
        # beyond its 80 % band (e.g. 168.2 over a band of 168 .. 168); the chart then
        # widens that day's band to the next whole place.
        days = [
            replace(
                d,
                low=min(d.low, math.floor(d.expected + 1e-9)),
                high=max(d.high, math.ceil(d.expected - 1e-9)),
            )
            for d in projection.days
        ]
        return cls(day, min(max(fraction, 0.0), 1.0), projection.occupied_now, days)


def facility_page(
    actor: audit.Actor,
    facility_id: int,
    instant: datetime,
    *,
    chart_from: date | None = None,
    chart_until: date | None = None,
    as_of: bool = False,
    forecast_days: int = forecasting.DEFAULT_DAYS,
) -> FacilityPage:
    """Everything the facility page shows as of ``instant``. Residents only for actors who
    may see persons; that view is written to the audit log. ``as_of``: the instant was
    asked for, so it must lie within the data's range. The forecast covers the
    ``forecast_days`` days from ``instant`` (as of a past instant: from what was known
    then), and continues the chart when the chart ends on the instant's day."""
    permissions.require(actor.role, Permission.VIEW_COUNTS)
    facility = db.session.get(Facility, facility_id)
    if facility is None:
        raise NotFound(Code.UNKNOWN_FACILITY, "facility_id")
    if as_of:
        history.check_instant(instant)
    forecasts.check_days(forecast_days, "forecast_days")
    ids = [facility_id]
    periods = db.session.scalars(
        select(CapacityPeriod)
        .where(CapacityPeriod.facility_id == facility_id)
        .order_by(CapacityPeriod.valid_from)
    ).all()
    capacities = [Capacity.of(p) for p in periods]
    state = PlaceState(
        period_in_force(capacities, instant),
        occupancy_at(instant, ids).get(facility_id, 0),
        reservations_at(instant, ids).get(facility_id, 0),
        holds_at(instant, ids).get(facility_id, 0),
    )
    residents = None
    visible = _resident_scope(actor, facility_id)
    if visible is not None:
        residents = residents_at(facility, instant, visible)
        audit.record(
            actor,
            "facility.residents.view",
            facility,
            after={
                "at": instant.isoformat(),
                "residents": len(residents),
                "stay_ids": [r.stay_id for r in residents],
            },
        )
    chart_until = chart_until or local(instant).date()
    chart_from = chart_from or chart_until - timedelta(days=CHART_DAYS - 1)
    chart = daily_stats(chart_from, chart_until, facility_ids=ids).get(facility_id, [])
    projection = shortage = chart_forecast = None
    if facility.active:
        projection = forecasts.facility_projection(
            facility_id, days=forecast_days, at=instant if as_of else None
        )
        within, probability = forecasts.warning_settings()
        day = forecasting.first_shortage(projection, within_days=within, probability=probability)
        if day is not None:
            in_days = max(0, (day.date - local(instant).date()).days)
            shortage = forecasts.Shortage(day, in_days, state.over_capacity)
        if chart_until == local(instant).date():
            chart_forecast = ChartForecast.of(projection)
    return FacilityPage(
        facility=facility,
        state=state,
        last_changed=last_changed_at(instant, ids).get(facility_id),
        periods=list(periods),
        residents=residents,
        episodes=episodes_until(facility_id, instant, capacities),
        chart_days=chart,
        chart_from=chart_from,
        chart_until=chart_until,
        address_visible=facility_info(actor, facility).address_visible,
        forecast=projection,
        shortage=shortage,
        chart_forecast=chart_forecast,
    )


def _resident_scope(actor: audit.Actor, facility_id: int) -> PersonScope | None:
    """Whose residents of this facility ``actor`` may see: None for none at all (roles
    without persons, managers and admins of other facilities); on-call staff see the open
    stays of every facility (and of an earlier date only those still open or their own)."""
    if not permissions.can(actor.role, Permission.VIEW_PERSONS):
        return None
    visible = permissions.person_scope(actor)
    if visible.everything or visible.open_anywhere or facility_id in (visible.facility_ids or ()):
        return visible
    return None


def residents_at(
    facility: Facility, instant: datetime, visible: PersonScope | None = None
) -> list[Resident]:
    """The youths placed in ``facility`` at ``instant`` with age, days and deadlines;
    those in ``visible`` (None: all)."""
    query = (
        select(Stay, Youth)
        .join(Youth, Youth.id == Stay.youth_id)
        .where(Stay.facility_id == facility.id, stays_covering(instant))
    )
    if visible is not None and not visible.everything:
        query = query.where(visible.stay_condition())
    rows = db.session.execute(query.order_by(Stay.start_at, Youth.reference)).all()
    today = local(instant).date()
    return [
        Resident(
            stay_id=stay.id,
            reference=youth.reference,
            age=youth.age_on(today),
            gender=youth.gender,
            uma=youth.uma,
            legal_basis=stay.legal_basis,
            start_at=stay.start_at,
            days=(instant - stay.start_at).days,
            deadlines=deadline_rules.deadlines_for_stay(
                start_at=stay.start_at,
                legal_basis=stay.legal_basis,
                facility_kind=facility.kind,
                birth_date=youth.birth_date,
                instant=instant,
                subdivision=current_app.config["HOLIDAY_SUBDIVISION"],
                reported=stay.distribution_reported_on is not None,
                distributed=stay.distribution_result is not None,
            ),
        )
        for stay, youth in rows
    ]


def episodes_until(
    facility_id: int, instant: datetime, capacities: list[Capacity]
) -> list[Episode]:
    """Over-occupancy episodes recorded up to ``instant``, newest first.

    Each recorded event (written with the admission or move that pushed the facility over
    its limit) opens an episode unless one is already running; the episode lasts until the
    first instant at which occupancy is back within the limit in force, as reconstructed
    from the facility's occupancy timeline."""
    events = db.session.scalars(
        select(OverOccupancyEvent)
        .where(OverOccupancyEvent.facility_id == facility_id, OverOccupancyEvent.at <= instant)
        .order_by(OverOccupancyEvent.at)
    ).all()
    if not events:
        return []
    spans = db.session.execute(
        select(Stay.start_at, Stay.end_at).where(
            Stay.facility_id == facility_id, Stay.start_at <= instant
        )
    ).all()
    steps = occupancy_steps(spans, capacities, events[0].at, instant)
    episodes: list[Episode] = []
    index = 0
    while index < len(events):
        first = events[index]
        end, peak = _episode_end(steps, first.at, first.occupied)
        count = 0
        while index < len(events) and (end is None or events[index].at < end):
            peak = max(peak, events[index].occupied)
            count += 1
            index += 1
        episodes.append(Episode(first.at, end, peak, first.limit, count))
    return list(reversed(episodes))


def _episode_end(steps: list[Step], start: datetime, occupied: int):
    """The first instant after ``start`` with occupancy within the limit, and the peak up
    to then."""
    peak = occupied
    for step in steps:
        if step.at <= start:
            continue
        if not step.over:
            return step.at, peak
        peak = max(peak, step.occupied)
    return None, peak
