"""A quicker ``Schema._serialize`` for the answers, with marshmallow's own results.

marshmallow's generic path costs most of a large answer's time: for every field of every
object it goes through ``Field.serialize``, the schema's accessor and ``utils.get_value``,
which tries ``obj[key]`` before ``getattr`` and splits dotted attributes anew each time.
The place finder's 150 options with their facilities took longer to dump than to compute.

Here each schema instance is planned once: a field that keeps marshmallow's way of
reading its value (no own ``serialize``/``get_value``, the schema's default accessor)
reads it with a prepared ``attrgetter``; its value is then formatted by the field's own
``_serialize``, so every conversion (dates, enums, nested schemas, lists) stays
marshmallow's; a value that formatting would return unchanged (an int for an Integer,
a str for a String, anything for a Boolean) is taken as it is. Everything else, and
every object that is a mapping or lacks the attribute (marshmallow's defaults and
"missing" apply), takes marshmallow's own path.

A schema may also name a ``memo_key(obj)``: the values its dump depends on, as a
hashable tuple. Its dumps are then kept per schema instance (an answer's schemas live as
long as the process) and an object with the same key gets the dump made before: the
place finder dumps the same 150 facilities for every search. The key holds every value
read, not a version, so a kept dump can never be stale; answers are not changed after
the dump, so a kept one may be handed out again. ``VERIFY`` (set by the tests) compares
each result, kept or not, with marshmallow's."""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

import marshmallow as ma
from marshmallow import fields

# The tests set this: every dump is then also made by marshmallow and compared.
VERIFY = False

# Dumps kept per schema instance with a memo_key; the store is emptied when it holds more.
MEMO_SIZE = 4096

_FALLBACK = object()


def _getter(field: fields.Field, attr_name: str, schema: ma.Schema) -> Callable | None:
    """A quick reader of the field's value, or None where marshmallow's path is needed."""
    cls = type(field)
    if (
        not field._CHECK_ATTRIBUTE
        or cls.serialize is not fields.Field.serialize
        or cls.get_value is not fields.Field.get_value
        or type(schema).get_attribute is not ma.Schema.get_attribute
    ):
        return None
    return attrgetter(field.attribute or attr_name)


# Fields whose ``_serialize`` returns a value of this exact type (or None) unchanged:
# Number formats with num_type(value), String with str(value); Boolean does not format.
_UNCHANGED: dict[type, type] = {fields.Integer: int, fields.Float: float, fields.String: str}


def _unchanged(field: fields.Field) -> type | None:
    """The value type the field dumps as it is (``object``: any), else None."""
    cls = type(field)
    if cls is fields.Boolean and cls._serialize is fields.Field._serialize:
        return object
    if getattr(field, "as_string", False):
        return None
    return _UNCHANGED.get(cls)


def _plan(schema: ma.Schema) -> list[tuple[str, str, fields.Field, Callable | None, type | None]]:
    return [
        (
            field.data_key if field.data_key is not None else attr_name,
            attr_name,
            field,
            _getter(field, attr_name, schema),
            _unchanged(field),
        )
        for attr_name, field in schema.dump_fields.items()
    ]


def serialize(schema: ma.Schema, obj: Any) -> dict:
    """One object as ``ma.Schema._serialize(schema, obj)`` would dump it."""
    plan = schema.__dict__.get("_dump_plan")
    if plan is None:
        plan = schema.__dict__["_dump_plan"] = _plan(schema)
    # marshmallow tries obj[key] before getattr: mappings and sequences take its path.
    quick = not hasattr(obj, "__getitem__")
    result = schema.dict_class()
    for key, attr_name, field, get, unchanged in plan:
        value = _FALLBACK
        if quick and get is not None:
            try:  # noqa: SIM105 (a bare try is quicker than suppress() in this loop)
                value = get(obj)
            except AttributeError:
                pass  # marshmallow's default and "missing" rules apply
        if value is _FALLBACK:
            value = field.serialize(attr_name, obj, accessor=schema.get_attribute)
            if value is ma.missing:
                continue
        elif not (unchanged is object or value is None or type(value) is unchanged):
            value = field._serialize(value, attr_name, obj)
        result[key] = value
    return result


class QuickDump:
    """Mixin for a marshmallow Schema: ``_serialize`` through ``serialize`` (pre- and
    post-dump hooks still run in ``dump``)."""

    def _serialize(self, obj: Any, *, many: bool = False):
        if many and obj is not None:
            return [self._serialize(item) for item in obj]
        memo_key = getattr(self, "memo_key", None)
        if memo_key is None:
            result = serialize(self, obj)  # type: ignore[arg-type]
        else:
            kept = self.__dict__.setdefault("_memo", {})
            key = memo_key(obj)
            result = kept.get(key)
            if result is None:
                if len(kept) >= MEMO_SIZE:
                    kept.clear()
                result = kept[key] = serialize(self, obj)  # type: ignore[arg-type]
        if VERIFY:
            expected = ma.Schema._serialize(self, obj)  # type: ignore[arg-type]
            assert result == expected, f"{type(self).__name__}: {result!r} != {expected!r}"
        return result
