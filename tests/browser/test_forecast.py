"""The forecast on the facility page in the browser: on a constructed history (a house near
its limit after a wave of admissions), the occupancy chart continues as a
dashed line with its shaded 80 % band, and the table beside it lists every forecast day.
In screenshot mode the whole page is saved as facility.png, and the chart with the
forecast below it as facility-forecast.png (docs/img for the README)."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import Stay
from placement.services.accounts import audit
from placement.services.occupancy import capacity
from placement.timeutil import now as utc_now
from tests.browser.conftest import SCREENSHOTS, log_in, shot
from tests.conftest import create_facility, create_stay, create_youth

pytestmark = pytest.mark.browser

WEEKS = 16
WAVE_WEEKS = 2  # the last weeks bring more youths, like the autumn 2023 umA arrivals


def wave_house(app) -> int:
    """A house with 16 weeks of admissions (0.6 a day, 2 a day in the last two weeks)
    and stays of 5 to 40 days; its licensed places are the highest occupancy so far (full
    at times, never over)."""
    rng = random.Random(1414)
    now = utc_now().replace(second=0, microsecond=0)
    with app.app_context():
        house = create_facility(
            licensed=200,
            name="Haus Am Auwald",
            kind="clearing",
            age_min=14,
            age_max=17,
            genders="m",
            planning_area="Nordwest",
            valid_from=now - timedelta(weeks=WEEKS + 30),
        )
        for day in range(WEEKS * 7, 0, -1):
            rate = 2.0 if day <= WAVE_WEEKS * 7 else 0.6
            arrivals = sum(rng.random() < rate / 4 for _ in range(4))  # about Poisson
            for _ in range(arrivals):
                start = now - timedelta(days=day, hours=rng.randint(0, 20))
                end = start + timedelta(days=rng.randint(5, 40), hours=rng.randint(0, 12))
                create_stay(
                    create_youth(uma=True, birth_date=(now - timedelta(days=15 * 365)).date()),
                    house,
                    start.strftime("%Y-%m-%d %H:%M"),
                    end.strftime("%Y-%m-%d %H:%M") if end < now else None,
                    end_reason="follow_on_help" if end < now else None,
                )
        periods = db.session.execute(
            sa.select(Stay.start_at, Stay.end_at).where(Stay.facility_id == house.id)
        ).all()
        steps = sorted(
            [(start, 1) for start, _ in periods] + [(end, -1) for _, end in periods if end]
        )
        present = peak = 0
        for _, step in steps:
            present += step
            peak = max(peak, present)
        # Full at times, never over: the places are the highest occupancy so far.
        capacity.add_capacity_period(
            audit.SYSTEM,
            house.id,
            valid_from=now - timedelta(weeks=WEEKS),
            licensed_places=peak,
        )
        db.session.commit()
        return house.id


def test_facility_chart_continues_with_the_forecast_band_and_its_table(live_app, page):
    base, app = live_app
    house = wave_house(app)
    log_in(page, base, "leitung@demo.local")
    page.goto(f"{base}/facilities/{house}")
    chart = page.locator("section[aria-labelledby=chart-h]")
    band = chart.locator("svg g.pp-forecast polygon")
    assert band.count() == 1
    # The band is a closed shape from the low to the high quantiles over the 14 days.
    assert len(band.get_attribute("points").split()) >= 2 * 14
    assert chart.locator("svg g.pp-forecast polyline[stroke-dasharray]").count() == 1
    assert band.bounding_box()["width"] > 40  # drawn, not collapsed
    table = page.locator("#forecast-data")
    rows = table.locator("tbody tr")
    assert rows.count() == 14
    first = rows.first.inner_text()
    assert re.search(r"\d{2}\.\d{2}\.\d{4}", first) and "%" in first
    assert "80 %" in table.locator("thead").inner_text()
    assert "Aufnahmen je Tag" in page.inner_text("#forecast-summary")
    shot(page, "facility")
    if SCREENSHOTS:  # the clip costs a look-up: only in screenshot mode
        # The chart and the forecast below it, in page coordinates.
        box = page.evaluate(
            """() => {
                const top = document.querySelector('section[aria-labelledby=chart-h]');
                const bottom = document.querySelector('section[aria-labelledby=prognose]');
                const a = top.getBoundingClientRect(), b = bottom.getBoundingClientRect();
                return {y: a.top + window.scrollY, bottom: b.bottom + window.scrollY};
            }"""
        )
        shot(
            page,
            "facility-forecast",
            clip={
                "x": 0,
                "y": box["y"] - 8,
                "width": page.viewport_size["width"],
                "height": box["bottom"] - box["y"] + 16,
            },
        )
