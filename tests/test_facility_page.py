"""The facility page: residents with permission and audit, address, chart, episodes, as-of;
deadline rules."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, Facility, User
from placement.services.accounts.audit import SYSTEM
from placement.services.intake import deadlines
from placement.services.reporting import reports
from placement.services.reporting.facility_page import facility_page
from tests.conftest import at
from tests.occupancy_scenario import S, build


@pytest.fixture
def scenario(make_facility, make_youth, make_stay):
    return build(make_facility, make_youth, make_stay)


def audit_actions():
    return db.session.scalars(db.select(AuditEvent.action)).all()


def test_residents_at_stichtag_for_the_manager_and_view_is_audited(app, client, scenario, login):
    login(role="facility_manager", email="haus@example.org")
    html = client.get(f"/facilities/{scenario.a_id}?at=2024-03-01T13:00").get_data(as_text=True)
    refs = scenario.refs
    # y3 starts exactly at S (listed), y2 ends exactly at S (not listed).
    for name in ("y1", "y3", "y4", "y5"):
        assert refs[name] in html
    assert refs["y2"] not in html
    assert "Meldung zur Verteilung (§ 42a): 12.03.2024" in html  # Fri 01.03. + 7 working days
    assert "Volljährigkeit: 01.03.2024 (erreicht)" in html  # y1 turns 18 on the Stichtag
    events = db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.action == "facility.residents.view")
    ).all()
    assert len(events) == 1
    assert events[0].object_type == "facility" and events[0].object_id == scenario.a_id
    assert events[0].after["residents"] == 4


def test_on_call_staff_see_the_residents_whose_stay_is_still_open(app, client, scenario, login):
    # Need to know (#13): at night they must find a youth, not read the house's history.
    login(role="on_call", email="dienst@example.org")
    html = client.get(f"/facilities/{scenario.a_id}?at=2024-03-01T13:00").get_data(as_text=True)
    refs = scenario.refs
    for name in ("y1", "y3", "y5"):
        assert refs[name] in html
    assert refs["y4"] not in html and refs["y2"] not in html  # ended since


def test_department_head_sees_counts_but_no_residents_and_no_hidden_address(
    app, client, scenario, login
):
    login(role="department_head")
    html = client.get(f"/facilities/{scenario.c_id}").get_data(as_text=True)
    assert "Kapazitätszeiträume" in html
    assert 'id="residents"' not in html
    assert "Geheimweg" not in html and "04109" not in html
    assert "vertraulich (anonyme Unterbringung)" in html
    assert "facility.residents.view" not in audit_actions()


def test_only_those_assigned_see_the_anonymous_address(app, client, scenario, login):
    # More in tests/test_anonymous_places.py.
    login(role="facility_manager", email="leitung@example.org", every_facility=False)
    html = client.get(f"/facilities/{scenario.c_id}").get_data(as_text=True)
    assert "Geheimweg 1" not in html and 'id="address-hidden"' in html
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(email="leitung@example.org"))
        user.facilities.append(db.session.get(Facility, scenario.c_id))
        db.session.commit()
    html = client.get(f"/facilities/{scenario.c_id}").get_data(as_text=True)
    assert "Geheimweg 1" in html


def test_capacity_history_chart_and_episodes(app, client, scenario, login):
    login()
    html = client.get(
        f"/facilities/{scenario.b_id}?at=2024-03-01T13:00&from=2024-02-28&until=2024-03-02"
    ).get_data(as_text=True)
    assert "<svg" in html and 'role="img"' in html and 'id="chart-data"' in html
    assert "überbelegt (+1)" in html
    assert "andauernd" in html  # as of S the episode that began at 11:00 UTC is still running
    assert "<script" not in html.split("</main>")[0]
    # The episode ended when z1 left at 05.03. 00:00 UTC (01:00 Berlin).
    now_html = client.get(f"/facilities/{scenario.b_id}").get_data(as_text=True)
    assert "05.03.2024 01:00" in now_html
    assert client.get("/facilities/99999").status_code == 404


def test_bad_chart_range_and_instant_are_named_in_german(app, client, scenario, login):
    login()
    html = client.get(
        f"/facilities/{scenario.a_id}?at=kaputt&from=2024-03-05&until=2024-03-01"
    ).get_data(as_text=True)
    assert "„Stand“: „kaputt“ ist kein gültiger Zeitpunkt" in html
    assert "„Diagramm von“ muss vor „Diagramm bis“ liegen" in html


def test_episodes_service(scenario):
    at_s = facility_page(SYSTEM, scenario.b_id, S)
    assert [(e.start, e.end, e.peak, e.limit, e.events) for e in at_s.episodes] == [
        (at("2024-03-01 11:00"), None, 3, 2, 1)
    ]
    later = facility_page(SYSTEM, scenario.b_id, at("2024-06-01 00:00"))
    assert later.episodes[0].end == at("2024-03-05 00:00")
    assert facility_page(SYSTEM, scenario.a_id, S).episodes == []


def test_daily_stats_midnight_peak_and_over(scenario):
    days = reports.daily_stats(date(2024, 2, 29), date(2024, 3, 5), [scenario.b_id])[scenario.b_id]
    # midnight count, peak during the day, over at any instant (z3 at 01.03. 11:00 UTC,
    # z1 leaves 05.03. 00:00 UTC = 01:00 Berlin, so 05.03. is over for an hour).
    assert [(d.day.day, d.midnight, d.peak, d.limit, d.over) for d in days] == [
        (29, 2, 2, 2, False),
        (1, 2, 3, 2, True),
        (2, 3, 3, 2, True),
        (3, 3, 3, 2, True),
        (4, 3, 3, 2, True),
        (5, 3, 3, 2, True),
    ]


@pytest.mark.parametrize(
    ("start", "due"),
    [
        ("2024-03-01 08:00", date(2024, 3, 12)),  # Friday
        ("2024-03-04 08:00", date(2024, 3, 13)),  # Monday
        ("2024-03-02 08:00", date(2024, 3, 12)),  # Saturday
    ],
)
def test_distribution_report_deadline_counts_working_days(start, due):
    found = deadlines.deadlines_for_stay(
        start_at=at(start),
        legal_basis="42a",
        facility_kind="clearing",
        birth_date=date(2009, 1, 1),
        instant=at(start),
    )
    by_code = {d.code: d for d in found}
    assert by_code["42a_report"].due == due
    assert by_code["42a_excluded"].due.month == 4
    assert by_code["emergency_3m"].due.month == 6
    assert "adult" not in by_code


def test_coming_of_age_window_and_month_end_clamping():
    def codes(birth, instant, kind="group_home"):
        return {
            d.code: d
            for d in deadlines.deadlines_for_stay(
                start_at=at("2024-01-31 10:00"),
                legal_basis="34",
                facility_kind=kind,
                birth_date=birth,
                instant=at(instant),
            )
        }

    assert "adult" in codes(date(2006, 6, 1), "2024-03-03 12:00")  # 90 days ahead
    assert "adult" not in codes(date(2006, 6, 1), "2024-03-02 12:00")
    assert codes(date(2006, 6, 1), "2024-06-01 12:00")["adult"].overdue
    assert "emergency_3m" not in codes(date(2010, 1, 1), "2024-03-02 12:00")
    three = codes(date(2010, 1, 1), "2024-03-02 12:00", kind="inobhutnahme")["emergency_3m"]
    assert three.due == date(2024, 4, 30) and not three.overdue  # 31.01. + 3 months
    assert deadlines.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
