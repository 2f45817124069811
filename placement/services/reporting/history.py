"""The range of instants a history view answers: from the first recorded data (the earliest
stay or capacity period) until now.

The overview "as of", the facility page "as of", the Stichtag report and the monthly report
reconstruct the past from stays and capacity periods. A future instant is a forecast
question, not history, and an instant before the first record would show an empty or
meaningless picture (1900 rendered as "31.12.1899 23:53", local mean time), so both are
refused with the allowed range; the HTML pages and the API give the same answer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from placement.extensions import db
from placement.models import CapacityPeriod, Stay
from placement.services.errors import BadInput, Code
from placement.timeutil import local
from placement.timeutil import now as utcnow

# A form's "now" is typed to the minute, and clocks drift a little.
FUTURE_TOLERANCE = timedelta(minutes=1)
# Without any data yet, nothing before this is accepted either.
FLOOR = datetime(1990, 1, 1, tzinfo=UTC)


def data_start() -> datetime | None:
    """The first recorded instant: the earliest stay start or capacity period start."""
    starts = [
        db.session.scalar(select(func.min(Stay.start_at))),
        db.session.scalar(select(func.min(CapacityPeriod.valid_from))),
    ]
    known = [start for start in starts if start is not None]
    return min(known) if known else None


def check_instant(instant: datetime, field: str = "at", now: datetime | None = None) -> None:
    """Refuse an as-of ``instant`` in the future or before the first recorded data."""
    now = now or utcnow()
    if instant > now + FUTURE_TOLERANCE:
        raise BadInput(Code.HISTORY_IN_FUTURE, field, value=instant, latest=now)
    earliest = data_start() or FLOOR
    if instant < earliest:
        raise BadInput(
            Code.HISTORY_BEFORE_DATA, field, value=instant, earliest=earliest, latest=now
        )


def _month(day: date) -> str:
    return f"{day.month:02d}/{day.year}"


def check_month(year: int, month: int, field: str = "month", now: datetime | None = None) -> None:
    """Refuse a month that has not begun yet or that ended before the first recorded data
    (the running month is allowed: its figures reach until now)."""
    today = local(now or utcnow()).date()
    first = date(year, month, 1)
    if first > today:
        raise BadInput(Code.MONTH_IN_FUTURE, field, value=_month(first), latest=_month(today))
    earliest = local(data_start() or FLOOR).date()
    if (year, month) < (earliest.year, earliest.month):
        raise BadInput(
            Code.MONTH_BEFORE_DATA,
            field,
            value=_month(first),
            earliest=_month(earliest),
            latest=_month(today),
        )
