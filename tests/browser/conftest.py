"""Browser tests: Playwright drives Debian's Chromium against the app served from a thread
on a file-backed database (the browser cannot be downloaded here).

Screenshot mode: with PLACEMENT_SCREENSHOTS=<folder> (``docs/img`` to refresh the README's
pictures) the tests save the main pages there as PNG files (see ``shot``)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import make_app
from tests.live_server import served

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = os.environ.get("PLACEMENT_SCREENSHOTS")  # a folder, or unset: no screenshots


@pytest.fixture
def live_app(tmp_path, monkeypatch):
    """The demo served on a free loopback port; yields (base_url, app)."""
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'live.sqlite'}", WTF_CSRF_ENABLED=True)
    app.test_cli_runner().invoke(args=["seed-demo"])
    with served(app) as base_url:
        yield base_url, app


@pytest.fixture
def page():
    if not os.path.exists(CHROMIUM):
        message = "Chromium is not installed (Debian package 'chromium')"
        if os.environ.get("PLACEMENT_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="de-DE", timezone_id="Europe/Berlin"
        )
        page = context.new_page()
        page.set_default_timeout(15000)
        # Any request to another host fails the test: pages must work on an intranet.
        foreign: list[str] = []
        page.on(
            "request",
            lambda r: (
                foreign.append(r.url)
                if not r.url.startswith(("http://127.0.0.1", "data:"))
                else None
            ),
        )
        yield page
        assert not foreign, f"requests to other hosts: {foreign}"
        browser.close()


def log_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/auth/login")
    page.fill("#email", email)
    page.fill("#password", "platzplan-demo")
    page.click("#submit")
    page.wait_for_url(f"{base}/")


def log_in_by_keyboard(page, base: str, email: str) -> None:
    """``log_in`` with Tab, typing and Enter only."""
    page.goto(f"{base}/auth/login")
    tab_to(page, "#email")
    page.keyboard.type(email)
    tab_to(page, "#password")
    page.keyboard.type("platzplan-demo")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")


def shot(page, name: str, *, until: str | None = None, **options) -> None:
    """In screenshot mode, save the page as ``<folder>/<name>.png``: the whole page, or from
    its top down to the element ``until`` (a long page, kept small), or as ``options`` say
    (``full_page=False``, a ``clip``); else do nothing."""
    if not SCREENSHOTS:
        return
    os.makedirs(SCREENSHOTS, exist_ok=True)
    options.setdefault("full_page", True)
    if until is not None:
        bottom = page.locator(until).evaluate(
            "e => e.getBoundingClientRect().bottom + window.scrollY"
        )
        width = page.viewport_size["width"]
        options["clip"] = {"x": 0, "y": 0, "width": width, "height": bottom + 8}
    page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), **options)


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def choose(page, name: str, value: str) -> None:
    """Pick a radio option with the keyboard: Tab into the group, arrows to the value."""
    tab_to(page, f"input[name='{name}']")
    for _ in range(5):
        if page.evaluate("() => document.activeElement.value") == value:
            page.keyboard.press("Space")
            return
        page.keyboard.press("ArrowRight")
    raise AssertionError(f"no option {value} in {name}")


def focused_id(page) -> str:
    """The id of the element that has the focus."""
    return page.evaluate("() => document.activeElement.id")
