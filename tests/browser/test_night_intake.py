"""The night intake in the browser: find a place, admit, confirm, done; with the mouse
and with the keyboard only."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import Stay, Youth
from tests.browser.conftest import choose, focused_id, log_in, log_in_by_keyboard, shot, tab_to

pytestmark = pytest.mark.browser


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
    shot(page, "place-finder", until="#place-results tbody tr:nth-child(6)")
    first.get_by_role("link", name="Aufnehmen").click()

    # Gender, umA, an estimated birth date and the legal basis are prefilled.
    assert page.input_value("#birth_date")
    assert page.is_checked("#birth_date_estimated")
    assert page.input_value("#legal_basis") == "42a"
    page.fill("#file_number", "51.2-4711")
    shot(page, "admission")
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


def test_one_youth_admitted_with_the_keyboard_only(live_app, page):
    """The ordinary night intake without a mouse: from the overview to the place finder,
    a result chosen with Tab and Enter, a mistyped birth date announced with the focus on
    it and everything typed kept, then the admission recorded."""
    base, app = live_app
    log_in_by_keyboard(page, base, "bereitschaft@demo.local")

    # From the overview, the navigation's "Platz finden"; the focus is in the age.
    tab_to(page, "nav a[href$='/intake/places']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/intake/places")
    assert focused_id(page) == "age"
    page.keyboard.type("15")
    choose(page, "gender", "m")
    choose(page, "uma", "0")
    tab_to(page, "#age")
    page.keyboard.press("Enter")  # Enter searches
    page.wait_for_selector("#place-results")
    assert "15 Jahre, männlich, 1 Kind" in page.inner_text("main h2")
    fitting = page.locator("#place-results tbody tr", has_text="passt, Platz frei").first
    house_id = int(fitting.get_attribute("data-facility"))
    house = fitting.locator("th").inner_text().splitlines()[0]
    tab_to(page, f"tr[data-facility='{house_id}'] a")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Aufnehmen"
    page.keyboard.press("Enter")

    # The admission form opens on its first field, with the chosen house selected.
    page.wait_for_url(re.compile(r".*/intake/admit\?.*"))
    assert focused_id(page) == "facility_id"
    assert page.input_value("#facility_id") == str(house_id)
    assert page.is_checked("input[name=gender][value=m]")
    assert not page.is_checked("#birth_date_estimated") or page.input_value("#birth_date")
    # A birth date in the future, typed into the date field's parts (the browser's
    # locale orders them; 03.03. reads the same either way).
    future = date.today().year + 1
    tab_to(page, "#birth_date")
    page.keyboard.type(f"0303{future}")
    assert page.input_value("#birth_date") == f"{future}-03-03"
    tab_to(page, "#file_number")
    page.keyboard.type("51.2-4712")
    page.keyboard.press("Enter")

    # Refused: the error is announced, the focus is on the field, nothing typed is lost.
    page.wait_for_selector("#form-errors")
    assert page.get_attribute("#form-errors", "role") == "alert"
    assert "Das Geburtsdatum liegt in der Zukunft." in page.inner_text("#form-errors")
    assert focused_id(page) == "birth_date"
    assert page.get_attribute("#birth_date", "aria-invalid") == "true"
    assert page.input_value("#birth_date") == f"{future}-03-03"
    assert page.input_value("#file_number") == "51.2-4712"
    assert page.input_value("#facility_id") == str(house_id)
    assert page.is_checked("input[name=gender][value=m]")
    shot(page, "admission-error")
    with app.app_context():
        assert db.session.scalar(sa.select(Youth).filter_by(file_number="51.2-4712")) is None

    # Corrected in place (the focus is already there), then Enter records the admission.
    page.keyboard.type(f"0303{future - 16}")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/stays/\d+$"))
    message = page.locator("main [role=status]", has_text="gespeichert").inner_text()
    assert house in message
    with app.app_context():
        stay = db.session.scalar(
            sa.select(Stay).join(Youth).where(Youth.file_number == "51.2-4712")
        )
        assert stay is not None and stay.end_at is None and stay.facility_id == house_id
        assert stay.youth.birth_date == date(future - 16, 3, 3)
        assert stay.youth.gender.value == "m" and not stay.youth.uma
        assert page.url.endswith(f"/stays/{stay.id}")
