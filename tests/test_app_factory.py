"""The app factory, configuration precedence, the secret-key guard and SQLite tuning."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from placement import create_app
from placement.config import DEV_SECRET_KEY
from placement.extensions import db


@pytest.fixture
def instance(tmp_path, monkeypatch):
    path = tmp_path / "instance"
    path.mkdir()
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(path))
    for name in ("PLACEMENT_SECRET_KEY", "PLACEMENT_SQLALCHEMY_DATABASE_URI", "FLASK_RUN_FROM_CLI"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_default_database_is_sqlite_in_instance_folder(instance):
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'placement.sqlite'}"
    assert app.config["BABEL_DEFAULT_LOCALE"] == "de"


def test_config_precedence_defaults_instance_env_test(instance, monkeypatch):
    (instance / "config.py").write_text(
        "SECRET_KEY = 'from-instance'\nMAX_CONTENT_LENGTH = 123\nSQLITE_BUSY_TIMEOUT_MS = 77\n"
    )
    app = create_app({"TESTING": True})
    assert app.config["SECRET_KEY"] == "from-instance"
    assert app.config["MAX_CONTENT_LENGTH"] == 123

    monkeypatch.setenv("PLACEMENT_SECRET_KEY", "from-env")
    monkeypatch.setenv("PLACEMENT_MAX_CONTENT_LENGTH", "456")  # parsed as JSON -> int
    app = create_app({"TESTING": True})
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["MAX_CONTENT_LENGTH"] == 456
    assert app.config["SQLITE_BUSY_TIMEOUT_MS"] == 77  # instance value not overridden

    app = create_app({"TESTING": True, "SECRET_KEY": "from-test"})
    assert app.config["SECRET_KEY"] == "from-test"


def test_environment_selects_database(instance, monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    monkeypatch.setenv("PLACEMENT_SQLALCHEMY_DATABASE_URI", url)
    assert create_app({"TESTING": True}).config["SQLALCHEMY_DATABASE_URI"] == url


def test_refuses_development_secret_when_serving(instance):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()
    with pytest.raises(RuntimeError):
        create_app({"SECRET_KEY": ""})


def test_development_secret_allowed_in_testing_debug_and_maintenance_commands(
    instance, monkeypatch
):
    assert create_app({"TESTING": True}).config["SECRET_KEY"] == DEV_SECRET_KEY
    # Debug is for development only, and even there the key must be long (32 bytes).
    assert create_app({"DEBUG": True, "ENV": "development", "SECRET_KEY": "k" * 32}).debug
    with pytest.raises(RuntimeError, match="debug"):
        create_app({"DEBUG": True, "SECRET_KEY": "k" * 32})
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    monkeypatch.setattr("sys.argv", ["flask", "--app", "placement", "db", "upgrade"])
    create_app()
    monkeypatch.setattr("sys.argv", ["flask", "--app", "placement", "run"])
    with pytest.raises(RuntimeError):
        create_app()


def test_real_secret_starts(instance, monkeypatch):
    monkeypatch.setenv("PLACEMENT_SECRET_KEY", "a-real-secret-of-some-length-32-bytes+")
    assert not create_app().testing


def test_sqlite_connection_settings(instance, tmp_path):
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite'}"}
    )
    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000


def test_sqlite_immediate_transactions_take_the_write_lock(instance, tmp_path):
    """A transaction begun IMMEDIATE blocks a second writer until it ends."""
    url = f"sqlite:///{tmp_path / 'lock.sqlite'}"
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SQLITE_BUSY_TIMEOUT_MS": 50}
    )
    with app.app_context():
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        first = db.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
        first.begin()
        second = db.engine.connect().execution_options(sqlite_begin="IMMEDIATE")
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            second.begin()
        second.close()
        first.rollback()
        first.close()


def test_health_and_login_required(client):
    health = client.get("/health").get_json()
    assert (health["status"], health["database"], health["scheduler"]) == ("ok", True, None)
    response = client.get("/")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_pages_load_nothing_from_other_hosts(client, app, login):
    """The intranet rule: every src/href on a page is served by this server."""

    login()
    for url in ("/", "/auth/login"):
        html = client.get(url).get_data(as_text=True)
        for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert not re.match(r"^(https?:)?//", ref), f"{url} loads {ref}"
