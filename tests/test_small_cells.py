"""Small cells in reports: outside a facility's own view, breakdown cells of 1..min-1
youths are hidden ("<3", a footnote marker in CSV/XLSX), with secondary suppression so
that no hidden cell can be recomputed from a total."""

from __future__ import annotations

import csv
import io
import random
from datetime import date

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from placement.extensions import db
from placement.models import Facility, User
from placement.models.enums import EndReason
from placement.services.accounts import audit
from placement.services.reporting import downloads, land, reports
from placement.services.reporting.reports import Suppressed, protect
from tests.conftest import at, create_facility, create_stay, create_youth, sign_in

# The scope rules themselves: test accounts get only the facilities given to them.
pytestmark = pytest.mark.usefixtures("scoped_accounts")

STICHTAG = at("2024-03-01 12:00")  # 13:00 in Berlin
AGE_15, AGE_13, AGE_16 = date(2008, 6, 1), date(2010, 6, 1), date(2007, 6, 1)


# --- the rule --------------------------------------------------------------------------


def _lines(cells):
    height, width = len(cells), len(cells[0])
    rows = [[(i, j) for j in range(width)] for i in range(height)]
    columns = [[(i, j) for i in range(height)] for j in range(width)]
    return rows + columns


def test_primary_and_secondary_suppression_in_a_row():
    # One facility and the totals: 1 is hidden, then 5 (the next smallest non-zero) too,
    # or 1 = 6 - 5 - 0. The zero stays a zero.
    cells = [[1, 5, 0], [1, 5, 0]]
    hidden = protect(cells, set(), 3)
    assert (0, 0) in hidden and (0, 1) in hidden and (0, 2) not in hidden
    assert (1, 0) in hidden and (1, 1) in hidden


def test_next_smallest_cell_is_chosen():
    cells = [[2, 9, 4, 7], [3, 9, 4, 7], [5, 18, 8, 14]]
    hidden = protect(cells, set(), 3)
    assert {(0, 0), (0, 2)} <= hidden  # 2, then 4 (the smallest of 9, 4, 7)
    assert (0, 1) not in hidden and (0, 3) not in hidden


def test_column_totals_need_a_second_cell_too():
    # Two facilities, one small cell each in different columns, and the totals row.
    cells = [[1, 4], [4, 4], [5, 8]]
    hidden = protect(cells, set(), 3)
    for line in _lines(cells):
        assert sum(1 for c in line if c in hidden) != 1


def test_own_rows_are_shown_in_full_and_nothing_below_two():
    cells = [[1, 5], [1, 5], [2, 10]]
    hidden = protect(cells, {0}, 3)
    assert not any(i == 0 for i, _ in hidden)
    assert (1, 0) in hidden and (2, 0) in hidden
    assert protect(cells, set(), 1) == set() and protect(cells, set(), 0) == set()
    assert protect([], set(), 3) == set()


def test_random_tables_leave_no_line_with_one_hidden_cell():
    generator = random.Random(13)
    for _ in range(300):
        height, width = generator.randint(1, 6), generator.randint(1, 6)
        body = [
            [generator.choice([0, 0, 1, 2, 3, 4, 8]) for _ in range(width)] for _ in range(height)
        ]
        cells = [*body, [sum(column) for column in zip(*body, strict=True)]]
        exempt = {i for i in range(height) if generator.random() < 0.2}
        minimum = generator.choice([2, 3, 5])
        hidden = protect(cells, exempt, minimum)
        for i, row in enumerate(cells):
            for j, value in enumerate(row):
                if 0 < value < minimum and i not in exempt:
                    assert (i, j) in hidden
                if i in exempt:
                    assert (i, j) not in hidden
        for line in _lines(cells):
            count = sum(1 for c in line if c in hidden)
            candidates = [c for c in line if c not in hidden and c[0] not in exempt]
            assert count != 1 or not candidates


# --- the reports -----------------------------------------------------------------------


@pytest.fixture
def houses(app):
    """Haus A: five 15-year-olds and one 13-year-old, three umA; Haus B: four 16-year-olds,
    three umA; Haus C: four admitted and discharged in February (3 home, 1 absconded)."""
    with app.app_context():
        a = create_facility(name="Haus A", licensed=8)
        b = create_facility(name="Haus B", licensed=8)
        c = create_facility(name="Haus C", licensed=8)
        for n in range(5):
            create_stay(create_youth(birth_date=AGE_15, uma=n < 3), a, "2024-01-10 10:00")
        create_stay(create_youth(birth_date=AGE_13), a, "2024-01-10 10:00")
        for n in range(4):
            create_stay(create_youth(birth_date=AGE_16, uma=n < 3), b, "2024-01-10 10:00")
        for n in range(4):
            create_stay(
                create_youth(birth_date=AGE_15),
                c,
                "2024-02-05 10:00",
                "2024-02-20 10:00",
                end_reason="absconded" if n == 0 else "return_home",
            )
        db.session.commit()
        return {"a": a.id, "b": b.id, "c": c.id}


def _actor(app, role, email, assigned=()):
    with app.app_context():
        from placement.services.accounts import users

        user = users.create_user(audit.CLI, email=email, role=role, password="long password")
        for facility_id in assigned:
            user.facilities.append(db.session.get(Facility, facility_id))
        db.session.commit()
        return audit.Actor.for_user(user)


def test_stichtag_report_outside_the_facilities(app, houses):
    head = _actor(app, "department_head", "chef@x.org")
    with app.app_context():
        report = reports.stichtag_report(head, STICHTAG)
        rows = {r.name: r for r in report.rows}
        assert report.min_cell == 3 and report.suppressed
        assert rows["Haus A"].hidden == {"band:4", "band:5", "uma"}
        assert rows["Haus B"].hidden == {"uma"}  # 3 umA of 4: the other one is alone
        assert report.total_hidden == {"band:4", "band:5"}
        # The figures themselves are unchanged; only the table hides them.
        assert rows["Haus A"].bands[4] == 1 and report.total.occupied == 10
        headers, body = downloads.stichtag_table(report)
        band = headers.index("Alter 12 bis unter 14")
        by_name = {row[0]: row for row in body}
        assert isinstance(by_name["Haus A"][band], Suppressed)
        assert by_name["Haus B"][band] == 0  # zeros stay zeros
        assert by_name["Haus B"][headers.index("Alter 16 bis unter 18")] == 4
        assert by_name["Haus A"][headers.index("Belegt")] == 6  # totals stay


def test_own_facility_is_shown_in_full(app, houses):
    manager = _actor(app, "facility_manager", "leitung@x.org", assigned=[houses["a"]])
    with app.app_context():
        report = reports.stichtag_report(manager, STICHTAG)
        rows = {r.name: r for r in report.rows}
        assert rows["Haus A"].hidden == set()
        assert "uma" in rows["Haus B"].hidden
        headers, body = downloads.stichtag_table(report)
        own = next(row for row in body if row[0] == "Haus A")
        assert own[headers.index("Alter 12 bis unter 14")] == 1
        assert own[headers.index("davon umA")] == 3


def test_admin_not_assigned_and_system(app, houses):
    admin = _actor(app, "admin", "admin@x.org")
    with app.app_context():
        assert reports.stichtag_report(admin, STICHTAG).suppressed
        system = reports.stichtag_report(audit.SYSTEM, STICHTAG)
        assert not system.suppressed and system.min_cell == 0


def test_minimum_is_configurable(app, houses):
    head = _actor(app, "department_head", "chef@x.org")
    with app.app_context():
        app.config["REPORT_MIN_CELL"] = 5
        rows = {r.name: r for r in reports.stichtag_report(head, STICHTAG).rows}
        assert "band:6" in rows["Haus B"].hidden  # four 16-year-olds are now too few
        app.config["REPORT_MIN_CELL"] = 0
        assert not reports.stichtag_report(head, STICHTAG).suppressed


def test_monthly_report_hides_small_end_reasons_and_bands(app, houses):
    head = _actor(app, "department_head", "chef@x.org")
    with app.app_context():
        report = reports.monthly_report(head, 2024, 2)
        c = next(r for r in report.rows if r.name == "Haus C")
        assert c.discharges == {EndReason.ABSCONDED: 1, EndReason.RETURN_HOME: 3}
        assert {"reason:absconded", "reason:return_home"} <= c.hidden
        assert not any(key.startswith("band:") for key in c.hidden)  # 4 of 15: shown
        headers, body = downloads.monthly_table(report)
        row = next(r for r in body if r[0] == "Haus C")
        assert isinstance(row[headers.index("Entlassung: abgängig")], Suppressed)
        assert row[headers.index("Entlassungen")] == 4
        assert row[headers.index("Aufnahmen 14 bis unter 16")] == 4
        # January: the admissions of A (6: one 13-year-old) and B (4).
        january = reports.monthly_report(head, 2024, 1)
        a = next(r for r in january.rows if r.name == "Haus A")
        assert {"band:4", "band:5"} <= a.hidden and "uma" in next(
            r for r in january.rows if r.name == "Haus B"
        ).hidden
        headers, body = downloads.monthly_table(january)
        b = next(r for r in body if r[0] == "Haus B")
        assert isinstance(b[headers.index("umA-Anteil an Aufnahmen")], Suppressed)


def test_pages_and_downloads_show_the_marker_never_the_number(app, client, houses):
    sign_in(app, client, role="department_head", email="chef@example.org")
    url = "/reports/stichtag?at=2024-03-01T13:00"
    html = client.get(url).get_data(as_text=True)
    assert "&lt;3" in html and 'id="small-cells"' in html
    text = client.get(url + "&format=csv").data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text), delimiter=";"))
    header, body = table[0], {row[0]: row for row in table[1:]}
    assert body["Haus A"][header.index("Alter 12 bis unter 14")] == "*"
    assert body["Haus A"][header.index("davon umA")] == "*"
    assert body["Haus A"][header.index("Belegt")] == "6"
    assert body["Haus B"][header.index("Alter 16 bis unter 18")] == "4"
    assert table[-1][0].startswith("* Weniger als 3 Fälle")
    sheet = load_workbook(io.BytesIO(client.get(url + "&format=xlsx").data)).active
    values = list(sheet.iter_rows(values_only=True))
    header = list(values[2])
    xrows = {row[0]: row for row in values[3:]}
    assert xrows["Haus A"][header.index("Alter 12 bis unter 14")] == "*"
    assert xrows["Gesamt"][header.index("Alter 12 bis unter 14")] == "*"
    assert "Weniger als 3 Fälle" in values[1][0]
    html = client.get("/reports/monthly?month=2024-02").get_data(as_text=True)
    assert "&lt;3" in html and 'id="small-cells"' in html


def test_own_view_page_shows_own_numbers(app, client, houses):
    sign_in(app, client, role="facility_manager", email="leitung@example.org")
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(email="leitung@example.org"))
        user.facilities.append(db.session.get(Facility, houses["a"]))
        db.session.commit()
    text = client.get("/reports/stichtag?at=2024-03-01T13:00&format=csv").data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text), delimiter=";"))
    header, body = table[0], {row[0]: row for row in table[1:]}
    assert body["Haus A"][header.index("Alter 12 bis unter 14")] == "1"
    assert body["Haus B"][header.index("davon umA")] == "*"


def test_land_report_has_counts_and_no_persons(app, houses):
    with app.app_context():
        counts = land.land_counts(audit.SYSTEM, STICHTAG)
        text = land.land_csv("01.03.2024", counts)
        references = db.session.scalars(sa.text("select reference from youth")).all()
    assert sum(sum(by_basis.values()) for by_basis in counts.values()) == 6
    assert references and not any(ref in text for ref in references)
