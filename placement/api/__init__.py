"""JSON API under /api/v1 for the office's case-management software.

Authentication: ``Authorization: Bearer TOKEN`` (``flask users token EMAIL``). Errors are
JSON bodies ``{"error": "<German message>", "field": "<name or null>", "code": "<code>"}``.
Request and response bodies are marshmallow schemas (``api.schemas``) that flask-smorest
uses to validate, serialise and generate /api/v1/openapi.json."""

from __future__ import annotations

import re

from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from placement.api import (  # noqa: F401  (routes register on bp)
    facilities,
    forecast,
    intake,
    occupancy,
    people,
    planning,
)
from placement.api.blueprint import bp
from placement.api.errors import Api


def schema_name(schema) -> str:
    """Component names: response bodies without the Out suffix of their classes."""
    cls = schema if isinstance(schema, type) else type(schema)
    return re.sub(r"Out$", "", cls.__name__) or cls.__name__


def init_app(app: Flask) -> Api:
    """Register the API and its generated OpenAPI document on ``app``."""
    api = Api(
        spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=schema_name)}
    )
    api.init_app(app)
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.register_blueprint(bp)
    return api
