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
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:30+01:00 lies before year 1 in UTC
        raise ValueError(f"instant out of range: {text!r}") from exc


def local(value: datetime) -> datetime:
    return value.astimezone(BERLIN)


def local_time_problem(value: datetime) -> str | None:
    """Why a naive Berlin wall-clock time names no single instant: "nonexistent" in the
    spring gap (29.03.2026 02:30), "ambiguous" in the autumn overlap (25.10.2026 02:30)."""
    first = value.replace(tzinfo=BERLIN, fold=0)
    second = value.replace(tzinfo=BERLIN, fold=1)
    if first.utcoffset() == second.utcoffset():
        return None
    # In the gap both folds map to wall-clock times other than the one typed.
    back = first.astimezone(UTC).astimezone(BERLIN).replace(tzinfo=None)
    return "nonexistent" if back != value else "ambiguous"


def from_local(value: datetime | None, field: str | None = None) -> datetime | None:
    """A naive wall-clock time typed in a form, read as Berlin time, as an aware UTC instant.

    A time that does not exist (spring clock change) or exists twice (autumn) is refused
    with a coded error naming ``field``, never shifted to a neighbouring hour."""
    if value is None:
        return None
    if value.tzinfo is None:
        problem = local_time_problem(value)
        if problem is not None:
            from placement.services.errors import Code, RuleViolation

            code = (
                Code.LOCAL_TIME_NONEXISTENT
                if problem == "nonexistent"
                else (Code.LOCAL_TIME_AMBIGUOUS)
            )
            raise RuleViolation(code, field, time=value.strftime("%d.%m.%Y %H:%M"))
        value = value.replace(tzinfo=BERLIN)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 01.01.0001 00:30 Berlin lies before year 1 in UTC
        from placement.services.errors import BadInput, Code

        raise BadInput(Code.OUT_OF_RANGE, field) from exc


def to_local_naive(value: datetime | None) -> datetime | None:
    """An instant as naive Berlin wall-clock time, to prefill datetime-local inputs."""
    return None if value is None else value.astimezone(BERLIN).replace(tzinfo=None)
