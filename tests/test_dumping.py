"""The quick dump of the API's answers gives marshmallow's own results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum

import marshmallow as ma
import pytest
from marshmallow import fields

from placement.api import dumping, schemas


class Colour(Enum):
    RED = "red"


@dataclass
class Inner:
    name: str
    when: datetime | None = None


@dataclass
class Outer:
    id: int
    inner: Inner | None
    tags: list
    day: date
    colour: Colour

    @property
    def broken(self):
        raise AttributeError("computed from something absent")


class InnerOut(schemas.Schema):
    name = fields.String()
    when = fields.DateTime(allow_none=True)


class Shout(fields.String):
    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return "LOUD"


class OuterOut(schemas.Schema):
    id = fields.Integer()
    label = fields.String(attribute="inner.name")
    inner = fields.Nested(InnerOut, allow_none=True)
    inners = fields.List(fields.Nested(InnerOut), attribute="tags")
    day = fields.Date()
    colour = fields.Enum(Colour, by_value=True)
    shout = Shout()
    computed = fields.Function(lambda obj: "f")
    broken = fields.String()
    absent = fields.Integer(dump_default=7)
    code = fields.String(attribute="colour.value", data_key="CODE")
    secret = fields.String(load_only=True)


OBJECTS = [
    Outer(
        1,
        Inner("a", datetime(2026, 12, 1, 3, 0, tzinfo=UTC)),
        [Inner("b")],
        date(2026, 1, 2),
        Colour.RED,
    ),
    Outer(2, None, [], date(2026, 1, 3), Colour.RED),  # a dotted path through None
    {"id": 3, "inner": {"name": "c"}, "tags": [], "day": date(2026, 1, 4), "colour": Colour.RED},
]


@pytest.fixture
def unverified(monkeypatch):
    monkeypatch.setattr(dumping, "VERIFY", False)


@pytest.mark.parametrize("obj", OBJECTS, ids=["object", "none-on-the-path", "mapping"])
def test_the_quick_dump_equals_marshmallows(obj, unverified):
    schema = OuterOut()
    quick = schema.dump(obj)
    assert quick == ma.Schema._serialize(schema, obj)
    assert quick["shout"] == "LOUD" and quick["computed"] == "f"  # their own paths
    assert "broken" not in quick  # AttributeError: missing, as marshmallow has it
    assert quick["absent"] == 7  # the dump default of a missing value
    assert "secret" not in quick and quick["CODE"] == "red"


def test_many_and_hooks(unverified):
    class Hooked(InnerOut):
        @ma.post_dump(pass_collection=False)
        def upper(self, data, **kwargs):
            return {**data, "name": data["name"].upper()}

    dumped = Hooked(many=True).dump([Inner("x"), Inner("y")])
    assert [d["name"] for d in dumped] == ["X", "Y"]


def test_verify_reports_a_difference(monkeypatch):
    """With VERIFY (as in every test), a quick dump that differs fails loudly."""
    monkeypatch.setattr(dumping, "VERIFY", True)
    monkeypatch.setattr(dumping, "serialize", lambda schema, obj: {"name": "wrong"})
    with pytest.raises(AssertionError, match="InnerOut"):
        InnerOut().dump(Inner("right"))


class Kept(schemas.Schema):
    name = fields.String()
    when = fields.DateTime(allow_none=True)

    def memo_key(self, obj) -> tuple:
        return (obj.name, obj.when)


def test_a_dump_is_kept_by_its_memo_key(monkeypatch):
    schema = Kept()
    first = schema.dump(Inner("a"))
    assert schema.dump(Inner("a")) is first  # the same values: the kept dump
    changed = schema.dump(Inner("a", datetime(2026, 12, 1, 3, 0, tzinfo=UTC)))
    assert changed == {"name": "a", "when": "2026-12-01T03:00:00+00:00"}
    assert Kept().dump(Inner("a")) is not first  # kept per schema instance
    monkeypatch.setattr(dumping, "MEMO_SIZE", 2)
    schema.dump(Inner("b"))  # a third key: the store is emptied first
    assert schema.dump(Inner("a")) is not first


def test_verify_checks_a_kept_dump_too(monkeypatch):
    """A memo key that misses a value the dump reads would hand out a stale dump: with
    VERIFY, as in every test, that fails."""

    class Forgetful(Kept):
        def memo_key(self, obj) -> tuple:
            return (obj.name,)

    monkeypatch.setattr(dumping, "VERIFY", True)
    schema = Forgetful()
    schema.dump(Inner("a"))
    with pytest.raises(AssertionError, match="Forgetful"):
        schema.dump(Inner("a", datetime(2026, 12, 1, 3, 0, tzinfo=UTC)))


@dataclass
class Loose:
    count: object
    share: object
    text: object
    flag: object
    number: object = 3


class LooseOut(schemas.Schema):
    count = fields.Integer(allow_none=True)
    share = fields.Float()
    text = fields.String()
    flag = fields.Boolean()
    shown = fields.Integer(as_string=True, attribute="number")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((3, 0.5, "a", True), {"count": 3, "share": 0.5, "text": "a", "flag": True, "shown": "3"}),
        # Values of another type are formatted by the field, as marshmallow does.
        ((True, 2, 7, 1), {"count": 1, "share": 2.0, "text": "7", "flag": 1, "shown": "3"}),
        ((None, None, None, None), {"count": None, "share": None, "text": None, "flag": None}),
    ],
    ids=["own-types", "other-types", "none"],
)
def test_plain_values_are_taken_as_formatting_would_return_them(values, expected, unverified):
    dumped = LooseOut().dump(Loose(*values))
    assert dumped == ma.Schema._serialize(LooseOut(), Loose(*values))
    assert {k: dumped[k] for k in expected} == expected
    assert [type(dumped[k]) for k in expected] == [type(v) for v in expected.values()]
