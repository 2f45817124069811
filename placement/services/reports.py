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
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import or_, select, union_all

from placement.extensions import db
from placement.models import CapacityPeriod, Facility, Stay, Youth
from placement.models.enums import EndReason, FacilityKind, label
from placement.models.youth import age_in_years
from placement.services.occupancy import open_stays_at
from placement.services.overview import BoardRow, board_at
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


# --- the daily sweep --------------------------------------------------------------------


@dataclass(frozen=True)
class DayStat:
    """One Berlin calendar day of one facility (see the module docstring)."""

    day: date
    midnight: int
    peak: int
    licensed: int
    usable: int
    limit: int
    over: bool


def _period_at(periods: list[tuple], moment: datetime):
    for period in periods:
        if period[0] <= moment and (period[1] is None or moment < period[1]):
            return period
    return None


def _sweep(
    bounds: list[datetime], spans: list[tuple], periods: list[tuple], days: list[date] | None = None
) -> list[DayStat]:
    """Day statistics of one facility. ``bounds`` are the Berlin midnights of the days and
    of the day after; ``spans`` (start, end) stays overlapping them; ``periods`` tuples
    (valid_from, valid_until, limit, licensed, usable)."""
    first, last = bounds[0], bounds[-1]
    occupied = 0
    deltas: dict[datetime, int] = defaultdict(int)
    for start, end in spans:
        if start <= first:
            occupied += end is None or end > first
        else:
            deltas[start] += 1
        if end is not None and first < end < last:
            deltas[end] -= 1
    for period in periods:
        for moment in period[:2]:
            if moment is not None and first < moment < last:
                deltas[moment] += 0
    moments = sorted(deltas)
    if days is None:
        days = [local(moment).date() for moment in bounds[:-1]]
    result: list[DayStat] = []
    index = 0
    for day_index in range(len(bounds) - 1):
        day_start, day_end = bounds[day_index], bounds[day_index + 1]
        while index < len(moments) and moments[index] <= day_start:
            occupied += deltas[moments[index]]
            index += 1
        period = _period_at(periods, day_start)
        limit = period[2] if period else 0
        midnight = peak = occupied
        over = occupied > limit
        while index < len(moments) and moments[index] < day_end:
            moment = moments[index]
            occupied += deltas[moment]
            current = _period_at(periods, moment)
            peak = max(peak, occupied)
            over = over or occupied > (current[2] if current else 0)
            index += 1
        result.append(
            DayStat(
                day=days[day_index],
                midnight=midnight,
                peak=peak,
                licensed=period[3] if period else 0,
                usable=period[4] if period else 0,
                limit=limit,
                over=over,
            )
        )
    return result


def _day_bounds(first_day: date, last_day: date) -> list[datetime]:
    count = (last_day - first_day).days + 1
    return [berlin_midnight(first_day + timedelta(days=i)) for i in range(count + 1)]


def _periods_overlapping(start: datetime, end: datetime, facility_ids=None):
    query = select(
        CapacityPeriod.facility_id,
        CapacityPeriod.valid_from,
        CapacityPeriod.valid_until,
        CapacityPeriod.licensed_places,
        CapacityPeriod.usable_places,
        CapacityPeriod.temporary_ceiling,
    ).where(
        CapacityPeriod.valid_from < end,
        or_(CapacityPeriod.valid_until.is_(None), CapacityPeriod.valid_until > start),
    )
    if facility_ids is not None:
        query = query.where(CapacityPeriod.facility_id.in_(list(facility_ids)))
    periods: dict[int, list[tuple]] = defaultdict(list)
    for fid, valid_from, valid_until, licensed, usable, ceiling in db.session.execute(query):
        limit = ceiling if ceiling is not None else licensed
        periods[fid].append((valid_from, valid_until, limit, licensed, usable))
    return periods


def _overlapping(start: datetime, end: datetime, *columns):
    """Subquery of ``columns`` of the stays sharing an instant with [start, end): the open
    ones and those ending after ``start``, as two ranges of the (end_at, start_at, ...)
    index rather than a scan of all history before ``end``."""
    return union_all(
        select(*columns).where(Stay.end_at.is_(None), Stay.start_at < end),
        select(*columns).where(Stay.end_at > start, Stay.start_at < end),
    ).subquery()


def daily_stats(
    first_day: date, last_day: date, facility_ids: list[int] | None = None
) -> dict[int, list[DayStat]]:
    """Day statistics from ``first_day`` to ``last_day`` (inclusive) per facility, in two
    queries (stays and capacity periods overlapping the range)."""
    bounds = _day_bounds(first_day, last_day)
    if facility_ids is not None:
        # One facility: its (facility_id, start_at, end_at) index answers directly.
        query = select(Stay.facility_id, Stay.start_at, Stay.end_at).where(
            Stay.facility_id.in_(facility_ids),
            Stay.start_at < bounds[-1],
            or_(Stay.end_at.is_(None), Stay.end_at > bounds[0]),
        )
    else:
        stays = _overlapping(bounds[0], bounds[-1], Stay.facility_id, Stay.start_at, Stay.end_at)
        query = select(stays.c.facility_id, stays.c.start_at, stays.c.end_at)
    spans: dict[int, list[tuple]] = defaultdict(list)
    for fid, start, end in db.session.execute(query):
        spans[fid].append((start, end))
    periods = _periods_overlapping(bounds[0], bounds[-1], facility_ids)
    ids = facility_ids if facility_ids is not None else sorted(set(spans) | set(periods))
    return {fid: _sweep(bounds, spans.get(fid, []), periods.get(fid, [])) for fid in ids}


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

    @property
    def end_reasons(self) -> list[EndReason]:
        return list(EndReason)


def monthly_report(year: int, month: int) -> MonthlyReport:
    """The monthly report over every facility with places or stays in the month, in five
    queries whatever the number of facilities."""
    first_day, last_day = month_bounds(year, month)
    bounds = _day_bounds(first_day, last_day)
    start, end = bounds[0], bounds[-1]
    # Three narrow queries: spans from a covering index, then only the month's admissions
    # (with the youth's birth date and umA flag) and discharges need table rows.
    overlapping = _overlapping(start, end, Stay.facility_id, Stay.start_at, Stay.end_at)
    span_rows = db.session.execute(
        select(overlapping.c.facility_id, overlapping.c.start_at, overlapping.c.end_at)
    ).all()
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
    periods = _periods_overlapping(start, end)
    facilities = db.session.scalars(select(Facility)).all()
    day_list = [first_day + timedelta(days=i) for i in range(len(bounds) - 1)]

    spans: dict[int, list[tuple]] = defaultdict(list)
    for fid, start_at, end_at in span_rows:
        spans[fid].append((start_at, end_at))
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
        days = _sweep(bounds, spans.get(fid, []), periods.get(fid, []), day_list)
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
    total.peak = max((d.peak for d in _sweep(bounds, all_spans, [], day_list)), default=0)
    total.days_over = len(over_days)
    kept.sort(key=lambda r: (label(r.kind), r.name))
    return MonthlyReport(year, month, first_day, last_day, kept, total)


# --- Stichtag report --------------------------------------------------------------------


@dataclass
class StichtagRow:
    board: BoardRow | None
    name: str
    kind: FacilityKind | None
    planning_area: str | None
    licensed: int = 0
    usable: int = 0
    ceiling: int | None = None
    limit: int = 0
    occupied: int = 0
    reserved: int = 0
    free: int = 0
    over: int = 0
    bands: list[int] = field(default_factory=lambda: [0] * len(AGE_BANDS))
    uma: int = 0

    @property
    def utilisation(self) -> float | None:
        return self.occupied / self.licensed if self.licensed else None

    @property
    def uma_share(self) -> float | None:
        return self.uma / self.occupied if self.occupied else None


@dataclass
class StichtagReport:
    at: datetime
    rows: list[StichtagRow]
    total: StichtagRow


def stichtag_report(instant: datetime) -> StichtagReport:
    """Occupancy per facility at ``instant`` with age bands (age at the Stichtag) and umA."""
    board = board_at(instant)
    stays = open_stays_at(instant, Stay.facility_id, Stay.youth_id)
    placed = db.session.execute(
        select(stays.c.facility_id, Youth.birth_date, Youth.uma).join(
            Youth, Youth.id == stays.c.youth_id
        )
    ).all()
    day = local(instant).date()
    rows: dict[int, StichtagRow] = {}
    for board_row in board.rows:
        f = board_row.facility
        rows[f.id] = StichtagRow(
            board=board_row,
            name=f.name,
            kind=f.kind,
            planning_area=f.planning_area,
            licensed=board_row.licensed,
            usable=board_row.usable,
            ceiling=board_row.ceiling,
            limit=board_row.limit,
            occupied=board_row.occupied,
            reserved=board_row.reserved,
            free=board_row.free,
            over=board_row.excess,
        )
    for fid, birth_date, uma in placed:
        row = rows.get(fid)
        if row is None:
            continue
        row.bands[age_band(age_in_years(birth_date, day))] += 1
        row.uma += bool(uma)
    total = StichtagRow(board=None, name="Gesamt", kind=None, planning_area=None)
    for row in rows.values():
        for name in ("licensed", "usable", "limit", "occupied", "reserved", "free", "over", "uma"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
        total.bands = [a + b for a, b in zip(total.bands, row.bands, strict=True)]
    return StichtagReport(at=instant, rows=list(rows.values()), total=total)


# --- downloads --------------------------------------------------------------------------


Table = tuple[list[str], list[list[object]]]


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def stichtag_table(report: StichtagReport) -> Table:
    """Header and rows of the Stichtag report for CSV/XLSX (German column names)."""
    headers = [
        "Einrichtung",
        "Art",
        "Planungsraum",
        "Genehmigte Plätze",
        "Belegbare Plätze",
        "Befristete Obergrenze",
        "Belegt",
        "Reserviert",
        "Frei",
        "Über Kapazität",
        "Auslastung (Anteil)",
        *[f"Alter {name}" for _low, _high, name in AGE_BANDS],
        "davon umA",
    ]
    body = []
    for row in [*report.rows, report.total]:
        body.append(
            [
                row.name,
                label(row.kind) if row.kind else "",
                row.planning_area or "",
                row.licensed,
                row.usable,
                row.ceiling,
                row.occupied,
                row.reserved,
                row.free,
                row.over,
                _rounded(row.utilisation, 4),
                *row.bands,
                row.uma,
            ]
        )
    return headers, body


def monthly_table(report: MonthlyReport) -> Table:
    """Header and rows of the monthly report for CSV/XLSX (German column names)."""
    reasons = report.end_reasons
    headers = [
        "Einrichtung",
        "Art",
        "Planungsraum",
        "Durchschnittliche Belegung",
        "Höchststand",
        "Tage über Kapazität",
        "Aufnahmen",
        "Entlassungen",
        *[f"Entlassung: {label(reason)}" for reason in reasons],
        *[f"Aufnahmen {name}" for _low, _high, name in AGE_BANDS],
        "umA-Anteil an Aufnahmen",
        "Durchschnittliche Verweildauer (Tage)",
    ]
    body = []
    for row in [*report.rows, report.total]:
        body.append(
            [
                row.name,
                label(row.kind) if row.kind else "",
                row.planning_area or "",
                _rounded(row.average),
                row.peak,
                row.days_over,
                row.admissions,
                row.discharges_total,
                *[row.discharges.get(reason, 0) for reason in reasons],
                *row.bands,
                _rounded(row.uma_share, 4),
                _rounded(row.average_length, 1),
            ]
        )
    return headers, body


def to_csv(table: Table) -> bytes:
    """Semicolon-separated, decimal comma, UTF-8 with BOM: what German Excel opens as is."""
    headers, rows = table
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow(
            [
                "" if v is None else str(v).replace(".", ",") if isinstance(v, float) else v
                for v in row
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(table: Table, title: str, subtitle: str) -> bytes:
    """An XLSX workbook with one sheet: a title line, a subtitle line, then the table."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    headers, rows = table
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]
    sheet.append([title])
    sheet.append([subtitle])
    sheet.append(headers)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    sheet["A1"].font = Font(bold=True, size=13)
    for row in rows:
        sheet.append(row)
    sheet.freeze_panes = "B4"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
