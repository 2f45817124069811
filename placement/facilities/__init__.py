"""The facility pages."""

from placement.facilities.routes import bp

__all__ = ["bp"]
