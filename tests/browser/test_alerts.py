"""The alert inbox in the browser: on the demo, a check raises the over-occupancy of Am
Mühlholz; a department head sees it at the top and takes note."""

from __future__ import annotations

import pytest

from placement import jobs
from tests.browser.conftest import log_in, shot

pytestmark = pytest.mark.browser


def test_inbox_shows_over_occupancy_first_and_takes_note(live_app, page):
    base, app = live_app
    jobs.check_alerts(app)
    log_in(page, base, "leitung@demo.local")
    page.get_by_role("link", name="Hinweise").click()
    first = page.locator("#alerts tbody tr").first
    assert "Überbelegung: IOCE Am Mühlholz (+28)" in first.inner_text()
    assert "dringend" in first.inner_text()
    shot(page, "alerts-inbox", full_page=False)  # the top of a long list
    first.get_by_role("button", name="Zur Kenntnis").click()
    page.wait_for_selector("text=Zur Kenntnis genommen.")
    assert (
        page.locator("#alerts tbody tr").first.get_by_role("button", name="Zur Kenntnis").count()
        == 0
    )
