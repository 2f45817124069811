"""The JSON answers written by orjson are the JSON Flask's own provider writes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from markupsafe import Markup

from placement.json_provider import FastJSONProvider


class Kind(StrEnum):
    HOME = "group_home"


@dataclass
class Point:
    x: int
    when: date


@pytest.fixture
def providers():
    app = Flask(__name__)
    flask_own = DefaultJSONProvider(app)
    flask_own.sort_keys = False
    return FastJSONProvider(app), flask_own


VALUES = {
    "plain": {"b": 1, "a": [1.5, None, True, "Jugendhilfe Süd"], "n": 2**62},
    "dates": {"day": date(2026, 12, 2), "at": datetime(2026, 12, 2, 3, 0, tzinfo=UTC)},
    "others": [Decimal("1.10"), UUID(int=7), Markup("<b>x</b>"), Kind.HOME, (1, 2)],
    "dataclass": Point(3, date(2026, 1, 1)),
    "int-keys": {1: "a", 2: "b"},
    "big-int": 2**70,
    "lone-surrogate": "a\ud800b",
}


@pytest.mark.parametrize("value", VALUES.values(), ids=VALUES.keys())
def test_the_same_json_as_flasks_provider(providers, value):
    fast, flask_own = providers
    written = fast.dumps(value, separators=(",", ":"))
    assert json.loads(written) == json.loads(flask_own.dumps(value, separators=(",", ":")))
    assert fast.dumps(value) == written  # with or without Flask's compact separators


def test_key_order_is_kept_and_unicode_written_as_it_is(providers):
    fast, _ = providers
    assert fast.dumps({"z": 1, "a": "ü"}) == '{"z":1,"a":"ü"}'
    fast.sort_keys = True
    assert fast.dumps({"z": 1, "a": 2}) == '{"a":2,"z":1}'


def test_other_options_and_unknown_types_take_flasks_path(providers):
    fast, _ = providers
    assert fast.dumps({"a": 1}, indent=2) == '{\n  "a": 1\n}'
    with pytest.raises(TypeError, match="not JSON serializable"):
        fast.dumps({"a": object()})


def test_the_app_answers_through_it(app, client):
    assert isinstance(app.json, FastJSONProvider)
    answer = client.get("/api/v1/facilities")
    assert answer.status_code == 401 and answer.get_json()["field"] == "Authorization"
