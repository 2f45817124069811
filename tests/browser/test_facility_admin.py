"""A facility manager keeps the house current in the browser: fewer usable places (with
the over-usable confirmation), then "Belegung bestätigen" in one click."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import CapacityPeriod, Facility, User
from tests.browser.conftest import log_in, shot

pytestmark = pytest.mark.browser


def test_manager_changes_places_and_confirms_occupancy(live_app, page):
    base, app = live_app
    with app.app_context():
        house = db.session.scalar(sa.select(Facility).where(Facility.name.contains("Mühlholz")))
        manager = db.session.scalar(sa.select(User).filter_by(email="einrichtung@demo.local"))
        manager.facilities = [house]
        db.session.commit()
        house_id, periods_before = house.id, len(house.capacity_periods)

    log_in(page, base, "einrichtung@demo.local")
    page.get_by_role("link", name="Einrichtungen", exact=True).click()
    page.get_by_role("link", name="Einrichtungen verwalten").click()
    page.wait_for_url(f"{base}/facilities/")
    row = page.locator("#managed-facilities tbody tr", has_text="Mühlholz")
    assert page.locator("#managed-facilities tbody tr").count() == 1
    row.get_by_role("link", name=re.compile("Mühlholz")).click()
    page.wait_for_url(f"{base}/facilities/{house_id}")
    page.click("#change-places")

    page.fill("#usable", "40")
    page.fill("#note", "Zwei Räume wegen Wasserschaden gesperrt")
    page.click("#save-capacity")
    warning = page.locator("#capacity-confirm")
    assert "Personen mehr untergebracht als Plätze belegbar" in warning.inner_text()
    with app.app_context():  # nothing written before the confirmation
        count = db.session.scalar(
            sa.select(sa.func.count()).where(CapacityPeriod.facility_id == house_id)
        )
        assert count == periods_before
    shot(page, "facility-admin")
    page.click("#confirm-capacity")
    page.wait_for_url(f"{base}/facilities/{house_id}/capacity")
    assert "Plätze geändert" in page.inner_text("main")
    first = page.locator("#capacity-history tbody tr").first
    assert "Wasserschaden" in first.inner_text() and "in Kraft" in first.inner_text()

    page.goto(f"{base}/facilities/{house_id}")
    assert "nie bestätigt" in page.inner_text("#confirmed-at")
    page.click("#confirm-occupancy")
    page.wait_for_url(f"{base}/facilities/{house_id}")
    assert "bestätigt (Stand" in page.inner_text("main")
    assert "einrichtung@demo.local" in page.inner_text("#confirmed-at")
    with app.app_context():
        house = db.session.get(Facility, house_id)
        assert house.confirmed_at is not None
        usable = sorted(house.capacity_periods, key=lambda p: p.valid_from)[-1].usable_places
        assert usable == 40

    # The overview shows when the figures were confirmed.
    page.goto(f"{base}/")
    row = page.locator(f"#board tr[data-facility='{house_id}']")
    assert "nie bestätigt" not in row.inner_text()
