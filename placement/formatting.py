"""Display formats: dd.MM.yyyy HH:mm in Europe/Berlin, German numbers."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import format_date, format_datetime
from flask_babel import format_percent as babel_percent

DATETIME_FORMAT = "dd.MM.yyyy HH:mm"
DATE_FORMAT = "dd.MM.yyyy"


def format_local(value: datetime | None) -> str:
    """A stored UTC instant as local wall-clock time (Babel's configured time zone)."""
    if value is None:
        return ""
    return format_datetime(value, DATETIME_FORMAT)


def format_local_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value, DATE_FORMAT)
    return format_date(value, DATE_FORMAT)


def format_percent(value: float | None) -> str:
    if value is None:
        return "–"
    return babel_percent(value, "#,##0 %")
