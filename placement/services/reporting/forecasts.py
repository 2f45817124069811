"""Occupancy forecasts as the pages and the API show them: who may see them, which
horizons may be asked for, the early warning of the overview, and a cache.

A forecast is counts, not persons: whoever may see a facility's counts today (the board,
the facility page) may see its forecast. The numbers come from the forecast core
(``services.forecast``), never from a second count.

The cache: a projection reads the history of the whole office (rates are split from the
facility kind's and the office's), which costs far more than the board itself. Its inputs
change only with a write (admission, discharge, move, correction, planned end,
reservation, places), and every write is audited, so a forecast "from now" is kept until
the next such write, for at most FORECAST_CACHE_SECONDS (the clock moves on, reservations
expire) and never past midnight. Forecasts as of a past instant are kept the same way. One
cache per application (each worker process has its own). The board's forecast of every
facility (the overview's "Engpass" column) is kept through writes for
FORECAST_BOARD_FRESH_SECONDS (60): on a busy night every admission would otherwise make the
next overview recompute the whole office's forecast; a facility's own forecast (its page,
the API) follows every write."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from flask import current_app
from sqlalchemy import select

from placement.extensions import db
from placement.models import AuditEvent, Facility
from placement.models.enums import FacilityKind
from placement.services import forecast
from placement.services.accounts import permissions
from placement.services.accounts.audit import Actor
from placement.services.accounts.permissions import Permission
from placement.services.alerts import rules
from placement.services.errors import BadInput, Code, NotFound, RuleViolation
from placement.timeutil import local
from placement.timeutil import now as utc_now

T = TypeVar("T")

# Audited objects whose writes change a forecast's inputs (views are left out).
FORECAST_INPUTS = (
    "stay",
    "reservation",
    "capacity_period",
    "facility",
    "youth",
    "plan",
    "database",
)
CACHE_ENTRIES = 64


class ForecastCache:
    """Forecasts by key, each with the data version and the time it was computed."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[int | None, float, object]] = OrderedDict()
        self._entries = entries

    def get(
        self, key: Hashable, version: int | None, max_age: float, fresh: float = 0.0
    ) -> object | None:
        """The value stored for ``key`` if it is of ``version`` (or, whatever the version,
        younger than ``fresh`` seconds) and younger than ``max_age`` seconds."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            stored_version, stored_at, value = item
            age = time.monotonic() - stored_at
            if (stored_version != version and age >= fresh) or age > max_age:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, version: int | None, value: object) -> None:
        with self._lock:
            self._items[key] = (version, time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self._entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def data_version() -> int | None:
    """The newest audited write of a forecast input (None: none yet). Read backwards from
    the newest audit entry, so it costs a lookup, not a scan of the stays."""
    return db.session.scalar(
        select(AuditEvent.id)
        .where(AuditEvent.object_type.in_(FORECAST_INPUTS), ~AuditEvent.action.like("%.view"))
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )


def cache() -> ForecastCache:
    """The application's forecast cache."""
    return current_app.extensions.setdefault("platzplan_forecast_cache", ForecastCache())


def cached(key: tuple, at: datetime | None, compute: Callable[[], T], *, fresh: float = 0) -> T:
    """``compute()`` once per data version for ``key``: "from now" (``at`` None) for at
    most FORECAST_CACHE_SECONDS and within the same local day, as of ``at`` until a write;
    whatever was written, for ``fresh`` seconds."""
    max_age = float(current_app.config["FORECAST_CACHE_SECONDS"])
    if max_age <= 0:
        return compute()
    when = ("now", local(utc_now()).date()) if at is None else ("at", at)
    full_key = (*key, when)
    version = data_version()
    found = cache().get(full_key, version, max_age if at is None else float("inf"), fresh)
    if found is not None:
        return found  # type: ignore[return-value]
    value = compute()
    cache().put(full_key, version, value)
    return value


def check_days(days: int, field: str = "days") -> int:
    """A horizon of 1 to ``forecast.MAX_DAYS`` days; anything else is refused at ``field``."""
    if not 1 <= days <= forecast.MAX_DAYS:
        raise BadInput(Code.OUT_OF_RANGE, field)
    return days


def facility_projection(
    facility_id: int, *, days: int = forecast.DEFAULT_DAYS, at: datetime | None = None
) -> forecast.Forecast:
    """The (cached) forecast of one facility from ``at`` (None: now), for callers that
    have checked the permission and the facility."""
    return cached(
        ("facility", facility_id, days),
        at,
        lambda: forecast.project_facility(facility_id, at=at, days=days),
    )


def facility_forecast(
    actor: Actor,
    facility_id: int,
    *,
    days: int = forecast.DEFAULT_DAYS,
    at: datetime | None = None,
) -> forecast.Forecast:
    """The forecast of one facility for the next ``days`` days (its counts: VIEW_COUNTS);
    an unknown facility is NotFound at ``facility_id``."""
    permissions.require(actor.role, Permission.VIEW_COUNTS)
    if db.session.get(Facility, facility_id) is None:
        raise NotFound(Code.UNKNOWN_FACILITY, "facility_id")
    check_days(days)
    return facility_projection(facility_id, days=days, at=at)


def group_forecast(
    actor: Actor,
    *,
    kind: FacilityKind | None = None,
    profile: str | None = None,
    days: int = forecast.DEFAULT_DAYS,
    at: datetime | None = None,
) -> forecast.Forecast:
    """The forecast of a facility kind, of a youth profile (a key of ``forecast.PROFILES``)
    or, with neither, of the whole office."""
    permissions.require(actor.role, Permission.VIEW_COUNTS)
    if kind is not None and profile is not None:
        raise BadInput(Code.FORECAST_ONE_SUBJECT, "profile")
    if profile is not None and profile not in forecast.PROFILES:
        allowed = ", ".join(forecast.PROFILES)
        raise RuleViolation(Code.UNKNOWN_VALUE, "profile", allowed=allowed)
    check_days(days)
    return cached(
        ("group", kind, profile, days),
        at,
        lambda: forecast.project_group(kind=kind, profile=profile, at=at, days=days),
    )


@dataclass(frozen=True, slots=True)
class Shortage:
    """The first day a facility is expected over its limit with enough probability:
    ``in_days`` from today (0: today), and whether it is over already now."""

    day: forecast.ForecastDay
    in_days: int
    over_now: bool

    @property
    def date(self) -> date:
        return self.day.date

    @property
    def probability(self) -> float:
        return self.day.chance


def warning_settings() -> tuple[int, float]:
    """The overview's early warning: within how many days, from which probability. The
    alert rule ``forecast_over``'s office-wide settings, so that the column and the alerts
    cannot drift apart (per-facility overrides tune a house's alerts, not the board)."""
    params = rules.office_params("forecast_over")
    return int(params["days"]), float(params["probability"])


def shortages(
    facility_ids: list[int],
    instant: datetime,
    *,
    over_now: set[int] | frozenset[int] = frozenset(),
    as_of: bool = True,
    settings: tuple[int, float] | None = None,
) -> dict[int, Shortage]:
    """The expected shortage of each facility in ``facility_ids`` (those without one are
    left out), from one batch projection of every facility over the warning horizon
    (shared by all filters of the board). For the board, whose caller has checked the
    permission; ``over_now``: facilities over their limit now; ``as_of``: ``instant`` was
    asked for (else it is now); ``settings``: ``warning_settings()`` when already read."""
    if not facility_ids:
        return {}
    within, probability = settings or warning_settings()
    days = max(1, min(within, forecast.MAX_DAYS))
    at = instant if as_of else None
    projected = cached(
        ("board", days),
        at,
        lambda: forecast.project_facilities(None, at=at, days=days),
        fresh=float(current_app.config["FORECAST_BOARD_FRESH_SECONDS"]),
    )
    today = local(instant).date()
    found: dict[int, Shortage] = {}
    for facility_id in facility_ids:
        projection = projected.get(facility_id)
        if projection is None:
            continue
        day = forecast.first_shortage(projection, within_days=within, probability=probability)
        if day is not None:
            found[facility_id] = Shortage(
                day, max(0, (day.date - today).days), facility_id in over_now
            )
    return found
