"""City-wide lists of stays: youths placed now, youths absconded whose place is still held,
and (for the API) ended or all stays, with filters, sorting and pages. Deadlines are
computed on demand (``services.intake.deadlines``). Each list is audited with its filters,
never with the persons it shows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from placement.extensions import db
from placement.models import Facility, Stay, Youth
from placement.models.enums import DeadlineKind, EndReason, FacilityKind, LegalBasis
from placement.services import paging
from placement.services.accounts import audit
from placement.services.errors import Code, RuleViolation
from placement.services.intake.deadlines import Deadline, deadlines_for_stay
from placement.services.intake.rules import code_of, years_before
from placement.services.people import scope
from placement.timeutil import local


class StayStatus(StrEnum):
    OPEN = "open"  # placed now
    ABSCONDED = "absconded"  # ended as absconded, place still held
    ENDED = "ended"
    ALL = "all"


class AgeBand(StrEnum):
    """Age bands of the lists (whole years, today in Berlin)."""

    CHILD = "0-5"
    SCHOOL = "6-11"
    YOUNG_TEEN = "12-13"
    TEEN = "14-15"
    OLDER_TEEN = "16-17"
    ADULT = "18-27"


AGE_BAND_LABELS = {
    AgeBand.CHILD: _l("0–5 Jahre"),
    AgeBand.SCHOOL: _l("6–11 Jahre"),
    AgeBand.YOUNG_TEEN: _l("12–13 Jahre"),
    AgeBand.TEEN: _l("14–15 Jahre"),
    AgeBand.OLDER_TEEN: _l("16–17 Jahre"),
    AgeBand.ADULT: _l("18 Jahre und älter"),
}

ANY_DEADLINE = "any"
# The values of the deadline filter: any deadline, or one kind.
DeadlineFilter = StrEnum(  # type: ignore[misc]
    "DeadlineFilter", {"ANY": ANY_DEADLINE, **{k.name: k.value for k in DeadlineKind}}
)


class Sort(StrEnum):
    FACILITY = "facility"  # facility, then reference
    REFERENCE = "reference"
    START = "start"  # longest stay first
    DEADLINE = "deadline"  # soonest deadline first; those without one last
    HELD_UNTIL = "held_until"  # held place that frees soonest first


DEFAULT_SORT = {
    StayStatus.OPEN: Sort.FACILITY,
    StayStatus.ABSCONDED: Sort.HELD_UNTIL,
    StayStatus.ENDED: Sort.START,
    StayStatus.ALL: Sort.START,
}


@dataclass(frozen=True)
class StayFilters:
    """What a list is narrowed to; every value optional. ``deadline`` is a DeadlineKind
    code or "any": stays with such a deadline overdue or due within DEADLINE_DUE_DAYS."""

    facility_id: int | None = None
    kind: FacilityKind | str | None = None
    uma: bool | None = None
    age_band: AgeBand | str | None = None
    legal_basis: LegalBasis | str | None = None
    deadline: DeadlineKind | str | None = None

    def checked(self) -> StayFilters:
        """The filters with codes checked (an unknown one names its field)."""
        deadline = self.deadline
        if deadline is not None and deadline != ANY_DEADLINE:
            deadline = code_of(DeadlineKind, deadline, "deadline")
        return StayFilters(
            facility_id=self.facility_id,
            kind=code_of(FacilityKind, self.kind, "kind") if self.kind else None,
            uma=self.uma,
            age_band=code_of(AgeBand, self.age_band, "age_band") if self.age_band else None,
            legal_basis=(
                code_of(LegalBasis, self.legal_basis, "legal_basis") if self.legal_basis else None
            ),
            deadline=deadline or None,
        )

    def audited(self) -> dict[str, object]:
        """The filters as the audit log keeps them (codes, no persons)."""
        return {
            key: (value.value if isinstance(value, StrEnum) else value)
            for key, value in asdict(self).items()
            if value is not None
        }


@dataclass(frozen=True)
class ListedStay:
    """One row of a list: the stay, its youth and facility, the age today, deadlines."""

    stay: Stay
    youth: Youth
    facility: Facility
    age: int
    deadlines: list[Deadline] = field(default_factory=list)
    due: list[Deadline] = field(default_factory=list)  # overdue or due soon

    @property
    def next_deadline(self) -> Deadline | None:
        return self.deadlines[0] if self.deadlines else None


def age_band_range(band: AgeBand, today: date) -> tuple[date, date]:
    """Birth dates (exclusive lower, inclusive upper) of youths in ``band`` on ``today``."""
    low, high = (int(part) for part in band.value.split("-"))
    return years_before(today, high + 1), years_before(today, low)


def _due(deadlines: list[Deadline], today: date, kind: str | None) -> list[Deadline]:
    horizon = today + timedelta(days=current_app.config["DEADLINE_DUE_DAYS"])
    return [
        d
        for d in deadlines
        if (d.overdue or d.due <= horizon) and (kind in (None, ANY_DEADLINE) or d.code == kind)
    ]


def _sort_key(sort: Sort):
    far = date.max
    if sort == Sort.REFERENCE:
        return lambda row: (row.youth.reference,)
    if sort == Sort.START:
        return lambda row: (row.stay.start_at, row.youth.reference)
    if sort == Sort.DEADLINE:
        return lambda row: (
            row.next_deadline.due if row.next_deadline else far,
            row.facility.name,
            row.youth.reference,
        )
    if sort == Sort.HELD_UNTIL:
        return lambda row: (
            row.stay.place_held_until or row.stay.start_at,
            row.facility.name,
            row.youth.reference,
        )
    return lambda row: (row.facility.name, row.youth.reference)


def list_stays(
    actor: audit.Actor,
    instant: datetime,
    *,
    status: StayStatus | str = StayStatus.OPEN,
    filters: StayFilters | None = None,
    sort: Sort | str | None = None,
    page: int | None = None,
    page_size: int | None = None,
) -> paging.Page[ListedStay]:
    """Stays of the given status as of ``instant`` within the actor's scope, filtered,
    sorted and paged (personal data: the view is audited with its filters)."""
    visible = scope.person_scope(actor)
    state = code_of(StayStatus, status, "status")
    chosen = (filters or StayFilters()).checked()
    order = code_of(Sort, sort, "sort") if sort else DEFAULT_SORT[state]
    number, size = paging.checked_paging(page, page_size)
    if chosen.deadline is not None and state != StayStatus.OPEN:
        raise RuleViolation(Code.DEADLINE_FILTER_OPEN_ONLY, "deadline")
    today = local(instant).date()
    query = scope.scoped_stays(
        select(Stay, Youth, Facility)
        .join(Youth, Youth.id == Stay.youth_id)
        .join(Facility, Facility.id == Stay.facility_id),
        visible,
        instant,
    )
    if state == StayStatus.OPEN:
        query = query.where(Stay.end_at.is_(None))
    elif state == StayStatus.ABSCONDED:
        query = query.where(
            Stay.end_reason == EndReason.ABSCONDED,
            Stay.end_at <= instant,
            Stay.place_held_until > instant,
        )
    elif state == StayStatus.ENDED:
        query = query.where(Stay.end_at.is_not(None))
    if chosen.facility_id is not None:
        query = query.where(Stay.facility_id == chosen.facility_id)
    if chosen.kind is not None:
        query = query.where(Facility.kind == chosen.kind)
    if chosen.uma is not None:
        query = query.where(Youth.uma.is_(chosen.uma))
    if chosen.legal_basis is not None:
        query = query.where(Stay.legal_basis == chosen.legal_basis)
    if chosen.age_band is not None:
        after, until = age_band_range(AgeBand(chosen.age_band), today)
        query = query.where(Youth.birth_date > after, Youth.birth_date <= until)
    subdivision = current_app.config["HOLIDAY_SUBDIVISION"]
    rows: list[ListedStay] = []
    for stay, youth, facility in db.session.execute(query.order_by(Stay.id)).all():
        deadlines: list[Deadline] = []
        if stay.end_at is None:
            deadlines = deadlines_for_stay(
                start_at=stay.start_at,
                legal_basis=stay.legal_basis,
                facility_kind=facility.kind,
                birth_date=youth.birth_date,
                instant=instant,
                subdivision=subdivision,
                reported=stay.distribution_reported_on is not None,
                distributed=stay.distribution_result is not None,
            )
        due = _due(deadlines, today, chosen.deadline)
        if chosen.deadline is not None and not due:
            continue
        rows.append(
            ListedStay(stay, youth, facility, youth.age_on(today), deadlines=deadlines, due=due)
        )
    rows.sort(key=_sort_key(order))
    result = paging.page_of(rows, number, size)
    audit.record(
        actor,
        "stays.view",
        object_type="facility",
        object_id=chosen.facility_id,
        after={
            "status": state.value,
            "filters": chosen.audited(),
            "sort": order.value,
            "page": number,
            "total": result.total,
            "stay_ids": [row.stay.id for row in result.items],
            "youth_ids": [row.youth.id for row in result.items],
        },
    )
    return result


def filter_facilities(actor: audit.Actor) -> list[Facility]:
    """The facilities a list may be narrowed to (those in the actor's scope), by name."""
    visible = scope.person_scope(actor)
    facility_ids = None if visible.open_anywhere else visible.facility_ids
    query = select(Facility).order_by(Facility.name)
    if facility_ids is not None:
        query = query.where(Facility.id.in_(facility_ids))
    return list(db.session.scalars(query))
