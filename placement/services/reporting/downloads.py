"""Downloads of the reports: one table per report (German column names) that the page,
the CSV and the XLSX file all show, so that they cannot disagree."""

from __future__ import annotations

import csv
import io

from placement.models.enums import label
from placement.services.reporting.reports import AGE_BANDS, MonthlyReport, StichtagReport

Table = tuple[list[str], list[list[object]]]


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def stichtag_table(report: StichtagReport) -> Table:
    """Header and rows of the Stichtag report, the total last."""
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
    for row in report.rows:
        state = row.state
        body.append(
            [
                row.name,
                label(row.kind),
                row.planning_area or "",
                state.licensed,
                state.usable,
                state.ceiling,
                state.occupied,
                state.reserved,
                state.free,
                state.over_by,
                _rounded(state.utilisation, 4),
                *row.bands,
                row.uma,
            ]
        )
    total = report.total
    body.append(
        [
            "Gesamt",
            "",
            "",
            total.licensed,
            total.usable,
            None,
            total.occupied,
            total.reserved,
            total.free,
            total.over_by,
            _rounded(total.utilisation, 4),
            *report.total_bands,
            report.total_uma,
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
    """An XLSX workbook with one sheet: a title line, a subtitle line, then the table with a
    bold, frozen header row and an autofilter; shares ("Anteil") in a percent format,
    decimals with two places, columns wide enough for their header and values."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    headers, rows = table
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]
    sheet.append([title])
    sheet.append([subtitle])
    sheet.append(headers)
    header_row = 3
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet["A1"].font = Font(bold=True, size=13)
    for row in rows:
        sheet.append(row)
    last_row = header_row + len(rows)
    for cell in sheet[last_row] if rows else ():
        cell.font = Font(bold=True)  # the total
    shares = {i for i, h in enumerate(headers) if "Anteil" in h}
    for index, header in enumerate(headers):
        letter = get_column_letter(index + 1)
        values = [row[index] for row in rows]
        if index in shares:
            number_format = "0.0 %"
        elif any(isinstance(v, float) for v in values):
            number_format = "#,##0.00"
        else:
            number_format = None
        if number_format:
            for cell in sheet[letter][header_row:]:
                cell.number_format = number_format
        widest = max((len(_shown(v, index in shares)) for v in values), default=0)
        # Long headers wrap onto two or three lines instead of widening the column.
        sheet.column_dimensions[letter].width = min(
            max(widest + 2, min(len(header), 18) + 2, 8), 40
        )
    sheet.freeze_panes = f"B{header_row + 1}"
    if headers:
        sheet.auto_filter.ref = f"A{header_row}:{get_column_letter(len(headers))}{last_row}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _shown(value: object, share: bool) -> str:
    """Roughly what Excel shows for a value (for the column width)."""
    if value is None:
        return ""
    if share and isinstance(value, int | float):
        return f"{value * 100:.1f} %"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)
