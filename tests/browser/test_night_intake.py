"""The night intake in the browser: find a place, admit, confirm, done."""

from __future__ import annotations

import os
import re

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import Stay, Youth
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("PLACEMENT_SCREENSHOTS")  # a folder, to refresh docs/img


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def test_find_a_place_and_admit_in_a_few_clicks(live_app, page):
    base, app = live_app
    log_in(page, base, "bereitschaft@demo.local")
    page.get_by_role("link", name="Platz finden").click()
    page.fill("#age", "15")
    page.check("input[name=gender][value=m]")
    page.check("input[name=uma][value='1']")
    page.get_by_role("button", name="Plätze suchen").click()
    first = page.locator("#place-results tbody tr").first
    assert "passt, Platz frei" in first.inner_text()
    shot(page, "place-finder")
    first.get_by_role("link", name="Aufnehmen").click()

    # Gender, umA, an estimated birth date and the legal basis are prefilled.
    assert page.input_value("#birth_date")
    assert page.is_checked("#birth_date_estimated")
    assert page.input_value("#legal_basis") == "42a"
    page.fill("#file_number", "51.2-4711")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/stays/\d+$"))
    assert "gespeichert" in page.inner_text("main")
    shot(page, "stay")
    with app.app_context():
        stay = db.session.scalar(
            sa.select(Stay).join(Youth).where(Youth.file_number == "51.2-4711")
        )
        assert stay is not None and stay.end_at is None and stay.youth.uma


def test_admission_into_a_full_house_warns_before_confirming(live_app, page):
    base, app = live_app
    log_in(page, base, "bereitschaft@demo.local")
    page.goto(f"{base}/intake/places?age=15&gender=m&uma=1")
    row = page.locator("#place-results tbody tr", has_text="IOCE Am Mühlholz")
    assert "bereits überbelegt" in row.inner_text()
    row.get_by_role("link", name="Aufnehmen").click()
    page.click("#submit")
    warning = page.locator("#admission-warnings")
    assert "überbelegt: 77 Personen auf 48" in warning.inner_text()
    shot(page, "over-capacity-warning")
    page.get_by_role("button", name="Trotzdem aufnehmen").click()
    page.wait_for_url(re.compile(r".*/stays/\d+$"))
    assert "überbelegt" in page.inner_text("main")
