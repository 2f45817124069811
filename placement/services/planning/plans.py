"""Move plans: start, follow, review, approve, execute, cancel.

A plan is computed off the request (``planning.runner``); these services only read and
change its row. Execution writes all chosen moves in one transaction or none: it first
compares what the moves touch (the stays, the youths, the capacity and profile of both
facilities) with the plan's fingerprint and marks the plan ``stale`` instead, naming what
changed. The plan row is locked while it is executed, so a plan runs at most once."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from placement.extensions import db
from placement.models import Facility, Plan, PlanScope, PlanStatus, Stay, Youth
from placement.models.enums import Gender
from placement.services.accounts import audit, permissions
from placement.services.accounts.permissions import Permission
from placement.services.errors import Code, Conflict, NotFound, RuleViolation
from placement.services.intake import places
from placement.services.intake import stays as stay_rules
from placement.services.intake.arrivals import Warning
from placement.services.intake.rules import age_on, profile_mismatches
from placement.services.occupancy.core import Capacity, PlaceState
from placement.services.occupancy.locking import lock_facilities
from placement.services.occupancy.queries import place_states_at, state_of
from placement.services.planning.scenario import (
    PlannedMove,
    PlanParameters,
    build_scenario,
    facility_fingerprint,
    moves_of,
    youth_fingerprint,
)
from placement.timeutil import now as utc_now

ACTIVE = (PlanStatus.QUEUED, PlanStatus.RUNNING)


def _get(plan_id: int) -> Plan:
    plan = db.session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(Code.UNKNOWN_PLAN, "plan_id")
    return plan


def create_plan(actor: audit.Actor, parameters: PlanParameters) -> Plan:
    """Queue a plan for ``parameters``; the scenario is built and stored now."""
    permissions.require(actor.role, Permission.PLAN)
    instant = utc_now()
    built = build_scenario(parameters, instant)
    plan = Plan(
        status=PlanStatus.QUEUED,
        scope=built.scope,
        relieve_facility_id=parameters.relieve_facility_id
        if built.scope == PlanScope.RELIEVE
        else None,
        parameters=parameters.to_dict(),
        scenario=built.document,
        fingerprint=built.fingerprint,
        as_of=instant,
        time_limit=parameters.time_limit,
        created_by_id=actor.user_id,
        created_at=instant,
    )
    db.session.add(plan)
    audit.record(actor, "plan.create", plan, after={"parameters": plan.parameters})
    return plan


def facilities_to_plan(actor: audit.Actor) -> list[Facility]:
    """The facilities a plan may name (open ones), by name."""
    permissions.require(actor.role, Permission.PLAN)
    return list(
        db.session.scalars(
            select(Facility).where(Facility.active.is_(True)).order_by(Facility.name)
        ).all()
    )


def replan(actor: audit.Actor, plan_id: int) -> Plan:
    """A new plan with the same parameters, from the database as it is now."""
    permissions.require(actor.role, Permission.PLAN)
    return create_plan(actor, PlanParameters.from_dict(_get(plan_id).parameters))


def expire_lease(plan: Plan, instant: datetime | None = None) -> bool:
    """A running plan whose runner stopped renewing its lease has failed."""
    instant = instant or utc_now()
    if plan.status != PlanStatus.RUNNING or plan.lease_until is None:
        return False
    if plan.lease_until >= instant:
        return False
    plan.status = PlanStatus.FAILED
    plan.finished_at = instant
    plan.error = "worker_lost"
    audit.record(audit.SYSTEM, "plan.fail", plan, after={"error": plan.error})
    return True


def get_plan(actor: audit.Actor, plan_id: int) -> Plan:
    """A plan as it stands; a plan whose runner died is marked failed on the way."""
    permissions.require(actor.role, Permission.PLAN)
    plan = _get(plan_id)
    expire_lease(plan)
    return plan


def list_plans(actor: audit.Actor, facility_id: int | None = None, limit: int = 50) -> list[Plan]:
    """Plans, newest first. Of one facility: the plans that relieve it or move anybody
    into or out of it (among the latest few hundred plans)."""
    permissions.require(actor.role, Permission.PLAN)
    newest = select(Plan).order_by(Plan.created_at.desc(), Plan.id.desc())
    if facility_id is None:
        return list(db.session.scalars(newest.limit(limit)).all())
    key = str(facility_id)

    def touches(plan: Plan) -> bool:
        moves = (plan.result or {}).get("moves", [])
        return plan.relieve_facility_id == facility_id or any(
            key in (m["from"], m["to"]) for m in moves
        )

    return [p for p in db.session.scalars(newest.limit(limit * 8)).all() if touches(p)][:limit]


def cancel_plan(actor: audit.Actor, plan_id: int) -> Plan:
    """Stop a queued or running plan, or withdraw one not yet executed."""
    permissions.require(actor.role, Permission.PLAN)
    plan = _locked(plan_id)
    if plan.status not in (*ACTIVE, PlanStatus.PROPOSED, PlanStatus.APPROVED):
        raise Conflict(Code.PLAN_NOT_CANCELLABLE, "plan_id", status=plan.status)
    before = plan.status.value
    plan.status = PlanStatus.CANCELLED
    plan.finished_at = plan.finished_at or utc_now()
    audit.record(actor, "plan.cancel", plan, before={"status": before})
    return plan


@dataclass(frozen=True)
class PlanSummary:
    """A plan as the API reports it (codes; the adapter words them)."""

    id: int
    status: PlanStatus
    scope: PlanScope
    relieve_facility_id: int | None
    created_at: datetime
    as_of: datetime
    time_limit: float
    stage: str | None
    elapsed: float | None
    best: dict[str, int] | None
    objective: dict[str, int] | None
    proven: bool
    proven_levels: list[str]
    moves: list[PlannedMove]
    greedy: dict[str, Any] | None
    error: str | None
    stale: list[list[str]]
    approved_moves: list[int] | None
    executed_moves: int | None


def summary(plan: Plan) -> PlanSummary:
    result = plan.result or {}
    progress = plan.progress or {}
    return PlanSummary(
        id=plan.id,
        status=plan.status,
        scope=plan.scope,
        relieve_facility_id=plan.relieve_facility_id,
        created_at=plan.created_at,
        as_of=plan.as_of,
        time_limit=plan.time_limit,
        stage=progress.get("stage"),
        elapsed=progress.get("elapsed"),
        best=progress.get("best"),
        objective=result.get("objective"),
        proven=result.get("status") == "OPTIMAL",
        proven_levels=list(result.get("proven_levels", [])),
        moves=moves_of(result),
        greedy=plan.greedy,
        error=plan.error,
        stale=plan.stale_reason or [],
        approved_moves=[int(y) for y in plan.approved_moves] if plan.approved_moves else None,
        executed_moves=plan.executed_moves,
    )


# --- review -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MoveLine:
    youth_id: int
    reference: str
    age: int
    gender: Gender
    group: str | None
    from_id: int
    to_id: int
    distance_km: float | None  # None: an anonymous placement the viewer is not assigned to


@dataclass(frozen=True)
class FacilityChange:
    facility_id: int
    name: str
    before: PlaceState
    after: PlaceState
    moving_out: int
    moving_in: int


@dataclass(frozen=True)
class StayingExplained:
    reference: str
    facility_id: int
    reasons: list[str]


@dataclass
class PlanReview:
    plan: Plan
    names: dict[int, str]
    moves: list[MoveLine]
    groups: list[tuple[int, int, list[MoveLine]]]  # (from, to, moves)
    changes: list[FacilityChange]
    objective: dict[str, int]
    objective_before: dict[str, int]
    greedy: dict[str, Any] | None
    proven: bool
    explanations: list[StayingExplained] = field(default_factory=list)


def review(actor: audit.Actor, plan_id: int) -> PlanReview:
    """What a proposed plan would do, with the persons it moves (reference, age and gender
    only: a need-to-know view, written to the audit log)."""
    from solver.geo import haversine_km

    plan = get_plan(actor, plan_id)
    result = plan.result or {}
    scenario = plan.scenario
    facilities = {int(f["id"]): f for f in scenario["facilities"]}
    youths = {int(y["id"]): y for y in scenario["youths"]}
    prints = plan.fingerprint["youths"]
    names = {fid: f["name"] for fid, f in facilities.items()}
    sees = _persons_visible(actor)
    hidden = _hidden_locations(actor, list(facilities))
    lines = []
    for move in moves_of(result):
        youth = youths[move.youth_id]
        shown = sees(move.from_id) or sees(move.to_id)
        measured = not hidden & {move.from_id, move.to_id}
        lines.append(
            MoveLine(
                youth_id=move.youth_id,
                reference=prints[str(move.youth_id)]["reference"] if shown else MASKED,
                age=youth["age"],
                gender=Gender(youth["gender"]),
                group=youth["group"],
                from_id=move.from_id,
                to_id=move.to_id,
                distance_km=round(
                    haversine_km(
                        tuple(facilities[move.from_id]["location"]),
                        tuple(facilities[move.to_id]["location"]),
                    ),
                    1,
                )
                if measured
                else None,
            )
        )
    lines.sort(key=lambda m: (names[m.from_id], names[m.to_id], m.group or "", m.reference))
    grouped: dict[tuple[int, int], list[MoveLine]] = defaultdict(list)
    for line in lines:
        grouped[(line.from_id, line.to_id)].append(line)
    shown_ids = [m.youth_id for m in lines if m.reference != MASKED]
    if shown_ids:
        audit.record(actor, "plan.persons.view", plan, after={"youths": shown_ids})
    explained = [
        StayingExplained(
            reference=prints[e["youth"]]["reference"],
            facility_id=int(e["facility"]),
            reasons=[r["text"] for r in e["reasons"]],
        )
        for e in result.get("explanations", [])
        if e["youth"] in prints and _in_scope(plan, int(e["facility"])) and sees(int(e["facility"]))
    ]
    return PlanReview(
        plan=plan,
        names=names,
        moves=lines,
        groups=[(f, t, ms) for (f, t), ms in grouped.items()],
        changes=_changes(plan, lines),
        objective=result.get("objective") or {},
        objective_before=objective_without_moves(scenario),
        greedy=plan.greedy,
        proven=result.get("status") == "OPTIMAL",
        explanations=explained,
    )


# What a review shows instead of the reference of a youth whose facility's persons the
# actor may not see (department heads approve moves by age, gender and group only).
MASKED = "–"


def _hidden_locations(actor: audit.Actor, facility_ids: list[int]) -> set[int]:
    """The anonymous placements among ``facility_ids`` whose whereabouts ``actor`` may not
    learn (not assigned to them): no distance to them, no location in a download, since a
    few distances from known houses would locate them (#13)."""
    assigned = places.assigned_facility_ids(actor)
    anonymous = db.session.scalars(
        select(Facility).where(Facility.id.in_(facility_ids), Facility.anonymous_address)
    )
    return {f.id for f in anonymous if not places.locatable(f, assigned)}


def plan_document(actor: audit.Actor, plan_id: int, document: str) -> dict[str, Any]:
    """The scenario a plan was computed from, or the solver's plan, as downloaded: in the
    scenario, the location of an anonymous placement the actor is not assigned to is null
    (``python -m solver validate`` needs the stored copy, which stays whole)."""
    plan = get_plan(actor, plan_id)
    if document != "scenario":
        return plan.result or {}
    scenario = plan.scenario
    hidden = _hidden_locations(actor, [int(f["id"]) for f in scenario["facilities"]])
    if not hidden:
        return scenario
    return {
        **scenario,
        "facilities": [
            {**f, "location": None} if int(f["id"]) in hidden else f for f in scenario["facilities"]
        ],
    }


def _persons_visible(actor: audit.Actor):
    """Whether ``actor`` may see the persons of a facility (by id), per facility."""
    if not permissions.can(actor.role, Permission.VIEW_PERSONS):
        return lambda _facility_id: False
    visible = permissions.person_scope(actor)
    if visible.everything:
        return lambda _facility_id: True
    return lambda facility_id: facility_id in (visible.facility_ids or ())


def _in_scope(plan: Plan, facility_id: int) -> bool:
    """Relieving one facility, the youths of the others stay by definition."""
    return plan.scope != PlanScope.RELIEVE or facility_id == plan.relieve_facility_id


def objective_without_moves(scenario: dict[str, Any]) -> dict[str, int]:
    """The objective if nobody moved (what the plan improves on)."""
    counts: dict[str, int] = defaultdict(int)
    for youth in scenario["youths"]:
        counts[youth["facility"]] += 1
    overflow = shortfall = 0
    for facility in scenario["facilities"]:
        n = counts[facility["id"]]
        overflow += max(0, n - facility["capacity"])
        shortfall += max(0, n - (facility["capacity"] - facility["reserve"]))
    return {"overflow": overflow, "reserve_shortfall": shortfall, "moves": 0, "distance": 0}


def _changes(plan: Plan, lines: list[MoveLine]) -> list[FacilityChange]:
    """Before and after per facility that the plan touches or that is over its limit."""
    out: dict[int, int] = defaultdict(int)
    into: dict[int, int] = defaultdict(int)
    for line in lines:
        out[line.from_id] += 1
        into[line.to_id] += 1
    changes = []
    for key, printed in plan.fingerprint["facilities"].items():
        fid = int(key)
        period_id, licensed, usable, ceiling, kept_free = printed["capacity"]
        occupied, reservations, held = printed["state"]
        capacity = (
            Capacity(plan.as_of, None, licensed, usable, ceiling, kept_free, period_id)
            if period_id is not None
            else None
        )
        before = PlaceState(capacity, occupied, reservations, held)
        after = PlaceState(capacity, occupied - out[fid] + into[fid], reservations, held)
        if out[fid] or into[fid] or before.over_capacity or before.above_usable:
            changes.append(FacilityChange(fid, printed["name"], before, after, out[fid], into[fid]))
    changes.sort(key=lambda c: (-c.before.over_by, c.name))
    return changes


# --- approval and execution ---------------------------------------------------------------


def _locked(plan_id: int) -> Plan:
    """The plan row, locked until the transaction ends (SQLite: the write lock)."""
    lock_facilities([])
    plan = db.session.scalar(select(Plan).where(Plan.id == plan_id).with_for_update())
    if plan is None:
        raise NotFound(Code.UNKNOWN_PLAN, "plan_id")
    db.session.refresh(plan)
    return plan


def _chosen(
    plan: Plan, youth_ids: list[int] | None, approved_only: bool = False
) -> list[PlannedMove]:
    """The plan's moves (or only its approved ones) for ``youth_ids`` (None: all of
    them); siblings in one house go together."""
    moves = moves_of(plan.result or {})
    if approved_only:
        approved = set(plan.approved_moves or [])
        moves = [m for m in moves if str(m.youth_id) in approved]
    if youth_ids is None:
        chosen = moves
    else:
        by_youth = {m.youth_id: m for m in moves}
        unknown = [y for y in youth_ids if y not in by_youth]
        if unknown:
            raise RuleViolation(Code.UNKNOWN_MOVE, "moves", youths=", ".join(map(str, unknown)))
        chosen = [by_youth[y] for y in dict.fromkeys(youth_ids)]
    if not chosen:
        raise RuleViolation(Code.NO_MOVES_SELECTED, "moves")
    groups = {y["id"]: (y["group"], y["facility"]) for y in plan.scenario["youths"]}
    selected = {str(m.youth_id) for m in chosen}
    for move in moves:
        group, home = groups[str(move.youth_id)]
        if group is None:
            continue
        together = {str(m.youth_id) for m in moves if groups[str(m.youth_id)] == (group, home)}
        if (str(move.youth_id) in selected) and not together <= selected:
            raise RuleViolation(Code.SIBLINGS_SPLIT, "moves", group=group)
    return chosen


def approve_plan(actor: audit.Actor, plan_id: int, youth_ids: list[int] | None = None) -> Plan:
    """Approve all or some of a proposed plan's moves for execution."""
    permissions.require(actor.role, Permission.APPROVE_PLAN)
    plan = _locked(plan_id)
    _require_status(plan, PlanStatus.PROPOSED, PlanStatus.APPROVED)
    chosen = _chosen(plan, youth_ids)
    plan.status = PlanStatus.APPROVED
    plan.approved_moves = [str(m.youth_id) for m in chosen]
    plan.approved_by_id = actor.user_id
    plan.approved_at = utc_now()
    audit.record(actor, "plan.approve", plan, after={"moves": plan.approved_moves})
    return plan


def _require_status(plan: Plan, *allowed: PlanStatus) -> None:
    if plan.status in allowed:
        return
    code = {
        PlanStatus.EXECUTED: Code.PLAN_ALREADY_EXECUTED,
        PlanStatus.CANCELLED: Code.PLAN_CANCELLED,
        PlanStatus.STALE: Code.PLAN_STALE,
    }.get(plan.status)
    if code is None:
        code = Code.PLAN_NOT_APPROVED if PlanStatus.APPROVED in allowed else Code.PLAN_NOT_PROPOSED
    raise Conflict(code, "plan_id", status=plan.status)


class StaleCode(StrEnum):
    STAY_CHANGED = "stay_changed"
    YOUTH_CHANGED = "youth_changed"
    CAPACITY_CHANGED = "capacity_changed"
    PROFILE_CHANGED = "profile_changed"
    NO_LONGER_FITS = "no_longer_fits"  # e.g. a birthday since: too old for the target


@dataclass(frozen=True)
class StaleReason:
    code: StaleCode
    subject: str  # a youth's reference or a facility's name


@dataclass
class Execution:
    plan: Plan
    stale: list[StaleReason] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)

    @property
    def executed(self) -> bool:
        return not self.stale


def changes_since(plan: Plan, moves: list[PlannedMove], instant: datetime) -> list[StaleReason]:
    """What changed since the plan was computed, of what ``moves`` touch."""
    youth_ids = [m.youth_id for m in moves]
    facility_ids = sorted({m.from_id for m in moves} | {m.to_id for m in moves})
    open_stays = {
        s.youth_id: s
        for s in db.session.scalars(
            select(Stay)
            .where(Stay.youth_id.in_(youth_ids), Stay.end_at.is_(None))
            .options(selectinload(Stay.youth).selectinload(Youth.excluded_facilities))
        ).all()
    }
    facilities = db.session.scalars(select(Facility).where(Facility.id.in_(facility_ids))).all()
    targets = {f.id: f for f in facilities}
    reasons = []
    for move in moves:
        then = plan.fingerprint["youths"][str(move.youth_id)]
        stay = open_stays.get(move.youth_id)
        if stay is None:
            reasons.append(StaleReason(StaleCode.STAY_CHANGED, then["reference"]))
            continue
        now = youth_fingerprint(stay)
        if now["stay"] != then["stay"]:
            reasons.append(StaleReason(StaleCode.STAY_CHANGED, then["reference"]))
        elif now["youth"] != then["youth"]:
            reasons.append(StaleReason(StaleCode.YOUTH_CHANGED, then["reference"]))
        elif profile_mismatches(
            targets[move.to_id],
            age_on(stay.youth.birth_date, instant),
            stay.youth.gender,
            stay.youth.uma,
        ):
            reasons.append(StaleReason(StaleCode.NO_LONGER_FITS, then["reference"]))
    states = place_states_at(instant, facility_ids)
    for facility in sorted(facilities, key=lambda f: f.name):
        then = plan.fingerprint["facilities"][str(facility.id)]
        now = facility_fingerprint(facility, state_of(states, facility.id))
        if now["profile"] != then["profile"]:
            reasons.append(StaleReason(StaleCode.PROFILE_CHANGED, then["name"]))
        if now["capacity"] != then["capacity"]:
            reasons.append(StaleReason(StaleCode.CAPACITY_CHANGED, then["name"]))
    return reasons


def execute_plan(actor: audit.Actor, plan_id: int, youth_ids: list[int] | None = None) -> Execution:
    """Execute the approved moves (or, for those who may approve, the given or all moves of
    a proposed plan) in one transaction: all or nothing. A plan whose moves touch anything
    that changed since it was computed is marked stale instead (the caller commits that
    too and tells the user what changed)."""
    permissions.require(actor.role, Permission.PLAN)
    plan = _locked(plan_id)
    if plan.status == PlanStatus.PROPOSED and permissions.can(actor.role, Permission.APPROVE_PLAN):
        approve_plan(actor, plan.id, youth_ids)
    _require_status(plan, PlanStatus.APPROVED)
    moves = _chosen(plan, youth_ids, approved_only=True)
    instant = utc_now()
    lock_facilities(sorted({m.from_id for m in moves} | {m.to_id for m in moves}))
    stale = changes_since(plan, moves, instant)
    if stale:
        plan.status = PlanStatus.STALE
        plan.stale_reason = [[r.code.value, r.subject] for r in stale]
        audit.record(actor, "plan.stale", plan, after={"reasons": plan.stale_reason})
        return Execution(plan, stale=stale)
    execution = Execution(plan)
    by_route: dict[tuple[int, int], list[int]] = defaultdict(list)
    for move in moves:
        by_route[(move.from_id, move.to_id)].append(move.youth_id)
    for (_origin, target), youth_ids_here in sorted(by_route.items()):
        moving = [stay_rules.open_stay_of(youth_id) for youth_id in sorted(youth_ids_here)]
        result = stay_rules.transfer(actor, moving, target, instant)
        execution.stays += result.stays
        execution.warnings += result.warnings
    plan.status = PlanStatus.EXECUTED
    plan.executed_by_id = actor.user_id
    plan.executed_at = instant
    plan.executed_moves = len(moves)
    audit.record(actor, "plan.execute", plan, after={"moves": [str(m.youth_id) for m in moves]})
    return execution
