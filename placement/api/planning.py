"""API for move plans: start one (solved off the request), follow it, fetch its scenario,
execute it, cancel it."""

from __future__ import annotations

from typing import Any

from placement.api import schemas
from placement.api.blueprint import actor, bp, commit, errors, permission_first, role_needs
from placement.messages import stale_messages
from placement.services.accounts.permissions import Permission
from placement.services.errors import Code, Conflict
from placement.services.planning import plans
from placement.services.planning.scenario import PlanParameters


@bp.post("/plans")
@permission_first(role_needs(Permission.PLAN))
@bp.arguments(schemas.PlanIn)
@bp.response(202, schemas.PlanCreatedOut)
@errors(403, 404, 422)
def create_plan(data: dict[str, Any]):
    """Start a plan; it is computed in the background (poll ``GET /plans/{id}``)."""
    parameters = PlanParameters(
        scope=data["scope"],
        facility_ids=tuple(data["facility_ids"]),
        relieve_facility_id=data.get("relieve_facility_id"),
        max_moves=data.get("max_moves"),
        max_move_km=data.get("max_move_km"),
        pinned_youth_ids=tuple(data["pinned_youth_ids"]),
        closed_facility_ids=tuple(data["closed_facility_ids"]),
        keep_free=data["keep_free"],
        pin_recent_admissions=data["pin_recent_admissions"],
        pin_coming_of_age=data["pin_coming_of_age"],
        time_limit=data["time_limit"],
    )
    plan = plans.create_plan(actor(), parameters)
    commit()
    return plan


@bp.get("/plans/<int:plan_id>")
@bp.response(200, schemas.PlanOut)
@errors(403, 404)
def get_plan(plan_id: int):
    """A plan's status, progress while it is computed, then its objective and moves."""
    plan = plans.get_plan(actor(), plan_id)
    commit()  # a plan whose runner died is marked failed
    return plans.summary(plan)


@bp.get("/plans/<int:plan_id>/scenario")
@bp.response(200, schemas.ScenarioOut)
@errors(403, 404)
def get_scenario(plan_id: int):
    """The placement-scenario/1 document the plan was computed from (ids: database ids)."""
    return plans.plan_document(actor(), plan_id, "scenario")


@bp.post("/plans/<int:plan_id>/execute")
@permission_first(role_needs(Permission.PLAN))
@bp.arguments(schemas.ExecuteIn)
@bp.response(200, schemas.ExecutedOut)
@errors(403, 404, 409, 422)
def execute_plan(data: dict[str, Any], plan_id: int):
    """Execute the approved moves, all or nothing (a department head may execute a
    proposed plan's moves directly: that approves them). 409 when it was executed,
    cancelled or is stale (naming what changed)."""
    done = plans.execute_plan(actor(), plan_id, data.get("moves"))
    commit()  # a stale plan is stored as such
    if not done.executed:
        raise Conflict(
            Code.PLAN_WENT_STALE, "plan_id", reasons=" ".join(stale_messages(done.stale))
        )
    return {"plan": plans.summary(done.plan), "stays": done.stays, "warnings": done.warnings}


@bp.post("/plans/<int:plan_id>/cancel")
@bp.response(200, schemas.PlanOut)
@errors(403, 404, 409)
def cancel_plan(plan_id: int):
    """Stop a queued or running plan, or withdraw one not yet executed."""
    plan = plans.cancel_plan(actor(), plan_id)
    commit()
    return plans.summary(plan)
