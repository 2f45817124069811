"""Sign-in throttling per account and per client address (in the database, so that every
worker sees it), the lock an administrator lifts, the same answer and work for unknown
accounts, and the audit rows of failures, lockouts, logouts and 403s (ASVS 2.2, 7.1)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, LoginThrottle, User
from placement.models.base import utcnow
from placement.services.accounts import audit, passwords, throttle, users
from placement.services.errors import Code, Forbidden
from tests.conftest import PASSWORD, recorded_statements

EMAIL = "nacht@example.org"
WRONG = "ganz sicher falsch"


@pytest.fixture
def account(app):
    with app.app_context():
        user = users.create_user(audit.CLI, email=EMAIL, role="on_call", password=PASSWORD)
        db.session.commit()
        return user.id


def _post(client, password=WRONG, email=EMAIL, address="10.0.0.1"):
    return client.post(
        "/auth/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.fixture
def clock(monkeypatch):
    """Move the throttle's clock: ``clock.advance(minutes=...)``."""

    class Clock:
        now = utcnow()

        def advance(self, **delta):
            self.now += timedelta(**delta)

    c = Clock()
    monkeypatch.setattr(throttle, "utcnow", lambda: c.now)
    return c


def _actions(app):
    with app.app_context():
        return db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()


def test_wrong_and_unknown_get_the_same_answer_and_the_same_work(app, client, account, monkeypatch):
    calls = []
    real = passwords.verify
    monkeypatch.setattr(passwords, "verify", lambda h, p: calls.append(h[:9]) or real(h, p))
    known = _post(client)
    unknown = _post(client, email="niemand@example.org")
    assert known.status_code == unknown.status_code == 422
    for response in (known, unknown):
        assert "E-Mail oder Passwort ist falsch." in response.get_data(as_text=True)
    # One argon2id verification each: the unknown account against a dummy hash.
    assert calls == ["$argon2id", "$argon2id"]


def test_failed_login_is_audited_without_the_typed_email(app, client, account):
    _post(client, email="tippfehler@example.org")
    _post(client)
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "user.login_failed")
        ).all()
        assert [r.object_id for r in rows] == [None, account]
        for row in rows:
            assert row.actor == "anonym"
            assert "tippfehler" not in str(row.after) + str(row.reason)
        # The throttle keys are keyed hashes: no e-mail address or IP address in clear.
        keys = db.session.scalars(sa.select(LoginThrottle.key)).all()
        assert keys and all(len(k) == 64 and "@" not in k and "." not in k for k in keys)


def test_five_failures_then_a_growing_delay_with_a_german_time(app, client, account, clock):
    for _ in range(5):
        assert _post(client).status_code == 422
    refused = _post(client, password=PASSWORD)  # even the right password is not checked
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "Zu viele fehlgeschlagene Anmeldungen" in page
    assert " Uhr erneut" in page
    clock.advance(seconds=29)
    assert _post(client, password=PASSWORD).status_code == 429
    clock.advance(seconds=2)
    assert _post(client).status_code == 422  # sixth failure: now 60 s
    clock.advance(seconds=59)
    assert _post(client, password=PASSWORD).status_code == 429
    clock.advance(seconds=2)
    assert _post(client, password=PASSWORD).status_code == 302  # signed in: count cleared
    with app.app_context():
        assert db.session.get(LoginThrottle, throttle.account_key(EMAIL)) is None
    assert "user.login_refused" in _actions(app)


def test_delays_double_up_to_a_maximum(app):
    with app.app_context():
        assert [throttle.delay_after(n) for n in (0, 4)] == [None, None]
        assert throttle.delay_after(5) == timedelta(seconds=30)
        assert throttle.delay_after(6) == timedelta(seconds=60)
        assert throttle.delay_after(9) == timedelta(minutes=8)
        assert throttle.delay_after(10) == timedelta(minutes=15)
        assert throttle.delay_after(19) == timedelta(minutes=15)


def test_the_address_is_throttled_across_accounts(app, client, account, clock):
    for n in range(5):  # five different accounts (known or not) from one address
        _post(client, email=f"probe{n}@example.org", address="10.9.9.9")
    assert _post(client, password=PASSWORD, address="10.9.9.9").status_code == 429
    assert _post(client, password=PASSWORD, address="10.9.9.8").status_code == 302


def test_old_failures_are_forgotten(app, client, account, clock):
    for _ in range(4):
        _post(client)
    clock.advance(hours=25)
    _post(client)
    assert _post(client).status_code == 422  # counting again from 1, no delay


def test_twenty_failures_lock_the_account_until_an_admin_unlocks(app, client, account, runner):
    now = utcnow() - timedelta(hours=12)
    with app.app_context():
        for n in range(20):  # 16 minutes apart: every delay has passed, all in one window
            outcome = users.sign_in(EMAIL, WRONG, f"10.1.0.{n}", now + timedelta(minutes=16 * n))
            assert outcome.user is None
        db.session.commit()
        assert users.is_locked(db.session.get(User, account))
    locked = _post(client, password=PASSWORD, address="10.2.0.1")
    assert locked.status_code == 429
    assert "gesperrt" in locked.get_data(as_text=True)
    assert _actions(app).count("user.locked") == 1

    result = runner.invoke(args=["users", "unlock", EMAIL.upper()])
    assert result.exit_code == 0 and "aufgehoben" in result.output
    assert _post(client, password=PASSWORD, address="10.2.0.1").status_code == 302
    assert "user.unlock" in _actions(app)
    result = runner.invoke(args=["users", "unlock", EMAIL])
    assert result.exit_code == 0 and "nicht gesperrt" in result.output
    result = runner.invoke(args=["users", "unlock", "niemand@example.org"])
    assert result.exit_code != 0 and "Kein Konto" in result.output


def test_unknown_accounts_lock_too_so_the_answer_tells_nothing(app, client):
    now = utcnow() - timedelta(hours=12)
    with app.app_context():
        for n in range(20):
            users.sign_in(
                "niemand@example.org", WRONG, f"10.3.0.{n}", now + timedelta(minutes=16 * n)
            )
        db.session.commit()
    response = _post(client, email="niemand@example.org", address="10.4.0.1")
    assert response.status_code == 429 and "gesperrt" in response.get_data(as_text=True)


def test_unlock_service_needs_the_manage_permission(ctx, account):
    on_call = audit.Actor("x", user_id=account, role="on_call")
    with pytest.raises(Forbidden):
        users.unlock(on_call, account)
    admin = audit.Actor("a", user_id=None, role="admin")
    assert users.unlock(admin, account) is False


def test_inactive_account_cannot_sign_in(app, client, account):
    with app.app_context():
        users.set_active(audit.CLI, account, False)
        db.session.commit()
    assert _post(client, password=PASSWORD).status_code == 422


def test_failed_api_tokens_count_per_address(app, api):
    api.token_for("on_call")
    for _ in range(5):
        response = api.get("/facilities", role="on_call", headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401
        assert response.json["code"] == Code.UNAUTHENTICATED
    blocked = api.get("/facilities", role="on_call")  # the valid token: refused unchecked
    assert blocked.status_code == 401
    assert blocked.json["code"] == Code.LOGIN_THROTTLED
    assert "Uhr erneut" in blocked.json["error"]
    assert blocked.json["field"] == "Authorization"
    other = api.client.get(
        "/api/v1/facilities",
        headers={"Authorization": f"Bearer {api.token_for('on_call')}"},
        environ_base={"REMOTE_ADDR": "10.5.5.5"},
    )
    assert other.status_code == 200
    assert "api.auth_failed" in _actions(app)


def _address_row(app, address="127.0.0.1"):
    with app.app_context():
        return db.session.get(LoginThrottle, throttle.address_key(address))


def _fail_tokens(api, times=5):
    for _ in range(times):
        api.get("/facilities", role="on_call", headers={"Authorization": "Bearer nope"})


def test_a_blocked_address_gets_no_answer_about_an_unknown_token_and_no_further_count(app, api):
    api.token_for("on_call")
    _fail_tokens(api)
    counted = _address_row(app).failures
    again = api.get("/facilities", role="on_call", headers={"Authorization": "Bearer nope"})
    assert again.status_code == 401
    assert again.json["code"] == Code.LOGIN_THROTTLED
    assert _address_row(app).failures == counted


def test_the_token_of_a_deactivated_account_fails_and_counts(app, api):
    api.token_for("on_call")
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "on_call@example.org"))
        users.set_active(audit.CLI, user.id, False)
        db.session.commit()
    refused = api.get("/facilities", role="on_call")
    assert refused.status_code == 401
    assert refused.json["code"] == Code.UNAUTHENTICATED
    assert _address_row(app).failures == 1
    assert _actions(app)[-1] == "api.auth_failed"


def test_an_old_count_of_failed_tokens_starts_again(app, api, clock):
    api.token_for("on_call")
    _fail_tokens(api)
    clock.advance(hours=app.config["LOGIN_FAILURE_WINDOW_HOURS"], minutes=1)
    assert api.get("/facilities", role="on_call").status_code == 200
    _fail_tokens(api, times=1)
    assert _address_row(app).failures == 1


def test_a_valid_token_and_its_address_count_are_read_in_one_statement(app, api):
    """Every API request is authenticated: the account and the throttle row of its
    address come in one round trip to the database."""
    token = api.token_for("on_call")
    with app.app_context(), recorded_statements() as statements:
        response = api.client.get(
            "/api/v1/facilities", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200
    authentication = [s for s in statements if "login_throttle" in s or "api_token_hash" in s]
    assert len(authentication) == 1
    assert "login_throttle" in authentication[0] and "api_token_hash" in authentication[0]


def test_logout_and_403_are_audited_without_personal_data(app, client, login):
    login(role="on_call", email="bd@example.org")
    assert client.get("/facilities/new").status_code == 403
    client.post("/auth/logout")
    with app.app_context():
        forbidden = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "http.forbidden")
        )
        assert forbidden.actor == "bd@example.org"
        assert forbidden.after["rule"] == "/facilities/new"
        assert forbidden.after["method"] == "GET"
    assert _actions(app)[-1] == "user.logout"


def test_api_403_is_audited(app, api):
    response = api.post("/facilities", role="on_call", json={"name": "X"})
    assert response.status_code == 403
    assert "http.forbidden" in _actions(app)


def test_the_login_page_opens_with_the_focus_in_the_email(client):
    page = client.get("/auth/login").get_data(as_text=True)
    email = re.search(r"<input[^>]*id=\"email\"[^>]*>", page).group(0)
    assert "autofocus" in email and 'autocomplete="username"' in email
    assert page.count("autofocus") == 1
