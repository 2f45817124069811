"""Server-side sessions in the database (table ``user_session``), shared by every worker.

The cookie holds only a random 256-bit token; the row's id is its SHA-256, so a copy of the
database does not yield usable cookies. Everything Flask keeps in ``session`` (the login,
the CSRF secret, flashed messages that may name a case) stays on the server (ASVS 3.2.3,
8.2.2). A session ends when idle for SESSION_IDLE_MINUTES or SESSION_MAX_HOURS after it
began (the login regenerates it), whichever comes first (ASVS 3.3.1, 3.3.2)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import CallbackDict

from placement.extensions import db
from placement.models import UserSession
from placement.models.base import utcnow
from placement.settings.locale import SESSION_KEY as LOCALE_KEY

# What survives a new session id: the interface language chosen on the login page (no
# secret, nothing about the user).
CARRIED_OVER = (LOCALE_KEY,)
# Write last_seen_at at most this often for an unchanged session (the idle clock's grain).
TOUCH_SECONDS = 60
# Health probes answer 503 themselves when the database is down, also for a browser that
# sends its session cookie: there the session is empty and left alone (cookie and row).
PROBE_PATHS = frozenset({"/healthz", "/health"})
# The JSON API authenticates every request by its bearer token and keeps no session: a
# browser's cookie sent along is neither read nor touched (no login through the cookie, and
# no session round trip per API call).
STATELESS_PREFIX = "/api/"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_id_of(data: dict[str, Any]) -> int | None:
    """The account id in Flask-Login's "id:generation" value, if any."""
    value = str(data.get("_user_id") or "")
    head = value.partition(":")[0]
    return int(head) if head.isdigit() else None


class ServerSession(CallbackDict, SessionMixin):
    """The request's session: a dict that remembers whether it changed."""

    def __init__(
        self,
        initial: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        created_at: datetime | None = None,
        last_seen_at: datetime | None = None,
    ) -> None:
        def on_update(self_: ServerSession) -> None:
            self_.modified = True
            self_.accessed = True

        super().__init__(initial or {}, on_update)
        self.token = token
        self.new = token is None
        self.created_at = created_at or utcnow()
        self.last_seen_at = last_seen_at or self.created_at
        self.modified = False
        self.accessed = False
        self.regenerated = False
        self.old_token: str | None = None
        # Neither read nor written: the database did not answer, or the API (stateless).
        self.detached = False

    def regenerate(self) -> None:
        """Drop everything and continue under a new id (at login and logout, so that a
        session id or CSRF secret known before is worthless after: ASVS 3.2.1)."""
        if self.token is not None and self.old_token is None:
            self.old_token = self.token
        kept = {key: self[key] for key in CARRIED_OVER if key in self}
        self.clear()
        self.update(kept)
        self.token = None
        self.new = True
        self.regenerated = True
        self.created_at = self.last_seen_at = utcnow()
        self.modified = True


class DatabaseSessionInterface(SessionInterface):
    """Flask's session interface over the ``user_session`` table."""

    def _limits(self, app: Flask) -> tuple[timedelta, timedelta]:
        return (
            timedelta(minutes=float(app.config["SESSION_IDLE_MINUTES"])),
            timedelta(hours=float(app.config["SESSION_MAX_HOURS"])),
        )

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        if request.path.startswith(STATELESS_PREFIX):
            return _detached()
        token = request.cookies.get(self.get_cookie_name(app))
        if not token or len(token) > 100:
            return ServerSession()
        try:
            row = db.session.execute(
                select(UserSession).where(UserSession.id == token_digest(token))
            ).scalar_one_or_none()
        except SQLAlchemyError:
            if request.path not in PROBE_PATHS:
                raise
            db.session.rollback()
            return _detached()
        if row is None:
            return ServerSession()
        idle, lifetime = self._limits(app)
        now = utcnow()
        if now - row.last_seen_at > idle or now - row.created_at > lifetime:
            db.session.execute(delete(UserSession).where(UserSession.id == row.id))
            db.session.commit()
            return ServerSession()
        session = ServerSession(
            dict(row.data or {}),
            token=token,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
        )
        db.session.expunge(row)
        return session

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        if session.detached:
            return
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        # Whatever the request left uncommitted is not meant to be kept (views commit once
        # before the response); teardown would roll it back a moment later anyway.
        db.session.rollback()
        now = utcnow()
        if session.old_token is not None:
            db.session.execute(
                delete(UserSession).where(UserSession.id == token_digest(session.old_token))
            )
        if not session:
            if session.token is not None:
                db.session.execute(
                    delete(UserSession).where(UserSession.id == token_digest(session.token))
                )
            db.session.commit()
            if (
                session.token is not None
                or session.old_token is not None
                or (name in _request_cookies())
            ):
                response.delete_cookie(name, domain=domain, path=path)
            return
        data = dict(session)
        user_id = user_id_of(data)
        if session.new:
            idle, _ = self._limits(app)
            # Forgotten sessions go when the next one begins (the index makes this cheap).
            db.session.execute(delete(UserSession).where(UserSession.last_seen_at < now - idle))
            session.token = secrets.token_urlsafe(32)
            db.session.execute(
                insert(UserSession).values(
                    id=token_digest(session.token),
                    user_id=user_id,
                    data=data,
                    created_at=session.created_at,
                    last_seen_at=now,
                    persistent=bool(session.permanent),
                )
            )
        elif session.modified or (now - session.last_seen_at).total_seconds() > TOUCH_SECONDS:
            values: dict[str, Any] = {"last_seen_at": now}
            if session.modified:
                values.update(data=data, user_id=user_id, persistent=bool(session.permanent))
            result = db.session.execute(
                update(UserSession)
                .where(UserSession.id == token_digest(session.token or ""))
                .values(**values)
            )
            if result.rowcount == 0:
                # Ended meanwhile (logout elsewhere, "end all sessions"): stay ended.
                db.session.commit()
                response.delete_cookie(name, domain=domain, path=path)
                return
        db.session.commit()
        if session.accessed:
            response.vary.add("Cookie")  # caches must not hand one user's page to another
        if session.new or session.modified:
            _, lifetime = self._limits(app)
            expires = session.created_at + lifetime if session.permanent else None
            response.set_cookie(
                name,
                session.token or "",
                expires=expires,
                httponly=self.get_cookie_httponly(app),
                domain=domain,
                path=path,
                secure=self.get_cookie_secure(app),
                samesite=self.get_cookie_samesite(app),
            )
            response.vary.add("Cookie")


def _detached() -> ServerSession:
    session = ServerSession()
    session.detached = True
    return session


def _request_cookies() -> dict[str, str]:
    from flask import request

    return request.cookies


def current() -> ServerSession | None:
    """The request's server-side session (None outside a request or in odd test setups)."""
    from flask import session

    obj = session._get_current_object()  # type: ignore[attr-defined]
    return obj if isinstance(obj, ServerSession) else None


def regenerate() -> None:
    """A new session id and empty data for the current request (login, logout)."""
    obj = current()
    if obj is not None:
        obj.regenerate()
