"""The intake pages: place finder, admission, reservations, stays."""

from placement.intake.routes import bp

__all__ = ["bp"]
