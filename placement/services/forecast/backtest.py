"""The backtest: replay the history day by day and score the forecasts against what came.

For each local midnight T of the replayed weeks the model is fitted to ``Tables.snapshot(T)``
(only what was recorded by T: see ``history``) and projects every facility that had places
then. The outcomes (occupancy counted as the capacity core counts it, and the limit in
force, at each later midnight) are read from the tables separately and only for scoring.

Scores per horizon h (days): the mean absolute error of the forecast's median (the point
forecast under absolute error) against the naive forecast "same as at T", and the share of
actual values inside the 80 % band. Early warning, with the rule of the alerts (over the
limit within ``within_days`` with probability >= ``probability``, for a facility not over
already): a real over-occupancy episode begins at a midnight over the limit after at least
``within_days`` midnights under it (``_episode_starts``). A house that dips under its limit
for a night or two and is over again is still in the same crisis: its over-occupancy alert
has just fired, and no warning could come days ahead of a return two days later (the
alert engine counts such a return as a new alert: its flapping grace is 30 minutes). An
episode is warned ``lead_days`` ahead if the rule fired at a replayed midnight from
``within_days`` to ``lead_days`` days before it began. A warning (a run of consecutive
midnights the rule fired) with no over-occupancy until ``within_days`` after its last day
is a false alarm."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from placement.services.forecast import model
from placement.services.forecast.history import Tables, day_starts, local_day
from placement.services.forecast.projection import fit, project_rows, window_weeks
from placement.timeutil import BERLIN
from placement.timeutil import now as utc_now

HORIZONS = (1, 3, 7, 14)
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class HorizonScore:
    mae: float
    mae_naive: float
    coverage: float
    mae_mean: float  # of the expected value (the mean), for comparison
    count: int


@dataclass(frozen=True)
class BacktestResult:
    weeks: int
    start: datetime
    end: datetime
    facilities: int
    horizons: dict[int, HorizonScore]
    episodes: int
    warned: int
    false_alarms: int
    facility_months: float
    within_days: int
    probability: float
    lead_days: int
    seconds: float = 0.0
    warnings: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def warned_share(self) -> float | None:
        return self.warned / self.episodes if self.episodes else None

    @property
    def false_alarms_per_facility_month(self) -> float:
        return self.false_alarms / self.facility_months if self.facility_months else 0.0

    def as_json(self) -> dict:
        """The shape of issue #14."""

        def num(value: float | None, digits: int = 3) -> float | None:
            return None if value is None else round(float(value), digits)

        return {
            "horizons": {
                str(h): {
                    "mae": num(score.mae),
                    "mae_naive": num(score.mae_naive),
                    "coverage": num(score.coverage),
                }
                for h, score in self.horizons.items()
            },
            "early_warning": {
                "episodes": self.episodes,
                "warned_3d": num(self.warned_share),
                "false_alarms_per_facility_month": num(self.false_alarms_per_facility_month),
            },
        }


def _counted(tables: Tables, instants: np.ndarray) -> np.ndarray:
    """(facilities x instants) occupancy as the capacity core counts it: stays covering
    the instant, reservations and held places valid at it."""
    facilities = tables.facilities
    count = len(facilities.ids)
    grid = len(instants)
    result = np.zeros((count, grid + 1), dtype=np.int64)

    def add(rows: np.ndarray, begin: np.ndarray, end: np.ndarray) -> None:
        # covering [begin, end): instants with begin <= t < end
        first = np.searchsorted(instants, begin, side="left")
        last = np.searchsorted(instants, end, side="left")
        keep = last > first
        np.add.at(result, (rows[keep], first[keep]), 1)
        np.add.at(result, (rows[keep], last[keep]), -1)

    rows = facilities.index_of(tables.stay_facility)
    add(rows, tables.stay_start, tables.stay_end)
    held = ~np.isnan(tables.stay_held_until)
    add(rows[held], tables.stay_end[held], tables.stay_held_until[held])
    if len(tables.res_facility):
        res_rows = facilities.index_of(tables.res_facility)
        lapse = np.minimum(tables.res_expires, tables.res_closed)
        repeat = tables.res_places
        add(
            np.repeat(res_rows, repeat),
            np.repeat(tables.res_created, repeat),
            np.repeat(lapse, repeat),
        )
    return np.cumsum(result, axis=1)[:, :grid]


def _limits(tables: Tables, instants: np.ndarray) -> np.ndarray:
    """(facilities x instants) the limit in force (-1: no period)."""
    count = len(tables.facilities.ids)
    result = np.full((count, len(instants)), -1, dtype=np.int64)
    rows = tables.facilities.index_of(tables.cap_facility)
    covers = (tables.cap_from[:, None] <= instants[None, :]) & (
        tables.cap_until[:, None] > instants[None, :]
    )
    period, moment = np.nonzero(covers)
    result[rows[period], moment] = tables.cap_limit[period]
    return result


def _episode_starts(over: np.ndarray, quiet_days: int) -> list[int]:
    """Midnights (indexes) over the limit after at least ``quiet_days`` midnights under it
    (the replay's first ``quiet_days`` midnights cannot begin one: the rule could not
    have warned in time)."""
    starts = []
    last_over = None
    for index in np.nonzero(over)[0].tolist():
        if last_over is None:
            if index >= quiet_days:  # under since the replay began
                starts.append(index)
        elif index - last_over > quiet_days:
            starts.append(index)
        last_over = index
    return starts


def run_backtest(
    *,
    weeks: int = 26,
    end: datetime | None = None,
    within_days: int = 7,
    probability: float = 0.7,
    lead_days: int = 3,
    horizons: Sequence[int] = HORIZONS,
    params: model.RateParams | None = None,
    window_days: int | None = None,
) -> BacktestResult:
    """Replay the ``weeks`` before ``end`` (default: today's local midnight)."""
    started = time.perf_counter()
    end_day = local_day((end or utc_now()).timestamp())
    first_day = end_day - timedelta(days=7 * weeks)
    grid = day_starts(first_day, 7 * weeks)  # midnights first_day .. end_day
    end_instant = datetime.fromtimestamp(grid[-1], UTC)
    tables = Tables.load(end_instant)
    window_days = window_days or window_weeks() * 7
    max_h = max(max(horizons), within_days)

    actual = _counted(tables, grid)
    limits = _limits(tables, grid)
    has_places = limits >= 0
    over = has_places & (actual > limits)
    count, points = actual.shape
    replays = points - 1  # forecasts from every midnight but the last

    median = np.full((count, replays, max_h), -1, dtype=np.int64)
    low = np.zeros_like(median)
    high = np.zeros_like(median)
    mean = np.zeros((count, replays, max_h))
    fires = np.zeros((count, replays), dtype=bool)
    scored = np.zeros((count, replays), dtype=bool)
    for index in range(replays):
        snapshot = tables.snapshot(float(grid[index]), window_days=window_days)
        fitted = fit(snapshot, max_h, params)
        rows = np.nonzero(fitted.limit_now >= 0)[0]  # facilities with places at T
        projections = project_rows(fitted, [np.array([r]) for r in rows])
        occupied_now = np.bincount(fitted.stay_row, minlength=count) + fitted.reserved_now
        for row, projection in zip(rows, projections, strict=True):
            median[row, index] = projection.median
            low[row, index] = projection.low
            high[row, index] = projection.high
            mean[row, index] = projection.expected
            warned = projection.over_by[within_days - 1] >= probability
            fires[row, index] = warned and occupied_now[row] <= fitted.limit_now[row]
        scored[rows, index] = True

    scores = {}
    for h in horizons:
        usable = np.arange(replays) + h < points
        mask = scored[:, usable]
        target = actual[:, h : h + usable.sum()][mask]
        now = actual[:, : usable.sum()][mask]
        point = median[:, usable, h - 1][mask]
        expected = mean[:, usable, h - 1][mask]
        inside = (low[:, usable, h - 1][mask] <= target) & (target <= high[:, usable, h - 1][mask])
        scores[h] = HorizonScore(
            mae=float(np.abs(point - target).mean()) if len(target) else 0.0,
            mae_naive=float(np.abs(now - target).mean()) if len(target) else 0.0,
            coverage=float(inside.mean()) if len(target) else 0.0,
            mae_mean=float(np.abs(expected - target).mean()) if len(target) else 0.0,
            count=int(len(target)),
        )

    episodes = warned = false_alarms = warnings = 0
    for row in range(count):
        for e in _episode_starts(over[row], within_days):
            first, last = e - within_days, e - lead_days
            if first < 0 or not scored[row, first : last + 1].all():
                continue  # the rule could not have warned in time within the replay
            episodes += 1
            warned += bool(fires[row, first : last + 1].any())
        index = 0
        while index < replays:
            if not fires[row, index]:
                index += 1
                continue
            run_end = index
            while run_end + 1 < replays and fires[row, run_end + 1]:
                run_end += 1
            horizon_end = run_end + within_days
            if horizon_end < points:
                warnings += 1
                if not over[row, index + 1 : horizon_end + 1].any():
                    false_alarms += 1
            index = run_end + 1
    facility_months = float(scored.sum()) / DAYS_PER_MONTH
    return BacktestResult(
        weeks=weeks,
        start=datetime.fromtimestamp(grid[0], UTC),
        end=end_instant,
        facilities=int(scored.any(axis=1).sum()),
        horizons=scores,
        episodes=episodes,
        warned=warned,
        false_alarms=false_alarms,
        facility_months=facility_months,
        within_days=within_days,
        probability=probability,
        lead_days=lead_days,
        seconds=time.perf_counter() - started,
        warnings=warnings,
    )


def report_text(result: BacktestResult) -> str:
    """The backtest as the CLI prints it (German, like the other commands)."""

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{100 * value:.1f} %"

    start = result.start.astimezone(BERLIN).strftime("%d.%m.%Y")
    end = result.end.astimezone(BERLIN).strftime("%d.%m.%Y")
    lines = [
        f"Rückrechnung {start}–{end} ({result.weeks} Wochen), {result.facilities} Einrichtungen,"
        f" {result.seconds:.1f} s",
        "Horizont  MAE (Median)  MAE (Erwartungswert)  MAE naiv  im 80-%-Band  Werte",
    ]
    for h, score in result.horizons.items():
        lines.append(
            f"{h:>3} Tage  {score.mae:12.3f}  {score.mae_mean:20.3f}  {score.mae_naive:8.3f}"
            f"  {pct(score.coverage):>12}  {score.count:5d}"
        )
    lines.append(
        f"Frühwarnung (innerhalb {result.within_days} Tagen, p >= {result.probability:.0%}): "
        f"{result.episodes} Überbelegungsepisoden, davon {result.warned} "
        f"({pct(result.warned_share)}) mindestens {result.lead_days} Tage vorher gewarnt; "
        f"{result.warnings} Warnungen, {result.false_alarms} Fehlalarme = "
        f"{result.false_alarms_per_facility_month:.3f} je Einrichtung und Monat."
    )
    lines.append(
        f"Episode: beginnt mit einer Mitternacht über der Grenze nach mindestens"
        f" {result.within_days} Mitternächten darunter (wer nur ein, zwei Nächte darunter lag,"
        " ist noch in derselben Überbelegung); gewarnt, wenn die Regel"
        f" {result.within_days} bis {result.lead_days} Tage vorher ausgelöst hat."
    )
    return "\n".join(lines)
