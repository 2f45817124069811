"""Input at the request boundary: ids in paths, characters in query strings and forms, and
the last line of defence against values the database cannot hold.

Every ``<int:...>`` in a route is a row id. Werkzeug's own int converter accepts any
length of digits, and an id beyond the database's integer range (``2**31`` on PostgreSQL,
``2**63`` on SQLite) makes the driver fail with an overflow, a 500. Here an id outside
1 .. 2**31-1 (the range of the id columns, the same on both databases) or with a sign
matches no route: 404, as for any id that does not exist. The bounds also appear in the
OpenAPI document (``minimum``/``maximum`` of the path parameters).

A NUL byte, a lone surrogate or a non-ASCII digit string (``"²"``, which ``str.isdigit``
accepts and ``int`` refuses) in a query string or form field answers 400 naming the field,
before any view sees it. Should a value the checks above do not know still overflow a
column (``sqlalchemy.exc.DataError`` on PostgreSQL, ``OverflowError`` from SQLite), the
request is rolled back and answered 400, never 500."""

from __future__ import annotations

import logging

from flask import Flask, request
from flask_babel import gettext as _
from sqlalchemy.exc import DataError
from werkzeug import exceptions
from werkzeug.routing import IntegerConverter, Map

from placement.services.errors import BadInput, Code

log = logging.getLogger(__name__)

ID_MIN = 1
ID_MAX = 2**31 - 1  # INTEGER primary keys on PostgreSQL (and within SQLite's 64 bits)


class IdConverter(IntegerConverter):
    """A row id: 1 .. 2**31-1, ASCII digits only (no sign)."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map: Map, min: int | None = ID_MIN, max: int | None = ID_MAX) -> None:  # noqa: A002
        super().__init__(map, min=min, max=max, signed=False)


def unusable_character(value: str) -> bool:
    """A value no field of the product can take: a NUL byte, a lone surrogate, or digits
    that are not ASCII digits (superscripts, other scripts)."""
    if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
        return True
    return value.isdigit() and not value.isascii()


def _check_characters():
    """400 naming the first query-string or form field with unusable characters."""
    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            if unusable_character(value) or unusable_character(name):
                return _bad_field(name if not unusable_character(name) else "?")
    return None


def _bad_field(field: str):
    from placement.api.errors import error_response
    from placement.views import error_page

    if request.path.startswith("/api/"):
        return error_response(BadInput(Code.INVALID_CHARACTERS, field), 400)
    return error_page(
        exceptions.BadRequest(),
        text=_(
            "„%(field)s“ enthält unzulässige Zeichen (Steuerzeichen oder ungültige "
            "Kodierung). Bitte prüfen Sie die Eingabe.",
            field=field,
        ),
    )


def install(app: Flask) -> None:
    """Make ``<int:...>`` the bounded id converter (before any route is added), check the
    characters of every query string and form, and answer 400 for overflowing values."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(_check_characters)
    app.register_error_handler(DataError, _value_not_storable)
    app.register_error_handler(OverflowError, _value_not_storable)


def _value_not_storable(error: Exception):
    """A value the database cannot hold (a number beyond its integer range, a character
    PostgreSQL refuses): 400 after a rollback, logged, so that the missing check is found."""
    from placement.api.errors import error_response
    from placement.extensions import db
    from placement.views import error_page

    db.session.rollback()
    log.warning("value not storable on %s %s: %s", request.method, request.path, error)
    if request.path.startswith("/api/"):
        return error_response(BadInput(Code.OUT_OF_RANGE, "body"), 400)
    return error_page(
        exceptions.BadRequest(),
        text=_(
            "Ein eingegebener Wert liegt außerhalb des erlaubten Bereichs (zum Beispiel eine "
            "zu große Zahl). Es wurde nichts gespeichert. Bitte prüfen Sie die Eingaben."
        ),
    )
