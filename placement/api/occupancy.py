"""GET /api/v1/occupancy: places and occupancy per facility at an instant (counts only)."""

from __future__ import annotations

from flask import g, jsonify, request

from placement.api import bp
from placement.api.inputs import instant
from placement.api.openapi import SCHEMAS, document
from placement.models import utcnow
from placement.services import overview
from placement.services.permissions import Permission, require


@bp.get("/occupancy")
def occupancy():
    """Every active facility with licensed, usable and ceiling places, occupied, reserved
    and free places at ``at`` (ISO 8601; default now; without an offset Berlin time)."""
    require(g.api_user.role, Permission.VIEW_COUNTS)
    moment = instant(request.args, "at") or utcnow()
    board = overview.board_at(moment)
    return jsonify(
        {
            "at": moment.isoformat(),
            "facilities": [
                {
                    "id": row.facility.id,
                    "code": row.facility.code,
                    "name": row.facility.name,
                    "kind": row.facility.kind.value,
                    "planning_area": row.facility.planning_area,
                    "licensed": row.licensed,
                    "usable": row.usable,
                    "ceiling": row.ceiling,
                    "limit": row.limit,
                    "occupied": row.occupied,
                    "reserved": row.reserved,
                    "free": row.free,
                    "over_capacity": row.over_capacity,
                }
                for row in board.rows
            ],
        }
    )


SCHEMAS["FacilityOccupancy"] = {
    "type": "object",
    "required": ["id", "name", "kind", "licensed", "usable", "ceiling", "occupied", "reserved"],
    "properties": {
        "id": {"type": "integer"},
        "code": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string"},
        "planning_area": {"type": ["string", "null"]},
        "licensed": {"type": "integer", "description": "genehmigte Plätze"},
        "usable": {"type": "integer", "description": "belegbare Plätze"},
        "ceiling": {
            "type": ["integer", "null"],
            "description": "befristete Obergrenze, falls gültig",
        },
        "limit": {"type": "integer", "description": "Obergrenze, sonst genehmigte Plätze"},
        "occupied": {"type": "integer"},
        "reserved": {"type": "integer", "description": "Reservierungen und freigehaltene Plätze"},
        "free": {"type": "integer", "description": "max(0, usable - occupied - reserved)"},
        "over_capacity": {"type": "boolean"},
    },
}

document(
    "/occupancy",
    "get",
    {
        "summary": "Belegung je Einrichtung zu einem Zeitpunkt",
        "parameters": [
            {
                "name": "at",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "format": "date-time"},
                "description": "ISO 8601; ohne Zeitzone Europe/Berlin; Standard: jetzt",
            }
        ],
        "responses": {
            "200": {
                "description": "occupancy per facility",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "at": {"type": "string", "format": "date-time"},
                                "facilities": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/FacilityOccupancy"},
                                },
                            },
                        }
                    }
                },
            }
        },
    },
)
