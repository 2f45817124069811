"""The audit page for department heads and admins: filters, pages, CSV export; reading it
is audited; personal values are masked for readers who may not see persons."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from placement.extensions import db
from placement.models import AuditEvent, User
from placement.services.accounts import audit
from placement.services.accounts.audit_log import AuditQuery, audit_page
from placement.services.errors import Forbidden, RuleViolation
from tests.conftest import at, create_youth


def _fill(app, views=3):
    with app.app_context():
        youth = create_youth(reference="PROT-1", file_number="AZ-PROT")
        audit.record(audit.CLI, "youth.create", youth, after=audit.snapshot(youth))
        for n in range(views):
            audit.record(
                audit.SYSTEM, "facility.residents.view", object_type="facility", object_id=n
            )
        db.session.commit()
        return youth.id


def _user_id(app, email):
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def test_department_head_reads_the_trail_with_personal_values_masked(app, client, login):
    youth_id = _fill(app)
    login("department_head", "chef@example.org")
    page = client.get("/audit/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="audit-entries"' in html and "youth.create" in html
    assert "PROT-1" not in html and "AZ-PROT" not in html and "•••" in html
    assert f"youth {youth_id}" in html
    # Reading is audited, with the ids of the entries shown.
    with app.app_context():
        seen = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "audit.view").order_by(AuditEvent.seq)
        )
        assert seen.actor == "chef@example.org" and seen.object_type == "audit_event"
        assert len(seen.after["entry_ids"]) == seen.after["total"] >= 5
        assert audit.verify_chain().ok


def test_admins_read_the_trail_masked_too(app, client, login):
    # Admins manage accounts, not cases: the trail names records by id, the values stay hidden.
    _fill(app)
    login("admin", "admin@example.org")
    html = client.get("/audit/?action=youth.create").get_data(as_text=True)
    assert "youth.create" in html and "•••" in html
    assert "PROT-1" not in html and "AZ-PROT" not in html


@pytest.mark.parametrize("role", ["on_call", "facility_manager"])
def test_other_roles_are_refused(app, client, login, role):
    login(role, f"{role}@example.org")
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/?format=csv").status_code == 403


def test_login_required(client):
    response = client.get("/audit/")
    assert response.status_code in (302, 401)


def test_navigation_entry(app, client, login):
    login("department_head", "chef@example.org")
    assert 'href="/audit/"' in client.get("/audit/").get_data(as_text=True)
    client.get("/auth/logout")
    login("on_call", "nacht@example.org")
    assert 'href="/audit/"' not in client.get("/people/search").get_data(as_text=True)


def test_filters(app, client, login):
    _fill(app, views=3)
    login("department_head", "chef@example.org")
    chef = _user_id(app, "chef@example.org")

    def seqs(query):
        html = client.get("/audit/" + query).get_data(as_text=True)
        return html.count("<tr data-seq=")

    assert seqs("?action=facility.residents.view") == 3
    assert seqs("?action=facility.") == 3  # a group: every facility.* action
    assert seqs("?object_type=facility&object_id=1") == 1
    assert seqs("?user=system") == 3  # the views; the youth was recorded by "cli"
    assert seqs("?user=cli&action=youth.create") == 1
    assert seqs(f"?user={chef}&action=audit.view") >= 1
    assert seqs("?since=2000-01-01T00:00&until=2000-01-02T00:00") == 0


def test_user_filter_separates_accounts_and_system_actors(ctx):
    audit.record(audit.SYSTEM, "x.one", object_type="t")
    audit.record(audit.CLI, "x.two", object_type="t")
    db.session.commit()
    page = audit_page(audit.SYSTEM, AuditQuery(user="cli", action="x."))
    assert [e.action for e in page.items] == ["x.two"]
    page = audit_page(audit.SYSTEM, AuditQuery(action="x.", since=at("2000-01-01 00:00")))
    assert [e.action for e in page.items] == ["x.two", "x.one"]  # newest first


def test_pagination(app, client, login):
    app.config["AUDIT_PAGE_SIZE"] = 2
    _fill(app, views=5)
    login("department_head", "chef@example.org")
    first = client.get("/audit/?action=facility.residents.view").get_data(as_text=True)
    assert first.count("<tr data-seq=") == 2 and 'rel="next"' in first
    third = client.get("/audit/?action=facility.residents.view&page=3").get_data(as_text=True)
    assert third.count("<tr data-seq=") == 1 and 'rel="prev"' in third


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("?object_id=abc", "object_id", ""),
        ("?object_id=-4", "object_id", ""),
        ("?page=0", "page", ""),
        ("?since=gestern", "since", ""),
        ("?user=nobody", "user", ""),
        ("?since=2024-05-02T10:00&until=2024-05-01T10:00", "until", "nach dem Beginn"),
        ("?since=2024-03-31T02:30", "since", ""),  # the spring gap: no such Berlin time
    ],
)
def test_bad_input_is_a_422_naming_the_field(app, client, login, query, field, message):
    login("department_head", "chef@example.org")
    response = client.get("/audit/" + query)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    if field == "page":  # no visible field: the message is shown above the table
        assert 'class="alert alert-danger"' in html and "Seite" in html
    else:
        assert f'id="{field}-error"' in html
    assert message in html


def test_service_refuses_bad_filters_and_other_roles(ctx):
    with pytest.raises(RuleViolation) as caught:
        audit_page(audit.SYSTEM, AuditQuery(action="x" * 61))
    assert caught.value.field == "action"
    with pytest.raises(RuleViolation):
        audit_page(audit.SYSTEM, AuditQuery(object_id=-1))
    with pytest.raises(RuleViolation):
        audit_page(audit.SYSTEM, AuditQuery(), page=0)
    on_call = audit.Actor("x", role="on_call")
    with pytest.raises(Forbidden):
        audit_page(on_call, AuditQuery())
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.view")) is None


def test_csv_export(app, client, login):
    _fill(app, views=2)
    login("department_head", "chef@example.org")
    response = client.get("/audit/?action=facility.residents.view&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][0] == "Nr." and rows[0][4] == "Aktion"
    assert len(rows) == 3 and {r[4] for r in rows[1:]} == {"facility.residents.view"}
    with app.app_context():
        exported = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.export"))
        assert exported.after["rows"] == 2


def test_csv_cells_are_neutralised_and_masked(app, client, login):
    with app.app_context():
        audit.record(
            audit.Actor("=HYPERLINK(1)"), "x.y", object_type="t", after={"reference": "GEHEIM"}
        )
        db.session.commit()
    login("department_head", "chef@example.org")
    text = client.get("/audit/?action=x.y&format=csv").get_data().decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text and "GEHEIM" not in text


# --- views record the ids of the records shown ------------------------------------------


def _last(action):
    return db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq.desc())
    )


def test_views_record_the_ids_shown(ctx):
    from placement.services.people import lists, search
    from placement.services.reporting.facility_page import facility_page
    from placement.timeutil import now
    from tests.conftest import create_facility, create_stay

    facility = create_facility()
    a = create_youth(reference="IDS-1")
    b = create_youth(reference="IDS-2")
    create_youth(reference="ANDERS-1")
    stay_a = create_stay(a, facility, "2024-01-01 08:00")
    stay_b = create_stay(b, facility, "2024-02-01 08:00")
    db.session.commit()
    instant = now()
    admin = audit.SYSTEM  # every scope (the roles are the authorisation tests' part)

    search.search_youths(admin, "IDS", instant, page_size=1)
    event = _last("youths.search")
    assert event.after["total"] == 2 and event.after["youth_ids"] == [a.id]

    lists.list_stays(admin, instant)
    event = _last("stays.view")
    assert sorted(event.after["stay_ids"]) == sorted([stay_a.id, stay_b.id])
    assert sorted(event.after["youth_ids"]) == sorted([a.id, b.id])

    facility_page(admin, facility.id, instant)
    event = _last("facility.residents.view")
    assert event.after["residents"] == 2
    assert sorted(event.after["stay_ids"]) == sorted([stay_a.id, stay_b.id])
    assert audit.verify_chain().ok
