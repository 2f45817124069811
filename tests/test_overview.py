"""The occupancy board: hand-computed numbers, as-of instants, filters, totals, queries."""

from __future__ import annotations

import pytest

from placement.extensions import db
from placement.models.enums import FacilityKind, Gender
from placement.services.accounts.audit import SYSTEM
from placement.services.reporting.overview import BoardFilters, board_at
from tests.conftest import at, recorded_statements
from tests.occupancy_scenario import S, build


@pytest.fixture
def scenario(make_facility, make_youth, make_stay):
    return build(make_facility, make_youth, make_stay)


def rows_by_name(board):
    return {row.facility.name: row for row in board.rows}


def test_board_at_stichtag_matches_hand_computation(scenario):
    rows = rows_by_name(board_at(SYSTEM, S))
    a, b, c = rows["Haus A"], rows["Haus B"], rows["Haus C"]
    # y3 starts exactly at S (counted), y2 ends exactly at S (not counted).
    a, b, c = a.state, b.state, c.state
    assert (a.occupied, a.licensed, a.usable, a.ceiling, a.limit) == (4, 3, 3, 5, 5)
    assert not a.over_capacity and a.free == 0
    assert a.utilisation == pytest.approx(4 / 3)
    assert (b.occupied, b.limit, b.reserved, b.free, b.over_by) == (3, 2, 1, 0, 1)
    assert b.over_capacity
    assert (c.occupied, c.reserved, c.free) == (0, 1, 5)


def test_instant_just_before_stichtag_and_capacity_change(scenario):
    rows = rows_by_name(board_at(SYSTEM, at("2024-03-01 11:59")))
    assert rows["Haus A"].state.occupied == 4  # y1 y2 y4 y5: y2 still there, y3 not yet
    assert rows["Haus B"].state.occupied == 3
    before = rows_by_name(board_at(SYSTEM, at("2024-02-14 23:59")))["Haus A"].state
    after = rows_by_name(board_at(SYSTEM, at("2024-02-15 00:00")))["Haus A"].state
    assert (before.licensed, before.ceiling, before.limit, before.occupied) == (4, None, 4, 1)
    assert (after.licensed, after.ceiling, after.limit, after.occupied) == (3, 5, 5, 1)


def test_totals_per_kind_and_planning_area(scenario):
    board = board_at(SYSTEM, S)
    areas = {t.label: t for t in board.by_planning_area}
    west = areas["Westen"]
    assert (west.facilities, west.occupied, west.licensed, west.reserved, west.free) == (
        2,
        3,
        8,
        2,
        5,
    )
    assert west.over_capacity == 1
    kinds = {t.label: t.occupied for t in board.by_kind}
    assert kinds == {"Clearingeinrichtung": 3, "Inobhutnahmestelle": 4, "Wohngruppe": 0}
    assert board.total.occupied == 7 and board.total.licensed == 11
    # Sorted by kind label, then name.
    assert [r.facility.name for r in board.rows] == ["Haus B", "Haus A", "Haus C"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (BoardFilters(kind=FacilityKind.CLEARING), {"Haus B"}),
        (BoardFilters(planning_area="Westen"), {"Haus B", "Haus C"}),
        (BoardFilters(gender=Gender.MALE), {"Haus A", "Haus B"}),
        (BoardFilters(age=10), {"Haus A", "Haus B"}),
        (BoardFilters(uma=True), {"Haus A", "Haus B"}),
        (BoardFilters(uma=False, gender=Gender.FEMALE, age=15), {"Haus A", "Haus B", "Haus C"}),
    ],
)
def test_filters(scenario, filters, expected):
    assert set(rows_by_name(board_at(SYSTEM, S, filters))) == expected


def test_the_area_filter_offers_every_active_facilitys_area_whatever_the_filter(
    scenario, make_facility
):
    make_facility(name="Haus Alt", planning_area="Altstadt", active=False)
    make_facility(name="Haus Süd", planning_area="Süden")
    make_facility(name="Haus Ohne", planning_area=None)
    expected = ["Nordost", "Süden", "Westen"]  # sorted, once each, no closed house's
    assert board_at(SYSTEM, S).planning_areas == expected
    narrowed = board_at(SYSTEM, S, BoardFilters(kind=FacilityKind.CLEARING))
    assert [r.facility.name for r in narrowed.rows] == ["Haus B"]
    assert narrowed.planning_areas == expected


def test_last_changed_is_capped_at_the_instant(scenario):
    rows = rows_by_name(board_at(SYSTEM, S))
    assert rows["Haus A"].last_changed == S  # y2 ends and y3 starts exactly at S
    assert rows["Haus C"].last_changed == at("2024-02-01 00:00")
    assert rows["Haus B"].last_changed == at("2024-03-01 11:00")


def board_statements(**options) -> list[str]:
    """The statements one ``board_at(SYSTEM, S, **options)`` runs."""
    with recorded_statements() as statements:
        board_at(SYSTEM, S, **options)
    return statements


def test_board_runs_a_constant_number_of_queries(app, scenario, make_facility):
    db.session.commit()
    few = len(board_statements())
    for _ in range(5):
        make_facility()
    db.session.commit()
    assert len(board_statements()) == few <= 7


def test_the_counts_alone_read_the_facilities_and_their_place_states(app, scenario):
    """The occupancy API's board (no forecast, no last change) needs two statements; the
    forecast's warning settings are read only with the forecast."""
    db.session.commit()
    counts = board_statements(with_changes=False)
    assert len(counts) == 2
    assert not any("alert_setting" in statement for statement in counts)
    assert any("alert_setting" in s for s in board_statements(with_forecast=True))


def test_page_shows_as_of_numbers_status_text_and_totals(app, client, scenario, login):
    login()
    html = client.get("/?at=2024-03-01T13:00").get_data(as_text=True)
    assert "Stand 01.03.2024 13:00" in html
    assert "überbelegt (+1)" in html  # Haus B, in text as well as colour
    assert "Je Planungsraum" in html and "Westen" in html
    assert 'value="2024-03-01T13:00"' in html
    assert "133 %" in html.replace("\xa0", " ")


def test_page_filters_by_query_parameters(app, client, scenario, login):
    login()
    html = client.get("/?at=2024-03-01T13:00&area=Westen&uma=ja").get_data(as_text=True)
    assert "Haus B" in html and "Haus A" not in html and "Haus C" not in html


def test_bad_instant_shows_german_error_keeps_value_and_falls_back_to_now(
    app, client, scenario, login
):
    login()
    response = client.get("/?at=gestern%20abend&age=abc")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "„Stand“: „gestern abend“ ist kein gültiger Zeitpunkt" in html
    assert 'value="gestern abend"' in html
    assert "„Alter“" in html
    assert "Haus A" in html  # the board is still shown, as of now


def test_fast_formatters_match_the_template_filters(app):
    from placement import formatting
    from placement.facilities import display

    with app.test_request_context("/"):
        for text in (
            "2024-03-31 00:59",
            "2024-03-31 01:00",
            "2024-10-27 00:30",
            "2024-12-31 23:00",
        ):
            assert display.local_dt(at(text)) == formatting.format_local(at(text))
        for share in (None, 0.0, 0.005, 4 / 3, 1.585, 12.345):
            assert display.percent(share) == formatting.format_percent(share)
