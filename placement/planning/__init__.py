"""The move-planning pages: start a plan, follow it, review, approve, execute, print."""

from placement.planning.routes import bp

__all__ = ["bp"]
