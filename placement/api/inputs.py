"""Reading JSON request bodies and query strings into typed values, naming bad fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import request

from placement.services.errors import PlacementError
from placement.timeutil import parse_instant


class BadInput(PlacementError):
    status_code = 400


def json_body() -> dict[str, Any]:
    """The request's JSON object; malformed JSON or a non-object is a 400 naming ``body``."""
    data = request.get_json(silent=True)
    if data is None:
        raise BadInput("Der Anfragetext ist kein gültiges JSON.", field="body")
    if not isinstance(data, dict):
        raise BadInput("Der Anfragetext muss ein JSON-Objekt sein.", field="body")
    return data


def integer(data: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    value = data.get(name)
    if value is None:
        if required:
            raise BadInput(f"Das Feld „{name}“ fehlt.", field=name)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise BadInput(f"„{name}“ muss eine ganze Zahl sein.", field=name)
    return value


def text(
    data: dict[str, Any], name: str, *, required: bool = True, max_length: int = 500
) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadInput(f"Das Feld „{name}“ fehlt.", field=name)
        return None
    if not isinstance(value, str):
        raise BadInput(f"„{name}“ muss ein Text sein.", field=name)
    if len(value) > max_length:
        raise BadInput(f"„{name}“ ist zu lang (höchstens {max_length} Zeichen).", field=name)
    return value.strip()


def boolean(data: dict[str, Any], name: str, *, required: bool = True) -> bool | None:
    value = data.get(name)
    if value is None:
        if required:
            raise BadInput(f"Das Feld „{name}“ fehlt.", field=name)
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "ja", "nein"):
        return value.lower() in ("true", "1", "ja")
    raise BadInput(f"„{name}“ muss true oder false sein.", field=name)


def instant(data: dict[str, Any], name: str, *, required: bool = False) -> datetime | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise BadInput(f"Das Feld „{name}“ fehlt.", field=name)
        return None
    if not isinstance(value, str):
        raise BadInput(f"„{name}“ muss ein Zeitpunkt im ISO-8601-Format sein.", field=name)
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise BadInput(
            f"„{name}“ ist kein gültiger Zeitpunkt (ISO 8601, z. B. 2024-03-01T14:30:00+01:00).",
            field=name,
        ) from exc
