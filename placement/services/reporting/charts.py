"""Server-rendered SVG charts: they need no JavaScript, load nothing from elsewhere, and the
pages always put the same figures in a data table beside them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from markupsafe import Markup, escape


class DayPoint(Protocol):
    day: object
    peak: int
    midnight: int
    limit: int
    usable: int
    over: bool


class ForecastPoint(Protocol):
    date: date
    expected: float
    low: int
    high: int
    limit: int | None


class ForecastLine(Protocol):
    """What the chart draws of a forecast: where it starts (the day of the instant it is
    computed from, the share of that day gone, the occupancy then) and its days."""

    start_day: date
    start_fraction: float
    start_value: int
    days: Sequence[ForecastPoint]


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def occupancy_chart(
    days: Sequence[DayPoint],
    *,
    title: str,
    description: str,
    legend: tuple[str, str, str] = ("Höchststand", "Grenze", "belegbar"),
    forecast: ForecastLine | None = None,
    forecast_legend: tuple[str, str, str] = ("Prognose", "80-%-Band", "jetzt"),
    width: int = 760,
    height: int = 260,
) -> Markup:
    """Daily peak occupancy as bars (over-capacity days hatched as well as red, so colour is
    not the only cue), the limit as a solid step line and usable places as a dashed one.

    With a ``forecast`` (whose start day is one of ``days``), the chart continues after
    "now" with the expected occupancy at the end of each day as a dashed line over its
    shaded 80 % band, and the limit line continues over the forecast days."""
    left, right, top, bottom = 40, 10, 26, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    first_day = getattr(days[0], "day", None) if days else None
    ahead: list[tuple[int, ForecastPoint]] = []  # (slot index, day) of the forecast
    start_slot = 0.0
    if forecast is not None and isinstance(first_day, date) and forecast.days:
        start_slot = (forecast.start_day - first_day).days + forecast.start_fraction
        ahead = [
            ((point.date - first_day).days, point)
            for point in forecast.days
            if (point.date - first_day).days >= 0
        ]
        if not ahead or not 0 <= start_slot <= len(days):
            ahead = []
    n = max(len(days), *(slot + 1 for slot, _ in ahead), 1)
    top_value = max(
        [
            1,
            *(d.peak for d in days),
            *(d.limit for d in days),
            *(d.usable for d in days),
            *(point.high for _, point in ahead),
            *(point.limit for _, point in ahead if point.limit is not None),
            *((forecast.start_value,) if ahead and forecast is not None else ()),
        ]
    )
    # A round axis maximum (1, 2, 5 times a power of ten steps).
    step = 1
    while top_value / step > 6:
        for factor in (2, 5, 10):
            if top_value / (step * factor) <= 6:
                step *= factor
                break
        else:
            step *= 10
    y_max = ((top_value + step - 1) // step) * step or 1

    def x(i: float) -> float:
        return left + plot_w * i / n

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_max)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="pp-chart" viewBox="0 0 {width} {height}"'
        ' role="img" aria-labelledby="chart-title chart-desc"'
        ' preserveAspectRatio="xMinYMin meet">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(description)}</desc>',
        '<defs><pattern id="pp-hatch" width="4" height="4" patternUnits="userSpaceOnUse"'
        ' patternTransform="rotate(45)"><rect width="2" height="4" fill="#fff" opacity=".55"/>'
        "</pattern></defs>",
    ]
    for tick in range(0, y_max + 1, step):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{_fmt(y(tick))}" y2="{_fmt(y(tick))}"'
            ' stroke="#dee2e6" stroke-width="1"/>'
            f'<text x="{left - 4}" y="{_fmt(y(tick) + 4)}" font-size="11" text-anchor="end"'
            f' fill="#495057">{tick}</text>'
        )
    bar_w = max(plot_w / n - 1, 0.5)
    for i, d in enumerate(days):
        if d.peak <= 0:
            continue
        colour = "#dc3545" if d.over else "#0d6efd"
        bar = (
            f'x="{_fmt(x(i) + 0.5)}" y="{_fmt(y(d.peak))}" width="{_fmt(bar_w)}"'
            f' height="{_fmt(y(0) - y(d.peak))}"'
        )
        parts.append(
            f'<rect {bar} fill="{colour}"><title>{escape(str(d.day))}: {d.peak}</title></rect>'
        )
        if d.over:
            parts.append(f'<rect {bar} fill="url(#pp-hatch)"/>')

    def step_line(values: list[int], style: str) -> str:
        points = []
        for i, v in enumerate(values):
            points += [f"{_fmt(x(i))},{_fmt(y(v))}", f"{_fmt(x(i + 1))},{_fmt(y(v))}"]
        return f'<polyline fill="none" points="{" ".join(points)}" {style}/>'

    if ahead and forecast is not None:
        parts.append(
            _forecast_marks(
                ahead, forecast, start_slot, x, y, top, height - bottom, forecast_legend[2]
            )
        )
    if days:
        parts.append(
            step_line(
                [d.usable for d in days],
                'stroke="#6c757d" stroke-width="1.5" stroke-dasharray="5 3"',
            )
        )
        limits = [d.limit for d in days]
        for slot, point in ahead:
            if slot >= len(limits):
                limits.append(point.limit if point.limit is not None else limits[-1])
        parts.append(step_line(limits, 'stroke="#212529" stroke-width="2"'))
        last_label = ahead[-1][1].date if ahead and ahead[-1][0] >= len(days) else days[-1].day
        for i, text in ((0, days[0].day), (n - 1, last_label)):
            anchor = "start" if i == 0 else "end"
            pos = x(i) if i == 0 else x(i + 1)
            parts.append(
                f'<text x="{_fmt(pos)}" y="{height - 8}" font-size="11" text-anchor="{anchor}"'
                f' fill="#495057">{escape(_day_label(text))}</text>'
            )
    peak_label, limit_label, usable_label = legend
    parts.append(
        f'<g font-size="11" fill="#212529">'
        f'<rect x="{left}" y="6" width="10" height="10" fill="#0d6efd"/>'
        f'<text x="{left + 14}" y="15">{escape(peak_label)}</text>'
        f'<line x1="{left + 150}" x2="{left + 170}" y1="11" y2="11" stroke="#212529"'
        ' stroke-width="2"/>'
        f'<text x="{left + 174}" y="15">{escape(limit_label)}</text>'
        f'<line x1="{left + 330}" x2="{left + 350}" y1="11" y2="11" stroke="#6c757d"'
        ' stroke-width="1.5" stroke-dasharray="5 3"/>'
        f'<text x="{left + 354}" y="15">{escape(usable_label)}</text></g>'
    )
    if ahead:
        expected_label, band_label, _now_label = forecast_legend
        parts.append(
            f'<g font-size="11" fill="#212529" class="pp-forecast-legend">'
            f'<line x1="{left + 440}" x2="{left + 460}" y1="11" y2="11" stroke="{FORECAST}"'
            ' stroke-width="2" stroke-dasharray="6 3"/>'
            f'<text x="{left + 464}" y="15">{escape(expected_label)}</text>'
            f'<rect x="{left + 590}" y="6" width="16" height="10" fill="{FORECAST}"'
            ' fill-opacity=".18"/>'
            f'<text x="{left + 610}" y="15">{escape(band_label)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


FORECAST = "#6f42c1"


def _forecast_marks(
    ahead, forecast: ForecastLine, start_slot: float, x, y, y_top, y_bottom, now_label: str
) -> str:
    """The forecast's band (a polygon from the low to the high quantiles), its expected
    values (a dashed line) and a vertical mark at "now"; each day with a tooltip."""
    start = (x(start_slot), y(forecast.start_value))
    upper = [start, *((x(slot + 1), y(point.high)) for slot, point in ahead)]
    lower = [start, *((x(slot + 1), y(point.low)) for slot, point in ahead)]
    expected = [start, *((x(slot + 1), y(point.expected)) for slot, point in ahead)]

    def points(coords) -> str:
        return " ".join(f"{_fmt(px)},{_fmt(py)}" for px, py in coords)

    parts = [
        '<g class="pp-forecast">',
        f'<polygon points="{points(upper + list(reversed(lower)))}" fill="{FORECAST}"'
        ' fill-opacity=".18" stroke="none"/>',
        f'<polyline fill="none" points="{points(expected)}" stroke="{FORECAST}"'
        ' stroke-width="2" stroke-dasharray="6 3"/>',
        f'<line x1="{_fmt(start[0])}" x2="{_fmt(start[0])}" y1="{y_top}" y2="{y_bottom}"'
        ' stroke="#495057" stroke-width="1" stroke-dasharray="2 2"/>',
        f'<text x="{_fmt(start[0] + 3)}" y="{y_top + 10}" font-size="10"'
        f' fill="#495057">{escape(now_label)}</text>',
    ]
    for (_slot, point), (px, py) in zip(ahead, expected[1:], strict=True):
        value = f"{point.expected:.1f}".replace(".", ",")
        parts.append(
            f'<circle cx="{_fmt(px)}" cy="{_fmt(py)}" r="2.5" fill="{FORECAST}">'
            f"<title>{escape(_day_label(point.date))}: {value} ({point.low}–{point.high})"
            "</title></circle>"
        )
    parts.append("</g>")
    return "".join(parts)


def _day_label(day: object) -> str:
    strftime = getattr(day, "strftime", None)
    return strftime("%d.%m.%Y") if strftime else str(day)
