"""The content security policy in a real browser: the main pages raise no CSP violation
(no inline script, style attribute or foreign resource is refused), and the policy holds:
an injected inline script does not run."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.jobs import check_alerts
from placement.models import Facility, Stay
from tests.browser.conftest import log_in, shot
from tests.browser.test_planning import worker  # noqa: F401  (the plan worker fixture)

pytestmark = pytest.mark.browser

# Records every violation the page reports, from before its first script runs.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')
    + ' @' + e.lineNumber);
});
"""


def watch(page) -> list[str]:
    """Console messages that report a refused resource (Chromium logs each violation)."""
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.context.add_init_script(RECORD_VIOLATIONS)
    return seen


def violations(page, console: list[str]) -> list[str]:
    return [*console, *page.evaluate("window.__cspViolations || []")]


def visit(page, console: list[str], url: str, name: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")
    shot(page, f"csp-{name}")
    assert violations(page, console) == [], url


def test_main_pages_raise_no_csp_violation(live_app, worker, page):  # noqa: F811
    base, app = live_app
    check_alerts(app)  # the inbox has alerts to show
    with app.app_context():
        facility_id = db.session.scalar(
            sa.select(Facility.id).where(Facility.code == "muehlholz")
        ) or db.session.scalar(sa.select(Facility.id).order_by(Facility.id))
        stay_id = db.session.scalar(
            sa.select(Stay.id).where(Stay.end_at.is_(None)).order_by(Stay.id).limit(1)
        )
    console = watch(page)
    log_in(page, base, "leitung@demo.local")
    assert violations(page, console) == []  # the login page and the overview after it
    for url, name in (
        (f"{base}/", "overview"),
        (f"{base}/einrichtungen", "facilities"),
        (f"{base}/facilities/{facility_id}", "facility-chart"),
        (f"{base}/reports/stichtag", "report-stichtag"),
        (f"{base}/reports/monthly", "report-monthly"),
        (f"{base}/reports/land", "report-land"),
        (f"{base}/alerts/", "alert-inbox"),
    ):
        visit(page, console, url, name)
    page.goto(f"{base}/facilities/{facility_id}")
    assert page.locator("svg.pp-chart").count() >= 1  # the server-rendered chart is drawn

    # The plan review: compute a plan for the facility and look at the proposal.
    page.goto(f"{base}/")
    page.get_by_role("link", name="IOCE Am Mühlholz").click()
    page.click("#plan-relief")
    page.get_by_role("button", name="Plan berechnen").click()
    page.wait_for_url(re.compile(r".*/plans/\d+$"))
    page.wait_for_selector("#plan-status[data-status=proposed]", timeout=30000)
    shot(page, "csp-plan-review")
    assert violations(page, console) == []
    visit(page, console, page.url + "/print", "plan-print")

    # The stay page and the admission form, as staff who use them.
    page.context.clear_cookies()
    log_in(page, base, "einrichtung@demo.local")
    visit(page, console, f"{base}/stays/{stay_id}", "stay")
    page.context.clear_cookies()
    log_in(page, base, "bereitschaft@demo.local")
    visit(page, console, f"{base}/intake/places?age=15&gender=m&uma=1", "place-finder")
    visit(page, console, f"{base}/intake/admit", "admission-form")
    # Scripts of the pages did run (the policy allows this server's own files).
    assert page.evaluate("document.scripts.length") >= 1


def test_the_policy_blocks_inline_code(live_app, page):
    """The header is not decoration: an inline script and a style attribute put into a
    page are refused by the browser and reported."""
    base, _app = live_app
    console = watch(page)
    page.goto(f"{base}/auth/login")
    page.evaluate(
        """() => {
        const s = document.createElement('script');
        s.textContent = 'window.__injected = true';
        document.body.appendChild(s);
        const d = document.createElement('div');
        d.setAttribute('style', 'color: red');
        document.body.appendChild(d);
    }"""
    )
    page.wait_for_timeout(300)
    assert page.evaluate("window.__injected === undefined")
    found = violations(page, console)
    assert any("script-src" in v for v in found), found
    assert any("style-src" in v for v in found), found
