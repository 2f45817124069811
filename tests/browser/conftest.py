"""Browser tests: Playwright drives Debian's Chromium against the app served from a thread
on a file-backed database (the browser cannot be downloaded here)."""

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
