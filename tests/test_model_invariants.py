"""Invariants of stays, occupancy and capacity periods, on every database backend."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, CapacityPeriod, Stay
from placement.services.accounts import audit
from placement.services.errors import Code, Conflict, PlacementError, RuleViolation
from placement.services.occupancy import capacity
from placement.services.occupancy.core import Capacity, period_in_force
from placement.services.occupancy.queries import capacities_at, occupancy_at
from tests.conftest import at

# --- stays of one youth never overlap -------------------------------------------------


def test_second_open_stay_is_refused(make_facility, make_youth, make_stay):
    house, other = make_facility(), make_facility()
    youth = make_youth()
    make_stay(youth, house, "2024-03-01 10:00")
    with pytest.raises(Conflict, match=Code.OPEN_STAY_EXISTS) as error:
        make_stay(youth, other, "2024-03-05 10:00")
    assert error.value.field == "youth_id"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-02-20 00:00", "2024-03-02 00:00"),  # ends inside
        ("2024-03-05 00:00", "2024-03-06 00:00"),  # lies inside
        ("2024-03-09 23:59", "2024-03-20 00:00"),  # starts inside
        ("2024-02-01 00:00", "2024-04-01 00:00"),  # encloses
        ("2024-03-01 10:00", "2024-03-10 10:00"),  # identical
    ],
)
def test_overlapping_closed_stay_is_refused(make_facility, make_youth, make_stay, start, end):
    house = make_facility()
    youth = make_youth()
    make_stay(youth, house, "2024-03-01 10:00", "2024-03-10 10:00")
    with pytest.raises(Conflict, match=Code.OVERLAPPING_STAY):
        make_stay(youth, house, start, end)


def test_open_stay_after_closed_one_must_not_start_inside_it(make_facility, make_youth, make_stay):
    house = make_facility()
    youth = make_youth()
    make_stay(youth, house, "2024-03-01 10:00", "2024-03-10 10:00")
    with pytest.raises(Conflict, match=Code.OVERLAPPING_STAY):
        make_stay(youth, house, "2024-03-09 10:00")


def test_back_to_back_stays_are_allowed(make_facility, make_youth, make_stay):
    house, other = make_facility(), make_facility()
    youth = make_youth()
    make_stay(youth, house, "2024-03-01 10:00", "2024-03-10 10:00")
    make_stay(youth, other, "2024-03-10 10:00")  # a move: one ends as the next begins
    make_stay(make_youth(), house, "2024-03-01 10:00")  # other youths are independent
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Stay)) == 3


def test_closed_stay_before_an_open_one_may_not_reach_into_it(make_facility, make_youth, make_stay):
    house = make_facility()
    youth = make_youth()
    make_stay(youth, house, "2024-03-10 10:00")
    with pytest.raises(Conflict, match=Code.OVERLAPPING_STAY):
        make_stay(youth, house, "2024-03-01 00:00", "2024-03-10 10:01")
    make_stay(youth, house, "2024-03-01 00:00", "2024-03-10 10:00")


@pytest.mark.parametrize(
    ("end", "reason", "field"),
    [
        ("2024-03-01 09:00", "return_home", "end_at"),
        ("2024-03-01 10:00", "return_home", "end_at"),
        ("2024-03-02 10:00", None, "end_reason"),
    ],
)
def test_end_must_follow_start_and_come_with_a_reason(
    make_facility, make_youth, end, reason, field
):
    from placement.services.intake.stays import record_stay

    with pytest.raises(PlacementError) as error:
        record_stay(
            audit.SYSTEM,
            youth_id=make_youth().id,
            facility_id=make_facility().id,
            legal_basis="42a",
            start_at=at("2024-03-01 10:00"),
            end_at=at(end),
            end_reason=reason,
        )
    assert error.value.field == field


def test_database_itself_refuses_a_second_open_stay(make_facility, make_youth, make_stay):
    house = make_facility()
    youth = make_youth()
    make_stay(youth, house, "2024-03-01 10:00")
    db.session.add(
        Stay(
            youth_id=youth.id,
            facility_id=house.id,
            legal_basis="42a",
            start_at=at("2024-04-01 10:00"),
        )
    )
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()


def test_database_itself_refuses_end_before_start(make_facility, make_youth):
    db.session.add(
        Stay(
            youth_id=make_youth().id,
            facility_id=make_facility().id,
            legal_basis="42a",
            start_at=at("2024-04-01 10:00"),
            end_at=at("2024-03-01 10:00"),
            end_reason="other",
        )
    )
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()


def test_stay_creation_is_audited(make_facility, make_youth, make_stay):
    stay = make_stay(make_youth(), make_facility(), "2024-03-01 10:00")
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="stay.create"))
    assert event.object_id == stay.id
    assert event.after["facility_id"] == stay.facility_id
    assert event.after["start_at"].startswith("2024-03-01T10:00")


# --- occupancy at any instant ---------------------------------------------------------


def test_occupancy_at_past_instants_uses_half_open_intervals(make_facility, make_youth, make_stay):
    house, other = make_facility(), make_facility()
    make_stay(make_youth(), house, "2024-01-01 00:00", "2024-01-10 12:00")
    make_stay(make_youth(), house, "2024-01-10 12:00", "2024-01-20 00:00")
    make_stay(make_youth(), house, "2024-01-05 00:00")
    make_stay(make_youth(), other, "2024-01-10 12:00")

    assert occupancy_at(at("2023-12-31 23:59")) == {}
    assert occupancy_at(at("2024-01-01 00:00")) == {house.id: 1}
    assert occupancy_at(at("2024-01-10 11:59")) == {house.id: 2}
    # The instant one stay ends and another starts, the leaving youth no longer counts.
    assert occupancy_at(at("2024-01-10 12:00")) == {house.id: 2, other.id: 1}
    assert occupancy_at(at("2024-01-20 00:00")) == {house.id: 1, other.id: 1}
    assert occupancy_at(at("2030-01-01 00:00"), [other.id]) == {other.id: 1}


def test_occupancy_is_not_capped_by_capacity(make_facility, make_youth, make_stay):
    house = make_facility(licensed=2)
    for _ in range(5):
        make_stay(make_youth(), house, "2024-01-01 00:00")
    assert occupancy_at(at("2024-02-01 00:00"))[house.id] == 5


def test_instants_in_other_time_zones_compare_correctly(make_facility, make_youth, make_stay):
    from zoneinfo import ZoneInfo

    house = make_facility()
    make_stay(make_youth(), house, "2024-01-01 10:00")  # 11:00 in Berlin
    berlin = ZoneInfo("Europe/Berlin")
    assert occupancy_at(datetime(2024, 1, 1, 10, 59, tzinfo=berlin)) == {}
    assert occupancy_at(datetime(2024, 1, 1, 11, 0, tzinfo=berlin)) == {house.id: 1}


def test_naive_datetimes_are_refused(make_facility, make_youth):
    db.session.add(
        Stay(
            youth_id=make_youth().id,
            facility_id=make_facility().id,
            legal_basis="42a",
            start_at=datetime(2024, 1, 1),
        )
    )
    with pytest.raises(sa.exc.StatementError, match="naive"):
        db.session.flush()


# --- capacity periods -------------------------------------------------------------------


def test_capacity_period_in_force_on_a_date(make_facility):
    house = make_facility(licensed=48, valid_from=at("2023-01-01 00:00"))
    capacity.add_capacity_period(
        audit.SYSTEM,
        house.id,
        valid_from=at("2023-11-06 00:00"),
        licensed_places=48,
        usable_places=40,
        temporary_ceiling=60,
        valid_until=at("2024-02-01 00:00"),
    )
    capacity.add_capacity_period(
        audit.SYSTEM, house.id, valid_from=at("2024-02-01 00:00"), licensed_places=50
    )

    def in_force(text):
        return capacities_at(at(text), [house.id]).get(house.id)

    assert in_force("2022-12-31 23:59") is None
    before = in_force("2023-11-05 23:59")
    assert (before.licensed, before.limit) == (48, 48)
    during = in_force("2023-11-06 00:00")
    assert (during.usable, during.ceiling, during.limit) == (40, 60, 60)
    after = in_force("2024-02-01 00:00")
    assert (after.licensed, after.limit) == (50, 50)
    assert capacities_at(at("2024-01-15 00:00"))[house.id].period_id == during.period_id
    # The pure rule gives the same answer from the periods themselves.
    periods = [Capacity.of(p) for p in house.capacity_periods]
    assert period_in_force(periods, at("2023-11-06 00:00")) == during
    assert period_in_force(periods, at("2022-12-31 23:59")) is None


def test_adding_a_period_closes_the_open_one(make_facility):
    house = make_facility(licensed=10, valid_from=at("2023-01-01 00:00"))
    capacity.add_capacity_period(
        audit.SYSTEM, house.id, valid_from=at("2024-01-01 00:00"), licensed_places=12
    )
    periods = db.session.scalars(
        sa.select(CapacityPeriod)
        .filter_by(facility_id=house.id)
        .order_by(CapacityPeriod.valid_from)
    ).all()
    assert [(p.licensed_places, p.valid_until) for p in periods] == [
        (10, at("2024-01-01 00:00")),
        (12, None),
    ]


def test_overlapping_periods_are_refused(make_facility):
    house = make_facility(valid_from=at("2023-01-01 00:00"))
    capacity.add_capacity_period(
        audit.SYSTEM, house.id, valid_from=at("2024-01-01 00:00"), licensed_places=12
    )
    with pytest.raises(RuleViolation, match=Code.PERIOD_OVERLAP):  # starts before the current
        capacity.add_capacity_period(
            audit.SYSTEM,
            house.id,
            valid_from=at("2023-06-01 00:00"),
            valid_until=at("2023-07-01 00:00"),
            licensed_places=12,
        )


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"licensed_places": -1}, "licensed_places"),
        ({"licensed_places": 5, "usable_places": -1}, "usable_places"),
        ({"licensed_places": 5, "usable_places": 6}, "usable_places"),
        ({"licensed_places": 5, "temporary_ceiling": 5}, "temporary_ceiling"),
        ({"licensed_places": 5, "reserved_places": 6}, "reserved_places"),
        ({"licensed_places": 5, "reserved_places": -1}, "reserved_places"),
        ({"licensed_places": 5, "valid_until": at("2025-01-01 00:00")}, "valid_until"),
    ],
)
def test_bad_capacity_numbers_name_the_field(make_facility, values, field):
    house = make_facility()
    with pytest.raises(RuleViolation) as error:
        capacity.add_capacity_period(
            audit.SYSTEM, house.id, valid_from=at("2025-01-01 00:00"), **values
        )
    assert error.value.field == field


def test_usable_may_exceed_licensed_under_a_ceiling(make_facility):
    house = make_facility(licensed=42)
    period = capacity.add_capacity_period(
        audit.SYSTEM,
        house.id,
        valid_from=at("2025-01-01 00:00"),
        licensed_places=42,
        usable_places=78,
        temporary_ceiling=78,
    )
    assert Capacity.of(period).limit == 78


def test_youth_age_on_a_day(make_youth):
    from datetime import date

    youth = make_youth(birth_date=date(2008, 2, 29))
    assert youth.age_on(date(2026, 2, 28)) == 17
    assert youth.age_on(date(2026, 3, 1)) == 18
