"""The admission defects of issue #12: a form sent twice, open stays under the same file
number or reference, backdated and future starts, clock changes, adults under §42, the
over-occupancy sentence, the "estimated" checkbox, names in the pseudonym field, focus."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.messages import notice_message, spelt_out
from placement.models import FormSubmission, Stay, Youth
from placement.models.enums import Role
from placement.services.accounts import audit
from placement.services.errors import Code, Conflict, RuleViolation
from placement.services.intake import admissions, stays
from placement.services.intake.admissions import AdmissionRequest
from placement.services.intake.rules import berlin_day, years_before
from placement.services.intake.youths import NewYouth, looks_like_name
from placement.timeutil import BERLIN, from_local
from placement.timeutil import now as utc_now
from tests.conftest import create_facility

ON_CALL = audit.Actor("bereitschaft@example.org", user_id=None, role=Role.ON_CALL)


def born(years: int) -> date:
    return years_before(berlin_day(utc_now()), years) - timedelta(days=30)


def single(facility, **youth) -> AdmissionRequest:
    values = {"birth_date": born(15), "gender": "m", "uma": False, **youth}
    return AdmissionRequest(facility_id=facility.id, youth=NewYouth(**values))


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def setup(app, client, login):
    with app.app_context():
        a = create_facility(licensed=1, name="Haus A", age_min=12, age_max=21)
        b = create_facility(licensed=3, name="Haus B", age_min=12, age_max=17, genders="f")
        db.session.commit()
        ids = (a.id, b.id)
    login(role="on_call", email="dienst@example.org")
    return ids


def form(facility_id, **overrides):
    data = {
        "facility_id": facility_id,
        "legal_basis": "42-1-2",
        "birth_date": str(born(15)),
        "gender": "m",
        "uma": "0",
    }
    data.update(overrides)
    return data


def token_of(html: str, name: str) -> str:
    return re.search(rf'name="{name}"[^>]*value="([^"]*)"', html).group(1)


# --- defect 2: a form is sent once; an open stay is not admitted again ----------------------


def test_the_same_form_sent_twice_is_refused_with_a_link_to_its_stay(app, client, setup):
    a, _ = setup
    page = client.get(f"/intake/admit?facility_id={a}").get_data(as_text=True)
    data = form(a, form_token=token_of(page, "form_token"), file_number="51.2-1")
    first = client.post("/intake/admit", data=data)
    assert first.status_code == 302
    stay_id = int(first.headers["Location"].rsplit("/", 1)[1])
    again = client.post("/intake/admit", data=data)  # back button, "Aufnehmen" again
    html = again.get_data(as_text=True)
    assert again.status_code == 422
    assert "bereits abgeschickt" in html and f'href="/stays/{stay_id}"' in html
    with app.app_context():
        assert (count(Youth), count(Stay)) == (1, 1)
        spent = db.session.get(FormSubmission, data["form_token"])
        assert spent.stay_id == stay_id and spent.user_id is not None


def test_each_rendered_form_has_its_own_token(client, setup):
    a, _ = setup
    pages = [client.get(f"/intake/admit?facility_id={a}").get_data(as_text=True) for _ in "ab"]
    tokens = {token_of(p, "form_token") for p in pages}
    assert len(tokens) == 2 and all(len(t) >= 30 for t in tokens)


def test_a_file_number_with_an_open_stay_is_refused_with_a_link(app, client, setup):
    a, b = setup
    first = client.post("/intake/admit", data=form(a, file_number="51.2-4711"))
    stay_id = int(first.headers["Location"].rsplit("/", 1)[1])
    again = client.post("/intake/admit", data=form(b, gender="f", file_number="51.2-4711"))
    html = again.get_data(as_text=True)
    assert again.status_code == 422
    assert "bereits aufgenommen (Haus A)" in html and f'href="/stays/{stay_id}"' in html
    assert 'value="51.2-4711"' in html  # what was typed is kept
    with app.app_context():
        assert count(Stay) == 1


def test_a_file_number_with_only_ended_stays_still_asks(ctx):
    house = create_facility(licensed=3, age_min=12, age_max=17)
    first = admissions.admit(ON_CALL, single(house, file_number="51.2-9"))
    stays.discharge(audit.SYSTEM, first.stay.id, reason="return_home")
    shown = admissions.preview(ON_CALL, single(house, file_number="51.2-9"))
    assert shown.duplicates == [first.stay.youth.reference] and shown.needs_confirmation


def test_service_refuses_file_number_and_reference_with_an_open_stay(ctx):
    house = create_facility(licensed=3, age_min=12, age_max=17)
    first = admissions.admit(ON_CALL, single(house, file_number="51.2-8", reference="K-8"))
    with pytest.raises(Conflict) as error:
        admissions.preview(ON_CALL, single(house, file_number=" 51.2-8 "))
    assert (error.value.code, error.value.field) == (
        Code.FILE_NUMBER_OPEN_STAY,
        "youth.file_number",
    )
    assert error.value.params["stay_id"] == first.stay.id
    with pytest.raises(Conflict) as error:
        admissions.admit(ON_CALL, single(house, reference="k-8"))
    assert (error.value.code, error.value.params["stay_id"]) == (
        Code.OPEN_STAY_EXISTS,
        first.stay.id,
    )


def test_api_answers_409_with_the_open_stay(api, app):
    with app.app_context():
        house = create_facility(licensed=3, age_min=12, age_max=17)
        db.session.commit()
        house_id = house.id
    youth = {"birth_date": str(born(15)), "gender": "m", "uma": False, "file_number": "AZ-1"}
    body = {"facility_id": house_id, "legal_basis": "42-1-2", "youth": youth}
    stay = api.post("/admissions", json=body, role="on_call").get_json()["stay"]
    again = api.post("/admissions", json=body, role="on_call")
    assert again.status_code == 409
    data = again.get_json()
    assert (data["code"], data["field"], data["stay_id"]) == (
        "file_number_open_stay",
        "youth.file_number",
        stay["id"],
    )
    by_reference = api.post(
        "/admissions",
        json={
            "facility_id": house_id,
            "legal_basis": "42-1-2",
            "youth_reference": stay["youth"]["reference"],
        },
        role="on_call",
    )
    assert by_reference.status_code == 409 and by_reference.get_json()["stay_id"] == stay["id"]


# --- defect 3: backdated and future starts, clock changes -----------------------------------


def test_spelt_out_dates_name_the_weekday_in_berlin_time(ctx):
    assert spelt_out(datetime(2026, 11, 27, 21, 15, tzinfo=UTC)) == "Freitag, 27.11.2026 22:15"


def test_a_start_three_days_back_asks_with_the_date_spelt_out(ctx):
    house = create_facility(licensed=3, age_min=12, age_max=17)
    start = utc_now() - timedelta(days=3, hours=2)
    request = replace(single(house), start=start)
    shown = admissions.preview(ON_CALL, request)
    assert [(n.code.value, n.field) for n in shown.notices] == [("start_backdated", "start")]
    expected = f"Beginn liegt 3 Tage zurück: {spelt_out(start)} – bitte bestätigen."
    assert notice_message(shown.notices[0]) == expected
    with pytest.raises(RuleViolation) as error:
        admissions.admit(ON_CALL, request)
    assert (error.value.code, error.value.field) == (Code.CONFIRMATION_REQUIRED, "start")
    assert count(Stay) == 0
    stay = admissions.admit(ON_CALL, replace(request, confirmation=shown.confirmation)).stay
    assert stay.start_at == start


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(hours=-23), None),
        (timedelta(hours=-30), "Beginn liegt 30 Stunden zurück"),
        (timedelta(minutes=5), None),  # within the clock tolerance
        (timedelta(hours=3), "Beginn liegt 3 Stunden in der Zukunft"),
    ],
)
def test_which_starts_ask(ctx, delta, expected):
    house = create_facility(licensed=3, age_min=12, age_max=17)
    shown = admissions.preview(ON_CALL, replace(single(house), start=utc_now() + delta))
    texts = [notice_message(n) for n in shown.notices]
    if expected is None:
        assert texts == [] and not shown.needs_confirmation
    else:
        assert len(texts) == 1 and texts[0].startswith(expected)


def test_a_start_more_than_a_day_ahead_is_refused(ctx):
    house = create_facility(licensed=3)
    with pytest.raises(RuleViolation) as error:
        admissions.preview(ON_CALL, replace(single(house), start=utc_now() + timedelta(days=2)))
    assert (error.value.code, error.value.field) == (Code.INSTANT_IN_FUTURE, "start")


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        (datetime(2026, 3, 29, 2, 30), Code.LOCAL_TIME_NONEXISTENT),
        (datetime(2026, 10, 25, 2, 30), Code.LOCAL_TIME_AMBIGUOUS),
    ],
)
def test_clock_change_times_are_refused_not_shifted(typed, code):
    with pytest.raises(RuleViolation) as error:
        from_local(typed, "start")
    assert (error.value.code, error.value.field) == (code, "start")


def test_times_next_to_the_clock_changes_are_read_as_typed():
    assert from_local(datetime(2026, 3, 29, 3, 0)) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert from_local(datetime(2026, 10, 25, 3, 0)) == datetime(2026, 10, 25, 2, 0, tzinfo=UTC)
    assert from_local(datetime(2026, 10, 25, 1, 59)).astimezone(BERLIN).hour == 1


@pytest.mark.parametrize(
    ("typed", "text"),
    [("2026-03-29T02:30", "gibt es nicht"), ("2026-10-25T02:30", "gibt es zweimal")],
)
def test_the_form_names_the_start_field_for_a_clock_change(app, client, setup, typed, text):
    a, _ = setup
    response = client.post("/intake/admit", data=form(a, start=typed))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and text in html
    start = html[html.index('name="start"') :]
    assert text in start[: start.index("</div>") + 200]
    with app.app_context():
        assert count(Stay) == 0


def test_the_form_asks_for_a_backdated_start_and_records_it_once_confirmed(app, client, setup):
    a, _ = setup
    start = (datetime.now(BERLIN) - timedelta(days=3)).replace(second=0, microsecond=0)
    data = form(a, start=start.strftime("%Y-%m-%dT%H:%M"))
    asked = client.post("/intake/admit", data=data)
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Beginn liegt 3 Tage zurück" in html
    assert spelt_out(start) in html
    done = client.post("/intake/admit", data={**data, "confirm": token_of(html, "confirm")})
    assert done.status_code == 302


def test_api_backdated_start_needs_the_confirmation(api, app):
    with app.app_context():
        house = create_facility(licensed=3, age_min=12, age_max=17)
        db.session.commit()
        house_id = house.id
    body = {
        "facility_id": house_id,
        "legal_basis": "42-1-2",
        "youth": {"birth_date": str(born(15)), "gender": "m", "uma": False},
        "start": (datetime.now(UTC) - timedelta(days=5)).isoformat(),
    }
    refused = api.post("/admissions", json=body, role="on_call")
    assert refused.status_code == 422
    assert (refused.get_json()["code"], refused.get_json()["field"]) == (
        "confirmation_required",
        "start",
    )
    assert "Beginn liegt 5 Tage zurück" in refused.get_json()["error"]
    shown = api.post("/admissions/preview", json=body, role="on_call").get_json()
    assert [n["code"] for n in shown["notices"]] == ["start_backdated"]
    body["confirmation"] = shown["confirmation"]
    assert api.post("/admissions", json=body, role="on_call").status_code == 201


# --- defect 4: adults under §42 -------------------------------------------------------------


def test_an_adult_asks_for_confirmation_in_the_service(ctx):
    house = create_facility(licensed=3, age_min=12, age_max=21)
    request = single(house, birth_date=born(19))
    shown = admissions.preview(ON_CALL, request)
    assert [(n.code.value, n.field) for n in shown.notices] == [("adult", "youth.birth_date")]
    assert "§ 41" in notice_message(shown.notices[0])
    with pytest.raises(RuleViolation) as error:
        admissions.admit(ON_CALL, request)
    assert (error.value.code, error.value.field) == (Code.CONFIRMATION_REQUIRED, "youth.birth_date")
    assert admissions.admit(ON_CALL, replace(request, confirmation=shown.confirmation)).stay.id
    seventeen = admissions.preview(ON_CALL, single(house, birth_date=born(17)))
    assert seventeen.notices == []


def test_an_adult_is_flagged_on_both_pages_and_the_api(app, client, api, setup):
    a, _ = setup
    finder = client.get("/intake/places?age=19&gender=m&uma=1").get_data(as_text=True)
    assert 'id="adult-flag"' in finder and "volljährig" in finder
    assert 'id="adult-flag"' not in client.get("/intake/places?age=17&gender=m&uma=1").get_data(
        as_text=True
    )
    asked = client.post("/intake/admit", data=form(a, birth_date=str(born(19))))
    assert asked.status_code == 200 and "Hilfe für junge Volljährige (§ 41)" in asked.get_data(
        as_text=True
    )
    body = {
        "facility_id": a,
        "legal_basis": "42-1-2",
        "youth": {"birth_date": str(born(19)), "gender": "m", "uma": False},
    }
    refused = api.post("/admissions", json=body, role="on_call")
    assert refused.status_code == 422
    assert refused.get_json()["field"] == "youth.birth_date"


# --- defect 5: the over-occupancy sentence only when over -----------------------------------


def test_a_profile_mismatch_does_not_say_over_occupancy_is_reported(client, setup):
    _, b = setup  # Haus B takes girls only and has room
    html = client.post("/intake/admit", data=form(b)).get_data(as_text=True)
    assert "Außerhalb des Profils" in html
    assert "Überbelegung wird gemeldet" not in html


def test_over_capacity_says_it_is_reported(client, setup):
    a, _ = setup
    client.post("/intake/admit", data=form(a))  # Haus A's only place
    html = client.post("/intake/admit", data=form(a)).get_data(as_text=True)
    assert "überbelegt" in html and "Überbelegung wird gemeldet" in html


# --- defect 6: "geschätzt" prechecked only for an umA youth's age --------------------------


@pytest.mark.parametrize(
    ("query", "checked"),
    [
        ("age=15&uma=1", True),
        ("age=15&uma=0", False),
        ("birth_date=2011-05-01&uma=1", False),
        ("birth_date=2011-05-01&uma=0", False),
    ],
)
def test_estimated_is_prechecked_only_for_an_uma_age(client, setup, query, checked):
    a, _ = setup
    html = client.get(f"/intake/admit?facility_id={a}&gender=m&{query}").get_data(as_text=True)
    tag = re.search(r'<input[^>]*id="birth_date_estimated"[^>]*>', html).group(0)
    assert ("checked" in tag) is checked
    assert 'name="birth_date"' in html and ("2011-05-01" in html) is ("birth_date=" in query)


# --- defect 7: no names in the pseudonym field ----------------------------------------------

NAMES = ["Mustermann, Max", "Max Mustermann", "max mustermann", "Müller-Lüdenscheidt, Anna-Lena"]
CODES = ["IO-2026-17", "UMA 2026 17", "K7", "LE-ABC123", "IO-2026-7F3KQ2"]


@pytest.mark.parametrize("text", NAMES)
def test_names_look_like_names(text):
    assert looks_like_name(text)


@pytest.mark.parametrize("text", CODES)
def test_codes_do_not(text):
    assert not looks_like_name(text)


def test_the_service_refuses_a_name_and_keeps_a_code(ctx):
    house = create_facility(licensed=3, age_min=12, age_max=17)
    with pytest.raises(RuleViolation) as error:
        admissions.admit(ON_CALL, single(house, reference="Mustermann, Max"))
    assert (error.value.code, error.value.field) == (
        Code.REFERENCE_LOOKS_LIKE_NAME,
        "youth.reference",
    )
    assert count(Youth) == 0
    stay = admissions.admit(ON_CALL, single(house, reference="UMA 2026 17")).stay
    assert stay.youth.reference == "UMA 2026 17"


def test_the_form_refuses_a_name_with_a_hint_and_prefills_a_generated_reference(client, setup):
    a, _ = setup
    page = client.get(f"/intake/admit?facility_id={a}").get_data(as_text=True)
    assert re.search(r'name="reference"[^>]*value="IO-\d{4}-\w{6}"', page) or re.search(
        r'value="IO-\d{4}-\w{6}"[^>]*name="reference"', page
    )
    response = client.post("/intake/admit", data=form(a, reference="Max Mustermann"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "sieht wie ein Name aus" in html


def test_the_api_refuses_a_name(api, app):
    with app.app_context():
        house = create_facility(licensed=3, age_min=12, age_max=17)
        db.session.commit()
        house_id = house.id
    youth = {
        "birth_date": str(born(15)),
        "gender": "m",
        "uma": False,
        "reference": "max mustermann",
    }
    response = api.post(
        "/admissions",
        json={"facility_id": house_id, "legal_basis": "42-1-2", "youth": youth},
        role="on_call",
    )
    assert response.status_code == 422
    assert (response.get_json()["code"], response.get_json()["field"]) == (
        "reference_looks_like_name",
        "youth.reference",
    )


# --- defect 15: focus ----------------------------------------------------------------------


def test_the_admit_form_focuses_its_first_field(client, setup):
    html = client.get("/intake/admit").get_data(as_text=True)
    tag = re.search(r'<select[^>]*id="facility_id"[^>]*>', html).group(0)
    assert "autofocus" in tag
    assert html.count("autofocus") == 1


def test_a_token_spent_meanwhile_by_another_facility_is_refused_like_a_resend(
    app, ctx, monkeypatch
):
    """Two copies of one form sent at once to different facilities take different facility
    locks; they meet at the token, and the later one gets the resend answer, not a 500."""
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises all admissions: the token is always seen spent first")
    house = create_facility(licensed=3)
    db.session.commit()
    original = admissions._resolve

    def resolve_then_lose_the_race(request):
        resolved = original(request)
        with db.engine.begin() as connection:  # the copy sent elsewhere commits first
            connection.execute(sa.insert(FormSubmission).values(token="T-race", used_at=utc_now()))
        return resolved

    monkeypatch.setattr(admissions, "_resolve", resolve_then_lose_the_race)
    with pytest.raises(Conflict) as error:
        admissions.admit(ON_CALL, replace(single(house), form_token="T-race"))
    assert (error.value.code, error.value.field) == (Code.FORM_ALREADY_SUBMITTED, "form_token")
    db.session.rollback()
    assert count(Stay) == 0
