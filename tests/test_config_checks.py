"""The app refuses to serve with a weak configuration: a secret key under 32 bytes, debug
outside development, demo accounts in production (ASVS 14.1, 14.3.2, 2.10). `make run`
serves a demo database and says so on the login page."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from placement import create_app
from placement.auth.hardening import config_problems
from placement.config import DEV_SECRET_KEY
from placement.extensions import db
from placement.models import User
from placement.services.accounts import audit, users
from placement.services.seed.demo import DEMO_PASSWORD
from tests.conftest import make_app

GOOD_KEY = "k" * 32


def _problems(app, **config):
    saved = dict(app.config)
    app.config.update(config)
    try:
        return config_problems(app)
    finally:
        app.config.clear()
        app.config.update(saved)


def test_secret_key_must_have_32_bytes(app):
    assert _problems(app, SECRET_KEY=GOOD_KEY, ENV="production") == []
    for weak in ("k" * 31, "", None, DEV_SECRET_KEY):
        (problem,) = _problems(app, SECRET_KEY=weak, ENV="production")
        assert "SECRET_KEY" in problem
    # Bytes count, not characters: 16 umlauts are 32 bytes.
    assert _problems(app, SECRET_KEY="ä" * 16, ENV="production") == []


def test_debug_only_in_development(app):
    app.debug = True
    try:
        assert _problems(app, SECRET_KEY=GOOD_KEY, ENV="development") == []
        for env in ("production", "demo"):
            (problem,) = _problems(app, SECRET_KEY=GOOD_KEY, ENV=env)
            assert "debug" in problem
    finally:
        app.debug = False


def test_unknown_environment_is_refused(app):
    (problem,) = _problems(app, SECRET_KEY=GOOD_KEY, ENV="prod")
    assert "PLACEMENT_ENV" in problem


def test_demo_accounts_are_refused_in_production_only(app, runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0  # the test apps are "demo"
    (problem,) = _problems(app, SECRET_KEY=GOOD_KEY, ENV="production")
    assert "demo account" in problem and "leitung@demo.local" in problem
    assert _problems(app, SECRET_KEY=GOOD_KEY, ENV="demo") == []
    with app.app_context():
        for user in users.demo_accounts():
            users.set_active(audit.CLI, user.id, False)
        db.session.commit()
    assert _problems(app, SECRET_KEY=GOOD_KEY, ENV="production") == []


def test_create_app_refuses_to_serve_production_with_demo_accounts(
    app, runner, database_url, tmp_path
):
    runner.invoke(args=["seed-demo"])
    config = {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": GOOD_KEY}
    with pytest.raises(RuntimeError, match="demo account"):
        create_app({**config, "ENV": "production"})
    served = create_app({**config, "ENV": "demo"})
    assert not served.testing
    with served.app_context():
        db.engine.dispose()


def test_create_app_refuses_short_keys_but_not_maintenance_commands(
    monkeypatch, tmp_path, database_url
):
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    with pytest.raises(RuntimeError, match="32 bytes"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "short"})
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    monkeypatch.setattr("sys.argv", ["flask", "--app", "placement", "db", "upgrade"])
    create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "short"})


def test_seed_demo_refuses_a_production_database(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(tmp_path, database_url, ENV="production")
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "PLACEMENT_ENV=demo" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
        db.session.remove()
        db.engine.dispose()


def test_login_page_names_the_demo_accounts_in_a_demo_database(app, client, runner):
    assert "Demo-Datenbank" not in client.get("/auth/login").get_data(as_text=True)
    runner.invoke(args=["seed-demo"])
    page = client.get("/auth/login").get_data(as_text=True)
    assert "Demo-Datenbank" in page
    assert "leitung@demo.local" in page and DEMO_PASSWORD in page
    # The demo password still passes the policy and signs in.
    response = client.post(
        "/auth/login", data={"email": "leitung@demo.local", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302
    app.config["ENV"] = "production"
    other = app.test_client()
    assert "Demo-Datenbank" not in other.get("/auth/login").get_data(as_text=True)
