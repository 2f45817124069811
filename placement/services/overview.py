"""The occupancy board: facilities with places and occupancy at an instant (counts only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from placement.extensions import db
from placement.models import CapacityPeriod, Facility, utcnow
from placement.services.capacity import capacities_at
from placement.services.occupancy import occupancy_at


@dataclass(frozen=True)
class BoardRow:
    facility: Facility
    period: CapacityPeriod | None
    occupied: int

    @property
    def licensed(self) -> int:
        return self.period.licensed_places if self.period else 0

    @property
    def usable(self) -> int:
        return self.period.usable_places if self.period else 0

    @property
    def limit(self) -> int:
        return self.period.limit if self.period else 0

    @property
    def free(self) -> int:
        return max(0, self.usable - self.occupied)

    @property
    def utilisation(self) -> float | None:
        return self.occupied / self.licensed if self.licensed else None

    @property
    def over_capacity(self) -> bool:
        return self.occupied > self.limit


@dataclass(frozen=True)
class Board:
    at: datetime
    rows: list[BoardRow]

    @property
    def occupied(self) -> int:
        return sum(r.occupied for r in self.rows)

    @property
    def licensed(self) -> int:
        return sum(r.licensed for r in self.rows)


def board_at(instant: datetime) -> Board:
    """Every active facility with its capacity and occupancy at ``instant`` (3 queries)."""
    facilities = db.session.scalars(
        select(Facility).where(Facility.active.is_(True)).order_by(Facility.kind, Facility.name)
    ).all()
    periods = capacities_at(instant)
    counts = occupancy_at(instant)
    rows = [BoardRow(f, periods.get(f.id), counts.get(f.id, 0)) for f in facilities]
    return Board(at=instant, rows=rows)


def current_board() -> Board:
    return board_at(utcnow())
