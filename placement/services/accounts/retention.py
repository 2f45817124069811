"""Retention: personal fields of youths whose last stay ended long ago are removed.

After ``RETENTION_PERSON_YEARS`` (default 2) since a youth's last stay ended (for youths
without any stay: since the record was created; never while a stay is open), the youth
keeps only what the statistics need: the reference becomes a random "anon-..." token, the
file number, sibling group and excluded facilities go, and the birth date is coarsened
(``coarse_birth_date``) so that every past monthly and Stichtag report stays identical.
Stays are never deleted (occupancy records are kept for at least 5 years, §47 SGB VIII);
only their free-text override reason goes.

The copies in the audit trail go too: in the entries about the youth and its stays (and in
searches whose text named the youth) every personal value is replaced by the salted digest
that already stood for it in the entry's hash (services.accounts.audit), and the salt is
dropped. No hash changes, so the chain verifies as before. The run itself is audited with
counts and ids only."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select, update

from placement.extensions import db
from placement.models import AuditEvent, Stay, Youth
from placement.services.accounts import audit
from placement.timeutil import local
from placement.timeutil import now as utc_now

# The birthdays at which a youth moves to another age band of the reports
# (services.reporting.reports.AGE_BANDS: under 3, 3-6, 6-9, 9-12, 12-14, 14-16, 16-18, 18+).
BAND_LIMITS = (3, 6, 9, 12, 14, 16, 18)
ANON_PREFIX = "anon-"


# --- the birth date ----------------------------------------------------------------------


def birthday(birth_date: date, years: int) -> date:
    """The day on which someone born on ``birth_date`` turns ``years`` (29 Feb: 1 Mar)."""
    try:
        return birth_date.replace(year=birth_date.year + years)
    except ValueError:
        return date(birth_date.year + years, 3, 1)


def _band(birth_date: date, day: date) -> int:
    age = day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))
    return sum(age >= limit for limit in BAND_LIMITS)


def _signature(birth_date: date, first: date, last: date) -> tuple:
    """The age band on every day from ``first`` to ``last``: the band on the first day and
    the days on which it changes."""
    changes = tuple(
        day for day in (birthday(birth_date, n) for n in BAND_LIMITS) if first < day <= last
    )
    return _band(birth_date, first), changes


def stay_days(stays: Iterable[Stay]) -> list[tuple[date, date]]:
    """Per ended stay the Berlin days on which it counts at some instant: from the day of
    its start to the day of its last instant (a stay counts while start <= t < end)."""
    return [
        (local(s.start_at).date(), local(s.end_at - timedelta(microseconds=1)).date())
        for s in stays
        if s.end_at is not None
    ]


def coarse_birth_date(birth_date: date, days: Sequence[tuple[date, date]]) -> date:
    """The least telling birth date with the same age band as ``birth_date`` on every day
    in ``days``: 1 July of the birth year when that works, else the date nearest to it.

    The reports use the age band at admission (monthly) and at the Stichtag, so they stay
    identical. Which dates qualify is an interval around the real one (a band can only
    grow with age), so the nearest is found by bisection; the result depends only on the
    year and on what the past reports show anyway."""
    wanted = [_signature(birth_date, a, b) for a, b in days]

    def same(candidate: date) -> bool:
        return all(
            _signature(candidate, a, b) == sig for (a, b), sig in zip(days, wanted, strict=True)
        )

    target = date(birth_date.year, 7, 1)
    if same(target):
        return target
    bad, good = target.toordinal(), birth_date.toordinal()
    while abs(good - bad) > 1:
        middle = (bad + good) // 2
        if same(date.fromordinal(middle)):
            good = middle
        else:
            bad = middle
    return date.fromordinal(good)


# --- what is due -------------------------------------------------------------------------


def cutoff(instant: datetime, years: int) -> datetime:
    """The instant ``years`` before ``instant`` (29 Feb: 28 Feb)."""
    try:
        return instant.replace(year=instant.year - years)
    except ValueError:
        return instant.replace(year=instant.year - years, day=28)


def due_youth_ids(limit: datetime) -> list[int]:
    """Youths not yet anonymised, without an open stay, whose last stay ended before
    ``limit`` (or who never had a stay and were recorded before it)."""
    last_end = (
        select(Stay.youth_id, func.max(Stay.end_at).label("last_end"))
        .group_by(Stay.youth_id)
        .subquery()
    )
    open_stay = exists().where(Stay.youth_id == Youth.id, Stay.end_at.is_(None))
    query = (
        select(Youth.id)
        .outerjoin(last_end, last_end.c.youth_id == Youth.id)
        .where(
            Youth.anonymised_at.is_(None),
            ~open_stay,
            or_(
                last_end.c.last_end < limit,
                and_(last_end.c.youth_id.is_(None), Youth.created_at < limit),
            ),
        )
        .order_by(Youth.id)
    )
    return list(db.session.scalars(query))


@dataclass
class RetentionPlan:
    """What a run removes: the youths, their stays with a reason, the audit entries."""

    limit: datetime
    youth_ids: list[int] = field(default_factory=list)
    stay_ids: list[int] = field(default_factory=list)
    override_reasons: int = 0
    exclusions: int = 0
    audit_ids: list[int] = field(default_factory=list)


def _audit_subjects(youth_ids: list[int], stay_ids: list[int]):
    conditions = []
    if youth_ids:
        conditions.append(
            and_(AuditEvent.object_type == "youth", AuditEvent.object_id.in_(youth_ids))
        )
    if stay_ids:
        conditions.append(
            and_(AuditEvent.object_type == "stay", AuditEvent.object_id.in_(stay_ids))
        )
    return or_(*conditions)


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _entries_to_erase(youths: list[Youth], stay_ids: list[int]) -> list[AuditEvent]:
    """Audit entries that hold personal values of these youths: those about them or
    their stays, and searches whose text named one of them."""
    found: dict[int, AuditEvent] = {}
    youth_ids = [y.id for y in youths]
    for part in _chunks(youth_ids):
        for row in db.session.scalars(select(AuditEvent).where(_audit_subjects(part, []))):
            found[row.id] = row
    for part in _chunks(stay_ids):
        for row in db.session.scalars(select(AuditEvent).where(_audit_subjects([], part))):
            found[row.id] = row
    names = {
        value.lower()
        for y in youths
        for value in (y.reference, y.file_number)
        if value and len(value) >= 3
    }
    if names:
        searches = select(AuditEvent).where(
            AuditEvent.action == "youths.search", AuditEvent.salt.is_not(None)
        )
        for row in db.session.scalars(searches):
            query = str((row.after or {}).get("query") or "").lower()
            if query and any(name in query for name in names):
                found[row.id] = row
    return [
        row
        for row in sorted(found.values(), key=lambda r: r.id)
        if audit.personal_paths(row.before, row.after, row.reason)
    ]


def plan_retention(instant: datetime | None = None, years: int = 2) -> RetentionPlan:
    """What ``apply_retention`` would remove at ``instant`` (writes nothing)."""
    plan, _youths, _entries = _plan(instant or utc_now(), years)
    return plan


def _plan(instant: datetime, years: int) -> tuple[RetentionPlan, list[Youth], list[AuditEvent]]:
    plan = RetentionPlan(limit=cutoff(instant, years))
    youths: list[Youth] = []
    for part in _chunks(due_youth_ids(plan.limit)):
        youths.extend(db.session.scalars(select(Youth).where(Youth.id.in_(part))))
    plan.youth_ids = [y.id for y in youths]
    for youth in youths:
        plan.exclusions += len(youth.excluded_facilities)
        for stay in youth.stays:
            plan.stay_ids.append(stay.id)
            plan.override_reasons += stay.override_reason is not None
    entries = _entries_to_erase(youths, plan.stay_ids)
    plan.audit_ids = [row.id for row in entries]
    return plan, youths, entries


def _erase_entry(row: AuditEvent) -> None:
    """Replace the entry's personal values by their digests (its hash stays valid)."""
    paths = audit.personal_paths(row.before, row.after, row.reason)
    if row.salt is None:  # cannot happen for sealed entries; keep the values, say nothing
        return
    erased = dict(row.erased or {})
    before = dict(row.before) if isinstance(row.before, dict) else row.before
    after = dict(row.after) if isinstance(row.after, dict) else row.after
    for path in paths:
        if path == "reason":
            erased[path] = audit.value_digest(row.salt, path, row.reason)
            continue
        side, _, key = path.partition(".")
        values = before if side == "before" else after
        erased[path] = audit.value_digest(row.salt, path, values[key])
        values[key] = None
    db.session.execute(
        update(AuditEvent.__table__)
        .where(AuditEvent.__table__.c.id == row.id)
        .values(before=before, after=after, reason=None, salt=None, erased=erased),
        execution_options={audit.ERASURE_OPTION: True},
    )


def _anonymise(youth: Youth, instant: datetime) -> None:
    youth.birth_date = coarse_birth_date(youth.birth_date, stay_days(youth.stays))
    youth.reference = ANON_PREFIX + secrets.token_hex(8)
    youth.file_number = None
    youth.sibling_group = None
    youth.excluded_facilities = []
    youth.anonymised_at = instant
    for stay in youth.stays:
        stay.override_reason = None


def apply_retention(
    actor: audit.Actor, instant: datetime | None = None, years: int = 2
) -> RetentionPlan:
    """Remove the personal fields that are due (see the module docstring); flushes, the
    caller commits. Audited as one entry with counts and ids, without the data."""
    instant = instant or utc_now()
    plan, youths, entries = _plan(instant, years)
    if not plan.youth_ids and not plan.audit_ids:
        return plan
    for youth in youths:
        _anonymise(youth, instant)
    db.session.flush()
    for row in entries:
        _erase_entry(row)
    # The ORM copies of the erased entries are stale now.
    for row in entries:
        db.session.expire(row)
    audit.record(
        actor,
        "retention.apply",
        object_type="youth",
        after={
            "limit": plan.limit.astimezone(UTC).isoformat(),
            "years": years,
            "youths": len(plan.youth_ids),
            "youth_ids": plan.youth_ids,
            "stays": len(plan.stay_ids),
            "override_reasons": plan.override_reasons,
            "exclusions": plan.exclusions,
            "audit_entries": len(plan.audit_ids),
            "audit_ids": plan.audit_ids,
        },
    )
    return plan
