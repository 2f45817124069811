"""The occupancy forecast on constructed histories whose right answer is known: a constant
admission rate, a weekday pattern, a burst, planned ends, youths turning 18, reservations
and held places until they expire, temporary ceilings; groups; the as-of rule (nothing
recorded after the instant changes the forecast); bad input. Plus the pure model pieces
(length of stay, weekday factors, the occupancy chain against a simulation)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest

from placement.extensions import db
from placement.models import CapacityPeriod, Facility, Reservation, Stay, Youth
from placement.models.enums import EndReason, LegalBasis, PlannedEndKind
from placement.services import forecast
from placement.services.accounts import audit
from placement.services.errors import BadInput, Code, NotFound, RuleViolation
from placement.services.forecast import history, model
from placement.services.intake import stays as stay_service
from placement.timeutil import BERLIN
from tests.conftest import create_facility

# A Monday, local midnight, in winter (no clock change within the horizon).
MONDAY = date(2026, 1, 12)
T = datetime.combine(MONDAY, time(0), BERLIN).astimezone(UTC)
_refs = itertools.count(1)


def local(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), BERLIN).astimezone(UTC)


def add_stay(
    facility: Facility,
    start: datetime,
    end: datetime | None = None,
    *,
    birth: date = date(2012, 3, 1),
    planned_on: date | None = None,
    planned_recorded: datetime | None = None,
    held_until: datetime | None = None,
    reason: EndReason = EndReason.RETURN_HOME,
) -> Stay:
    youth = Youth(reference=f"FC-{next(_refs):05d}", birth_date=birth, gender="m", uma=False)
    db.session.add(youth)
    db.session.flush()
    stay = Stay(
        youth_id=youth.id,
        facility_id=facility.id,
        legal_basis=LegalBasis.P42_1_2,
        start_at=start,
        end_at=end,
        end_reason=(EndReason.ABSCONDED if held_until else reason) if end else None,
        place_held_until=held_until,
        planned_end_on=planned_on,
        planned_end_kind=PlannedEndKind.FOLLOW_ON if planned_on else None,
        planned_end_recorded_at=planned_recorded if planned_on else None,
    )
    db.session.add(stay)
    return stay


def anchor_length_of_stay(facility: Facility, count: int = 40, days: int = 300) -> None:
    """Ended stays of exactly ``days`` days, started before the rate window: the kind's
    length of stay, so that younger stays do not end within the horizon."""
    for i in range(count):
        start = T - timedelta(days=360 - i)
        add_stay(facility, start, start + timedelta(days=days))


def daily_admissions(facility: Facility, per_day, *, weeks: int = 12, until: date = MONDAY):
    """Open stays admitted on every day of the ``weeks`` before ``until``: ``per_day(day)``
    of them, spread over the day."""
    first = until - timedelta(days=7 * weeks)
    for offset in range(7 * weeks):
        day = first + timedelta(days=offset)
        for k in range(per_day(day)):
            add_stay(facility, local(day, 8 + (k * 13) % 12, (k * 7) % 60))


def house(licensed: int = 500, **overrides) -> Facility:
    return create_facility(licensed=licensed, valid_from=T - timedelta(days=800), **overrides)


def expected(fc: forecast.Forecast) -> list[float]:
    return [day.expected for day in fc.days]


# --- a constant rate, a weekday pattern, a burst ------------------------------------------------


def test_constant_rate_adds_rate_times_days(ctx):
    facility = house()
    anchor_length_of_stay(facility)
    daily_admissions(facility, lambda day: 3)
    db.session.flush()
    fc = forecast.project_facility(facility.id, at=T, days=14)
    now = fc.occupied_now
    assert now == 3 * 84
    assert fc.admissions_per_day == pytest.approx(3, rel=0.1)
    assert [d.date for d in fc.days] == [MONDAY + timedelta(days=i) for i in range(14)]
    for h, day in enumerate(fc.days, start=1):
        assert day.expected == pytest.approx(now + 3 * h, rel=0.02, abs=1.0)
        # The same process going on lies inside the 80 % band, which widens with time.
        assert day.low <= now + 3 * h <= day.high
        assert day.limit == 500 and day.p_over == 0.0
    widths = [d.high - d.low for d in fc.days]
    assert widths[-1] > widths[0] >= 1
    assert fc.planned_ends == fc.coming_of_age_ends == 0
    assert fc.window_weeks == 12


def test_a_weekday_pattern_shows_in_the_daily_expected_values(ctx):
    facility = house()
    anchor_length_of_stay(facility)
    daily_admissions(facility, lambda day: 6 if day.weekday() == 0 else 1)
    db.session.flush()
    fc = forecast.project_facility(facility.id, at=T, days=14)
    values = [fc.occupied_now, *expected(fc)]
    added = np.diff(values)  # expected admissions on each day (no stay ends)
    mondays = [i for i, d in enumerate(fc.days) if d.date.weekday() == 0]
    others = [i for i, d in enumerate(fc.days) if d.date.weekday() != 0]
    assert mondays == [0, 7]
    assert min(added[mondays]) > 3 * max(added[others])
    assert added[mondays].mean() == pytest.approx(6, rel=0.2)
    assert added[others].mean() == pytest.approx(1, rel=0.25)


def test_after_a_burst_the_rate_rises(ctx):
    facility = house()
    anchor_length_of_stay(facility)
    burst_from = MONDAY - timedelta(days=10)
    daily_admissions(facility, lambda day: 6 if day >= burst_from else 1)
    db.session.flush()
    before = forecast.project_facility(facility.id, at=T - timedelta(days=10), days=7)
    after = forecast.project_facility(facility.id, at=T, days=7)
    plain_mean = (74 + 60) / 84
    assert before.admissions_per_day == pytest.approx(1, rel=0.15)
    # Recent weeks weigh more (half-life two weeks): well above the window's plain mean.
    assert after.admissions_per_day > 1.6 * plain_mean
    assert after.admissions_per_day > 2.5 * before.admissions_per_day
    assert after.admissions_per_day < 6


# --- certain ends, reservations, limits ---------------------------------------------------------


def five_long_stays(facility: Facility, **first) -> list[Stay]:
    """Five open stays admitted before the rate window (so no admissions are expected)."""
    anchor_length_of_stay(facility)
    placed = [add_stay(facility, T - timedelta(days=100 + i), **(first if i == 0 else {}))
              for i in range(5)]  # fmt: skip
    db.session.flush()
    return placed


def test_a_planned_end_leaves_the_expected_count_that_day(ctx):
    facility = house()
    five_long_stays(
        facility, planned_on=MONDAY + timedelta(days=3), planned_recorded=T - timedelta(days=2)
    )
    fc = forecast.project_facility(facility.id, at=T, days=7)
    assert fc.admissions_per_day == pytest.approx(0, abs=0.01)
    assert expected(fc) == pytest.approx([5, 5, 5, 4, 4, 4, 4], abs=0.01)
    assert [d.low for d in fc.days] == [5, 5, 5, 4, 4, 4, 4]
    assert fc.planned_ends == 1


def test_a_planned_end_recorded_later_is_not_known_before(ctx):
    facility = house()
    five_long_stays(
        facility, planned_on=MONDAY + timedelta(days=3), planned_recorded=T + timedelta(hours=1)
    )
    fc = forecast.project_facility(facility.id, at=T, days=7)
    assert expected(fc) == pytest.approx([5] * 7, abs=0.01)
    assert fc.planned_ends == 0


def test_the_planned_end_service_stamps_when_it_was_recorded(ctx):
    facility = house()
    (stay, *_rest) = five_long_stays(facility)
    today = datetime.now(BERLIN).date()
    stay_service.set_planned_end(
        audit.SYSTEM, stay.id, planned_end_on=today + timedelta(days=2), kind="42b"
    )
    assert stay.planned_end_kind == PlannedEndKind.HANDOVER_42B
    assert stay.planned_end_recorded_at is not None
    fc = forecast.project_facility(facility.id, days=5)
    assert fc.planned_ends == 1
    assert expected(fc)[2] == pytest.approx(expected(fc)[1] - 1, abs=0.25)
    stay_service.set_planned_end(audit.SYSTEM, stay.id, planned_end_on=None)
    assert stay.planned_end_recorded_at is None and stay.planned_end_kind is None
    with pytest.raises(RuleViolation) as refused:
        stay_service.set_planned_end(
            audit.SYSTEM, stay.id, planned_end_on=stay.start_at.date() - timedelta(days=1)
        )
    assert refused.value.code == Code.PLANNED_END_BEFORE_ADMISSION
    assert refused.value.field == "planned_end_on"


@pytest.mark.parametrize("age_max, drops", [(17, True), (20, False)])
def test_a_youth_turning_18_leaves_a_house_that_ends_at_17(ctx, age_max, drops):
    facility = house(age_max=age_max)
    birthday = MONDAY + timedelta(days=4)
    five_long_stays(facility, birth=birthday.replace(year=birthday.year - 18))
    fc = forecast.project_facility(facility.id, at=T, days=7)
    after = 4 if drops else 5
    assert expected(fc) == pytest.approx([5, 5, 5, 5, after, after, after], abs=0.01)
    assert fc.coming_of_age_ends == (1 if drops else 0)


def test_reservations_and_held_places_count_until_they_expire(ctx):
    facility = house(licensed=5)
    five_long_stays(facility)
    at = T + timedelta(hours=10)  # Monday 10:00
    db.session.add(
        Reservation(
            facility_id=facility.id,
            created_at=at - timedelta(hours=1),
            expires_at=T + timedelta(hours=30),  # Tuesday 06:00
        )
    )
    # An absconded youth's place is held until Wednesday 12:00.
    add_stay(
        facility,
        T - timedelta(days=90),
        at - timedelta(hours=2),
        held_until=local(MONDAY + timedelta(days=2), 12),
    )
    db.session.flush()
    fc = forecast.project_facility(facility.id, at=at, days=4)
    assert fc.occupied_now == 7
    assert expected(fc) == pytest.approx([7, 6, 5, 5], abs=0.01)
    assert [d.limit for d in fc.days] == [5, 5, 5, 5]
    assert [d.p_over for d in fc.days] == [1.0, 1.0, 0.0, 0.0]
    shortage = forecast.first_shortage(fc, within_days=7, probability=0.7)
    assert shortage is not None and shortage.date == MONDAY


def test_a_temporary_ceiling_ends_within_the_horizon(ctx):
    facility = house(licensed=4)
    period = db.session.query(CapacityPeriod).filter_by(facility_id=facility.id).one()
    period.valid_until = T - timedelta(days=30)
    db.session.add(
        CapacityPeriod(
            facility_id=facility.id,
            valid_from=T - timedelta(days=30),
            valid_until=T + timedelta(days=3),
            licensed_places=4,
            usable_places=6,
            temporary_ceiling=6,
        )
    )
    five_long_stays(facility)
    fc = forecast.project_facility(facility.id, at=T, days=5)
    assert fc.limit_now == 6
    # The ceiling lapses at Thursday 00:00; after it the licensed places count again.
    assert [d.limit for d in fc.days] == [6, 6, 6, 4, 4]
    assert [d.p_over for d in fc.days] == [0.0, 0.0, 0.0, 1.0, 1.0]


# --- groups -------------------------------------------------------------------------------------


def test_kind_profile_and_office_add_up_their_houses(ctx):
    girls = house(licensed=20, genders="f", age_min=12, kind="group_home")
    boys = house(licensed=20, genders="m", age_min=12, kind="group_home", uma_policy="only")
    small = house(licensed=3, kind="foster_emergency", age_max=5)
    for facility, rate in ((girls, 1), (boys, 2), (small, 0)):
        anchor_length_of_stay(facility, count=5)
        daily_admissions(facility, lambda day, rate=rate: rate, weeks=4)
    db.session.flush()
    each = forecast.project_facilities(at=T, days=7)
    assert set(each) == {girls.id, boys.id, small.id}
    office = forecast.project_group(at=T, days=7)
    assert (office.subject, office.key) == ("office", "office")
    assert office.limit_now == 43
    for i in range(7):
        total = sum(fc.days[i].expected for fc in each.values())
        assert office.days[i].expected == pytest.approx(total, abs=0.05)
        assert office.days[i].limit == 43
    homes = forecast.project_group(kind="group_home", at=T, days=7)
    assert homes.occupied_now == each[girls.id].occupied_now + each[boys.id].occupied_now
    assert homes.label == "Wohngruppe"
    girls_profile = forecast.project_group(profile="girls_12_17", at=T, days=7)
    assert girls_profile.occupied_now == each[girls.id].occupied_now
    assert girls_profile.days[0].expected == pytest.approx(each[girls.id].days[0].expected)
    uma = forecast.project_group(profile="uma_boys_14_17", at=T, days=7)
    assert uma.limit_now == 20 and uma.label == "umA-Jungen 14–17"


# --- the as-of rule -----------------------------------------------------------------------------


def test_nothing_recorded_after_the_instant_changes_the_forecast(ctx):
    facility = house(licensed=30)
    other = house(licensed=10, kind="clearing")
    anchor_length_of_stay(facility)
    daily_admissions(facility, lambda day: 1 + day.weekday() % 3, weeks=8)
    open_at_t = add_stay(facility, T - timedelta(days=3))
    later = add_stay(other, T - timedelta(days=20))
    db.session.flush()
    first = forecast.project_facilities(at=T, days=14)
    group = forecast.project_group(at=T, days=14)
    snapshot = history.snapshot_from_db(T, window_days=84, horizon_days=14)

    # What comes after T: admissions, an end of a stay open at T, a planned end recorded
    # later, a reservation, held places, a capacity change entered later.
    for i in range(30):
        add_stay(facility, T + timedelta(hours=3 + i))
    open_at_t.end_at = T + timedelta(hours=5)
    open_at_t.end_reason = EndReason.ABSCONDED
    open_at_t.place_held_until = T + timedelta(days=3)
    later.planned_end_on = MONDAY + timedelta(days=2)
    later.planned_end_kind = PlannedEndKind.HANDOVER_42B
    later.planned_end_recorded_at = T + timedelta(minutes=1)
    db.session.add(
        Reservation(
            facility_id=facility.id,
            created_at=T + timedelta(minutes=30),
            expires_at=T + timedelta(hours=30),
        )
    )
    db.session.add(
        CapacityPeriod(
            facility_id=other.id,
            valid_from=T + timedelta(days=20),
            licensed_places=12,
            usable_places=12,
            created_at=T + timedelta(days=1),
        )
    )
    db.session.flush()
    assert forecast.project_facilities(at=T, days=14) == first
    assert forecast.project_group(at=T, days=14) == group
    # The same facts as arrays: the loader for a whole period cuts the same snapshot.
    tables = history.Tables.load(T + timedelta(days=30))
    cut = tables.snapshot(history.epoch(T), window_days=84)
    again = history.snapshot_from_db(T, window_days=84, horizon_days=14)
    for name in ("stay_facility", "start_facility", "held_facility"):
        assert sorted(getattr(cut, name)) == sorted(getattr(again, name)), name
    assert sorted(cut.stay_start) == sorted(again.stay_start)
    assert sorted(cut.start_at) == sorted(again.start_at)
    assert np.array_equal(cut.los_ended, again.los_ended)
    assert np.array_equal(cut.los_censored, again.los_censored)
    assert np.array_equal(cut.window_occupied, again.window_occupied)
    assert sorted(cut.stay_planned_day) == sorted(again.stay_planned_day)
    assert np.array_equal(snapshot.stay_start, again.stay_start)
    assert np.array_equal(snapshot.stay_planned_day, again.stay_planned_day)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [0, -1, 29, 1000])
def test_days_outside_1_to_28_are_refused(ctx, days):
    with pytest.raises(BadInput) as refused:
        forecast.project_facilities(days=days)
    assert (refused.value.code, refused.value.field) == (Code.OUT_OF_RANGE, "days")


def test_unknown_facility_future_instant_and_unknown_subjects_are_refused(ctx):
    facility = house()
    with pytest.raises(NotFound) as unknown:
        forecast.project_facility(facility.id + 1000)
    assert unknown.value.field == "facility_id"
    with pytest.raises(NotFound):
        forecast.project_facilities([facility.id, facility.id + 1000])
    with pytest.raises(RuleViolation) as future:
        forecast.project_facility(facility.id, at=datetime.now(UTC) + timedelta(days=2))
    assert (future.value.code, future.value.field) == (Code.HISTORY_IN_FUTURE, "at")
    with pytest.raises(BadInput) as naive:
        forecast.project_facility(facility.id, at=datetime(2026, 1, 1))
    assert naive.value.field == "at"
    with pytest.raises(BadInput) as profile:
        forecast.project_group(profile="pirates")
    assert (profile.value.code, profile.value.field) == (Code.UNKNOWN_VALUE, "profile")
    with pytest.raises(BadInput) as kind:
        forecast.project_group(kind="castle")
    assert kind.value.field == "kind"
    with pytest.raises(BadInput):
        forecast.project_group(kind="clearing", profile="girls_12_17")


def test_an_empty_office_has_an_empty_forecast(ctx):
    assert forecast.project_facilities(days=3) == {}
    office = forecast.project_group(days=3)
    assert office.occupied_now == 0 and office.limit_now is None
    assert [(d.expected, d.low, d.high, d.limit, d.p_over) for d in office.days] == [
        (0.0, 0, 0, None, 0.0)
    ] * 3


def test_a_new_house_without_history_gets_its_share_of_places(ctx):
    old = house(licensed=20, kind="clearing")
    anchor_length_of_stay(old)
    daily_admissions(old, lambda day: 2)
    new = create_facility(licensed=20, valid_from=T - timedelta(days=2), kind="clearing")
    db.session.flush()
    each = forecast.project_facilities(at=T, days=7)
    # Half the places of its kind, (nearly) no history: it is expected to take some.
    assert 0.3 < each[new.id].admissions_per_day < 2.0
    assert each[old.id].admissions_per_day > each[new.id].admissions_per_day


# --- the pure model -----------------------------------------------------------------------------


def test_kaplan_meier_of_exponential_stays_with_censoring():
    rng = np.random.default_rng(1)
    durations = rng.exponential(20, 4000)
    censor = rng.uniform(0, 60, 4000)
    survival = model.kaplan_meier(np.minimum(durations, censor), durations <= censor)
    for days in (5, 10, 20, 40):
        assert np.exp(survival.log_survival(np.array([days])))[0] == pytest.approx(
            np.exp(-days / 20), abs=0.03
        )
    # Conditional: a stay of 30 days is still there 10 days later with exp(-10/20).
    assert survival.still_there(np.array([30.0]), np.array([10.0]))[0] == pytest.approx(
        np.exp(-0.5), abs=0.05
    )
    assert model.kaplan_meier(np.array([3.0]), np.array([False])) is None


def test_weekday_factors_are_found_and_shrunk_when_data_is_thin():
    weekdays = np.arange(84) % 7
    strong = np.where(weekdays == 0, 12.0, 2.0)[None, :]
    factors = model.weekday_factors(strong, weekdays, np.ones((1, 84), bool), None, 20.0)
    assert factors[0, 0] / factors[0, 1] == pytest.approx(6, rel=0.15)
    thin = np.zeros((1, 84))
    thin[0, 0] = 1  # one admission, on a Monday
    factors = model.weekday_factors(thin, weekdays, np.ones((1, 84), bool), None, 20.0)
    assert np.allclose(factors, 1, atol=0.35)


def test_negative_binomial_has_its_mean_and_variance():
    pmf = model.negative_binomial(np.array([4.0, 4.0]), np.array([0.0, 0.5]), 80)
    support = np.arange(81)
    assert pmf.sum(axis=1) == pytest.approx([1, 1])
    mean = pmf @ support
    assert mean == pytest.approx([4, 4], abs=1e-6)
    assert pmf @ support**2 - mean**2 == pytest.approx([4, 4 + 16 * 0.5], rel=1e-3)


def test_the_chain_matches_a_simulation_and_its_band_covers_80_percent():
    """Residents leave at 10 % a day, admissions come at 2 a day, a third as often while
    the house is full (10 places): the chain's distribution against 20,000 simulated runs."""
    days, limit = 14, 10
    ratio = np.array([[1 / 3, 1, 1, 1]])
    chain = model.ChainInput(
        uncertain_now=np.array([8]),
        leave=np.full((1, days), 0.1),
        admissions=np.full((1, days), 2.0),
        full_ratio=ratio,
        full_from=np.full((1, days), limit),
        over_from=np.full((1, days), limit + 1),
    )
    result = model.chain_distributions(chain)
    (pmf,) = result.pmfs
    rng = np.random.default_rng(7)
    state = np.full(20000, 8)
    simulated = []
    for _ in range(days):
        state = rng.binomial(state, 0.9)
        rate = np.where(state >= limit, 2.0 / 3, 2.0)
        state = state + rng.poisson(rate)
        simulated.append(state.copy())
    simulated = np.array(simulated)
    # First passage: over at some day's end so far, far likelier than on any single day.
    over_by = np.maximum.accumulate(simulated > limit, axis=0).mean(axis=1)
    assert result.over_by[0] == pytest.approx(over_by, abs=0.02)
    assert result.over_by[0][-1] > (simulated > limit).mean(axis=1).max() + 0.1
    support = np.arange(pmf.shape[1])
    assert pmf @ support == pytest.approx(simulated.mean(axis=1), abs=0.1)
    summary = model.summarise(pmf, pmf @ support, np.zeros(days, int), np.full(days, limit))
    inside = (summary.low[:, None] <= simulated) & (simulated <= summary.high[:, None])
    assert 0.72 <= inside.mean() <= 0.9
    assert summary.p_over == pytest.approx((simulated > limit).mean(axis=1), abs=0.02)


def test_the_model_is_pure_and_the_forecast_sits_below_alerts_and_reporting():
    import grimp

    graph = grimp.build_graph("placement", include_external_packages=True, cache_dir=None)
    imported = graph.find_modules_directly_imported_by("placement.services.forecast.model")
    assert {m.split(".")[0] for m in imported} <= {"__future__", "collections", "dataclasses",
                                                   "numpy"}  # fmt: skip
    layers = ["seed", "reporting", "alerts", "forecast", "planning", "people", "intake",
              "facilities", "occupancy", "accounts", "paging", "errors"]  # fmt: skip
    illegal = graph.find_illegal_dependencies_for_layers(
        layers=layers, containers={"placement.services"}
    )
    assert not illegal, [(d.importer, d.imported) for d in illegal]


def test_the_chain_takes_over_dispersed_admissions_as_negative_binomial():
    chain = model.ChainInput(
        uncertain_now=np.array([0, 0]),
        leave=np.zeros((2, 1)),
        admissions=np.full((2, 1), 2.0),
        full_ratio=np.ones((2, model.CATEGORIES)),
        full_from=np.full((2, 1), 10**9),
        inv_shape=np.array([0.0, 0.5]),
    )
    poisson, dispersed = model.chain_distributions(chain).pmfs
    support = np.arange(poisson.shape[1])
    assert poisson[0] @ support == pytest.approx(2, abs=1e-4)
    assert poisson[0] @ support**2 - 4 == pytest.approx(2, abs=1e-3)
    support = np.arange(dispersed.shape[1])
    assert dispersed[0] @ support == pytest.approx(2, abs=1e-3)
    assert dispersed[0] @ support**2 - 4 == pytest.approx(2 + 4 * 0.5, rel=0.02)
