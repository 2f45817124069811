"""Facility administration: profiles, places from an instant (nothing overwritten), the
over-usable confirmation, "confirm occupancy", the facility scope of managers, the pages
and `flask users create --facility`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, CapacityPeriod, Facility, User
from placement.services.accounts import audit, users
from placement.services.errors import Code, Conflict, Forbidden, NotFound, RuleViolation
from placement.services.facilities import admin
from placement.services.intake import places
from placement.services.intake.places import PlaceQuery
from placement.services.occupancy import capacity
from placement.services.occupancy.capacity import CapacityChange
from placement.timeutil import BERLIN
from tests.conftest import PASSWORD, at, create_facility, create_stay, create_youth

ADMIN = audit.Actor("admin@example.org", None, "admin")


def _manager(email: str = "leitung@example.org", *facility_ids: int) -> audit.Actor:
    user = users.create_user(
        audit.CLI,
        email=email,
        role="facility_manager",
        password=PASSWORD,
        facility_ids=list(facility_ids),
    )
    db.session.flush()
    return audit.Actor.for_user(user)


def _periods(facility_id: int) -> list[CapacityPeriod]:
    return db.session.scalars(
        sa.select(CapacityPeriod)
        .where(CapacityPeriod.facility_id == facility_id)
        .order_by(CapacityPeriod.valid_from)
    ).all()


def _actions(object_type: str | None = None) -> list[str]:
    query = sa.select(AuditEvent.action).order_by(AuditEvent.id)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    return list(db.session.scalars(query))


def _fill(facility, n: int, start: str = "2024-01-01 10:00") -> None:
    for _ in range(n):
        create_stay(create_youth(), facility, start)


# --- places from an instant ------------------------------------------------------------------


def test_change_from_an_instant_closes_the_period_in_force_and_opens_a_new_one(ctx):
    house = create_facility(licensed=10)
    actor = _manager("a@example.org", house.id)
    first = _periods(house.id)[0]
    change = CapacityChange(valid_from=at("2025-03-01 08:00"), usable=8, kept_free=2)
    result = capacity.change_capacity(actor, house.id, change)
    periods = _periods(house.id)
    assert [(p.valid_from, p.valid_until) for p in periods] == [
        (at("2020-01-01 00:00"), at("2025-03-01 08:00")),
        (at("2025-03-01 08:00"), None),
    ]
    new = periods[1]
    # Fields left out keep the value in force then.
    assert (new.licensed_places, new.usable_places, new.reserved_places) == (10, 8, 2)
    assert new.created_by_id == actor.user_id and new.created_at is not None
    assert result.closed.id == first.id and [p.id for p in result.created] == [new.id]
    summary = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "facility.capacity")
    )
    assert summary.before["period"]["usable_places"] == 10
    assert summary.after["periods"][0]["usable_places"] == 8
    assert summary.user_id == actor.user_id
    close = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "capacity_period.close")
    )
    assert close.before["valid_until"] is None and close.after["valid_until"].startswith("2025")


def test_ceiling_until_a_date_is_followed_by_the_same_places_without_ceiling(ctx):
    house = create_facility(licensed=48)
    change = CapacityChange(
        valid_from=at("2025-11-06 09:00"),
        usable=60,
        ceiling=76,
        ceiling_until=date(2026, 3, 31),
        ceiling_reference="LJA-2025-117",
    )
    capacity.change_capacity(ADMIN, house.id, change)
    periods = _periods(house.id)
    ceiling, after = periods[1], periods[2]
    end = datetime(2026, 4, 1, tzinfo=BERLIN).astimezone(UTC)  # end of 31 March, Berlin
    assert (ceiling.valid_from, ceiling.valid_until) == (at("2025-11-06 09:00"), end)
    assert (ceiling.temporary_ceiling, ceiling.usable_places) == (76, 60)
    assert ceiling.ceiling_reference == "LJA-2025-117"
    assert (after.valid_from, after.valid_until) == (end, None)
    assert (after.licensed_places, after.usable_places, after.temporary_ceiling) == (48, 48, None)
    assert after.ceiling_reference is None


def test_ceiling_inside_a_bounded_period_runs_to_its_end_and_overlaps_are_refused(ctx):
    house = create_facility(licensed=10)
    capacity.change_capacity(ADMIN, house.id, CapacityChange(valid_from=at("2025-06-01 00:00")))
    # Periods: [2020, 2025-06-01) and [2025-06-01, open). A ceiling in the first one ends
    # before June and is followed by the old places up to June.
    change = CapacityChange(
        valid_from=at("2025-02-01 00:00"),
        ceiling=12,
        usable=12,
        ceiling_until=date(2025, 3, 31),
        ceiling_reference="Az 1",
    )
    capacity.change_capacity(ADMIN, house.id, change)
    spans = [(p.valid_from, p.valid_until, p.temporary_ceiling) for p in _periods(house.id)]
    april = datetime(2025, 4, 1, tzinfo=BERLIN).astimezone(UTC)
    assert spans == [
        (at("2020-01-01 00:00"), at("2025-02-01 00:00"), None),
        (at("2025-02-01 00:00"), april, 12),
        (april, at("2025-06-01 00:00"), None),
        (at("2025-06-01 00:00"), None, None),
    ]
    too_long = CapacityChange(
        valid_from=at("2025-04-10 00:00"),
        ceiling=12,
        ceiling_until=date(2025, 7, 31),
        ceiling_reference="Az 2",
    )
    with pytest.raises(RuleViolation) as error:
        capacity.change_capacity(ADMIN, house.id, too_long)
    assert error.value.code == Code.PERIOD_OVERLAPS_NEXT and error.value.field == "ceiling_until"
    same_start = CapacityChange(valid_from=at("2025-06-01 00:00"), usable=5)
    with pytest.raises(RuleViolation) as error:
        capacity.change_capacity(ADMIN, house.id, same_start)
    assert error.value.code == Code.PERIOD_STARTS_THERE and error.value.field == "valid_from"


def test_a_kept_ceiling_keeps_its_end_and_null_removes_it(ctx):
    house = create_facility(licensed=10)
    first = CapacityChange(
        valid_from=at("2025-01-01 00:00"),
        ceiling=14,
        usable=14,
        ceiling_until=date(2025, 12, 31),
        ceiling_reference="Az 7",
    )
    capacity.change_capacity(ADMIN, house.id, first)
    # Usable places change during the ceiling: the ceiling, its end and reference stay.
    capacity.change_capacity(
        ADMIN, house.id, CapacityChange(valid_from=at("2025-05-01 00:00"), usable=12)
    )
    may = _periods(house.id)[2]
    assert (may.temporary_ceiling, may.ceiling_reference, may.usable_places) == (14, "Az 7", 12)
    assert may.valid_until == datetime(2026, 1, 1, tzinfo=BERLIN).astimezone(UTC)
    # The same last day typed again (the form sends it prefilled) changes nothing either.
    capacity.change_capacity(
        ADMIN,
        house.id,
        CapacityChange(
            valid_from=at("2025-06-01 00:00"),
            ceiling=14,
            usable=13,
            ceiling_until=date(2025, 12, 31),
            ceiling_reference="Az 7",
        ),
    )
    # Ending the ceiling early: null, without a reference.
    capacity.change_capacity(
        ADMIN, house.id, CapacityChange(valid_from=at("2025-08-01 00:00"), ceiling=None, usable=10)
    )
    august = _periods(house.id)[4]
    assert august.temporary_ceiling is None and august.ceiling_reference is None
    assert august.valid_until == datetime(2026, 1, 1, tzinfo=BERLIN).astimezone(UTC)
    assert len(_periods(house.id)) == 6


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        (dict(usable=11), Code.USABLE_ABOVE_LIMIT, "usable"),
        (dict(licensed=-1), Code.NEGATIVE_PLACES, "licensed"),
        (dict(kept_free=11), Code.KEPT_FREE_ABOVE_USABLE, "kept_free"),
        (dict(ceiling=10, ceiling_until=date(2026, 1, 1), ceiling_reference="x"),
         Code.CEILING_NOT_ABOVE_LICENSED, "ceiling"),
        (dict(ceiling=12, ceiling_reference="x"), Code.CEILING_END_REQUIRED, "ceiling_until"),
        (dict(ceiling=12, ceiling_until=date(2026, 1, 1)),
         Code.CEILING_REFERENCE_REQUIRED, "ceiling_reference"),
        (dict(ceiling_until=date(2026, 1, 1)), Code.CEILING_END_WITHOUT_CEILING, "ceiling_until"),
        (dict(ceiling=12, ceiling_until=date(2025, 1, 1), ceiling_reference="x"),
         Code.PERIOD_END_BEFORE_START, "ceiling_until"),
        (dict(ceiling_reference="x" * 201, ceiling=12, ceiling_until=date(2026, 1, 1)),
         Code.TOO_LONG, "ceiling_reference"),
    ],
)  # fmt: skip
def test_capacity_rules_name_their_field_and_write_nothing(ctx, change, code, field):
    house = create_facility(licensed=10)
    db.session.commit()
    before = len(_actions())
    with pytest.raises(RuleViolation) as error:
        capacity.change_capacity(
            ADMIN, house.id, CapacityChange(valid_from=at("2025-06-01 00:00"), **change)
        )
    assert (error.value.code, error.value.field) == (code, field)
    db.session.rollback()
    assert len(_periods(house.id)) == 1
    assert len(_actions()) <= before


def test_without_places_in_force_licensed_places_are_required(ctx):
    house = create_facility(licensed=10, valid_from=at("2025-01-01 00:00"))
    with pytest.raises(RuleViolation) as error:
        capacity.change_capacity(
            ADMIN, house.id, CapacityChange(valid_from=at("2024-01-01 00:00"), usable=3)
        )
    assert (error.value.code, error.value.field) == (Code.CAPACITY_REQUIRED, "licensed")
    # Before the first period: the new one ends where the existing one begins.
    capacity.change_capacity(
        ADMIN, house.id, CapacityChange(valid_from=at("2024-01-01 00:00"), licensed=4)
    )
    first = _periods(house.id)[0]
    assert (first.valid_until, first.usable_places) == (at("2025-01-01 00:00"), 4)


def test_more_people_than_usable_places_asks_for_confirmation_first(ctx):
    house = create_facility(licensed=6)
    _fill(house, 5)
    change = CapacityChange(valid_from=at("2025-01-01 00:00"), usable=3)
    preview = capacity.preview_change(ADMIN, house.id, change)
    assert preview.needs_confirmation and preview.over_by == 2 and preview.occupied == 5
    db.session.commit()
    with pytest.raises(Conflict) as error:
        capacity.change_capacity(ADMIN, house.id, change)
    assert error.value.code == Code.OVER_USABLE_CONFIRMATION
    assert error.value.params["over"] == 2 and error.value.field == "confirmation"
    db.session.rollback()
    assert len(_periods(house.id)) == 1  # nothing written before confirmation
    outdated = CapacityChange(valid_from=at("2025-01-01 00:00"), usable=3, confirmation="x")
    with pytest.raises(capacity.CapacityConfirmationOutdated):
        capacity.change_capacity(ADMIN, house.id, outdated)
    db.session.rollback()
    confirmed = CapacityChange(
        valid_from=at("2025-01-01 00:00"), usable=3, confirmation=preview.confirmation
    )
    result = capacity.change_capacity(ADMIN, house.id, confirmed)
    assert result.over_by == 2 and len(_periods(house.id)) == 2
    # One more admission after the preview: the confirmation no longer matches.
    later = CapacityChange(valid_from=at("2025-02-01 00:00"), usable=2)
    token = capacity.preview_change(ADMIN, house.id, later).confirmation
    _fill(house, 1, "2024-06-01 10:00")
    with pytest.raises(capacity.CapacityConfirmationOutdated) as stale:
        capacity.change_capacity(
            ADMIN,
            house.id,
            CapacityChange(valid_from=at("2025-02-01 00:00"), usable=2, confirmation=token),
        )
    assert stale.value.preview.over_by == 4


def test_raising_places_needs_no_confirmation_even_when_already_over(ctx):
    house = create_facility(licensed=6)
    _fill(house, 8)
    preview = capacity.preview_change(
        ADMIN,
        house.id,
        CapacityChange(
            valid_from=at("2025-01-01 00:00"),
            ceiling=7,
            usable=7,
            ceiling_until=date(2025, 6, 30),
            ceiling_reference="Az",
        ),
    )
    # Afterwards the same places as before: no more people over the usable ones than now.
    assert preview.over_by == 2 and preview.over_before == 2
    assert not preview.needs_confirmation


def test_add_capacity_period_keeps_working_and_records_who(ctx):
    house = create_facility(licensed=3)
    actor = _manager("b@example.org", house.id)
    period = capacity.add_capacity_period(
        actor, house.id, valid_from=at("2025-01-01 00:00"), licensed_places=4
    )
    assert period.created_by_id == actor.user_id and period.licensed_places == 4


# --- scope -------------------------------------------------------------------------------------


def test_managers_act_only_on_their_facilities(ctx):
    mine, other = create_facility(), create_facility()
    actor = _manager("c@example.org", mine.id)
    change = CapacityChange(valid_from=at("2025-01-01 00:00"), usable=5)
    capacity.change_capacity(actor, mine.id, change)
    for call in (
        lambda: capacity.change_capacity(actor, other.id, change),
        lambda: capacity.preview_change(actor, other.id, change),
        lambda: capacity.capacity_page(actor, other.id),
        lambda: admin.update_facility(actor, other.id, {"name": "Fremd"}),
        lambda: admin.confirm_occupancy(actor, other.id),
        lambda: admin.close_facility(actor, other.id),
        # on an error path too: invalid values for a facility that is not theirs
        lambda: admin.update_facility(actor, other.id, {"age_min": 99}),
        lambda: capacity.change_capacity(
            actor, other.id, CapacityChange(valid_from=at("2025-01-01 00:00"), usable=-3)
        ),
    ):
        with pytest.raises(Forbidden):
            call()
    on_call = audit.Actor("nacht", 999, "on_call")
    with pytest.raises(Forbidden):
        admin.confirm_occupancy(on_call, mine.id)
    with pytest.raises(Forbidden):
        admin.create_facility(actor, {"name": "Neu", "kind": "clearing"})
    with pytest.raises(NotFound):
        admin.confirm_occupancy(actor, 999999)
    assert [row.facility.id for row in admin.managed_facilities(actor)] == [mine.id]
    assert {row.facility.id for row in admin.managed_facilities(ADMIN)} == {mine.id, other.id}
    assert admin.may_manage(actor, mine.id) and not admin.may_manage(actor, other.id)


# --- profiles, closing, confirming -------------------------------------------------------------


def test_create_generates_a_unique_url_safe_code_and_first_places(ctx):
    values = {"name": "Notunterkunft Friesenstraße", "kind": "emergency_shelter"}
    first = admin.create_facility(ADMIN, values, licensed=25)
    second = admin.create_facility(ADMIN, values)
    assert first.code == "notunterkunft-friesenstrasse"
    assert second.code.startswith("notunterkunft-friesenstrasse-") and second.code != first.code
    assert re.fullmatch(r"[a-z0-9_-]+", second.code)
    assert [(p.licensed_places, p.usable_places) for p in _periods(first.id)] == [(25, 25)]
    assert _periods(second.id) == []
    assert first.active and first.genders == "dfm" and first.age_max == 17
    given = admin.create_facility(ADMIN, {**values, "genders": ["f"]}, code="fs-2")
    assert given.code == "fs-2" and given.genders == "f"
    with pytest.raises(Conflict) as error:
        admin.create_facility(ADMIN, values, code="fs-2")
    assert (error.value.code, error.value.field) == (Code.FACILITY_CODE_TAKEN, "code")
    with pytest.raises(RuleViolation) as error:
        admin.create_facility(ADMIN, values, code="Mit Leerzeichen")
    assert error.value.code == Code.FACILITY_CODE_INVALID
    assert "facility.create" in _actions("facility")


@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({"name": " "}, Code.MISSING, "name"),
        ({"name": "x" * 201}, Code.TOO_LONG, "name"),
        ({"kind": "burg"}, Code.UNKNOWN_VALUE, "kind"),
        ({"uma_policy": "vielleicht"}, Code.UNKNOWN_VALUE, "uma_policy"),
        ({"genders": []}, Code.GENDERS_REQUIRED, "genders"),
        ({"genders": ["x"]}, Code.UNKNOWN_VALUE, "genders"),
        ({"age_min": 30}, Code.AGE_OUT_OF_RANGE, "age_min"),
        ({"age_min": 16, "age_max": 12}, Code.AGE_RANGE_INVALID, "age_min"),
        ({"postal_code": "0410"}, Code.POSTAL_CODE_INVALID, "postal_code"),
        ({"latitude": None}, Code.LOCATION_INCOMPLETE, "latitude"),
        ({"latitude": 91.0}, Code.LATITUDE_OUT_OF_RANGE, "latitude"),
        ({"longitude": -181.0}, Code.LONGITUDE_OUT_OF_RANGE, "longitude"),
    ],
)
def test_profile_rules(ctx, values, code, field):
    house = create_facility(name="Haus Alt")
    with pytest.raises(RuleViolation) as error:
        admin.update_facility(ADMIN, house.id, values)
    assert (error.value.code, error.value.field) == (code, field)


def test_update_is_audited_with_before_and_after(ctx):
    house = create_facility(name="Haus Alt")
    actor = _manager("d@example.org", house.id)
    admin.update_facility(
        actor,
        house.id,
        {"name": "Haus Neu", "postal_code": "04109", "age_min": 12, "genders": "mf"},
    )
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "facility.update"))
    assert event.before["name"] == "Haus Alt" and event.after["name"] == "Haus Neu"
    assert event.after["genders"] == "fm" and event.after["age_min"] == 12
    admin.update_facility(actor, house.id, {"name": "Haus Neu"})  # nothing changed
    assert _actions("facility").count("facility.update") == 1


def test_closed_facility_takes_no_admissions_and_is_not_suggested(ctx):
    house, other = create_facility(name="Haus Zu"), create_facility(name="Haus Offen")
    _fill(house, 1)
    assert admin.close_facility(ADMIN, house.id, reason="Umbau") == 1
    with pytest.raises(RuleViolation) as error:
        admin.close_facility(ADMIN, house.id)
    assert error.value.code == Code.FACILITY_ALREADY_CLOSED
    actor = audit.Actor("nacht", None, "on_call")
    found = places.find_places(
        actor, PlaceQuery(gender="m", uma=False, age=15), at("2025-01-01 00:00")
    )
    assert [o.facility.id for o in found.options] == [other.id]
    assert house.id not in [f.id for f in places.open_facilities(actor)]
    # Its history stays: periods and stays are untouched.
    assert len(_periods(house.id)) == 1
    with pytest.raises(RuleViolation):
        admin.confirm_occupancy(ADMIN, house.id)
    admin.reopen_facility(ADMIN, house.id)
    with pytest.raises(RuleViolation) as error:
        admin.reopen_facility(ADMIN, house.id)
    assert error.value.code == Code.FACILITY_ALREADY_OPEN
    closing = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "facility.close"))
    assert closing.reason == "Umbau" and closing.after == {"active": False}


def test_confirm_occupancy_and_the_stale_flag(app, ctx):
    house = create_facility()
    actor = _manager("e@example.org", house.id)
    assert capacity.confirmation_stale(None)
    facility = admin.confirm_occupancy(actor, house.id)
    assert facility.confirmed_by_id == actor.user_id
    assert not capacity.confirmation_stale(facility.confirmed_at)
    later = facility.confirmed_at + timedelta(hours=25)
    assert capacity.confirmation_stale(facility.confirmed_at, later)
    app.config["FACILITY_CONFIRMATION_STALE_HOURS"] = 48
    assert not capacity.confirmation_stale(facility.confirmed_at, later)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "facility.confirm"))
    assert event.before["confirmed_at"] is None and event.after["confirmed_by_id"] == actor.user_id


# --- CLI --------------------------------------------------------------------------------------


def test_users_create_assigns_facilities(app, runner):
    with app.app_context():
        a, b = create_facility(name="Haus A"), create_facility(name="Haus B")
        db.session.commit()
        ids = (a.id, b.id)
    args = ["users", "create", "l@example.org", "--role", "facility_manager"]
    result = runner.invoke(
        args=[
            *args,
            "--password",
            "lang-genug-1",
            "--facility",
            str(ids[0]),
            "--facility",
            str(ids[1]),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Haus A" in result.output and "Haus B" in result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(email="l@example.org"))
        assert sorted(f.id for f in user.facilities) == sorted(ids)
    unknown = runner.invoke(
        args=["users", "create", "m@example.org", "--role", "facility_manager",
              "--password", "lang-genug-1", "--facility", "999999"]
    )  # fmt: skip
    assert unknown.exit_code == 1 and "nicht bekannt" in unknown.output
    with app.app_context():
        assert db.session.scalar(sa.select(User).filter_by(email="m@example.org")) is None


# --- pages ------------------------------------------------------------------------------------


@pytest.fixture
def houses(app, client):
    """Two houses; the logged-in facility manager runs the first."""
    with app.app_context():
        mine = create_facility(licensed=6, name="Haus Eigen")
        other = create_facility(licensed=6, name="Haus Fremd")
        _fill(mine, 5)
        users.create_user(
            audit.CLI,
            email="leitung@example.org",
            role="facility_manager",
            password=PASSWORD,
            facility_ids=[mine.id],
        )
        db.session.commit()
        ids = (mine.id, other.id)
    client.post("/auth/login", data={"email": "leitung@example.org", "password": PASSWORD})
    return ids


def test_facility_page_offers_the_actions_only_to_its_managers(client, houses, login):
    mine, other = houses
    html = client.get(f"/facilities/{mine}").get_data(as_text=True)
    for text in ("Bearbeiten", "Plätze ändern", "Belegung bestätigen", "nie bestätigt"):
        assert text in html
    html = client.get(f"/facilities/{other}").get_data(as_text=True)
    assert "Belegung bestätigen" not in html and 'id="edit-facility"' not in html
    for path in (f"/facilities/{other}/edit", f"/facilities/{other}/capacity"):
        assert client.get(path).status_code == 403
    for path in ("confirm", "close", "reopen", "capacity", "edit"):
        assert client.post(f"/facilities/{other}/{path}", data={"name": "x"}).status_code == 403
    assert client.get("/facilities/999999/edit").status_code == 404
    assert client.post("/facilities/999999/confirm").status_code == 404
    assert client.get("/facilities/new").status_code == 403
    login(role="department_head", email="chef@example.org")
    html = client.get(f"/facilities/{mine}").get_data(as_text=True)
    assert "Belegung bestätigen" not in html
    assert client.get("/facilities/").status_code == 302  # the overview


def test_confirm_in_one_click_shows_on_page_overview_and_place_finder(app, client, houses):
    mine, _other = houses
    response = client.post(f"/facilities/{mine}/confirm")
    assert response.status_code == 302
    html = client.get(f"/facilities/{mine}").get_data(as_text=True)
    assert "bestätigt (Stand" in html and "leitung@example.org" in html
    assert "nie bestätigt" not in html.split('id="confirmed-at"')[1].split("</dd>")[0]
    board = client.get("/").get_data(as_text=True)
    row = re.search(rf'<tr[^>]*data-facility="{mine}".*?</tr>', board, re.S).group(0)
    assert "Bestätigung veraltet" not in row and "nie bestätigt" not in row
    other_row = re.search(rf'<tr[^>]*data-facility="{_other}".*?</tr>', board, re.S).group(0)
    assert "nie bestätigt" in other_row
    with app.app_context():
        facility = db.session.get(Facility, mine)
        facility.confirmed_at -= timedelta(hours=30)
        db.session.commit()
    board = client.get("/").get_data(as_text=True)
    row = re.search(rf'<tr[^>]*data-facility="{mine}".*?</tr>', board, re.S).group(0)
    assert "Bestätigung veraltet" in row
    finder = client.get("/intake/places?age=15&gender=m&uma=0").get_data(as_text=True)
    row = re.search(rf'<tr[^>]*data-facility="{mine}".*?</tr>', finder, re.S).group(0)
    assert "Zahlen bestätigt" in row and "Bestätigung veraltet" in row


def _confirmation(html: str) -> str:
    return re.search(r'name="confirm"[^>]*value="([^"]*)"', html).group(1)


def test_capacity_page_lists_history_and_confirms_before_going_over_usable(app, client, houses):
    mine, _other = houses
    html = client.get(f"/facilities/{mine}/capacity").get_data(as_text=True)
    assert 'id="capacity-history"' in html and 'value="6"' in html  # prefilled
    form = {"valid_from": "2025-03-01T08:00", "licensed": "6", "usable": "3", "kept_free": "0"}
    response = client.post(f"/facilities/{mine}/capacity", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="capacity-confirm"' in html
    assert "2 Personen mehr untergebracht" in html
    with app.app_context():
        assert len(_periods(mine)) == 1  # nothing written yet
    response = client.post(
        f"/facilities/{mine}/capacity", data={**form, "confirm": _confirmation(html)}
    )
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "01.03.2025 08:00" in html and "leitung@example.org" in html
    with app.app_context():
        periods = _periods(mine)
        assert [p.usable_places for p in periods] == [6, 3]


def test_a_change_from_now_is_confirmed_for_the_instant_previewed(app, client, houses):
    mine, _other = houses
    form = {"valid_from": "", "licensed": "6", "usable": "2", "kept_free": "0"}
    html = client.post(f"/facilities/{mine}/capacity", data=form).get_data(as_text=True)
    shown = re.search(r'name="valid_from"[^>]*value="([^"]+)"', html).group(1)
    response = client.post(
        f"/facilities/{mine}/capacity",
        data={**form, "valid_from": shown, "confirm": _confirmation(html)},
    )
    assert response.status_code == 302
    with app.app_context():
        assert [p.usable_places for p in _periods(mine)] == [6, 2]


def test_capacity_page_errors_name_the_field_and_keep_input(app, client, houses):
    mine, _other = houses
    form = {
        "valid_from": "2025-03-01T08:00",
        "licensed": "6",
        "usable": "8",
        "ceiling": "9",
        "ceiling_until": "",
        "ceiling_reference": "LJA 5",
    }
    response = client.post(f"/facilities/{mine}/capacity", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enddatum" in html and 'value="LJA 5"' in html and 'value="8"' in html
    response = client.post(
        f"/facilities/{mine}/capacity", data={**form, "ceiling": "", "ceiling_reference": ""}
    )
    assert response.status_code == 422
    assert "nicht übersteigen" in response.get_data(as_text=True)
    response = client.post(f"/facilities/{mine}/capacity", data={**form, "licensed": "viele"})
    assert response.status_code == 422
    response = client.post(
        f"/facilities/{mine}/capacity", data={**form, "valid_from": "2026-03-29T02:30"}
    )
    assert response.status_code == 422
    with app.app_context():
        assert len(_periods(mine)) == 1


def test_edit_page_saves_and_shows_errors_at_their_fields(app, client, houses):
    mine, _other = houses
    html = client.get(f"/facilities/{mine}/edit").get_data(as_text=True)
    assert 'value="Haus Eigen"' in html
    form = {
        "name": "Haus Eigen Süd",
        "kind": "clearing",
        "postal_code": "04109",
        "city": "Leipzig",
        "age_min": "12",
        "age_max": "17",
        "genders": ["f", "m"],
        "uma_policy": "only",
        "latitude": "51.3",
        "longitude": "12.4",
    }
    assert client.post(f"/facilities/{mine}/edit", data=form).status_code == 302
    with app.app_context():
        facility = db.session.get(Facility, mine)
        assert (facility.name, facility.kind.value, facility.genders) == (
            "Haus Eigen Süd",
            "clearing",
            "fm",
        )
    response = client.post(f"/facilities/{mine}/edit", data={**form, "age_min": "18"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Mindestalter" in html and 'value="Haus Eigen Süd"' in html
    response = client.post(f"/facilities/{mine}/edit", data={**form, "postal_code": "abc"})
    assert response.status_code == 422 and "fünf Ziffern" in response.get_data(as_text=True)
    response = client.post(f"/facilities/{mine}/edit", data={**form, "genders": []})
    assert response.status_code == 422 and "mindestens ein Geschlecht" in response.get_data(
        as_text=True
    )


def test_close_and_reopen_from_the_edit_page(app, client, houses):
    mine, _other = houses
    response = client.post(f"/facilities/{mine}/close", data={"reason": "Wasserschaden"})
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "geschlossen" in html and "5 Aufenthalte offen" in html
    again = client.post(f"/facilities/{mine}/close", follow_redirects=True)
    assert "bereits geschlossen" in again.get_data(as_text=True)
    assert 'id="facility-closed"' in client.get(f"/facilities/{mine}").get_data(as_text=True)
    # The manager's list still shows the closed house.
    assert "Haus Eigen" in client.get("/facilities/").get_data(as_text=True)
    assert client.post(f"/facilities/{mine}/reopen").status_code == 302
    with app.app_context():
        assert db.session.get(Facility, mine).active


def test_administrator_creates_a_facility_from_the_list(app, client, login):
    login(role="admin", email="admin@example.org")
    html = client.get("/facilities/").get_data(as_text=True)
    assert "Neue Einrichtung" in html
    form = {
        "name": "Notunterkunft Friesenstraße",
        "kind": "emergency_shelter",
        "age_min": "14",
        "age_max": "17",
        "genders": ["m"],
        "uma_policy": "only",
        "licensed": "25",
    }
    response = client.post("/facilities/new", data=form)
    assert response.status_code == 302
    with app.app_context():
        facility = db.session.scalar(sa.select(Facility))
        assert facility.code == "notunterkunft-friesenstrasse"
        assert [p.licensed_places for p in _periods(facility.id)] == [25]
    response = client.post("/facilities/new", data={**form, "name": ""})
    assert response.status_code == 422 and "fehlt" in response.get_data(as_text=True)
    response = client.post("/facilities/new", data={**form, "code": "notunterkunft-friesenstrasse"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "bereits vergeben" in html
    assert 'value="Notunterkunft Friesenstraße"' in html
