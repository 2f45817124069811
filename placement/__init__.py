"""Platzplan: places and occupancy of emergency youth-care facilities."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from placement.config import DefaultConfig
from placement.json_provider import FastJSONProvider

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    Configuration precedence, lowest first: DefaultConfig, ``instance/config.py``,
    ``PLACEMENT_*`` environment variables, then ``test_config``."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("PLACEMENT_INSTANCE_PATH", str(PROJECT_DIR / "instance")),
        instance_relative_config=True,
        template_folder=str(PROJECT_DIR / "templates"),
    )
    app.json = FastJSONProvider(app)
    app.config.from_object(DefaultConfig)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("PLACEMENT")
    if test_config is not None:
        app.config.from_mapping(test_config)

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        db_file = Path(app.instance_path) / "placement.sqlite"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{db_file}"
    from placement.auth import hardening

    hardening.configure(app)  # cookie flags, the session store, ProxyFix

    _init_extensions(app)
    _refuse_insecure_config(app)
    _register_blueprints(app)
    hardening.register_forbidden_audit(app)
    _register_template_helpers(app)

    from placement import cli, views

    views.register(app)
    cli.register(app)
    _start_plan_worker(app)
    return app


def _start_plan_worker(app: Flask) -> None:
    """The embedded plan worker: a thread of `flask run` (what `make run` starts), never in
    tests, WSGI servers (production runs `flask worker run`), maintenance commands or the
    reloader's watching parent."""
    if app.testing or not app.config["PLAN_WORKER_THREAD"]:
        return
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true" or "run" not in sys.argv[1:]:
        return
    if app.debug and os.environ.get("WERKZEUG_RUN_MAIN") != "true":
        return
    from placement import worker

    worker.start_thread(app)


def _serves_requests() -> bool:
    """False for maintenance commands (`flask db upgrade`, `flask seed-demo`, ...), which
    never sign a cookie; true under a WSGI server and for `flask run`."""
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":
        return True
    return "run" in sys.argv[1:]


def _refuse_insecure_config(app: Flask) -> None:
    """No serving with a short or development secret key, debug outside development, or
    active demo accounts in production (placement.auth.hardening.config_problems)."""
    if app.testing or not _serves_requests():
        return
    from placement.auth import hardening

    hardening.refuse_insecure_config(app)


def _init_extensions(app: Flask) -> None:
    from flask_babel import lazy_gettext

    from placement import (
        models,  # noqa: F401  (register tables before migrations look)
        security_headers,
    )
    from placement.database import configure_engine, engine_options
    from placement.extensions import babel, bootstrap, csrf, db, login_manager, migrate
    from placement.services.alerts import engine  # noqa: F401  (the at-once alert hook)
    from placement.settings.locale import select_locale

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    migrate.init_app(app, db, directory=str(PACKAGE_DIR / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    security_headers.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    bootstrap.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Bitte melden Sie sich an.")
    login_manager.localize_callback = str  # the lazy text in the request's language
    login_manager.login_message_category = "info"

    @app.before_request
    def _writers_lock_first() -> None:
        # A request that may write takes SQLite's write lock before it reads (see
        # take_write_lock); reads (GET, HEAD, OPTIONS) keep WAL's concurrent snapshots.
        from flask import request

        from placement.services.occupancy.locking import take_write_lock

        if request.method not in ("GET", "HEAD", "OPTIONS"):
            take_write_lock()

    @login_manager.user_loader
    def _load_user(user_id: str):
        from placement.services.accounts import users

        return users.load_session_user(user_id)


def _register_blueprints(app: Flask) -> None:
    from placement import api, converters
    from placement.admin import bp as admin_bp
    from placement.alerts import bp as alerts_bp
    from placement.audit import bp as audit_bp
    from placement.auth import bp as auth_bp
    from placement.facilities import bp as facilities_bp
    from placement.intake import bp as intake_bp
    from placement.main import bp as main_bp
    from placement.people import bp as people_bp
    from placement.planning import bp as planning_bp
    from placement.reports import bp as reports_bp
    from placement.settings import bp as settings_bp

    converters.install(app)  # bounded ids in paths, before the first route is added
    app.register_blueprint(auth_bp)
    app.register_blueprint(main_bp)
    api.init_app(app)
    app.register_blueprint(intake_bp)
    app.register_blueprint(people_bp)
    app.register_blueprint(facilities_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(planning_bp)
    app.register_blueprint(alerts_bp)
    app.register_blueprint(settings_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(admin_bp)


def _register_template_helpers(app: Flask) -> None:
    from placement import formatting, navigation
    from placement.facilities.display import status_badge
    from placement.models.enums import label

    app.jinja_env.filters["dt"] = formatting.format_local
    app.jinja_env.filters["date"] = formatting.format_local_date
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["percent"] = formatting.format_percent
    app.jinja_env.globals["status_badge"] = status_badge
    app.context_processor(navigation.inject)
