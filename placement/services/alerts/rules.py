"""The alert rules. Each finds what fires now; ``engine`` turns findings into alert state,
episodes and notifications. Thresholds are per facility and office-wide (``AlertSetting``),
with the defaults below."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from placement.extensions import db
from placement.models import Facility, Reservation, ReservationStatus, Stay
from placement.models.alert import Alert, AlertSetting
from placement.models.enums import AlertStatus, FacilityKind, LegalBasis, UmaPolicy
from placement.services import forecast
from placement.services.intake.deadlines import EMERGENCY_KINDS, add_months, eighteenth_birthday
from placement.services.intake.rules import berlin_day
from placement.services.intake.workdays import add_working_days, working_days_between
from placement.services.occupancy.core import PlaceState
from placement.services.occupancy.queries import place_states_at, state_of
from placement.timeutil import now as utc_now

log = logging.getLogger(__name__)

CRITICAL, WARNING, INFO = 3, 2, 1

# The profiles the office watches: one list with the forecast's (copies: settings are JSON
# an administrator may change per office).
DEFAULT_PROFILES = [dict(profile) for profile in forecast.PROFILES.values()]


@dataclass(frozen=True)
class Finding:
    """One subject a rule fires for now, with what its message needs (JSON-safe)."""

    rule: str
    subject: str
    severity: int
    details: dict[str, Any]
    facility_id: int | None = None
    stay_id: int | None = None
    planning_area: str | None = None


@dataclass
class Context:
    instant: datetime
    today: date
    subdivision: str
    settings: dict[tuple[str, int | None], dict[str, Any]]
    facilities: list[Facility]
    states: dict[int, PlaceState]
    _open_stays: list[Stay] | None = None

    @property
    def open_stays(self) -> list[Stay]:
        """Open stays with youth and facility, loaded when a rule first asks."""
        if self._open_stays is None:
            self._open_stays = list(
                db.session.scalars(
                    select(Stay)
                    .where(Stay.end_at.is_(None), Stay.start_at <= self.instant)
                    .options(selectinload(Stay.youth), selectinload(Stay.facility))
                ).all()
            )
        return self._open_stays

    def params(self, rule: Rule, facility_id: int | None = None) -> dict[str, Any]:
        """The rule's defaults, overridden office-wide, then for the facility."""
        merged = dict(rule.defaults)
        merged.update(self.settings.get((rule.code, None), {}))
        if facility_id is not None:
            merged.update(self.settings.get((rule.code, facility_id), {}))
        return merged


@dataclass(frozen=True)
class Rule:
    code: str
    defaults: dict[str, Any]
    find: Callable[[Rule, Context], list[Finding]]
    deadline: bool = False  # deadline alerts also go to the planning area's ASD team
    notify_resolved: bool = True
    # An alert of this rule that stops because the other rule now fires for the same
    # subject is handed over: no resolved notice (the warning came true, it was not lifted).
    superseded_by: str | None = None


def _facility_details(facility: Facility, state: PlaceState) -> dict[str, Any]:
    return {
        "facility": facility.name,
        "occupied": state.occupied,
        "limit": state.limit,
        "usable": state.usable,
        "reserved": state.reserved,
        "over_by": state.over_by,
    }


def _over_occupancy(rule: Rule, ctx: Context) -> list[Finding]:
    found = []
    for facility in ctx.facilities:
        state = state_of(ctx.states, facility.id)
        if ctx.params(rule, facility.id)["enabled"] and state.over_capacity:
            found.append(
                Finding(
                    rule.code,
                    f"facility:{facility.id}",
                    CRITICAL,
                    _facility_details(facility, state),
                    facility.id,
                    planning_area=facility.planning_area,
                )
            )
    return found


def _near_full(rule: Rule, ctx: Context) -> list[Finding]:
    found = []
    for facility in ctx.facilities:
        state = state_of(ctx.states, facility.id)
        params = ctx.params(rule, facility.id)
        if not params["enabled"] or state.over_capacity or state.usable <= 0:
            continue
        taken = (state.occupied + state.reserved) / state.usable
        if taken >= params["share"]:
            details = {**_facility_details(facility, state), "share": round(taken, 3)}
            found.append(
                Finding(
                    rule.code,
                    f"facility:{facility.id}",
                    WARNING,
                    details,
                    facility.id,
                    planning_area=facility.planning_area,
                )
            )
    return found


# Once an early warning fires it holds while the chance stays within this margin below the
# threshold, so that a probability wavering around it does not open episode after episode.
FORECAST_HOLD_MARGIN = 0.1


def _forecast_over(rule: Rule, ctx: Context) -> list[Finding]:
    """Expected to exceed the licensed places (or the ceiling in force) within ``days`` days
    with a probability of at least ``probability``. A facility over its limit already is
    the over-occupancy rule's business, not this one's."""
    watched = {}
    for facility in ctx.facilities:
        params = ctx.params(rule, facility.id)
        if params["enabled"] and not state_of(ctx.states, facility.id).over_capacity:
            watched[facility.id] = (facility, params)
    if not watched:
        return []
    firing = {
        alert.facility_id: alert
        for alert in db.session.scalars(
            select(Alert).where(Alert.rule == rule.code, Alert.status == AlertStatus.FIRING)
        )
    }
    horizon = min(max(int(p["days"]) for _, p in watched.values()), forecast.MAX_DAYS)
    # A forecast starts from what is known: a check of a later instant (a test, a clock
    # ahead) sees the forecast from now.
    start = min(ctx.instant, utc_now())
    try:
        with db.session.begin_nested():  # a failed query must not end the check's transaction
            projected = forecast.project_facilities(list(watched), at=start, days=horizon)
    except Exception:
        # The other rules must run whatever happens here; the early warnings stay as they
        # were (neither resolved nor raised) until the forecast works again.
        log.exception("forecast for the early-warning rule failed")
        return [_held(rule, alert) for alert in firing.values()]
    found = []
    for facility_id, (facility, params) in watched.items():
        projection = projected.get(facility_id)
        if projection is None:
            continue
        probability = float(params["probability"])
        if facility_id in firing:
            probability = max(probability - FORECAST_HOLD_MARGIN, 0.01)
        day = forecast.first_shortage(
            projection, within_days=int(params["days"]), probability=probability
        )
        if day is None:
            continue
        found.append(
            Finding(
                rule.code,
                f"facility:{facility_id}",
                WARNING,
                _forecast_details(facility, projection, day),
                facility_id,
                planning_area=facility.planning_area,
            )
        )
    return found


def _held(rule: Rule, alert: Alert) -> Finding:
    """A firing alert as it stands (its last details)."""
    return Finding(
        rule.code,
        alert.subject,
        alert.severity,
        dict(alert.details),
        alert.facility_id,
        planning_area=alert.planning_area,
    )


def _forecast_details(
    facility: Facility, projection: forecast.Forecast, day: forecast.ForecastDay
) -> dict[str, Any]:
    """What the mail says why: the day, its chance, the admission rate and planned ends."""
    return {
        "facility": facility.name,
        "limit": day.limit,
        "date": day.date.isoformat(),
        "percent": round(day.chance * 100),
        "expected": round(day.expected, 1),
        "occupied": projection.occupied_now,
        "admissions_per_day": round(projection.admissions_per_day, 1),
        "planned_ends": projection.planned_ends,
        "coming_of_age_ends": projection.coming_of_age_ends,
        "horizon": len(projection.days),
        "window_weeks": projection.window_weeks,
    }


def _accepts(facility: Facility, profile: dict[str, Any]) -> bool:
    if facility.age_min > profile["age_max"] or facility.age_max < profile["age_min"]:
        return False
    if not set(profile["genders"]) & set(facility.genders):
        return False
    if profile["uma"] is True and facility.uma_policy == UmaPolicy.NONE:
        return False
    return not (profile["uma"] is False and facility.uma_policy == UmaPolicy.ONLY)


def _no_place_for_profile(rule: Rule, ctx: Context) -> list[Finding]:
    params = ctx.params(rule)
    if not params["enabled"]:
        return []
    found = []
    for profile in params["profiles"]:
        free = sum(state_of(ctx.states, f.id).free for f in ctx.facilities if _accepts(f, profile))
        if free <= params["threshold"]:
            found.append(
                Finding(
                    rule.code,
                    f"profile:{profile['key']}",
                    WARNING if free > 0 else CRITICAL,
                    {"profile": profile["label"], "free": free},
                )
            )
    return found


def _stay_finding(rule: Rule, stay: Stay, severity: int, suffix: str, **details) -> Finding:
    facility = stay.facility
    return Finding(
        rule.code,
        f"stay:{stay.id}:{suffix}",
        severity,
        {"reference": stay.youth.reference, "facility": facility.name, **details},
        facility.id,
        stay.id,
        facility.planning_area,
    )


def _open_42a(ctx: Context) -> list[Stay]:
    return [s for s in ctx.open_stays if s.legal_basis == LegalBasis.P42A and s.youth.uma]


def _report_42a(rule: Rule, ctx: Context) -> list[Finding]:
    """§42a: report for distribution within 7 working days of the start; warn 2 working
    days before and when overdue. A reported stay, or one with a result, is done."""
    found = []
    for stay in _open_42a(ctx):
        params = ctx.params(rule, stay.facility_id)
        if not params["enabled"] or stay.distribution_reported_on or stay.distribution_result:
            continue
        start = berlin_day(stay.start_at)
        due = add_working_days(start, params["working_days"], ctx.subdivision)
        left = working_days_between(ctx.today, due, ctx.subdivision)
        if left <= params["warn_working_days"]:
            severity = CRITICAL if ctx.today > due else WARNING
            found.append(
                _stay_finding(rule, stay, severity, "42a_report", due=due.isoformat(), left=left)
            )
    return found


def _distribution_42a(rule: Rule, ctx: Context) -> list[Finding]:
    """§42a: distribution is excluded one month after the start unless it was done."""
    found = []
    for stay in _open_42a(ctx):
        params = ctx.params(rule, stay.facility_id)
        if not params["enabled"] or stay.distribution_result is not None:
            continue
        excluded_from = add_months(berlin_day(stay.start_at), 1)
        if ctx.today >= excluded_from - timedelta(days=params["warn_days"]):
            severity = CRITICAL if ctx.today >= excluded_from else WARNING
            found.append(
                _stay_finding(
                    rule, stay, severity, "42a_distribution", date=excluded_from.isoformat()
                )
            )
    return found


def _coming_of_age(rule: Rule, ctx: Context) -> list[Finding]:
    found = []
    for stay in ctx.open_stays:
        params = ctx.params(rule, stay.facility_id)
        if not params["enabled"] or stay.facility.age_max >= 18:
            continue
        adult_on = eighteenth_birthday(stay.youth.birth_date)
        if adult_on <= ctx.today + timedelta(days=params["days"]):
            severity = CRITICAL if adult_on <= ctx.today else WARNING
            found.append(_stay_finding(rule, stay, severity, "adult", date=adult_on.isoformat()))
    return found


def _long_stay(rule: Rule, ctx: Context) -> list[Finding]:
    found = []
    for stay in ctx.open_stays:
        params = ctx.params(rule, stay.facility_id)
        if not params["enabled"] or FacilityKind(stay.facility.kind) not in EMERGENCY_KINDS:
            continue
        days = (ctx.instant - stay.start_at).days
        if days > params["days"]:
            found.append(_stay_finding(rule, stay, INFO, "long", days=days))
    return found


def _ceiling_expiring(rule: Rule, ctx: Context) -> list[Finding]:
    found = []
    by_id = {f.id: f for f in ctx.facilities}
    for facility_id, state in ctx.states.items():
        capacity, facility = state.capacity, by_id.get(facility_id)
        if facility is None or capacity is None or capacity.ceiling is None:
            continue
        params = ctx.params(rule, facility_id)
        until = capacity.valid_until
        if params["enabled"] and until and until <= ctx.instant + timedelta(days=params["days"]):
            found.append(
                Finding(
                    rule.code,
                    f"facility:{facility_id}:ceiling:{capacity.period_id}",
                    WARNING,
                    {
                        "facility": facility.name,
                        "ceiling": capacity.ceiling,
                        "licensed": capacity.licensed,
                        "occupied": state.occupied,
                        "until": until.isoformat(),
                    },
                    facility_id,
                    planning_area=facility.planning_area,
                )
            )
    return found


def _reservation_expired(rule: Rule, ctx: Context) -> list[Finding]:
    params = ctx.params(rule)
    if not params["enabled"]:
        return []
    since = ctx.instant - timedelta(hours=params["hours"])
    expired = db.session.scalars(
        select(Reservation)
        .where(
            Reservation.status == ReservationStatus.OPEN,
            Reservation.expires_at > since,
            Reservation.expires_at <= ctx.instant,
        )
        .options(selectinload(Reservation.facility))
    ).all()
    return [
        Finding(
            rule.code,
            f"reservation:{r.id}",
            INFO,
            {"facility": r.facility.name, "until": r.expires_at.isoformat()},
            r.facility_id,
            planning_area=r.facility.planning_area,
        )
        for r in expired
    ]


def _hold_expiring(rule: Rule, ctx: Context) -> list[Finding]:
    params = ctx.params(rule)
    if not params["enabled"]:
        return []
    held = db.session.scalars(
        select(Stay)
        .where(
            Stay.place_held_until > ctx.instant,
            Stay.place_held_until <= ctx.instant + timedelta(hours=params["hours"]),
            Stay.end_at <= ctx.instant,
        )
        .options(selectinload(Stay.youth), selectinload(Stay.facility))
    ).all()
    return [
        _stay_finding(rule, s, INFO, "hold", until=s.place_held_until.isoformat()) for s in held
    ]


RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule("over_occupancy", {"enabled": True}, _over_occupancy),
        Rule("near_full", {"enabled": True, "share": 0.9}, _near_full),
        Rule(
            "forecast_over",
            {"enabled": True, "days": 7, "probability": 0.7},
            _forecast_over,
            superseded_by="over_occupancy",
        ),
        Rule(
            "no_place_for_profile",
            {"enabled": True, "threshold": 0, "profiles": DEFAULT_PROFILES},
            _no_place_for_profile,
        ),
        Rule(
            "report_42a",
            {"enabled": True, "working_days": 7, "warn_working_days": 2},
            _report_42a,
            deadline=True,
        ),
        Rule("distribution_42a", {"enabled": True, "warn_days": 3}, _distribution_42a, True),
        Rule("coming_of_age", {"enabled": True, "days": 30}, _coming_of_age, deadline=True),
        Rule("long_stay", {"enabled": True, "days": 90}, _long_stay, deadline=True),
        Rule("ceiling_expiring", {"enabled": True, "days": 7}, _ceiling_expiring),
        Rule(
            "reservation_expired",
            {"enabled": True, "hours": 24},
            _reservation_expired,
            notify_resolved=False,
        ),
        Rule(
            "hold_expiring", {"enabled": True, "hours": 24}, _hold_expiring, notify_resolved=False
        ),
    )
}


def office_params(code: str) -> dict[str, Any]:
    """A rule's office-wide parameters: its defaults, overridden by the office-wide setting
    (what the overview's early warning shows, so that it cannot drift from the rule's)."""
    merged = dict(RULES[code].defaults)
    setting = db.session.scalar(
        select(AlertSetting).where(AlertSetting.rule == code, AlertSetting.facility_id.is_(None))
    )
    if setting is not None:
        merged.update(setting.params or {})
    return merged


def context(instant: datetime) -> Context:
    """Everything the rules read, in a few queries."""
    facilities = db.session.scalars(select(Facility).where(Facility.active.is_(True))).all()
    settings = {(s.rule, s.facility_id): s.params for s in db.session.scalars(select(AlertSetting))}
    return Context(
        instant=instant,
        today=berlin_day(instant),
        subdivision=current_app.config["HOLIDAY_SUBDIVISION"],
        settings=settings,
        facilities=list(facilities),
        states=place_states_at(instant),
    )


def findings(ctx: Context, rules: list[str] | None = None) -> list[Finding]:
    """What every rule (or the named ones) fires for at the context's instant."""
    found: list[Finding] = []
    for code, rule in RULES.items():
        if rules is None or code in rules:
            found += rule.find(rule, ctx)
    return found
