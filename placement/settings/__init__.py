"""The user's own settings (the interface language) and the language choice per request."""

from placement.settings.routes import bp

__all__ = ["bp"]
