"""Login and logout."""

from placement.auth.routes import bp

__all__ = ["bp"]
