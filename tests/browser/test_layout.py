"""Layout in the browser: phones (390 px wide) and printing (A4 landscape)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import Facility
from tests.browser.conftest import SCREENSHOTS, log_in, shot

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def _within_viewport(page, locator) -> None:
    box = locator.bounding_box()
    assert box is not None, "not rendered"
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


def test_phone_layout_needs_no_sideways_scrolling(live_app, page):
    base, app = live_app
    with app.app_context():
        muehlholz = db.session.scalar(sa.select(Facility.id).filter_by(code="muehlholz"))
    page.set_viewport_size(PHONE)
    log_in(page, base, "bereitschaft@demo.local")

    page.goto(f"{base}/")
    assert page.locator("#board tbody tr").count() > 10
    assert _page_width(page) <= PHONE["width"]
    first = page.locator("#board tbody tr").first
    _within_viewport(page, first.locator("th a"))
    # Each stacked cell says which column it is.
    assert first.locator("td").first.get_attribute("data-label") == "Art"
    shot(page, "phone-overview", full_page=False)  # one screen, as on the phone

    page.goto(f"{base}/intake/places?age=15&gender=m&uma=1")
    rows = page.locator("#place-results tbody tr")
    assert rows.count() > 3
    assert _page_width(page) <= PHONE["width"]
    admit = rows.first.get_by_role("link", name="Aufnehmen")
    _within_viewport(page, admit)
    reserve = page.get_by_role("button", name="2 Std. reservieren").first
    _within_viewport(page, reserve)
    if SCREENSHOTS:  # one screen of the results, where the phone user scrolls to
        page.get_by_role("heading", name=re.compile("Ergebnis für")).evaluate(
            "h => h.scrollIntoView({behavior: 'instant'})"  # Bootstrap scrolls smoothly
        )
    shot(page, "phone-place-finder", full_page=False)

    page.goto(f"{base}/facilities/{muehlholz}")
    assert "IOCE Am Mühlholz" in page.inner_text("main")
    assert _page_width(page) <= PHONE["width"]

    page.goto(f"{base}/einrichtungen")
    assert _page_width(page) <= PHONE["width"]


def test_desktop_tables_stay_tables(live_app, page):
    base, _app = live_app
    log_in(page, base, "bereitschaft@demo.local")
    display = page.evaluate("getComputedStyle(document.querySelector('#board tbody tr')).display")
    assert display == "table-row"


def test_monthly_report_prints_all_columns_in_landscape(live_app, page):
    base, _app = live_app
    log_in(page, base, "leitung@demo.local")
    page.goto(f"{base}/reports/")
    month = page.input_value("#month")
    page.goto(f"{base}/reports/monthly?month={month}")
    headers = page.locator("#report thead th")
    columns = headers.count()
    assert columns >= 27

    # The print button opens the print dialog (a static script, no inline code).
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed++; }; }")
    page.get_by_role("button", name="Drucken").click()
    assert page.evaluate("window.__printed") == 1
    assert page.locator("script:not([src])").count() == 0

    # A4 landscape with 10 mm margins leaves 277 mm, about 1047 CSS pixels.
    page.set_viewport_size({"width": 1047, "height": 740})
    page.emulate_media(media="print")
    assert page.locator("nav.navbar").is_hidden()
    assert page.locator("form.no-print").first.is_hidden()
    right = page.evaluate("document.querySelector('#report').getBoundingClientRect().right")
    assert right <= 1047
    for index in range(columns):
        box = headers.nth(index).bounding_box()
        assert box and box["width"] > 0 and box["x"] + box["width"] <= 1047, index
    rules = page.evaluate(
        """[...document.styleSheets].flatMap(s => { try { return [...s.cssRules]; }
           catch (e) { return []; } }).filter(r => r.type === CSSRule.PAGE_RULE)
           .map(r => r.cssText).join(' ')"""
    )
    assert "size: a4 landscape" in rules.lower()
    pdf = page.pdf(prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")

    # The print view: the same report without navigation, on screen.
    page.emulate_media(media="screen")
    page.goto(f"{base}/reports/monthly?month={month}")
    with page.expect_navigation():  # the old page's navigation is not the print view's
        page.click("#print-view")
    assert page.locator("nav.navbar").is_hidden()
    assert page.locator("#report thead th").count() == columns
    right = page.evaluate("document.querySelector('#report').getBoundingClientRect().right")
    assert right <= 1047
