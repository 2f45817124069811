"""The start page (overview) and the health probe."""

from placement.main.routes import bp

__all__ = ["bp"]
