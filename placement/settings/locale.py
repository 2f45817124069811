"""Which language a request is answered in.

German is the source language and the default. A logged-in user's own setting
(``User.locale``, on the settings page; for the API the token's user) wins; then a choice
made before logging in (``?lang=en`` on the login page, kept in the session); then the
browser's Accept-Language among the translated languages; then German. Outside a request
(scheduler, CLI, mail) everything is German."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import g, has_request_context, request, session
from flask_babel import get_locale, refresh
from flask_login import current_user

from placement.services.accounts.preferences import LOCALES

DEFAULT_LOCALE = LOCALES[0]
SESSION_KEY = "locale"
# Language names in their own language: whoever cannot read the current one finds theirs.
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English"}


def _account():
    """The user the request acts for: the API token's, else the logged-in one."""
    user = g.get("api_user")
    if user is None and current_user and current_user.is_authenticated:
        user = current_user
    return user


def select_locale() -> str:
    """The locale selector given to Flask-Babel."""
    if not has_request_context():
        return DEFAULT_LOCALE
    user = _account()
    if user is not None and user.locale in LOCALES:
        return user.locale
    if not request.path.startswith("/api/") and session.get(SESSION_KEY) in LOCALES:
        return session[SESSION_KEY]
    return request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE


def remember_choice() -> None:
    """``?lang=xx`` on a page (the login page's language links) is kept for the session."""
    if request.method not in ("GET", "HEAD") or request.path.startswith("/api/"):
        return
    chosen = request.args.get("lang")
    if chosen in LOCALES and session.get(SESSION_KEY) != chosen:
        session[SESSION_KEY] = chosen
        refresh()


def forget_choice() -> None:
    """Once the account has a setting of its own, the pre-login choice no longer applies."""
    session.pop(SESSION_KEY, None)


def current() -> str:
    """The language of this response ("de", "en")."""
    return str(get_locale() or DEFAULT_LOCALE)


def language_links() -> list[dict[str, object]]:
    """The links offered before login: every language, the current one marked."""
    current_code = current()
    args = {key: value for key, value in request.args.items() if key != "lang"}
    return [
        {
            "code": code,
            "name": LANGUAGE_NAMES[code],
            "url": f"{request.path}?{urlencode({**args, 'lang': code})}",
            "current": code == current_code,
        }
        for code in LOCALES
    ]
