"""GET /api/v1/occupancy: places and occupancy per facility at an instant (counts only)."""

from __future__ import annotations

from typing import Any

from placement.api import schemas
from placement.api.blueprint import actor, bp, errors, permission_first, role_needs
from placement.services.accounts.permissions import Permission
from placement.services.reporting import overview
from placement.timeutil import now as utc_now


@bp.get("/occupancy")
@permission_first(role_needs(Permission.VIEW_COUNTS))
@bp.arguments(schemas.OccupancyQuery, location="query")
@bp.response(200, schemas.OccupancyOut)
@errors(400, 403)
def occupancy(query: dict[str, Any]):
    """Places and occupancy of every active facility at ``at`` (default now).

    Licensed, usable and ceiling places, occupied, reserved and free places, and status.
    An ``at`` in the future or before the first recorded data is refused (field ``at``)."""
    at = query.get("at")
    return overview.board_at(actor(), at or utc_now(), as_of=at is not None, with_changes=False)
