"""User accounts."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from placement.extensions import db
from placement.models import User
from placement.models.enums import Role
from placement.services import audit
from placement.services.errors import PlacementError

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD_LENGTH = 10

__all__ = ["Role", "authenticate", "create_user"]


def create_user(
    actor: audit.Actor, *, email: str, role: Role | str, password: str, name: str = ""
) -> User:
    """Create an account; e-mail addresses are unique regardless of case."""
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise PlacementError("Bitte eine gültige E-Mail-Adresse angeben.", field="email")
    try:
        role = Role(role)
    except ValueError as exc:
        raise PlacementError("Unbekannte Rolle.", field="role") from exc
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PlacementError(
            f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen haben.", field="password"
        )
    if db.session.scalar(select(User).where(func.lower(User.email) == email)):
        raise PlacementError("Diese E-Mail-Adresse ist bereits vergeben.", field="email")
    user = User(email=email, role=role, name=name)
    user.set_password(password)
    db.session.add(user)
    audit.record(actor, "user.create", user, after=audit.snapshot(user))
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.active or not user.check_password(password):
        return None
    return user
