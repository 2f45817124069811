"""A user's own preferences: for now the user interface language."""

from __future__ import annotations

from placement.extensions import db
from placement.models import User
from placement.services.accounts import audit
from placement.services.errors import Code, Forbidden, RuleViolation

# The languages the interface is translated into; the first is the default and the source
# language of every message (placement/translations holds the others' catalogues).
LOCALES = ("de", "en")


def set_locale(actor: audit.Actor, locale: str | None) -> User:
    """Set the acting user's interface language ("de", "en"; empty or None: follow the
    browser's Accept-Language). Audited as a settings change with before and after."""
    if actor.user_id is None:
        raise Forbidden(Code.FORBIDDEN)
    user = db.session.get(User, actor.user_id)
    if user is None:
        raise Forbidden(Code.FORBIDDEN)
    locale = (locale or "").strip() or None
    if locale is not None and locale not in LOCALES:
        raise RuleViolation(Code.UNKNOWN_VALUE, "locale", allowed=", ".join(LOCALES))
    if locale != user.locale:
        before = {"locale": user.locale}
        user.locale = locale
        audit.record(actor, "user.settings", user, before=before, after={"locale": locale})
    return user
