"""A small hand-computed scenario shared by the overview, facility, report and API tests.

Stichtag S = 2024-03-01 12:00 UTC (13:00 Berlin). All instants below are UTC.

Haus A (Inobhutnahmestelle, Nordost): 4 licensed places from 01.01.2024; from 15.02.2024
00:00 3 licensed/usable with a temporary ceiling of 5 until 01.04.2024; then 3 licensed.
  y1 01.02. 08:00 – open      (born 01.03.2006: turns 18 on the Stichtag)
  y2 20.02. 10:00 – 01.03. 12:00 (ends exactly at S: not counted at S; end reason transfer)
  y3 01.03. 12:00 – open      (starts exactly at S: counted; born 01.06.2007, §42a)
  y4 25.02. 00:00 – 10.03. 00:00 (follow-on help)
  y5 28.02. 09:00 – open
  at S: y1 y3 y4 y5 = 4 of licensed 3, ceiling 5 -> not over, 133 %, free 0
Haus B (Clearingeinrichtung, Westen): 2 licensed from 01.01.2024.
  z1 10.02. 12:00 – 05.03. 00:00, z2 20.02. 12:00 – open, z3 01.03. 11:00 – open (umA)
  one reservation 01.03. 10:00 – 02.03. 10:00
  at S: 3 of 2 -> over by 1; reserved 1; free 0. Over-occupancy event at z3's admission.
Haus C (Wohngruppe, Westen; girls 12–17, no umA): 6 licensed; w1 05.01. – 01.02.;
  one reservation 01.03. 09:00 – 03.03. 00:00; at S: 0 occupied, 1 reserved, free 5.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from placement.extensions import db
from placement.models import Facility, OverOccupancyEvent, Reservation
from placement.services.accounts import audit
from placement.services.occupancy import capacity
from tests.conftest import at

S = at("2024-03-01 12:00")


@dataclass
class Scenario:
    a: Facility
    b: Facility
    c: Facility
    refs: dict[str, str]
    a_id: int
    b_id: int
    c_id: int


def build(make_facility, make_youth, make_stay) -> Scenario:
    a = make_facility(
        licensed=4,
        valid_from=at("2024-01-01 00:00"),
        name="Haus A",
        kind="inobhutnahme",
        planning_area="Nordost",
    )
    capacity.add_capacity_period(
        audit.SYSTEM,
        a.id,
        valid_from=at("2024-02-15 00:00"),
        valid_until=at("2024-04-01 00:00"),
        licensed_places=3,
        usable_places=3,
        temporary_ceiling=5,
    )
    capacity.add_capacity_period(
        audit.SYSTEM, a.id, valid_from=at("2024-04-01 00:00"), licensed_places=3
    )
    b = make_facility(
        licensed=2,
        valid_from=at("2024-01-01 00:00"),
        name="Haus B",
        kind="clearing",
        planning_area="Westen",
    )
    c = make_facility(
        licensed=6,
        valid_from=at("2024-01-01 00:00"),
        name="Haus C",
        kind="group_home",
        planning_area="Westen",
        genders="f",
        age_min=12,
        age_max=17,
        uma_policy="none",
        anonymous_address=True,
        street="Geheimweg 1",
        postal_code="04109",
    )
    youths = {
        "y1": make_youth(birth_date=date(2006, 3, 1)),
        "y2": make_youth(),
        "y3": make_youth(birth_date=date(2007, 6, 1), uma=True),
        "y4": make_youth(),
        "y5": make_youth(),
        "z1": make_youth(),
        "z2": make_youth(),
        "z3": make_youth(uma=True),
        "w1": make_youth(gender="f"),
    }
    y = youths
    make_stay(y["y1"], a, "2024-02-01 08:00")
    make_stay(y["y2"], a, "2024-02-20 10:00", "2024-03-01 12:00", end_reason="transfer")
    make_stay(y["y3"], a, "2024-03-01 12:00", legal_basis="42a")
    make_stay(y["y4"], a, "2024-02-25 00:00", "2024-03-10 00:00", end_reason="follow_on_help")
    make_stay(y["y5"], a, "2024-02-28 09:00")
    make_stay(y["z1"], b, "2024-02-10 12:00", "2024-03-05 00:00")
    make_stay(y["z2"], b, "2024-02-20 12:00")
    z3 = make_stay(y["z3"], b, "2024-03-01 11:00", legal_basis="42a")
    make_stay(y["w1"], c, "2024-01-05 00:00", "2024-02-01 00:00")
    db.session.add_all(
        [
            OverOccupancyEvent(
                facility_id=b.id, stay_id=z3.id, at=z3.start_at, occupied=3, limit=2
            ),
            Reservation(
                facility_id=b.id,
                created_at=at("2024-03-01 10:00"),
                expires_at=at("2024-03-02 10:00"),
            ),
            Reservation(
                facility_id=c.id,
                created_at=at("2024-03-01 09:00"),
                expires_at=at("2024-03-03 00:00"),
            ),
        ]
    )
    refs = {name: youth.reference for name, youth in youths.items()}
    ids = (a.id, b.id, c.id)
    db.session.commit()
    # Nothing may touch the session after the commit: a read transaction begun now would
    # not see users created by the tests' login helper in another session (SQLite WAL).
    return Scenario(a, b, c, refs, *ids)
