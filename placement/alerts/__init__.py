"""The alert pages: inbox, silences, thresholds, undeliverable notifications."""

from placement.alerts.routes import bp

__all__ = ["bp"]
