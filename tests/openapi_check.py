"""Every API answer in the test suite is checked against the generated OpenAPI document,
so that the document cannot drift from what the endpoints return."""

from __future__ import annotations

import json
import re

from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.testing import MockRequest, MockResponse
from werkzeug.exceptions import MethodNotAllowed, NotFound

_SPECS: dict[str, OpenAPI] = {}


def openapi_document(app) -> dict:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _openapi(app) -> OpenAPI:
    document = openapi_document(app)
    key = json.dumps(document, sort_keys=True)
    if key not in _SPECS:
        _SPECS[key] = OpenAPI.from_dict(document)
    return _SPECS[key]


class _Request(WerkzeugOpenAPIRequest):
    """The request as the document sees it; its body was read by the endpoint already."""

    @property
    def body(self):
        return None


def path_template(app, method: str, path: str) -> str | None:
    """The OpenAPI path template of a request (None: no route of the app)."""
    try:
        rule, _args = app.url_map.bind("localhost").match(path, method, return_rule=True)
    except (NotFound, MethodNotAllowed):
        return None
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)


class ResponseChecker:
    """Validates test responses and remembers which operations answered with which status."""

    def __init__(self, app) -> None:
        self.app = app
        self.openapi = _openapi(app)
        self.paths = openapi_document(app)["paths"]
        self.seen: set[tuple[str, str, int]] = set()

    def check(self, response) -> None:
        """Raise if ``response`` (a Flask test response) is not what the document says."""
        request = response.request
        template = path_template(self.app, request.method, request.path)
        if template not in self.paths or request.method.lower() not in self.paths[template]:
            return  # not an operation (unknown path or method): nothing documented to check
        self.openapi.validate_response(_Request(request), WerkzeugOpenAPIResponse(response))
        self.seen.add((request.method, template, response.status_code))

    def check_raw(self, method: str, url: str, status: int, body: object) -> None:
        """The same for an answer received over real HTTP (a JSON body)."""
        scheme, _, rest = url.partition("://")
        host, _, path = rest.partition("/")
        request = MockRequest(f"{scheme}://{host}", method.lower(), f"/{path}")
        response = MockResponse(json.dumps(body).encode(), status_code=status)
        self.openapi.validate_response(request, response)
