"""Deadlines of a stay, computed on demand (never stored).

- §42a (vorläufige Inobhutnahme): report for nationwide distribution within 7 working days
  from the start; working days skip weekends and the public holidays of the office's Land
  (``HOLIDAY_SUBDIVISION``). Distribution is excluded once one calendar month has passed
  since the start (§42b(4)): the report deadline ends with the report, the exclusion
  only with a result of the distribution.
- Coming of age: the 18th birthday, shown when it falls within the next 90 days (or has
  already passed while the youth is still placed).
- Emergency stays (Inobhutnahme, Clearing, Notunterkunft) planned for at most 3 months:
  the day the stay has lasted 3 calendar months.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from placement.models.enums import DeadlineKind, FacilityKind, LegalBasis
from placement.services.intake.workdays import add_working_days
from placement.timeutil import local

DISTRIBUTION_WORKING_DAYS = 7
COMING_OF_AGE_WINDOW_DAYS = 90
EMERGENCY_KINDS = frozenset(
    {FacilityKind.INOBHUTNAHME, FacilityKind.CLEARING, FacilityKind.EMERGENCY_SHELTER}
)
EMERGENCY_MONTHS = 3


@dataclass(frozen=True)
class Deadline:
    """One dated obligation of a stay; ``due`` is a Berlin calendar day."""

    code: DeadlineKind
    due: date
    overdue: bool


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day (31.01. + 1 = 28./29.02.)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def eighteenth_birthday(birth_date: date) -> date:
    try:
        return birth_date.replace(year=birth_date.year + 18)
    except ValueError:  # born on 29 February
        return date(birth_date.year + 18, 3, 1)


def deadlines_for_stay(
    *,
    start_at: datetime,
    legal_basis: LegalBasis | str,
    facility_kind: FacilityKind | str,
    birth_date: date,
    instant: datetime,
    subdivision: str = "SN",
    reported: bool = False,
    distributed: bool = False,
) -> list[Deadline]:
    """The deadlines of one open stay as seen at ``instant``, soonest first."""
    today = local(instant).date()
    start_day = local(start_at).date()
    found: list[Deadline] = []
    if LegalBasis(legal_basis) == LegalBasis.P42A and not (reported or distributed):
        report_by = add_working_days(start_day, DISTRIBUTION_WORKING_DAYS, subdivision)
        found.append(Deadline(DeadlineKind.REPORT_42A, report_by, today > report_by))
    if LegalBasis(legal_basis) == LegalBasis.P42A and not distributed:
        excluded_from = add_months(start_day, 1)
        found.append(
            Deadline(DeadlineKind.DISTRIBUTION_EXCLUDED, excluded_from, today >= excluded_from)
        )
    adult_on = eighteenth_birthday(birth_date)
    if adult_on <= today + timedelta(days=COMING_OF_AGE_WINDOW_DAYS):
        found.append(Deadline(DeadlineKind.COMING_OF_AGE, adult_on, today >= adult_on))
    if FacilityKind(facility_kind) in EMERGENCY_KINDS:
        limit = add_months(start_day, EMERGENCY_MONTHS)
        found.append(Deadline(DeadlineKind.LONG_EMERGENCY_STAY, limit, today >= limit))
    return sorted(found, key=lambda d: d.due)
