"""Shared fixtures: an app per database backend, a client, factory fixtures, and the two
surfaces as a user of a role sees them: ``login`` (the HTML client) and ``api``.

Every app runs the real migrations on a fresh database: a file-backed SQLite database in
a temporary folder, and (when a server is available) PostgreSQL."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from flask import current_app
from flask_migrate import upgrade

from placement import create_app
from placement.api import dumping
from placement.extensions import db
from placement.models import Facility, User, Youth
from placement.services.accounts import audit, users
from placement.services.intake import stays
from placement.services.occupancy import capacity
from tests.postgres import postgres_server

# Every answer the tests see is dumped twice, quickly and by marshmallow, and compared.
dumping.VERIFY = True

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_url():
    with postgres_server() as url:
        yield url


# Migrating a database takes about 0.4 s, more than most tests; a test that asks for
# ``app`` therefore starts from a copy of a database migrated once per test process.
_MIGRATED: dict[str, str] = {}
PG_TEST_DB = "platzplan_test"
PG_TEMPLATE_DB = "platzplan_migrated"


def _migrate(url: str) -> None:
    app = make_app(None, url)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _sqlite_copy(path) -> None:
    """A migrated database at ``path``, copied from this process's template."""
    template = _MIGRATED.get("sqlite")
    if template is None:
        folder = tempfile.mkdtemp(prefix="platzplan-migrated-")
        template = os.path.join(folder, "migrated.sqlite")
        _migrate(f"sqlite:///{template}")
        _MIGRATED["sqlite"] = template
    shutil.copyfile(template, path)


def _postgres_database(url: str, *, migrated: bool) -> str:
    """The URL of a fresh test database beside ``url``'s: a copy of one migrated once per
    test process, or empty (``migrated`` False, for tests that migrate themselves)."""
    server = sa.engine.make_url(url)
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if migrated and "postgresql" not in _MIGRATED:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_TEMPLATE_DB} WITH (FORCE)")
                conn.exec_driver_sql(f"CREATE DATABASE {PG_TEMPLATE_DB} TEMPLATE template0")
                _migrate(server.set(database=PG_TEMPLATE_DB).render_as_string(False))
                _MIGRATED["postgresql"] = PG_TEMPLATE_DB
            template = PG_TEMPLATE_DB if migrated else "template0"
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_TEST_DB} WITH (FORCE)")
            conn.exec_driver_sql(
                f"CREATE DATABASE {PG_TEST_DB} TEMPLATE {template} STRATEGY FILE_COPY"
            )
    finally:
        admin.dispose()
    return server.set(database=PG_TEST_DB).render_as_string(False)


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A fresh database per test: already migrated when the test uses ``app``, else empty."""
    migrated = "app" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite"
        if migrated:
            _sqlite_copy(path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    if url is None:
        message = "no PostgreSQL server available (install Debian's postgresql package)"
        if os.environ.get("PLACEMENT_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    return _postgres_database(url, migrated=migrated)


def make_app(tmp_path, database_url, *, migrate: bool = True, **overrides):
    """The app on ``database_url``, migrated to the head (``migrate`` False: it is a copy
    of a migrated database, see ``database_url``)."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        # Tests seed demo data (refused in production); production's refusals are tested
        # in tests/test_config_checks.py.
        "ENV": "demo",
    }
    config.update(overrides)
    app = create_app(config)
    if migrate:
        with app.app_context():
            upgrade()
    return app


@pytest.fixture
def app(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(tmp_path, database_url, migrate=False)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An application context with a clean session, for service-level tests."""
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@contextlib.contextmanager
def recorded_statements():
    """The SQL statements run inside the block (without BEGIN), as a list."""
    engine = db.engine
    statements: list[str] = []

    def listener(conn, cursor, statement, *args):
        if not statement.startswith("BEGIN"):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)


def at(text: str) -> datetime:
    """An aware UTC instant from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


_serial = itertools.count(1)


def create_facility(
    licensed: int = 10, valid_from: datetime | None = None, **overrides
) -> Facility:
    """A facility with one open-ended capacity period (needs an app context)."""
    n = next(_serial)
    values = {
        "code": f"f{n}",
        "name": f"Einrichtung {n}",
        "kind": "inobhutnahme",
        "age_min": 0,
        "age_max": 17,
        "genders": "dfm",
        "uma_policy": "allowed",
        "planning_area": "Mitte/Süd",
        "latitude": 51.34,
        "longitude": 12.37,
    }
    values.update(overrides)
    facility = Facility(**values)
    db.session.add(facility)
    db.session.flush()
    capacity.add_capacity_period(
        audit.SYSTEM,
        facility.id,
        valid_from=valid_from or at("2020-01-01 00:00"),
        licensed_places=licensed,
    )
    return facility


def create_youth(**overrides) -> Youth:
    n = next(_serial)
    values = {
        "reference": f"Y-{n:05d}",
        "birth_date": date(2010, 5, 17),
        "gender": "m",
        "uma": False,
    }
    values.update(overrides)
    youth = Youth(**values)
    db.session.add(youth)
    db.session.flush()
    return youth


def create_stay(youth, facility, start: str, end: str | None = None, **overrides):
    return stays.record_stay(
        audit.SYSTEM,
        youth_id=youth.id,
        facility_id=facility.id,
        legal_basis=overrides.pop("legal_basis", "42-1-2"),
        start_at=at(start),
        end_at=at(end) if end else None,
        end_reason=overrides.pop("end_reason", "return_home" if end else None),
        **overrides,
    )


# Factory fixtures for service-level tests, which hold an app context (``ctx``). Tests that
# send requests should build their data with the functions above inside a short
# ``with app.app_context()`` instead, so that each request gets its own session.
@pytest.fixture
def make_facility(ctx):
    return create_facility


@pytest.fixture
def make_youth(ctx):
    return create_youth


@pytest.fixture
def make_stay(ctx):
    return create_stay


# --- the two surfaces ------------------------------------------------------------------------

PASSWORD = "correct horse battery"


# Facility managers and admins see persons only of the facilities assigned to them (#13).
# The test accounts of ``login`` and ``api`` are assigned every facility there is whenever
# they act, so that the other tests test other things, until a test sets an account's
# facilities itself; scope is tested with accounts of their own in tests/test_scope.py and
# tests/test_access_walk.py.
ASSIGNED_ROLES = ("facility_manager", "admin")


def assign_every_facility(email: str) -> None:
    """Give the account every facility, unless the test chose its facilities (inside an app
    context; commits)."""
    if not current_app.config.get("TESTS_ASSIGN_EVERY_FACILITY", True):
        return
    user = db.session.scalar(sa.select(User).filter_by(email=email))
    if user is None or user.role.value not in ASSIGNED_ROLES:
        return
    granted = current_app.extensions.setdefault("tests.granted_facilities", {})
    current = sorted(f.id for f in user.facilities)
    if email in granted and granted[email] != current:
        return  # the test assigned facilities itself
    every = db.session.scalars(sa.select(Facility).order_by(Facility.id)).all()
    granted[email] = [f.id for f in every]
    if current != granted[email]:
        user.facilities = list(every)
        db.session.commit()


@pytest.fixture
def scoped_accounts(app):
    """The test accounts keep the facilities a test gives them (none at first): for tests
    of the scope rules themselves (``pytestmark = pytest.mark.usefixtures(...)``)."""
    app.config["TESTS_ASSIGN_EVERY_FACILITY"] = False


def sign_in(app, client, role="department_head", email="chef@example.org", every_facility=True):
    """Log ``client`` in as a user of ``role`` (created on first use; facility managers and
    admins are assigned every facility unless ``every_facility`` is False)."""
    with app.app_context():
        if not db.session.scalar(sa.select(User).filter_by(email=email)):
            users.create_user(audit.CLI, email=email, role=role, password=PASSWORD)
            db.session.commit()
        if every_facility:
            assign_every_facility(email)
    return client.post("/auth/login", data={"email": email, "password": PASSWORD})


@pytest.fixture
def login(app, client):
    """``login(role=..., email=...)`` logs the test client in as a user of that role."""

    def log_in(role="department_head", email="chef@example.org", every_facility=True):
        return sign_in(app, client, role=role, email=email, every_facility=every_facility)

    return log_in


class Api:
    """The JSON API as a user of a role: ``api.post(path, json=..., role=...)``. Every
    answer is checked against the generated OpenAPI document (``tests.openapi_check``)."""

    def __init__(self, app) -> None:
        from tests.openapi_check import ResponseChecker

        self.app = app
        self.client = app.test_client()
        self.tokens: dict[str, str] = {}
        self.checker = ResponseChecker(app)

    def token_for(self, role: str) -> str:
        if role not in self.tokens:
            email = f"{role}@example.org"
            with self.app.app_context():
                users.create_user(
                    audit.CLI, email=email, role=role, password="long enough password"
                )
                self.tokens[role] = users.issue_token(audit.CLI, email)
                db.session.commit()
                assign_every_facility(email)  # from now on the test may choose others
        return self.tokens[role]

    def call(self, method, path, role="facility_manager", **kwargs):
        headers = {"Authorization": f"Bearer {self.token_for(role)}", **kwargs.pop("headers", {})}
        with self.app.app_context():
            assign_every_facility(f"{role}@example.org")
        response = self.client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)
        self.checker.check(response)
        return response

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, **kw):
        return self.call("POST", path, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def patch(self, path, **kw):
        return self.call("PATCH", path, **kw)


@pytest.fixture
def api(app):
    """Call the API as a user of a role; every answer is validated against the schema."""
    return Api(app)
