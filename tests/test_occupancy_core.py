"""The pure capacity core: place figures, the period in force and the occupancy timeline,
without a database (hand-computed values)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from placement.services.occupancy.core import (
    Capacity,
    PlaceState,
    Status,
    covers,
    daily,
    occupancy_steps,
    period_in_force,
)


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def capacity(
    licensed=10, usable=None, ceiling=None, kept_free=0, start="2024-01-01 00:00", end=None
):
    return Capacity(
        valid_from=t(start),
        valid_until=t(end) if end else None,
        licensed=licensed,
        usable=licensed if usable is None else usable,
        ceiling=ceiling,
        kept_free=kept_free,
    )


def test_intervals_are_half_open():
    assert covers(t("2024-01-01 00:00"), t("2024-01-02 00:00"), t("2024-01-01 00:00"))
    assert not covers(t("2024-01-01 00:00"), t("2024-01-02 00:00"), t("2024-01-02 00:00"))
    assert covers(t("2024-01-01 00:00"), None, t("2030-01-01 00:00"))
    assert not covers(t("2024-01-01 00:00"), None, t("2023-12-31 23:59"))


def test_period_in_force():
    first = capacity(48, end="2024-03-01 00:00")
    second = capacity(40, ceiling=60, start="2024-03-01 00:00")
    assert period_in_force([first, second], t("2024-02-29 23:59")) is first
    assert period_in_force([first, second], t("2024-03-01 00:00")) is second
    assert period_in_force([first, second], t("2023-12-31 23:59")) is None


@pytest.mark.parametrize(
    ("cap", "occupied", "reservations", "held", "expected"),
    [
        # licensed, usable, limit, reserved, free, over_by, status
        (capacity(10), 7, 1, 1, (10, 10, 10, 2, 1, 0, Status.FREE)),
        (capacity(10), 9, 1, 0, (10, 10, 10, 1, 0, 0, Status.FULL)),
        (capacity(10, usable=8), 9, 0, 0, (10, 8, 10, 0, 0, 0, Status.FULL)),
        (capacity(48), 76, 0, 0, (48, 48, 48, 0, 0, 28, Status.OVER)),
        # A temporary ceiling is the limit while it is in force.
        (capacity(42, usable=78, ceiling=78), 60, 0, 0, (42, 78, 78, 0, 18, 0, Status.FREE)),
        # Without a capacity period there is no place: anybody in it is over.
        (None, 0, 0, 0, (0, 0, 0, 0, 0, 0, Status.FULL)),
        (None, 2, 0, 0, (0, 0, 0, 0, 0, 2, Status.OVER)),
    ],
)
def test_place_figures(cap, occupied, reservations, held, expected):
    state = PlaceState(cap, occupied, reservations, held)
    got = (
        state.licensed,
        state.usable,
        state.limit,
        state.reserved,
        state.free,
        state.over_by,
        state.status,
    )
    assert got == expected
    assert state.over_capacity == (expected[-1] == Status.OVER)
    assert state.has_capacity == (cap is not None)


def test_kept_free_places_are_shown_not_subtracted():
    state = PlaceState(capacity(10, kept_free=2), 5)
    assert (state.kept_free, state.free) == (2, 5)


def test_above_usable_and_utilisation():
    state = PlaceState(capacity(10, usable=6), 5, reservations=2)
    assert state.above_usable and not state.over_capacity
    assert state.utilisation == 0.5
    assert PlaceState(None, 3).utilisation is None


def test_arrivals_take_over_their_reservation_or_hold():
    state = PlaceState(capacity(3), 1, reservations=1, held=1)
    assert state.free == 0
    after = state.after_arrivals(1, releasing=1)
    assert (after.occupied, after.reservations, after.held, after.free) == (2, 0, 1, 0)
    back = state.after_arrivals(1, releasing_held=1)
    assert (back.occupied, back.reservations, back.held) == (2, 1, 0)
    # Never below zero: a reservation that is not there is not released.
    assert PlaceState(capacity(3), 0).after_arrivals(1, releasing=1).reservations == 0


def test_occupancy_steps_count_stays_at_each_change():
    periods = [capacity(2, end="2024-01-03 00:00"), capacity(1, start="2024-01-03 00:00")]
    spans = [
        (t("2023-12-30 10:00"), None),  # before the range, still there
        (t("2023-12-30 10:00"), t("2024-01-01 00:00")),  # ends exactly at the start
        (t("2024-01-02 08:00"), t("2024-01-04 12:00")),
        (t("2024-01-05 00:00"), None),  # after the range
    ]
    steps = occupancy_steps(spans, periods, t("2024-01-01 00:00"), t("2024-01-04 23:59"))
    assert [(s.at, s.occupied, s.limit, s.over) for s in steps] == [
        (t("2024-01-01 00:00"), 1, 2, False),
        (t("2024-01-02 08:00"), 2, 2, False),
        (t("2024-01-03 00:00"), 2, 1, True),  # the capacity falls: over without an arrival
        (t("2024-01-04 12:00"), 1, 1, False),
    ]


def test_daily_midnight_count_peak_and_over():
    periods = [capacity(2)]
    spans = [
        (t("2024-01-01 00:00"), None),
        (t("2024-01-01 09:00"), t("2024-01-01 17:00")),
        (t("2024-01-01 10:00"), t("2024-01-02 10:00")),
    ]
    days = [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]
    bounds = [t("2024-01-01 00:00") + timedelta(days=i) for i in range(4)]
    stats = daily(occupancy_steps(spans, periods, bounds[0], bounds[-1]), bounds, days)
    assert [(d.midnight, d.peak, d.limit, d.over) for d in stats] == [
        (1, 3, 2, True),  # three at 10:00 on two places, back to two by the evening
        (2, 2, 2, False),
        (1, 1, 2, False),
    ]
    assert all((d.licensed, d.usable) == (2, 2) for d in stats)


def test_daily_without_capacity():
    bounds = [t("2024-01-01 00:00"), t("2024-01-02 00:00")]
    steps = occupancy_steps([(t("2023-12-01 00:00"), None)], [], bounds[0], bounds[-1])
    (stat,) = daily(steps, bounds, [date(2024, 1, 1)])
    assert (stat.midnight, stat.limit, stat.over, stat.licensed) == (1, 0, True, 0)
