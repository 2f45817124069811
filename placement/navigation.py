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
    ("facilities.index", _l("Einrichtungen"), Permission.VIEW_COUNTS),
    ("reports.index", _l("Berichte"), Permission.VIEW_COUNTS),
    ("planning.index", _l("Umzugspläne"), Permission.PLAN),
    ("alerts.index", _l("Hinweise"), Permission.ALERTS),
    ("alerts.dead_letters", _l("Zustellung"), Permission.MANAGE),
)


def user_can(permission: Permission | str) -> bool:
    """Template helper: whether the logged-in user has ``permission``."""
    return current_user.is_authenticated and can(current_user.role, Permission(permission))


def nav_items() -> list[dict[str, object]]:
    items = []
    blueprint = (request.endpoint or "").split(".")[0]
    for endpoint, label, permission in NAV_ITEMS:
        if endpoint in current_app.view_functions and user_can(permission):
            items.append(
                {
                    "url": url_for(endpoint),
                    "label": label,
                    "active": endpoint.split(".")[0] == blueprint
                    if endpoint != "main.index"
                    else request.endpoint == endpoint,
                }
            )
    return items


def inject() -> dict[str, object]:
    return {"nav_items": nav_items, "user_can": user_can}
