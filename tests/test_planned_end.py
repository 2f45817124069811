"""The planned end of a stay ("Übergabe nach §42b am", "Anschlusshilfe ab"): given on the
admission (HTML form and API, carried through preview and confirmation), set, changed and
cleared later on the stay page and through the API, shown on the stay page and in its
history, with German errors at the field and the permissions of the other stay actions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, Stay
from placement.models.enums import PlannedEndKind
from placement.services.accounts import audit
from placement.services.errors import Code, Conflict, RuleViolation
from placement.services.intake import admissions, stays
from placement.services.intake.admissions import AdmissionRequest, ConfirmationOutdated
from placement.services.intake.rules import berlin_day
from placement.services.intake.youths import NewYouth
from placement.timeutil import now as utc_now
from placement.timeutil import to_local_naive
from tests.conftest import create_facility, create_stay, create_youth, sign_in


def today():
    return berlin_day(utc_now())


def german(day) -> str:
    return day.strftime("%d.%m.%Y")


def stay_row(app, stay_id: int) -> Stay:
    with app.app_context():
        stay = db.session.get(Stay, stay_id)
        db.session.expunge(stay)
        return stay


def only_stay(app) -> Stay:
    with app.app_context():
        stay = db.session.scalars(sa.select(Stay)).one()
        db.session.expunge(stay)
        return stay


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        found = db.session.scalars(
            sa.select(AuditEvent).filter_by(action=action).order_by(AuditEvent.id)
        ).all()
        for event in found:
            db.session.expunge(event)
        return list(found)


def count_stays(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Stay))


def new_youth() -> NewYouth:
    return NewYouth(birth_date=today() - timedelta(days=15 * 365), gender="m", uma=True)


def request_for(facility_id: int, **values) -> AdmissionRequest:
    return AdmissionRequest(facility_id=facility_id, legal_basis="42a", youth=new_youth(), **values)


# --- the admission service ---------------------------------------------------------------


def test_admission_records_the_planned_end_and_audits_it(ctx):
    house = create_facility(licensed=5)
    day = today() + timedelta(days=10)
    result = admissions.admit(
        audit.SYSTEM, request_for(house.id, planned_end_on=day, planned_end_kind="42b")
    )
    stay = result.stay
    assert (stay.planned_end_on, stay.planned_end_kind) == (day, PlannedEndKind.HANDOVER_42B)
    assert stay.planned_end_recorded_at is not None
    admitted = db.session.scalars(sa.select(AuditEvent).filter_by(action="stay.admit")).one()
    assert admitted.after["planned_end_on"] == day.isoformat()
    assert admitted.after["planned_end_kind"] == "42b"


def test_admission_without_planned_end_leaves_it_empty(ctx):
    stay = admissions.admit(audit.SYSTEM, request_for(create_facility().id)).stay
    assert (stay.planned_end_on, stay.planned_end_kind, stay.planned_end_recorded_at) == (
        None,
        None,
        None,
    )


def test_a_planned_day_without_a_kind_is_allowed(ctx):
    day = today() + timedelta(days=3)
    stay = admissions.admit(
        audit.SYSTEM, request_for(create_facility().id, planned_end_on=day)
    ).stay
    assert (stay.planned_end_on, stay.planned_end_kind) == (day, None)


def test_siblings_admitted_together_share_the_planned_end(ctx):
    house = create_facility(licensed=5)
    day = today() + timedelta(days=20)
    result = admissions.admit(
        audit.SYSTEM,
        AdmissionRequest(
            facility_id=house.id,
            legal_basis="42-1-2",
            youths=(new_youth(), new_youth()),
            planned_end_on=day,
            planned_end_kind="follow_on",
        ),
    )
    assert len(result.stays) == 2
    assert {(s.planned_end_on, s.planned_end_kind) for s in result.stays} == {
        (day, PlannedEndKind.FOLLOW_ON)
    }


@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({"planned_end_kind": "42b"}, Code.PLANNED_END_KIND_WITHOUT_DATE, "planned_end_on"),
        ({"planned_end_on": -1}, Code.PLANNED_END_BEFORE_ADMISSION, "planned_end_on"),
        ({"planned_end_on": -1, "start": -5}, Code.PLANNED_END_IN_PAST, "planned_end_on"),
        ({"planned_end_on": 4, "planned_end_kind": "xyz"}, Code.UNKNOWN_VALUE, "planned_end_kind"),
    ],
)
def test_admission_refuses_bad_planned_ends_in_preview_and_admit(ctx, values, code, field):
    house = create_facility()
    if isinstance(values.get("planned_end_on"), int):
        values = {**values, "planned_end_on": today() + timedelta(days=values["planned_end_on"])}
    if "start" in values:  # a backdated admission: the planned day after it, before today
        values = {**values, "start": utc_now() + timedelta(days=values["start"])}
    for service in (admissions.preview, admissions.admit):
        with pytest.raises(RuleViolation) as refused:
            service(audit.SYSTEM, request_for(house.id, **values))
        assert (refused.value.code, refused.value.field) == (code, field)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Stay)) == 0


def test_a_planned_end_before_a_backdated_admission_is_refused(ctx):
    house = create_facility()
    start = utc_now() - timedelta(days=5)
    request = request_for(
        house.id, start=start, planned_end_on=berlin_day(start) - timedelta(days=1)
    )
    with pytest.raises(RuleViolation) as refused:
        admissions.preview(audit.SYSTEM, request)
    assert refused.value.code == Code.PLANNED_END_BEFORE_ADMISSION
    assert refused.value.field == "planned_end_on"


def test_the_confirmation_stands_for_the_planned_end_too(ctx):
    house = create_facility(licensed=0)  # every admission warns: over the places
    day = today() + timedelta(days=7)
    request = request_for(house.id, planned_end_on=day, planned_end_kind="42b")
    shown = admissions.preview(audit.SYSTEM, request)
    assert shown.needs_confirmation
    other_day = request_for(
        house.id, planned_end_on=day + timedelta(days=1), planned_end_kind="42b"
    )
    other_kind = request_for(house.id, planned_end_on=day, planned_end_kind="other")
    for changed in (other_day, other_kind, request_for(house.id)):
        assert admissions.preview(audit.SYSTEM, changed).confirmation != shown.confirmation
        with pytest.raises(ConfirmationOutdated):
            admissions.admit(
                audit.SYSTEM,
                AdmissionRequest(**{**changed.__dict__, "confirmation": shown.confirmation}),
            )
    confirmed = AdmissionRequest(**{**request.__dict__, "confirmation": shown.confirmation})
    assert admissions.admit(audit.SYSTEM, confirmed).stay.planned_end_on == day


# --- the HTML admission form -------------------------------------------------------------


@pytest.fixture
def house(app):
    with app.app_context():
        facility = create_facility(licensed=3, name="Haus Kiebitz", age_min=12, age_max=17)
        db.session.commit()
        return facility.id


def admission_form(facility_id: int, **overrides) -> dict:
    data = {
        "facility_id": facility_id,
        "legal_basis": "42-1-2",
        "birth_date": "2010-04-01",
        "gender": "m",
        "uma": "0",
        "reference": "PE-1",
    }
    data.update(overrides)
    return data


def test_admission_form_offers_the_planned_end(app, client, login, house):
    login(role="on_call", email="nacht@example.org")
    html = client.get(f"/intake/admit?facility_id={house}").get_data(as_text=True)
    assert "Voraussichtliches Ende am" in html and 'name="planned_end_on"' in html
    for label in ("Übergabe nach §42b", "Anschlusshilfe ab", "Sonstiges"):
        assert label in html


def test_admission_form_records_the_planned_end_and_the_stay_page_shows_it(
    app, client, login, house
):
    login(role="on_call", email="nacht@example.org")
    day = today() + timedelta(days=12)
    response = client.post(
        "/intake/admit",
        data=admission_form(house, planned_end_on=day.isoformat(), planned_end_kind="follow_on"),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    stay = only_stay(app)
    assert (stay.planned_end_on, stay.planned_end_kind) == (day, PlannedEndKind.FOLLOW_ON)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    shown = re.search(r'id="planned-end-shown">([^<]*)<', page).group(1)
    assert shown == f"{german(day)} (Anschlusshilfe ab)"
    # The history names it with the admission.
    assert f"Geplantes Ende: {german(day)} (Anschlusshilfe ab)" in page


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"planned_end_kind": "42b"}, "Zur Art des geplanten Endes fehlt das Datum."),
        (
            {"planned_end_on": "yesterday", "start": "start"},
            "Das geplante Ende liegt in der Vergangenheit.",
        ),
        (
            {"planned_end_on": "before", "start": "start"},
            "Das geplante Ende liegt vor der Aufnahme.",
        ),
    ],
)
def test_admission_form_errors_are_shown_at_the_field_and_keep_the_input(
    app, client, login, house, values, message
):
    login(role="on_call", email="nacht@example.org")
    start = utc_now() - timedelta(days=3)
    words = {
        "yesterday": (today() - timedelta(days=1)).isoformat(),
        "before": (berlin_day(start) - timedelta(days=1)).isoformat(),
        "start": to_local_naive(start).strftime("%Y-%m-%dT%H:%M"),
    }
    typed = {key: words.get(value, value) for key, value in values.items()}
    response = client.post("/intake/admit", data=admission_form(house, **typed))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    # The message sits in the planned end's field (invalid-feedback after its input).
    field = re.search(r'id="planned_end_on"[^>]*>(.*?)</div>', html, re.S)
    assert field is not None and message in field.group(0), html
    assert 'value="PE-1"' in html  # nothing typed is lost
    if "planned_end_kind" in typed:
        assert re.search(r'<option selected value="42b">', html)
    assert count_stays(app) == 0


def test_changing_the_planned_end_after_a_warning_asks_again(app, client, login):
    with app.app_context():
        full = create_facility(licensed=0, name="Haus Voll", age_min=12, age_max=17).id
        db.session.commit()
    login(role="on_call", email="nacht@example.org")
    day = today() + timedelta(days=5)
    data = admission_form(full, planned_end_on=day.isoformat(), planned_end_kind="42b")
    first = client.post("/intake/admit", data=data).get_data(as_text=True)
    assert "Bitte prüfen, dann bestätigen" in first
    token = re.search(r'name="confirm"[^>]*value="([^"]*)"', first).group(1)
    changed = {**data, "planned_end_on": (day + timedelta(days=1)).isoformat(), "confirm": token}
    again = client.post("/intake/admit", data=changed)
    assert again.status_code == 200 and "Bitte prüfen, dann bestätigen" in again.get_data(
        as_text=True
    )
    assert count_stays(app) == 0
    token = re.search(r'name="confirm"[^>]*value="([^"]*)"', again.get_data(as_text=True)).group(1)
    done = client.post("/intake/admit", data={**changed, "confirm": token})
    assert done.status_code == 302
    assert only_stay(app).planned_end_on == day + timedelta(days=1)


# --- later, on the stay page -------------------------------------------------------------


@pytest.fixture
def placed(app):
    """An open stay in house A (from three days ago) and an ended one; a facility manager
    assigned to house A, one assigned to house B."""
    from placement.services.accounts import users

    with app.app_context():
        a = create_facility(licensed=3, name="Haus A", age_min=12, age_max=17)
        b = create_facility(licensed=3, name="Haus B", age_min=12, age_max=17)
        start = (utc_now() - timedelta(days=3)).strftime("%Y-%m-%d %H:%M")
        ended_start = (utc_now() - timedelta(days=30)).strftime("%Y-%m-%d %H:%M")
        ended_end = (utc_now() - timedelta(days=20)).strftime("%Y-%m-%d %H:%M")
        stay = create_stay(create_youth(uma=True), a, start, legal_basis="42a")
        ended = create_stay(create_youth(), a, ended_start, ended_end)
        for email, house in (("haus-a@example.org", a), ("haus-b@example.org", b)):
            manager = users.create_user(
                audit.CLI, email=email, role="facility_manager", password="long enough password"
            )
            manager.facilities.append(house)
        db.session.commit()
        return {"stay": stay.id, "ended": ended.id, "a": a.id, "b": b.id}


def manager_client(app, email="haus-a@example.org"):
    client = app.test_client()
    response = client.post("/auth/login", data={"email": email, "password": "long enough password"})
    assert response.status_code == 302
    return client


def post_planned_end(client, stay_id: int, day="", kind="") -> object:
    return client.post(
        f"/stays/{stay_id}/planned-end",
        data={"planned_end-planned_end_on": day, "planned_end-planned_end_kind": kind},
    )


def test_stay_page_sets_changes_and_clears_the_planned_end(app, placed):
    client = manager_client(app)
    page = client.get(f"/stays/{placed['stay']}").get_data(as_text=True)
    assert 'id="planned-end"' in page and "planned-end-shown" not in page
    day = today() + timedelta(days=9)
    response = post_planned_end(client, placed["stay"], day.isoformat(), "42b")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Geplantes Ende gespeichert." in page
    assert f"{german(day)} (Übergabe nach §42b)" in page
    # The form shows what is stored.
    assert f'value="{day.isoformat()}"' in page
    stay = stay_row(app, placed["stay"])
    assert (stay.planned_end_on, stay.planned_end_kind) == (day, PlannedEndKind.HANDOVER_42B)
    later = day + timedelta(days=4)
    assert post_planned_end(client, placed["stay"], later.isoformat(), "other").status_code == 302
    assert stay_row(app, placed["stay"]).planned_end_kind == PlannedEndKind.OTHER
    cleared = post_planned_end(client, placed["stay"])
    assert cleared.status_code == 302
    page = client.get(cleared.headers["Location"]).get_data(as_text=True)
    assert "Geplantes Ende gelöscht." in page and "planned-end-shown" not in page
    stay = stay_row(app, placed["stay"])
    assert (stay.planned_end_on, stay.planned_end_kind) == (None, None)
    # Each change is audited with before and after, and told in the history.
    written = events(app, "stay.planned_end")
    assert [e.after.get("planned_end_on") for e in written] == [
        day.isoformat(),
        later.isoformat(),
        None,
    ]
    assert written[1].before.get("planned_end_on") == day.isoformat()
    assert f"Geplantes Ende: {german(day)} → {german(later)}" in page
    assert "Art des Endes: Übergabe nach §42b → Sonstiges" in page


@pytest.mark.parametrize(
    ("day", "kind", "message"),
    [
        ("", "follow_on", "Zur Art des geplanten Endes fehlt das Datum."),
        ("yesterday", "", "Das geplante Ende liegt in der Vergangenheit."),
        ("before_start", "", "Das geplante Ende liegt vor der Aufnahme."),
        ("31.12.", "", "Kein gültiges Datum."),
    ],
)
def test_stay_page_errors_are_german_at_the_field_and_keep_the_input(
    app, placed, day, kind, message
):
    client = manager_client(app)
    words = {
        "yesterday": (today() - timedelta(days=1)).isoformat(),
        "before_start": (today() - timedelta(days=4)).isoformat(),
    }
    typed = words.get(day, day)
    response = post_planned_end(client, placed["stay"], typed, kind)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    field = re.search(r'id="planned_end-planned_end_on"[^>]*>(.*?)</div>', html, re.S)
    assert field is not None and message in field.group(0), html
    if typed:
        assert f'value="{typed}"' in html
    if kind:
        assert re.search(rf'<option selected value="{kind}">', html)
    stay = stay_row(app, placed["stay"])
    assert stay.planned_end_on is None and not events(app, "stay.planned_end")


def test_saving_the_same_planned_end_again_says_nothing_changed(app, placed):
    client = manager_client(app)
    day = (today() + timedelta(days=2)).isoformat()
    assert post_planned_end(client, placed["stay"], day, "42b").status_code == 302
    again = post_planned_end(client, placed["stay"], day, "42b")
    assert again.status_code == 422
    assert "Es wurde nichts geändert." in again.get_data(as_text=True)
    assert len(events(app, "stay.planned_end")) == 1


def test_an_ended_stay_has_no_planned_end_form_and_refuses_one(app, placed):
    client = manager_client(app)
    page = client.get(f"/stays/{placed['ended']}").get_data(as_text=True)
    assert 'id="planned-end"' not in page
    day = (today() + timedelta(days=2)).isoformat()
    response = post_planned_end(client, placed["ended"], day)
    assert response.status_code == 422
    assert "Dieser Aufenthalt ist bereits beendet." in response.get_data(as_text=True)
    assert stay_row(app, placed["ended"]).planned_end_on is None


@pytest.mark.parametrize(
    ("role", "email", "status"),
    [
        ("department_head", "leitung@example.org", 403),  # counts only, no persons
        ("facility_manager", "haus-b@example.org", 404),  # another house's resident
    ],
)
def test_who_may_not_see_the_stay_may_not_set_its_planned_end(app, placed, role, email, status):
    client = app.test_client()
    if role == "department_head":
        sign_in(app, client, role=role, email=email)
    else:
        client = manager_client(app, email)
    day = (today() + timedelta(days=2)).isoformat()
    response = post_planned_end(client, placed["stay"], day, "42b")
    assert response.status_code == status
    assert stay_row(app, placed["stay"]).planned_end_on is None


def test_on_call_staff_set_the_planned_end_of_stays_they_see(app, placed):
    """Like the §42a procedure and the discharge (DISCHARGE): on-call staff see the open
    stays city-wide and may note when one ends."""
    client = app.test_client()
    sign_in(app, client, role="on_call", email="nacht@example.org")
    page = client.get(f"/stays/{placed['stay']}").get_data(as_text=True)
    assert 'id="planned-end"' in page
    day = today() + timedelta(days=6)
    assert post_planned_end(client, placed["stay"], day.isoformat()).status_code == 302
    assert stay_row(app, placed["stay"]).planned_end_on == day


# --- the API ---------------------------------------------------------------------------------


def api_admission(facility_id: int, **body) -> dict:
    payload = {
        "facility_id": facility_id,
        "legal_basis": "42-1-2",
        "youth": {"birth_date": "2010-04-01", "gender": "m", "uma": False},
    }
    payload.update(body)
    return payload


def test_api_admission_takes_the_planned_end_and_answers_it(api, house, app):
    day = today() + timedelta(days=11)
    body = api_admission(house, planned_end_on=day.isoformat(), planned_end_kind="42b")
    shown = api.post("/admissions/preview", json=body, role="on_call")
    assert shown.status_code == 200
    response = api.post("/admissions", json=body, role="on_call")
    assert response.status_code == 201, response.get_json()
    stay = response.get_json()["stay"]
    assert (stay["planned_end_on"], stay["planned_end_kind"]) == (day.isoformat(), "42b")
    plain = api.post(
        "/admissions",
        json=api_admission(house, youth={"birth_date": "2010-05-01", "gender": "f", "uma": False}),
        role="on_call",
    ).get_json()["stay"]
    assert (plain["planned_end_on"], plain["planned_end_kind"]) == (None, None)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"planned_end_on": "morgen"}, 400, "planned_end_on"),
        ({"planned_end_on": "2999-01-01", "planned_end_kind": "bald"}, 422, "planned_end_kind"),
        ({"planned_end_kind": "follow_on"}, 422, "planned_end_on"),
        ({"planned_end_on": "2020-01-01"}, 422, "planned_end_on"),
    ],
)
def test_api_admission_bad_planned_end_names_the_field(api, house, app, body, status, field):
    response = api.post("/admissions", json=api_admission(house, **body), role="on_call")
    assert response.status_code == status, response.get_json()
    assert response.get_json()["field"] == field
    assert response.get_json()["error"]
    assert count_stays(app) == 0


def test_api_sets_changes_and_clears_the_planned_end(api, house, app):
    stay = api.post("/admissions", json=api_admission(house), role="on_call").get_json()["stay"]
    day = today() + timedelta(days=8)
    path = f"/stays/{stay['id']}/planned-end"
    body = {"planned_end_on": day.isoformat(), "planned_end_kind": "42b"}
    set_ = api.post(path, json=body, role="on_call")
    assert set_.status_code == 200, set_.get_json()
    assert (set_.get_json()["planned_end_on"], set_.get_json()["planned_end_kind"]) == (
        day.isoformat(),
        "42b",
    )
    without_kind = api.post(path, json={"planned_end_on": day.isoformat()}, role="on_call")
    assert without_kind.status_code == 200
    assert without_kind.get_json()["planned_end_kind"] is None
    cleared = api.post(path, json={"planned_end_on": None}, role="on_call")
    assert cleared.status_code == 200 and cleared.get_json()["planned_end_on"] is None
    assert len(events(app, "stay.planned_end")) == 3


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 400, "planned_end_on"),
        ({"planned_end_on": "31.12.2099"}, 400, "planned_end_on"),
        ({"planned_end_on": None, "planned_end_kind": "42b"}, 422, "planned_end_on"),
        ({"planned_end_on": "2020-01-01"}, 422, "planned_end_on"),
        ({"planned_end_on": "2099-01-01", "planned_end_kind": "later"}, 422, "planned_end_kind"),
        ({"planned_end_on": None}, 422, None),  # nothing to clear: nothing changed
    ],
)
def test_api_planned_end_bad_input(api, house, app, body, status, field):
    stay = api.post("/admissions", json=api_admission(house), role="on_call").get_json()["stay"]
    response = api.post(f"/stays/{stay['id']}/planned-end", json=body, role="on_call")
    assert response.status_code == status, response.get_json()
    assert response.get_json()["field"] == field
    assert not events(app, "stay.planned_end")


def test_api_planned_end_of_an_ended_or_unknown_stay(api, house):
    stay = api.post("/admissions", json=api_admission(house), role="on_call").get_json()["stay"]
    api.post(f"/stays/{stay['id']}/discharge", json={"reason": "return_home"}, role="on_call")
    day = (today() + timedelta(days=1)).isoformat()
    path = f"/stays/{stay['id']}/planned-end"
    ended = api.post(path, json={"planned_end_on": day}, role="on_call")
    assert ended.status_code == 409 and ended.get_json()["field"] == "stay_id"
    unknown = api.post("/stays/999999/planned-end", json={"planned_end_on": day}, role="on_call")
    assert unknown.status_code == 404


def test_api_department_heads_may_not_set_a_planned_end(api, house, app):
    stay = api.post("/admissions", json=api_admission(house), role="on_call").get_json()["stay"]
    day = (today() + timedelta(days=1)).isoformat()
    response = api.post(
        f"/stays/{stay['id']}/planned-end", json={"planned_end_on": day}, role="department_head"
    )
    assert response.status_code == 403
    assert stay_row(app, stay["id"]).planned_end_on is None


def test_service_refuses_an_ended_stay(ctx):
    house = create_facility()
    ended = create_stay(create_youth(), house, "2024-03-01 10:00", "2024-03-05 10:00")
    with pytest.raises(Conflict):
        stays.set_planned_end(
            audit.SYSTEM, ended.id, planned_end_on=today() + timedelta(days=1), kind="42b"
        )
