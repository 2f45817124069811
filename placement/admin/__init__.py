"""Account administration pages (admins only)."""

from placement.admin.routes import bp

__all__ = ["bp"]
