"""Stichtag and monthly reports."""

from placement.reports.routes import bp

__all__ = ["bp"]
