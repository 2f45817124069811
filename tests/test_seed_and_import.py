"""seed-demo, import-scenario and the migrations."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from placement.extensions import db
from placement.models import (
    Base,
    CapacityPeriod,
    Facility,
    OverOccupancyEvent,
    Stay,
    User,
    Youth,
)
from placement.services.occupancy.queries import capacities_at, occupancy_at
from placement.services.seed.demo import DEMO_PASSWORD, demo_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "placement" / "demo" / "leipzig-2023-11.json"


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _facility(code: str) -> Facility:
    return db.session.scalar(sa.select(Facility).filter_by(code=code))


def test_seed_demo_builds_the_leipzig_picture(app, runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "leitung@demo.local" in result.output
    now = datetime.now(UTC)
    with app.app_context():
        muehlholz, friesen = _facility("muehlholz"), _facility("friesen")
        counts = occupancy_at(now)
        assert counts[muehlholz.id] == 76
        assert capacities_at(now)[muehlholz.id].licensed == 48
        assert counts[friesen.id] == 25
        assert capacities_at(now)[friesen.id].licensed == 40
        # Friesenstraße opened with 25 places before the second building added 15.
        assert capacities_at(now - timedelta(days=60))[friesen.id].licensed == 25
        assert sum(counts.values()) == len(demo_scenario()["youths"])
        # A year of history exists, and nobody is ever in two places at once.
        assert occupancy_at(now - timedelta(days=200)).get(muehlholz.id, 0) > 48
        assert _count(Stay) > 500
        users = db.session.scalars(sa.select(User)).all()
        assert {u.role.value for u in users} == {
            "admin",
            "department_head",
            "facility_manager",
            "on_call",
        }
        assert all(u.check_password(DEMO_PASSWORD) for u in users)
        assert _facility("zuflucht").anonymous_address
        # The admissions that went over capacity left their events, as live ones would.
        events = db.session.scalars(sa.select(OverOccupancyEvent)).all()
        assert {e.facility_id for e in events} >= {muehlholz.id}
        assert all(e.occupied > e.limit for e in events)


def test_seed_demo_twice_does_not_duplicate(app, runner):
    runner.invoke(args=["seed-demo"])
    with app.app_context():
        before = (_count(Facility), _count(Youth), _count(Stay), _count(User))
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0
    assert "bereits Daten" in result.output
    with app.app_context():
        assert (_count(Facility), _count(Youth), _count(Stay), _count(User)) == before


def test_the_demo_facility_manager_runs_the_two_clearing_houses(app, runner):
    runner.invoke(args=["seed-demo"])
    with app.app_context():
        manager = db.session.scalar(sa.select(User).where(User.email == "einrichtung@demo.local"))
        assert sorted(f.code for f in manager.facilities) == ["friesen", "muehlholz"]
        others = db.session.scalars(sa.select(User).where(User.email != manager.email)).all()
        assert all(not user.facilities for user in others)


def test_seeded_stays_never_overlap_per_youth(app, runner):
    runner.invoke(args=["seed-demo"])
    with app.app_context():
        a, b = sa.orm.aliased(Stay), sa.orm.aliased(Stay)
        far = datetime(9999, 1, 1, tzinfo=UTC)
        clashes = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(a)
            .join(
                b,
                sa.and_(
                    a.youth_id == b.youth_id,
                    a.id < b.id,
                    a.start_at < sa.func.coalesce(b.end_at, far),
                    b.start_at < sa.func.coalesce(a.end_at, far),
                ),
            )
        )
        assert clashes == 0


def test_import_scenario_is_idempotent(app, runner):
    result = runner.invoke(args=["import-scenario", str(SCENARIO)])
    assert result.exit_code == 0, result.output
    assert "14 neu" in result.output and "158 neu" in result.output
    result = runner.invoke(args=["import-scenario", str(SCENARIO)])
    assert result.exit_code == 0
    assert "158 bereits vorhanden" in result.output
    with app.app_context():
        assert (_count(Facility), _count(Youth), _count(Stay)) == (14, 158, 158)
        as_of = datetime(2023, 11, 3, 12, tzinfo=UTC)
        assert occupancy_at(as_of)[_facility("muehlholz").id] == 76
        youth = db.session.scalar(sa.select(Youth).filter_by(reference="L-0021"))
        assert [f.code for f in youth.excluded_facilities] == ["wg-gruenau"]
        assert youth.age_on(as_of.date()) == 15
        assert db.session.scalar(
            sa.select(Stay.pinned).join(Youth).filter(Youth.reference == "L-0008")
        )


def test_import_scenario_updates_changed_capacity(app, runner, tmp_path):
    runner.invoke(args=["import-scenario", str(SCENARIO)])
    data = json.loads(SCENARIO.read_text())
    data["facilities"][0]["capacity"] = 60
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data))
    result = runner.invoke(args=["import-scenario", str(changed), "--as-of", "2023-12-01"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        house = _facility("muehlholz")
        periods = db.session.scalars(
            sa.select(CapacityPeriod)
            .filter_by(facility_id=house.id)
            .order_by(CapacityPeriod.valid_from)
        ).all()
        assert [p.licensed_places for p in periods] == [48, 60]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["youths"][0].update(facility="nowhere"),
            "youths[0] (id 'L-0001').facility: unknown facility 'nowhere'",
        ),
        (
            lambda d: d["facilities"][1].update(id="muehlholz"),
            "facilities[1] (id 'muehlholz').id: duplicate facility id",
        ),
        (
            lambda d: d["facilities"][0].update(capacity=-1),
            "facilities[0] (id 'muehlholz').capacity: must not be negative",
        ),
        (lambda d: d["youths"][3].update(age=30), "youths[3] (id 'L-0004').age"),
        (lambda d: d["youths"][2].update(gender="x"), "youths[2] (id 'L-0003').gender"),
        (lambda d: d["youths"][2].pop("uma"), "youths[2] (id 'L-0003').uma: missing field"),
        (
            lambda d: d["youths"][0].update(excluded=["nowhere"]),
            "youths[0] (id 'L-0001').excluded: unknown facility",
        ),
        (lambda d: d["facilities"][0].pop("kind"), "kind: needed for the import"),
    ],
)
def test_import_scenario_names_bad_entries_and_writes_nothing(
    app, runner, tmp_path, mutate, message
):
    data = json.loads(SCENARIO.read_text())
    mutate(data)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = runner.invoke(args=["import-scenario", str(bad)])
    assert result.exit_code == 2
    assert message in result.output
    with app.app_context():
        assert _count(Facility) == 0


def test_import_scenario_rejects_malformed_json(app, runner, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = runner.invoke(args=["import-scenario", str(bad)])
    assert result.exit_code != 0
    assert "kein gültiges JSON" in result.output


def test_migrations_match_models_and_rerun_is_a_noop(app):
    with app.app_context():
        upgrade()  # second run on a migrated database
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []


def _uncovered_stays(now: datetime) -> list[str]:
    """Stays whose whole interval (up to now if open) is not covered by capacity periods
    of their facility, as readable lines."""
    periods: dict[int, list[tuple[datetime, datetime | None]]] = {}
    for p in db.session.scalars(sa.select(CapacityPeriod).order_by(CapacityPeriod.valid_from)):
        periods.setdefault(p.facility_id, []).append((p.valid_from, p.valid_until))
    far = datetime(9999, 1, 1, tzinfo=UTC)
    merged: dict[int, list[tuple[datetime, datetime]]] = {}
    for fid, spans in periods.items():
        out: list[list[datetime]] = []
        for start, until in spans:
            until = until or far
            if out and start <= out[-1][1]:
                out[-1][1] = max(out[-1][1], until)
            else:
                out.append([start, until])
        merged[fid] = [(a, b) for a, b in out]
    bad = []
    for stay in db.session.scalars(sa.select(Stay)):
        end = stay.end_at or max(now, stay.start_at)
        if not any(a <= stay.start_at and end <= b for a, b in merged.get(stay.facility_id, [])):
            bad.append(f"stay {stay.id} of facility {stay.facility_id}: {stay.start_at}–{end}")
    return bad


def _past_days_on_no_places(first_day, last_day) -> list[str]:
    from placement.services.reporting.reports import daily_stats

    return [
        f"facility {fid} on {d.day}: {d.peak} on {d.licensed} places"
        for fid, days in daily_stats(first_day, last_day).items()
        for d in days
        if d.peak > 0 and d.licensed == 0
    ]


def test_every_demo_stay_lies_within_a_capacity_period(app, runner):
    """No demo facility ever has residents on no places (once: 24 youths on 0 places in
    Friesenstraße before it opened, 467 % in past overviews)."""
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    now = datetime.now(UTC)
    with app.app_context():
        assert _uncovered_stays(now) == []
        today = now.date()
        assert _past_days_on_no_places(today - timedelta(days=400), today) == []
        friesen = _facility("friesen")
        opened = min(p.valid_from for p in friesen.capacity_periods)
        first_stay = db.session.scalar(
            sa.select(sa.func.min(Stay.start_at)).where(Stay.facility_id == friesen.id)
        )
        assert first_stay >= opened
        # Before the opening the house is neither on the board nor occupied.
        assert occupancy_at(opened - timedelta(days=1)).get(friesen.id, 0) == 0
        # Its history is there, but only after the opening.
        assert occupancy_at(opened + timedelta(days=20)).get(friesen.id, 0) > 0


def test_every_synthetic_stay_lies_within_a_capacity_period(app):
    from datetime import date

    from placement.services.accounts import audit
    from placement.services.seed import synthetic

    with app.app_context():
        synthetic.seed_synthetic(
            audit.CLI, facilities=12, youths=300, years=1.0, seed=7, until=date(2026, 6, 1)
        )
        db.session.commit()
        horizon = datetime(2026, 6, 1, tzinfo=UTC)
        assert _uncovered_stays(horizon) == []
        assert _past_days_on_no_places(date(2025, 1, 1), date(2026, 5, 31)) == []
