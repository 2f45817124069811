"""Security headers on every answer: pages, API, downloads, error pages, static files."""

from __future__ import annotations

import re

import pytest

from placement.extensions import db
from tests.conftest import create_facility, create_stay, create_youth, make_app

CSP_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def csp_of(response) -> dict[str, str]:
    policy = response.headers.get("Content-Security-Policy", "")
    parts = [p.strip().split(None, 1) for p in policy.split(";") if p.strip()]
    return {p[0]: (p[1] if len(p) > 1 else "") for p in parts}


def assert_secure(response, *, cacheable: bool = False) -> None:
    where = f"{response.request.method} {response.request.path} ({response.status_code})"
    csp = csp_of(response)
    for directive, value in CSP_DIRECTIVES.items():
        assert csp.get(directive) == value, (where, directive, csp)
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"], where
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"], where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("Referrer-Policy") == "same-origin", where
    assert response.headers.get("X-Frame-Options") == "DENY", where
    assert "Server" not in response.headers, where
    if cacheable:
        assert "no-store" not in response.headers.get("Cache-Control", ""), where
    else:
        assert response.headers.get("Cache-Control") == "no-store", where


def assert_no_inline_code(html: str, where: str) -> None:
    """What the page sends (templates, macros, the server-rendered SVG charts) needs no
    'unsafe-inline': no style attributes, no inline scripts, no event handlers."""
    assert not re.search(r"\sstyle\s*=", html), where
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), where
    assert not re.search(r"\son[a-z]+\s*=\s*[\"']", html), where


def concrete(rule) -> str:
    """A URL for a rule: ids 1, the first choice of an ``any`` converter."""
    path = rule.rule
    path = re.sub(r"<int:[^>]+>", "1", path)
    path = re.sub(r"<any\(([^,)]+)[^>]*>", lambda m: m.group(1).strip(), path)
    path = re.sub(r"<path:[^>]+>", "platzplan.css", path)
    return path


@pytest.fixture
def seeded(app):
    """Facility 1 with a resident (stay 1), so that its page draws the occupancy chart."""
    with app.app_context():
        house = create_facility(licensed=2, name="Haus A", age_min=12, age_max=17)
        create_stay(create_youth(), house, "2026-01-05 10:00")
        db.session.commit()


def test_every_page_and_action_sends_the_headers(app, client, login, seeded):
    """Every route of the application (GET and POST; HTML, API, downloads, redirects,
    403/404/405 answers), logged in as a department head."""
    login("department_head")
    seen = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "bootstrap.static") or rule.endpoint == "auth.logout":
            continue
        url = concrete(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code < 500, (method, url, response.status_code)
            assert_secure(response)
            if response.status_code == 200 and response.mimetype == "text/html":
                assert_no_inline_code(response.get_data(as_text=True), url)
            seen += 1
    assert seen > 60


def test_the_facility_chart_needs_no_inline_style(client, login, seeded):
    login("department_head")
    page = client.get("/facilities/1").get_data(as_text=True)
    assert "<svg" in page and 'class="pp-chart"' in page
    assert_no_inline_code(page, "/facilities/1")


def test_static_files_are_cacheable_but_still_carry_the_headers(client):
    for url in ("/static/platzplan.css", "/static/tables.js", "/favicon.ico"):
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, url
        assert_secure(response, cacheable=True)
    bootstrap_css = client.get("/bootstrap/static/css/bootstrap.min.css")
    assert bootstrap_css.status_code == 200
    assert_secure(bootstrap_css, cacheable=True)
    missing = client.get("/static/nope.css")
    assert missing.status_code == 404
    assert_secure(missing)  # an error page is dynamic


def test_downloads_send_the_headers(client, login, seeded):
    login("department_head")
    for url in (
        "/reports/stichtag?format=csv",
        "/reports/stichtag?format=xlsx",
        "/reports/monthly?format=csv",
        "/reports/monthly?format=xlsx",
        "/reports/land?format=csv",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert_secure(response)


def test_api_answers_and_errors_send_the_headers(api, seeded):
    for path in ("/facilities", "/occupancy", "/stays", "/facilities/999999"):
        assert_secure(api.get(path, role="department_head"))
    unauthenticated = api.client.get("/api/v1/facilities")
    assert unauthenticated.status_code == 401
    assert_secure(unauthenticated)
    assert_secure(api.client.get("/api/v1/openapi.json"))
    assert_secure(api.client.get("/api/v1/nope"))


def test_login_and_error_pages_send_the_headers(client):
    for url, status in (("/auth/login", 200), ("/", 302), ("/nope", 404)):
        response = client.get(url)
        assert response.status_code == status
        assert_secure(response)


def test_a_server_error_page_sends_the_headers(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(tmp_path, database_url, PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("broken")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert_secure(response)
    with app.app_context():
        db.engine.dispose()


def test_hsts_only_over_https(client):
    plain = client.get("/auth/login")
    assert "Strict-Transport-Security" not in plain.headers
    assert plain.status_code == 200  # no redirect to HTTPS: the proxy terminates TLS
    proxied = client.get("/auth/login", headers={"X-Forwarded-Proto": "https"})
    assert proxied.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    direct = client.get("/auth/login", base_url="https://localhost")
    assert "max-age=" in direct.headers["Strict-Transport-Security"]


def test_https_can_be_forced_by_configuration(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(tmp_path, database_url, FORCE_HTTPS=True)
    response = app.test_client().get("/auth/login")
    assert response.status_code in (301, 302)
    assert response.headers["Location"].startswith("https://")
    with app.app_context():
        db.engine.dispose()


def test_templates_hold_no_inline_script_style_or_handlers():
    """The CSP forbids inline code and style: no template may need it."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "templates"
    offenders = []
    for path in root.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", line):
                offenders.append(f"{path.name}:{number}: inline <script>")
            if re.search(r"\sstyle\s*=", line):
                offenders.append(f"{path.name}:{number}: style attribute")
            if re.search(r"\son[a-z]+\s*=\s*[\"']", line):
                offenders.append(f"{path.name}:{number}: event handler attribute")
            if "javascript:" in line.lower():
                offenders.append(f"{path.name}:{number}: javascript: URL")
    assert offenders == []
