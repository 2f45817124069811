"""The OpenAPI 3.1 description of /api/v1, assembled from the path specs of each module."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from placement.api import bp

PATHS: dict[str, dict[str, Any]] = {}
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "field"],
        "properties": {
            "error": {"type": "string", "description": "message in German"},
            "field": {"type": ["string", "null"], "description": "the offending field"},
        },
    },
}


def document(path: str, method: str, spec: dict[str, Any]) -> None:
    """Register one operation (modules call this next to their routes)."""
    spec.setdefault("security", [{"bearer": []}])
    responses = spec.setdefault("responses", {})
    for status in ("400", "401", "403", "404", "409", "422"):
        responses.setdefault(status, {"$ref": f"#/components/responses/E{status}"})
    PATHS.setdefault(path, {})[method.lower()] = spec


@bp.get("/openapi.json")
def openapi():
    """The machine-readable API description."""
    return jsonify(
        {
            "openapi": "3.1.0",
            "info": {"title": "Platzplan API", "version": "1"},
            "servers": [{"url": "/api/v1"}],
            "paths": PATHS,
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                "schemas": SCHEMAS,
                "responses": {
                    f"E{status}": {
                        "description": "error",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    }
                    for status in ("400", "401", "403", "404", "409", "422")
                },
            },
        }
    )
