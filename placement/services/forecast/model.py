"""The forecast model: pure numbers (numpy only; no Flask, no database, no clock).

Occupancy of a facility at the end of forecast day h is

    X_h = C_h + Q_h + Y_h

- C_h, current stays certain to be there: a planned end ("Übergabe nach §42b am") counts
  the youth until that day and not from it on; a youth turning 18 in a house that ends at
  17 counts until the birthday.
- Q_h, reservations and held places still valid at the end of day h (they lapse when they
  expire).
- Y_h, everyone else: a chain over days (``chain_distributions``). Each day every resident
  leaves with the day's chance, then admissions arrive. A current stay that has lasted d
  days is still there t days later with probability S(d + t) / S(d), S the length-of-stay
  survival of its facility kind (Kaplan–Meier, open stays right-censored,
  ``survival_from_counts``); the day's chance to leave is what these survivals and those
  of the newly admitted expect. Admissions: the facility's rate x the weekday factor of
  the day x the multiplier for the room the house has at the day's start (a full house
  gets few, one with a free place gets it filled: ``room_multipliers``); a day's count is
  negative binomial when the rate is uncertain or over-dispersed, else Poisson.

Admission rates: daily admission counts over a trailing window (``fit_group_rates``). The
level is a recency-weighted mean (half-life ``half_life_days``) of the weekday-adjusted
counts of the facility kind; each facility gets its share of its kind over the days it
was open (shrunk towards its share of the kind's places when its history is short):
the group-wide rate split by the facility's recent share (``split_rates``). Weekday factors
are multiplicative, shrunk towards 1 (for the kind: towards the office's) when data is
thin (``weekday_factors``). Over-dispersion: the rate's estimation error plus how much
weekly counts varied beyond Poisson noise.

Groups of facilities (a kind, a profile, the office) add their facilities' distributions
(``sum_distributions``). The 80 % band are mid-distribution quantiles (``summarise``).
Everything is vectorised over facilities and days: the overview projects hundreds of
facilities per request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

DAY = 86400.0
# Quantiles of the band: the 80 % band. The model's own 10 % and 90 % mid-quantiles held
# about 87 % of the outcomes in the backtest (its departures spread wider than they come:
# every resident leaves with the day's mean chance), so the band uses the mid-quantiles
# that held 80 %: 15 % and 85 %, calibrated once on the synthetic history *before* the
# evaluated half-year (8 weeks to 03.05.2026; no evaluated day was looked at).
LOW_Q, HIGH_Q = 0.15, 0.85


# --- length of stay ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Survival:
    """Length-of-stay survival on a daily grid: ``log_s[k]`` = log P(stay lasts > k days),
    beyond the grid a constant daily hazard ``tail_hazard`` (pooled over the sparse tail)."""

    log_s: np.ndarray
    tail_hazard: float
    step: np.ndarray = field(init=False, repr=False)  # log S(k + 1) - log S(k)

    def __post_init__(self) -> None:
        step = np.diff(self.log_s, append=self.log_s[-1] + np.log1p(-self.tail_hazard))
        object.__setattr__(self, "step", step)

    @property
    def days(self) -> int:
        return len(self.log_s) - 1

    def log_survival(self, duration: np.ndarray) -> np.ndarray:
        """log S at fractional durations (days, >= 0); log-linear between grid days."""
        x = np.maximum(np.asarray(duration, dtype=float), 0.0)
        grid = self.days
        k = np.minimum(np.floor(x).astype(np.int64), grid)
        frac = x - k
        inside = self.log_s[k] + frac * self.step[k]
        beyond = self.log_s[-1] + (x - grid) * np.log1p(-self.tail_hazard)
        return np.where(x >= grid, beyond, inside)

    def still_there(self, stayed: np.ndarray, ahead: np.ndarray) -> np.ndarray:
        """P(a stay that has lasted ``stayed`` days is still there ``ahead`` days later);
        broadcasts (stays x days)."""
        stayed = np.asarray(stayed, dtype=float)
        ahead = np.asarray(ahead, dtype=float)
        return np.exp(self.log_survival(stayed + ahead) - self.log_survival(stayed))

    def mean_days(self) -> float:
        """Mean length of stay (for the explanation of a forecast)."""
        s = np.exp(self.log_s)
        tail = s[-1] / max(self.tail_hazard, 1e-9)
        return float(s[:-1].sum() + tail)


def survival_from_counts(
    ended: np.ndarray, censored: np.ndarray, *, min_at_risk: int = 25
) -> Survival | None:
    """Kaplan–Meier on a daily grid from ``ended[k]`` (stays that ended after k full days)
    and ``censored[k]`` (still open after k full days). Where fewer than ``min_at_risk``
    stays are at risk, the hazard is pooled into one constant tail hazard. None without any
    ended stay."""
    ended = np.asarray(ended, dtype=float)
    censored = np.asarray(censored, dtype=float)
    size = max(len(ended), len(censored))
    ended = np.pad(ended, (0, size - len(ended)))
    censored = np.pad(censored, (0, size - len(censored)))
    if ended.sum() <= 0:
        return None
    at_risk = np.cumsum((ended + censored)[::-1])[::-1]
    sparse = np.nonzero(at_risk < min_at_risk)[0]
    grid = int(sparse[0]) if len(sparse) else size
    grid = max(grid, 1)
    # The tail: events per stay-day at risk from the grid's end on.
    tail_events = ended[grid:].sum()
    tail_exposure = at_risk[grid:].sum()
    # The hazard of the grid's last four weeks is the prior (worth 30 stay-days): stays
    # still open long after every ended one had ended are evidence that they stay.
    start = max(0, grid - 28)
    exposure = at_risk[start:grid].sum()
    last = ended[start:grid].sum() / exposure if exposure > 0 else 0.0
    prior_days = 30.0
    tail = (tail_events + prior_days * last) / (tail_exposure + prior_days)
    tail = float(min(max(tail, 1e-4), 0.95))
    hazard = np.divide(ended[:grid], at_risk[:grid], out=np.zeros(grid), where=at_risk[:grid] > 0)
    hazard = np.minimum(hazard, 0.999)
    log_s = np.concatenate([[0.0], np.cumsum(np.log1p(-hazard))])
    return Survival(log_s=log_s, tail_hazard=tail)


def kaplan_meier(durations_days: np.ndarray, ended: np.ndarray, **kwargs) -> Survival | None:
    """Kaplan–Meier from individual stays: duration in days and whether it ended (else it
    is right-censored: still open)."""
    durations = np.floor(np.maximum(np.asarray(durations_days, dtype=float), 0)).astype(int)
    ended = np.asarray(ended, dtype=bool)
    size = int(durations.max()) + 1 if len(durations) else 1
    return survival_from_counts(
        np.bincount(durations[ended], minlength=size),
        np.bincount(durations[~ended], minlength=size),
        **kwargs,
    )


def constant_survival(mean_days: float) -> Survival:
    """A constant daily hazard (1 / mean): the fallback when a kind has no history."""
    hazard = min(0.95, 1.0 / max(mean_days, 1.0))
    return Survival(log_s=np.array([0.0]), tail_hazard=hazard)


# --- admission rates -------------------------------------------------------------------------


@dataclass(frozen=True)
class RateParams:
    half_life_days: float = 14.0  # recency weighting of the level
    weekday_strength: float = 20.0  # pseudo-admissions pulling weekday factors to the prior
    share_strength: float = 10.0  # pseudo-admissions pulling a facility's share to its places
    min_history_days: int = 28  # shorter histories lean on the place share (split_rates)
    dispersion: float = 1.0  # scales the rate uncertainty (tuned by the backtest)
    full_ratio_prior: float = 0.5  # admissions into a full house relative to the mean
    full_ratio_strength: float = 5.0  # pseudo-admissions behind the room multipliers


@dataclass(frozen=True)
class Rates:
    """Admission rates of subjects (rows): weekday-neutral level per day, seven weekday
    factors (Monday first, mean 1 over the window), and the squared coefficient of
    variation of the level (the gamma mixture: 0 = Poisson)."""

    level: np.ndarray  # (S,)
    weekday: np.ndarray  # (S, 7)
    cv2: np.ndarray  # (S,)


def weekday_factors(
    counts: np.ndarray,
    weekdays: np.ndarray,
    valid: np.ndarray,
    prior: np.ndarray | None,
    strength: float,
) -> np.ndarray:
    """Multiplicative weekday factors per row of ``counts`` (rows x days): observed counts
    on each weekday against those expected without a weekday effect, each pulled towards
    ``prior`` (rows x 7, default 1) by ``strength`` pseudo-admissions; normalised to mean 1
    over the observed days."""
    counts = np.where(valid, counts, 0.0)
    onehot = np.eye(7)[weekdays]  # (days, 7)
    observed = counts @ onehot  # (rows, 7)
    days_per_weekday = valid.astype(float) @ onehot  # (rows, 7)
    total_days = np.maximum(days_per_weekday.sum(axis=1, keepdims=True), 1.0)
    expected = counts.sum(axis=1, keepdims=True) * days_per_weekday / total_days
    prior = np.ones_like(observed) if prior is None else np.broadcast_to(prior, observed.shape)
    pseudo = strength * days_per_weekday / total_days
    factors = (observed + pseudo * prior) / np.maximum(expected + pseudo, 1e-12)
    mean = (factors * days_per_weekday).sum(axis=1, keepdims=True) / total_days
    return factors / np.where(mean > 0, mean, 1.0)


def _recency_weights(days: int, half_life: float) -> np.ndarray:
    age = np.arange(days)[::-1]  # the last day of the window has age 0
    return 0.5 ** (age / half_life)


def fit_group_rates(
    counts: np.ndarray,
    weekdays: np.ndarray,
    valid: np.ndarray,
    params: RateParams,
    prior_weekday: np.ndarray | None = None,
) -> Rates:
    """Rates of groups (rows) from their own daily counts (rows x days over the window)."""
    counts = np.asarray(counts, dtype=float)
    valid = np.asarray(valid, dtype=bool)
    factors = weekday_factors(counts, weekdays, valid, prior_weekday, params.weekday_strength)
    weights = _recency_weights(counts.shape[1], params.half_life_days)[None, :] * valid
    adjusted = counts / np.maximum(np.take_along_axis(factors, weekdays[None, :], axis=1), 1e-9)
    weight_sum = np.maximum(weights.sum(axis=1), 1e-12)
    level = (weights * adjusted).sum(axis=1) / weight_sum
    # Uncertainty of the level: the estimate's own (a weighted mean of Poisson counts) plus
    # how much the rate moved from week to week beyond Poisson noise.
    eff_days = weight_sum**2 / np.maximum((weights**2).sum(axis=1), 1e-12)
    estimate_cv2 = 1.0 / np.maximum(level * eff_days, 0.5)
    drift_cv2 = _weekly_overdispersion(counts, valid)
    return Rates(level=level, weekday=factors, cv2=(estimate_cv2 + drift_cv2) * params.dispersion)


def _weekly_overdispersion(counts: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(variance - mean) / mean² of whole weeks' counts, >= 0 (0: Poisson or less)."""
    weeks = counts.shape[1] // 7
    if weeks < 3:
        return np.zeros(counts.shape[0])
    tail = slice(counts.shape[1] - 7 * weeks, None)
    weekly = counts[:, tail].reshape(counts.shape[0], weeks, 7).sum(axis=2)
    full = valid[:, tail].reshape(counts.shape[0], weeks, 7).all(axis=2)
    n = full.sum(axis=1)
    mean = np.where(n > 0, (weekly * full).sum(axis=1) / np.maximum(n, 1), 0.0)
    var = ((weekly - mean[:, None]) ** 2 * full).sum(axis=1) / np.maximum(n - 1, 1)
    od = np.where((n >= 3) & (mean > 0), (var - mean) / np.maximum(mean, 1e-9) ** 2, 0.0)
    return np.clip(od, 0.0, 1.0)


def split_rates(
    group: Rates,
    group_of: np.ndarray,
    counts: np.ndarray,
    group_counts: np.ndarray,
    valid: np.ndarray,
    place_share: np.ndarray,
    params: RateParams,
) -> Rates:
    """Rates of members (rows of ``counts``) as their group's rate split by each member's
    share of the group's admissions over the days it was open, shrunk towards its share of
    the group's places (``place_share``) by ``share_strength`` pseudo-admissions and when
    it has been open for fewer than ``min_history_days`` days of the window."""
    counts = np.asarray(counts, dtype=float)
    valid = np.asarray(valid, dtype=bool)
    own = (counts * valid).sum(axis=1)
    of_group = (group_counts[group_of] * valid).sum(axis=1)
    open_days = valid.sum(axis=1)
    strength = params.share_strength * np.maximum(
        1.0, params.min_history_days / np.maximum(open_days, 1)
    )
    share = (own + strength * place_share) / np.maximum(of_group + strength, 1e-9)
    level = group.level[group_of] * share
    # The share's own uncertainty adds to the group's.
    share_cv2 = params.dispersion / (own + 1.0)
    cv2 = group.cv2[group_of] + share_cv2
    return Rates(level=level, weekday=group.weekday[group_of], cv2=cv2)


ROOMY = 3  # free places from which more room no longer changes the admission rate
# Room categories: full (or over), 1 .. ROOMY+ free places (column c: c free places).
CATEGORIES = ROOMY + 1


def room_multipliers(
    admitted: np.ndarray, facility_days: np.ndarray, params: RateParams
) -> np.ndarray:
    """Per group (rows), the admission rate on days that began with 0, 1, .., ROOMY+ free
    places (columns) relative to the group's mean rate per facility-day, each pulled
    towards 1 (``full_ratio_prior`` for full houses) by ``full_ratio_strength``
    pseudo-admissions."""
    mean = admitted.sum(axis=1, keepdims=True) / np.maximum(
        facility_days.sum(axis=1, keepdims=True), 1
    )
    expected = facility_days * mean
    prior = np.ones(admitted.shape[1])
    prior.reshape(-1, CATEGORIES)[:, 0] = params.full_ratio_prior  # a full house, per regime
    strength = params.full_ratio_strength
    ratio = (admitted + strength * prior) / (expected + strength)
    return np.clip(ratio, 0.02, 20.0)


def admissions_with_feedback(
    base: np.ndarray,
    keep: np.ndarray,
    multipliers: np.ndarray,
    stays_mean: np.ndarray,
    stays_var: np.ndarray,
    occupied_now: np.ndarray,
    limit_now: np.ndarray,
    limits: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean-field admissions: expected admissions per day and those still there at each
    day's end, per subject, the rate ``base`` times the multiplier of the room the house is
    expected to have at the day's start (its free places from the mean and variance of the
    occupancy expected by then, a normal approximation).

    base (S, days), keep (S, h, j), multipliers (S, ROOMY + 1), stays_* (S, days) of the
    current stays, limits (S, days) at each day's end, -1: none."""
    subjects, days = base.shape
    daily = np.zeros((subjects, days))
    still = np.zeros((subjects, days))
    edges = np.arange(CATEGORIES)  # free places of each category
    for j in range(days):
        if j == 0:
            mean = occupied_now.astype(float)
            sd = np.full(subjects, 1e-3)
            limit = limit_now
        else:
            mean = stays_mean[:, j - 1] + still[:, j - 1]
            sd = np.sqrt(np.maximum(stays_var[:, j - 1] + still[:, j - 1], 0.25))
            limit = limits[:, j - 1]
        # P(free places <= c) = P(occupancy >= limit - c)
        z = (limit[:, None] - edges[None, :] - 0.5 - mean[:, None]) / sd[:, None]
        at_most = 1 - 0.5 * (1 + _erf(z / np.sqrt(2)))
        at_most[:, -1] = 1.0
        p = np.diff(at_most, prepend=0.0, axis=1)
        multiplier = np.where(limit >= 0, (p * multipliers).sum(axis=1), multipliers[:, -1])
        daily[:, j] = base[:, j] * multiplier
        still += keep[:, :, j] * daily[:, j][:, None]
    return daily, still


# --- the projection --------------------------------------------------------------------------


@dataclass(frozen=True)
class Horizon:
    """The forecast days seen from the start instant: for each day the instants (seconds
    from the start) its admissions begin and end at (the first day starts now), its end,
    and its weekday (0 = Monday)."""

    starts: np.ndarray  # seconds from the start instant, >= 0
    ends: np.ndarray
    weekdays: np.ndarray

    @property
    def days(self) -> int:
        return len(self.ends)

    @property
    def lengths(self) -> np.ndarray:
        """Length of each day's remaining part in days (23/25 h days at clock changes)."""
        return (self.ends - self.starts) / DAY

    @property
    def ahead(self) -> np.ndarray:
        """Days from the start instant to the end of each forecast day."""
        return self.ends / DAY


@dataclass(frozen=True)
class Projection:
    expected: np.ndarray  # (days,)
    low: np.ndarray  # (days,) int
    high: np.ndarray
    median: np.ndarray
    p_over: np.ndarray  # (days,)
    # (days,) P(over at some day's end up to this one): single facilities only, else None
    over_by: np.ndarray | None = None


def stay_probabilities(
    stayed: np.ndarray,
    kind: np.ndarray,
    gone_from: np.ndarray,
    planned: np.ndarray,
    survivals: Sequence[Survival],
    horizon: Horizon,
) -> np.ndarray:
    """(stays x days) probability that each current stay is still there at a day's end:
    ``stayed`` days so far, ``kind`` indexes ``survivals``, from forecast day index
    ``gone_from`` on certainly gone (planned end, 18th birthday), certain until then if
    ``planned``."""
    probs = np.empty((len(stayed), horizon.days))
    for k in np.unique(kind):
        rows = kind == k
        probs[rows] = survivals[k].still_there(stayed[rows, None], horizon.ahead[None, :])
    probs[planned] = 1.0
    probs[np.arange(horizon.days)[None, :] >= gone_from[:, None]] = 0.0
    return probs


def admission_keep(survival: Survival, horizon: Horizon) -> np.ndarray:
    """(h x j): the share of day j's admissions still there at the end of day h."""
    middles = (horizon.starts + horizon.ends) / 2 / DAY
    gap = horizon.ahead[:, None] - middles[None, :]
    return np.where(gap > 0, np.exp(survival.log_survival(np.maximum(gap, 0))), 0.0)


def daily_admissions(level: np.ndarray, weekday: np.ndarray, horizon: Horizon) -> np.ndarray:
    """(subjects x days) expected admissions on each forecast day (its remaining part)."""
    return level[:, None] * weekday[:, horizon.weekdays] * horizon.lengths[None, :]


def _discrete_normal(mean: np.ndarray, var: np.ndarray, top: int) -> np.ndarray:
    """A normal distribution rounded to 0..top: (len, top + 1)."""
    support = np.arange(-1, top + 1) + 0.5
    z = (support[None, :] - mean[:, None]) / np.sqrt(np.maximum(var, 1e-9))[:, None]
    cdf = 0.5 * (1 + _erf(z / np.sqrt(2)))
    pmf = np.diff(cdf, axis=1)
    return pmf / np.maximum(pmf.sum(axis=1, keepdims=True), 1e-300)


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to 1.5e-7 (Abramowitz and Stegun 7.1.26): numpy has none."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1 / (1 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
           + t * 1.061405429))))  # fmt: skip
    return sign * (1 - poly * np.exp(-x * x))


def negative_binomial(mean: np.ndarray, inv_shape: np.ndarray, top: int) -> np.ndarray:
    """pmf over 0..top of a negative binomial with ``mean`` and variance mean + mean² x
    inv_shape (Poisson where inv_shape is 0), per entry: (len, top + 1). The recurrence
    p(k+1) = p(k) (k + r) / (k + 1) x m / (m + r) needs no special functions."""
    mean = np.maximum(np.asarray(mean, dtype=float), 0.0)
    inv_shape = np.broadcast_to(np.asarray(inv_shape, dtype=float), mean.shape)
    poisson = inv_shape < 1e-9
    r = np.where(poisson, 1.0, 1.0 / np.maximum(inv_shape, 1e-9))
    log_p0 = np.where(poisson, -mean, -r * np.log1p(mean / r))
    ratio = mean / (mean + r)
    k = np.arange(top)[None, :]
    factors = np.where(
        poisson[:, None], mean[:, None] / (k + 1), (k + r[:, None]) / (k + 1) * ratio[:, None]
    )
    log_factors = np.log(np.maximum(factors, 1e-300))
    log_pmf = np.concatenate(
        [log_p0[:, None], log_p0[:, None] + np.cumsum(log_factors, axis=1)], axis=1
    )
    pmf = np.exp(log_pmf)
    pmf[mean <= 0] = 0.0
    pmf[mean <= 0, 0] = 1.0
    return pmf


def summarise(
    pmf: np.ndarray, expected: np.ndarray, reserved: np.ndarray, limit: np.ndarray
) -> Projection:
    """Mean, 80 % band, median and P(over the limit) of ``reserved`` (a known count per
    day: reservations, held places, stays certain to be there) + a variable with ``pmf``
    (days x values) and mean ``expected``; ``limit`` -1: none (p_over 0)."""
    cdf = np.cumsum(pmf, axis=1)
    # The band's ends are mid-distribution quantiles (a value's own mass counts half below
    # and half above it): plain quantiles of a small count cover far more than 80 %, the
    # value "same as now" alone often holds 70 % of the mass.
    mid = cdf - pmf / 2
    low = (mid < LOW_Q - 1e-9).sum(axis=1)
    high = np.maximum((mid <= HIGH_Q + 1e-9).sum(axis=1) - 1, low)
    median = (cdf < 0.5 - 1e-9).sum(axis=1)
    threshold = limit - reserved  # over: value > threshold
    index = np.clip(threshold, 0, pmf.shape[1] - 1)
    at_most = cdf[np.arange(len(index)), index]
    at_most = np.where(threshold < 0, 0.0, np.where(threshold >= pmf.shape[1], 1.0, at_most))
    p_over = np.where(limit < 0, 0.0, np.clip(1.0 - at_most, 0.0, 1.0))
    return Projection(
        expected=expected + reserved,
        low=low + reserved,
        high=high + reserved,
        median=median + reserved,
        p_over=p_over,
    )


# --- occupancy as a chain: departures, then admissions that depend on the state ----------------

CHAIN_BUCKETS = (*range(4, 65, 4), 80, 96, 112, 128, 160, 192, 256, 320, 384, 512, 768, 1024)


@dataclass(frozen=True)
class ChainInput:
    """Per facility (rows) and forecast day (columns): the uncertain residents now (stays
    without a certain end), the chance that one present at a day's start leaves during it,
    the admissions expected on the day while the house has room, the ratio of that rate
    while it is full, and from which number of uncertain residents it counts as full."""

    uncertain_now: np.ndarray  # (F,) int
    leave: np.ndarray  # (F, days)
    admissions: np.ndarray  # (F, days) at the reference rate (multiplier 1)
    full_ratio: np.ndarray  # (F, CATEGORIES) multipliers by free places 0 .. ROOMY+
    full_from: np.ndarray  # (F, days) int; a huge value: never full (no limit)
    # (F,) over-dispersion of a day's admissions: variance = mean + mean² x inv_shape
    # (0: Poisson; else negative binomial)
    inv_shape: np.ndarray | None = None
    # (F, days) int, optional: from this many uncertain residents at a day's end the house
    # is over its limit (a huge value: no limit). With it the chain also follows the
    # houses that have not been over yet: the first-passage probability ``over_by``.
    over_from: np.ndarray | None = None

    def rows(self, members: np.ndarray) -> ChainInput:
        """The input of some facilities only."""

        def pick(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[members]

        return ChainInput(
            uncertain_now=self.uncertain_now[members],
            leave=self.leave[members],
            admissions=self.admissions[members],
            full_ratio=self.full_ratio[members],
            full_from=self.full_from[members],
            inv_shape=pick(self.inv_shape),
            over_from=pick(self.over_from),
        )


@dataclass(frozen=True)
class ChainResult:
    pmfs: list[np.ndarray]  # per facility (days, N + 1): uncertain residents at each day's end
    # (F, days) P(over the limit at the end of some day up to this one), 0 without
    # ``over_from``: the chance "over within N days" of the early warning, which is larger
    # than the chance of any single day (the days' outcomes are not the same event)
    over_by: np.ndarray


def _log_factorials(top: int) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, top + 1)))])


def chain_distributions(chain: ChainInput) -> ChainResult:
    """pmf of the uncertain residents at the end of each day, per facility: (days, N + 1),
    and the first-passage probabilities (``ChainResult.over_by``).

    Each day every resident leaves with the day's chance (binomial thinning), then
    admissions arrive: negative binomial (Poisson without over-dispersion) with the rate at
    the room the house has at the day's start (``full_ratio`` by free places). Occupancy
    pulls back towards the limit, as placements do, which a sum of independent ends and
    arrivals would not show. Facilities of similar size are computed together."""
    count, days = chain.admissions.shape
    total_adm = chain.admissions.sum(axis=1)
    dispersion = chain.inv_shape if chain.inv_shape is not None else 0.0
    spread = np.sqrt(total_adm + total_adm**2 * dispersion)
    sizes = chain.uncertain_now + np.ceil(total_adm + 4 * spread + 3).astype(int)
    bucket_of = np.searchsorted(np.array(CHAIN_BUCKETS), sizes)
    result: list[np.ndarray | None] = [None] * count
    over_by = np.zeros((count, days))
    # Houses that cannot get over their limit within the chain's reach are not followed
    # twice (most houses: it halves the work of the board).
    reach = np.zeros(count, dtype=bool)
    if chain.over_from is not None and days:
        reach = chain.over_from.min(axis=1) <= sizes
    for bucket in np.unique(bucket_of):
        top = CHAIN_BUCKETS[bucket] if bucket < len(CHAIN_BUCKETS) else int(sizes.max())
        for tracked in (False, True):
            members = np.nonzero((bucket_of == bucket) & (reach == tracked))[0]
            if not len(members):
                continue
            out, over_by[members] = _chain_bucket(chain, members, top, days, tracked)
            for row, index in enumerate(members):
                result[index] = out[row]
    return ChainResult(pmfs=result, over_by=over_by)  # type: ignore[arg-type]


def _chain_bucket(
    chain: ChainInput, members: np.ndarray, top: int, days: int, tracked: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The chain of some facilities of similar size; ``tracked``: each is followed twice,
    its whole distribution and the part of it never over so far (a sub-distribution: the
    same transitions, its mass from ``over_from`` on dropped each day)."""
    lf = _log_factorials(top)
    x = np.arange(top + 1)
    lower = x[None, :] <= x[:, None]  # [x, y]: y <= x
    log_choose = np.where(lower, lf[:, None] - lf[None, :] - lf[np.abs(x[:, None] - x)], -np.inf)
    # Beyond C(1000, 500) ~ 1e299 the coefficients overflow: such (rare, huge) buckets thin
    # in log space.
    huge = top > 1000
    choose = np.exp(np.minimum(log_choose, 0.0) if huge else log_choose)
    down = np.clip(x[:, None] - x[None, :], 0, top)  # [x, y]: index of q^(x - y)
    # Single precision where the binomial coefficients fit (C(120, 60) ~ 1e35 < 3e38).
    work = np.float32 if top <= 120 else np.float64
    choose32 = choose.astype(work)
    size = len(members)
    copies = 2 if tracked else 1
    state = np.zeros((size, copies, top + 1))
    state[np.arange(size), :, np.minimum(chain.uncertain_now[members], top)] = 1.0
    if tracked:  # each day's check comes after its transition (now does not count)
        over_from = chain.over_from[members]  # (S, days)
    out = np.zeros((size, days, top + 1))
    over_by = np.zeros((size, days))
    ratios = chain.full_ratio[members]
    inv_shape = chain.inv_shape[members] if chain.inv_shape is not None else np.zeros(len(members))
    r = 1.0 / np.maximum(inv_shape, 1e-6)  # Poisson in the limit
    rising = np.log(r[:, None] + np.arange(top)[None, :])  # log(r + i)
    nb_terms = np.concatenate([np.zeros((len(members), 1)), np.cumsum(rising, axis=1)], axis=1)
    nb_terms -= lf[None, :]
    categories = np.arange(CATEGORIES)
    fft_size = 1 << (2 * top + 1).bit_length()
    for day in range(days):
        q = np.clip(chain.leave[members, day], 0.0, 1.0)[:, None]
        powers_p = ((1 - q) ** x[None, :]).astype(work)  # (S, y)
        powers_q = (q ** x[None, :]).astype(work)  # (S, k)
        # thinning[s, x, y] = C(x, y) p^y q^(x - y) (single precision: the matrices are
        # the bulk of the work, and 1e-7 is plenty for quantiles and probabilities)
        if huge:
            log_p = np.log(np.maximum(1 - q, 1e-300))  # (S, 1)
            log_q = np.log(np.maximum(q, 1e-300))
            thinning = np.exp(
                log_choose[None]
                + x[None, None, :] * log_p[:, :, None]
                + down[None] * log_q[:, :, None]
            )
        else:
            thinning = powers_q[:, down]
            thinning *= choose32[None]
            thinning *= powers_p[:, None, :]
        state = np.matmul(state.astype(work), thinning).astype(float)  # (S, copies, x)
        # arrivals at the rate of the room at the start of the day
        rate = chain.admissions[members, day][:, None]
        category = np.clip(chain.full_from[members, day][:, None] - x[None, :], 0, ROOMY)
        lam = np.maximum(rate * ratios, 1e-300)[:, :, None]  # (S, categories, 1)
        # negative binomial: log pmf(k) = log Γ(k + r) - log Γ(r) - log k! + r log(r / (r
        # + m)) + k log(m / (r + m)); the first terms do not change from day to day
        shape = r[:, None, None]
        pois = np.exp(
            nb_terms[:, None, :]
            + shape * np.log(shape / (shape + lam))
            + x[None, None, :] * np.log(lam / (shape + lam))
        )
        pois[:, :, top] += np.maximum(1 - pois.sum(axis=2), 0)  # the tail, at the top
        # z = y + arrivals, the arrivals' rate by the category of y: per category a
        # convolution of the states in it with that pmf (by FFT, all at once)
        in_category = category[:, None, :] == categories[None, :, None]  # (S, cat, x)
        parts = state[:, :, None, :] * in_category[:, None]  # (S, copies, cat, x)
        spectrum = (
            np.fft.rfft(parts, fft_size, axis=3) * np.fft.rfft(pois, fft_size, axis=2)[:, None]
        )
        full = np.maximum(np.fft.irfft(spectrum.sum(axis=2), fft_size, axis=2), 0.0)
        # Beyond the bucket's top: kept at the top (counts as high, not as lost).
        state = full[:, :, : top + 1].copy()
        state[:, :, top] += full[:, :, top + 1 : 2 * top + 1].sum(axis=2)
        # Numerical drift: both copies scaled as the whole distribution's mass is to 1.
        state /= np.maximum(state[:, :1].sum(axis=2, keepdims=True), 1e-300)
        out[:, day] = state[:, 0]
        if tracked:
            state[:, 1] *= x[None, :] < over_from[:, day][:, None]
            over_by[:, day] = np.clip(1.0 - state[:, 1].sum(axis=1), 0.0, 1.0)
    return out, over_by


def sum_distributions(pmfs: Sequence[np.ndarray]) -> np.ndarray:
    """pmf of the sum of independent variables per day: each (days, n_i + 1). Exact (FFT)
    for up to 40 parts, else a discretised normal with the summed mean and variance."""
    if len(pmfs) == 1:
        return pmfs[0]
    days = pmfs[0].shape[0]
    top = sum(p.shape[1] - 1 for p in pmfs)
    if len(pmfs) > 40:
        mean = np.zeros(days)
        var = np.zeros(days)
        for p in pmfs:
            support = np.arange(p.shape[1])
            m = p @ support
            mean += m
            var += p @ support**2 - m**2
        return _discrete_normal(mean, var, top)
    fft_size = 1 << top.bit_length()
    spectrum = np.ones((days, fft_size // 2 + 1), dtype=complex)
    for p in pmfs:
        spectrum *= np.fft.rfft(p, fft_size, axis=1)
    total = np.maximum(np.fft.irfft(spectrum, fft_size, axis=1)[:, : top + 1], 0.0)
    return total / np.maximum(total.sum(axis=1, keepdims=True), 1e-300)
