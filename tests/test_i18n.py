"""The English catalogue and the choice of language.

German is the default; a user's own setting wins, then a choice made on the login page,
then the browser's Accept-Language; outside a request (jobs, mails, CLI) it is German. The
``test_catalogue_*`` tests (no database; `make translations` runs them) extract the messages
from the current sources and fail, naming each message, while one lacks an English
translation."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask_babel import gettext

from placement.extensions import db
from placement.models import AuditEvent, User
from placement.services.accounts import audit, preferences
from placement.services.errors import Forbidden, RuleViolation
from tests.conftest import PASSWORD, create_facility, make_app, sign_in

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "placement" / "translations"
CATALOGUE = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
COMPILED = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.mo"

EN = {"Accept-Language": "en-GB,en;q=0.9"}
DE = {"Accept-Language": "de-DE,de;q=0.9"}


def _lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


def _title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


def _set_locale(app, email: str, locale: str | None) -> None:
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(email=email))
        user.locale = locale
        db.session.commit()


# --- which language ----------------------------------------------------------------------


def test_german_is_the_default(client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert _lang(html) == "de" and _title(html) == "Anmelden · Platzplan"
    assert "Passwort" in html and "Password" not in html


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR,fr;q=0.9,en;q=0.5", "en"),  # the best supported one
        ("en;q=0.5,de;q=0.8", "de"),
        ("fr-FR,fr;q=0.9", "de"),  # none supported: German
        ("*", "de"),
        ("de-AT", "de"),
    ],
)
def test_browser_language_among_the_supported_ones(client, header, expected):
    html = client.get("/auth/login", headers={"Accept-Language": header}).get_data(as_text=True)
    assert _lang(html) == expected


def test_login_page_in_english(client):
    html = client.get("/auth/login", headers=EN).get_data(as_text=True)
    assert _lang(html) == "en" and _title(html) == "Log in · Platzplan"
    for text in ("Email", "Password", "Stay logged in", 'value="Log in"', "Skip to content"):
        assert text in html, text
    assert "Anmelden" not in html and "Passwort" not in html


def test_login_form_errors_in_english(app, client):
    html = client.post("/auth/login", data={}, headers=EN).get_data(as_text=True)
    assert "Please enter your email address." in html and "Please enter your password." in html
    sign_in(app, client)
    client.post("/auth/logout")
    response = client.post(
        "/auth/login", data={"email": "chef@example.org", "password": "nope"}, headers=EN
    )
    assert response.status_code == 422
    assert "Email or password is incorrect." in response.get_data(as_text=True)


def test_redirect_to_login_says_so_in_english(client):
    client.get("/", headers=EN)
    html = client.get("/auth/login", headers=EN).get_data(as_text=True)
    assert "Please log in." in html
    client.get("/", headers=DE)
    assert "Bitte melden Sie sich an." in client.get("/auth/login").get_data(as_text=True)


def test_login_page_offers_the_other_language_keeping_next(client):
    html = client.get("/auth/login?next=/reports/", headers=DE).get_data(as_text=True)
    link = re.search(r'<a class="nav-link" href="([^"]+)" hreflang="en"', html).group(1)
    assert link.startswith("/auth/login?") and "lang=en" in link and "next=%2Freports%2F" in link
    assert 'hreflang="de"' not in html  # the current language is not a link


def test_language_chosen_on_the_login_page_is_kept_through_login(app, client):
    with app.app_context():
        create_facility()
        db.session.commit()
    html = client.get("/auth/login?lang=en", headers=DE).get_data(as_text=True)
    assert _lang(html) == "en"
    # the next pages of the session, the form's errors, and after logging in
    assert _lang(client.get("/auth/login", headers=DE).get_data(as_text=True)) == "en"
    html = client.post("/auth/login", data={}, headers=DE).get_data(as_text=True)
    assert "Please enter your email address." in html
    sign_in(app, client)
    assert _title(client.get("/", headers=DE).get_data(as_text=True)) == "Overview · Platzplan"
    client.get("/auth/login?lang=de")
    assert _lang(client.get("/auth/login", headers=EN).get_data(as_text=True)) == "de"


def test_unknown_language_in_the_link_is_ignored(client):
    html = client.get("/auth/login?lang=xx", headers=EN).get_data(as_text=True)
    assert _lang(html) == "en"
    html = client.get("/auth/login?lang=../../etc", headers=DE).get_data(as_text=True)
    assert _lang(html) == "de"


def test_overview_in_english(app, client, login):
    with app.app_context():
        facility = create_facility(licensed=4, name="Haus Eins")
        db.session.commit()
        facility_id = facility.id
    login()
    html = client.get("/", headers=EN).get_data(as_text=True)
    assert _lang(html) == "en" and _title(html) == "Overview · Platzplan"
    for text in ("Occupancy", "Licensed", "Usable", "Log out", "Settings", "Department head"):
        assert text in html, text
    for text in ("Belegung", "Genehmigt", "Abmelden", "Abteilungsleitung"):
        assert text not in html, text
    assert "Haus Eins" in html  # names are data, not translated
    assert f"/facilities/{facility_id}" in html


def test_place_finder_in_english(app, client, login):
    with app.app_context():
        create_facility(licensed=2, name="Haus Zwei")
        db.session.commit()
    login(role="on_call", email="nacht@example.org")
    html = client.get("/intake/places", headers=EN).get_data(as_text=True)
    assert _lang(html) == "en" and _title(html) == "Find a place · Platzplan"
    assert "Gender" in html and "Geschlecht" not in html
    assert "Platz finden" not in html


def test_dates_keep_the_german_format_in_english(app, client, login):
    with app.app_context():
        create_facility(name="Haus Drei")
        db.session.commit()
    login()
    html = client.get("/?at=2024-03-01T14:30", headers=EN).get_data(as_text=True)
    assert "01.03.2024 14:30" in html


def test_api_errors_follow_the_browser_language(api, client):
    response = client.get("/api/v1/places", headers=EN)
    assert response.status_code == 401
    assert response.get_json()["error"] == "Authentication required: Authorization: Bearer TOKEN."
    response = client.get("/api/v1/places")
    assert response.get_json()["error"] == "Anmeldung erforderlich: Authorization: Bearer TOKEN."
    response = api.post(
        "/admissions", data="{kein json", content_type="application/json", headers=EN
    )
    body = response.get_json()
    assert response.status_code == 400 and body["field"] == "body"
    assert body["error"] == "The request body is not a valid JSON object."
    response = api.post("/plans", json={"max_moves": "x"}, role="department_head", headers=EN)
    body = response.get_json()
    assert response.status_code == 400 and body["field"] == "max_moves"
    assert body["error"] == "“max_moves” must be a whole number."


def test_api_user_setting_beats_the_browser(app, api):
    api.token_for("department_head")
    _set_locale(app, "department_head@example.org", "en")
    response = api.post("/plans", json={"max_moves": "x"}, role="department_head", headers=DE)
    assert response.get_json()["error"] == "“max_moves” must be a whole number."
    _set_locale(app, "department_head@example.org", "de")
    response = api.post("/plans", json={"max_moves": "x"}, role="department_head", headers=EN)
    assert response.get_json()["error"] == "„max_moves“ muss eine ganze Zahl sein."


def test_user_setting_beats_the_browser(app, client, login):
    login()
    _set_locale(app, "chef@example.org", "en")
    assert _lang(client.get("/", headers=DE).get_data(as_text=True)) == "en"
    _set_locale(app, "chef@example.org", "de")
    assert _lang(client.get("/", headers=EN).get_data(as_text=True)) == "de"
    _set_locale(app, "chef@example.org", None)
    assert _lang(client.get("/", headers=EN).get_data(as_text=True)) == "en"
    assert _lang(client.get("/", headers=DE).get_data(as_text=True)) == "de"


def test_outside_a_request_everything_is_german(app):
    """Jobs and mails: the scheduler has no browser to ask."""
    with app.app_context():
        assert gettext("Bitte melden Sie sich an.") == "Bitte melden Sie sich an."


def test_english_messages_are_used_when_forced(app):
    from flask_babel import force_locale

    with app.test_request_context("/"), force_locale("en"):
        assert gettext("Bitte melden Sie sich an.") == "Please log in."
        assert gettext("Das Feld „%(field)s“ fehlt.", field="age") == "The field “age” is missing."


# --- the settings page ---------------------------------------------------------------------


def _audit_rows(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).filter_by(action=action)).all()
        db.session.expunge_all()
        return rows


def test_settings_page_needs_login(client):
    response = client.get("/settings/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert client.post("/settings/", data={"locale": "en"}).status_code == 302


def test_navigation_links_to_the_settings(client, login):
    login(role="on_call", email="nacht@example.org")
    html = client.get("/settings/").get_data(as_text=True)
    assert 'href="/settings/" aria-current="page"' in html
    assert 'selected value=""' in html or 'value="" selected' in html  # browser by default


def test_choose_english_then_browser_again(app, client, login):
    login()
    response = client.post("/settings/", data={"locale": "en"}, headers=DE)
    assert response.status_code == 302 and response.headers["Location"] == "/settings/"
    html = client.get("/settings/", headers=DE).get_data(as_text=True)
    assert _lang(html) == "en" and "Settings saved." in html
    assert re.search(r'<option selected value="en">English</option>', html)
    assert _lang(client.get("/", headers=DE).get_data(as_text=True)) == "en"

    client.post("/settings/", data={"locale": ""}, headers=DE)
    html = client.get("/settings/", headers=DE).get_data(as_text=True)
    assert _lang(html) == "de" and "Einstellungen gespeichert." in html
    with app.app_context():
        assert db.session.scalar(sa.select(User.locale).filter_by(email="chef@example.org")) is None

    rows = _audit_rows(app, "user.settings")
    assert [(r.before, r.after) for r in rows] == [
        ({"locale": None}, {"locale": "en"}),
        ({"locale": "en"}, {"locale": None}),
    ]
    assert rows[0].object_type == "user" and rows[0].actor == "chef@example.org"


def test_saving_the_same_language_writes_no_audit_row(app, client, login):
    login()
    client.post("/settings/", data={"locale": "de"})
    client.post("/settings/", data={"locale": "de"})
    assert len(_audit_rows(app, "user.settings")) == 1


def test_account_setting_replaces_the_login_page_choice(app, client):
    client.get("/auth/login?lang=en")
    sign_in(app, client)
    client.post("/settings/", data={"locale": ""})
    assert _lang(client.get("/", headers=DE).get_data(as_text=True)) == "de"


@pytest.mark.parametrize("value", ["fr", "EN", "english", "x" * 300])
def test_unknown_language_is_refused_at_the_field(app, client, login, value):
    login()
    response = client.post("/settings/", data={"locale": value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "„Sprache“: unbekannter Wert (erlaubt: de, en)." in html
    assert _audit_rows(app, "user.settings") == []
    response = client.post("/settings/", data={"locale": value}, headers=EN)
    assert "“Language”: unknown value (allowed: de, en)." in response.get_data(as_text=True)


@pytest.fixture
def csrf_app(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("PLACEMENT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(tmp_path, database_url, WTF_CSRF_ENABLED=True)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_settings_need_the_csrf_token(csrf_app):
    client = csrf_app.test_client()
    with csrf_app.app_context():
        from placement.services.accounts import users

        users.create_user(audit.CLI, email="c@example.org", role="on_call", password=PASSWORD)
        db.session.commit()
    page = client.get("/auth/login").get_data(as_text=True)
    client.post(
        "/auth/login",
        data={"email": "c@example.org", "password": PASSWORD, "csrf_token": _token(page)},
    )
    response = client.post("/settings/", data={"locale": "en"})
    assert response.status_code in (400, 422)
    with csrf_app.app_context():
        assert db.session.scalar(sa.select(User.locale).filter_by(email="c@example.org")) is None
    page = client.get("/settings/").get_data(as_text=True)
    response = client.post("/settings/", data={"locale": "en", "csrf_token": _token(page)})
    assert response.status_code == 302
    with csrf_app.app_context():
        assert db.session.scalar(sa.select(User.locale).filter_by(email="c@example.org")) == "en"


# --- the service ---------------------------------------------------------------------------


def test_service_sets_only_the_actors_own_locale(ctx):
    from placement.services.accounts import users

    user = users.create_user(audit.CLI, email="s@example.org", role="on_call", password=PASSWORD)
    db.session.flush()
    preferences.set_locale(audit.Actor.for_user(user), " en ")
    assert user.locale == "en"
    preferences.set_locale(audit.Actor.for_user(user), None)
    assert user.locale is None
    with pytest.raises(RuleViolation) as caught:
        preferences.set_locale(audit.Actor.for_user(user), "fr")
    assert caught.value.field == "locale" and caught.value.params == {"allowed": "de, en"}
    with pytest.raises(Forbidden):
        preferences.set_locale(audit.CLI, "en")  # a process has no settings of its own


# --- the catalogue -------------------------------------------------------------------------


def _extracted(tmp_path: Path):
    """The messages of the current sources, as `make translations` extracts them."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "--add-location=file",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        return read_po(f)


def _english():
    with CATALOGUE.open("rb") as f:
        return read_po(f)


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return all(strings) and not message.fuzzy


def test_catalogue_translates_every_message_of_the_sources(tmp_path):
    sources = _extracted(tmp_path)
    english = _english()
    assert len(sources) > 100  # the extraction found the sources
    problems = []
    for message in sources:
        if not message.id:
            continue
        where = ", ".join(sorted({path for path, _line in message.locations}))
        entry = english.get(message.id)
        if entry is None:
            problems.append(f"  [new]   {where}: {message.id!r}")
        elif entry.fuzzy:
            problems.append(f"  [fuzzy] {where}: {message.id!r} (guess: {entry.string!r})")
        elif not _translated(entry):
            problems.append(f"  [empty] {where}: {message.id!r}")
    assert not problems, (
        f"{len(problems)} message(s) of the sources have no English translation. Run "
        "`make translations`, translate these entries in "
        "placement/translations/en/LC_MESSAGES/messages.po (fill msgstr; for [fuzzy] check "
        "the guess and delete the `#, fuzzy` line), then run `make translations` again:\n"
        + "\n".join(problems)
    )


def test_catalogue_translations_keep_the_placeholders():
    english = _english()
    problems = [
        f"  {message.id!r}: {error}"
        for message in english
        if message.id and _translated(message)
        for error in message.check(english)
    ]
    # Jinja's gettext always applies %: a lone % in a text without placeholders breaks it.
    problems += [
        f"  {message.id!r}: a lone % in {message.string!r}"
        for message in english
        if message.id
        and isinstance(message.string, str)
        and not message.python_format
        and "%" in message.string.replace("%%", "")
    ]
    assert not problems, "Translations that do not fit their message:\n" + "\n".join(problems)


def test_catalogue_compiled_file_is_up_to_date():
    """The .mo is committed (a fresh clone and the wheel need it); it must be the .po's."""
    english = _english()
    with COMPILED.open("rb") as f:
        compiled = read_mo(f)

    def key(message):
        return message.id if isinstance(message.id, str) else tuple(message.id)

    def value(message):
        return message.string if isinstance(message.string, str) else tuple(message.string)

    expected = {key(m): value(m) for m in english if m.id and m.string and not m.fuzzy}
    actual = {key(m): value(m) for m in compiled if m.id}
    stale = sorted(str(k) for k in expected.keys() ^ actual.keys()) + sorted(
        str(k) for k in expected.keys() & actual.keys() if expected[k] != actual[k]
    )
    assert not stale, (
        "placement/translations/en/LC_MESSAGES/messages.mo is older than messages.po; run "
        "`make translations` (or `pybabel compile -d placement/translations`). Differs: "
        + "; ".join(stale[:20])
    )


@pytest.mark.slow
def test_wheel_carries_the_compiled_messages(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("platzplan-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "placement/translations/en/LC_MESSAGES/messages.mo" in names
    assert "placement/translations/en/LC_MESSAGES/messages.po" in names
