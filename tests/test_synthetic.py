"""seed-synthetic: reproducible, keeps the stay invariants, realistic events, refuses data."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

import pytest
from sqlalchemy import select

from placement.extensions import db
from placement.models import AuditEvent, CapacityPeriod, OverOccupancyEvent, Stay
from placement.services.accounts import audit
from placement.services.errors import PlacementError
from placement.services.occupancy.core import covers
from placement.services.occupancy.queries import holds_at, occupancy_at, reservations_at
from placement.services.seed import synthetic
from tests.conftest import at

PARAMS = {"facilities": 12, "youths": 400, "years": 1, "seed": 7, "until": date(2024, 6, 1)}


def fingerprint():
    return db.session.execute(
        select(
            Stay.youth_id, Stay.facility_id, Stay.start_at, Stay.end_at, Stay.end_reason
        ).order_by(Stay.id)
    ).all()


def test_reproducible_and_invariants_hold(ctx):
    result = synthetic.seed_synthetic(audit.CLI, **PARAMS)
    first = fingerprint()
    assert result.stays == len(first) > result.youths / 2
    db.session.rollback()
    synthetic.seed_synthetic(audit.CLI, **PARAMS)
    assert fingerprint() == first

    by_youth = defaultdict(list)
    for youth_id, _facility, start, end, reason in first:
        assert (end is None) == (reason is None)
        assert end is None or end > start
        assert start < at("2024-05-31 22:00")  # 01.06.2024 00:00 Berlin: nothing later
        by_youth[youth_id].append((start, end))
    for spans in by_youth.values():
        spans.sort()
        assert sum(end is None for _s, end in spans) <= 1
        for (_s1, e1), (s2, _e2) in zip(spans, spans[1:], strict=False):
            assert e1 is not None and e1 <= s2  # no overlaps; only the last may be open

    # Capacity histories with changes and temporary ceilings; every event is a real
    # over-occupancy at that instant.
    periods = db.session.scalars(select(CapacityPeriod)).all()
    assert len(periods) > PARAMS["facilities"]
    assert any(p.temporary_ceiling for p in periods)
    events = db.session.scalars(select(OverOccupancyEvent)).all()
    assert events
    for event in events[:25]:
        assert occupancy_at(event.at, [event.facility_id])[event.facility_id] == event.occupied
        assert event.occupied > event.limit
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions == ["synthetic.seed"]  # one summary event, not one per row


def test_index_shaped_occupancy_queries_agree_with_a_plain_count(ctx):
    """occupancy_at/holds_at are written for the indexes; check them against Python."""
    synthetic.seed_synthetic(audit.CLI, **PARAMS)
    stays = db.session.scalars(select(Stay)).all()
    for text in ("2023-09-01 00:00", "2024-01-15 12:30", "2024-05-31 21:59", "2024-07-01 00:00"):
        instant = at(text)
        occupied = Counter(s.facility_id for s in stays if covers(s.start_at, s.end_at, instant))
        held = Counter(
            s.facility_id
            for s in stays
            if s.end_at is not None
            and s.end_at <= instant
            and s.place_held_until is not None
            and s.place_held_until > instant
        )
        assert occupancy_at(instant) == dict(occupied)
        assert holds_at(instant) == dict(held)
        assert reservations_at(instant) == {}  # the seed makes no reservations


def test_refuses_a_database_with_data(ctx, make_facility):
    make_facility()
    with pytest.raises(PlacementError, match="database_not_empty"):
        synthetic.seed_synthetic(audit.CLI, **PARAMS)


def test_cli_command(runner):
    args = ["seed-synthetic", "--facilities", "3", "--youths", "40", "--years", "0.5"]
    args += ["--until", "2024-06-01"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "3 Einrichtungen" in result.output and "Aufenthalte" in result.output
    again = runner.invoke(args=args)
    assert again.exit_code != 0 and "leere Datenbank" in again.output
