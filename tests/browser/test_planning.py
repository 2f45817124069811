"""Move planning in the browser: a department head relieves Am Mühlholz on the demo,
reviews the proposal and executes it; the overview then shows the new occupancy."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import Facility
from placement.services.occupancy.queries import place_state
from placement.timeutil import now
from placement.worker import start_thread
from tests.browser.conftest import log_in, shot

pytestmark = pytest.mark.browser


@pytest.fixture
def worker(live_app):
    """The embedded plan worker, as `make run` starts it."""
    _base, app = live_app
    plan_worker = start_thread(app)
    yield plan_worker
    plan_worker.stop(timeout=10)


def test_relieve_am_muehlholz_review_and_execute(live_app, worker, page):
    base, app = live_app
    log_in(page, base, "leitung@demo.local")
    shot(page, "overview", until="#board")  # the demo's board, before the plan
    page.get_by_role("link", name="IOCE Am Mühlholz").click()
    page.click("#plan-relief")
    assert page.is_checked("input[name=scope][value=relieve]")
    page.get_by_role("button", name="Plan berechnen").click()
    page.wait_for_url(re.compile(r".*/plans/\d+$"))
    # The page refreshes itself until the worker has proposed the plan.
    page.wait_for_selector("#plan-status[data-status=proposed]", timeout=30000)
    objective = page.inner_text("#plan-objective")
    assert objective.startswith("Überbelegung von 29 auf 1")
    assert "Umzüge" in objective and "km" in objective
    assert "bestmöglich" in page.inner_text("main")
    assert "Faustregel" in page.inner_text("#plan-greedy")
    row = page.locator("#plan-changes tr", has_text="IOCE Am Mühlholz")
    assert "76" in row.inner_text() and "48" in row.inner_text()
    moves = page.locator("input[name=moves]").count()
    assert moves == 28
    shot(page, "plan-review")
    page.click("#execute")
    page.wait_for_selector("text=28 Umzüge ausgeführt.")
    assert page.get_attribute("#plan-status", "data-status") == "executed"

    page.get_by_role("link", name="Übersicht").first.click()
    board = page.locator("#board tr", has_text="IOCE Am Mühlholz")
    assert board.locator("td").nth(2).inner_text() == "48"
    shot(page, "overview-after-plan")
    with app.app_context():
        house = db.session.scalar(sa.select(Facility).filter_by(code="muehlholz"))
        assert place_state(house.id, now()).occupied == 48
