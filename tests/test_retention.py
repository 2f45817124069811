"""Retention: personal fields of youths whose last stay ended long ago go (in the youth
row, its stays and the audit trail's copies), the stays stay, the reports stay identical,
the audit chain still verifies, and the run is audited with counts and ids only."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from placement import jobs
from placement.extensions import db
from placement.models import AuditEvent, Stay, Youth
from placement.services.accounts import audit, retention
from placement.services.accounts.audit import verify_chain
from placement.services.accounts.retention import coarse_birth_date
from placement.services.reporting.reports import monthly_report, stichtag_report
from tests.conftest import at, create_facility, create_stay, create_youth

NOW = at("2026-06-01 10:00")


def _youth_with_stay(reference, start, end, **fields):
    facility = fields.pop("facility", None) or create_facility()
    override = fields.pop("override", None)
    youth = create_youth(reference=reference, **fields)
    audit.record(audit.CLI, "youth.create", youth, after=audit.snapshot(youth))
    stay = create_stay(youth, facility, start, end, override_reason=override)
    return youth, stay


# --- the coarse birth date ----------------------------------------------------------------


def test_birth_date_becomes_first_of_july_when_the_bands_allow():
    # 15 years old during the whole stay: 14-16 band either way.
    days = [(date(2021, 3, 1), date(2021, 4, 30))]
    assert coarse_birth_date(date(2006, 2, 10), days) == date(2006, 7, 1)


def test_birth_date_keeps_a_band_change_on_the_day_it_happened():
    # The 16th birthday (10.02.2022) falls into the stay: the band changes that day.
    days = [(date(2022, 1, 1), date(2022, 3, 31))]
    reduced = coarse_birth_date(date(2006, 2, 10), days)
    assert reduced == date(2006, 2, 10)


def test_birth_date_moves_as_close_to_july_as_the_reports_allow():
    # Stay ends 31.03.2022, youth turns 16 on 10.05.2022 (after the stay): any birth date
    # after 31.03.2006 keeps the band; the nearest to 1 July is 1 July itself... unless
    # the stay starts after it: here the stay runs 15.05.2021 - 31.03.2022 and the youth
    # turned 15 (no band change at 15), so 1 July works.
    assert coarse_birth_date(date(2006, 5, 10), [(date(2021, 5, 15), date(2022, 3, 31))]) == (
        date(2006, 7, 1)
    )
    # Turning 14 on 20.08.2021 after a stay that ended 10.08.2021: the birth date may move
    # towards July only while the 14th birthday stays after 10.08.2021.
    reduced = coarse_birth_date(date(2007, 8, 20), [(date(2021, 6, 1), date(2021, 8, 10))])
    assert reduced == date(2007, 8, 11)


def test_leap_day_birth_dates():
    # Born 29.02.2004: turns 14 on 01.03.2018 (no 29.02. that year), during the stay.
    days = [(date(2018, 2, 1), date(2018, 3, 5))]
    assert coarse_birth_date(date(2004, 2, 29), days) == date(2004, 3, 1)
    assert retention.birthday(date(2004, 2, 29), 14) == date(2018, 3, 1)


# --- what is due -------------------------------------------------------------------------


def test_only_youths_whose_last_stay_ended_long_ago_are_due(ctx):
    facility = create_facility()
    old, _ = _youth_with_stay("ALT-1", "2021-01-01 08:00", "2024-05-01 08:00", facility=facility)
    recent, _ = _youth_with_stay("NEU-1", "2021-01-01 08:00", "2024-07-01 08:00", facility=facility)
    still, _ = _youth_with_stay(
        "OFFEN-1", "2020-01-01 08:00", "2021-01-01 08:00", facility=facility
    )
    create_stay(still, facility, "2025-01-01 08:00")  # open now: never due
    never = create_youth(reference="OHNE-1")
    never.created_at = at("2023-01-01 00:00")
    fresh = create_youth(reference="OHNE-2")
    fresh.created_at = at("2026-01-01 00:00")
    db.session.flush()
    plan = retention.plan_retention(NOW, years=2)
    assert plan.youth_ids == sorted([old.id, never.id])
    assert retention.plan_retention(NOW, years=1).youth_ids == sorted([old.id, recent.id, never.id])


def test_apply_removes_personal_fields_and_keeps_stays(ctx):
    facility = create_facility()
    other = create_facility()
    youth, stay = _youth_with_stay(
        "ALT-2",
        "2021-01-01 08:00",
        "2022-03-01 08:00",
        facility=facility,
        file_number="AZ 51-2021-17",
        sibling_group="G-9",
        birth_date=date(2008, 3, 3),
        override="Geschwister sollen zusammen bleiben",
    )
    youth.excluded_facilities = [other]
    db.session.flush()
    stay_values = (stay.facility_id, stay.start_at, stay.end_at, stay.end_reason)
    plan = retention.apply_retention(audit.CLI, NOW, years=2)
    db.session.commit()
    db.session.expire_all()
    youth = db.session.get(Youth, youth.id)
    assert plan.youth_ids == [youth.id] and plan.exclusions == 1 and plan.override_reasons == 1
    assert youth.reference.startswith("anon-") and len(youth.reference) == 21
    assert youth.file_number is None and youth.sibling_group is None
    assert youth.excluded_facilities == []
    assert youth.anonymised_at == NOW
    assert youth.birth_date == date(2008, 7, 1)  # 12-14 during the whole stay
    assert youth.gender.value == "m" and youth.uma is False  # kept for the statistics
    stay = db.session.get(Stay, stay.id)
    assert (stay.facility_id, stay.start_at, stay.end_at, stay.end_reason) == stay_values
    assert stay.override_reason is None
    # A second run has nothing to do.
    again = retention.apply_retention(audit.CLI, NOW, years=2)
    assert again.youth_ids == [] and again.audit_ids == []


def test_audit_copies_are_erased_and_the_chain_still_verifies(ctx):
    youth, stay = _youth_with_stay(
        "ALT-3",
        "2021-01-01 08:00",
        "2022-03-01 08:00",
        file_number="AZ-777",
        override="passt nicht zum Profil, aber Notfall",
    )
    audit.record(
        audit.CLI, "stay.correct", stay, before={"x": 1}, after={"x": 2}, reason="Tippfehler"
    )
    search = audit.record(
        audit.CLI, "youths.search", object_type="youth", after={"query": "az-777", "total": 1}
    )
    unrelated_search = audit.record(
        audit.CLI, "youths.search", object_type="youth", after={"query": "ZZZ", "total": 0}
    )
    unrelated = create_youth(reference="BLEIBT-1")
    kept = audit.record(audit.CLI, "youth.create", unrelated, after=audit.snapshot(unrelated))
    db.session.commit()
    hashes = {row.id: row.hash for row in db.session.scalars(select(AuditEvent))}
    plan = retention.apply_retention(audit.CLI, NOW, years=2)
    db.session.commit()
    db.session.expire_all()
    about = db.session.scalars(
        select(AuditEvent).where(
            ((AuditEvent.object_type == "youth") & (AuditEvent.object_id == youth.id))
            | ((AuditEvent.object_type == "stay") & (AuditEvent.object_id == stay.id))
        )
    ).all()
    assert about and all(row.id in plan.audit_ids for row in about if row.erased)
    dump = json.dumps([[r.before, r.after, r.reason] for r in about], ensure_ascii=False)
    for secret in ("ALT-3", "AZ-777", "Notfall", "Tippfehler", "2008-"):
        assert secret not in dump
    created = next(r for r in about if r.action == "youth.create")
    assert created.after["reference"] is None and created.salt is None
    assert created.erased["after.reference"].startswith("sha256:")
    assert db.session.get(AuditEvent, search.id).after == {"query": None, "total": 1}
    assert db.session.get(AuditEvent, unrelated_search.id).after["query"] == "ZZZ"
    assert db.session.get(AuditEvent, kept.id).after["reference"] == "BLEIBT-1"
    # No hash changed, and the chain verifies.
    for row_id, digest in hashes.items():
        assert db.session.get(AuditEvent, row_id).hash == digest
    assert verify_chain().ok
    # The run is audited with counts and ids, without the data.
    entry = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "retention.apply"))
    assert entry.after["youth_ids"] == [youth.id] and entry.after["youths"] == 1
    assert entry.after["audit_ids"] == plan.audit_ids
    assert "ALT-3" not in json.dumps(entry.after) and "AZ-777" not in json.dumps(entry.after)


def test_an_erased_entry_still_detects_tampering(ctx):
    youth, _stay = _youth_with_stay("ALT-4", "2021-01-01 08:00", "2022-03-01 08:00")
    db.session.commit()
    retention.apply_retention(audit.CLI, NOW, years=2)
    db.session.commit()
    created = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "youth.create", AuditEvent.object_id == youth.id
        )
    )
    from sqlalchemy import text

    db.session.execute(
        text("UPDATE audit_event SET after = :after WHERE id = :id"),
        {"after": json.dumps({**created.after, "gender": "w"}), "id": created.id},
    )
    db.session.commit()
    result = verify_chain()
    assert result.first_break.id == created.id and result.first_break.problem == "hash"


def _reports(months, instants):
    monthly = []
    for year, month in months:
        report = monthly_report(audit.SYSTEM, year, month)
        monthly.append(
            [(r.facility_id, r.admissions, r.bands, r.uma_admissions) for r in report.rows]
        )
    stichtag = []
    for instant in instants:
        report = stichtag_report(audit.SYSTEM, instant)
        stichtag.append([(r.name, r.bands, r.uma) for r in report.rows] + [report.total_bands])
    return monthly, stichtag


def test_past_monthly_and_stichtag_reports_stay_identical(ctx):
    facility = create_facility(licensed=5)
    # Crosses the 14th birthday (20.08.2021) during the stay, admitted at 13.
    _youth_with_stay(
        "R-1",
        "2021-06-10 09:00",
        "2021-10-05 12:00",
        facility=facility,
        birth_date=date(2007, 8, 20),
    )
    # Admitted on the day before turning 16; then 16 (band change the next day).
    _youth_with_stay(
        "R-2",
        "2021-03-14 22:30",
        "2021-04-20 08:00",
        facility=facility,
        birth_date=date(2005, 3, 16),
    )
    # No band change: becomes 1 July.
    _youth_with_stay(
        "R-3",
        "2021-02-01 08:00",
        "2021-12-01 08:00",
        facility=facility,
        birth_date=date(2006, 11, 3),
    )
    # Two stays, a small child: turns 3 between them.
    child = create_youth(reference="R-4", birth_date=date(2018, 9, 9))
    create_stay(child, facility, "2021-05-01 08:00", "2021-06-01 08:00")
    create_stay(child, facility, "2021-09-15 08:00", "2021-11-01 08:00")
    db.session.commit()
    months = [(2021, m) for m in range(2, 13)]
    day = datetime(2021, 2, 1, 12, tzinfo=NOW.tzinfo)
    instants = [day + timedelta(days=n, hours=(n * 7) % 24) for n in range(0, 320, 3)]
    instants += [at("2021-08-19 21:59"), at("2021-08-19 22:00"), at("2021-03-15 23:00")]
    before = _reports(months, instants)
    plan = retention.apply_retention(audit.CLI, NOW, years=2)
    db.session.commit()
    db.session.expire_all()
    assert len(plan.youth_ids) == 4
    assert _reports(months, instants) == before
    reduced = {y.reference: y.birth_date for y in db.session.scalars(select(Youth))}
    assert date(2006, 7, 1) in reduced.values()  # R-3's


# --- the command and the job -------------------------------------------------------------


def _old_youth(app, reference="CLI-1"):
    with app.app_context():
        youth, _ = _youth_with_stay(
            reference, "2020-01-01 08:00", "2020-06-01 08:00", file_number="AZ-CLI"
        )
        db.session.commit()
        return youth.id


def test_dry_run_prints_and_writes_nothing(app, runner):
    youth_id = _old_youth(app)
    with app.app_context():
        count = db.session.query(AuditEvent).count()
    result = runner.invoke(args=["retention", "apply", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Probelauf" in result.output and "Jugendliche anonymisiert: 1" in result.output
    assert f"Jugendliche (Id): {youth_id}" in result.output
    with app.app_context():
        assert db.session.get(Youth, youth_id).reference == "CLI-1"
        assert db.session.query(AuditEvent).count() == count


def test_apply_command(app, runner):
    youth_id = _old_youth(app)
    result = runner.invoke(args=["retention", "apply"])
    assert result.exit_code == 0, result.output
    assert "Geändert" in result.output and "Jugendliche anonymisiert: 1" in result.output
    with app.app_context():
        youth = db.session.get(Youth, youth_id)
        assert youth.reference.startswith("anon-") and youth.file_number is None
        entry = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "retention.apply"))
        assert entry.actor == "cli"
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_the_period_is_configurable(app, runner):
    youth_id = _old_youth(app)
    app.config["RETENTION_PERSON_YEARS"] = 10
    result = runner.invoke(args=["retention", "apply"])
    assert "Jugendliche anonymisiert: 0" in result.output
    with app.app_context():
        assert db.session.get(Youth, youth_id).reference == "CLI-1"


def test_scheduled_job(app):
    youth_id = _old_youth(app)
    assert jobs.apply_retention(app) == 1
    assert jobs.apply_retention(app) == 0
    with app.app_context():
        assert db.session.get(Youth, youth_id).anonymised_at is not None
        entry = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "retention.apply"))
        assert entry.actor == "scheduler"


def test_scheduler_runs_retention_at_half_past_three(app):
    from placement.scheduler import Scheduler

    built = Scheduler(app, name="test").build()
    job = built.get_job("retention")
    assert job is not None and job.func is jobs.apply_retention
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("3", "30")
    assert str(job.trigger.timezone) == "Europe/Berlin"


@pytest.mark.parametrize("years", [2])
def test_open_stay_youth_is_never_touched_even_with_old_stays(ctx, years):
    facility = create_facility()
    youth = create_youth(reference="OFFEN-2", file_number="AZ-OFFEN")
    create_stay(youth, facility, "2015-01-01 08:00", "2016-01-01 08:00")
    create_stay(youth, facility, "2016-02-01 08:00")
    db.session.commit()
    plan = retention.apply_retention(audit.CLI, NOW, years=years)
    assert plan.youth_ids == []
    assert db.session.get(Youth, youth.id).file_number == "AZ-OFFEN"
