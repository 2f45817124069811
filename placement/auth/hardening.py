"""Sessions, cookies, the reverse proxy and the configuration checks done at start-up
(OWASP ASVS 4.0 V3 and V14), plus the audit row for every refused request (403)."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix

from placement.config import DEV_SECRET_KEY

ENVIRONMENTS = ("production", "demo", "development")
MIN_SECRET_BYTES = 32
HOST_COOKIE_NAME = "__Host-platzplan"

log = logging.getLogger(__name__)


def configure(app: Flask) -> None:
    """Cookie flags, the session store and ProxyFix, from the loaded configuration."""
    from placement.auth.session_store import DatabaseSessionInterface

    config = app.config
    if str(config.get("PREFERRED_URL_SCHEME", "http")).lower() == "https":
        config["SESSION_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_SECURE"] = True
        # "__Host-": the browser keeps it only if Secure, for this host, on path "/".
        if config.get("SESSION_COOKIE_NAME", "session") == "session" and not config.get(
            "SESSION_COOKIE_DOMAIN"
        ):
            config["SESSION_COOKIE_NAME"] = HOST_COOKIE_NAME
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["REMEMBER_COOKIE_HTTPONLY"] = True
    config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    config["REMEMBER_COOKIE_SAMESITE"] = config["SESSION_COOKIE_SAMESITE"] or "Lax"
    app.session_interface = DatabaseSessionInterface()
    counts = {
        name: int(config.get(f"PROXY_FIX_{name.upper()}", 0) or 0)
        for name in ("x_for", "x_proto", "x_host", "x_prefix")
    }
    if any(counts.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, **counts)  # type: ignore[method-assign]


def _secret_bytes(secret: object) -> bytes:
    if isinstance(secret, bytes):
        return secret
    return str(secret or "").encode()


def config_problems(app: Flask) -> list[str]:
    """What makes this configuration unfit to serve requests (empty: fit)."""
    problems: list[str] = []
    env = app.config.get("ENV", "production")
    if env not in ENVIRONMENTS:
        problems.append(f"PLACEMENT_ENV={env!r} is unknown (allowed: {', '.join(ENVIRONMENTS)})")
    secret = app.config.get("SECRET_KEY")
    if secret == DEV_SECRET_KEY or len(_secret_bytes(secret)) < MIN_SECRET_BYTES:
        problems.append(
            f"SECRET_KEY is the development key or shorter than {MIN_SECRET_BYTES} bytes: "
            "set PLACEMENT_SECRET_KEY or SECRET_KEY in instance/config.py "
            "(`make instance/config.py` writes a random one)"
        )
    if app.debug and env != "development":
        problems.append("debug mode is on outside PLACEMENT_ENV=development")
    if env == "production":
        demo = _active_demo_accounts(app)
        if demo:
            problems.append(
                f"{len(demo)} demo account(s) still active in production ({', '.join(demo)}): "
                "deactivate them or run with PLACEMENT_ENV=demo"
            )
    return problems


def _active_demo_accounts(app: Flask) -> list[str]:
    from placement.extensions import db
    from placement.services.accounts import users

    with app.app_context():
        try:
            return [user.email for user in users.demo_accounts()]
        except SQLAlchemyError:  # not migrated yet: no accounts at all
            db.session.rollback()
            return []
        finally:
            db.session.remove()


def refuse_insecure_config(app: Flask) -> None:
    """Raise RuntimeError instead of serving with an unfit configuration."""
    problems = config_problems(app)
    if problems:
        raise RuntimeError("Refusing to serve requests: " + "; ".join(problems) + ".")


def register_forbidden_audit(app: Flask) -> None:
    """Every 403 answer leaves an audit row: who, which endpoint (the route pattern, never
    the ids or the query), no personal data (ASVS 7.1.3, 7.2.2)."""

    @app.after_request
    def _audit_forbidden(response: Response) -> Response:
        if response.status_code != 403:
            return response
        from flask_login import current_user

        from placement.extensions import db
        from placement.services.accounts import audit

        user = getattr(g, "api_user", None)
        if user is None and current_user and current_user.is_authenticated:
            user = current_user
        actor = audit.Actor.for_user(user) if user is not None else audit.Actor("anonym")
        try:
            db.session.rollback()  # a refused request keeps nothing it may have begun
            audit.record(
                actor,
                "http.forbidden",
                object_type="request",
                after={
                    "method": request.method,
                    "endpoint": request.endpoint,
                    "rule": request.url_rule.rule if request.url_rule else None,
                    "api": request.path.startswith("/api/"),
                },
            )
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("could not record a 403 in the audit log")
        return response
