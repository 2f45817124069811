"""Instants: stored in UTC, shown and typed in Europe/Berlin."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def now() -> datetime:
    return datetime.now(UTC)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date-time; without an offset it is Berlin wall-clock time.

    Raises ValueError for anything unparsable."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=BERLIN)
    return value.astimezone(UTC)


def local(value: datetime) -> datetime:
    return value.astimezone(BERLIN)


def from_local(value: datetime | None) -> datetime | None:
    """A naive wall-clock time typed in a form, read as Berlin time, as an aware UTC instant."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=BERLIN)
    return value.astimezone(UTC)


def to_local_naive(value: datetime | None) -> datetime | None:
    """An instant as naive Berlin wall-clock time, to prefill datetime-local inputs."""
    return None if value is None else value.astimezone(BERLIN).replace(tzinfo=None)
