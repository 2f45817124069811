"""Working days of the office's Land: Monday to Friday without the Land's public holidays
(the ``holidays`` library; the Land is ``HOLIDAY_SUBDIVISION``, default Sachsen)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=16)
def _calendar(subdivision: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("DE", subdiv=subdivision, years=year, language="de")


def is_working_day(day: date, subdivision: str) -> bool:
    return day.weekday() < 5 and day not in _calendar(subdivision, day.year)


def add_working_days(day: date, count: int, subdivision: str) -> date:
    """``day`` plus ``count`` working days, counting from the day after (count >= 0)."""
    current = day
    remaining = count
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current, subdivision):
            remaining -= 1
    return current


def working_days_between(start: date, end: date, subdivision: str) -> int:
    """Working days after ``start`` up to and including ``end`` (negative if end < start)."""
    if end < start:
        return -working_days_between(end, start, subdivision)
    return sum(
        is_working_day(start + timedelta(days=i), subdivision)
        for i in range(1, (end - start).days + 1)
    )


def holiday_name(day: date, subdivision: str) -> str | None:
    return _calendar(subdivision, day.year).get(day)
