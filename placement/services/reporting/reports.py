"""Stichtag and monthly reports: counts only, never persons.

Definitions (also shown on the report pages):

- A stay counts at instant t when start_at <= t < end_at; a capacity period applies when
  valid_from <= t < valid_until. Days and months are Europe/Berlin calendar days, starting
  at local midnight.
- **Daily occupancy** is the *midnight count* (Mitternachtsbestand): the number of stays
  counting at 00:00 Berlin time of that day. The monthly **average** is the mean of the
  daily occupancies of every day of the month.
- **Peak** is the highest occupancy at any instant of the month (not only at midnight).
- A **day over capacity** is a day on which, at some instant, occupancy exceeded the limit
  in force at that instant (the temporary ceiling while one is valid, else the licensed
  places). Short over-occupancies during the day are thus not hidden by the midnight count.
- **Admissions** are stays starting in the month (a move counts as an admission to the new
  facility and a discharge with end reason "transfer" from the old one); **discharges** are
  stays ending in the month, by end reason.
- **Age bands** (those of the child and youth welfare statistics) use the age at admission
  in the monthly report and the age at the Stichtag in the Stichtag report; "16 bis unter 18"
  holds 16- and 17-year-olds, and anyone 18 or older goes to "18 und älter".
- **umA share** is the share of umA among the month's admissions (among the youths placed
  at the Stichtag in the Stichtag report).
- **Average length of stay** is the mean duration in days of the stays that ended in the
  month (a stay ended by a transfer counts on its own).
- **Small cells** (statistical disclosure control): outside a facility's own view (the
  facilities assigned to the account), a breakdown cell (age band, umA, end reason) of 1 to
  REPORT_MIN_CELL−1 youths is not shown ("<3"); 0 stays 0. Where a row or column total
  would let one hidden cell be recomputed from the others, the next smallest cell of that
  row or column is hidden too (secondary suppression), until no row or column of a
  breakdown has exactly one hidden cell. Totals (occupancy, admissions, discharges) are
  always shown: they are the occupancy everyone sees on the overview.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from markupsafe import Markup
from sqlalchemy import select

from placement.extensions import db
from placement.models import Facility, Stay, Youth
from placement.models.enums import EndReason, FacilityKind, label
from placement.models.youth import age_in_years
from placement.services.accounts import audit, permissions
from placement.services.accounts.permissions import Permission
from placement.services.intake.places import assigned_facility_ids
from placement.services.occupancy.core import DayStat, PlaceState, daily, occupancy_steps
from placement.services.occupancy.queries import (
    capacities_overlapping,
    open_stays_at,
    spans_overlapping,
)
from placement.services.reporting import history
from placement.services.reporting.overview import Totals, board_at
from placement.timeutil import BERLIN, local

AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 3, "unter 3"),
    (3, 6, "3 bis unter 6"),
    (6, 9, "6 bis unter 9"),
    (9, 12, "9 bis unter 12"),
    (12, 14, "12 bis unter 14"),
    (14, 16, "14 bis unter 16"),
    (16, 18, "16 bis unter 18"),
    (18, None, "18 und älter"),
)


def age_band(age: int) -> int:
    """Index into AGE_BANDS; negative ages (data errors) go to the youngest band."""
    for index, (_low, high, _name) in enumerate(AGE_BANDS):
        if high is None or age < high:
            return index
    return len(AGE_BANDS) - 1  # pragma: no cover


def berlin_midnight(day: date) -> datetime:
    """00:00 Europe/Berlin of ``day`` as an aware UTC instant."""
    return datetime.combine(day, time(0), tzinfo=BERLIN).astimezone(UTC)


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """First and last calendar day of a month."""
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return first, following - timedelta(days=1)


# --- the daily figures ------------------------------------------------------------------


def _day_bounds(first_day: date, last_day: date) -> list[datetime]:
    count = (last_day - first_day).days + 1
    return [berlin_midnight(first_day + timedelta(days=i)) for i in range(count + 1)]


def _days(first_day: date, bounds: list[datetime]) -> list[date]:
    return [first_day + timedelta(days=i) for i in range(len(bounds) - 1)]


def _daily(bounds, days, spans, periods) -> list[DayStat]:
    return daily(occupancy_steps(spans, periods, bounds[0], bounds[-1]), bounds, days)


def daily_stats(
    first_day: date, last_day: date, facility_ids: list[int] | None = None
) -> dict[int, list[DayStat]]:
    """Day statistics from ``first_day`` to ``last_day`` (inclusive) per facility, in two
    queries (stays and capacity periods overlapping the range)."""
    bounds = _day_bounds(first_day, last_day)
    days = _days(first_day, bounds)
    spans = spans_overlapping(bounds[0], bounds[-1], facility_ids)
    periods = capacities_overlapping(bounds[0], bounds[-1], facility_ids)
    ids = facility_ids if facility_ids is not None else sorted(set(spans) | set(periods))
    return {fid: _daily(bounds, days, spans.get(fid, []), periods.get(fid, [])) for fid in ids}


# --- small cells ------------------------------------------------------------------------


@dataclass(frozen=True)
class Suppressed:
    """A breakdown cell that is not shown: fewer than ``minimum`` youths, or hidden so that
    another such cell cannot be recomputed from a total. Shown as "<3" on the page; the
    downloads write a footnote marker instead of the number."""

    minimum: int

    def __str__(self) -> str:
        return f"<{self.minimum}"

    def __html__(self) -> str:
        return str(Markup.escape(str(self)))


def min_cell(actor: audit.Actor) -> int:
    """The smallest count shown outside a facility's own view (REPORT_MIN_CELL); 0 for a
    system process (CLI, scheduler), which sees every figure."""
    if actor.role is None:
        return 0
    return max(0, int(current_app.config.get("REPORT_MIN_CELL", 3)))


def protect(cells: list[list[int]], exempt: set[int], minimum: int) -> set[tuple[int, int]]:
    """The cells to hide in a breakdown: ``cells`` holds one row per facility and, last, the
    column totals; each row's own total is shown beside it. Rows in ``exempt`` (a
    facility's own view) are shown in full. Primary: every cell of 1..``minimum``−1.
    Secondary: while a row, or a column with its total, has exactly one hidden cell, its
    next smallest cell is hidden too, or the hidden one could be recomputed as total minus
    the others: a non-zero one if there is one (zeros stay visible where they can), and
    of those one whose other line already has a lone hidden cell (that hides both at
    once instead of opening a new line), else the smallest."""
    if minimum <= 1 or not cells:
        return set()
    height, width = len(cells), len(cells[0])
    hidden = {
        (i, j)
        for i in range(height)
        if i not in exempt
        for j in range(width)
        if 0 < cells[i][j] < minimum
    }

    def lone_in_cross_line(cell: tuple[int, int], along_row: bool) -> bool:
        i, j = cell
        cross = [(k, j) for k in range(height)] if along_row else [(i, k) for k in range(width)]
        return sum(1 for c in cross if c in hidden) == 1

    def next_smallest(line: list[tuple[int, int]], along_row: bool) -> tuple[int, int] | None:
        open_cells = [c for c in line if c not in hidden and c[0] not in exempt]
        if not open_cells:
            return None
        return min(
            open_cells,
            key=lambda c: (
                cells[c[0]][c[1]] == 0,
                not lone_in_cross_line(c, along_row),
                cells[c[0]][c[1]],
                c,
            ),
        )

    lines = [([(i, j) for j in range(width)], True) for i in range(height)]
    lines += [([(i, j) for i in range(height)], False) for j in range(width)]
    changed = True
    while changed:
        changed = False
        for line, along_row in lines:
            if sum(1 for c in line if c in hidden) == 1:
                extra = next_smallest(line, along_row)
                if extra is not None:
                    hidden.add(extra)
                    changed = True
    return hidden


def _hide(rows: list, keys: list[str], cells: list[list[int]], exempt: set[int], minimum: int):
    """Mark the hidden cells of one breakdown on the rows (``row.hidden``)."""
    for i, j in protect(cells, exempt, minimum):
        if keys[j]:
            rows[i].hidden.add(keys[j])


# --- monthly report ---------------------------------------------------------------------


@dataclass
class MonthlyRow:
    facility_id: int | None
    name: str
    kind: FacilityKind | None
    planning_area: str | None
    average: float = 0.0
    peak: int = 0
    days_over: int = 0
    admissions: int = 0
    discharges: dict[EndReason, int] = field(default_factory=dict)
    bands: list[int] = field(default_factory=lambda: [0] * len(AGE_BANDS))
    uma_admissions: int = 0
    length_days_sum: float = 0.0
    # Cells not shown (small cells): "band:<index>", "uma", "reason:<end reason>".
    hidden: set[str] = field(default_factory=set)

    @property
    def discharges_total(self) -> int:
        return sum(self.discharges.values())

    @property
    def uma_share(self) -> float | None:
        return self.uma_admissions / self.admissions if self.admissions else None

    @property
    def average_length(self) -> float | None:
        total = self.discharges_total
        return self.length_days_sum / total if total else None


@dataclass
class MonthlyReport:
    year: int
    month: int
    first_day: date
    last_day: date
    rows: list[MonthlyRow]
    total: MonthlyRow
    min_cell: int = 0

    @property
    def end_reasons(self) -> list[EndReason]:
        return list(EndReason)

    @property
    def suppressed(self) -> bool:
        """Whether any cell is hidden."""
        return any(row.hidden for row in [*self.rows, self.total])


def monthly_report(actor: audit.Actor, year: int, month: int) -> MonthlyReport:
    """The monthly report over every facility with places or stays in the month, in five
    queries whatever the number of facilities."""
    permissions.require(actor.role, Permission.VIEW_COUNTS)
    history.check_month(year, month)
    first_day, last_day = month_bounds(year, month)
    bounds = _day_bounds(first_day, last_day)
    start, end = bounds[0], bounds[-1]
    # Three narrow queries: spans from a covering index, then only the month's admissions
    # (with the youth's birth date and umA flag) and discharges need table rows.
    spans = spans_overlapping(start, end)
    admissions = db.session.execute(
        select(Stay.facility_id, Stay.start_at, Youth.birth_date, Youth.uma)
        .join(Youth, Youth.id == Stay.youth_id)
        .where(Stay.start_at >= start, Stay.start_at < end)
    ).all()
    discharges = db.session.execute(
        select(Stay.facility_id, Stay.start_at, Stay.end_at, Stay.end_reason).where(
            Stay.end_at >= start, Stay.end_at < end
        )
    ).all()
    periods = capacities_overlapping(start, end)
    facilities = db.session.scalars(select(Facility)).all()
    day_list = _days(first_day, bounds)

    rows: dict[int, MonthlyRow] = {
        f.id: MonthlyRow(f.id, f.name, f.kind, f.planning_area) for f in facilities
    }
    for fid, start_at, birth_date, uma in admissions:
        row = rows[fid]
        row.admissions += 1
        row.bands[age_band(age_in_years(birth_date, local(start_at).date()))] += 1
        row.uma_admissions += bool(uma)
    for fid, start_at, end_at, end_reason in discharges:
        row = rows[fid]
        row.discharges[end_reason] = row.discharges.get(end_reason, 0) + 1
        row.length_days_sum += (end_at - start_at).total_seconds() / 86400

    total = MonthlyRow(None, "Gesamt", None, None)
    over_days: set[date] = set()
    kept: list[MonthlyRow] = []
    for facility in facilities:
        fid = facility.id
        if not (facility.active or spans.get(fid) or periods.get(fid)):
            continue
        row = rows[fid]
        days = _daily(bounds, day_list, spans.get(fid, []), periods.get(fid, []))
        row.average = sum(d.midnight for d in days) / len(days)
        row.peak = max(d.peak for d in days)
        row.days_over = sum(d.over for d in days)
        over_days.update(d.day for d in days if d.over)
        kept.append(row)
        total.average += row.average
        total.admissions += row.admissions
        total.uma_admissions += row.uma_admissions
        total.length_days_sum += row.length_days_sum
        for reason, count in row.discharges.items():
            total.discharges[reason] = total.discharges.get(reason, 0) + count
        total.bands = [a + b for a, b in zip(total.bands, row.bands, strict=True)]
    # The total peak is the highest simultaneous occupancy over all facilities; "days over
    # capacity" of the total counts the days on which at least one facility was over.
    all_spans = [span for fid in (r.facility_id for r in kept) for span in spans.get(fid, [])]
    total.peak = max((d.peak for d in _daily(bounds, day_list, all_spans, [])), default=0)
    total.days_over = len(over_days)
    kept.sort(key=lambda r: (label(r.kind), r.name))
    minimum = min_cell(actor)
    if minimum > 1:
        _protect_monthly(actor, kept, total, minimum)
    return MonthlyReport(year, month, first_day, last_day, kept, total, minimum)


def _protect_monthly(
    actor: audit.Actor, rows: list[MonthlyRow], total: MonthlyRow, minimum: int
) -> None:
    """Hide the small cells of the age bands, the umA share and the end reasons of the
    month's admissions and discharges."""
    own = assigned_facility_ids(actor) or frozenset()
    every = [*rows, total]
    exempt = {i for i, row in enumerate(rows) if row.facility_id in own}
    band_keys = [f"band:{j}" for j in range(len(AGE_BANDS))]
    _hide(every, band_keys, [row.bands for row in every], exempt, minimum)
    # umA and the others add up to the admissions: both are cells of one breakdown.
    uma_cells = [[row.uma_admissions, row.admissions - row.uma_admissions] for row in every]
    _hide(every, ["uma", ""], uma_cells, exempt, minimum)
    reasons = list(EndReason)
    reason_cells = [[row.discharges.get(reason, 0) for reason in reasons] for row in every]
    _hide(every, [f"reason:{r.value}" for r in reasons], reason_cells, exempt, minimum)


# --- Stichtag report --------------------------------------------------------------------


@dataclass
class StichtagRow:
    name: str
    kind: FacilityKind | None
    planning_area: str | None
    state: PlaceState
    bands: list[int] = field(default_factory=lambda: [0] * len(AGE_BANDS))
    uma: int = 0
    facility_id: int | None = None
    # Cells not shown (small cells): "band:<index>", "uma".
    hidden: set[str] = field(default_factory=set)

    @property
    def uma_share(self) -> float | None:
        return self.uma / self.state.occupied if self.state.occupied else None


@dataclass
class StichtagReport:
    at: datetime
    rows: list[StichtagRow]
    total: Totals
    total_bands: list[int]
    total_uma: int
    min_cell: int = 0
    total_hidden: set[str] = field(default_factory=set)

    @property
    def suppressed(self) -> bool:
        """Whether any cell is hidden."""
        return bool(self.total_hidden) or any(row.hidden for row in self.rows)


def stichtag_report(actor: audit.Actor, instant: datetime) -> StichtagReport:
    """Occupancy per facility at ``instant`` with age bands (age at the Stichtag) and umA;
    the Stichtag must lie within the data's range (never in the future)."""
    board = board_at(actor, instant, as_of=True)
    stays = open_stays_at(instant, Stay.facility_id, Stay.youth_id)
    placed = db.session.execute(
        select(stays.c.facility_id, Youth.birth_date, Youth.uma).join(
            Youth, Youth.id == stays.c.youth_id
        )
    ).all()
    day = local(instant).date()
    rows: dict[int, StichtagRow] = {
        r.facility.id: StichtagRow(
            r.facility.name,
            r.facility.kind,
            r.facility.planning_area,
            r.state,
            facility_id=r.facility.id,
        )
        for r in board.rows
    }
    for fid, birth_date, uma in placed:
        row = rows.get(fid)
        if row is None:
            continue
        row.bands[age_band(age_in_years(birth_date, day))] += 1
        row.uma += bool(uma)
    total = board.total
    bands = [sum(column) for column in zip(*(row.bands for row in rows.values()), strict=True)]
    uma = sum(row.uma for row in rows.values())
    report = StichtagReport(
        instant, list(rows.values()), total, bands or [0] * len(AGE_BANDS), uma, min_cell(actor)
    )
    if report.min_cell > 1:
        _protect_stichtag(actor, report)
    return report


@dataclass
class _TotalCells:
    """The total line of a Stichtag report as a row of a breakdown (for ``_hide``)."""

    hidden: set[str]


def _protect_stichtag(actor: audit.Actor, report: StichtagReport) -> None:
    """Hide the small cells of the age bands and of umA (umA and the others add up to the
    occupancy) outside the facilities assigned to the account."""
    own = assigned_facility_ids(actor) or frozenset()
    total = _TotalCells(report.total_hidden)
    every = [*report.rows, total]
    exempt = {i for i, row in enumerate(report.rows) if row.facility_id in own}
    band_cells = [row.bands for row in report.rows] + [report.total_bands]
    keys = [f"band:{j}" for j in range(len(AGE_BANDS))]
    _hide(every, keys, band_cells, exempt, report.min_cell)
    uma_cells = [[row.uma, row.state.occupied - row.uma] for row in report.rows]
    uma_cells.append([report.total_uma, report.total.occupied - report.total_uma])
    _hide(every, ["uma", ""], uma_cells, exempt, report.min_cell)
