"""GET /api/v1/forecast (issue #14): a facility's days with band and probability, groups and
the office, every bad parameter naming its field, and who may ask. Every answer is checked
against the generated OpenAPI document (the ``api`` fixture)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from placement.services import forecast
from placement.timeutil import local
from placement.timeutil import now as utc_now
from tests.test_forecast_pages import build_houses

ROLES = ["on_call", "facility_manager", "department_head", "admin"]


@pytest.fixture
def houses(app):
    with app.app_context():
        return build_houses()


def test_facility_forecast_returns_the_days(api, houses):
    response = api.get(f"/forecast?facility_id={houses.busy}", role="department_head")
    assert response.status_code == 200
    body = response.get_json()
    assert body["facility_id"] == houses.busy
    assert body["subject"] == "facility" and body["key"] == str(houses.busy)
    assert body["label"] == "Haus Voll"
    assert body["occupied_now"] == 12 * 7 * 2
    assert body["limit_now"] == 12 * 7 * 2 + 1
    # Two admissions a day for twelve weeks (the model shrinks a house's rate towards its
    # kind's, so not exactly two).
    assert 0.5 <= body["admissions_per_day"] <= 2.5
    assert body["planned_ends"] == 0 and body["coming_of_age_ends"] == 0
    assert body["window_weeks"] == 12
    days = body["days"]
    assert len(days) == forecast.DEFAULT_DAYS
    dates = [date.fromisoformat(d["date"]) for d in days]
    today = local(utc_now()).date()
    assert dates[0] in (today, today + timedelta(days=1))
    assert dates == [dates[0] + timedelta(days=i) for i in range(len(dates))]
    for d in days:
        # The band holds the middle 80 % of a count: a skewed one (a full house that takes
        # one more now and then) can have its mean just outside, never a place away.
        assert d["low"] <= d["high"]
        assert d["low"] - 1 < d["expected"] < d["high"] + 1
        assert 0.0 <= d["p_over"] <= d["p_over_by"] <= 1.0
        assert d["limit"] == body["limit_now"]
    # Over by a day: never less likely on a later day.
    assert [d["p_over_by"] for d in days] == sorted(d["p_over_by"] for d in days)
    # Nobody leaves and two come a day: over the one free place within days, surely later.
    assert days[-1]["p_over"] > 0.99
    assert any(d["p_over"] >= 0.7 for d in days[:3])
    assert [d["p_over"] for d in days] == sorted(d["p_over"] for d in days)


def test_quiet_facility_is_not_expected_over(api, houses):
    body = api.get(f"/forecast?facility_id={houses.quiet}&days=7", role="admin").get_json()
    assert len(body["days"]) == 7
    assert body["occupied_now"] == 3 and body["limit_now"] == 30
    assert all(d["p_over"] < 0.01 for d in body["days"])
    assert body["admissions_per_day"] < 0.2


@pytest.mark.parametrize("days", [1, 28])
def test_days_at_the_bounds(api, houses, days):
    response = api.get(f"/forecast?facility_id={houses.busy}&days={days}", role="on_call")
    assert response.status_code == 200
    assert len(response.get_json()["days"]) == days


@pytest.mark.parametrize(
    ("query", "field", "code", "status"),
    [
        ("days=0", "days", "out_of_range", 400),
        ("days=29", "days", "out_of_range", 400),
        ("days=-1", "days", "out_of_range", 400),
        ("days=abc", "days", "not_integer", 400),
        ("days=1.5", "days", "not_integer", 400),
        ("days=99999999999", "days", "out_of_range", 400),
        ("facility_id=abc", "facility_id", "not_integer", 400),
        ("facility_id=99999999999", "facility_id", "out_of_range", 400),
        ("kind=zelt", "kind", "unknown_value", 422),
        ("profile=astronauten", "profile", "unknown_value", 422),
        ("kind=clearing&profile=girls", "profile", "forecast_one_subject", 400),
    ],
)
def test_bad_parameters_name_the_field(api, houses, query, field, code, status):
    response = api.get(f"/forecast?{query}", role="department_head")
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert (body["field"], body["code"]) == (field, code)
    assert f"„{field}“" in body["error"]


def test_facility_and_group_together_are_refused(api, houses):
    response = api.get(f"/forecast?facility_id={houses.busy}&kind=clearing", role="admin")
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == "kind" and body["code"] == "forecast_one_subject"
    assert "bitte nur eines angeben" in body["error"]


def test_unknown_facility_is_404_naming_the_field(api, houses):
    response = api.get("/forecast?facility_id=99999", role="department_head")
    assert response.status_code == 404
    body = response.get_json()
    assert (body["field"], body["code"]) == ("facility_id", "unknown_facility")
    assert body["error"] == "Diese Einrichtung ist nicht bekannt."


def test_kind_profile_and_office(api, houses):
    office = api.get("/forecast", role="department_head")
    assert office.status_code == 200
    body = office.get_json()
    assert body["subject"] == "office" and body["facility_id"] is None
    # The office counts every open house: busy and quiet (the closed one is empty).
    assert body["occupied_now"] == 12 * 7 * 2 + 3
    # "Over by a day" belongs to one house (a group's days are not one house's path).
    assert all(d["p_over_by"] is None for d in body["days"])
    kind = api.get("/forecast?kind=inobhutnahme&days=3", role="department_head").get_json()
    assert kind["subject"] == "kind" and kind["key"] == "inobhutnahme"
    assert len(kind["days"]) == 3
    for key in forecast.PROFILES:
        profile = api.get(f"/forecast?profile={key}", role="department_head")
        assert profile.status_code == 200, key
        assert profile.get_json()["subject"] == "profile"


def test_the_api_and_the_facility_page_agree(app, api, houses):
    from placement.services.accounts.audit import SYSTEM
    from placement.services.reporting.facility_page import facility_page

    body = api.get(f"/forecast?facility_id={houses.busy}", role="department_head").get_json()
    with app.app_context():
        page = facility_page(SYSTEM, houses.busy, utc_now())
    assert [d["date"] for d in body["days"]] == [d.date.isoformat() for d in page.forecast.days]
    assert body["occupied_now"] == page.forecast.occupied_now == page.state.occupied


@pytest.mark.parametrize("role", ROLES)
def test_every_role_that_sees_counts_may_ask(api, houses, role):
    # Counts, not persons: a facility manager sees every facility's counts on the board
    # today, so also its forecast (as with GET /occupancy).
    response = api.get(f"/forecast?facility_id={houses.busy}&days=2", role=role)
    assert response.status_code == 200


def test_without_a_token_401_before_any_parameter_is_read(api, houses):
    response = api.client.get("/api/v1/forecast?days=abc")
    assert response.status_code == 401
    api.checker.check(response)


def test_documented_in_openapi(client, houses):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/forecast"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert names >= {"facility_id", "kind", "profile", "days"}
    assert {"200", "400", "401", "403", "404", "422"} <= set(operation["responses"])
    day = spec["components"]["schemas"]["ForecastDay"]["properties"]
    assert set(day) == {"date", "expected", "low", "high", "limit", "p_over", "p_over_by"}


def test_a_role_without_counts_is_refused_before_the_query_is_read(api, houses, monkeypatch):
    from placement.models.enums import Role
    from placement.services.accounts import permissions
    from placement.services.accounts.permissions import Permission

    reduced = permissions.ROLE_PERMISSIONS[Role.DEPARTMENT_HEAD] - {Permission.VIEW_COUNTS}
    monkeypatch.setitem(permissions.ROLE_PERMISSIONS, Role.DEPARTMENT_HEAD, reduced)
    for query in (f"facility_id={houses.busy}", "days=abc", "facility_id=99999", ""):
        response = api.get(f"/forecast?{query}", role="department_head")
        assert response.status_code == 403, query
        assert response.get_json()["code"] == "forbidden"


def test_the_service_checks_the_permission_too(app, houses, monkeypatch):
    from placement.models.enums import Role
    from placement.services.accounts import permissions
    from placement.services.accounts.audit import Actor
    from placement.services.accounts.permissions import Permission
    from placement.services.errors import Forbidden
    from placement.services.reporting import forecasts

    reduced = permissions.ROLE_PERMISSIONS[Role.ON_CALL] - {Permission.VIEW_COUNTS}
    monkeypatch.setitem(permissions.ROLE_PERMISSIONS, Role.ON_CALL, reduced)
    actor = Actor("x@example.org", user_id=None, role=Role.ON_CALL)
    with app.app_context():
        with pytest.raises(Forbidden):
            forecasts.facility_forecast(actor, houses.busy)
        with pytest.raises(Forbidden):
            forecasts.group_forecast(actor)
