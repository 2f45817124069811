"""Passwords: the policy (length, common passwords, the e-mail address), argon2id hashes and
their upgrade at login, and the password-change page (ASVS 2.1, 2.4)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from werkzeug.security import generate_password_hash

from placement.extensions import db
from placement.models import AuditEvent, User
from placement.services.accounts import audit, passwords, users
from placement.services.errors import Code, RuleViolation
from placement.services.seed.demo import DEMO_PASSWORD
from tests.conftest import PASSWORD

NEW = "ein langer neuer Satz als Passwort"


# --- the policy (no database) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("elf Zeichen", Code.PASSWORD_TOO_SHORT),  # 11 characters
        ("x" * 129, Code.PASSWORD_TOO_LONG),
        ("password1234", Code.PASSWORD_TOO_COMMON),
        ("PASSWORD1234", Code.PASSWORD_TOO_COMMON),  # case does not make it uncommon
        ("qwertyuiop12", Code.PASSWORD_TOO_COMMON),
        ("1q2w3e4r5t6y", Code.PASSWORD_TOO_COMMON),
        ("password 1234", Code.PASSWORD_TOO_COMMON),  # nor a space
        ("maria.schulz-sommer", Code.PASSWORD_CONTAINS_EMAIL),
        ("Mein MARIA.SCHULZ Passwort", Code.PASSWORD_CONTAINS_EMAIL),
    ],
)
def test_policy_refuses(password, code):
    with pytest.raises(RuleViolation) as caught:
        passwords.check_policy(password, "maria.schulz@jugendamt.example")
    assert caught.value.code == code
    assert caught.value.field == "password"


def test_policy_accepts_long_uncommon_passwords_and_the_demo_password():
    passwords.check_policy("zwölf Zeiche", "a@example.org")  # exactly 12
    passwords.check_policy("x" * 128, "a@example.org")
    passwords.check_policy(DEMO_PASSWORD, "leitung@demo.local")
    passwords.check_policy(PASSWORD, "chef@example.org")
    # A local part of one or two letters is no reason to refuse (it is in many words).
    passwords.check_policy("Mohn, Tee und Rabe", "ab@example.org")


def test_common_list_is_bundled_and_large():
    common = passwords.common_passwords()
    assert len(common) >= 10_000
    assert {"123456", "password", "qwerty", "iloveyou"} <= common


def test_hash_is_argon2id_with_owasp_parameters():
    digest = passwords.hash_password("ein Passwort für den Test")
    assert digest.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify(digest, "ein Passwort für den Test")
    assert not passwords.verify(digest, "ein Passwort für den Tesd")
    assert not passwords.needs_rehash(digest)
    assert passwords.needs_rehash(generate_password_hash("x"))
    assert passwords.needs_rehash(PasswordHasher(memory_cost=65536, time_cost=3).hash("x"))
    assert not passwords.verify("garbage", "x")


# --- accounts --------------------------------------------------------------------------------


def test_create_user_applies_the_policy(ctx):
    with pytest.raises(RuleViolation) as caught:
        users.create_user(
            audit.CLI, email="kurz@example.org", role="on_call", password="zu kurz 123"
        )
    assert (caught.value.code, caught.value.field) == (Code.PASSWORD_TOO_SHORT, "password")
    with pytest.raises(RuleViolation) as caught:
        users.create_user(
            audit.CLI, email="kurz@example.org", role="on_call", password="password1234"
        )
    assert caught.value.code == Code.PASSWORD_TOO_COMMON


def test_cli_create_refuses_a_common_password_in_german(runner):
    result = runner.invoke(
        args=["users", "create", "neu@example.org", "--role", "on_call"],
        input="password1234\npassword1234\n",
    )
    assert result.exit_code != 0
    assert "zu verbreitet" in result.output


@pytest.mark.parametrize(
    "old_hash",
    [
        lambda pw: generate_password_hash(pw),  # werkzeug's scrypt (before argon2)
        lambda pw: generate_password_hash(pw, method="pbkdf2:sha256"),
        lambda pw: PasswordHasher(memory_cost=65536, time_cost=3, parallelism=4).hash(pw),
    ],
)
def test_old_hashes_verify_and_are_replaced_at_login(app, client, old_hash):
    with app.app_context():
        user = users.create_user(
            audit.CLI, email="alt@example.org", role="on_call", password=PASSWORD
        )
        user.password_hash = old_hash(PASSWORD)
        db.session.commit()
    response = client.post("/auth/login", data={"email": "alt@example.org", "password": PASSWORD})
    assert response.status_code == 302
    with app.app_context():
        stored = db.session.scalar(sa.select(User.password_hash).filter_by(email="alt@example.org"))
        assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert passwords.verify(stored, PASSWORD)


# --- the password-change page ----------------------------------------------------------------


def _change(client, current=PASSWORD, new=NEW, repeat=None):
    return client.post(
        "/auth/password",
        data={
            "current_password": current,
            "new_password": new,
            "new_password_repeat": new if repeat is None else repeat,
        },
    )


def test_password_page_needs_login(client):
    response = client.get("/auth/password")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("form", "field_text", "message"),
    [
        ({"current": "falsch falsch falsch"}, "Aktuelles Passwort", "aktuelle Passwort ist falsch"),
        ({"new": "kurz"}, "Neues Passwort", "mindestens 12 Zeichen"),
        ({"new": "password1234"}, "Neues Passwort", "zu verbreitet"),
        ({"new": "chef ist der beste"}, "Neues Passwort", "E-Mail-Adresse"),
        ({"repeat": "etwas ganz anderes"}, "wiederholen", "stimmen nicht überein"),
        ({"new": PASSWORD}, "Neues Passwort", "unterscheiden"),
    ],
)
def test_password_change_refusals_name_the_field(app, client, login, form, field_text, message):
    login()
    response = _change(client, **form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert field_text in page
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(email="chef@example.org"))
        assert user.check_password(PASSWORD)


def test_password_change_missing_fields_are_named(client, login):
    login()
    response = client.post("/auth/password", data={})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Bitte das aktuelle Passwort angeben." in page
    assert "Bitte das neue Passwort wiederholen." in page


def test_password_change_ends_other_sessions_and_keeps_this_one(app, client, login):
    login()
    other = app.test_client()
    other.post("/auth/login", data={"email": "chef@example.org", "password": PASSWORD})
    assert other.get("/").status_code == 200

    response = _change(client)
    assert response.status_code == 302
    page = client.get("/auth/password")  # still signed in here, with the news
    assert page.status_code == 200
    assert "Das Passwort wurde geändert" in page.get_data(as_text=True)
    gone = other.get("/")
    assert gone.status_code == 302 and "/auth/login" in gone.headers["Location"]

    fresh = app.test_client()
    old = fresh.post("/auth/login", data={"email": "chef@example.org", "password": PASSWORD})
    assert old.status_code == 422
    new = fresh.post("/auth/login", data={"email": "chef@example.org", "password": NEW})
    assert new.status_code == 302
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action)).all()
        assert "user.password_change" in actions


def test_cli_set_password_applies_policy_and_ends_sessions(app, client, login, runner):
    login()
    result = runner.invoke(
        args=["users", "set-password", "chef@example.org"], input="password1234\npassword1234\n"
    )
    assert result.exit_code != 0 and "zu verbreitet" in result.output
    result = runner.invoke(
        args=["users", "set-password", "chef@example.org"], input=f"{NEW}\n{NEW}\n"
    )
    assert result.exit_code == 0, result.output
    assert client.get("/").status_code == 302
