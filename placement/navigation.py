"""The main navigation: entries appear once their blueprint exists and the user may use it."""

from __future__ import annotations

from flask import current_app, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from placement.services.accounts.permissions import Permission, can

# (endpoint, label, permission needed)
NAV_ITEMS = (
    ("main.index", _l("Übersicht"), Permission.VIEW_COUNTS),
    ("intake.places", _l("Platz finden"), Permission.ADMIT),
    ("intake.reservations", _l("Reservierungen"), Permission.ADMIT),
    ("people.placed", _l("Untergebracht"), Permission.VIEW_PERSONS),
    ("main.facilities", _l("Einrichtungen"), Permission.VIEW_COUNTS),
    ("reports.index", _l("Berichte"), Permission.VIEW_COUNTS),
    ("planning.index", _l("Umzugspläne"), Permission.PLAN),
    ("alerts.index", _l("Hinweise"), Permission.ALERTS),
    ("alerts.dead_letters", _l("Zustellung"), Permission.MANAGE),
    ("audit.index", _l("Protokoll"), Permission.VIEW_AUDIT),
    ("admin.users", _l("Konten"), Permission.MANAGE),
)


def user_can(permission: Permission | str) -> bool:
    """Template helper: whether the logged-in user has ``permission``."""
    return current_user.is_authenticated and can(current_user.role, Permission(permission))


# Pages without an entry of their own belong to the entry of their section: the first
# matching prefix names it (exact endpoints of other entries win).
SECTIONS = (
    ("facilities.", "main.facilities"),
    ("intake.stay", "people.placed"),
    ("intake.", "intake.places"),
    ("people.", "people.placed"),
    ("reports.", "reports.index"),
    ("planning.", "planning.index"),
    ("alerts.", "alerts.index"),
    ("audit.", "audit.index"),
    ("admin.", "admin.users"),
)


def current_entry(endpoint: str | None, visible: list[str]) -> str | None:
    """The one navigation entry marked current for ``endpoint`` among ``visible``."""
    if not endpoint:
        return None
    if endpoint in visible:
        return endpoint
    for prefix, entry in SECTIONS:
        if endpoint.startswith(prefix) and entry in visible:
            return entry
    return None


def nav_items() -> list[dict[str, object]]:
    """The entries the user may use; exactly one (or none) is the current one."""
    visible = [
        (endpoint, label)
        for endpoint, label, permission in NAV_ITEMS
        if endpoint in current_app.view_functions and user_can(permission)
    ]
    current = current_entry(request.endpoint, [endpoint for endpoint, _label in visible])
    return [
        {"url": url_for(endpoint), "label": label, "active": endpoint == current}
        for endpoint, label in visible
    ]


def inject() -> dict[str, object]:
    return {"nav_items": nav_items, "user_can": user_can}
