"""Fast formatters for large tables (the overview has a row per facility, 500 and more).

They give exactly what the ``dt`` and ``percent`` template filters give for this
application's fixed locale (de, Europe/Berlin), but without a Babel lookup per cell, which
costs about 50 µs each and dominated the overview's rendering time. Tests compare them
with the filters."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from markupsafe import Markup, escape

from placement.services.occupancy.core import PlaceState, Status
from placement.timeutil import local


def local_dt(value: datetime | None) -> str:
    """dd.MM.yyyy HH:mm in Europe/Berlin, like the ``dt`` filter."""
    return "" if value is None else local(value).strftime("%d.%m.%Y %H:%M")


def local_date(value: datetime | None) -> str:
    """dd.MM.yyyy in Europe/Berlin, like the ``date`` filter for instants."""
    return "" if value is None else local(value).strftime("%d.%m.%Y")


def percent(value: float | None) -> str:
    """A share as whole per cent with German grouping, like the ``percent`` filter."""
    if value is None:
        return "–"
    # Babel rounds half to even as Python's round() does.
    return f"{round(value * 100):,}".replace(",", ".") + " %"


def _cell(value: object, as_percent: bool) -> str:
    if value is None:
        return "–"
    if as_percent and isinstance(value, float | int):
        return percent(float(value))
    if isinstance(value, float):
        return f"{value:.2f}".replace(".", ",")
    return str(escape(value))


def table_rows_html(
    rows: list[list[object]], *, percent_columns: frozenset[int] = frozenset(), text_columns=3
) -> Markup:
    """<tr> rows of a report table from the same rows the CSV/XLSX downloads hold, so that
    page and downloads cannot disagree. The first cell is the row header; the last row
    (the total) is bold. Rendered here rather than in Jinja: reports have 500 rows of 30
    cells, and Jinja's per-cell overhead made them several times slower."""
    parts = []
    for index, row in enumerate(rows):
        bold = ' class="fw-bold"' if index == len(rows) - 1 else ""
        cells = [f'<th scope="row">{escape(row[0])}</th>']
        for column, value in enumerate(row[1:], start=1):
            align = "" if column < text_columns else ' class="text-end"'
            cells.append(f"<td{align}>{_cell(value, column in percent_columns)}</td>")
        parts.append(f"<tr{bold}>{''.join(cells)}</tr>")
    return Markup("\n".join(parts))


class Badges:
    """The status badge as HTML, its texts looked up and escaped once per page (the board
    renders one per facility): colour and text, never colour alone."""

    def __init__(self) -> None:
        over, full, free = (escape(t) for t in (_("überbelegt"), _("voll"), _("Plätze frei")))
        self.over = f'<span class="badge text-bg-danger">{over} (+'
        self.full = f'<span class="badge text-bg-warning">{full}</span>'
        self.free = f'<span class="badge text-bg-success">{free}</span>'

    def html(self, state: PlaceState) -> str:
        if state.status == Status.OVER:
            return f"{self.over}{state.over_by})</span>"
        return self.full if state.status == Status.FULL else self.free


def status_badge(state: PlaceState) -> Markup:
    """A facility's status as a badge (template helper)."""
    return Markup(Badges().html(state))


def board_rows_html(board, url_head: str, url_tail: str, until: str) -> Markup:
    """The overview's <tr> rows (one per facility), rendered in Python because this is the
    hottest loop of the start page."""
    labels = board.kind_labels
    badges = Badges()
    never, stale = escape(_("nie bestätigt")), escape(_("Bestätigung veraltet"))
    shortage_cell = ShortageCells() if board.forecast else None
    parts = []
    for row in board.rows:
        f, state = row.facility, row.state
        if state.ceiling:
            valid_until = state.capacity.valid_until
            until_text = (
                f' <span class="small text-muted">{until} {local_date(valid_until)}</span>'
                if valid_until
                else ""
            )
            ceiling = f"{state.ceiling}{until_text}"
        else:
            ceiling = "–"
        danger = ' class="table-danger"' if state.over_capacity else ""
        parts.append(
            f'<tr{danger} data-facility="{f.id}">'
            f'<th scope="row"><a href="{url_head}/{f.id}{url_tail}">{escape(f.name)}</a></th>'
            f"<td>{escape(labels[f.kind])}</td>"
            f"<td>{escape(f.planning_area or '–')}</td>"
            f'<td class="text-end">{state.occupied}</td>'
            f'<td class="text-end">{state.licensed}</td>'
            f'<td class="text-end">{state.usable}</td>'
            f'<td class="text-end">{ceiling}</td>'
            f'<td class="text-end">{state.reserved}</td>'
            f'<td class="text-end">{state.free}</td>'
            f'<td class="text-end">{percent(state.utilisation)}</td>'
            f"<td>{badges.html(state)}</td>"
            f"{shortage_cell.html(row, f'{url_head}/{f.id}{url_tail}') if shortage_cell else ''}"
            f'<td class="small">{local_dt(row.last_changed) or "–"}</td>'
            f"{confirmed_cell(row, never, stale)}"
            "</tr>"
        )
    return Markup("\n".join(parts))


class ShortageCells:
    """The "Engpass" cell of a board row: when the forecast first expects the facility over
    its limit, in how many days and how likely ("in 4 Tagen (78 %)", the date below), or
    "–"; its texts looked up once per page."""

    def __init__(self) -> None:
        self.today = escape(_("heute"))
        self.tomorrow = escape(_("morgen"))
        self.in_days = escape(_("in %(n)s Tagen", n="{n}"))
        self.still_over = escape(_("weiterhin überbelegt"))
        self.on_day = escape(_("voraussichtlich überbelegt bis %(date)s", date="{date}"))

    def text(self, shortage) -> str:
        """When, in words, with the probability."""
        if shortage.in_days == 0:
            when = self.still_over if shortage.over_now else self.today
        elif shortage.in_days == 1:
            when = self.tomorrow
        else:
            when = self.in_days.replace("{n}", str(shortage.in_days))
        return f"{when} ({percent(shortage.probability)})"

    def html(self, row, facility_url: str) -> str:
        shortage = row.shortage
        if shortage is None:
            return '<td class="pp-shortage">–</td>'
        day = self.on_day.replace("{date}", shortage.date.strftime("%d.%m.%Y"))
        return (
            '<td class="pp-shortage">'
            f'<a class="badge text-bg-warning" href="{facility_url}#prognose">'
            f"{self.text(shortage)}</a>"
            f'<div class="small text-muted">{day}</div></td>'
        )


def confirmed_cell(row, never: str, stale: str) -> str:
    """The "figures confirmed" cell of a board row: when, and a flag (text, not colour
    alone) when they were never confirmed or not recently."""
    confirmed_at = getattr(row.facility, "confirmed_at", None)
    badge = '<span class="badge text-bg-warning pp-unconfirmed">'
    if confirmed_at is None:
        return f'<td class="small">{badge}{never}</span></td>'
    flag = f" {badge}{stale}</span>" if row.confirmation_stale else ""
    return f'<td class="small">{local_dt(confirmed_at)}{flag}</td>'
