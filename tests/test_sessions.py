"""Server-side sessions: only a random token in the cookie, a new session (and CSRF secret)
at login, idle and absolute timeouts, ending every session at once (logout everywhere,
password change, deactivation, an administrator), cookie flags over HTTPS, and ProxyFix
(ASVS 3.2, 3.3, 3.4, 8.2.2)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from placement.auth.session_store import token_digest
from placement.extensions import db
from placement.models import AuditEvent, User, UserSession
from placement.models.base import utcnow
from placement.services.accounts import audit, users
from placement.services.errors import Forbidden, NotFound
from tests.conftest import PASSWORD, make_app, sign_in

EMAIL = "chef@example.org"


def _cookie(client, name="session"):
    cookie = client.get_cookie(name)
    return cookie.value if cookie else None


def _signed_in(client) -> bool:
    return client.get("/").status_code == 200


def _rows(app):
    with app.app_context():
        return db.session.scalars(sa.select(UserSession)).all()


def _user_id(app, email=EMAIL):
    with app.app_context():
        return db.session.scalar(sa.select(User.id).filter_by(email=email))


def test_the_cookie_holds_only_a_random_token_and_flashes_stay_on_the_server(app, client, login):
    login()
    client.post("/auth/logout")  # flashes "Sie wurden abgemeldet." into the new session
    token = _cookie(client)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    rows = _rows(app)
    row = next(r for r in rows if r.id == token_digest(token))
    assert row.id == hashlib.sha256(token.encode()).hexdigest()
    assert any("abgemeldet" in str(m) for m in row.data["_flashes"])
    assert "abgemeldet" in client.get("/auth/login").get_data(as_text=True)


def test_login_regenerates_the_session(app, client):
    client.get("/auth/login")
    with client.session_transaction() as before:
        before["marker"] = "from before the login"
    old = _cookie(client)
    sign_in(app, client)
    new = _cookie(client)
    assert old and new and old != new
    ids = {r.id for r in _rows(app)}
    assert token_digest(old) not in ids and token_digest(new) in ids
    with client.session_transaction() as after:
        assert "marker" not in after
        assert after["_user_id"].endswith(":0")


def test_csrf_secret_rotates_at_login(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(tmp_path, database_url, WTF_CSRF_ENABLED=True)
    with app.app_context():
        users.create_user(audit.CLI, email=EMAIL, role="department_head", password=PASSWORD)
        db.session.commit()
    client = app.test_client()

    def token(path):
        page = client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    before = token("/auth/login")
    response = client.post(
        "/auth/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": before}
    )
    assert response.status_code == 302
    after = token("/auth/password")
    assert after != before
    stale = client.post(
        "/auth/password",
        data={"current_password": PASSWORD, "csrf_token": before},
    )
    assert stale.status_code in (400, 422)  # the token from before the login is void
    assert "Sitzung ist abgelaufen" in stale.get_data(as_text=True)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _age(app, *, idle=None, created=None):
    with app.app_context():
        values = {}
        if idle is not None:
            values["last_seen_at"] = utcnow() - idle
        if created is not None:
            values["created_at"] = utcnow() - created
        db.session.execute(sa.update(UserSession).values(**values))
        db.session.commit()


def test_idle_timeout_ends_the_session(app, client, login):
    login()
    _age(app, idle=timedelta(minutes=29))
    assert _signed_in(client)
    _age(app, idle=timedelta(minutes=31))
    response = client.get("/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_the_api_neither_reads_nor_touches_a_browser_session_sent_along(app, client, login):
    """The API is stateless: a cookie sent along does not sign in, and the session is left
    as it was (no idle clock moved, no cookie set), also on an error answer."""
    login()
    with app.app_context():
        token = users.issue_token(audit.CLI, EMAIL)
        db.session.commit()
    _age(app, idle=timedelta(minutes=10))
    before = {row.id: row.last_seen_at for row in _rows(app)}
    cookie = _cookie(client)
    answered = client.get("/api/v1/occupancy", headers={"Authorization": f"Bearer {token}"})
    assert answered.status_code == 200
    refused = client.get("/api/v1/occupancy")
    assert refused.status_code == 401 and refused.get_json()["code"] == "unauthenticated"
    failed = client.post(
        "/api/v1/admissions", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert failed.status_code == 403  # a department head does not admit
    for response in (answered, refused, failed):
        assert "Set-Cookie" not in response.headers
    assert {row.id: row.last_seen_at for row in _rows(app)} == before
    assert _cookie(client) == cookie and _signed_in(client)


def test_idle_timeout_is_configurable_for_night_shifts(app, client, login):
    app.config["SESSION_IDLE_MINUTES"] = 240
    login()
    _age(app, idle=timedelta(minutes=200))
    assert _signed_in(client)


def test_absolute_lifetime_ends_even_an_active_session(app, client, login):
    login()
    _age(app, created=timedelta(hours=11, minutes=50))
    assert _signed_in(client)
    _age(app, created=timedelta(hours=12, minutes=1))
    assert not _signed_in(client)


def test_stay_signed_in_makes_the_cookie_outlive_the_browser_but_not_the_lifetime(app, client):
    with app.app_context():
        users.create_user(audit.CLI, email=EMAIL, role="department_head", password=PASSWORD)
        db.session.commit()
    plain = client.post("/auth/login", data={"email": EMAIL, "password": PASSWORD})
    assert "Expires" not in plain.headers["Set-Cookie"]
    other = app.test_client()
    kept = other.post("/auth/login", data={"email": EMAIL, "password": PASSWORD, "remember": "y"})
    cookie = kept.headers["Set-Cookie"]
    assert "Expires" in cookie
    assert "remember_token" not in str(kept.headers)  # no second, longer-lived credential
    _age(app, created=timedelta(hours=12, minutes=1))
    assert not _signed_in(other)


def test_logout_ends_the_session_on_the_server(app, client, login):
    login()
    stolen = _cookie(client)
    client.post("/auth/logout")
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert not _signed_in(thief)


def test_logout_everywhere_ends_every_session(app, client, login):
    login()
    other = app.test_client()
    sign_in(app, other)
    client.post("/auth/logout", data={"everywhere": "1"})
    assert not _signed_in(other)
    assert not _signed_in(client)


def test_admin_ends_all_sessions_by_service_and_cli(app, client, login, runner):
    login()
    other = app.test_client()
    sign_in(app, other)
    with app.app_context():
        ended = users.end_sessions(audit.CLI, _user_id(app))
        db.session.commit()
    assert ended == 2
    assert not _signed_in(client) and not _signed_in(other)
    sign_in(app, client)
    result = runner.invoke(args=["users", "end-sessions", EMAIL])
    assert result.exit_code == 0 and "1 Sitzung(en)" in result.output
    assert not _signed_in(client)
    assert runner.invoke(args=["users", "end-sessions", "x@example.org"]).exit_code != 0
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action)).all()
        assert actions.count("user.end_sessions") == 2


def test_end_sessions_service_checks_permission_and_account(ctx):
    user = users.create_user(audit.CLI, email=EMAIL, role="on_call", password=PASSWORD)
    db.session.flush()
    with pytest.raises(Forbidden):
        users.end_sessions(audit.Actor.for_user(user), user.id)
    with pytest.raises(NotFound):
        users.end_sessions(audit.CLI, 999_999)


def test_a_copied_session_of_an_older_generation_signs_nobody_in(app, client, login):
    login()
    with app.app_context():
        row = db.session.scalars(sa.select(UserSession)).one()
        saved = dict(row.data)
        users.end_sessions(audit.CLI, _user_id(app))
        db.session.add(
            UserSession(id=row.id, user_id=row.user_id, data=saved, persistent=False)
        )  # as if the row had been restored from a backup
        db.session.commit()
        assert users.load_session_user(saved["_user_id"]) is None
    assert not _signed_in(client)


def test_deactivation_ends_sessions(app, client, login):
    login()
    with app.app_context():
        users.set_active(audit.CLI, _user_id(app), False)
        db.session.commit()
    assert not _signed_in(client)


def test_own_sessions_page_lists_and_ends_the_others(app, client, login):
    login()
    other = app.test_client()
    sign_in(app, other)
    page = client.get("/auth/password").get_data(as_text=True)
    assert page.count("<tr><td>") == 2
    response = client.post("/auth/sessions/end")
    assert response.status_code == 302
    assert "1 Sitzung(en) beendet." in client.get("/auth/password").get_data(as_text=True)
    assert _signed_in(client) and not _signed_in(other)


def test_https_cookies_are_secure_httponly_lax_and_host_bound(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(tmp_path, database_url, PREFERRED_URL_SCHEME="https")
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    client = app.test_client()
    with app.app_context():
        users.create_user(audit.CLI, email=EMAIL, role="department_head", password=PASSWORD)
        db.session.commit()
    response = client.post(
        "/auth/login", data={"email": EMAIL, "password": PASSWORD}, base_url="https://localhost"
    )
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-platzplan=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    assert "Domain" not in cookie
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_plain_http_cookies_are_httponly_and_lax(app, client, login):
    response = login()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("proxies", [0, 1])
def test_proxy_fix_decides_whose_address_is_throttled(tmp_path, database_url, monkeypatch, proxies):
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(tmp_path, database_url, PROXY_FIX_X_FOR=proxies, PROXY_FIX_X_PROTO=proxies)
    client = app.test_client()

    def attempt(forwarded):
        return client.post(
            "/auth/login",
            data={"email": f"x{forwarded}@example.org", "password": "falsch falsch"},
            headers={"X-Forwarded-For": forwarded},
        )

    for _ in range(5):
        attempt("203.0.113.7")
    # Behind one proxy the forwarded address is the client's; without, the header is a lie
    # anyone can tell, and the connection's address (the same for every test request) counts.
    assert attempt("203.0.113.8").status_code == (422 if proxies else 429)
    assert attempt("203.0.113.7").status_code == 429
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
