"""What the forecast knows at an instant, read from the database into arrays.

A ``Snapshot`` holds only facts recorded at or before its instant ``at``, and every reader
here takes ``at`` and filters by it, so that a forecast "as of" a past instant (the backtest)
cannot see what came later:

- stays that started at or before ``at``; an end counts only if it lies at or before ``at``
  (a stay ending later is open as of ``at``); a planned end only if it was recorded at or
  before ``at``;
- admissions (stay starts) of the trailing window before ``at``;
- reservations created at or before ``at`` and not closed by then, held places after
  abscondings recorded by then; both count until they expire;
- capacity periods in force at ``at`` or later if they began by then or were entered by then.

Few aggregate queries, none per facility: the overview projects every facility at once.
``Tables`` loads the same facts for a whole period once (the backtest replays hundreds of
days) and cuts a ``Snapshot`` for any instant with exactly the same rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
)

from placement.extensions import db
from placement.models import CapacityPeriod, Facility, Reservation, Stay, Youth
from placement.models.enums import FacilityKind, UmaPolicy
from placement.timeutil import BERLIN

KINDS: list[FacilityKind] = list(FacilityKind)
KIND_INDEX = {kind: index for index, kind in enumerate(KINDS)}
DAY = 86400.0
LOS_WINDOW_DAYS = 365  # stays started this long before ``at`` feed the length of stay
LOS_SAMPLE = 6000  # at most about this many of them are read (a fixed sample by id)
NONE_DAY = 10**7  # a day ordinal far beyond any horizon: "no such day"


def epoch(value: datetime) -> float:
    return value.astimezone(UTC).timestamp()


def local_day(instant: float) -> date:
    return datetime.fromtimestamp(instant, UTC).astimezone(BERLIN).date()


def local_midnight(day: date) -> float:
    """The instant (epoch seconds) a local day begins."""
    return datetime.combine(day, time(0), BERLIN).timestamp()


def day_starts(first: date, count: int) -> np.ndarray:
    """Epoch seconds of the local midnights starting ``first`` .. ``first + count``."""
    return np.array([local_midnight(first + timedelta(days=i)) for i in range(count + 1)])


def adult_day(birth: date) -> int:
    """The ordinal of the 18th birthday."""
    try:
        return birth.replace(year=birth.year + 18).toordinal()
    except ValueError:  # 29 February
        return date(birth.year + 18, 3, 1).toordinal()


@dataclass(frozen=True)
class FacilityRows:
    """The facilities (sorted by id) with what the forecast needs of them."""

    ids: np.ndarray
    kind: np.ndarray  # index into KINDS
    age_min: np.ndarray
    age_max: np.ndarray
    genders: list[str]
    uma_policy: list[UmaPolicy]
    active: np.ndarray
    names: list[str]

    def index_of(self, facility_ids: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.ids, facility_ids)


@dataclass(frozen=True)
class Capacities:
    """Capacity periods known at the snapshot's instant (sorted by facility, start)."""

    facility: np.ndarray
    valid_from: np.ndarray
    valid_until: np.ndarray  # inf: open-ended
    limit: np.ndarray  # the ceiling if any, else licensed
    licensed: np.ndarray


@dataclass(frozen=True)
class Snapshot:
    """What was recorded at ``at`` (epoch seconds): see the module docstring."""

    at: float
    facilities: FacilityRows
    # stays open at ``at``
    stay_facility: np.ndarray
    stay_start: np.ndarray
    stay_planned_day: np.ndarray  # ordinal of the planned end day, NONE_DAY if none known
    stay_adult_day: np.ndarray  # ordinal of the 18th birthday
    # admissions (stay starts) in (at - window, at]
    window_days: int
    start_facility: np.ndarray
    start_at: np.ndarray
    # length of stay of stays started in (at - LOS_WINDOW_DAYS, at], per kind and full day
    los_ended: np.ndarray  # (kinds, days)
    los_censored: np.ndarray
    # reservations and held places valid at ``at``: facility and the instant they lapse
    held_facility: np.ndarray
    held_until: np.ndarray
    capacities: Capacities
    # per facility row: when its first capacity period began, if by ``at`` (inf: not yet)
    opened_before: np.ndarray
    # (facilities x window days) open stays at the midnight each window day began
    window_occupied: np.ndarray


# --- from the database -------------------------------------------------------------------------


def _epoch_sql(column):
    """Seconds since 1970 of a stored (naive UTC) instant, in SQL."""
    if db.session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.extract("epoch", column), Float)


def _instant_sql(column):
    """A stored instant as the driver hands it out (SQLite: ISO text; PostgreSQL: a naive
    UTC datetime), skipping the ORM's conversion: ``instants`` reads thousands at once."""
    return type_coerce(column, String)


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _days(values: list) -> np.ndarray:
    """Driver values of dates (ISO text or date objects) as datetime64[D]; None: NaT."""
    return np.array([v if v is not None else "NaT" for v in values], dtype="datetime64[D]").reshape(
        len(values)
    )


def ordinals(values: list) -> np.ndarray:
    """Day ordinals (date.toordinal) of driver date values; None: NONE_DAY."""
    if not values:
        return np.zeros(0, dtype=np.int64)
    days = _days(values)
    return np.where(np.isnat(days), NONE_DAY, days.astype(np.int64) + EPOCH_ORDINAL)


def adult_days(values: list) -> np.ndarray:
    """Ordinals of the 18th birthdays of driver birth-date values (29 February: 1 March)."""
    if not values:
        return np.zeros(0, dtype=np.int64)
    birth = _days(values)
    month = birth.astype("datetime64[M]")
    into_month = (birth - month.astype("datetime64[D]")).astype(np.int64)
    adult = (month + np.timedelta64(18 * 12, "M")).astype("datetime64[D]") + into_month
    return adult.astype(np.int64) + EPOCH_ORDINAL


def instants(values: list) -> np.ndarray:
    """Epoch seconds of driver values of ``_instant_sql`` (None: NaN)."""
    if not values:
        return np.zeros(0)
    parsed = np.array([v if v is not None else "NaT" for v in values], dtype="datetime64[us]")
    seconds = parsed.astype("int64").astype(float) / 1e6
    return np.where(np.isnat(parsed), np.nan, seconds)


def load_facilities() -> FacilityRows:
    rows = db.session.execute(
        select(
            Facility.id,
            Facility.kind,
            Facility.age_min,
            Facility.age_max,
            Facility.genders,
            Facility.uma_policy,
            Facility.active,
            Facility.name,
        ).order_by(Facility.id)
    ).all()
    return FacilityRows(
        ids=np.array([r.id for r in rows], dtype=np.int64),
        kind=np.array([KIND_INDEX[FacilityKind(r.kind)] for r in rows], dtype=np.int64),
        age_min=np.array([r.age_min for r in rows], dtype=np.int64),
        age_max=np.array([r.age_max for r in rows], dtype=np.int64),
        genders=[r.genders for r in rows],
        uma_policy=[UmaPolicy(r.uma_policy) for r in rows],
        active=np.array([bool(r.active) for r in rows], dtype=bool),
        names=[r.name for r in rows],
    )


def _capacities_known_at(at: datetime, since: datetime) -> Capacities:
    """Periods in force at some instant after ``since`` that began by ``at`` or were
    entered by then."""
    query = (
        select(
            CapacityPeriod.facility_id,
            _epoch_sql(CapacityPeriod.valid_from),
            _epoch_sql(CapacityPeriod.valid_until),
            CapacityPeriod.licensed_places,
            CapacityPeriod.temporary_ceiling,
        )
        .where(
            or_(
                CapacityPeriod.valid_until.is_(None),
                CapacityPeriod.valid_until > since - timedelta(days=1),
            ),
            or_(CapacityPeriod.valid_from <= at, CapacityPeriod.created_at <= at),
        )
        .order_by(CapacityPeriod.facility_id, CapacityPeriod.valid_from)
    )
    rows = db.session.execute(query).all()
    return Capacities(
        facility=np.array([r[0] for r in rows], dtype=np.int64),
        valid_from=np.array([float(r[1]) for r in rows]),
        valid_until=np.array([float(r[2]) if r[2] is not None else np.inf for r in rows]),
        limit=np.array([r[4] if r[4] is not None else r[3] for r in rows], dtype=np.int64),
        licensed=np.array([r[3] for r in rows], dtype=np.int64),
    )


def snapshot_from_db(at: datetime, *, window_days: int, horizon_days: int) -> Snapshot:
    """What the database held at ``at``, in nine small queries."""
    at_epoch = epoch(at)
    facilities = load_facilities()

    # Stays open at ``at`` (started by then, not ended by then).
    planned_known = Stay.planned_end_recorded_at <= at
    columns = (
        Stay.facility_id,
        _instant_sql(Stay.start_at),
        type_coerce(case((planned_known, Stay.planned_end_on), else_=None), String),
        type_coerce(Youth.birth_date, String),
        Stay.id,
    )
    # Open stays and stays ending after ``at``: two ranges of the (end_at, start_at, ...)
    # index. Left to itself SQLite answers the second from the start_at index, walking
    # every stay that started by then; coalesce() keeps it off that index.
    parts = [
        select(*columns).join(Youth, Youth.id == Stay.youth_id).where(condition)
        for condition in (
            and_(Stay.end_at.is_(None), Stay.start_at <= at),
            and_(Stay.end_at > at, func.coalesce(Stay.start_at, Stay.start_at) <= at),
        )
    ]
    rows = db.session.execute(union_all(*parts)).all()
    # In id order (sorted here: ORDER BY would make SQLite walk the whole table by id),
    # so that sums come out the same every time.
    rows.sort(key=lambda row: row[4])
    stay_facility = np.array([r[0] for r in rows], dtype=np.int64)
    stay_start = instants([r[1] for r in rows])
    planned_day = ordinals([r[2] for r in rows])
    adult = adult_days([r[3] for r in rows])
    today = local_day(at_epoch).toordinal()
    adult = np.where(adult >= today, adult, NONE_DAY)

    # Stays ended within the window (and a day before it); with the open ones they are the
    # window's admissions and occupancy.
    window_start = at - timedelta(days=window_days)
    ended = db.session.execute(
        select(Stay.facility_id, _instant_sql(Stay.start_at), _instant_sql(Stay.end_at)).where(
            Stay.end_at > window_start - timedelta(days=1),
            Stay.end_at <= at,
            Stay.start_at <= at,
        )
    ).all()
    ended_facility = np.array([r[0] for r in ended], dtype=np.int64)
    ended_start = instants([r[1] for r in ended])
    ended_end = instants([r[2] for r in ended])
    all_facility = np.concatenate([stay_facility, ended_facility])
    all_start = np.concatenate([stay_start, ended_start])
    in_window = all_start > epoch(window_start)
    window_occupied = occupancy_matrix(
        facilities.index_of(all_facility),
        all_start,
        np.concatenate([np.full(len(stay_start), np.inf), ended_end]),
        window_midnights(at_epoch, window_days),
        len(facilities.ids),
    )

    # Length of stay by kind and full days, ended (by ``at``) or censored at ``at``. A
    # large office has tens of thousands such stays a year: a fixed sample of them (by id)
    # estimates the curves as well and keeps the board fast.
    los_start = at - timedelta(days=LOS_WINDOW_DAYS)
    in_los = and_(Stay.start_at > los_start, Stay.start_at <= at)
    total = db.session.scalar(select(func.count()).select_from(Stay).where(in_los)) or 0
    every = max(1, total // LOS_SAMPLE)
    los_query = select(Stay.facility_id, _instant_sql(Stay.start_at), _instant_sql(
        case((Stay.end_at <= at, Stay.end_at), else_=None))).where(in_los)  # fmt: skip
    if every > 1:
        los_query = los_query.where(Stay.id % every == 0)
    los = db.session.execute(los_query).all()
    los_ended, los_censored = los_counts(
        facilities,
        np.array([r[0] for r in los], dtype=np.int64),
        instants([r[1] for r in los]),
        instants([r[2] for r in los]),
        at_epoch,
    )

    # Reservations and held places valid at ``at``.
    held = db.session.execute(
        select(Reservation.facility_id, _epoch_sql(Reservation.expires_at), Reservation.places)
        .where(
            Reservation.created_at <= at,
            Reservation.expires_at > at,
            or_(Reservation.closed_at.is_(None), Reservation.closed_at > at),
        )
        .union_all(
            select(Stay.facility_id, _epoch_sql(Stay.place_held_until), literal(1)).where(
                Stay.place_held_until > at, Stay.end_at <= at
            )
        )
    ).all()
    held_facility = np.array([r[0] for r in held for _ in range(int(r[2]))], dtype=np.int64)
    held_until = np.array([float(r[1]) for r in held for _ in range(int(r[2]))])

    return Snapshot(
        at=at_epoch,
        facilities=facilities,
        stay_facility=stay_facility,
        stay_start=stay_start,
        stay_planned_day=planned_day,
        stay_adult_day=adult,
        window_days=window_days,
        start_facility=all_facility[in_window],
        start_at=all_start[in_window],
        los_ended=los_ended,
        los_censored=los_censored,
        held_facility=held_facility,
        held_until=held_until,
        capacities=_capacities_known_at(at, window_start),
        opened_before=_opened_by(at, facilities),
        window_occupied=window_occupied,
    )


def window_midnights(at: float, window_days: int) -> np.ndarray:
    """The midnights the window's days begin at (the days before ``at``'s local day)."""
    first = local_day(at) - timedelta(days=window_days)
    return day_starts(first, window_days)[:-1]


def occupancy_matrix(
    rows: np.ndarray, start: np.ndarray, end: np.ndarray, instants: np.ndarray, count: int
) -> np.ndarray:
    """(count x instants) how many of the intervals [start, end) (end NaN/inf: open) of
    each row cover each instant (sorted)."""
    end = np.where(np.isnan(end), np.inf, end)
    first = np.searchsorted(instants, start, side="left")
    last = np.searchsorted(instants, end, side="left")
    keep = last > first
    result = np.zeros((count, len(instants) + 1), dtype=np.int64)
    np.add.at(result, (rows[keep], first[keep]), 1)
    np.add.at(result, (rows[keep], last[keep]), -1)
    return np.cumsum(result, axis=1)[:, : len(instants)]


def _opened_by(at: datetime, facilities: FacilityRows) -> np.ndarray:
    opened = np.full(len(facilities.ids), np.inf)
    rows = db.session.execute(
        select(CapacityPeriod.facility_id, _epoch_sql(func.min(CapacityPeriod.valid_from)))
        .where(CapacityPeriod.valid_from <= at)
        .group_by(CapacityPeriod.facility_id)
    ).all()
    if rows:
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        opened[facilities.index_of(ids)] = [float(r[1]) for r in rows]
    return opened


def los_counts(
    facilities: FacilityRows,
    facility: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    at: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(kinds x full days) counts of stays ended after so many days, and of stays still
    open (censored at ``at``); ``end`` NaN or after ``at``: open."""
    ended = end <= at
    until = np.where(ended, end, at)
    durations = np.floor(np.maximum(until - start, 0) / DAY).astype(np.int64)
    kinds = facilities.kind[facilities.index_of(facility)]
    size = int(durations.max()) + 1 if len(durations) else 1
    los_ended = np.zeros((len(KINDS), size))
    los_censored = np.zeros((len(KINDS), size))
    np.add.at(los_ended, (kinds[ended], durations[ended]), 1)
    np.add.at(los_censored, (kinds[~ended], durations[~ended]), 1)
    return los_ended, los_censored


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return date(day.year - years, 2, 28)


# --- for a whole period (the backtest) -----------------------------------------------------------


@dataclass(frozen=True)
class Tables:
    """Every stay, reservation and capacity period recorded up to ``until``, as arrays,
    loaded once; ``snapshot(at)`` applies the same as-of rules as ``snapshot_from_db``."""

    until: float
    facilities: FacilityRows
    stay_facility: np.ndarray
    stay_start: np.ndarray
    stay_end: np.ndarray  # inf: open at ``until``
    stay_planned_day: np.ndarray
    stay_planned_recorded: np.ndarray  # inf: none
    stay_adult_day: np.ndarray
    stay_held_until: np.ndarray  # nan: none
    res_facility: np.ndarray
    res_created: np.ndarray
    res_expires: np.ndarray
    res_closed: np.ndarray  # inf: open
    res_places: np.ndarray
    cap_facility: np.ndarray
    cap_from: np.ndarray
    cap_until: np.ndarray
    cap_created: np.ndarray  # -inf: unknown (taken as known from its start)
    cap_limit: np.ndarray
    cap_licensed: np.ndarray

    @classmethod
    def load(cls, until: datetime) -> Tables:
        """Everything recorded up to ``until`` (later facts are not read at all)."""
        until_epoch = epoch(until)
        planned_known = Stay.planned_end_recorded_at <= until
        closed = Reservation.closed_at <= until
        stays = db.session.execute(
            select(
                Stay.facility_id,
                _epoch_sql(Stay.start_at),
                case((Stay.end_at <= until, _epoch_sql(Stay.end_at)), else_=None),
                case((planned_known, Stay.planned_end_on), else_=None),
                case((planned_known, _epoch_sql(Stay.planned_end_recorded_at)), else_=None),
                Youth.birth_date,
                case((Stay.end_at <= until, _epoch_sql(Stay.place_held_until)), else_=None),
            )
            .join(Youth, Youth.id == Stay.youth_id)
            .where(Stay.start_at <= until)
            .order_by(Stay.id)  # the same order every time: sums come out the same
        ).all()
        reservations = db.session.execute(
            select(
                Reservation.facility_id,
                _epoch_sql(Reservation.created_at),
                _epoch_sql(Reservation.expires_at),
                case((closed, _epoch_sql(Reservation.closed_at)), else_=None),
                Reservation.places,
            )
            .where(Reservation.created_at <= until)
            .order_by(Reservation.id)
        ).all()
        periods = db.session.execute(
            select(
                CapacityPeriod.facility_id,
                _epoch_sql(CapacityPeriod.valid_from),
                _epoch_sql(CapacityPeriod.valid_until),
                _epoch_sql(CapacityPeriod.created_at),
                CapacityPeriod.licensed_places,
                CapacityPeriod.temporary_ceiling,
            )
            .where(or_(CapacityPeriod.valid_from <= until, CapacityPeriod.created_at <= until))
            .order_by(CapacityPeriod.facility_id, CapacityPeriod.valid_from)
        ).all()

        def num(values, missing):
            return np.array([float(v) if v is not None else missing for v in values])

        return cls(
            until=until_epoch,
            facilities=load_facilities(),
            stay_facility=np.array([r[0] for r in stays], dtype=np.int64),
            stay_start=num((r[1] for r in stays), np.nan),
            stay_end=num((r[2] for r in stays), np.inf),
            stay_planned_day=np.array(
                [r[3].toordinal() if r[3] is not None else NONE_DAY for r in stays], dtype=np.int64
            ),
            stay_planned_recorded=num((r[4] for r in stays), np.inf),
            stay_adult_day=np.array([adult_day(r[5]) for r in stays], dtype=np.int64),
            stay_held_until=num((r[6] for r in stays), np.nan),
            res_facility=np.array([r[0] for r in reservations], dtype=np.int64),
            res_created=num((r[1] for r in reservations), np.nan),
            res_expires=num((r[2] for r in reservations), np.nan),
            res_closed=num((r[3] for r in reservations), np.inf),
            res_places=np.array([r[4] for r in reservations], dtype=np.int64),
            cap_facility=np.array([r[0] for r in periods], dtype=np.int64),
            cap_from=num((r[1] for r in periods), np.nan),
            cap_until=num((r[2] for r in periods), np.inf),
            cap_created=num((r[3] for r in periods), -np.inf),
            cap_limit=np.array(
                [r[5] if r[5] is not None else r[4] for r in periods], dtype=np.int64
            ),
            cap_licensed=np.array([r[4] for r in periods], dtype=np.int64),
        )

    def snapshot(self, at: float, *, window_days: int) -> Snapshot:
        """What was recorded at ``at`` (<= ``until``): the rules of ``snapshot_from_db``."""
        if at > self.until:
            raise ValueError("a snapshot after the loaded period")
        started = self.stay_start <= at
        ended = self.stay_end <= at
        open_now = started & ~ended
        planned_known = self.stay_planned_recorded <= at
        planned = np.where(planned_known, self.stay_planned_day, NONE_DAY)[open_now]
        in_window = (self.stay_start > at - window_days * DAY) & started
        los = (self.stay_start > at - LOS_WINDOW_DAYS * DAY) & started
        los_ended, los_censored = los_counts(
            self.facilities,
            self.stay_facility[los],
            self.stay_start[los],
            np.where(ended, self.stay_end, np.nan)[los],
            at,
        )

        res = (self.res_created <= at) & (self.res_expires > at) & ~(self.res_closed <= at)
        holds = ended & (self.stay_held_until > at)
        held_facility = np.concatenate(
            [np.repeat(self.res_facility[res], self.res_places[res]), self.stay_facility[holds]]
        )
        held_until = np.concatenate(
            [np.repeat(self.res_expires[res], self.res_places[res]), self.stay_held_until[holds]]
        )
        since = at - window_days * DAY - DAY
        cap = (self.cap_until > since) & ((self.cap_from <= at) | (self.cap_created <= at))
        midnights = window_midnights(at, window_days)
        window_occupied = occupancy_matrix(
            self.facilities.index_of(self.stay_facility[started]),
            self.stay_start[started],
            np.where(ended, self.stay_end, np.inf)[started],
            midnights,
            len(self.facilities.ids),
        )
        adult = self.stay_adult_day[open_now]
        today = local_day(at).toordinal()
        # As snapshot_from_db: birthdays only within the horizon's reach are looked at.
        adult = np.where(adult >= today, adult, NONE_DAY)
        return Snapshot(
            at=at,
            facilities=self.facilities,
            stay_facility=self.stay_facility[open_now],
            stay_start=self.stay_start[open_now],
            stay_planned_day=planned,
            stay_adult_day=adult,
            window_days=window_days,
            start_facility=self.stay_facility[in_window],
            start_at=self.stay_start[in_window],
            los_ended=los_ended,
            los_censored=los_censored,
            held_facility=held_facility,
            held_until=held_until,
            capacities=Capacities(
                facility=self.cap_facility[cap],
                valid_from=self.cap_from[cap],
                valid_until=self.cap_until[cap],
                limit=self.cap_limit[cap],
                licensed=self.cap_licensed[cap],
            ),
            opened_before=self._opened_by(at),
            window_occupied=window_occupied,
        )

    def _opened_by(self, at: float) -> np.ndarray:
        opened = np.full(len(self.facilities.ids), np.inf)
        begun = self.cap_from <= at
        if begun.any():
            rows = self.facilities.index_of(self.cap_facility[begun])
            np.minimum.at(opened, rows, self.cap_from[begun])
        return opened
