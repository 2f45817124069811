"""Move planning in the services and the plan worker: how the database becomes a
``placement-scenario/1`` document, bad parameters, solving with a lease, review, approval,
execution (all or nothing, stale plans refused), cancel and replan.

Solver results are compared through the solver's own validator and objective values,
never through exact assignments."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from placement.extensions import db
from placement.models import AuditEvent, Facility, Plan, PlanStatus, Stay, Youth
from placement.models.enums import EndReason, Role
from placement.services.accounts import audit, users
from placement.services.errors import (
    BadInput,
    Code,
    Conflict,
    Forbidden,
    NotFound,
    RuleViolation,
)
from placement.services.intake import reservations
from placement.services.intake import stays as stay_service
from placement.services.occupancy import capacity
from placement.services.planning import plans, runner
from placement.services.planning.plans import StaleCode
from placement.services.planning.scenario import (
    PlanParameters,
    build_scenario,
    check_parameters,
)
from placement.timeutil import now
from placement.worker import PlanWorker
from solver.model import PLAN_FORMAT
from solver.parse import parse_scenario_dict
from solver.validate import validate_plan
from tests.conftest import at, create_facility, create_stay, create_youth

HEAD = audit.Actor("chef", None, Role.DEPARTMENT_HEAD)
MANAGER = audit.Actor("leitung", None, Role.FACILITY_MANAGER)
ON_CALL = audit.Actor("nacht", None, Role.ON_CALL)

T = at("2024-06-01 10:00")  # a fixed planning instant for scenario tests
EARLY = "2024-01-01 08:00"  # stays that started long before T (and before now)

# Three houses a few km apart in Leipzig.
NORTH = {"latitude": 51.37, "longitude": 12.37}
SOUTH = {"latitude": 51.30, "longitude": 12.38}
WEST = {"latitude": 51.33, "longitude": 12.30}


# --- helpers --------------------------------------------------------------------------------


def years_ago(years: int, days: int = 0) -> date:
    """The day ``years`` years before today, ``days`` later (29 February: 1 March)."""
    today = now().date()
    try:
        day = today.replace(year=today.year - years)
    except ValueError:
        day = date(today.year - years, 3, 1)
    return day + timedelta(days=days)


def born(years: int) -> date:
    """A birth date of someone ``years`` old whose birthday is two months away."""
    return years_ago(years, -60)


def ago(**delta) -> str:
    """'YYYY-MM-DD HH:MM' of an instant ``delta`` before now (for ``create_stay``)."""
    return (now() - timedelta(**delta)).strftime("%Y-%m-%d %H:%M")


def scenario_at(instant=T, **parameters):
    """The scenario document at ``instant``, built from what the database holds."""
    db.session.commit()  # objects read back from the database, as in a request
    return build_scenario(PlanParameters(**parameters), instant).document


def facility_doc(document, facility):
    return next(f for f in document["facilities"] if f["id"] == str(facility.id))


def youth_doc(document, youth):
    return next(y for y in document["youths"] if y["id"] == str(youth.id))


def solve(app) -> int | None:
    """Commit what the test wrote and let a worker solve the oldest queued plan (outside
    this session, as in production); the session then reads afresh."""
    db.session.commit()
    plan_id = PlanWorker(app).run_once()
    db.session.expire_all()
    return plan_id


def open_stay(youth_id: int) -> Stay | None:
    return stay_service.open_stay_of(youth_id)


def transfers() -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Stay).where(Stay.end_reason == EndReason.TRANSFER)
    )


def objective_tuple(objective: dict) -> tuple[int, ...]:
    return tuple(objective[k] for k in ("overflow", "reserve_shortfall", "moves", "distance"))


@pytest.fixture
def overfull(ctx):
    """House A (1 place) with three youths, B (5 places) and C (5 places) free."""
    a = create_facility(licensed=1, name="Haus A", **NORTH)
    b = create_facility(licensed=5, name="Haus B", **SOUTH)
    c = create_facility(licensed=5, name="Haus C", **WEST)
    youths = [create_youth(birth_date=born(14)) for _ in range(3)]
    for youth in youths:
        create_stay(youth, a, EARLY)
    db.session.commit()
    return a, b, c, youths


@pytest.fixture
def siblings(ctx):
    """House A (1 place): x (pinned stay), siblings s1 and s2 (group G1), y; house B has 5
    places. Every optimal plan moves s1, s2 and y to B (three moves, one route)."""
    a = create_facility(licensed=1, name="Haus A", **NORTH)
    b = create_facility(licensed=5, name="Haus B", **SOUTH)
    x, s1, s2, y = (create_youth(birth_date=born(14)) for _ in range(4))
    s1.sibling_group = s2.sibling_group = "G1"
    create_stay(x, a, EARLY, pinned=True)
    for youth in (s1, s2, y):
        create_stay(youth, a, EARLY)
    db.session.commit()
    return {"a": a.id, "b": b.id, "x": x.id, "s1": s1.id, "s2": s2.id, "y": y.id}


def proposed(app, **parameters) -> Plan:
    """A plan created now and solved by the worker."""
    db.session.commit()
    plan_id = plans.create_plan(HEAD, PlanParameters(**parameters)).id
    assert solve(app) == plan_id
    plan = db.session.get(Plan, plan_id)
    assert plan.status == PlanStatus.PROPOSED, plan.error
    return plan


# --- scenario: facilities -------------------------------------------------------------------


def test_capacity_is_usable_minus_reservations_and_held_places(ctx):
    house = create_facility(licensed=10, name="Haus Voll", **NORTH)
    capacity.add_capacity_period(
        audit.SYSTEM,
        house.id,
        valid_from=at("2024-01-01 00:00"),
        licensed_places=10,
        usable_places=8,
        reserved_places=2,
    )
    for _ in range(2):
        create_stay(create_youth(), house, EARLY)
    gone = create_stay(create_youth(), house, EARLY)
    stay_service.discharge(audit.SYSTEM, gone.id, reason="absconded")  # place held
    reservations.reserve(audit.SYSTEM, facility_id=house.id)
    db.session.flush()
    doc = facility_doc(scenario_at(now() + timedelta(seconds=1), keep_free=1), house)
    assert doc["capacity"] == 8 - 1 - 1  # usable - reservation - held (occupants are youths)
    assert doc["reserve"] == 2 + 1  # kept-free places + the plan's keep_free


def test_temporary_ceiling_in_force_counts_and_a_future_period_does_not(ctx):
    house = create_facility(licensed=10, **NORTH)
    capacity.add_capacity_period(
        audit.SYSTEM,
        house.id,
        valid_from=at("2024-01-01 00:00"),
        licensed_places=10,
        temporary_ceiling=12,
        usable_places=12,
    )
    capacity.add_capacity_period(
        audit.SYSTEM, house.id, valid_from=at("2030-01-01 00:00"), licensed_places=3
    )
    assert facility_doc(scenario_at(), house)["capacity"] == 12


def test_without_a_period_in_force_a_facility_has_no_capacity(ctx):
    later = create_facility(licensed=4, valid_from=at("2030-01-01 00:00"), **NORTH)
    create_stay(create_youth(), later, EARLY)
    doc = facility_doc(scenario_at(), later)
    assert (doc["capacity"], doc["reserve"]) == (0, 0)


@pytest.mark.parametrize(
    ("licensed", "kept_free", "keep_free", "reserve"),
    [(10, 0, 0, 0), (10, 2, 0, 2), (10, 2, 3, 5), (3, 2, 5, 3), (2, 2, 50, 2)],
)
def test_reserve_is_kept_free_plus_keep_free_capped_at_capacity(
    ctx, licensed, kept_free, keep_free, reserve
):
    house = create_facility(licensed=licensed, **NORTH)
    capacity.add_capacity_period(
        audit.SYSTEM,
        house.id,
        valid_from=at("2024-01-01 00:00"),
        licensed_places=licensed,
        reserved_places=kept_free,
    )
    doc = facility_doc(scenario_at(keep_free=keep_free), house)
    assert doc["capacity"] == licensed
    assert doc["reserve"] == reserve


def test_profile_kind_name_and_location(ctx):
    house = create_facility(
        licensed=4,
        name="Clearing Ost",
        kind="clearing",
        age_min=12,
        age_max=16,
        genders="fm",
        uma_policy="only",
        latitude=51.34,
        longitude=12.45,
    )
    doc = facility_doc(scenario_at(), house)
    assert doc == {
        "id": str(house.id),
        "name": "Clearing Ost",
        "kind": "clearing",
        "capacity": 4,
        "reserve": 0,
        "age_min": 12,
        "age_max": 16,
        "genders": ["f", "m"],
        "uma": "only",
        "location": [51.34, 12.45],
    }


def test_inactive_facility_with_residents_has_capacity_zero_and_without_is_left_out(ctx):
    closing = create_facility(licensed=6, active=False, **NORTH)
    closed = create_facility(licensed=6, active=False, **SOUTH)
    open_house = create_facility(licensed=6, **WEST)
    resident = create_youth(birth_date=born(14))
    create_stay(resident, closing, EARLY)
    document = scenario_at()
    assert [f["id"] for f in document["facilities"]] == [str(closing.id), str(open_house.id)]
    doc = facility_doc(document, closing)
    assert (doc["capacity"], doc["reserve"]) == (0, 0)
    assert youth_doc(document, resident)["pinned"] is False  # to be moved out
    assert str(closed.id) not in {f["id"] for f in document["facilities"]}


def test_facility_without_location_pins_its_youths_and_takes_nobody(ctx):
    nowhere = create_facility(licensed=1, latitude=None, longitude=None)
    house = create_facility(licensed=1, **NORTH)
    there, here = create_youth(birth_date=born(14)), create_youth(birth_date=born(14))
    create_stay(there, nowhere, EARLY)
    create_stay(here, house, EARLY)
    document = scenario_at()
    assert facility_doc(document, nowhere)["location"] == [0.0, 0.0]
    assert youth_doc(document, there)["pinned"] is True
    assert youth_doc(document, here)["excluded"] == [str(nowhere.id)]
    assert youth_doc(document, here)["pinned"] is False


# --- scenario: youths -----------------------------------------------------------------------


def test_youth_fields_and_ids_are_database_ids(ctx):
    house = create_facility(licensed=3, **NORTH)
    other = create_facility(licensed=3, **SOUTH)
    closed = create_facility(licensed=3, **WEST)
    girl = create_youth(birth_date=date(2010, 5, 17), gender="f", uma=True, sibling_group="G7")
    girl.excluded_facilities.append(other)
    boy = create_youth(birth_date=date(2011, 1, 2), gender="m")
    stay = create_stay(girl, house, EARLY)
    create_stay(boy, closed, EARLY)
    document = scenario_at(closed_facility_ids=(closed.id,))
    assert youth_doc(document, girl) == {
        "id": str(girl.id),
        "facility": str(stay.facility_id),
        "age": 14,
        "gender": "f",
        "uma": True,
        "group": "G7",
        "pinned": False,
        "excluded": sorted([str(other.id), str(closed.id)]),
    }
    # A closed facility is nobody's target, but it is not "excluded" for its own youths.
    assert youth_doc(document, boy)["excluded"] == []
    assert youth_doc(document, boy)["group"] is None
    parsed, problems = parse_scenario_dict(document)
    assert parsed is not None and problems == []


def test_age_is_taken_on_the_berlin_day(ctx):
    house = create_facility(licensed=3, **NORTH)
    youth = create_youth(birth_date=date(2010, 5, 17))
    create_stay(youth, house, EARLY)
    # 22:30 UTC on 16 May is 00:30 on 17 May in Berlin: the 14th birthday.
    document = scenario_at(at("2024-05-16 22:30"))
    assert document["as_of"] == "2024-05-17"
    assert youth_doc(document, youth)["age"] == 14
    assert youth_doc(scenario_at(at("2024-05-16 21:30")), youth)["age"] == 13


def test_only_stays_covering_the_instant_count(ctx):
    house = create_facility(licensed=3, **NORTH)
    left, later, here = (create_youth(birth_date=born(14)) for _ in range(3))
    create_stay(left, house, "2024-01-01 08:00", end="2024-05-01 08:00")
    create_stay(later, house, "2024-07-01 08:00")
    create_stay(here, house, EARLY)
    assert [y["id"] for y in scenario_at()["youths"]] == [str(here.id)]


# --- scenario: pinned defaults --------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "pinned"),
    [("2024-05-31 12:00", True), ("2024-05-31 10:01", True), ("2024-05-31 09:00", False)],
)
def test_recent_admissions_are_pinned_unless_switched_off(ctx, start, pinned):
    house = create_facility(licensed=3, **NORTH)
    youth = create_youth(birth_date=date(2010, 1, 1))
    create_stay(youth, house, start)
    assert youth_doc(scenario_at(), youth)["pinned"] is pinned
    assert youth_doc(scenario_at(pin_recent_admissions=False), youth)["pinned"] is False


@pytest.mark.parametrize(
    ("birth_date", "age_max", "pinned"),
    [
        (date(2006, 6, 5), 17, True),  # 18 in 4 days, the house ends at 17
        (date(2006, 6, 8), 17, True),  # 18 in exactly 7 days
        (date(2006, 6, 9), 17, False),  # 18 in 8 days
        (date(2006, 6, 5), 20, False),  # the house keeps young adults
        (date(2006, 5, 1), 17, True),  # already 18: not moved either
    ],
)
def test_coming_of_age_is_pinned_in_houses_ending_at_17(ctx, birth_date, age_max, pinned):
    house = create_facility(licensed=3, age_max=age_max, **NORTH)
    youth = create_youth(birth_date=birth_date)
    create_stay(youth, house, EARLY)
    assert youth_doc(scenario_at(), youth)["pinned"] is pinned
    assert youth_doc(scenario_at(pin_coming_of_age=False), youth)["pinned"] is False


def test_pinned_stays_and_explicit_pins(ctx):
    house = create_facility(licensed=3, **NORTH)
    marked, named, free = (create_youth(birth_date=born(14)) for _ in range(3))
    create_stay(marked, house, EARLY, pinned=True)
    create_stay(named, house, EARLY)
    create_stay(free, house, EARLY)
    document = scenario_at(
        pinned_youth_ids=(named.id,), pin_recent_admissions=False, pin_coming_of_age=False
    )
    assert [youth_doc(document, y)["pinned"] for y in (marked, named, free)] == [
        True,
        True,
        False,
    ]


# --- scenario: scopes -----------------------------------------------------------------------


@pytest.fixture
def three_houses(ctx):
    houses = [create_facility(licensed=2, **loc) for loc in (NORTH, SOUTH, WEST)]
    youths = []
    for house in houses:
        youth = create_youth(birth_date=born(14))
        create_stay(youth, house, EARLY)
        youths.append(youth)
    return houses, youths


def test_office_scope_takes_every_facility(three_houses):
    houses, youths = three_houses
    document = scenario_at()
    assert [f["id"] for f in document["facilities"]] == [str(h.id) for h in houses]
    assert {y["id"] for y in document["youths"]} == {str(y.id) for y in youths}
    assert not any(y["pinned"] for y in document["youths"])


def test_facilities_scope_takes_only_those_facilities(three_houses):
    (a, b, c), (ya, yb, yc) = three_houses
    ya.excluded_facilities.append(c)  # outside the scope: not mentioned
    document = scenario_at(scope="facilities", facility_ids=(a.id, c.id))
    assert [f["id"] for f in document["facilities"]] == [str(a.id), str(c.id)]
    assert sorted(y["id"] for y in document["youths"]) == sorted([str(ya.id), str(yc.id)])
    assert youth_doc(document, ya)["excluded"] == [str(c.id)]
    document = scenario_at(scope="facilities", facility_ids=(a.id, b.id))
    assert youth_doc(document, ya)["excluded"] == []


def test_relieve_scope_pins_the_youths_of_other_facilities(three_houses):
    (a, b, c), (ya, yb, yc) = three_houses
    db.session.commit()
    built = build_scenario(PlanParameters(scope="relieve", relieve_facility_id=b.id), T)
    assert str(built.scope) == "relieve"
    document = built.document
    assert len(document["facilities"]) == 3
    assert [youth_doc(document, y)["pinned"] for y in (ya, yb, yc)] == [True, False, True]


def test_fingerprint_names_what_the_scenario_was_built_from(overfull):
    a, b, _c, youths = overfull
    built = build_scenario(PlanParameters(), now())
    assert set(built.fingerprint["facilities"]) == {f["id"] for f in built.document["facilities"]}
    printed = built.fingerprint["youths"][str(youths[0].id)]
    assert printed["reference"] == youths[0].reference
    assert printed["stay"][:2] == [open_stay(youths[0].id).id, a.id]
    assert built.fingerprint["facilities"][str(a.id)]["name"] == "Haus A"


# --- bad parameters -------------------------------------------------------------------------

BAD_PARAMETERS = [
    # (name, parameters from the ids, error class, code, field)
    (
        "negative max_moves",
        lambda i: {"max_moves": -1},
        RuleViolation,
        "negative_limit",
        "max_moves",
    ),
    ("zero km", lambda i: {"max_move_km": 0}, RuleViolation, "negative_limit", "max_move_km"),
    (
        "negative km",
        lambda i: {"max_move_km": -2.5},
        RuleViolation,
        "negative_limit",
        "max_move_km",
    ),
    ("keep_free < 0", lambda i: {"keep_free": -1}, RuleViolation, "out_of_range", "keep_free"),
    ("keep_free > 50", lambda i: {"keep_free": 51}, RuleViolation, "out_of_range", "keep_free"),
    ("time < 1", lambda i: {"time_limit": 0.5}, RuleViolation, "out_of_range", "time_limit"),
    ("time > 300", lambda i: {"time_limit": 301}, RuleViolation, "out_of_range", "time_limit"),
    ("unknown scope", lambda i: {"scope": "alles"}, RuleViolation, "unknown_value", "scope"),
    (
        "unknown facility",
        lambda i: {"scope": "facilities", "facility_ids": (i["a"], 999999)},
        NotFound,
        "unknown_facility",
        "facility_ids",
    ),
    (
        "unknown closed facility",
        lambda i: {"closed_facility_ids": (999999,)},
        NotFound,
        "unknown_facility",
        "closed_facility_ids",
    ),
    (
        "unknown relieved facility",
        lambda i: {"scope": "relieve", "relieve_facility_id": 999999},
        NotFound,
        "unknown_facility",
        "relieve_facility_id",
    ),
    (
        "relieve without a facility",
        lambda i: {"scope": "relieve"},
        BadInput,
        "missing",
        "relieve_facility_id",
    ),
    (
        "one facility",
        lambda i: {"scope": "facilities", "facility_ids": (i["a"],)},
        RuleViolation,
        "plan_needs_two_facilities",
        "facility_ids",
    ),
    (
        "one facility twice",
        lambda i: {"scope": "facilities", "facility_ids": (i["a"], i["a"])},
        RuleViolation,
        "plan_needs_two_facilities",
        "facility_ids",
    ),
    (
        "unknown pinned youth",
        lambda i: {"pinned_youth_ids": (999999,)},
        NotFound,
        "unknown_youth",
        "pinned_youth_ids",
    ),
    (
        "pinned youth discharged",
        lambda i: {"pinned_youth_ids": (i["gone"],)},
        RuleViolation,
        "youth_not_placed",
        "pinned_youth_ids",
    ),
    (
        "pinned youth outside the scope",
        lambda i: {
            "scope": "facilities",
            "facility_ids": (i["a"], i["b"]),
            "pinned_youth_ids": (i["in_c"],),
        },
        RuleViolation,
        "youth_not_placed",
        "pinned_youth_ids",
    ),
]


@pytest.fixture
def ids(overfull):
    a, b, c, _youths = overfull
    gone, in_c = create_youth(), create_youth()
    create_stay(gone, a, "2024-01-01 08:00", end="2024-02-01 08:00")
    create_stay(in_c, c, EARLY)
    db.session.commit()
    return {"a": a.id, "b": b.id, "c": c.id, "gone": gone.id, "in_c": in_c.id}


def _counts() -> tuple[int, int]:
    plans_written = db.session.scalar(sa.select(sa.func.count()).select_from(Plan))
    created = db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "plan.create")
    )
    return plans_written, created


@pytest.mark.parametrize(
    ("parameters", "kind", "code", "field"),
    [row[1:] for row in BAD_PARAMETERS],
    ids=[row[0] for row in BAD_PARAMETERS],
)
def test_bad_parameters_name_the_field_and_write_nothing(ids, parameters, kind, code, field):
    with pytest.raises(kind) as raised:
        plans.create_plan(HEAD, PlanParameters(**parameters(ids)))
    assert (raised.value.code, raised.value.field) == (Code(code), field)
    db.session.rollback()
    assert _counts() == (0, 0)


def test_limits_at_the_edge_are_accepted(ids):
    edges = [
        {"max_moves": 0},
        {"max_move_km": 0.1},
        {"keep_free": 0},
        {"keep_free": 50},
        {"time_limit": 1},
        {"time_limit": 300},
        {"scope": "facilities", "facility_ids": (ids["a"], ids["b"])},
        {"scope": "relieve", "relieve_facility_id": ids["a"]},
        {"pinned_youth_ids": (ids["in_c"],), "closed_facility_ids": (ids["b"],)},
    ]
    for parameters in edges:
        assert check_parameters(PlanParameters(**parameters)), parameters


def test_on_call_staff_may_not_plan(overfull):
    with pytest.raises(Forbidden) as raised:
        plans.create_plan(ON_CALL, PlanParameters())
    assert raised.value.code == Code.FORBIDDEN
    db.session.rollback()
    assert _counts() == (0, 0)
    plan = plans.create_plan(MANAGER, PlanParameters())
    db.session.commit()
    for call in (plans.get_plan, plans.cancel_plan, plans.execute_plan, plans.review):
        with pytest.raises(Forbidden):
            call(ON_CALL, plan.id)
    with pytest.raises(Forbidden):
        plans.list_plans(ON_CALL)


# --- solving --------------------------------------------------------------------------------


def test_create_stores_scenario_parameters_and_queues(overfull):
    parameters = PlanParameters(max_moves=5, keep_free=1, time_limit=20)
    plan = plans.create_plan(HEAD, parameters)
    db.session.commit()
    assert plan.status == PlanStatus.QUEUED
    assert PlanParameters.from_dict(plan.parameters) == parameters
    assert plan.scenario["format"] == "placement-scenario/1"
    assert plan.scenario["max_moves"] == 5
    assert plan.time_limit == 20
    assert summary_fields(plan)["stage"] is None


def summary_fields(plan: Plan) -> dict:
    return vars(plans.summary(plan))


def test_worker_proposes_a_plan_that_the_validator_accepts(app, overfull):
    a, _b, _c, youths = overfull
    plan = proposed(app)
    result = plan.result
    assert result["format"] == PLAN_FORMAT
    assert result["status"] in ("OPTIMAL", "FEASIBLE")
    check = validate_plan(plan.scenario, result)
    assert check.ok, check.errors
    assert check.objective.to_dict() == result["objective"]
    assert result["objective"]["overflow"] == 0
    assert result["objective"]["moves"] == 2
    # Not worse than the dispatchers' rule of thumb, and better than doing nothing.
    assert set(plan.greedy) == {"objective", "moves"}
    assert objective_tuple(result["objective"]) <= objective_tuple(plan.greedy["objective"])
    assert objective_tuple(result["objective"]) < objective_tuple(
        plans.objective_without_moves(plan.scenario)
    )
    assert plan.lease_until is None and plan.finished_at is not None
    summary = summary_fields(plan)
    assert summary["status"] == PlanStatus.PROPOSED
    assert summary["stage"] == "done"
    assert summary["objective"] == result["objective"]
    assert summary["proven"] == (result["status"] == "OPTIMAL")
    assert len(summary["moves"]) == 2
    assert {m.from_id for m in summary["moves"]} == {a.id}
    assert {m.youth_id for m in summary["moves"]} <= {y.id for y in youths}
    assert summary["greedy"] == plan.greedy
    assert (summary["approved_moves"], summary["executed_moves"], summary["stale"]) == (
        None,
        None,
        [],
    )


def test_worker_with_nothing_queued_does_nothing(app, overfull):
    assert solve(app) is None


def test_a_failing_solver_fails_the_plan_with_a_message(app, overfull, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr("placement.worker.propose", broken)
    plan = plans.create_plan(HEAD, PlanParameters())
    assert solve(app) == plan.id
    plan = db.session.get(Plan, plan.id)
    assert plan.status == PlanStatus.FAILED
    assert plan.error == "RuntimeError: solver exploded"
    assert plan.lease_until is None and plan.finished_at is not None
    assert plans.summary(plan).error == plan.error


def test_a_stored_scenario_that_does_not_parse_fails_the_plan(app, overfull):
    plan = plans.create_plan(HEAD, PlanParameters())
    plan.scenario = {"format": "placement-scenario/0"}
    solve(app)
    plan = db.session.get(Plan, plan.id)
    assert plan.status == PlanStatus.FAILED
    assert "does not parse" in plan.error


def test_an_unsolved_answer_fails_the_plan(app, overfull, monkeypatch):
    from solver.model import Plan as SolverPlan

    monkeypatch.setattr(
        "placement.worker.propose",
        lambda *_a, **_k: SolverPlan(status="INVALID_INPUT", objective=None, moves=[]),
    )
    plan = plans.create_plan(HEAD, PlanParameters())
    solve(app)
    plan = db.session.get(Plan, plan.id)
    assert plan.status == PlanStatus.FAILED
    assert "INVALID_INPUT" in plan.error


def test_list_plans_newest_first_and_of_one_facility(app, overfull):
    a, b, c, _youths = overfull
    first = proposed(app)  # moves A -> B or C
    relieving = plans.create_plan(HEAD, PlanParameters(scope="relieve", relieve_facility_id=c.id))
    db.session.commit()
    assert [p.id for p in plans.list_plans(HEAD)] == [relieving.id, first.id]
    assert [p.id for p in plans.list_plans(MANAGER, a.id)] == [first.id]
    assert [p.id for p in plans.list_plans(HEAD, c.id)][0] == relieving.id
    touched = {int(m["to"]) for m in first.result["moves"]}
    for house in (b, c):
        listed = {p.id for p in plans.list_plans(HEAD, house.id)}
        assert (first.id in listed) == (house.id in touched)


# --- leases ---------------------------------------------------------------------------------


def claimed(worker: str = "w1") -> runner.Job:
    job = runner.claim_next(worker, 30)
    db.session.commit()
    return job


def test_claim_takes_the_oldest_queued_plan_with_a_lease(overfull):
    first = plans.create_plan(HEAD, PlanParameters())
    second = plans.create_plan(HEAD, PlanParameters(keep_free=1))
    db.session.commit()
    job = claimed("w1")
    assert job.plan_id == first.id and job.scenario == first.scenario
    plan = db.session.get(Plan, first.id)
    assert (plan.status, plan.worker_id) == (PlanStatus.RUNNING, "w1")
    assert plan.lease_until > now()
    assert plans.summary(plan).stage == "started"
    assert claimed("w2").plan_id == second.id
    assert claimed("w3") is None


def _expire(plan_id: int) -> None:
    db.session.get(Plan, plan_id).lease_until = now() - timedelta(seconds=1)
    db.session.commit()


@pytest.mark.parametrize("noticed_by", ["get_plan", "expire_leases", "claim_next"])
def test_a_lost_lease_fails_the_plan(overfull, noticed_by):
    plan_id = plans.create_plan(HEAD, PlanParameters()).id
    db.session.commit()
    claimed()
    # A lease still running is left alone.
    assert runner.expire_leases() == 0
    assert plans.get_plan(HEAD, plan_id).status == PlanStatus.RUNNING
    db.session.commit()
    _expire(plan_id)
    if noticed_by == "get_plan":
        assert plans.get_plan(HEAD, plan_id).status == PlanStatus.FAILED
    elif noticed_by == "expire_leases":
        assert runner.expire_leases() == 1
    else:
        assert runner.claim_next("w2", 30) is None
    db.session.commit()
    db.session.expire_all()
    plan = db.session.get(Plan, plan_id)
    assert (plan.status, plan.error) == (PlanStatus.FAILED, "worker_lost")
    assert plans.summary(plan).error == "worker_lost"
    assert runner.renew(plan_id, "w1", 30, {"stage": "solving"}) is False


def test_renew_extends_only_the_own_running_lease(overfull):
    plan_id = plans.create_plan(HEAD, PlanParameters()).id
    db.session.commit()
    claimed("w1")
    assert runner.renew(plan_id, "w1", 60, {"stage": "solving", "elapsed": 1.5}) is True
    assert runner.renew(plan_id, "intruder", 60, {"stage": "x"}) is False
    db.session.commit()
    db.session.expire_all()
    plan = db.session.get(Plan, plan_id)
    assert plan.progress == {"stage": "solving", "elapsed": 1.5}
    assert plan.lease_until > now() + timedelta(seconds=50)


def test_a_cancelled_plan_is_no_longer_the_workers(overfull):
    plan_id = plans.create_plan(HEAD, PlanParameters()).id
    db.session.commit()
    claimed("w1")
    plans.cancel_plan(HEAD, plan_id)
    db.session.commit()
    assert runner.renew(plan_id, "w1", 30, {"stage": "solving"}) is False
    result = {"format": PLAN_FORMAT, "status": "OPTIMAL", "objective": {}, "moves": []}
    assert runner.finish(plan_id, "w1", result, None) is False
    assert runner.fail(plan_id, "w1", "late") is False
    db.session.commit()
    db.session.expire_all()
    plan = db.session.get(Plan, plan_id)
    assert (plan.status, plan.result, plan.error) == (PlanStatus.CANCELLED, None, None)


def test_a_worker_finishing_a_cancelled_plan_leaves_it_cancelled(app, overfull, monkeypatch):
    plan_id = plans.create_plan(HEAD, PlanParameters()).id
    db.session.commit()
    import placement.worker as worker_module

    real = worker_module.propose

    def cancel_meanwhile(*args, **kwargs):
        with app.app_context():
            plans.cancel_plan(HEAD, plan_id)
            db.session.commit()
        return real(*args, **kwargs)

    monkeypatch.setattr(worker_module, "propose", cancel_meanwhile)
    assert solve(app) == plan_id
    plan = db.session.get(Plan, plan_id)
    assert (plan.status, plan.result) == (PlanStatus.CANCELLED, None)


# --- review ---------------------------------------------------------------------------------


@pytest.fixture
def two_routes(ctx):
    """A (1 place) with three youths; B and C one place each: one move to each."""
    a = create_facility(licensed=1, name="Haus A", **NORTH)
    b = create_facility(licensed=1, name="Haus B", **SOUTH)
    c = create_facility(licensed=1, name="Haus C", **WEST)
    youths = [create_youth(birth_date=born(14)) for _ in range(3)]
    for youth in youths:
        create_stay(youth, a, EARLY)
    db.session.commit()
    return a, b, c, youths


def test_review_groups_moves_by_route_with_occupancy_before_and_after(app, two_routes):
    a, b, c, youths = two_routes
    plan = proposed(app)
    review = plans.review(HEAD, plan.id)
    assert [(f, t, len(lines)) for f, t, lines in review.groups] == [
        (a.id, b.id, 1),
        (a.id, c.id, 1),
    ]
    line = review.moves[0]
    youth = db.session.get(Youth, line.youth_id)
    # Department heads see no persons (#13): age, gender and group, not the reference.
    assert (line.reference, line.gender, line.group) == ("–", youth.gender, None)
    assert youth.reference
    assert line.age == 14 and line.distance_km > 0
    changes = {c.facility_id: c for c in review.changes}
    assert set(changes) == {a.id, b.id, c.id}
    assert (changes[a.id].before.occupied, changes[a.id].after.occupied) == (3, 1)
    assert (changes[a.id].moving_out, changes[a.id].moving_in) == (2, 0)
    assert (changes[b.id].before.occupied, changes[b.id].after.occupied) == (0, 1)
    assert changes[a.id].before.over_capacity and not changes[a.id].after.over_capacity
    assert review.changes[0].facility_id == a.id  # the most over-occupied first
    assert review.objective == plan.result["objective"]
    assert review.objective_before == {
        "overflow": 2,
        "reserve_shortfall": 2,
        "moves": 0,
        "distance": 0,
    }
    nothing = validate_plan(plan.scenario, {"format": PLAN_FORMAT, "moves": []})
    assert review.objective_before == nothing.objective.to_dict()
    assert review.names == {a.id: "Haus A", b.id: "Haus B", c.id: "Haus C"}


def manager_of(facility, label: str) -> audit.Actor:
    """A facility manager's account assigned to ``facility``, as the acting user."""
    user = users.create_user(
        audit.CLI,
        email=f"{label}@example.org",
        role="facility_manager",
        password="long enough password",
        facility_ids=[facility.id],
    )
    db.session.flush()
    return audit.Actor(label, user_id=user.id, role=Role.FACILITY_MANAGER)


def test_review_of_moved_persons_is_audited(app, two_routes):
    a, b, c, youths = two_routes
    plan = proposed(app)
    plans.review(HEAD, plan.id)  # shows no references: nothing personal to audit
    review = plans.review(manager_of(a, "haus-a"), plan.id)
    assert {line.reference for line in review.moves} <= {y.reference for y in youths}
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "plan.persons.view")
    ).all()
    assert len(events) == 1
    assert (events[0].object_type, events[0].object_id, events[0].actor) == (
        "plan",
        plan.id,
        "haus-a",
    )
    assert sorted(events[0].after["youths"]) == sorted(
        int(m["youth"]) for m in plan.result["moves"]
    )


def test_review_of_a_plan_without_moves_shows_no_persons(app, ctx):
    house = create_facility(licensed=3, **NORTH)
    create_stay(create_youth(), house, EARLY)
    plan = proposed(app)
    review = plans.review(HEAD, plan.id)
    assert review.moves == [] and review.groups == [] and review.changes == []
    assert not db.session.scalar(
        sa.select(AuditEvent.id).where(AuditEvent.action == "plan.persons.view")
    )


# --- approve and execute --------------------------------------------------------------------


def _moved(plan: Plan) -> set[int]:
    return {int(m["youth"]) for m in plan.result["moves"]}


def test_sibling_plan_moves_three(app, siblings):
    plan = proposed(app)
    assert _moved(plan) == {siblings["s1"], siblings["s2"], siblings["y"]}


@pytest.mark.parametrize(
    ("selection", "approved"),
    [(None, ["s1", "s2", "y"]), (["y"], ["y"]), (["s2", "s1"], ["s2", "s1"]), (["y", "y"], ["y"])],
    ids=["all", "one", "siblings together", "one twice"],
)
def test_approve_all_or_selected_moves(app, siblings, selection, approved):
    plan = proposed(app)
    chosen = None if selection is None else [siblings[k] for k in selection]
    plans.approve_plan(HEAD, plan.id, chosen)
    assert plan.status == PlanStatus.APPROVED
    assert sorted(plan.approved_moves) == sorted(str(siblings[k]) for k in approved)
    assert plan.approved_at is not None


@pytest.mark.parametrize(
    ("selection", "code"),
    [
        (["s1"], "siblings_split"),
        (["s2", "y"], "siblings_split"),
        (["x"], "unknown_move"),  # pinned: not a move of the plan
        ([999999], "unknown_move"),
        ([], "no_moves_selected"),
    ],
    ids=["one sibling", "other sibling and y", "pinned youth", "unknown youth", "none"],
)
def test_approve_refuses_bad_selections(app, siblings, selection, code):
    plan = proposed(app)
    with pytest.raises(RuleViolation) as raised:
        plans.approve_plan(HEAD, plan.id, [siblings.get(k, k) for k in selection])
    assert (raised.value.code, raised.value.field) == (Code(code), "moves")
    db.session.rollback()
    assert db.session.get(Plan, plan.id).status == PlanStatus.PROPOSED


def test_facility_manager_cannot_approve_but_executes_an_approved_plan(app, siblings):
    plan = proposed(app)
    with pytest.raises(Forbidden):
        plans.approve_plan(MANAGER, plan.id)
    with pytest.raises(Conflict) as raised:
        plans.execute_plan(MANAGER, plan.id)
    assert raised.value.code == Code.PLAN_NOT_APPROVED
    db.session.rollback()
    plans.approve_plan(HEAD, plan.id)
    db.session.commit()
    done = plans.execute_plan(MANAGER, plan.id)
    db.session.commit()
    assert done.executed and len(done.stays) == 3
    assert db.session.get(Plan, plan.id).status == PlanStatus.EXECUTED


def test_executing_moves_youths_at_one_instant(app, siblings):
    plan = proposed(app)
    before = {k: open_stay(siblings[k]) for k in ("s1", "s2", "y", "x")}
    done = plans.execute_plan(HEAD, plan.id)
    db.session.commit()
    db.session.expire_all()
    assert done.executed and done.stale == []
    plan = db.session.get(Plan, plan.id)
    assert (plan.status, plan.executed_moves) == (PlanStatus.EXECUTED, 3)
    assert sorted(plan.approved_moves) == sorted(str(siblings[k]) for k in ("s1", "s2", "y"))
    instant = plan.executed_at
    for key in ("s1", "s2", "y"):
        old = db.session.get(Stay, before[key].id)
        assert (old.end_at, old.end_reason) == (instant, EndReason.TRANSFER)
        new = open_stay(siblings[key])
        assert (new.facility_id, new.start_at, new.end_at) == (siblings["b"], instant, None)
    assert open_stay(siblings["x"]).id == before["x"].id  # pinned: stays
    assert {s.youth_id for s in done.stays} == {siblings[k] for k in ("s1", "s2", "y")}
    assert db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.action == "plan.execute"))


def test_partial_execution_leaves_the_other_moves_untouched(app, siblings):
    plan = proposed(app)
    siblings_before = {k: open_stay(siblings[k]).id for k in ("s1", "s2")}
    done = plans.execute_plan(HEAD, plan.id, [siblings["y"]])
    db.session.commit()
    assert done.executed and [s.youth_id for s in done.stays] == [siblings["y"]]
    assert open_stay(siblings["y"]).facility_id == siblings["b"]
    for key, stay_id in siblings_before.items():
        stay = open_stay(siblings[key])
        assert (stay.id, stay.facility_id) == (stay_id, siblings["a"])
    plan = db.session.get(Plan, plan.id)
    assert (plan.executed_moves, plan.approved_moves) == (1, [str(siblings["y"])])


def test_department_head_executing_a_proposed_plan_approves_it_on_the_way(app, siblings):
    plan = proposed(app)
    plans.execute_plan(HEAD, plan.id, [siblings["s1"], siblings["s2"]])
    db.session.commit()
    plan = db.session.get(Plan, plan.id)
    assert plan.status == PlanStatus.EXECUTED
    assert sorted(plan.approved_moves) == sorted([str(siblings["s1"]), str(siblings["s2"])])
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.object_id == plan.id).order_by(AuditEvent.id)
    ).all()
    assert actions[-2:] == ["plan.approve", "plan.execute"]


def test_a_proposed_plan_cannot_split_siblings_on_execution(app, siblings):
    plan = proposed(app)
    with pytest.raises(RuleViolation) as raised:
        plans.execute_plan(HEAD, plan.id, [siblings["s1"]])
    assert raised.value.code == Code.SIBLINGS_SPLIT


def test_executing_twice_executes_once(app, siblings):
    plan = proposed(app)
    plans.execute_plan(HEAD, plan.id)
    db.session.commit()
    moved = transfers()
    with pytest.raises(Conflict) as raised:
        plans.execute_plan(HEAD, plan.id)
    assert (raised.value.code, raised.value.field) == (Code.PLAN_ALREADY_EXECUTED, "plan_id")
    db.session.rollback()
    with pytest.raises(Conflict) as raised:
        plans.approve_plan(HEAD, plan.id)
    assert raised.value.code == Code.PLAN_ALREADY_EXECUTED
    db.session.rollback()
    assert transfers() == moved == 3


def test_executing_moves_outside_the_approval_is_refused(app, siblings):
    plan = proposed(app)
    plans.approve_plan(HEAD, plan.id, [siblings["y"]])
    db.session.commit()
    with pytest.raises(RuleViolation) as raised:
        plans.execute_plan(MANAGER, plan.id, [siblings["s1"], siblings["s2"]])
    assert (raised.value.code, raised.value.field) == (Code.UNKNOWN_MOVE, "moves")
    db.session.rollback()
    assert transfers() == 0


def test_executing_part_of_an_approved_plan_cannot_split_siblings(app, siblings):
    plan = proposed(app)
    plans.approve_plan(HEAD, plan.id)
    db.session.commit()
    with pytest.raises(RuleViolation) as raised:
        plans.execute_plan(MANAGER, plan.id, [siblings["s1"]])
    assert raised.value.code == Code.SIBLINGS_SPLIT


def test_executing_an_empty_selection_of_an_approved_plan_is_refused(app, siblings):
    plan = proposed(app)
    plans.approve_plan(HEAD, plan.id)
    db.session.commit()
    with pytest.raises(RuleViolation) as raised:
        plans.execute_plan(MANAGER, plan.id, [])
    assert raised.value.code == Code.NO_MOVES_SELECTED


def test_execution_is_all_or_nothing(app, ctx, monkeypatch):
    """Two routes; by execution day the second youth is too old for the second house: the
    plan is stale (naming who no longer fits) and the first move does not happen either."""
    a = create_facility(licensed=0, name="Haus A", **NORTH)
    older = create_facility(licensed=1, name="Haus Alt", age_min=16, age_max=17, **SOUTH)
    younger = create_facility(licensed=1, name="Haus Jung", age_min=0, age_max=15, **WEST)
    sixteen = create_youth(birth_date=born(16))
    fifteen = create_youth(birth_date=years_ago(16, 3))  # 15 now, 16 in three days
    stays_before = [create_stay(y, a, EARLY).id for y in (sixteen, fifteen)]
    plan = proposed(app)
    assert _moved(plan) == {sixteen.id, fifteen.id}
    monkeypatch.setattr(plans, "utc_now", lambda: now() + timedelta(days=5))
    done = plans.execute_plan(HEAD, plan.id)
    assert not done.executed
    reference = db.session.get(Youth, fifteen.id).reference
    assert [(r.code, r.subject) for r in done.stale] == [(StaleCode.NO_LONGER_FITS, reference)]
    assert [open_stay(y.id).id for y in (sixteen, fifteen)] == stays_before
    assert transfers() == 0
    assert db.session.get(Plan, plan.id).status == PlanStatus.STALE
    assert older.id < younger.id  # the refused route is the second one


# --- stale plans ----------------------------------------------------------------------------


def _new_period(facility_id: int, **places) -> None:
    capacity.add_capacity_period(
        audit.SYSTEM,
        facility_id,
        valid_from=now() - timedelta(minutes=1),
        licensed_places=places.pop("licensed_places", 5),
        **places,
    )


def _correct(ids):
    stay = open_stay(ids["y"])
    stay_service.correct_stay(
        audit.SYSTEM, stay.id, reason="Aufnahmezeit korrigiert", start_at=at("2024-01-02 08:00")
    )


def _discharge(ids):
    stay_service.discharge(audit.SYSTEM, open_stay(ids["y"]).id, reason="return_home")


def _readmit(ids):
    _discharge(ids)
    db.session.flush()
    stay_service.record_stay(
        audit.SYSTEM,
        youth_id=ids["y"],
        facility_id=ids["a"],
        legal_basis="42-1-2",
        start_at=now() + timedelta(seconds=1),
    )


def _youth(ids, **values):
    def change(_ids):
        youth = db.session.get(Youth, ids["y"])
        for name, value in values.items():
            setattr(youth, name, value)

    return change


def _exclude(ids):
    youth = db.session.get(Youth, ids["y"])
    youth.excluded_facilities.append(db.session.get(Facility, ids["c"]))


def _facility(key, **values):
    def change(ids):
        facility = db.session.get(Facility, ids[key])
        for name, value in values.items():
            setattr(facility, name, value)

    return change


STALE_CHANGES = [
    # (name, change, stale code, subject: youth y's reference or a house's name)
    ("stay corrected", _correct, StaleCode.STAY_CHANGED, "y"),
    ("stay discharged", _discharge, StaleCode.STAY_CHANGED, "y"),
    ("discharged and readmitted", _readmit, StaleCode.STAY_CHANGED, "y"),
    ("birth date", lambda ids: _youth(ids, birth_date=born(15))(ids), StaleCode.YOUTH_CHANGED, "y"),
    (
        "sibling group",
        lambda ids: _youth(ids, sibling_group="G9")(ids),
        StaleCode.YOUTH_CHANGED,
        "y",
    ),
    ("gender", lambda ids: _youth(ids, gender="d")(ids), StaleCode.YOUTH_CHANGED, "y"),
    ("umA", lambda ids: _youth(ids, uma=True)(ids), StaleCode.YOUTH_CHANGED, "y"),
    ("exclusions", _exclude, StaleCode.YOUTH_CHANGED, "y"),
    ("target capacity", lambda ids: _new_period(ids["b"]), StaleCode.CAPACITY_CHANGED, "Haus B"),
    (
        "target kept free",
        lambda ids: _new_period(ids["b"], reserved_places=1),
        StaleCode.CAPACITY_CHANGED,
        "Haus B",
    ),
    ("target age_max", _facility("b", age_max=16), StaleCode.PROFILE_CHANGED, "Haus B"),
    ("target genders", _facility("b", genders="f"), StaleCode.PROFILE_CHANGED, "Haus B"),
    ("target umA", _facility("b", uma_policy="only"), StaleCode.PROFILE_CHANGED, "Haus B"),
    ("target closed", _facility("b", active=False), StaleCode.PROFILE_CHANGED, "Haus B"),
    (
        "origin capacity",
        lambda ids: _new_period(ids["a"], licensed_places=1),
        StaleCode.CAPACITY_CHANGED,
        "Haus A",
    ),
]


@pytest.fixture
def stale_world(ctx):
    """A (1 place): x pinned, y moves to B; C is a third house nobody moves to."""
    a = create_facility(licensed=1, name="Haus A", **NORTH)
    b = create_facility(licensed=5, name="Haus B", **SOUTH)
    c = create_facility(licensed=5, name="Haus C", **WEST)
    x, y = create_youth(birth_date=born(14)), create_youth(birth_date=born(14))
    create_stay(x, a, EARLY, pinned=True)
    create_stay(y, a, EARLY)
    # C is far away and closed to moves: y can only go to B.
    db.session.commit()
    return {"a": a.id, "b": b.id, "c": c.id, "x": x.id, "y": y.id, "ref": y.reference}


@pytest.mark.parametrize(
    ("change", "code", "subject"),
    [row[1:] for row in STALE_CHANGES],
    ids=[row[0] for row in STALE_CHANGES],
)
def test_a_change_since_planning_makes_the_plan_stale(app, stale_world, change, code, subject):
    ids = stale_world
    plan = proposed(app, closed_facility_ids=(ids["c"],))
    assert _moved(plan) == {ids["y"]}
    plans.approve_plan(HEAD, plan.id)
    db.session.commit()
    change(ids)
    db.session.commit()
    done = plans.execute_plan(MANAGER, plan.id)
    db.session.commit()
    assert not done.executed
    expected = ids["ref"] if subject == "y" else subject
    assert (code, expected) in [(r.code, r.subject) for r in done.stale]
    plan = db.session.get(Plan, plan.id)
    assert plan.status == PlanStatus.STALE
    assert [code.value, expected] in plan.stale_reason
    assert plans.summary(plan).stale == plan.stale_reason
    assert transfers() == 0
    assert db.session.scalar(sa.select(AuditEvent.id).where(AuditEvent.action == "plan.stale"))
    # Stale stays stale: executing or approving again is refused.
    with pytest.raises(Conflict) as raised:
        plans.execute_plan(HEAD, plan.id)
    assert raised.value.code == Code.PLAN_STALE


@pytest.mark.parametrize(
    "change",
    [
        lambda ids: _new_period(ids["c"], licensed_places=1),
        _facility("c", age_max=12),
        lambda ids: _youth({"y": ids["x"]}, sibling_group="G9")(ids),  # x stays: not touched
    ],
    ids=["unrelated capacity", "unrelated profile", "youth who stays"],
)
def test_a_change_to_what_the_moves_do_not_touch_is_no_reason(app, stale_world, change):
    ids = stale_world
    plan = proposed(app, closed_facility_ids=(ids["c"],))
    change(ids)
    db.session.commit()
    done = plans.execute_plan(HEAD, plan.id)
    db.session.commit()
    assert done.executed and done.stale == []
    assert open_stay(ids["y"]).facility_id == ids["b"]


def test_replan_creates_a_new_queued_plan_with_the_same_parameters(app, stale_world):
    ids = stale_world
    plan = proposed(app, closed_facility_ids=(ids["c"],), keep_free=1, time_limit=10)
    _discharge(ids)
    db.session.commit()
    assert not plans.execute_plan(HEAD, plan.id).executed
    db.session.commit()
    again = plans.replan(MANAGER, plan.id)
    db.session.commit()
    assert again.id != plan.id and again.status == PlanStatus.QUEUED
    assert again.parameters == plan.parameters
    # Built from the database as it is now: y has left.
    assert str(ids["y"]) not in {y["id"] for y in again.scenario["youths"]}
    with pytest.raises(Forbidden):
        plans.replan(ON_CALL, plan.id)
    with pytest.raises(NotFound):
        plans.replan(HEAD, 999999)


# --- cancel ---------------------------------------------------------------------------------


def _queued(app):
    return plans.create_plan(HEAD, PlanParameters()).id


def _running(app):
    plan_id = _queued(app)
    db.session.commit()
    claimed()
    return plan_id


def _proposed(app):
    return proposed(app).id


def _approved(app):
    plan_id = proposed(app).id
    plans.approve_plan(HEAD, plan_id)
    return plan_id


def _executed(app):
    plan_id = proposed(app).id
    plans.execute_plan(HEAD, plan_id)
    return plan_id


def _failed(app):
    plan_id = _running(app)
    _expire(plan_id)
    runner.expire_leases()
    return plan_id


def _cancelled(app):
    plan_id = _queued(app)
    plans.cancel_plan(HEAD, plan_id)
    return plan_id


@pytest.mark.parametrize("state", [_queued, _running, _proposed, _approved])
def test_cancel_a_plan_not_yet_executed(app, overfull, state):
    plan_id = state(app)
    db.session.commit()
    plan = plans.cancel_plan(MANAGER, plan_id)
    db.session.commit()
    assert plan.status == PlanStatus.CANCELLED and plan.finished_at is not None
    with pytest.raises(Conflict) as raised:
        plans.execute_plan(HEAD, plan_id)
    assert raised.value.code == Code.PLAN_CANCELLED


@pytest.mark.parametrize("state", [_executed, _failed, _cancelled])
def test_cancel_refused_once_done(app, overfull, state):
    plan_id = state(app)
    db.session.commit()
    status = db.session.get(Plan, plan_id).status
    with pytest.raises(Conflict) as raised:
        plans.cancel_plan(HEAD, plan_id)
    assert (raised.value.code, raised.value.field) == (Code.PLAN_NOT_CANCELLABLE, "plan_id")
    db.session.rollback()
    assert db.session.get(Plan, plan_id).status == status


def test_unknown_plan(overfull):
    for call in (plans.get_plan, plans.cancel_plan, plans.execute_plan, plans.approve_plan):
        with pytest.raises(NotFound) as raised:
            call(HEAD, 999999)
        assert raised.value.code == Code.UNKNOWN_PLAN


def test_anonymous_placements_get_no_distance_and_no_location_unless_assigned(app, two_routes):
    """A few distances from known houses would locate a protected house (#13)."""
    a, b, c, youths = two_routes
    c.anonymous_address = True
    db.session.commit()
    plan = proposed(app)
    review = plans.review(HEAD, plan.id)
    by_target = {line.to_id: line for line in review.moves}
    assert by_target[c.id].distance_km is None and by_target[b.id].distance_km > 0
    shown = plans.plan_document(HEAD, plan.id, "scenario")
    locations = {int(f["id"]): f["location"] for f in shown["facilities"]}
    assert locations[c.id] is None and locations[b.id] is not None
    assert plan.scenario["facilities"]  # the stored copy stays whole for the solver
    # Assigned to the house: distance and location.
    assigned = manager_of(c, "haus-c")
    assert {m.to_id: m for m in plans.review(assigned, plan.id).moves}[c.id].distance_km > 0
    located = plans.plan_document(assigned, plan.id, "scenario")
    assert {int(f["id"]): f["location"] for f in located["facilities"]}[c.id] is not None
    assert plans.plan_document(HEAD, plan.id, "plan") == plan.result
