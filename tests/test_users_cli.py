"""`flask users create` and `flask users token`."""

from __future__ import annotations

import sqlalchemy as sa

from placement.extensions import db
from placement.models import User


def test_create_user_with_prompted_password_and_issue_token(app, runner, client):
    result = runner.invoke(
        args=["users", "create", "Nacht@Example.org", "--role", "on_call"],
        input="geheim-genug-123\ngeheim-genug-123\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User))
        assert user.email == "nacht@example.org" and user.role.value == "on_call"
        assert user.check_password("geheim-genug-123")
    result = runner.invoke(args=["users", "token", "nacht@example.org"])
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    response = client.get("/api/v1/facilities", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    # A new token replaces the old one.
    runner.invoke(args=["users", "token", "nacht@example.org"])
    response = client.get("/api/v1/facilities", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_create_user_errors(runner):
    ok = runner.invoke(
        args=["users", "create", "a@example.org", "--role", "admin", "--password", "lang-genug-1"]
    )
    assert ok.exit_code == 0
    duplicate = runner.invoke(
        args=["users", "create", "A@example.org", "--role", "admin", "--password", "lang-genug-1"]
    )
    assert duplicate.exit_code == 1 and "bereits vergeben" in duplicate.output
    short = runner.invoke(
        args=["users", "create", "b@example.org", "--role", "admin", "--password", "kurz"]
    )
    assert short.exit_code == 1 and "mindestens 12 Zeichen" in short.output
    bad_role = runner.invoke(
        args=["users", "create", "c@example.org", "--role", "boss", "--password", "lang-genug-1"]
    )
    assert bad_role.exit_code == 2
    missing = runner.invoke(args=["users", "token", "nobody@example.org"])
    assert missing.exit_code == 1 and "Kein Konto" in missing.output
