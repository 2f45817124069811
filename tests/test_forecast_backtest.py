"""The forecast backtest: it never reads the future, scores a constructed history whose
answer is known (an episode that builds up is warned ahead, a steady house is forecast
exactly), beats the naive forecast on the synthetic database, and the CLI prints the
figures (``--json`` in the shape of issue #14)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest

from placement.extensions import db
from placement.models import Reservation, Stay
from placement.models.enums import EndReason, PlannedEndKind
from placement.services.accounts import audit
from placement.services.forecast import backtest, history
from placement.services.seed import synthetic
from placement.timeutil import BERLIN
from tests.conftest import create_facility
from tests.test_forecast_model import add_stay, anchor_length_of_stay, local

END_DAY = date(2026, 2, 9)  # a Monday
END = datetime.combine(END_DAY, time(0), BERLIN).astimezone(UTC)


def seed_small(until: date | None = END_DAY) -> None:
    synthetic.seed_synthetic(audit.CLI, facilities=30, youths=5000, years=1.5, seed=3, until=until)
    db.session.flush()


def test_the_backtest_never_reads_the_future(ctx):
    seed_small()
    first = backtest.run_backtest(weeks=2, end=END)
    # Replayed instants see only their past: cutting a snapshot at T from everything
    # recorded up to the end equals cutting it from what was recorded up to T.
    instant = history.epoch(END - timedelta(days=9))
    wide = history.Tables.load(END).snapshot(instant, window_days=84)
    narrow = history.Tables.load(datetime.fromtimestamp(instant, UTC)).snapshot(
        instant, window_days=84
    )
    for name in (
        "stay_facility", "stay_start", "stay_planned_day", "stay_adult_day", "start_facility",
        "start_at", "los_ended", "los_censored", "held_facility", "held_until",
        "window_occupied",
    ):  # fmt: skip
        assert np.array_equal(getattr(wide, name), getattr(narrow, name)), name

    # Everything recorded after the end: new stays, ends of stays open at the end, planned
    # ends, reservations. The replay of the weeks before does not change.
    open_stays = db.session.query(Stay).filter(Stay.end_at.is_(None)).limit(40).all()
    for stay in open_stays[:20]:
        stay.end_at = END + timedelta(hours=5)
        stay.end_reason = EndReason.ABSCONDED
        stay.place_held_until = END + timedelta(days=2)
    for stay in open_stays[20:]:
        stay.planned_end_on = END_DAY + timedelta(days=3)
        stay.planned_end_kind = PlannedEndKind.HANDOVER_42B
        stay.planned_end_recorded_at = END + timedelta(minutes=3)
    facility = open_stays[0].facility
    for i in range(50):
        add_stay(facility, END + timedelta(hours=1 + i))
    db.session.add(
        Reservation(
            facility_id=facility.id,
            created_at=END + timedelta(minutes=1),
            expires_at=END + timedelta(days=2),
        )
    )
    db.session.flush()
    again = backtest.run_backtest(weeks=2, end=END)
    assert again.as_json() == first.as_json()
    assert again.horizons == first.horizons
    assert (again.episodes, again.warned, again.warnings) == (
        first.episodes,
        first.warned,
        first.warnings,
    )


def test_an_episode_that_builds_up_is_warned_days_ahead(ctx):
    """One admission a day, nobody leaves: the house passes its 60 places in the third
    replayed week, and the rule has said so days before."""
    facility = create_facility(licensed=60, valid_from=END - timedelta(days=800))
    anchor_length_of_stay(facility)
    first_admission = END_DAY - timedelta(days=28 + 40)
    day = first_admission
    while day < END_DAY:
        add_stay(facility, local(day, 11))
        day += timedelta(days=1)
    db.session.flush()
    result = backtest.run_backtest(weeks=4, end=END)
    assert result.facilities == 1
    assert result.episodes == 1
    assert result.warned == 1 and result.warned_share == 1.0
    assert result.false_alarms == 0
    # Steady growth: the naive forecast is h behind, the forecast far less (once the house
    # is over, it expects fewer admissions, as a full house usually gets).
    for h, score in result.horizons.items():
        assert score.mae_naive == pytest.approx(h, abs=0.01)
        assert score.mae < score.mae_naive / 2
        assert score.coverage > 0.75


def test_a_steady_house_is_forecast_exactly(ctx):
    facility = create_facility(licensed=10, valid_from=END - timedelta(days=800))
    anchor_length_of_stay(facility)
    for i in range(8):
        add_stay(facility, END - timedelta(days=200 + i))
    db.session.flush()
    result = backtest.run_backtest(weeks=2, end=END)
    for score in result.horizons.values():
        assert (score.mae, score.mae_naive, score.coverage) == (0.0, 0.0, 1.0)
    assert (result.episodes, result.warnings, result.false_alarms) == (0, 0, 0)
    assert result.false_alarms_per_facility_month == 0.0


def test_on_the_synthetic_database_the_forecast_beats_naive(ctx):
    # 60 houses: with 30 the figures at 14 days are within a hundredth of a place of the
    # naive ones either way (too few houses and episodes for a stable comparison).
    synthetic.seed_synthetic(
        audit.CLI, facilities=60, youths=10000, years=1.5, seed=3, until=END_DAY
    )
    db.session.flush()
    result = backtest.run_backtest(weeks=8, end=END)
    assert set(result.horizons) == {1, 3, 7, 14}
    for h, score in result.horizons.items():
        assert score.count > 0
        # Tomorrow is mostly today (the naive forecast is hard to beat a day ahead; on
        # this small database of 30 houses the two are within 1 % of a place a day ahead).
        assert score.mae < score.mae_naive or (h == 1 and score.mae <= score.mae_naive + 0.01), h
        assert 0.75 < score.coverage < 0.9, (h, score)
    # Over-occupancy comes in crunches (bursts, the autumn wave): this winter has none in
    # 60 houses, so the rule must stay quiet (episodes are scored on constructed histories
    # above and on the large database in the benchmark).
    assert result.warned <= result.episodes and result.false_alarms <= result.warnings
    assert result.false_alarms_per_facility_month < 1


def test_cli_prints_the_figures_and_json_in_the_issues_shape(app, runner):
    with app.app_context():
        seed_small(until=None)
        db.session.commit()
    text = runner.invoke(args=["forecast", "backtest", "--weeks", "1"])
    assert text.exit_code == 0, text.output
    assert "Horizont" in text.output and "Frühwarnung" in text.output
    assert "14 Tage" in text.output
    answer = runner.invoke(args=["forecast", "backtest", "--weeks", "1", "--json"])
    assert answer.exit_code == 0, answer.output
    data = json.loads(answer.output)
    assert set(data) == {"horizons", "early_warning"}
    assert set(data["horizons"]) == {"1", "3", "7", "14"}
    for figures in data["horizons"].values():
        assert set(figures) == {"mae", "mae_naive", "coverage"}
        assert all(isinstance(v, float | int) for v in figures.values())
        assert 0 <= figures["coverage"] <= 1
    assert set(data["early_warning"]) == {
        "episodes",
        "warned_3d",
        "false_alarms_per_facility_month",
    }
    assert isinstance(data["early_warning"]["episodes"], int)
    bad = runner.invoke(args=["forecast", "backtest", "--weeks", "0"])
    assert bad.exit_code != 0


def test_a_house_dipping_under_its_limit_for_a_night_stays_in_the_same_episode():
    """Runs over the limit separated by fewer than ``within_days`` midnights under it are
    one real episode (no warning could come days ahead of a return after two nights);
    over from the replay's first midnights on: no episode the rule could have warned."""
    over = np.zeros(40, dtype=bool)
    over[10:14] = True  # an episode
    over[16:18] = True  # back after two nights: the same crisis
    over[30:31] = True  # after twelve nights under the limit: a new one
    assert backtest._episode_starts(over, 7) == [10, 30]
    early = np.zeros(20, dtype=bool)
    early[3:5] = True  # over before seven midnights of the replay had passed
    early[15] = True  # ten nights later
    assert backtest._episode_starts(early, 7) == [15]
    assert backtest._episode_starts(np.zeros(9, dtype=bool), 7) == []
