"""The contract's functions: forecasts of facilities, facility kinds, youth profiles and the
office, from a ``history.Snapshot`` through ``model``.

Occupancy is counted as the capacity core counts it (open stays + reservations + held
places), the limit is ``Capacity.limit`` (the temporary ceiling in force, else the licensed
places). ``low`` and ``high`` are mid-distribution quantiles (a value's own probability
counts half below, half above it; ``model.LOW_Q``, ``model.HIGH_Q``), so that the band holds
about 80 % also for small counts, where "same as now" alone is often 70 % likely. For single
facilities the chain also gives the first-passage chance ``over_by`` (over at some day's end
so far), which the early warning weighs. Permission checks are
the callers' (services.reporting.forecasts, the alert rule): these functions take ids, as
the occupancy queries do."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
from flask import current_app, has_app_context
from flask_babel import gettext

from placement.models.enums import FacilityKind, label
from placement.services.errors import BadInput, Code, NotFound, RuleViolation
from placement.services.forecast import model
from placement.services.forecast.contract import DEFAULT_DAYS, MAX_DAYS, Forecast, ForecastDay
from placement.services.forecast.history import (
    DAY,
    KIND_INDEX,
    KINDS,
    NONE_DAY,
    Snapshot,
    day_starts,
    local_day,
    snapshot_from_db,
    window_midnights,
)
from placement.services.forecast.profiles import PROFILES, accepts
from placement.timeutil import now as utc_now

FUTURE_TOLERANCE = timedelta(minutes=10)
DEFAULT_WINDOW_WEEKS = 12
FALLBACK_STAY_DAYS = 30.0  # a kind without any ended stay yet
USUAL_LEVEL_DAYS = 28  # a house's usual occupancy: the median of these last days
# A crunch in a facility kind: fewer than this share of its houses have a free place. Then
# the office has nowhere else to go and full houses take youths (over their limit).
TIGHT_ROOM_SHARE = 0.2


@dataclass(frozen=True)
class Fitted:
    """The model fitted to one snapshot: survival per kind, rates per facility."""

    snapshot: Snapshot
    chain: model.ChainInput
    certain_stays: np.ndarray  # (F, days) stays certainly still there (planned, 18th)
    horizon: model.Horizon
    first_day: date
    survivals: list[model.Survival]
    level: np.ndarray  # (F,) admissions per day, weekday-neutral
    weekday: np.ndarray  # (F, 7)
    kind_cv2: np.ndarray  # (K,) uncertainty of the kinds' rates
    share_cv2: np.ndarray  # (F,) uncertainty of each facility's share
    admissions: np.ndarray  # (F, days) expected admissions still there at each day's end
    daily: np.ndarray  # (F, days) expected admissions on each day
    limits: np.ndarray  # (F, days) -1: none
    limit_now: np.ndarray  # (F,) -1: none
    reserved: np.ndarray  # (F, days) reservations and held places still valid
    reserved_now: np.ndarray  # (F,)
    stay_order: np.ndarray  # stays sorted by facility row
    stay_bounds: np.ndarray  # (F + 1,) slices into stay_order
    stay_row: np.ndarray  # facility row of each stay
    gone_from: np.ndarray  # per stay
    planned: np.ndarray  # per stay: a planned end within reach
    coming_of_age: np.ndarray  # per stay: leaves on the 18th birthday within the horizon
    probs: np.ndarray  # (stays, days) still there at the end of each day


def window_weeks() -> int:
    if has_app_context():
        return int(current_app.config.get("FORECAST_WINDOW_WEEKS", DEFAULT_WINDOW_WEEKS))
    return DEFAULT_WINDOW_WEEKS


def _horizon(at: float, days: int) -> tuple[model.Horizon, date]:
    first = local_day(at)
    bounds = day_starts(first, days)
    starts = np.maximum(bounds[:-1], at) - at
    ends = bounds[1:] - at
    weekdays = np.array([(first + timedelta(days=i)).weekday() for i in range(days)])
    return model.Horizon(starts=starts, ends=ends, weekdays=weekdays), first


def fit(snapshot: Snapshot, days: int, params: model.RateParams | None = None) -> Fitted:
    """Survival, rates and the per-facility inputs of every facility of ``snapshot``."""
    params = params or model.RateParams()
    facilities = snapshot.facilities
    count = len(facilities.ids)
    kinds = len(KINDS)
    at = snapshot.at
    horizon, first = _horizon(at, days)

    # Length of stay per kind; a kind without history borrows the pooled one.
    pooled = model.survival_from_counts(
        snapshot.los_ended.sum(axis=0), snapshot.los_censored.sum(axis=0)
    ) or model.constant_survival(FALLBACK_STAY_DAYS)
    survivals = [
        model.survival_from_counts(snapshot.los_ended[k], snapshot.los_censored[k]) or pooled
        for k in range(kinds)
    ]

    # Daily admission counts over the window's full local days (today's part is left out).
    window = snapshot.window_days
    bounds = day_starts(first - timedelta(days=window), window)
    weekdays = np.array([(first - timedelta(days=window - i)).weekday() for i in range(window)])
    rows = facilities.index_of(snapshot.start_facility)
    day_index = np.searchsorted(bounds, snapshot.start_at, side="right") - 1
    inside = (day_index >= 0) & (day_index < window)
    counts = np.zeros((count, window))
    np.add.at(counts, (rows[inside], day_index[inside]), 1.0)
    opened = _opened(snapshot)
    valid = bounds[None, 1:] > opened[:, None]  # open during (part of) the day
    kind_of = facilities.kind
    onehot = np.eye(kinds)[kind_of]  # (F, K)
    kind_counts = onehot.T @ counts
    kind_valid = (onehot.T @ valid.astype(float)) > 0
    office = model.fit_group_rates(
        counts.sum(axis=0, keepdims=True), weekdays, valid.any(axis=0, keepdims=True), params
    )
    kind_rates = model.fit_group_rates(
        kind_counts, weekdays, kind_valid, params, prior_weekday=office.weekday
    )
    licensed_now = _licensed_now(snapshot)
    kind_places = onehot.T @ licensed_now
    place_share = np.divide(
        licensed_now,
        kind_places[kind_of],
        out=np.zeros(count),
        where=kind_places[kind_of] > 0,
    )
    rates = model.split_rates(kind_rates, kind_of, counts, kind_counts, valid, place_share, params)
    share_cv2 = rates.cv2 - kind_rates.cv2[kind_of]
    # Admissions depend on the room a house has: a full one gets few (the office places
    # elsewhere while it can), one with a single free place gets it filled soon. Per kind,
    # the rate on days that began with 0, 1, 2 or 3+ free places, relative to its mean.
    # A house that has run over its limit for weeks (Am Mühlholz: 76 on 48) is "full" at
    # its usual level, not at the limit: its usual level counts where it is higher.
    window_limits = _limit_at(snapshot, window_midnights(at, window))
    recent = snapshot.window_occupied[:, -min(window, USUAL_LEVEL_DAYS) :]
    usual = np.floor(np.median(recent, axis=1)).astype(np.int64) if recent.shape[1] else 0
    level_full = np.where(window_limits >= 0, np.maximum(window_limits, usual[:, None]), -1)
    # The room a day's admissions found is the room after the day's departures (the chain
    # applies them in that order too): a full house that one youth left is refilled at
    # the rate of a house with a free place, not counted as a full house that took one.
    stays_now = np.bincount(facilities.index_of(snapshot.stay_facility), minlength=count)
    occupied = snapshot.window_occupied.astype(np.int64)
    following = np.concatenate([occupied[:, 1:], stays_now[:, None]], axis=1)
    departed = np.maximum(occupied + counts.astype(np.int64) - following, 0)
    free = np.where(level_full >= 0, level_full - occupied + departed, model.ROOMY)
    category = np.clip(free, 0, model.ROOMY)
    # Two regimes per house and day: normal, or a crunch (few of the other houses of its
    # kind with a free place): a full house rarely gets a youth while others have room,
    # often in a crunch. The rates by room are learned per regime (kind x regime x room).
    # Only the other houses count: a house alone of its kind is never in a crunch of its
    # own making (its room would decide its regime, and each regime would see one side).
    limited = valid & (level_full >= 0)
    regime = _crunch(onehot, kind_of, limited, limited & (free > 0)).astype(np.int64)
    cell = regime * model.CATEGORIES + category  # (F, window) in 0 .. 2 CATEGORIES - 1
    cells = 2 * model.CATEGORIES
    in_category = valid[:, :, None] & (cell[:, :, None] == np.arange(cells))
    multipliers = model.room_multipliers(
        np.einsum("fk,fdc,fd->kc", onehot, in_category, counts),
        np.einsum("fk,fdc->kc", onehot, in_category),
        params,
    )  # (K, cells)
    days_in = in_category.sum(axis=1) / np.maximum(valid.sum(axis=1), 1)[:, None]
    mean_multiplier = np.where(valid.any(axis=1), (days_in * multipliers[kind_of]).sum(axis=1), 1.0)
    # Only active facilities take admissions from now on.
    level = np.where(facilities.active, rates.level, 0.0)
    level_with_room = level / np.maximum(mean_multiplier, 1e-3)
    base = model.daily_admissions(level_with_room, rates.weekday, horizon)
    keep = np.stack([model.admission_keep(s, horizon) for s in survivals])  # (K, h, j)

    limits, limit_now = _limits(snapshot, horizon)
    reserved, reserved_now = _reserved(snapshot, horizon)
    # The regime now (from the stays now), kept over the horizon.
    level_now = np.maximum(limit_now, usual)
    limited_now = (facilities.active & (limit_now >= 0))[:, None]
    room_now = limited_now & (level_now - stays_now > 0)[:, None]
    tight_now = _crunch(onehot, kind_of, limited_now, room_now)[:, 0]  # (F,)
    by_regime = multipliers.reshape(kinds, 2, model.CATEGORIES)
    ratio = by_regime[kind_of, tight_now.astype(np.int64)]  # (F, categories)

    # Current stays: certain ends (planned, 18th birthday where the house ends at 17).
    stay_row = facilities.index_of(snapshot.stay_facility)
    order = np.argsort(stay_row, kind="stable")
    stay_bounds = np.searchsorted(stay_row[order], np.arange(count + 1))
    first_ordinal = first.toordinal()
    last_ordinal = first_ordinal + days - 1
    planned_day = snapshot.stay_planned_day
    planned = (planned_day >= first_ordinal) & (planned_day < NONE_DAY)
    ends_at_17 = facilities.age_max[stay_row] <= 17
    adult = np.where(ends_at_17, snapshot.stay_adult_day, NONE_DAY)
    adult = np.where(adult >= first_ordinal, adult, NONE_DAY)
    gone_day = np.minimum(np.where(planned, planned_day, NONE_DAY), adult)
    gone_from = np.minimum(gone_day - first_ordinal, days + 1)
    coming_of_age = (adult <= last_ordinal) & ~(planned & (planned_day <= adult))
    probs = model.stay_probabilities(
        (at - snapshot.stay_start) / DAY,
        kind_of[stay_row],
        gone_from,
        planned,
        survivals,
        horizon,
    )
    stays_mean = np.zeros((count, days))
    stays_var = np.zeros((count, days))
    np.add.at(stays_mean, stay_row, probs)
    np.add.at(stays_var, stay_row, probs * (1 - probs))
    occupied_now = np.bincount(stay_row, minlength=count)
    daily, admissions = model.admissions_with_feedback(
        base,
        keep[kind_of],
        ratio,
        stays_mean,
        stays_var,
        occupied_now,
        limit_now,
        limits,
    )
    # The chain's inputs: certain stays (a planned end, an 18th birthday within reach)
    # count until their day; the others leave at the day's mean-field rate.
    certain = planned | coming_of_age
    day_index = np.arange(days)
    certain_stays = np.zeros((count, days), dtype=np.int64)
    np.add.at(
        certain_stays,
        stay_row[certain],
        (day_index[None, :] < gone_from[certain, None]).astype(np.int64),
    )
    uncertain_mean = np.zeros((count, days))
    np.add.at(uncertain_mean, stay_row[~certain], probs[~certain])
    uncertain_now = np.bincount(stay_row[~certain], minlength=count)
    before = np.concatenate([uncertain_now[:, None], uncertain_mean[:, :-1]], axis=1)
    still_before = np.concatenate([np.zeros((count, 1)), admissions[:, :-1]], axis=1)
    same_day = daily * np.einsum("fjj->fj", keep[kind_of])
    leaving = (before - uncertain_mean) + (still_before - admissions + same_day)
    present = before + still_before
    leave = np.where(present > 1e-9, np.clip(leaving / np.maximum(present, 1e-9), 0, 1), 0.0)
    certain_before = np.concatenate(
        [np.bincount(stay_row[certain], minlength=count)[:, None], certain_stays[:, :-1]], axis=1
    )
    limit_before = np.concatenate([limit_now[:, None], limits[:, :-1]], axis=1)
    full_level = np.maximum(limit_before, usual[:, None])
    full_from = np.where(limit_before >= 0, full_level - certain_before, 10**9)
    # Over the limit: more than the limit minus the certain stays and the held places.
    over_from = np.where(limits >= 0, limits - certain_stays - reserved + 1, 10**9)
    chain = model.ChainInput(
        uncertain_now=uncertain_now,
        leave=leave,
        admissions=base,
        full_ratio=ratio,
        full_from=full_from,
        inv_shape=kind_rates.cv2[kind_of] + share_cv2,
        over_from=over_from,
    )
    return Fitted(
        snapshot=snapshot,
        chain=chain,
        certain_stays=certain_stays,
        horizon=horizon,
        first_day=first,
        survivals=survivals,
        level=level,
        weekday=rates.weekday,
        kind_cv2=kind_rates.cv2,
        share_cv2=share_cv2,
        admissions=admissions,
        daily=daily,
        limits=limits,
        limit_now=limit_now,
        reserved=reserved,
        reserved_now=reserved_now,
        stay_order=order,
        stay_bounds=stay_bounds,
        stay_row=stay_row,
        gone_from=gone_from,
        planned=planned,
        coming_of_age=coming_of_age,
        probs=probs,
    )


def _crunch(
    onehot: np.ndarray, kind_of: np.ndarray, limited: np.ndarray, with_room: np.ndarray
) -> np.ndarray:
    """(F, days) whether fewer than ``TIGHT_ROOM_SHARE`` of the other houses of a house's
    kind (with places: ``limited``) had a free place (``with_room``); both (F, days)."""
    houses = (onehot.T @ limited.astype(float))[kind_of] - limited
    room = (onehot.T @ with_room.astype(float))[kind_of] - with_room
    return (houses > 0) & (room < TIGHT_ROOM_SHARE * houses)


def _opened(snapshot: Snapshot) -> np.ndarray:
    """Per facility row, when its first known capacity period began (inf: none)."""
    caps = snapshot.capacities
    opened = np.full(len(snapshot.facilities.ids), np.inf)
    if len(caps.facility):
        np.minimum.at(opened, snapshot.facilities.index_of(caps.facility), caps.valid_from)
    earliest = snapshot.opened_before
    return np.minimum(opened, earliest)


def _limit_at(snapshot: Snapshot, instants: np.ndarray) -> np.ndarray:
    """(F, len(instants)) the limit in force, -1 none."""
    index = _period_at(snapshot, instants)
    if not len(snapshot.capacities.limit):
        return np.full(index.shape, -1, dtype=np.int64)
    return np.where(index >= 0, snapshot.capacities.limit[np.maximum(index, 0)], -1)


def _period_at(snapshot: Snapshot, instants: np.ndarray) -> np.ndarray:
    """(F, len(instants)) index into snapshot.capacities of the period in force, or -1."""
    caps = snapshot.capacities
    result = np.full((len(snapshot.facilities.ids), len(instants)), -1, dtype=np.int64)
    if not len(caps.facility):
        return result
    rows = snapshot.facilities.index_of(caps.facility)
    covers = (caps.valid_from[:, None] <= instants[None, :]) & (
        caps.valid_until[:, None] > instants[None, :]
    )
    period, moment = np.nonzero(covers)
    result[rows[period], moment] = period
    return result


def _licensed_now(snapshot: Snapshot) -> np.ndarray:
    now = _period_at(snapshot, np.array([snapshot.at]))[:, 0]
    return np.where(now >= 0, snapshot.capacities.licensed[np.maximum(now, 0)], 0).astype(float)


def _limits(snapshot: Snapshot, horizon: model.Horizon) -> tuple[np.ndarray, np.ndarray]:
    """Limit at the last instant of each day, and now; after a known period ends with no
    successor known, the licensed places of the period in force now (a ceiling lapses)."""
    caps = snapshot.capacities
    instants = np.concatenate([[snapshot.at], snapshot.at + horizon.ends - 1.0])
    index = _period_at(snapshot, instants)
    limit = np.where(index >= 0, caps.limit[np.maximum(index, 0)] if len(caps.limit) else 0, -1)
    now = index[:, 0]
    licensed_now = np.where(
        now >= 0, caps.licensed[np.maximum(now, 0)] if len(caps.licensed) else 0, -1
    )
    days = limit[:, 1:]
    days = np.where(days >= 0, days, licensed_now[:, None])
    return days.astype(np.int64), limit[:, 0].astype(np.int64)


def _reserved(snapshot: Snapshot, horizon: model.Horizon) -> tuple[np.ndarray, np.ndarray]:
    count = len(snapshot.facilities.ids)
    reserved = np.zeros((count, horizon.days), dtype=np.int64)
    rows = snapshot.facilities.index_of(snapshot.held_facility)
    valid = snapshot.held_until[:, None] > (snapshot.at + horizon.ends)[None, :]
    np.add.at(reserved, rows, valid.astype(np.int64))
    now = np.bincount(rows, minlength=count).astype(np.int64)
    return reserved, now


def _stays_of(fitted: Fitted, rows: np.ndarray) -> np.ndarray:
    bounds = fitted.stay_bounds
    if len(rows) == 1:
        return fitted.stay_order[bounds[rows[0]] : bounds[rows[0] + 1]]
    parts = [fitted.stay_order[bounds[r] : bounds[r + 1]] for r in rows]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def project_rows(fitted: Fitted, subjects: Sequence[np.ndarray]) -> list[model.Projection]:
    """The projection of each subject (facility rows): each facility's chain, summed."""
    parts = [np.asarray(r, dtype=np.int64) for r in subjects]
    needed = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
    single = all(len(rows) == 1 for rows in subjects)
    chain = fitted.chain.rows(needed)
    if not single:  # first passage only for single facilities (groups: the days' chances)
        chain = replace(chain, over_from=None)
    result = model.chain_distributions(chain)
    pmf_of = dict(zip(needed.tolist(), result.pmfs, strict=True))
    days = fitted.horizon.days
    if single:
        over_by = dict(zip(needed.tolist(), result.over_by, strict=True))
        return _project_single(fitted, [int(rows[0]) for rows in subjects], pmf_of, over_by)
    results = []
    for rows in subjects:
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows):
            pmf = model.sum_distributions([pmf_of[int(r)] for r in rows])
        else:
            pmf = np.zeros((days, 1))
            pmf[:, 0] = 1.0
        shift = (fitted.certain_stays[rows] + fitted.reserved[rows]).sum(axis=0)
        expected = pmf @ np.arange(pmf.shape[1])
        results.append(model.summarise(pmf, expected, shift, _subject_limit(fitted, rows)))
    return results


def _project_single(
    fitted: Fitted,
    rows: list[int],
    pmf_of: dict[int, np.ndarray],
    over_by: dict[int, np.ndarray],
) -> list[model.Projection]:
    """One facility per subject (the board): summarised together, by the pmfs' width."""
    days = fitted.horizon.days
    results: list[model.Projection | None] = [None] * len(rows)
    by_width: dict[int, list[int]] = {}
    for position, row in enumerate(rows):
        by_width.setdefault(pmf_of[row].shape[1], []).append(position)
    for positions in by_width.values():
        members = np.array([rows[p] for p in positions])
        pmf = np.concatenate([pmf_of[int(r)] for r in members])  # (members x days, width)
        shift = (fitted.certain_stays[members] + fitted.reserved[members]).reshape(-1)
        limit = fitted.limits[members].reshape(-1)
        summary = model.summarise(pmf, pmf @ np.arange(pmf.shape[1]), shift, limit)
        for index, position in enumerate(positions):
            part = slice(index * days, (index + 1) * days)
            results[position] = model.Projection(
                expected=summary.expected[part],
                low=summary.low[part],
                high=summary.high[part],
                median=summary.median[part],
                p_over=summary.p_over[part],
                # never below the day's own chance (the pmfs' rounding differs slightly)
                over_by=np.maximum.accumulate(
                    np.maximum(over_by[int(members[index])], summary.p_over[part])
                ),
            )
    return results  # type: ignore[return-value]


def _subject_limit(fitted: Fitted, rows: np.ndarray) -> np.ndarray:
    limits = fitted.limits[rows]
    has_limit = (limits >= 0).any(axis=0)
    return np.where(has_limit, np.where(limits >= 0, limits, 0).sum(axis=0), -1)


# --- the contract -----------------------------------------------------------------------------


def _checked(at: datetime | None, days: int | None) -> tuple[datetime, int]:
    if days is None:
        days = int(current_app.config.get("FORECAST_DAYS", DEFAULT_DAYS))
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise BadInput(Code.OUT_OF_RANGE, "days")
    now = utc_now()
    if at is None:
        at = now
    elif at.tzinfo is None:
        raise BadInput(Code.NOT_INSTANT, "at")
    elif at > now + FUTURE_TOLERANCE:
        raise RuleViolation(Code.HISTORY_IN_FUTURE, "at", value=at, latest=now)
    return at.astimezone(UTC), days


def _forecast(
    fitted: Fitted,
    rows: np.ndarray,
    projection: model.Projection,
    *,
    subject: str,
    key: str,
    label_text: str,
) -> Forecast:
    horizon_days = fitted.horizon.days
    stays = _stays_of(fitted, rows)
    limit_rows = fitted.limit_now[rows]
    limit_now = int(limit_rows[limit_rows >= 0].sum()) if (limit_rows >= 0).any() else None
    planned_ends = int((fitted.planned[stays] & (fitted.gone_from[stays] < horizon_days)).sum())
    limits = _subject_limit(fitted, rows).tolist()
    dates = [fitted.first_day + timedelta(days=i) for i in range(horizon_days)]
    days = [
        ForecastDay(
            date=day,
            expected=round(expected, 2),
            low=low,
            high=high,
            limit=limit if limit >= 0 else None,
            p_over=round(p_over, 3),
            p_over_by=None if by is None else round(by, 3),
        )
        for day, expected, low, high, limit, p_over, by in zip(
            dates,
            projection.expected.tolist(),
            projection.low.tolist(),
            projection.high.tolist(),
            limits,
            projection.p_over.tolist(),
            [None] * horizon_days if projection.over_by is None else projection.over_by.tolist(),
            strict=True,
        )
    ]
    return Forecast(
        subject=subject,
        key=key,
        label=label_text,
        computed_at=datetime.fromtimestamp(fitted.snapshot.at, UTC),
        occupied_now=int(len(stays) + fitted.reserved_now[rows].sum()),
        limit_now=limit_now,
        days=days,
        admissions_per_day=round(float(fitted.daily[rows].sum(axis=0).mean()), 3)
        if horizon_days
        else 0.0,
        planned_ends=planned_ends,
        coming_of_age_ends=int(fitted.coming_of_age[stays].sum()),
        window_weeks=fitted.snapshot.window_days // 7,
    )


def _fitted(at: datetime, days: int) -> Fitted:
    snapshot = snapshot_from_db(at, window_days=window_weeks() * 7, horizon_days=days)
    return fit(snapshot, days)


def project_facilities(
    facility_ids: Iterable[int] | None = None,
    *,
    at: datetime | None = None,
    days: int | None = DEFAULT_DAYS,
) -> dict[int, Forecast]:
    """Forecasts of many facilities at once (default: every active facility), from ``at``
    (default now) for ``days`` local days starting with today. Unknown ids: NotFound."""
    at, days = _checked(at, days)
    fitted = _fitted(at, days)
    facilities = fitted.snapshot.facilities
    if facility_ids is None:
        rows = np.nonzero(facilities.active)[0]
    else:
        wanted = np.array(sorted(set(int(i) for i in facility_ids)), dtype=np.int64)
        rows = facilities.index_of(wanted)
        known = (rows < len(facilities.ids)) & (
            facilities.ids[np.minimum(rows, len(facilities.ids) - 1)] == wanted
        ) if len(facilities.ids) else np.zeros(len(wanted), dtype=bool)  # fmt: skip
        if not known.all():
            raise NotFound(Code.UNKNOWN_FACILITY, "facility_id")
    projections = project_rows(fitted, [np.array([r]) for r in rows])
    return {
        int(facilities.ids[r]): _forecast(
            fitted,
            np.array([r]),
            projection,
            subject="facility",
            key=str(int(facilities.ids[r])),
            label_text=facilities.names[r],
        )
        for r, projection in zip(rows, projections, strict=True)
    }


def project_facility(
    facility_id: int, *, at: datetime | None = None, days: int | None = DEFAULT_DAYS
) -> Forecast:
    """The forecast of one facility."""
    return project_facilities([facility_id], at=at, days=days)[int(facility_id)]


def group_rows(fitted: Fitted, kind: FacilityKind | str | None, profile: str | None) -> np.ndarray:
    """Active facility rows of a kind, of the facilities taking a profile, or all."""
    facilities = fitted.snapshot.facilities
    active = facilities.active
    if kind is not None:
        try:
            index = KIND_INDEX[FacilityKind(kind)]
        except ValueError as exc:
            allowed = ", ".join(k.value for k in FacilityKind)
            raise BadInput(Code.UNKNOWN_VALUE, "kind", allowed=allowed) from exc
        return np.nonzero(active & (facilities.kind == index))[0]
    if profile is not None:
        spec = PROFILES[profile]
        takes = np.array(
            [accepts(_Row(facilities, r), spec) for r in range(len(facilities.ids))],
            dtype=bool,
        )
        return np.nonzero(active & takes)[0]
    return np.nonzero(active)[0]


class _Row:
    """One facility row seen as ``profiles.FacilityProfile``."""

    def __init__(self, facilities, row: int) -> None:
        self.age_min = int(facilities.age_min[row])
        self.age_max = int(facilities.age_max[row])
        self.genders = facilities.genders[row]
        self.uma_policy = facilities.uma_policy[row]


def project_group(
    *,
    kind: FacilityKind | str | None = None,
    profile: str | None = None,
    at: datetime | None = None,
    days: int | None = DEFAULT_DAYS,
) -> Forecast:
    """The forecast of a facility kind, of the facilities taking a youth profile (a key of
    ``PROFILES``), or with neither of the whole office: the group's occupancy against the
    sum of its limits."""
    if kind is not None and profile is not None:
        raise BadInput(Code.FORECAST_ONE_SUBJECT, "profile")
    if profile is not None and profile not in PROFILES:
        raise BadInput(Code.UNKNOWN_VALUE, "profile", allowed=", ".join(PROFILES))
    at, days = _checked(at, days)
    fitted = _fitted(at, days)
    rows = group_rows(fitted, kind, profile)
    (projection,) = project_rows(fitted, [rows])
    if kind is not None:
        subject, key, text = "kind", FacilityKind(kind).value, str(label(FacilityKind(kind)))
    elif profile is not None:
        subject, key, text = "profile", profile, str(PROFILES[profile]["label"])
    else:
        subject, key, text = "office", "office", gettext("Jugendamt gesamt")
    return _forecast(fitted, rows, projection, subject=subject, key=key, label_text=text)
