"""The stay page in the browser: the correction form's labels focus the correction's own
fields (defect 13), and a discharge is chosen, confirmed and taken back (defect 1)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import Stay
from tests.browser.conftest import log_in, shot

pytestmark = pytest.mark.browser


def open_stay(app) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(Stay.id).where(Stay.end_at.is_(None)).order_by(Stay.id).limit(1)
        )


def test_correction_labels_focus_the_correction_fields(live_app, page):
    base, app = live_app
    stay_id = open_stay(app)
    log_in(page, base, "einrichtung@demo.local")
    page.goto(f"{base}/stays/{stay_id}")
    page.click("#correction summary")
    form = page.locator("#correction-form")
    for name in ("reason", "facility_id", "legal_basis", "end_reason", "start_at", "end_at"):
        form.locator(f"label[for='correct-{name}']").click()
        focused = page.evaluate("document.activeElement.id")
        assert focused == f"correct-{name}", (name, focused)
        inside = page.evaluate(
            "document.getElementById('correction-form').contains(document.activeElement)"
        )
        assert inside, name
    # The discharge's own label still focuses the discharge select.
    page.locator("label[for='discharge-reason']").click()
    assert page.evaluate("document.activeElement.id") == "discharge-reason"


def test_discharge_confirm_then_undo(live_app, page):
    base, app = live_app
    stay_id = open_stay(app)
    log_in(page, base, "bereitschaft@demo.local")
    page.goto(f"{base}/stays/{stay_id}")
    assert page.input_value("#discharge-reason") == ""  # nothing preselected
    page.click("#discharge-submit")
    assert "Bitte einen Beendigungsgrund wählen." in page.inner_text("#discharge-form")

    page.select_option("#discharge-reason", "absconded")
    page.click("#discharge-submit")
    confirmation = page.locator("#discharge-confirmation")
    text = confirmation.inner_text()
    reference = page.inner_text("h1").split()[0]
    assert reference in text and "abgängig" in text and "gehalten" in text
    assert re.search(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", text)
    shot(page, "discharge-confirmation")
    with app.app_context():
        assert db.session.get(Stay, stay_id).end_at is None  # nothing recorded yet

    page.get_by_role("button", name="Entlassung bestätigen").click()
    page.wait_for_url(re.compile(rf".*/stays/{stay_id}$"))
    assert "Entlassung gespeichert" in page.inner_text("main")
    assert page.locator("#undo-discharge").is_visible()
    with app.app_context():
        assert db.session.get(Stay, stay_id).end_reason.value == "absconded"
    shot(page, "discharge-undo")

    page.get_by_role("button", name="Entlassung zurücknehmen").click()
    page.wait_for_url(re.compile(rf".*/stays/{stay_id}$"))
    assert "Entlassung zurückgenommen" in page.inner_text("main")
    assert page.locator("#discharge-form").is_visible()
    history = page.inner_text("#history")
    assert "Entlassung zurückgenommen" in history and "Demo Bereitschaftsdienst" in history
    with app.app_context():
        stay = db.session.get(Stay, stay_id)
        assert stay.end_at is None and stay.place_held_until is None
