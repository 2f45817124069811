"""Server-rendered SVG charts: they need no JavaScript, load nothing from elsewhere, and the
pages always put the same figures in a data table beside them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from markupsafe import Markup, escape


class DayPoint(Protocol):
    day: object
    peak: int
    midnight: int
    limit: int
    usable: int
    over: bool


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def occupancy_chart(
    days: Sequence[DayPoint],
    *,
    title: str,
    description: str,
    legend: tuple[str, str, str] = ("Höchststand", "Grenze", "belegbar"),
    width: int = 760,
    height: int = 260,
) -> Markup:
    """Daily peak occupancy as bars (over-capacity days hatched as well as red, so colour is
    not the only cue), the limit as a solid step line and usable places as a dashed one."""
    left, right, top, bottom = 40, 10, 26, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(days), 1)
    top_value = max(
        [1, *(d.peak for d in days), *(d.limit for d in days), *(d.usable for d in days)]
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

    if days:
        parts.append(
            step_line(
                [d.usable for d in days],
                'stroke="#6c757d" stroke-width="1.5" stroke-dasharray="5 3"',
            )
        )
        parts.append(step_line([d.limit for d in days], 'stroke="#212529" stroke-width="2"'))
        for i in (0, len(days) - 1):
            anchor = "start" if i == 0 else "end"
            pos = x(i) if i == 0 else x(i + 1)
            parts.append(
                f'<text x="{_fmt(pos)}" y="{height - 8}" font-size="11" text-anchor="{anchor}"'
                f' fill="#495057">{escape(_day_label(days[i].day))}</text>'
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
    parts.append("</svg>")
    return Markup("".join(parts))


def _day_label(day: object) -> str:
    strftime = getattr(day, "strftime", None)
    return strftime("%d.%m.%Y") if strftime else str(day)
