"""Bad input never answers 500: numbers out of range, non-numeric ids, instants that
underflow, deeply nested JSON, NUL bytes and lone surrogates, over-long strings. In the
API (400/422 with the field named), in HTML forms and query strings, on both databases."""

from __future__ import annotations

import pytest

from placement.extensions import db
from tests.conftest import create_facility, create_stay, create_youth

HUGE = [2**31, 2**63, 2**64, 10**30]
UNDERFLOW = "0001-01-01T00:30:00+01:00"  # in UTC before year 1
OVERFLOW = "9999-12-31T23:30:00-01:00"  # in UTC after year 9999


@pytest.fixture
def house(app):
    with app.app_context():
        facility = create_facility(licensed=2, name="Haus A", age_min=12, age_max=17)
        stay = create_stay(create_youth(), facility, "2026-01-05 10:00")
        db.session.commit()
        return facility.id, stay.id


def youth():
    return {"birth_date": "2010-01-01", "gender": "m", "uma": False}


def assert_field_error(response, field: str, *statuses: int) -> dict:
    assert response.status_code in (statuses or (400, 422)), response.get_data(as_text=True)
    body = response.get_json()
    assert body["field"] == field, body
    assert body["error"]  # the German message
    return body


# --- API: ids and numbers --------------------------------------------------------------------


@pytest.mark.parametrize("number", HUGE)
def test_api_huge_ids_in_paths_are_not_found(api, house, number):
    for method, path in (
        ("GET", f"/plans/{number}"),
        ("PATCH", f"/facilities/{number}"),
        ("POST", f"/stays/{number}/discharge"),
        ("DELETE", f"/reservations/{number}"),
    ):
        response = api.call(method, path, role="admin", json={})
        assert response.status_code == 404, (method, path)
        assert response.get_json()["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/stays/-1/discharge",
        "/stays/0/discharge",
        "/stays/abc/discharge",
        "/stays/1.5/discharge",
        "/stays/%C2%B2/discharge",
    ],
)
def test_api_ids_that_are_no_ids_are_not_found(api, house, path):
    response = api.post(path, json={"reason": "return_home"}, role="admin")
    assert response.status_code == 404


@pytest.mark.parametrize("number", HUGE)
def test_api_huge_numbers_in_bodies_are_out_of_range(api, house, number):
    facility_id, _stay_id = house
    cases = [
        ("/reservations", {"facility_id": number}, "facility_id"),
        ("/reservations", {"facility_id": str(number)}, "facility_id"),
        ("/reservations", {"facility_id": facility_id, "places": number}, "places"),
        (
            "/admissions",
            {"facility_id": number, "legal_basis": "42-1-2", "youth": youth()},
            "facility_id",
        ),
        (
            "/admissions",
            {"facility_id": facility_id, "legal_basis": "42-1-2", "youth_id": number},
            "youth_id",
        ),
        (
            "/admissions",
            {
                "facility_id": facility_id,
                "legal_basis": "42-1-2",
                "youth": {"gender": "m", "uma": False, "age": number},
            },
            "youth.age",
        ),
    ]
    for path, body, field in cases:
        found = assert_field_error(api.post(path, json=body, role="on_call"), field, 400)
        assert found["code"] == "out_of_range"


@pytest.mark.parametrize("number", HUGE)
def test_api_huge_numbers_in_query_strings_are_out_of_range(api, house, number):
    for path, field in (
        (f"/stays?facility_id={number}", "facility_id"),
        (f"/stays?page={number}", "page"),
        (f"/youths?q=a&page_size={number}", "page_size"),
        (f"/places?uma=false&age={number}", "age"),
        (f"/places?uma=false&age=15&near={number}", "near"),
    ):
        body = assert_field_error(api.get(path, role="admin"), field, 400)
        assert body["code"] == "out_of_range"


@pytest.mark.parametrize("value", ["abc", "1e3", "1.5", "²", "٣x", ""])
def test_api_non_numeric_ids_name_the_field(api, house, value):
    response = api.post("/reservations", json={"facility_id": value}, role="on_call")
    assert_field_error(response, "facility_id", 400)
    response = api.get(
        f"/stays?facility_id={value}" if value else "/stays?facility_id=x", role="admin"
    )
    assert_field_error(response, "facility_id", 400)


def test_api_negative_ids_are_unknown_not_errors(api, house):
    response = api.post("/reservations", json={"facility_id": -1}, role="on_call")
    assert_field_error(response, "facility_id", 404)


# --- API: instants ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "instant", [UNDERFLOW, OVERFLOW, "0000-01-01T00:00:00", "2026-02-30T10:00"]
)
def test_api_instants_out_of_range_name_the_field(api, house, instant):
    facility_id, stay_id = house
    cases = [
        (api.get(f"/occupancy?at={instant.replace('+', '%2B')}", role="admin"), "at"),
        (
            api.post(
                "/reservations",
                json={"facility_id": facility_id, "expires_at": instant},
                role="on_call",
            ),
            "expires_at",
        ),
        (
            api.post(
                "/admissions",
                json={
                    "facility_id": facility_id,
                    "legal_basis": "42-1-2",
                    "start": instant,
                    "youth": youth(),
                },
                role="on_call",
            ),
            "start",
        ),
    ]
    for response, field in cases:
        body = assert_field_error(response, field, 400)
        assert body["code"] == "not_instant"


# --- API: JSON structure, characters, lengths -------------------------------------------------


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_api_deeply_nested_json_is_refused(api, house, depth):
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        response = api.post(
            "/admissions", data=text, content_type="application/json", role="on_call"
        )
        assert response.status_code == 400
        assert response.get_json()["field"] == "body"


def test_api_deep_nesting_inside_a_field_names_the_field(api, house):
    facility_id, _ = house
    nested = "[" * 500 + "]" * 500  # deeper than the parser's stack is the body's error
    text = f'{{"facility_id": {facility_id}, "legal_basis": "42-1-2", "youth": {nested}}}'
    response = api.post("/admissions", data=text, content_type="application/json", role="on_call")
    assert_field_error(response, "youth", 400)


@pytest.mark.parametrize("raw", ["\\ud800", "a\\udfffb", "\\u0000", "x\\u0000y"])
def test_api_nul_bytes_and_lone_surrogates_name_the_field(api, house, raw):
    facility_id, _ = house
    text = f'{{"facility_id": {facility_id}, "note": "{raw}"}}'
    response = api.post("/reservations", data=text, content_type="application/json", role="on_call")
    assert assert_field_error(response, "note", 400)["code"] == "invalid_characters"
    text = (
        f'{{"facility_id": {facility_id}, "legal_basis": "42-1-2", "youth": {{"birth_date": '
        f'"2010-01-01", "gender": "m", "uma": false, "reference": "{raw}"}}}}'
    )
    response = api.post("/admissions", data=text, content_type="application/json", role="on_call")
    assert assert_field_error(response, "youth.reference", 400)["code"] == "invalid_characters"
    response = api.get("/youths?q=a%00b", role="admin")
    assert assert_field_error(response, "q", 400)["code"] == "invalid_characters"


@pytest.mark.parametrize(
    ("path", "body", "field", "limit"),
    [
        ("/reservations", {"note": "x"}, "note", None),
        (
            "/admissions",
            {"legal_basis": "42-1-2", "youth": {"file_number": "x"}},
            "youth.file_number",
            None,
        ),
        (
            "/admissions",
            {"legal_basis": "42-1-2", "youth": {"reference": "x"}},
            "youth.reference",
            None,
        ),
        (
            "/admissions",
            {"legal_basis": "42-1-2", "youth": {}, "override_reason": "x"},
            "override_reason",
            None,
        ),
    ],
)
def test_api_over_long_strings_are_refused_by_the_schema(api, app, house, path, body, field, limit):
    """The schema's maxLength (the column's length) is enforced before any service."""
    from placement.api.schemas import NewAdmissionIn, ReservationIn

    facility_id, _ = house
    schema = ReservationIn() if path == "/reservations" else NewAdmissionIn()
    node = schema
    for part in field.split("."):
        found = node.fields[part]
        node = getattr(found, "schema", None)
    limit = found.metadata["maxLength"]

    def filled(value):
        payload = {"facility_id": facility_id, **body}
        if "youth" in payload:
            payload["youth"] = {**youth(), **payload["youth"]}
        target = payload
        parts = field.split(".")
        for part in parts[:-1]:
            target = target[part]
        target[parts[-1]] = value
        return payload

    too_long = api.post(path, json=filled("x" * (limit + 1)), role="on_call")
    assert assert_field_error(too_long, field, 400)["code"] == "too_long"
    assert str(limit) in too_long.get_json()["error"]
    fits = api.post(path, json=filled("x" * limit), role="on_call")
    assert fits.status_code < 500
    assert fits.get_json().get("code") != "too_long"


def test_api_facility_texts_are_bounded(api, house):
    response = api.post(
        "/facilities", json={"name": "x" * 201, "kind": "inobhutnahme"}, role="admin"
    )
    assert assert_field_error(response, "name", 400)["code"] == "too_long"
    response = api.post(
        "/facilities", json={"name": "Haus\u0000", "kind": "inobhutnahme"}, role="admin"
    )
    assert assert_field_error(response, "name", 400)["code"] == "invalid_characters"


def test_api_unknown_path_with_bad_characters_is_json(api):
    response = api.client.get("/api/v1/nope?x=%00")
    assert response.status_code in (400, 401, 404)
    assert response.is_json


# --- HTML pages and forms --------------------------------------------------------------------


@pytest.mark.parametrize("number", HUGE)
def test_html_huge_ids_in_paths_are_not_found(client, login, house, number):
    login("admin")
    for url in (
        f"/stays/{number}",
        f"/facilities/{number}",
        f"/plans/{number}",
        f"/facilities/{number}/edit",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        f"/stays/{number}/discharge",
        f"/facilities/{number}/close",
        f"/alerts/{number}/ack",
    ):
        assert client.post(url, data={}).status_code == 404, url


@pytest.mark.parametrize(
    "url", ["/stays/-1", "/stays/0", "/stays/abc", "/stays/%C2%B2", "/stays/1e3"]
)
def test_html_ids_that_are_no_ids_are_not_found(client, login, house, url):
    login("admin")
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("number", [*HUGE, "²", "-5", "abc"])
def test_html_numbers_in_query_strings_never_fail(client, login, house, number):
    login("admin")
    for url in (
        f"/intake/places?age=15&uma=0&near={number}",
        f"/intake/places?age={number}&uma=0",
        f"/people/placed?facility_id={number}",
        f"/people/placed?page={number}",
        f"/intake/admit?facility_id={number}",
        f"/intake/admit?reservation_id={number}",
        f"/alerts/silences?facility_id={number}",
        f"/?age={number}",
    ):
        response = client.get(url)
        assert response.status_code in (200, 400, 404, 422), (url, response.status_code)


@pytest.mark.parametrize("instant", [UNDERFLOW.replace("+", "%2B"), OVERFLOW, "01.01.0001 00:30"])
def test_html_instants_out_of_range_never_fail(client, login, house, instant):
    login("admin")
    for url in (
        f"/reports/stichtag?at={instant}",
        f"/?at={instant}",
        f"/facilities/1?at={instant}",
        f"/reports/land?at={instant}",
        "/facilities/1?from=0001-01-01&until=9999-12-31",
    ):
        response = client.get(url)
        assert response.status_code in (200, 400, 422), (url, response.status_code)
    response = client.get(f"/reports/stichtag?at={instant}")
    assert response.status_code == 422
    assert "ist kein gültiger Zeitpunkt" in response.get_data(as_text=True)


def test_html_nul_bytes_name_the_field(client, login, house):
    login("admin")
    response = client.get("/people/search?q=a%00b")
    assert response.status_code == 400
    assert "„q“" in response.get_data(as_text=True)
    response = client.post(
        "/intake/admit",
        data={
            "facility_id": "1",
            "legal_basis": "42-1-2",
            "birth_date": "2010-01-01",
            "gender": "m",
            "reference": "a\x00b",
        },
    )
    assert response.status_code == 400
    assert "„reference“" in response.get_data(as_text=True)


@pytest.mark.parametrize("number", HUGE)
def test_html_huge_numbers_in_forms_never_fail(client, login, house, number):
    login("admin")
    _facility_id, stay_id = house
    for url, data in (
        (
            "/intake/admit",
            {
                "facility_id": str(number),
                "legal_basis": "42-1-2",
                "birth_date": "2010-01-01",
                "gender": "m",
            },
        ),
        ("/intake/reserve", {"facility_id": str(number)}),
        ("/intake/reserve", {"facility_id": "1", "places": str(number)}),
        ("/alerts/silences", {"facility_id": str(number), "hours": "24"}),
        ("/alerts/silences", {"facility_id": "1", "hours": str(number)}),
        ("/facilities/1/capacity", {"licensed": str(number), "usable": "1"}),
        (f"/stays/{stay_id}/move", {"facility_id": str(number)}),
        (f"/stays/{stay_id}/correct", {"facility_id": str(number), "reason": "Tippfehler"}),
        (f"/stays/{stay_id}/discharge", {"reason": "return_home", "time": "01.01.0001 00:30"}),
    ):
        response = client.post(url, data=data)
        assert response.status_code in (302, 400, 404, 422), (url, data, response.status_code)


def test_html_over_long_text_is_a_field_error(client, login, house):
    login("admin")
    response = client.post(
        "/facilities/new", data={"name": "x" * 1000, "code": "abc", "kind": "inobhutnahme"}
    )
    assert response.status_code == 422
