"""Finding people: search by reference or file number, the city-wide lists of youths
placed and absconded (filters, sorting, pages), audited with the query, never with the
results; as services and as pages."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent
from placement.models.enums import Role
from placement.services.accounts import audit
from placement.services.errors import BadInput, Code, Forbidden, RuleViolation
from placement.services.intake import stays
from placement.services.intake.deadlines import eighteenth_birthday
from placement.services.intake.rules import years_before
from placement.services.people import lists, scope, search
from placement.services.people.lists import StayFilters
from placement.timeutil import local
from placement.timeutil import now as utc_now
from tests.conftest import create_facility, create_youth, sign_in

ON_CALL = audit.Actor("on_call@example.org", user_id=None, role=Role.ON_CALL)
HEAD = audit.Actor("chef@example.org", user_id=None, role=Role.DEPARTMENT_HEAD)
# Sees every stay, also ended ones and youths without stays (a system process); on-call
# staff see open stays only (#13, tests/test_scope.py).
OFFICE = audit.Actor("amt@example.org", user_id=None, role=None)


def born(age: int, days_after_birthday: int = 30) -> date:
    """A birth date at which the youth is ``age`` today."""
    return years_before(local(utc_now()).date(), age) - timedelta(days=days_after_birthday)


def place(youth, facility, days_ago: float, legal_basis="42-1-2", **kwargs):
    return stays.record_stay(
        audit.SYSTEM,
        youth_id=youth.id,
        facility_id=facility.id,
        legal_basis=legal_basis,
        start_at=utc_now() - timedelta(days=days_ago),
        **kwargs,
    )


@pytest.fixture
def people(ctx):
    """Two houses of different kinds and youths placed, absconded and gone."""
    amsel = create_facility(licensed=10, name="Haus Amsel", kind="inobhutnahme")
    birke = create_facility(licensed=10, name="Haus Birke", kind="uma_group_home")
    y = {
        "ab": create_youth(reference="AB-1", file_number="51.2-100", birth_date=born(15)),
        "ab10": create_youth(reference="ab-10", file_number="51.2-101", birth_date=born(8)),
        "x": create_youth(reference="X-7", file_number="AB-1-7", birth_date=born(16), uma=True),
        "adult": create_youth(reference="Z-18", birth_date=born(18, days_after_birthday=-3)),
        "pct": create_youth(reference="P%_1", birth_date=born(13)),
        "gone": create_youth(reference="G-1", birth_date=born(14), uma=True),
        "old": create_youth(reference="G-2", birth_date=born(14)),
    }
    s = {
        "ab": place(y["ab"], amsel, 10),
        "ab10": place(y["ab10"], birke, 5, legal_basis="34"),
        "x": place(y["x"], birke, 20, legal_basis="42a"),
        "adult": place(y["adult"], amsel, 2),
        "pct": place(y["pct"], amsel, 1),
        "gone": place(y["gone"], birke, 6, legal_basis="42a"),
        "old": place(y["old"], amsel, 30),
    }
    stays.discharge(
        audit.SYSTEM, s["gone"].id, reason="absconded", end=utc_now() - timedelta(days=1)
    )
    stays.discharge(
        audit.SYSTEM, s["old"].id, reason="absconded", end=utc_now() - timedelta(days=5)
    )
    db.session.flush()
    return {"amsel": amsel, "birke": birke, "youths": y, "stays": s}


def refs(page) -> list[str]:
    return [row.youth.reference for row in page.items]


# --- scope ------------------------------------------------------------------------------------


def test_without_assigned_facilities_only_on_call_staff_see_anyone(ctx):
    for role in (Role.ON_CALL, Role.FACILITY_MANAGER, Role.ADMIN):
        assert scope.visible_facility_ids(audit.Actor("x", role=role)) == frozenset()
    assert scope.person_scope(audit.Actor("x", role=Role.ON_CALL)).open_anywhere
    assert not scope.person_scope(audit.Actor("x", role=Role.ADMIN)).open_anywhere
    assert scope.visible_facility_ids(OFFICE) is None
    with pytest.raises(Forbidden):
        scope.visible_facility_ids(HEAD)


# --- search -----------------------------------------------------------------------------------


def test_search_finds_exact_matches_first_then_prefixes_ignoring_case(people):
    found = search.search_youths(ON_CALL, "ab-1", utc_now())
    assert [hit.youth.reference for hit in found.items] == ["AB-1", "X-7", "ab-10"]
    assert [hit.exact for hit in found.items] == [True, False, False]
    assert found.total == 3
    by_file = search.search_youths(ON_CALL, "51.2-10", utc_now())
    assert [hit.youth.reference for hit in by_file.items] == ["AB-1", "ab-10"]
    exact_file = search.search_youths(ON_CALL, "AB-1-7", utc_now()).items
    assert [(h.youth.reference, h.exact) for h in exact_file] == [("X-7", True)]
    assert search.search_youths(ON_CALL, "  x-7 ", utc_now()).items[0].youth.reference == "X-7"
    assert search.search_youths(ON_CALL, "B-1", utc_now()).items == []  # not a substring search


def test_search_treats_wildcards_literally(people):
    assert [h.youth.reference for h in search.search_youths(ON_CALL, "P%", utc_now()).items] == [
        "P%_1"
    ]
    assert search.search_youths(ON_CALL, "P%_", utc_now()).total == 1
    for query in ("%", "_", "P_", "%1"):
        assert search.search_youths(ON_CALL, query, utc_now()).total == 0, query


def test_search_hits_say_where_the_youth_is(people):
    hits = {h.youth.reference: h for h in search.search_youths(OFFICE, "G-", utc_now()).items}
    assert hits["G-1"].status == "absconded" and hits["G-1"].stay.id == people["stays"]["gone"].id
    assert hits["G-2"].status == "ended"
    placed = search.search_youths(OFFICE, "AB-1", utc_now()).items[0]
    assert placed.status == "placed" and placed.stay.facility.name == "Haus Amsel"
    assert placed.age == 15
    create_youth(reference="NEU-1")
    assert search.search_youths(OFFICE, "NEU-1", utc_now()).items[0].status == "none"


@pytest.mark.parametrize(
    ("query", "error", "code"),
    [
        ("", RuleViolation, Code.SEARCH_QUERY_REQUIRED),
        ("   ", RuleViolation, Code.SEARCH_QUERY_REQUIRED),
        (None, RuleViolation, Code.SEARCH_QUERY_REQUIRED),
        ("x" * 61, BadInput, Code.TOO_LONG),
    ],
)
def test_search_bad_query(people, query, error, code):
    with pytest.raises(error) as raised:
        search.search_youths(ON_CALL, query, utc_now())
    assert raised.value.code == code and raised.value.field == "q"


def test_search_needs_person_access_and_is_audited_with_ids_not_data(people):
    with pytest.raises(Forbidden):
        search.search_youths(HEAD, "AB", utc_now())
    assert not db.session.scalar(sa.select(AuditEvent).filter_by(action="youths.search"))
    search.search_youths(ON_CALL, "AB", utc_now())
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="youths.search"))
    assert event.actor == "on_call@example.org"
    y = people["youths"]
    assert event.after == {
        "query": "AB",
        "page": 1,
        "page_size": 50,
        "total": 3,
        "youth_ids": [y["ab"].id, y["x"].id, y["ab10"].id],  # the records shown, by id
    }
    assert "AB-1" not in str(event.before) and "ab-10" not in str(event.after)


def test_search_pages(people, app):
    for n in range(5):
        create_youth(reference=f"SEITE-{n}")
    first = search.search_youths(OFFICE, "seite", utc_now(), page_size=2)
    third = search.search_youths(OFFICE, "seite", utc_now(), page=3, page_size=2)
    assert [h.youth.reference for h in first.items] == ["SEITE-0", "SEITE-1"]
    assert [h.youth.reference for h in third.items] == ["SEITE-4"]
    assert (first.total, first.pages, first.has_next, third.has_next) == (5, 3, True, False)
    for page, size, field in ((0, 2, "page"), (1, 0, "page_size"), (1, 201, "page_size")):
        with pytest.raises(RuleViolation) as raised:
            search.search_youths(OFFICE, "seite", utc_now(), page=page, page_size=size)
        assert raised.value.field == field and raised.value.code == Code.OUT_OF_RANGE


# --- lists ------------------------------------------------------------------------------------


def test_placed_list_is_city_wide_and_sorted_by_facility(people):
    page = lists.list_stays(ON_CALL, utc_now())
    assert [(r.facility.name, r.youth.reference) for r in page.items] == [
        ("Haus Amsel", "AB-1"),
        ("Haus Amsel", "P%_1"),
        ("Haus Amsel", "Z-18"),
        ("Haus Birke", "X-7"),
        ("Haus Birke", "ab-10"),
    ]
    assert page.items[0].age == 15


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"facility_id": "birke"}, ["X-7", "ab-10"]),
        ({"kind": "inobhutnahme"}, ["AB-1", "P%_1", "Z-18"]),
        ({"uma": True}, ["X-7"]),
        ({"uma": False}, ["AB-1", "P%_1", "Z-18", "ab-10"]),
        ({"age_band": "6-11"}, ["ab-10"]),
        ({"age_band": "12-13"}, ["P%_1"]),
        ({"age_band": "14-15"}, ["AB-1"]),
        ({"age_band": "16-17"}, ["Z-18", "X-7"]),
        ({"age_band": "0-5"}, []),
        ({"legal_basis": "42a"}, ["X-7"]),
        ({"legal_basis": "34", "kind": "uma_group_home"}, ["ab-10"]),
        ({"deadline": "any"}, ["Z-18", "X-7"]),
        ({"deadline": "42a_report"}, ["X-7"]),
        ({"deadline": "adult"}, ["Z-18"]),
        ({"deadline": "emergency_3m"}, []),
    ],
)
def test_placed_list_filters(people, filters, expected):
    if filters.get("facility_id") == "birke":
        filters = {**filters, "facility_id": people["birke"].id}
    page = lists.list_stays(ON_CALL, utc_now(), filters=StayFilters(**filters))
    assert refs(page) == expected


def test_deadline_rows_carry_their_due_deadlines(people):
    rows = {
        r.youth.reference: r
        for r in lists.list_stays(ON_CALL, utc_now(), filters=StayFilters(deadline="any")).items
    }
    assert [d.code.value for d in rows["X-7"].due] == ["42a_report"]
    assert rows["X-7"].due[0].overdue
    assert rows["Z-18"].due[0].due == eighteenth_birthday(people["youths"]["adult"].birth_date)
    assert [d.code.value for d in rows["X-7"].deadlines] == ["42a_report", "42a_excluded"]


def test_a_reported_42a_stay_no_longer_has_the_report_deadline(people):
    people["stays"]["x"].distribution_reported_on = local(utc_now()).date()
    db.session.flush()
    page = lists.list_stays(ON_CALL, utc_now(), filters=StayFilters(deadline="42a_report"))
    assert refs(page) == []


def test_deadline_due_days_come_from_the_configuration(people, app):
    app.config["DEADLINE_DUE_DAYS"] = 0
    page = lists.list_stays(ON_CALL, utc_now(), filters=StayFilters(deadline="adult"))
    assert refs(page) == []


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("reference", ["AB-1", "P%_1", "X-7", "Z-18", "ab-10"]),
        ("start", ["X-7", "AB-1", "ab-10", "Z-18", "P%_1"]),
        ("deadline", ["X-7", "Z-18", "AB-1", "P%_1", "ab-10"]),
    ],
)
def test_placed_list_sorts(people, sort, expected):
    assert refs(lists.list_stays(ON_CALL, utc_now(), sort=sort)) == expected


def test_absconded_list_shows_held_places_only(people):
    page = lists.list_stays(ON_CALL, utc_now(), status="absconded")
    assert refs(page) == ["G-1"]
    row = page.items[0]
    assert row.facility.name == "Haus Birke"
    assert row.stay.place_held_until > utc_now()
    assert (
        refs(
            lists.list_stays(
                ON_CALL, utc_now(), status="absconded", filters=StayFilters(kind="inobhutnahme")
            )
        )
        == []
    )
    assert refs(
        lists.list_stays(ON_CALL, utc_now(), status="absconded", filters=StayFilters(uma=True))
    ) == ["G-1"]


def test_absconded_youth_admitted_again_is_no_longer_listed_as_absconded(people):
    youth = people["youths"]["gone"]
    place(youth, people["amsel"], 0.01)
    stays.release_absconding_hold(youth.id, utc_now() - timedelta(minutes=10))
    db.session.flush()
    assert refs(lists.list_stays(ON_CALL, utc_now(), status="absconded")) == []
    assert "G-1" in refs(lists.list_stays(ON_CALL, utc_now()))


def test_ended_and_all_lists(people):
    assert refs(lists.list_stays(OFFICE, utc_now(), status="ended")) == ["G-2", "G-1"]
    assert len(lists.list_stays(OFFICE, utc_now(), status="all").items) == 7
    # On-call staff: the open stays and the place held after an absconding, not the rest.
    assert refs(lists.list_stays(ON_CALL, utc_now(), status="ended")) == ["G-1"]


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"status": "weg"}, "status", Code.UNKNOWN_VALUE),
        ({"sort": "alter"}, "sort", Code.UNKNOWN_VALUE),
        ({"filters": StayFilters(kind="schloss")}, "kind", Code.UNKNOWN_VALUE),
        ({"filters": StayFilters(age_band="3-4")}, "age_band", Code.UNKNOWN_VALUE),
        ({"filters": StayFilters(legal_basis="§1")}, "legal_basis", Code.UNKNOWN_VALUE),
        ({"filters": StayFilters(deadline="bald")}, "deadline", Code.UNKNOWN_VALUE),
        (
            {"status": "absconded", "filters": StayFilters(deadline="any")},
            "deadline",
            Code.DEADLINE_FILTER_OPEN_ONLY,
        ),
        ({"page": 0}, "page", Code.OUT_OF_RANGE),
        ({"page_size": 0}, "page_size", Code.OUT_OF_RANGE),
    ],
)
def test_list_bad_input_names_the_field(people, kwargs, field, code):
    with pytest.raises(RuleViolation) as raised:
        lists.list_stays(ON_CALL, utc_now(), **kwargs)
    assert (raised.value.field, raised.value.code) == (field, code)


def test_lists_need_person_access_and_are_audited_with_filters_and_ids(people):
    with pytest.raises(Forbidden):
        lists.list_stays(HEAD, utc_now())
    lists.list_stays(
        ON_CALL,
        utc_now(),
        filters=StayFilters(facility_id=people["amsel"].id, uma=False, age_band="14-15"),
        page_size=2,
    )
    event = db.session.scalar(sa.select(AuditEvent).filter_by(action="stays.view"))
    assert event.object_id == people["amsel"].id
    assert event.after == {
        "status": "open",
        "filters": {"facility_id": people["amsel"].id, "uma": False, "age_band": "14-15"},
        "sort": "facility",
        "page": 1,
        "total": 1,
        "stay_ids": [people["stays"]["ab"].id],  # the records shown, by id
        "youth_ids": [people["youths"]["ab"].id],
    }


def test_list_pages(people):
    first = lists.list_stays(ON_CALL, utc_now(), page_size=2)
    last = lists.list_stays(ON_CALL, utc_now(), page=3, page_size=2)
    beyond = lists.list_stays(ON_CALL, utc_now(), page=9, page_size=2)
    assert refs(first) == ["AB-1", "P%_1"] and refs(last) == ["ab-10"]
    assert (first.total, first.pages, last.first_index, last.last_index) == (5, 3, 5, 5)
    assert beyond.items == [] and beyond.total == 5


# --- the pages ---------------------------------------------------------------------------------


def client_as(app, role):
    client = app.test_client()
    assert sign_in(app, client, role=role, email=f"{role}@example.org").status_code == 302
    return client


@pytest.fixture
def web(app):
    with app.app_context():
        amsel = create_facility(licensed=10, name="Haus Amsel", kind="inobhutnahme")
        birke = create_facility(licensed=10, name="Haus Birke", kind="uma_group_home")
        ab = create_youth(reference="AB-1", file_number="51.2-100", birth_date=born(15))
        x = create_youth(reference="X-7", birth_date=born(16), uma=True)
        gone = create_youth(reference="G-1", birth_date=born(14))
        s1 = place(ab, amsel, 3)
        s2 = place(x, birke, 20, legal_basis="42a")
        s3 = place(gone, birke, 5)
        stays.discharge(audit.SYSTEM, s3.id, reason="absconded", end=utc_now() - timedelta(hours=3))
        db.session.commit()
        return {"amsel": amsel.id, "birke": birke.id, "ab": s1.id, "x": s2.id, "gone": s3.id}


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_navigation_has_a_search_box_for_roles_that_see_persons(app, web):
    html = client_as(app, "on_call").get("/").get_data(as_text=True)
    assert 'role="search"' in html and 'id="nav-q"' in html and 'href="/people/placed"' in html
    head = client_as(app, "department_head").get("/").get_data(as_text=True)
    assert 'id="nav-q"' not in head and "/people/placed" not in head


def test_search_page_lists_hits_with_links(app, web):
    client = client_as(app, "on_call")
    response = client.get("/people/search?q=ab-1")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<a href="/stays/{web["ab"]}">AB-1</a>' in html and "genau" in html
    assert "Haus Amsel" in text_of(response) and "1 Treffer" in text_of(response)
    by_file = client.get("/people/search?q=51.2").get_data(as_text=True)
    assert "AB-1" in by_file
    gone = text_of(client.get("/people/search?q=G-1"))
    assert "abgängig (Platz gehalten)" in gone
    none = text_of(client.get("/people/search?q=QQQ"))
    assert "Keine Person mit diesem Kürzel oder Aktenzeichen gefunden." in none
    assert "Treffer" not in text_of(client.get("/people/search"))  # the empty form


@pytest.mark.parametrize(
    ("query", "message"),
    [("", "Bitte ein Kürzel oder Aktenzeichen eingeben."), ("x" * 61, "höchstens 60 Zeichen")],
)
def test_search_page_bad_input(app, web, query, message):
    response = client_as(app, "on_call").get(f"/people/search?q={query}")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    if query:
        assert f'value="{query}"' in response.get_data(as_text=True)


def test_people_pages_need_person_access(app, web):
    head = client_as(app, "department_head")
    for path in ("/people/search", "/people/search?q=AB", "/people/placed", "/people/absconded"):
        assert head.get(path).status_code == 403, path
    assert app.test_client().get("/people/placed").status_code == 302  # to the login


def test_placed_page_with_filters_and_deadlines(app, web):
    client = client_as(app, "facility_manager")
    page = client.get("/people/placed")
    assert page.status_code == 200
    text = text_of(page)
    assert "2 Personen" in text
    assert text.index("AB-1") < text.index("X-7")
    assert "Meldung zur Verteilung (§ 42a)" in text and "überschritten" in text
    only = text_of(client.get(f"/people/placed?facility_id={web['birke']}&deadline=any"))
    assert "X-7" in only and "AB-1" not in only and "1 Person" in only
    uma = text_of(client.get("/people/placed?uma=0&kind=inobhutnahme&age_band=14-15"))
    assert "AB-1" in uma and "X-7" not in uma
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).filter_by(action="stays.view").order_by(AuditEvent.id.desc())
        ).first()
        assert event.after["filters"] == {"kind": "inobhutnahme", "uma": False, "age_band": "14-15"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("kind=schloss", "Keine gültige Auswahl."),
        ("facility_id=abc", "Keine gültige Auswahl."),
        ("deadline=bald", "Keine gültige Auswahl."),
        ("sort=alter", "Keine gültige Auswahl."),
        ("page=0", "außerhalb des erlaubten Bereichs"),
        ("page=x", "Seite"),
    ],
)
def test_placed_page_bad_input(app, web, query, message):
    response = client_as(app, "on_call").get(f"/people/placed?{query}")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_absconded_page_lists_held_places(app, web):
    client = client_as(app, "on_call")
    response = client.get("/people/absconded")
    text = text_of(response)
    assert response.status_code == 200
    assert "G-1" in text and "Haus Birke" in text and "AB-1" not in text
    assert "Frist fällig" not in text  # deadlines are for youths placed
    assert f'href="/stays/{web["gone"]}"' in response.get_data(as_text=True)


def test_list_pages_link_to_the_next_page_keeping_filters(app, web):
    app.config["PEOPLE_PAGE_SIZE"] = 1
    client = client_as(app, "on_call")
    html = client.get("/people/placed?uma=0").get_data(as_text=True)
    assert "1 Person" in html and "Seite 1 von 1" not in html
    html = client.get("/people/placed").get_data(as_text=True)
    assert "Seite 1 von 2" in html
    link = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    second = client.get(link)
    assert "Seite 2 von 2" in second.get_data(as_text=True) and "X-7" in text_of(second)
