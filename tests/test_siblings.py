"""Siblings: found a place and admitted together (one group, one transaction, one warning),
and reservations that hold one place per child. Service, pages and API, on both databases."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, OverOccupancyEvent, Reservation, Stay, Youth
from placement.models.enums import Role
from placement.services.accounts import audit
from placement.services.errors import BadInput, Code, Conflict, RuleViolation
from placement.services.intake import admissions, places, reservations
from placement.services.intake.admissions import AdmissionRequest
from placement.services.intake.places import ChildQuery, PlaceQuery
from placement.services.intake.rules import berlin_day, years_before
from placement.services.intake.youths import NewYouth
from placement.services.occupancy.queries import place_state, reservations_at
from placement.timeutil import now as utc_now
from tests.conftest import create_facility

ON_CALL = audit.Actor("bereitschaft@example.org", user_id=None, role=Role.ON_CALL)


def born(years: int) -> date:
    return years_before(berlin_day(utc_now()), years) - timedelta(days=30)


def child(years: int, gender: str = "f", **overrides) -> NewYouth:
    values = {"birth_date": born(years), "gender": gender, "uma": False, **overrides}
    return NewYouth(**values)


def group(facility, *youths, **overrides) -> AdmissionRequest:
    return AdmissionRequest(facility_id=facility.id, youths=tuple(youths), **overrides)


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- the admission service ---------------------------------------------------------------


def test_siblings_are_admitted_together_with_one_generated_group(make_facility):
    house = make_facility(licensed=4, age_min=0, age_max=17)
    db.session.commit()
    result = admissions.admit(ON_CALL, group(house, child(5), child(8, "m"), child(12)))
    db.session.commit()
    assert len(result.stays) == 3 and result.stay is result.stays[0]
    youths = [stay.youth for stay in result.stays]
    groups = {y.sibling_group for y in youths}
    assert len(groups) == 1 and re.fullmatch(r"G-\d{4}-[2-9A-HJ-NP-Z]{4}", groups.pop())
    assert len({y.reference for y in youths}) == 3
    assert {s.facility_id for s in result.stays} == {house.id}
    assert len({s.start_at for s in result.stays}) == 1
    assert result.warnings == []
    admits = db.session.scalars(sa.select(AuditEvent).filter_by(action="stay.admit")).all()
    assert len(admits) == 3 and admits[0].after["group_size"] == 3


def test_a_typed_sibling_group_is_kept_for_everyone(make_facility):
    house = make_facility(licensed=4)
    result = admissions.admit(
        ON_CALL, group(house, child(5, sibling_group="G-17"), child(7, sibling_group="G-17"))
    )
    assert [s.youth.sibling_group for s in result.stays] == ["G-17", "G-17"]


def test_a_group_over_capacity_gives_one_warning_and_one_event(make_facility):
    house = make_facility(licensed=2, name="Haus A")
    db.session.commit()
    result = admissions.admit(ON_CALL, group(house, child(5), child(7), child(9)))
    assert [(w.code.value, w.occupied, w.limit) for w in result.warnings] == [
        ("over_capacity", 3, 2)
    ]
    events = db.session.scalars(sa.select(OverOccupancyEvent)).all()
    assert [(e.stay_id, e.occupied) for e in events] == [(result.stay.id, 3)]


def test_preview_of_a_group_names_each_child_and_asks_once(make_facility):
    house = make_facility(licensed=5, age_min=6, age_max=21, genders="fm")
    request = group(house, child(8), child(4), child(19, "d"))
    shown = admissions.preview(ON_CALL, request)
    assert [m.age for m in shown.members] == [8, 4, 19]
    assert [[x.code.value for x in m.mismatches] for m in shown.members] == [
        [],
        ["age"],
        ["gender"],
    ]
    assert [(n.code.value, n.field) for n in shown.notices] == [("adult", "youths[2].birth_date")]
    assert shown.override_missing and shown.needs_confirmation
    confirmed = replace(request, override_reason="Geschwister bleiben zusammen")
    token = admissions.preview(ON_CALL, confirmed).confirmation
    result = admissions.admit(ON_CALL, replace(confirmed, confirmation=token))
    assert len(result.stays) == 3


@pytest.mark.parametrize(
    ("second", "kind", "code", "field"),
    [
        (child(6, birth_date=None), BadInput, Code.BIRTH_DATE_REQUIRED, "youths[1].birth_date"),
        (
            NewYouth(birth_date=date(2999, 1, 1), gender="f"),
            RuleViolation,
            Code.BIRTH_DATE_IN_FUTURE,
            "youths[1].birth_date",
        ),
        (child(6, gender=""), BadInput, Code.GENDER_REQUIRED, "youths[1].gender"),
        (child(6, reference="k7"), Conflict, Code.DUPLICATE_REFERENCE, "youths[1].reference"),
        (
            child(6, reference="Max Mustermann"),
            RuleViolation,
            Code.REFERENCE_LOOKS_LIKE_NAME,
            "youths[1].reference",
        ),
    ],
    ids=["no-birth-date", "future-birth-date", "no-gender", "same-reference", "name"],
)
def test_a_bad_child_is_named_by_its_index_and_nothing_is_written(
    make_facility, second, kind, code, field
):
    house = make_facility(licensed=4)
    db.session.commit()
    with pytest.raises(kind) as error:
        admissions.admit(ON_CALL, group(house, child(5, reference="K7"), second))
    assert (error.value.code, error.value.field) == (code, field)
    assert (count(Youth), count(Stay)) == (0, 0)


def test_group_and_single_youth_are_not_mixed_and_size_is_bounded(make_facility):
    house = make_facility(licensed=4)
    with pytest.raises(BadInput) as error:
        admissions.admit(ON_CALL, group(house, child(5), youth=child(6)))
    assert (error.value.code, error.value.field) == (Code.YOUTH_CHOICE, "youths")
    with pytest.raises(RuleViolation) as error:
        admissions.admit(ON_CALL, group(house, *[child(5)] * 13))
    assert (error.value.code, error.value.field) == (Code.SIBLINGS_OUT_OF_RANGE, "youths")


# --- reservations for siblings -------------------------------------------------------------


def test_a_reservation_holds_one_place_per_child(make_facility):
    house = make_facility(licensed=3)
    db.session.commit()
    reservation = reservations.reserve(ON_CALL, facility_id=house.id, places=2)
    db.session.commit()
    assert reservation.places == 2
    state = place_state(house.id, utc_now())
    assert (state.reserved, state.free) == (2, 1)
    assert reservations_at(utc_now(), [house.id]) == {house.id: 2}
    with pytest.raises(Conflict) as error:
        reservations.reserve(ON_CALL, facility_id=house.id, places=2)
    assert error.value.code == Code.NO_FREE_PLACE
    # The siblings take over both held places: 2 of 3 occupied, nothing reserved, no warning.
    result = admissions.admit(
        ON_CALL, group(house, child(5), child(7), reservation_id=reservation.id)
    )
    assert result.warnings == []
    state = place_state(house.id, utc_now())
    assert (state.occupied, state.reserved, state.free) == (2, 0, 1)
    assert db.session.get(Reservation, reservation.id).stay_id == result.stay.id


@pytest.mark.parametrize("places", [0, 13])
def test_reservation_places_out_of_range(make_facility, places):
    house = make_facility(licensed=20)
    with pytest.raises(RuleViolation) as error:
        reservations.reserve(ON_CALL, facility_id=house.id, places=places)
    assert (error.value.code, error.value.field) == (Code.SIBLINGS_OUT_OF_RANGE, "places")


# --- the place finder service --------------------------------------------------------------


def test_place_finder_checks_every_child_and_the_group_size(make_facility):
    small = make_facility(licensed=1, name="Klein", age_min=0, age_max=17)
    youths_only = make_facility(licensed=5, name="Jugend", age_min=12, age_max=17)
    fits = make_facility(licensed=3, name="Passt", age_min=0, age_max=17, genders="fm")
    db.session.commit()
    query = PlaceQuery(
        gender=None,
        uma=False,
        children=(ChildQuery("f", age=14), ChildQuery("m", birth_date=born(6))),
    )
    result = places.find_places(ON_CALL, query, utc_now())
    names = [o.facility.name for o in result.options]
    assert names == ["Passt", "Klein", "Jugend"]
    by_name = {o.facility.name: o for o in result.options}
    assert by_name["Passt"].suitable and by_name["Passt"].has_room
    assert by_name["Klein"].suitable and not by_name["Klein"].has_room
    jugend = by_name["Jugend"]
    assert [[m.code.value for m in c] for c in jugend.child_mismatches] == [[], ["age"]]
    assert result.search.siblings == 2 and [c.age for c in result.search.children] == [14, 6]
    assert fits.id and small.id and youths_only.id


@pytest.mark.parametrize(
    ("second", "code", "field"),
    [
        (ChildQuery("m"), Code.AGE_OR_BIRTH_DATE_REQUIRED, "children[1].age"),
        (ChildQuery(None, age=5), Code.GENDER_REQUIRED, "children[1].gender"),
        (ChildQuery("m", age=40), Code.AGE_OUT_OF_RANGE, "children[1].age"),
        (ChildQuery("m", birth_date=date(2999, 1, 1)), Code.BIRTH_DATE_IN_FUTURE, None),
    ],
)
def test_place_finder_names_the_child_of_a_bad_input(ctx, second, code, field):
    query = PlaceQuery(gender=None, uma=False, children=(ChildQuery("f", age=5), second))
    with pytest.raises((BadInput, RuleViolation)) as error:
        places.find_places(ON_CALL, query, utc_now())
    assert error.value.code == code
    assert error.value.field == (field or "children[1].birth_date")


# --- pages ---------------------------------------------------------------------------------


@pytest.fixture
def houses(app, login):
    with app.app_context():
        a = create_facility(licensed=3, name="Haus A", age_min=0, age_max=17)
        b = create_facility(licensed=5, name="Haus B", age_min=12, age_max=17)
        db.session.commit()
        ids = (a.id, b.id)
    login(role="on_call", email="dienst@example.org")
    return ids


def test_add_child_works_without_javascript_and_focuses_the_new_row(client, houses):
    page = client.get("/intake/places?age=14&gender=f&uma=0&add_child=1")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="place-results"' not in html
    assert 'name="children-0-age"' in html and "Kind 2" in html
    assert re.search(
        r'<input[^>]*autofocus[^>]*id="children-0-age"|id="children-0-age"[^>]*autofocus', html
    )
    more = client.get(
        "/intake/places?age=14&gender=f&uma=0&children-0-age=6&children-0-gender=m&add_child=1"
    ).get_data(as_text=True)
    assert 'value="6"' in more and 'name="children-1-age"' in more
    removed = client.get(
        "/intake/places?age=14&gender=f&uma=0&children-0-age=6&children-0-gender=m"
        "&children-1-age=3&remove_child=0"
    ).get_data(as_text=True)
    assert 'value="3"' in removed and 'value="6"' not in removed


def test_place_finder_page_names_mismatches_per_child(client, houses):
    a, b = houses
    html = client.get(
        "/intake/places?age=14&gender=f&uma=0&children-0-age=6&children-0-gender=m"
    ).get_data(as_text=True)
    order = re.findall(r'data-facility="(\d+)"', html)
    assert order == [str(a), str(b)]
    assert "Kind 2 passt nicht:" in html and "Alter 6" in html
    assert "passt für alle, 3 Plätze frei" in html
    assert 'name="places" value="2"' in html  # the reservation holds both places
    link = re.search(r'href="(/intake/admit\?[^"]+)"', html).group(1).replace("&amp;", "&")
    assert "gender=f" in link and "gender=m" in link and link.count("age=") >= 2


def test_place_finder_page_shows_a_bad_child_at_its_row(client, houses):
    page = client.get("/intake/places?age=14&gender=f&uma=0&children-0-age=40&children-0-gender=m")
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    row = html[html.index('id="children-0"') :]
    assert "Alter zwischen 0 und 27 angeben." in row[: row.index("</fieldset>")]
    assert 'value="40"' in html


def test_admission_form_admits_siblings_from_the_place_finder(app, client, houses):
    a, _ = houses
    form = client.get(f"/intake/admit?facility_id={a}&age=14&age=6&gender=f&gender=m&uma=0")
    html = form.get_data(as_text=True)
    assert "Kind 2" in html and 'name="siblings-0-birth_date"' in html
    token = re.search(r'name="form_token"[^>]*value="([^"]+)"', html).group(1)
    data = {
        "facility_id": a,
        "legal_basis": "42-1-2",
        "birth_date": str(born(14)),
        "gender": "f",
        "uma": "0",
        "siblings-0-birth_date": str(born(6)),
        "siblings-0-gender": "m",
        "form_token": token,
    }
    response = client.post("/intake/admit", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        stays = db.session.scalars(sa.select(Stay)).all()
        assert len(stays) == 2
        assert len({s.youth.sibling_group for s in stays}) == 1
        assert stays[0].youth.sibling_group


def test_admission_form_adds_a_sibling_row_with_a_suggested_reference(client, houses):
    a, _ = houses
    response = client.post(
        "/intake/admit",
        data={"facility_id": a, "legal_basis": "42-1-2", "gender": "f", "add_sibling": "1"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Kind 2" in html
    assert re.search(r'name="siblings-0-reference"[^>]*value="IO-\d{4}-\w{6}"', html) or re.search(
        r'value="IO-\d{4}-\w{6}"[^>]*name="siblings-0-reference"', html
    )


def test_admission_form_names_the_bad_child(app, client, houses):
    a, _ = houses
    data = {
        "facility_id": a,
        "legal_basis": "42-1-2",
        "birth_date": str(born(14)),
        "gender": "f",
        "uma": "0",
        "siblings-0-birth_date": "2999-01-01",
        "siblings-0-gender": "m",
    }
    response = client.post("/intake/admit", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    row = html[html.index('id="siblings-0"') :]
    assert "Das Geburtsdatum liegt in der Zukunft." in row[: row.index("</fieldset>")]
    assert 'value="2999-01-01"' in html
    with app.app_context():
        assert count(Stay) == 0


def test_reserving_places_for_siblings_on_the_page(app, client, houses):
    a, _ = houses
    response = client.post("/intake/reserve", data={"facility_id": a, "hours": 2, "places": 2})
    assert response.status_code == 302
    with app.app_context():
        reservation_id, places_held = db.session.execute(
            sa.select(Reservation.id, Reservation.places)
        ).one()
    assert places_held == 2
    listed = client.get("/intake/reservations").get_data(as_text=True)
    assert "2 aufnehmen" in listed
    form = client.get(f"/intake/admit?facility_id={a}&reservation_id={reservation_id}")
    html = form.get_data(as_text=True)
    assert "2 Platz/Plätze" in html and 'name="siblings-0-birth_date"' in html


# --- API -----------------------------------------------------------------------------------


def test_api_admits_siblings_and_lists_their_stays(api, app):
    with app.app_context():
        house = create_facility(licensed=2, name="Haus A")
        db.session.commit()
        house_id = house.id
    youths = [
        {"birth_date": str(born(9)), "gender": "f", "uma": False},
        {"birth_date": str(born(7)), "gender": "m", "uma": False},
        {"age": 4, "gender": "m", "uma": False},
    ]
    body = {"facility_id": house_id, "legal_basis": "42-1-2", "youths": youths}
    preview = api.post("/admissions/preview", json=body, role="on_call").get_json()
    assert [y["age"] for y in preview["youths"]] == [9, 7, 4]
    response = api.post("/admissions", json=body, role="on_call")
    assert response.status_code == 201
    data = response.get_json()
    assert len(data["stays"]) == 3 and data["stay"] == data["stays"][0]
    assert len({s["youth"]["sibling_group"] for s in data["stays"]}) == 1
    assert [w["code"] for w in data["warnings"]] == ["over_capacity"]


@pytest.mark.parametrize(
    ("second", "status", "code"),
    [
        ({"birth_date": "01.04.2010", "gender": "m", "uma": False}, 400, "not_date"),
        ({"birth_date": "2999-01-01", "gender": "m", "uma": False}, 422, "birth_date_in_future"),
    ],
)
def test_api_names_the_child_by_index(api, app, second, status, code):
    with app.app_context():
        house = create_facility(licensed=2)
        db.session.commit()
        house_id = house.id
    youths = [{"birth_date": str(born(9)), "gender": "f", "uma": False}, second]
    body = {"facility_id": house_id, "legal_basis": "42-1-2", "youths": youths}
    response = api.post("/admissions", json=body, role="on_call")
    assert response.status_code == status
    assert (response.get_json()["field"], response.get_json()["code"]) == (
        "youths[1].birth_date",
        code,
    )
    with app.app_context():
        assert count(Stay) == 0


def test_api_reservation_for_siblings_counts_its_places(api, app):
    with app.app_context():
        house = create_facility(licensed=3)
        db.session.commit()
        house_id = house.id
    created = api.post("/reservations", json={"facility_id": house_id, "places": 2}, role="on_call")
    assert created.status_code == 201 and created.get_json()["places"] == 2
    rows = api.get("/places?age=10&gender=m&uma=false", role="on_call").get_json()
    row = next(r for r in rows if r["facility"]["id"] == house_id)
    assert (row["reserved"], row["free"]) == (2, 1)
    refused = api.post("/reservations", json={"facility_id": house_id, "places": 2}, role="on_call")
    assert refused.status_code == 409
