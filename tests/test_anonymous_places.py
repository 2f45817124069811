"""Anonymous placements (a girls' shelter, an emergency foster family) cannot be located
by anyone not assigned to them: no distance, no coordinates, no district or street, and no
order by distance in the place finder, the API, the directory and the facility page."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import Facility, User
from placement.services.accounts import audit
from placement.services.intake import places
from placement.services.intake.places import PlaceQuery
from placement.services.reporting import directory
from placement.timeutil import now as utc_now
from tests.conftest import create_facility, sign_in

# The scope rules themselves: test accounts get only the facilities given to them.
pytestmark = pytest.mark.usefixtures("scoped_accounts")

SHELTER = (51.3127, 12.3900)  # Zuflucht, the protected girls' shelter

# Search points all over the city, and right at (and 50 m beside) the shelter.
POINTS = [
    SHELTER,
    (51.3131, 12.3900),
    (51.3127, 12.3907),
    (51.34, 12.37),
    (51.40, 12.45),
    (51.25, 12.30),
    (51.36, 12.42),
    (51.30, 12.50),
    (51.45, 12.28),
    (51.33, 12.39),
    (0.0, 0.0),
    (-45.0, 170.0),
]


@pytest.fixture
def city(app):
    """Three known houses around the city, one without coordinates, and the shelter."""
    with app.app_context():
        ids = {
            "Haus Nord": create_facility(
                name="Haus Nord", latitude=51.40, longitude=12.40, district="Gohlis"
            ).id,
            "Haus Mitte": create_facility(
                name="Haus Mitte", latitude=51.34, longitude=12.37, district="Zentrum"
            ).id,
            "Haus Süd": create_facility(
                name="Haus Süd", latitude=51.30, longitude=12.38, district="Lößnig"
            ).id,
            "Haus ohne Ort": create_facility(
                name="Haus ohne Ort", latitude=None, longitude=None, licensed=4
            ).id,
            "Zuflucht": create_facility(
                name="Zuflucht",
                anonymous_address=True,
                latitude=SHELTER[0],
                longitude=SHELTER[1],
                street="Geheimweg 1",
                postal_code="04277",
                city="Leipzig",
                district="Connewitz",
                genders="f",
            ).id,
        }
        db.session.commit()
    return ids


def assign(app, email: str, facility_id: int) -> None:
    """Assign the account ``email`` to a facility (User.facilities)."""
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(email=email))
        user.facilities.append(db.session.get(Facility, facility_id))
        db.session.commit()


def _search(api, point, role="on_call"):
    lat, lon = point
    url = f"/places?age=15&gender=f&uma=false&siblings=1&lat={lat}&lon={lon}"
    response = api.get(url, role=role)
    assert response.status_code == 200
    return response.get_json()


@pytest.mark.parametrize("role", ["on_call", "facility_manager", "admin", "department_head"])
def test_api_entry_and_position_of_the_shelter_are_independent_of_the_search_point(api, city, role):
    if role == "department_head":  # may not search at all
        assert api.get("/places?age=15&gender=f&uma=false", role=role).status_code == 403
        return
    seen_entries, seen_positions = [], set()
    for point in POINTS:
        options = _search(api, point, role)
        names = [o["facility"]["name"] for o in options]
        entry = options[names.index("Zuflucht")]
        seen_entries.append(entry)
        seen_positions.add(names.index("Zuflucht"))
        assert entry["distance_km"] is None and entry["distance_on_request"] is True
        facility = entry["facility"]
        assert facility["location"] is None and facility["address"] is None
        assert facility["district"] is None
        # The houses with a known distance come first, the shelter after them.
        known = [o for o in options if o["distance_km"] is not None]
        assert len(known) == 3
        assert names.index("Zuflucht") > max(names.index(o["facility"]["name"]) for o in known)
    assert len(seen_positions) == 1
    assert all(entry == seen_entries[0] for entry in seen_entries)


def test_assigned_staff_see_distance_and_address_and_ranking_by_distance(api, app, city):
    _search(api, SHELTER)  # creates the on-call account
    assign(app, "on_call@example.org", city["Zuflucht"])
    options = _search(api, SHELTER)
    first = options[0]
    assert first["facility"]["name"] == "Zuflucht"
    assert first["distance_km"] == 0.0 and first["distance_on_request"] is False
    assert first["facility"]["address"]["street"] == "Geheimweg 1"
    assert first["facility"]["district"] == "Connewitz"
    assert first["facility"]["location"] == [SHELTER[0], SHELTER[1]]
    far = _search(api, (51.40, 12.40))
    assert [o["facility"]["name"] for o in far][0] == "Haus Nord"


def test_an_admin_not_assigned_does_not_see_it_either(api, app, city):
    options = _search(api, SHELTER, role="admin")
    entry = next(o for o in options if o["facility"]["name"] == "Zuflucht")
    assert entry["distance_km"] is None and entry["facility"]["address"] is None
    listed = api.get("/facilities", role="admin").get_json()
    shelter = next(f for f in listed if f["name"] == "Zuflucht")
    assert shelter["location"] is None and shelter["district"] is None
    assert shelter["address"] is None and shelter["anonymous_address"] is True
    # Known houses keep their whereabouts for everyone.
    house = next(f for f in listed if f["name"] == "Haus Mitte")
    assert house["district"] == "Zentrum" and house["location"] == [51.34, 12.37]


def test_without_a_search_point_nobody_gets_a_distance(api, city):
    options = api.get("/places?age=15&gender=f&uma=false", role="on_call").get_json()
    assert all(o["distance_km"] is None for o in options)
    shelter = next(o for o in options if o["facility"]["name"] == "Zuflucht")
    assert shelter["distance_on_request"] is True
    house = next(o for o in options if o["facility"]["name"] == "Haus Mitte")
    assert house["distance_on_request"] is False


def test_the_shelter_is_no_search_point_either(api, city):
    near = city["Zuflucht"]
    options = api.get(f"/places?age=15&gender=f&uma=false&near={near}", role="on_call")
    assert all(o["distance_km"] is None for o in options.get_json())


def test_service_rank_and_info_rules(app, ctx, city):
    """System processes see everything; the rank puts unknown distances after known ones
    in each group, by free places then name."""
    system = places.find_places(
        audit.SYSTEM,
        PlaceQuery(gender="f", uma=False, age=15, latitude=51.3127, longitude=12.39),
        utc_now(),
    )
    by_name = {o.facility.name: o for o in system.options}
    assert by_name["Zuflucht"].distance_km == 0.0 and not by_name["Zuflucht"].distance_on_request
    assert system.options[0].facility.name == "Zuflucht"
    names = [o.facility.name for o in system.options]
    assert names[-1] == "Haus ohne Ort"  # no coordinates: after all with a distance
    shelter = db.session.get(Facility, city["Zuflucht"])
    staff = audit.Actor("x", user_id=None, role="on_call")
    assert places.facility_info(staff, shelter).address is None
    assert places.facility_info(audit.SYSTEM, shelter).district == "Connewitz"


def _rows(html: str) -> dict[str, str]:
    """The result rows by facility id; the (time-stamped) CSRF token left out."""
    html = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', html)
    rows = re.findall(r'<tr class="[^"]*" data-facility="(\d+)">(.*?)</tr>', html, re.S)
    return dict(rows)


def test_html_place_finder_says_distance_on_request(app, client, city):
    sign_in(app, client, role="on_call", email="nacht@example.org")
    shelter = str(city["Zuflucht"])
    seen_rows, seen_positions = set(), set()
    for lat, lon in POINTS[:6]:
        url = f"/intake/places?age=15&gender=f&uma=0&siblings=1&lat={lat}&lon={lon}"
        html = client.get(url).get_data(as_text=True)
        order = re.findall(r'data-facility="(\d+)"', html)
        rows = _rows(html)
        seen_positions.add(order.index(shelter))
        # The whole row of the shelter is the same wherever one searches from.
        seen_rows.add(rows[shelter])
        assert "Entfernung auf Anfrage" in rows[shelter]
        assert " km" not in rows[shelter]
        assert "Geheimweg" not in html and "Connewitz" not in html
        assert " km" in rows[str(city["Haus Mitte"])]
    assert len(seen_positions) == 1 and len(seen_rows) == 1


def test_directory_shows_the_district_only_to_those_assigned(app, client, city):
    sign_in(app, client, role="facility_manager", email="leitung@example.org")
    html = client.get("/einrichtungen").get_data(as_text=True)
    assert "Zentrum" in html and "Connewitz" not in html and "geschützt" in html
    assign(app, "leitung@example.org", city["Zuflucht"])
    html = client.get("/einrichtungen").get_data(as_text=True)
    assert "Connewitz" in html


def test_directory_service(app, ctx, city):
    head = audit.Actor("chef", user_id=None, role="department_head")
    entries = {e.name: e for e in directory.facility_directory(head, utc_now())}
    assert entries["Zuflucht"].district is None
    assert entries["Haus Süd"].district == "Lößnig"
    every = {e.name: e for e in directory.facility_directory(audit.SYSTEM, utc_now())}
    assert every["Zuflucht"].district == "Connewitz"


def test_facility_page_hides_street_and_district(app, client, city):
    sign_in(app, client, role="admin", email="admin@example.org")
    html = client.get(f"/facilities/{city['Zuflucht']}").get_data(as_text=True)
    assert "Geheimweg" not in html and "Connewitz" not in html
    assert 'id="address-hidden"' in html
    assign(app, "admin@example.org", city["Zuflucht"])
    html = client.get(f"/facilities/{city['Zuflucht']}").get_data(as_text=True)
    assert "Geheimweg 1" in html and "Connewitz" in html
