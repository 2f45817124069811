"""Downloads of the reports: one table per report (German column names) that the page,
the CSV and the XLSX file all show, so that they cannot disagree."""

from __future__ import annotations

import csv
import io

from placement.models.enums import label
from placement.services.reporting.reports import (
    AGE_BANDS,
    MonthlyReport,
    StichtagReport,
    Suppressed,
)

Table = tuple[list[str], list[list[object]]]

# What a download writes in place of a hidden small cell, and the footnote explaining it.
MARKER = "*"


def footnote(minimum: int) -> str:
    """The footnote under a download with hidden cells."""
    return (
        f"{MARKER} Weniger als {minimum} Fälle oder zum Schutz eines solchen Feldes "
        "verborgen (statistische Geheimhaltung); 0 wird als 0 ausgewiesen."
    )


def _cells(values: list, hidden: set[str], key: str, minimum: int) -> list:
    """``values`` with those hidden as ``key:<index>`` replaced by ``Suppressed``."""
    return [
        Suppressed(minimum) if f"{key}:{index}" in hidden else value
        for index, value in enumerate(values)
    ]


def _maybe(value: object, hidden: set[str], key: str, minimum: int) -> object:
    return Suppressed(minimum) if key in hidden else value


def suppressed_in(table: Table) -> int | None:
    """The minimum of the table's hidden cells; None if no cell is hidden."""
    for row in table[1]:
        for value in row:
            if isinstance(value, Suppressed):
                return value.minimum
    return None


def _written(value: object) -> object:
    """A cell as a download writes it: the marker instead of a hidden number."""
    return MARKER if isinstance(value, Suppressed) else value


# A text cell starting with one of these is read by spreadsheet programs as a formula
# (CSV/formula injection, OWASP ASVS 5.3.10): "=HYPERLINK(...)" as a facility's name
# would be a live link or a DDE command in the office's Excel.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: object) -> bool:
    """Whether ``value`` is text that a spreadsheet would take for a formula. Numbers
    (negative ones too) stay numbers and are never touched."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def neutralise(value: object) -> object:
    """A text cell for CSV that no spreadsheet evaluates: OWASP's advice, a leading single
    quote (Excel and LibreOffice show the text as typed and hide the quote)."""
    return f"'{value}" if is_formula_like(value) else value


def csv_cell(value: object) -> object:
    """One CSV cell: empty for None, decimal comma for floats, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(value).replace(".", ",")
    return neutralise(value)


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
                *_cells(row.bands, row.hidden, "band", report.min_cell),
                _maybe(row.uma, row.hidden, "uma", report.min_cell),
            ]
        )
    total = report.total
    hidden = report.total_hidden
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
            *_cells(report.total_bands, hidden, "band", report.min_cell),
            _maybe(report.total_uma, hidden, "uma", report.min_cell),
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
    minimum = report.min_cell
    for row in [*report.rows, report.total]:
        hidden = row.hidden
        reason_cells = [
            _maybe(row.discharges.get(reason, 0), hidden, f"reason:{reason.value}", minimum)
            for reason in reasons
        ]
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
                *reason_cells,
                *_cells(row.bands, hidden, "band", minimum),
                _maybe(_rounded(row.uma_share, 4), hidden, "uma", minimum),
                _rounded(row.average_length, 1),
            ]
        )
    return headers, body


def to_csv(table: Table) -> bytes:
    """Semicolon-separated, decimal comma, UTF-8 with BOM: what German Excel opens as is."""
    headers, rows = table
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in headers])
    for row in rows:
        writer.writerow([csv_cell(_written(v)) for v in row])
    minimum = suppressed_in(table)
    if minimum is not None:
        writer.writerow([footnote(minimum)])
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
    minimum = suppressed_in(table)
    # The footnote on hidden cells goes with the subtitle: the total stays the last row.
    sheet.append([subtitle if minimum is None else f"{subtitle}. {footnote(minimum)}"])
    sheet.append(headers)
    header_row = 3
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet["A1"].font = Font(bold=True, size=13)
    for row in rows:
        sheet.append([_written(v) for v in row])
    for line in sheet.iter_rows():
        for cell in line:
            if is_formula_like(cell.value):
                _as_text(cell)
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
    if isinstance(value, Suppressed):
        return MARKER
    if share and isinstance(value, int | float):
        return f"{value * 100:.1f} %"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _as_text(cell) -> None:
    """A cell openpyxl took for a formula (text starting with "="), kept as plain text;
    the quote prefix keeps Excel from turning it into a formula when it is edited."""
    cell.data_type = "s"
    cell.quotePrefix = True
