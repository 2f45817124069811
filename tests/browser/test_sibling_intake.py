"""Two siblings found a place and admitted together in the real browser, keyboard only:
Tab, typing, arrow keys and Enter (no mouse, no JavaScript of our own needed)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import Stay, Youth
from tests.browser.conftest import choose, log_in_by_keyboard, shot, tab_to
from tests.conftest import create_facility

pytestmark = pytest.mark.browser


def test_two_siblings_found_and_admitted_with_the_keyboard(live_app, page):
    base, app = live_app
    with app.app_context():
        house = create_facility(licensed=6, name="Geschwisterhaus", age_min=0, age_max=17)
        db.session.commit()
        house_id = house.id

    log_in_by_keyboard(page, base, "bereitschaft@demo.local")

    # The place finder opens with the focus in the first child's age.
    page.goto(f"{base}/intake/places")
    assert page.evaluate("() => document.activeElement.id") == "age"
    page.keyboard.type("14")
    choose(page, "gender", "f")
    tab_to(page, "#add_child")
    page.keyboard.press("Enter")  # "Kind hinzufügen": the page comes back with a second row
    page.wait_for_selector("#children-0-age")
    assert page.evaluate("() => document.activeElement.id") == "children-0-age"
    page.keyboard.type("6")
    choose(page, "children-0-gender", "m")
    tab_to(page, "#children-0-age")
    page.keyboard.press("Enter")  # Enter searches (the form's default button)
    row = page.locator(f"#place-results tr[data-facility='{house_id}']")
    row.wait_for()
    assert "passt für alle" in row.inner_text()
    shot(page, "sibling-place-finder")
    tab_to(page, f"tr[data-facility='{house_id}'] a")
    page.keyboard.press("Enter")

    # The admission form: both children prefilled, the focus on its first field.
    page.wait_for_url(re.compile(r".*/intake/admit\?.*"))
    assert page.evaluate("() => document.activeElement.id") == "facility_id"
    assert page.input_value("#birth_date") and page.input_value("#siblings-0-birth_date")
    assert not page.is_checked("#birth_date_estimated")  # not umA: no age assessment
    tab_to(page, "#file_number")
    page.keyboard.type("51.2-700")
    tab_to(page, "#siblings-0-file_number")
    page.keyboard.type("51.2-701")
    shot(page, "sibling-admission")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/stays/\d+$"))
    assert "gespeichert" in page.inner_text("main")

    with app.app_context():
        stays = db.session.scalars(
            sa.select(Stay).join(Youth).where(Youth.file_number.in_(["51.2-700", "51.2-701"]))
        ).all()
        assert len(stays) == 2 and {s.facility_id for s in stays} == {house_id}
        groups = {s.youth.sibling_group for s in stays}
        assert len(groups) == 1 and None not in groups
        assert sorted(s.youth.gender.value for s in stays) == ["f", "m"]
