"""The forecast on the pages (issue #14): the overview's "Engpass" column with its filter and
order, the facility chart's dashed continuation with its 80 % band and the data table, bad
parameters, and who sees it. Against the real projection, on constructed histories where
the answer is known: a house one place below its limit that has taken in two youths a day
for twelve weeks without anybody leaving is over within days; a roomy house with one
admission a month is not."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.facilities import display
from placement.models import Facility
from placement.services.accounts import audit, users
from placement.services.accounts.audit import SYSTEM
from placement.services.reporting import charts, forecasts, overview
from placement.services.reporting.facility_page import facility_page
from placement.timeutil import local
from placement.timeutil import now as utc_now
from tests.conftest import PASSWORD, create_facility, create_youth

ROLES = ["on_call", "facility_manager", "department_head", "admin"]


@dataclass(frozen=True)
class Houses:
    busy: int  # one place below its limit, two admissions a day, nobody leaves
    quiet: int  # 30 places, one admission every four weeks
    closed: int  # closed, nobody in it now (its stays lasted 250 days)


def record(youth, facility, start, end=None):
    from placement.services.intake import stays

    return stays.record_stay(
        audit.SYSTEM,
        youth_id=youth.id,
        facility_id=facility.id,
        legal_basis="42-1-2",
        start_at=start,
        end_at=end,
        end_reason="return_home" if end else None,
    )


def build_houses() -> Houses:
    """The constructed history (needs an app context): instants relative to now, as the
    pages forecast from now. Facility kinds learn how long stays last from ended stays:
    forty stays of 250 days in a house closed since, so nobody leaves within weeks."""
    now = utc_now()
    weeks = 12
    per_day = 2
    admitted = weeks * 7 * per_day
    busy = create_facility(
        licensed=admitted + 1,
        name="Haus Voll",
        valid_from=now - timedelta(days=400),
        age_min=12,
        age_max=17,
    )
    quiet = create_facility(
        licensed=30, name="Haus Ruhig", valid_from=now - timedelta(days=400), age_min=12
    )
    closed = create_facility(
        licensed=40, name="Haus Zu", valid_from=now - timedelta(days=400), active=False
    )
    birth = local(now).date().replace(year=local(now).year - 15, month=1, day=1)
    # The kind's length of stay (from stays begun within the last year): long stays, all
    # ended months ago in the house closed since, so that nobody is expected to leave the
    # busy house within the horizon.
    for n in range(40):
        start = now - timedelta(days=360, hours=n)
        record(create_youth(birth_date=birth), closed, start, start + timedelta(days=250))
    for day in range(1, weeks * 7 + 1):
        for slot in range(per_day):
            start = now - timedelta(days=day, hours=3 + 8 * slot)
            record(create_youth(birth_date=birth), busy, start)
    for month in range(1, 4):
        record(create_youth(birth_date=birth), quiet, now - timedelta(days=28 * month))
    db.session.commit()
    return Houses(busy.id, quiet.id, closed.id)


@pytest.fixture
def houses(app) -> Houses:
    with app.app_context():
        return build_houses()


def signed_in(app, client, role: str, facility_ids: list[int] | None = None) -> None:
    email = f"{role}-fc@example.org"
    with app.app_context():
        users.create_user(
            audit.CLI, email=email, role=role, password=PASSWORD, facility_ids=facility_ids or []
        )
        db.session.commit()
    response = client.post("/auth/login", data={"email": email, "password": PASSWORD})
    assert response.status_code in (302, 303)


def row_of(html: str, facility_id: int) -> str:
    match = re.search(rf'<tr[^>]*data-facility="{facility_id}".*?</tr>', html, re.S)
    assert match, facility_id
    return match.group(0)


def shortage_cell(row: str) -> str:
    match = re.search(r'<td class="pp-shortage">(.*?)</td>', row, re.S)
    assert match, row
    return match.group(1)


# --- the service behind the column --------------------------------------------------------


def test_the_busy_house_is_expected_over_within_days_the_quiet_one_not(app, houses):
    with app.app_context():
        found = forecasts.shortages([houses.busy, houses.quiet], utc_now())
        assert houses.quiet not in found
        shortage = found[houses.busy]
        # Two a day on one free place: over by the second day at the latest.
        assert shortage.in_days <= 2
        assert shortage.probability >= 0.7
        assert shortage.day.limit == 12 * 7 * 2 + 1
        assert not shortage.over_now


def test_the_board_projects_all_rows_in_one_batch_and_keeps_it_until_a_write(
    app, houses, monkeypatch
):
    from placement.services import forecast

    calls = []
    real = forecast.project_facilities

    def spy(facility_ids=None, **kwargs):
        calls.append(facility_ids)
        return real(facility_ids, **kwargs)

    monkeypatch.setattr(forecast, "project_facilities", spy)
    with app.app_context():
        board = overview.board_at(SYSTEM, utc_now(), with_forecast=True)
        assert calls == [None]  # one batch of the whole office, whatever the filters
        assert board.shortages == 1
        # The closed house admits nobody: shown only while it has residents, never warned.
        assert all(row.facility.id != houses.closed for row in board.rows)
        filtered = overview.board_at(
            SYSTEM, utc_now(), overview.BoardFilters(shortage_only=True), with_forecast=True
        )
        assert [row.facility.id for row in filtered.rows] == [houses.busy]
        assert calls == [None]  # from the cache
        overview.board_at(SYSTEM, utc_now())  # the API's board: no forecast
        assert calls == [None]
        # A write (here an admission) within FORECAST_BOARD_FRESH_SECONDS keeps the
        # board's forecast (the counts are the core's, always current) ...
        record(create_youth(), db.session.get(Facility, houses.quiet), utc_now())
        db.session.commit()
        again = overview.board_at(SYSTEM, utc_now(), with_forecast=True)
        assert calls == [None]
        quiet = next(row for row in again.rows if row.facility.id == houses.quiet)
        assert quiet.state.occupied == 4
        # ... and once that is over, the next board projects again.
        app.config["FORECAST_BOARD_FRESH_SECONDS"] = 0
        overview.board_at(SYSTEM, utc_now(), with_forecast=True)
        assert calls == [None, None]
        overview.board_at(SYSTEM, utc_now(), with_forecast=True)
        assert calls == [None, None]  # no write since: from the cache


def test_without_the_cache_every_board_projects(app, houses, monkeypatch):
    from placement.services import forecast

    calls = []
    real = forecast.project_facilities
    monkeypatch.setattr(
        forecast, "project_facilities", lambda ids=None, **kw: calls.append(1) or real(ids, **kw)
    )
    app.config["FORECAST_CACHE_SECONDS"] = 0
    with app.app_context():
        first = overview.board_at(SYSTEM, utc_now(), with_forecast=True)
        second = overview.board_at(SYSTEM, utc_now(), with_forecast=True)
    assert len(calls) == 2
    assert {r.facility.id for r in first.rows if r.shortage} == {
        r.facility.id for r in second.rows if r.shortage
    }


# --- the overview --------------------------------------------------------------------------


def test_overview_shows_date_and_probability_of_the_shortage(app, client, houses):
    signed_in(app, client, "department_head")
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<th scope="col">Engpass</th>' in html
    with app.app_context():
        expected = forecasts.shortages([houses.busy], utc_now())[houses.busy]
    cell = shortage_cell(row_of(html, houses.busy))
    when = {0: "heute", 1: "morgen"}.get(expected.in_days, f"in {expected.in_days} Tagen")
    assert f"{when} ({round(expected.probability * 100)} %)" in cell
    assert f"voraussichtlich überbelegt bis {expected.date.strftime('%d.%m.%Y')}" in cell
    assert f'href="/facilities/{houses.busy}#prognose"' in cell
    assert shortage_cell(row_of(html, houses.quiet)) == "–"
    assert "1 mit Engpass in den nächsten 7 Tagen" in html
    assert 'id="shortage-note"' in html
    assert "style=" not in html.split("<main")[1]


def test_overview_filter_and_order_by_shortage(app, client, houses):
    signed_in(app, client, "department_head")
    html = client.get("/?engpass=ja").get_data(as_text=True)
    assert "Haus Voll" in html and "Haus Ruhig" not in html
    assert 'id="engpass" name="engpass" value="ja" checked' in html
    ordered = client.get("/?sort=engpass").get_data(as_text=True)
    assert ordered.index("Haus Voll") < ordered.index("Haus Ruhig")
    by_name = client.get("/").get_data(as_text=True)
    assert by_name.index("Haus Ruhig") < by_name.index("Haus Voll")
    # Filters combine: no quiet house has a shortage.
    none = client.get("/?engpass=ja&area=Westen").get_data(as_text=True)
    assert "Keine Einrichtung entspricht den Filtern." in none


def test_no_shortage_anywhere_says_so(app, client):
    with app.app_context():
        create_facility(licensed=10, name="Haus Leer")
        db.session.commit()
    signed_in(app, client, "department_head")
    html = client.get("/").get_data(as_text=True)
    assert "kein Engpass in den nächsten 7 Tagen erwartet" in html
    with app.app_context():
        facility_id = db.session.scalar(sa.select(Facility.id).filter_by(name="Haus Leer"))
    assert shortage_cell(row_of(html, facility_id)) == "–"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("engpass=vielleicht", "„Nur mit Engpass“: bitte ankreuzen oder leer lassen."),
        ("sort=zufall", "„Sortierung“: bitte „Art“ oder „Engpass zuerst“ wählen."),
    ],
)
def test_overview_bad_shortage_parameters_are_422_in_german(app, client, houses, query, message):
    signed_in(app, client, "department_head")
    response = client.get(f"/?{query}")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert "Haus Voll" in html  # the board is still shown


def test_overview_as_of_shows_what_the_forecast_knew_then(app, client, houses):
    signed_in(app, client, "department_head")
    past = local(utc_now() - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M")
    response = client.get(f"/?at={past}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Rückblickend: was die Prognose zum gewählten Stand" in html
    # Sixty days ago the busy house had 120 places free: no shortage then.
    assert shortage_cell(row_of(html, houses.busy)) == "–"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_that_sees_counts_sees_the_forecast(app, client, houses, role):
    signed_in(app, client, role)
    board = client.get("/").get_data(as_text=True)
    assert shortage_cell(row_of(board, houses.busy)) != "–"
    page = client.get(f"/facilities/{houses.busy}")
    assert page.status_code == 200
    assert 'id="forecast-data"' in page.get_data(as_text=True)


def test_anonymous_visitors_see_no_forecast(client, houses):
    for url in ("/", f"/facilities/{houses.busy}", "/?engpass=ja"):
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


# --- the facility page and its chart ---------------------------------------------------------


def forecast_rows(html: str) -> list[str]:
    table = html.split('id="forecast-data"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr[^>]*><th scope=\"row\">.*?</tr>", table, re.S)


def test_facility_chart_continues_with_band_and_table(app, client, houses):
    signed_in(app, client, "facility_manager", [houses.busy])
    response = client.get(f"/facilities/{houses.busy}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    svg = html.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert '<g class="pp-forecast">' in svg
    assert re.search(r'<polygon points="[^"]+" fill="#6f42c1" fill-opacity=".18"', svg)
    assert 'stroke-dasharray="6 3"' in svg  # the expected values, dashed
    assert "Prognose (erwartet)" in svg and "80-%-Band" in svg and ">jetzt<" in svg
    rows = forecast_rows(html)
    assert len(rows) == 14
    with app.app_context():
        page = facility_page(SYSTEM, houses.busy, utc_now())
    first = page.forecast.days[0]
    assert first.date.strftime("%d.%m.%Y") in rows[0]
    assert f"{first.low}–{first.high}" in rows[0]
    assert display.percent(page.forecast.days[-1].p_over) in rows[-1]
    assert 'class="table-warning"' in html  # the first shortage day is marked
    assert "Engpass: voraussichtlich" in html
    assert "Wahrscheinlichkeit über Kapazität" in html
    assert "geplante Entlassungen im Zeitraum: 0; Auszüge mit 18 (Volljährigkeit): 0" in html
    assert "style=" not in html.split("<main")[1]
    assert "<script" not in html.split("</main>")[0]


def test_chart_band_encloses_the_expected_values(app, houses):
    with app.app_context():
        page = facility_page(SYSTEM, houses.busy, utc_now())
    line = page.chart_forecast
    assert line is not None and line.start_value == page.state.occupied
    for day in line.days:
        assert day.low <= day.expected <= day.high
        assert day.limit == page.state.limit
    # Occupancy only grows here (nobody leaves), so the expectation rises day by day.
    expected = [day.expected for day in line.days]
    assert expected == sorted(expected) and expected[-1] > expected[0]


def test_quiet_house_has_a_flat_forecast_and_no_shortage(app, client, houses):
    signed_in(app, client, "department_head")
    html = client.get(f"/facilities/{houses.quiet}").get_data(as_text=True)
    assert "Kein Engpass in den nächsten 7 Tagen erwartet" in html
    rows = forecast_rows(html)
    assert len(rows) == 14
    assert all(row.rstrip().endswith('<td class="text-end">0 %</td></tr>') for row in rows)


@pytest.mark.parametrize("days", ["1", "28"])
def test_forecast_days_parameter(app, client, houses, days):
    signed_in(app, client, "department_head")
    response = client.get(f"/facilities/{houses.busy}?forecast_days={days}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert len(forecast_rows(html)) == int(days)
    assert f'id="forecast_days" name="forecast_days" value="{days}"' in html


@pytest.mark.parametrize("days", ["0", "29", "abc", "-3", "9" * 5000, "1.5", "½"])
def test_bad_forecast_days_are_422_in_german_keeping_the_value(app, client, houses, days):
    signed_in(app, client, "department_head")
    response = client.get(f"/facilities/{houses.busy}", query_string={"forecast_days": days})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "„Prognose für Tage“: bitte eine ganze Zahl von 1 bis 28 angeben." in html
    assert f'value="{days}"' in html
    assert len(forecast_rows(html)) == 14  # the default is shown


def test_forecast_days_with_a_superscript_digit_is_refused_naming_the_field(app, client, houses):
    signed_in(app, client, "department_head")
    response = client.get(f"/facilities/{houses.busy}", query_string={"forecast_days": "²"})
    assert response.status_code in (400, 422)
    assert "„forecast_days“" in response.get_data(as_text=True) or "„Prognose für Tage“" in (
        response.get_data(as_text=True)
    )


def test_chart_in_the_past_keeps_the_forecast_in_the_table_only(app, client, houses):
    signed_in(app, client, "department_head")
    until = local(utc_now()).date() - timedelta(days=10)
    html = client.get(
        f"/facilities/{houses.busy}?from={until - timedelta(days=20)}&until={until}"
    ).get_data(as_text=True)
    assert '<g class="pp-forecast">' not in html
    assert "die Prognose steht deshalb nur in der Tabelle" in html
    assert len(forecast_rows(html)) == 14


def test_closed_facility_has_no_forecast(app, client, houses):
    signed_in(app, client, "department_head")
    html = client.get(f"/facilities/{houses.closed}").get_data(as_text=True)
    assert 'id="forecast-none"' in html and 'id="forecast-data"' not in html
    assert '<g class="pp-forecast">' not in html


# --- the chart as a pure function ------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    day: date
    peak: int
    midnight: int
    limit: int
    usable: int
    over: bool


@dataclass(frozen=True)
class Point:
    date: date
    expected: float
    low: int
    high: int
    limit: int | None


@dataclass(frozen=True)
class Line:
    start_day: date
    start_fraction: float
    start_value: int
    days: list[Point]


def test_chart_geometry_of_the_forecast():
    start = date(2024, 3, 1)
    history = [Day(start + timedelta(days=i), 5, 5, 6, 6, False) for i in range(4)]
    line = Line(
        start + timedelta(days=3),
        0.5,
        5,
        [Point(start + timedelta(days=4 + i), 5.5 + i, 5 + i, 7 + i, 6) for i in range(4)],
    )
    svg = str(charts.occupancy_chart(history, title="t", description="d", forecast=line))
    # 8 slots over a plot 710 wide from x=40: now is in the middle of slot 3.
    assert 'x1="350.6" x2="350.6"' in svg
    polygon = re.search(r'<polygon points="([^"]+)"', svg).group(1).split()
    assert len(polygon) == 2 * (1 + 4)
    assert polygon[0] == polygon[-1]  # the band starts and ends at "now"
    # The limit line continues over the forecast days to the right edge.
    limit = re.findall(r'<polyline fill="none" points="([^"]+)" stroke="#212529"', svg)[0]
    assert limit.split()[-1].startswith("750,")
    assert "09.03.2024" not in svg and "08.03.2024" in svg  # the last forecast day labels the axis
    plain = str(charts.occupancy_chart(history, title="t", description="d"))
    assert "pp-forecast" not in plain and "80-%-Band" not in plain


def test_the_cache_keeps_a_value_through_writes_only_while_fresh(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(forecasts.time, "monotonic", lambda: now[0])
    store = forecasts.ForecastCache()
    store.put("k", 1, "value")
    assert store.get("k", 1, max_age=300) == "value"
    assert store.get("k", 2, max_age=300, fresh=60) == "value"  # a write, but fresh
    now[0] += 61
    assert store.get("k", 2, max_age=300, fresh=60) is None  # a write, no longer fresh
    store.put("k", 2, "newer")
    now[0] += 301
    assert store.get("k", 2, max_age=300, fresh=60) is None  # too old whatever the version
