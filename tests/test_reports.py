"""Stichtag and monthly reports against hand-computed figures; CSV/XLSX round trips."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from placement.models.enums import EndReason
from placement.services.accounts.audit import SYSTEM
from placement.services.reporting import reports
from tests.occupancy_scenario import S, build


@pytest.fixture
def scenario(make_facility, make_youth, make_stay):
    return build(make_facility, make_youth, make_stay)


def test_age_bands():
    assert [reports.age_band(a) for a in (0, 2, 3, 5, 6, 11, 12, 13, 14, 15, 16, 17, 18, 25)] == [
        0, 0, 1, 1, 2, 3, 4, 4, 5, 5, 6, 6, 7, 7
    ]  # fmt: skip


def test_stichtag_report(scenario):
    report = reports.stichtag_report(SYSTEM, S)
    rows = {r.name: r for r in report.rows}
    a, b = rows["Haus A"], rows["Haus B"]
    sa_, sb = a.state, b.state
    assert (sa_.occupied, sa_.licensed, sa_.ceiling, sa_.over_by, sa_.free) == (4, 3, 5, 0, 0)
    assert (sb.occupied, sb.reserved, sb.over_by) == (3, 1, 1)
    # Age at the Stichtag: y1 turns 18 that day, y3 is 16, y4 and y5 are 13 (born 17.05.2010).
    assert a.bands == [0, 0, 0, 0, 2, 0, 1, 1]
    assert a.uma == 1 and b.uma == 1
    assert report.total.occupied == 7 and report.total.reserved == 2
    assert report.total_bands == [0, 0, 0, 0, 5, 0, 1, 1]


def test_monthly_report_march(scenario):
    report = reports.monthly_report(SYSTEM, 2024, 3)
    rows = {r.name: r for r in report.rows}
    a, b, c = rows["Haus A"], rows["Haus B"], rows["Haus C"]
    # Haus B: midnight counts 2 (1 day), 3 (4 days), 2 (26 days); over on 01.–05.03.
    assert b.average == pytest.approx(66 / 31)
    assert (b.peak, b.days_over, b.admissions, b.discharges_total) == (3, 5, 1, 1)
    assert b.discharges == {EndReason.RETURN_HOME: 1}
    assert b.average_length == pytest.approx(23.5)
    assert b.uma_share == 1.0 and b.bands[4] == 1
    # Haus A: 4 (1 day), 4 (9 days), 3 (21 days); y2 leaves exactly as y3 arrives.
    assert a.average == pytest.approx(103 / 31)
    assert (a.peak, a.days_over, a.admissions) == (4, 0, 1)
    assert a.discharges == {EndReason.TRANSFER: 1, EndReason.FOLLOW_ON_HELP: 1}
    assert a.average_length == pytest.approx((10 + 2 / 24 + 14) / 2)
    assert a.bands[6] == 1 and a.uma_share == 1.0
    assert (c.average, c.peak, c.admissions) == (0, 0, 0)
    total = report.total
    assert total.average == pytest.approx(169 / 31)
    assert (total.peak, total.days_over, total.admissions, total.discharges_total) == (7, 5, 2, 3)


def test_monthly_report_february_with_capacity_change(scenario):
    rows = {r.name: r for r in reports.monthly_report(SYSTEM, 2024, 2).rows}
    a, b = rows["Haus A"], rows["Haus B"]
    assert a.average == pytest.approx(42 / 29)
    assert (a.peak, a.days_over, a.admissions) == (4, 0, 4)
    assert b.average == pytest.approx(28 / 29)
    assert (b.peak, b.days_over, b.admissions) == (2, 0, 2)
    c = rows["Haus C"]
    assert c.discharges == {EndReason.RETURN_HOME: 1}  # 01.02. 00:00 UTC is still in February
    assert c.average_length == pytest.approx(27)


def test_stichtag_downloads_parse_back_to_the_same_numbers(app, client, scenario, login):
    login()
    text = client.get("/reports/stichtag?at=2024-03-01T13:00&format=csv").data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text), delimiter=";"))
    header, body = table[0], {row[0]: row for row in table[1:]}
    assert body["Haus B"][header.index("Belegt")] == "3"
    assert body["Haus B"][header.index("Über Kapazität")] == "1"
    assert body["Haus A"][header.index("Auslastung (Anteil)")] == "1,3333"
    assert body["Gesamt"][header.index("Belegt")] == "7"

    response = client.get("/reports/stichtag?at=2024-03-01T13:00&format=xlsx")
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.iter_rows(values_only=True))
    header = list(values[2])
    xrows = {row[0]: row for row in values[3:]}
    assert xrows["Haus B"][header.index("Belegt")] == 3
    assert xrows["Gesamt"][header.index("Reserviert")] == 2
    assert "Stichtag 01.03.2024 13:00" in values[1][0]


def test_monthly_downloads_and_page(app, client, scenario, login):
    app.config["REPORT_MIN_CELL"] = 0  # every figure (small cells: test_small_cells.py)
    login()
    html = client.get("/reports/monthly?month=2024-03").get_data(as_text=True)
    assert "Mitternachtsbestand" in html and "Haus B" in html
    assert "2,13" in html  # 66 / 31
    text = client.get("/reports/monthly?month=2024-03&format=csv").data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text), delimiter=";"))
    header, body = table[0], {row[0]: row for row in table[1:]}
    assert body["Haus B"][header.index("Tage über Kapazität")] == "5"
    assert body["Gesamt"][header.index("Höchststand")] == "7"
    sheet = load_workbook(io.BytesIO(client.get("/reports/monthly?month=2024-03&format=xlsx").data))
    values = list(sheet.active.iter_rows(values_only=True))
    header = list(values[2])
    xrows = {row[0]: row for row in values[3:]}
    assert xrows["Haus B"][header.index("Durchschnittliche Belegung")] == pytest.approx(2.13)
    assert xrows["Haus A"][header.index("Entlassung: Verlegung in andere Einrichtung")] == 1
    # Reports never list persons.
    for ref in scenario.refs.values():
        assert ref not in html and ref not in text


def test_bad_month_and_stichtag_are_named(app, client, scenario, login):
    login()
    html = client.get("/reports/monthly?month=2024-13").get_data(as_text=True)
    assert "„Monat“: „2024-13“ ist kein gültiger Monat" in html
    html = client.get("/reports/stichtag?at=nie").get_data(as_text=True)
    assert "„Stichtag“: „nie“ ist kein gültiger Zeitpunkt" in html
    assert client.get("/reports/").status_code == 200


def test_reports_need_login(client):
    assert client.get("/reports/monthly").status_code == 302


# --- history views refuse the future and instants before the data ------------------------


def test_history_services_refuse_future_and_before_data(scenario):
    from datetime import timedelta

    from placement.services.errors import BadInput, Code
    from placement.services.reporting import facility_page, history, overview
    from placement.timeutil import now as utcnow
    from tests.conftest import at

    assert history.data_start() == at("2024-01-01 00:00")
    future = utcnow() + timedelta(hours=2)
    early = at("1900-01-01 00:00")
    calls = [
        lambda t: reports.stichtag_report(SYSTEM, t),
        lambda t: overview.board_at(SYSTEM, t, as_of=True),
        lambda t: facility_page.facility_page(SYSTEM, scenario.a_id, t, as_of=True),
    ]
    for call in calls:
        for instant, code in ((future, Code.HISTORY_IN_FUTURE), (early, Code.HISTORY_BEFORE_DATA)):
            with pytest.raises(BadInput) as caught:
                call(instant)
            assert (caught.value.code, caught.value.field) == (code, "at")
        call(at("2024-01-01 00:00"))  # the first recorded instant is fine
    # "Now" without an as-of is never refused.
    overview.board_at(SYSTEM, future)
    with pytest.raises(BadInput) as caught:
        reports.monthly_report(SYSTEM, 2099, 1)
    assert (caught.value.code, caught.value.field) == (Code.MONTH_IN_FUTURE, "month")
    with pytest.raises(BadInput) as caught:
        reports.monthly_report(SYSTEM, 2023, 12)
    assert caught.value.code == Code.MONTH_BEFORE_DATA
    reports.monthly_report(SYSTEM, 2024, 1)
    today = utcnow().date()
    reports.monthly_report(SYSTEM, today.year, today.month)  # the running month


def test_history_pages_name_the_field_and_the_allowed_range(app, client, scenario, login):
    login()
    response = client.get("/reports/stichtag?at=2099-01-01T00:00")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "„Stichtag“: 01.01.2099 00:00 liegt in der Zukunft" in html
    assert "rückblickend" not in html and 'id="report"' not in html
    assert 'value="2099-01-01T00:00"' in html
    response = client.get("/reports/stichtag?at=1900-01-01T00:00")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "„Stichtag“: 01.01.1900 00:00 liegt vor den ersten erfassten Daten" in html
    assert "von 01.01.2024 01:00 bis" in html
    assert "1899" not in html
    # Downloads are refused the same way rather than sending an empty file.
    response = client.get("/reports/stichtag?at=2099-01-01T00:00&format=csv")
    assert response.status_code == 422 and response.mimetype == "text/html"

    response = client.get("/reports/monthly?month=2099-01")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "„Monat“: 01/2099 hat noch nicht begonnen" in html
    assert 'value="2099-01"' in html and 'id="report"' not in html
    html = client.get("/reports/monthly?month=1995-05").get_data(as_text=True)
    assert "„Monat“: 05/1995 liegt vor den ersten erfassten Daten" in html
    assert "von 01/2024 bis" in html
    assert client.get("/reports/monthly?month=2024-03").status_code == 200

    response = client.get("/?at=2099-01-01T00:00")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "„Stand“: 01.01.2099 00:00 liegt in der Zukunft" in html
    assert "Angezeigt wird der aktuelle Stand." in html
    assert "rückblickend" not in html and "Haus A" in html
    assert 'value="2099-01-01T00:00"' in html
    html = client.get("/?at=1900-01-01T00:00").get_data(as_text=True)
    assert "liegt vor den ersten erfassten Daten" in html and "1899" not in html
    assert "rückblickend" in client.get("/?at=2024-03-01T13:00").get_data(as_text=True)

    html = client.get(f"/facilities/{scenario.a_id}?at=2099-01-01T00:00").get_data(as_text=True)
    assert "„Stand“: 01.01.2099 00:00 liegt in der Zukunft" in html
    html = client.get(f"/facilities/{scenario.a_id}?at=1900-01-01T00:00").get_data(as_text=True)
    assert "liegt vor den ersten erfassten Daten" in html


def test_api_occupancy_refuses_future_and_before_data(api, scenario):
    response = api.get("/occupancy?at=2099-01-01T00:00:00Z", role="department_head")
    assert response.status_code == 400
    body = response.get_json()
    assert (body["field"], body["code"]) == ("at", "history_in_future")
    assert "„at“" in body["error"] and "Zukunft" in body["error"]
    response = api.get("/occupancy?at=1900-01-01T00:00:00Z", role="department_head")
    body = response.get_json()
    assert response.status_code == 400
    assert (body["field"], body["code"]) == ("at", "history_before_data")
    assert "01.01.2024 01:00" in body["error"]
    assert api.get("/occupancy", role="department_head").status_code == 200
    assert api.get("/occupancy?at=2024-03-01T12:00:00Z", role="department_head").status_code == 200


def test_xlsx_has_percent_shares_widths_frozen_header_and_filter(app, client, scenario, login):
    app.config["REPORT_MIN_CELL"] = 0  # every figure (small cells: test_small_cells.py)
    login()
    for url in ("/reports/monthly?month=2024-03", "/reports/stichtag?at=2024-03-01T13:00"):
        workbook = load_workbook(io.BytesIO(client.get(url + "&format=xlsx").data))
        sheet = workbook.active
        header = [c.value for c in sheet[3]]
        last = sheet.max_row
        assert sheet.freeze_panes == "B4"
        assert sheet.auto_filter.ref == f"A3:{sheet.cell(3, len(header)).column_letter}{last}"
        assert all(c.font.bold for c in sheet[3])
        shares = [i for i, h in enumerate(header, start=1) if "Anteil" in h]
        assert shares
        for column in shares:
            cells = [sheet.cell(r, column) for r in range(4, last + 1)]
            assert all(c.number_format == "0.0 %" for c in cells)
            assert any(isinstance(c.value, int | float) and 0 <= c.value <= 5 for c in cells)
        for column in range(1, len(header) + 1):
            width = sheet.column_dimensions[sheet.cell(3, column).column_letter].width
            assert 8 <= width <= 40
        names = [sheet.cell(r, 1).value for r in range(4, last + 1)]
        name_width = sheet.column_dimensions["A"].width
        assert name_width >= max(len(n) for n in names)
        assert sheet.cell(last, 1).value == "Gesamt" and sheet.cell(last, 1).font.bold
    average = header.index("Auslastung (Anteil)") + 1
    assert sheet.cell(4, average).number_format == "0.0 %"
