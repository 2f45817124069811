"""The HTML pages and the API call the same services, so the same input gets the same
answer on both: admitted or not, the same offending field, the same German message, the
same warnings. Each case is fed to both surfaces and the outcomes are compared."""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import Reservation, Stay
from tests.conftest import create_facility, create_stay, create_youth


@dataclass(frozen=True)
class Outcome:
    admitted: bool
    errors: tuple[tuple[str | None, str], ...] = ()  # (field, message), field None: no field
    warnings: tuple[str, ...] = ()


@pytest.fixture
def houses(app):
    """Two identical youth houses per surface (12-17 years, 1 place each, the first one
    full), so that both surfaces start from the same situation."""
    with app.app_context():
        made = {}
        for surface in ("html", "api"):
            full = create_facility(licensed=1, name=f"Voll {surface}", age_min=12, age_max=17)
            free = create_facility(licensed=1, name=f"Frei {surface}", age_min=12, age_max=17)
            create_stay(create_youth(reference=f"DA-{surface}"), full, "2024-01-01 10:00")
            create_youth(reference=f"WAR-{surface}", birth_date=datetime(2011, 1, 1).date())
            now = datetime.now(UTC)
            held = Reservation(
                facility_id=free.id, created_at=now, expires_at=now + timedelta(hours=2)
            )
            db.session.add(held)
            db.session.flush()
            made[surface] = {"full": full.id, "free": free.id, "reservation": held.id}
        db.session.commit()
        return made


def _field(name: str | None) -> str | None:
    """Field names as both surfaces see them: a new youth's fields are nested in the API
    (youth.birth_date) and flat in the form (birth_date)."""
    return name.rsplit(".", 1)[-1] if name else None


def _html_errors(page: str) -> tuple[tuple[str | None, str], ...]:
    errors = []
    for match in re.finditer(r'<div class="invalid-feedback[^"]*">(.*?)</div>', page, re.S):
        names = re.findall(r'name="([^"]+)"', page[: match.start()])
        errors.append((names[-1] if names else None, html_lib.unescape(match.group(1).strip())))
    # Form-level errors; the summary at the top (id form-errors) repeats the field errors.
    alerts = r'<div class="alert alert-danger"(?![^>]*id="form-errors")[^>]*>(.*?)</div>'
    for match in re.finditer(alerts, page, re.S):
        errors.append((None, html_lib.unescape(match.group(1).strip())))
    return tuple(sorted(errors, key=str))


def _html_warnings(page: str) -> tuple[str, ...]:
    found = re.findall(r'<div class="alert alert-warning"[^>]*>(.*?)</div>', page, re.S)
    return tuple(sorted(html_lib.unescape(text.strip()) for text in found))


def via_html(client, form: dict) -> Outcome:
    """Submit the admission form; confirm once if the page asks to (as staff would)."""
    response = client.post("/intake/admit", data=form)
    page = response.get_data(as_text=True)
    token = re.search(r'name="confirm"[^>]*value="([^"]*)"', page)
    if response.status_code == 200 and token and token.group(1):
        response = client.post("/intake/admit", data={**form, "confirm": token.group(1)})
        page = response.get_data(as_text=True)
    if response.status_code == 302:
        shown = client.get(response.headers["Location"]).get_data(as_text=True)
        return Outcome(True, warnings=_html_warnings(shown))
    return Outcome(False, errors=tuple((_field(f), m) for f, m in _html_errors(page)))


def via_api(api, body: dict) -> Outcome:
    """POST /admissions, or the reservation's admit endpoint when one is used."""
    reservation = body.pop("reservation_id", None)
    path = f"/reservations/{reservation}/admit" if reservation else "/admissions"
    response = api.post(path, json=body, role="facility_manager")
    data = response.get_json()
    if response.status_code == 201:
        return Outcome(True, warnings=tuple(sorted(w["message"] for w in data["warnings"])))
    return Outcome(False, errors=((_field(data["field"]), data["error"]),))


def _future(days: int = 2) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


# Each case: what is typed, in the words of the form. "house" is "free" or "full".
CASES = {
    "room, no warning": {},
    "full house: admitted with the warning": {"house": "full"},
    "date of birth in the future": {"birth_date": "2999-01-01"},
    "older than 27": {"birth_date": "1980-01-01"},
    "no date of birth": {"birth_date": ""},
    "no gender": {"gender": ""},
    "admission in the future": {"start": "future"},
    "outside the profile, no reason": {"birth_date": "2019-01-01"},
    "outside the profile, reason too short": {"birth_date": "2019-01-01", "override": "ok"},
    "outside the profile with a reason": {"birth_date": "2019-01-01", "override": "Geschwister"},
    "override reason too long": {"override": "x" * 501},
    "unknown reference": {"youth_reference": "GIBT-ES-NICHT"},
    "already placed": {"youth_reference": "DA-{surface}"},
    "existing youth, admitted before birth": {
        "youth_reference": "WAR-{surface}",
        "start": "2010-06-01T10:00",
    },
    "existing youth by reference": {"youth_reference": "war-{surface}"},
    "reference taken": {"reference": "DA-{surface}"},
    "reference too long": {"reference": "R" * 41},
    "reservation of another house": {"house": "full", "reservation": True},
    "from the reservation": {"reservation": True},
}


def _form(case: dict, ids: dict, surface: str) -> dict:
    form = {
        "facility_id": ids[case.get("house", "free")],
        "legal_basis": "42-1-2",
        "birth_date": case.get("birth_date", "2010-04-01"),
        "gender": case.get("gender", "m"),
        "uma": "0",
    }
    if "youth_reference" in case:
        form["youth_reference"] = case["youth_reference"].format(surface=surface)
    if "reference" in case:
        form["reference"] = case["reference"].format(surface=surface)
    if case.get("reservation"):
        form["reservation_id"] = ids["reservation"]
    if "override" in case:
        form["override_reason"] = case["override"]
    if case.get("start") == "future":
        form["start"] = _future().astimezone().strftime("%Y-%m-%dT%H:%M")
    elif "start" in case:
        form["start"] = case["start"]
    return form


def _body(form: dict) -> dict:
    """The same admission as an API body (wall-clock times are Berlin on both)."""
    body = {"facility_id": form["facility_id"], "legal_basis": form["legal_basis"]}
    if "youth_reference" in form:
        body["youth_reference"] = form["youth_reference"]
    else:
        youth = {"uma": form["uma"] == "1"}
        if form["birth_date"]:
            youth["birth_date"] = form["birth_date"]
        if form["gender"]:
            youth["gender"] = form["gender"]
        if "reference" in form:
            youth["reference"] = form["reference"]
        body["youth"] = youth
    for key in ("override_reason", "start", "reservation_id"):
        if key in form:
            body[key] = form[key]
    return body


def _normalise(outcome: Outcome, surface: str) -> Outcome:
    """House names and references differ per surface; the rest must not."""

    def plain(text: str) -> str:
        return text.replace(f" {surface}", "").replace(f"-{surface}", "")

    return Outcome(
        outcome.admitted,
        tuple((field, plain(message)) for field, message in outcome.errors),
        tuple(plain(w) for w in outcome.warnings),
    )


@pytest.mark.parametrize("name", list(CASES))
def test_html_and_api_give_the_same_answer(app, client, api, login, houses, name):
    login(role="facility_manager", email="leitung-beide@example.org")
    case = CASES[name]
    html_form = _form(case, houses["html"], "html")
    api_form = _form(case, houses["api"], "api")
    if case.get("start") == "future":
        api_form["start"] = html_form["start"]
    html_outcome = _normalise(via_html(client, html_form), "html")
    api_outcome = _normalise(via_api(api, _body(api_form)), "api")
    if html_outcome.errors and html_outcome.errors[0][0] is None:
        # The page has no visible field of that name (a hidden one): it says it on top.
        api_outcome = Outcome(False, ((None, api_outcome.errors[0][1]),))
    assert html_outcome == api_outcome
    with app.app_context():
        stays = db.session.scalars(
            sa.select(Stay).where(Stay.start_at > datetime(2024, 6, 1, tzinfo=UTC))
        ).all()
        assert len(stays) == 2 * html_outcome.admitted  # one per surface, or none


PLACE_CASES = {
    "date of birth in the future": "birth_date=2999-06-01&gender=m&uma=0",
    "age out of range": "age=99&gender=m&uma=0",
    "neither age nor date of birth": "gender=m&uma=0",
    "no gender": "age=15&uma=0",
    # Siblings: the page takes one row per child ("Kind hinzufügen"), the API a count;
    # both refusals are tested on their own surface (test_siblings.py, test_api_intake.py).
    "latitude without longitude": "age=15&gender=m&uma=0&lat=51.3",
    "latitude out of range": "age=15&gender=m&uma=0&lat=91&lon=12",
}


@pytest.mark.parametrize("name", list(PLACE_CASES))
def test_place_finder_refuses_the_same_input_alike(client, api, login, houses, name):
    login(role="on_call", email="dienst-beide@example.org")
    query = PLACE_CASES[name]
    page = client.get(f"/intake/places?{query}")
    html_errors = tuple((_field(f), m) for f, m in _html_errors(page.get_data(as_text=True)))
    api_query = query.replace("uma=0", "uma=false")
    answer = api.get(f"/places?{api_query}", role="on_call")
    assert page.status_code == 422 and answer.status_code in (400, 422)
    body = answer.get_json()
    assert html_errors == ((_field(body["field"]), body["error"]),)
