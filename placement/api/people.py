"""API for finding people: search by reference or file number, and the lists of stays
(placed, absconded, ended) with filters. Both are paged; where a page stands in the whole
is in the ``X-Pagination`` header. Both are audited with the query, not the results."""

from __future__ import annotations

from typing import Any

from placement.api import schemas
from placement.api.blueprint import (
    PAGINATION_HEADER,
    actor,
    bp,
    commit,
    errors,
    pagination_headers,
    permission_first,
    role_needs,
)
from placement.services.accounts.permissions import Permission
from placement.services.people import lists, search
from placement.timeutil import now as utc_now


@bp.get("/youths")
@permission_first(role_needs(Permission.VIEW_PERSONS))
@bp.arguments(schemas.YouthSearchQuery, location="query")
@bp.response(200, schemas.YouthHitOut(many=True), headers=PAGINATION_HEADER)
@errors(400, 403, 422)
def search_youths(query: dict[str, Any]):
    """Find youths by pseudonymous reference or file number.

    The whole value or its beginning, ignoring case; exact matches first, then by
    reference. Each with the open stay, else the latest (personal data: audited)."""
    found = search.search_youths(
        actor(), query["q"], utc_now(), page=query.get("page"), page_size=query.get("page_size")
    )
    commit()  # the audit entry of the search
    return found.items, 200, pagination_headers(found)


def _status(query: dict[str, Any]) -> lists.StayStatus:
    if query.get("status") is not None:
        return query["status"]
    if query.get("open") is None:
        return lists.StayStatus.ALL
    return lists.StayStatus.OPEN if query["open"] else lists.StayStatus.ENDED


@bp.get("/stays")
@permission_first(role_needs(Permission.VIEW_PERSONS))
@bp.arguments(schemas.StaysQuery, location="query")
@bp.response(200, schemas.ListedStayOut(many=True), headers=PAGINATION_HEADER)
@errors(400, 403, 422)
def list_stays(query: dict[str, Any]):
    """Stays with filters: placed now, absconded with the place still held, ended, or all.

    Filters: facility, facility kind, umA, age band, legal basis, a deadline due (open
    stays). Paged (personal data: audited with the filters)."""
    rows = lists.list_stays(
        actor(),
        utc_now(),
        status=_status(query),
        filters=lists.StayFilters(
            facility_id=query.get("facility_id"),
            kind=query.get("kind"),
            uma=query.get("uma"),
            age_band=query.get("age_band"),
            legal_basis=query.get("legal_basis"),
            deadline=query.get("deadline"),
        ),
        sort=query.get("sort"),
        page=query.get("page"),
        page_size=query.get("page_size"),
    )
    commit()  # the audit entry of the view
    return rows.items, 200, pagination_headers(rows)
