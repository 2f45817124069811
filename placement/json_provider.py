"""JSON answers written by orjson, with Flask's own results.

Flask's provider writes with the standard library's encoder, which took a tenth of the
web workers' time under the load benchmark (the place finder's answer is 150 objects of
30 fields). orjson writes the same JSON several times faster. What orjson would write
differently goes to Flask's ``default`` (dates as HTTP dates, dataclasses through
``asdict``, Decimal, ``__html__``), and what it cannot write (text with lone
surrogates, integers beyond 64 bits) or any call with options of its own (Flask's
indented debug output) is written by Flask's provider as before. Non-ASCII text is
written as UTF-8 rather than as \\u escapes: the same JSON to any reader. Reading stays
the standard library's, so that a NaN in a request is refused by the schema with its
field's name."""

from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


class FastJSONProvider(DefaultJSONProvider):
    # Answers keep their schema's field order; sorting the keys of a large answer cost a
    # tenth of its time (and orjson does not sort unless asked).
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if not kwargs or kwargs == {"separators": (",", ":")}:
            try:
                option = _OPTIONS | (orjson.OPT_SORT_KEYS if self.sort_keys else 0)
                return orjson.dumps(obj, default=self.default, option=option).decode()
            except orjson.JSONEncodeError:
                pass  # Flask's way below: it writes what orjson refuses, or says why not
        return super().dumps(obj, **kwargs)
