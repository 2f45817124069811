"""The API's request and response bodies, declared once with marshmallow. The same
schemas validate input (through flask-smorest's webargs parser), serialise output and
generate /api/v1/openapi.json; enum values come from the model enums.

Every field's error messages are the stable codes of ``services.errors`` (set in
``on_bind_field``), so that ``api.errors`` can turn a validation error into the same
coded error, with a German message, that the services raise."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

import marshmallow as ma
from flask import g
from marshmallow import fields

from placement import messages
from placement.api.dumping import QuickDump
from placement.models.enums import (
    DeadlineKind,
    DistributionResult,
    EndReason,
    FacilityKind,
    Gender,
    LegalBasis,
    PlannedEndKind,
    PlanScope,
    PlanStatus,
    UmaPolicy,
)
from placement.models.reservation import ReservationStatus
from placement.services import forecast
from placement.services.accounts import permissions
from placement.services.accounts.audit import Actor
from placement.services.errors import Code
from placement.services.intake.arrivals import WarningCode
from placement.services.intake.places import FacilityValues
from placement.services.intake.rules import (
    MAX_FILE_NUMBER_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_REASON_LENGTH,
    MAX_REFERENCE_LENGTH,
    MAX_SIBLING_GROUP_LENGTH,
    NoticeCode,
)
from placement.services.occupancy.core import Status
from placement.services.people.lists import AgeBand, DeadlineFilter, Sort, StayStatus
from placement.timeutil import parse_instant

# Field class -> the code of its "invalid" message (most specific class first).
INVALID_CODES: list[tuple[type[fields.Field], Code]] = []


# Integers of the API are ids, counts and ages: all fit the database's INTEGER columns
# (32 bits, the same on SQLite and PostgreSQL). A larger number would overflow in the
# driver on PostgreSQL, so it is refused here as out of range, on both databases.
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1


def _printable(text: str) -> bool:
    """No NUL byte (PostgreSQL's text cannot hold one) and no lone UTF-16 surrogate (JSON's
    "\\ud800" decodes to one; it cannot be encoded as UTF-8 for the database)."""
    return "\x00" not in text and not any("\ud800" <= ch <= "\udfff" for ch in text)


class Integer(fields.Integer):
    """An integer; in JSON also a string of digits, never a boolean or a fraction; within
    the 32-bit range of the database's integer columns."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.validators.insert(
            0, ma.validate.Range(min=INT_MIN, max=INT_MAX, error=Code.OUT_OF_RANGE)
        )

    def _deserialize(self, value: Any, attr, data, **kwargs) -> int:
        if isinstance(value, bool | float):
            raise self.make_error("invalid")
        if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Boolean(fields.Boolean):
    """true or false in JSON; in a query string also 1/0 and ja/nein."""

    truthy = {True, "true", "True", "1", "ja"}
    falsy = {False, "false", "False", "0", "nein"}


class JsonBoolean(fields.Boolean):
    """Only JSON's true and false."""

    truthy = {True}
    falsy = {False}


class Instant(fields.DateTime):
    """An ISO 8601 instant; without an offset it is Europe/Berlin wall-clock time."""

    def _deserialize(self, value: Any, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if not _printable(value):
            raise self.make_error("invalid")
        try:
            return parse_instant(value)
        except (ValueError, OverflowError) as exc:
            # OverflowError: an offset that moves year 1 or 9999 out of range in UTC.
            raise self.make_error("invalid") from exc


class MaxLength(ma.validate.Length):
    """At most ``max`` characters; blank text (None after Text's stripping) passes."""

    def __call__(self, value):
        return value if value is None else super().__call__(value)


class Text(fields.String):
    """A string; blank counts as absent. No NUL bytes or lone surrogates; at most the
    ``maxLength`` of its metadata (the length of its database column), checked here, before
    any service or database sees it, the same on SQLite and PostgreSQL."""

    default_error_messages = {"characters": Code.INVALID_CHARACTERS}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        limit = self.metadata.get("maxLength")
        if limit is not None:
            self.validators.insert(0, MaxLength(max=limit, error=Code.TOO_LONG))

    def _deserialize(self, value: Any, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _printable(text):
            raise self.make_error("characters")
        return text.strip() or None


def enum(enum_cls, **kwargs) -> fields.Enum:
    return fields.Enum(enum_cls, by_value=True, **kwargs)


def max_length(limit: int, description: str | None = None) -> dict[str, Any]:
    """Documents a length limit that the services check (so both surfaces say the same)."""
    return {"maxLength": limit, **({"description": description} if description else {})}


INVALID_CODES += [
    (Integer, Code.NOT_INTEGER),
    (fields.Integer, Code.NOT_INTEGER),
    (fields.Float, Code.NOT_NUMBER),
    (fields.Boolean, Code.NOT_BOOLEAN),
    (fields.Date, Code.NOT_DATE),
    (fields.DateTime, Code.NOT_INSTANT),
    (fields.String, Code.NOT_TEXT),
    (fields.List, Code.NOT_LIST),
]


class Schema(QuickDump, ma.Schema):
    """Base schema: unknown keys are ignored, errors carry codes, not wording, and answers
    are dumped by ``dumping.QuickDump``."""

    class Meta:
        unknown = ma.EXCLUDE

    error_messages = {"type": Code.NOT_JSON, "unknown": Code.UNKNOWN_VALUE}

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        codes = {"required": Code.MISSING, "null": Code.MISSING}
        invalid = next(
            (code for cls, code in INVALID_CODES if isinstance(field_obj, cls)), Code.BAD_REQUEST
        )
        codes["invalid"] = invalid
        codes["format"] = invalid
        codes["invalid_awareness"] = invalid
        codes["too_large"] = Code.OUT_OF_RANGE
        codes["type"] = Code.NOT_OBJECT
        codes["unknown"] = Code.UNKNOWN_VALUE
        codes["characters"] = Code.INVALID_CHARACTERS
        field_obj.error_messages = {
            key: codes.get(key, invalid) for key in field_obj.error_messages
        }
        inner = getattr(field_obj, "inner", None)  # a List's element field is not bound
        if isinstance(inner, fields.Field):
            self.on_bind_field(field_name, inner)


# --- requests ------------------------------------------------------------------------------


class NewYouthIn(Schema):
    birth_date = fields.Date(metadata={"description": "date of birth"})
    birth_date_estimated = fields.Date(
        metadata={"description": "instead of birth_date when it is an estimate"}
    )
    age = Integer(metadata={"description": "instead of a date: the estimated age in years"})
    gender = enum(Gender)
    uma = JsonBoolean(required=True, metadata={"description": "unaccompanied minor (umA)"})
    reference = Text(
        metadata=max_length(MAX_REFERENCE_LENGTH, "pseudonymous reference; generated if none")
    )
    file_number = Text(metadata=max_length(MAX_FILE_NUMBER_LENGTH))
    sibling_group = Text(metadata=max_length(MAX_SIBLING_GROUP_LENGTH))


class AdmissionIn(Schema):
    """An admission; the youth is ``youth_id``, ``youth_reference`` or a new ``youth``."""

    facility_id = Integer(metadata={"description": "if given, the reservation's facility"})
    legal_basis = enum(LegalBasis, required=True)
    youth_id = Integer()
    youth_reference = Text(metadata=max_length(MAX_REFERENCE_LENGTH))
    youth = fields.Nested(NewYouthIn)
    youths = fields.List(
        fields.Nested(NewYouthIn),
        metadata={
            "description": "instead of youth: new siblings admitted together (one sibling "
            "group, one transaction); errors name youths[i].<field>"
        },
    )
    start = Instant(
        metadata={
            "description": "default now; without an offset Europe/Berlin; more than 24 hours "
            "back or in the future needs the preview's confirmation"
        }
    )
    override_reason = Text(
        metadata=max_length(MAX_REASON_LENGTH, "required when outside the facility's profile")
    )
    confirmation = Text(
        metadata={
            "description": "the token of a preview: the admission is refused with "
            "confirmation_outdated (409) if the situation changed since"
        },
    )
    planned_end_on = fields.Date(
        allow_none=True,
        metadata={
            "description": "the local day the stay is planned to end (the forecast counts "
            "the youth out that day); not before the admission's day nor before today"
        },
    )
    planned_end_kind = enum(
        PlannedEndKind, allow_none=True, metadata={"description": "only with planned_end_on"}
    )


class NewAdmissionIn(AdmissionIn):
    facility_id = Integer(required=True)


class ReservationIn(Schema):
    facility_id = Integer(required=True)
    places = Integer(load_default=1, metadata={"description": "places held (siblings)"})
    expires_at = Instant(metadata={"description": "default: in 2 hours; at most 72 hours"})
    note = Text(metadata=max_length(MAX_NOTE_LENGTH, "never a name"))


class DischargeIn(Schema):
    reason = enum(EndReason, required=True)
    time = Instant(metadata={"description": "default now"})


class MoveIn(Schema):
    facility_id = Integer(required=True)
    time = Instant(metadata={"description": "default now"})
    with_siblings = JsonBoolean(load_default=False)
    override_reason = Text(metadata=max_length(MAX_REASON_LENGTH))
    legal_basis = enum(LegalBasis, metadata={"description": "default: the current one"})


class CorrectionIn(Schema):
    """Fields left out keep their value; ``end_at: null`` reopens a stay ended by mistake."""

    reason = Text(required=True, metadata=max_length(MAX_REASON_LENGTH))
    start_at = Instant()
    end_at = Instant(allow_none=True)
    end_reason = enum(EndReason, allow_none=True)
    facility_id = Integer()
    legal_basis = enum(LegalBasis)


class DistributionIn(Schema):
    """The §42a procedure (all three values are set; null clears one)."""

    reported_on = fields.Date(allow_none=True, load_default=None)
    result = enum(DistributionResult, allow_none=True, load_default=None)
    age_assessed_on = fields.Date(allow_none=True, load_default=None)


class PlannedEndIn(Schema):
    """When and why an open stay is planned to end; ``planned_end_on: null`` clears it."""

    planned_end_on = fields.Date(required=True, allow_none=True)
    planned_end_kind = enum(
        PlannedEndKind,
        allow_none=True,
        load_default=None,
        metadata={"description": "only with planned_end_on"},
    )


class PlacesQuery(Schema):
    age = Integer(metadata={"description": "or birth_date"})
    birth_date = fields.Date()
    gender = enum(Gender)
    uma = Boolean(required=True)
    siblings = Integer(load_default=1)
    lat = fields.Float()
    lon = fields.Float()
    near = Integer(metadata={"description": "a facility whose location to measure from"})
    page = Integer(
        validate=ma.validate.Range(min=1, error=Code.OUT_OF_RANGE),
        metadata={"description": "1-based; without page and page_size: every facility"},
    )
    page_size = Integer(
        validate=ma.validate.Range(min=1, error=Code.OUT_OF_RANGE),
        metadata={
            "description": "default 20 (PLACES_PAGE_SIZE) when only page is given, at "
            "most PLACES_MAX_PAGE_SIZE; without page and page_size: every facility"
        },
    )


class OccupancyQuery(Schema):
    at = Instant(
        metadata={
            "description": "ISO 8601; without an offset Europe/Berlin; default now. Not in "
            "the future and not before the first recorded stay or capacity period (400)."
        }
    )


class ForecastQuery(Schema):
    """One subject: ``facility_id``, a facility ``kind``, a youth ``profile``, or none of
    them for the whole office."""

    facility_id = Integer()
    kind = enum(FacilityKind)
    profile = Text(metadata=max_length(40, "a youth profile: " + ", ".join(forecast.PROFILES)))
    days = Integer(
        load_default=forecast.DEFAULT_DAYS,
        validate=ma.validate.Range(min=1, max=forecast.MAX_DAYS, error=Code.OUT_OF_RANGE),
        metadata={
            "description": f"days ahead, 1 to {forecast.MAX_DAYS}; default {forecast.DEFAULT_DAYS}"
        },
    )


class PageQuery(Schema):
    page = Integer(
        validate=ma.validate.Range(min=1, error=Code.OUT_OF_RANGE),
        metadata={"description": "1-based; default 1"},
    )
    page_size = Integer(
        validate=ma.validate.Range(min=1, error=Code.OUT_OF_RANGE),
        metadata={"description": "default 50 (PEOPLE_PAGE_SIZE), at most PEOPLE_MAX_PAGE_SIZE"},
    )


class StaysQuery(PageQuery):
    """Filters of the stay lists; the page's place in the whole is in ``X-Pagination``."""

    status = enum(
        StayStatus,
        metadata={
            "description": "open: placed now; absconded: ended as absconded, place still "
            "held; ended; all (default, or as ``open`` says)"
        },
    )
    open = Boolean(metadata={"description": "older form: true = status open, false = ended"})
    facility_id = Integer()
    kind = enum(FacilityKind)
    uma = Boolean()
    age_band = enum(AgeBand, metadata={"description": "whole years today"})
    legal_basis = enum(LegalBasis)
    deadline = enum(
        DeadlineFilter,
        metadata={
            "description": "only stays with such a deadline overdue or due within "
            "DEADLINE_DUE_DAYS (status open only)"
        },
    )
    sort = enum(
        Sort,
        metadata={
            "description": "default: facility (open), held_until (absconded), start (ended, all)"
        },
    )


class YouthSearchQuery(PageQuery):
    q = Text(
        required=True,
        metadata=max_length(
            MAX_FILE_NUMBER_LENGTH, "reference or file number, whole or its beginning; any case"
        ),
    )


# --- responses -----------------------------------------------------------------------------


class ErrorOut(Schema):
    error = fields.String(required=True, metadata={"description": "message in German"})
    field = fields.String(
        required=True, allow_none=True, metadata={"description": "the offending field"}
    )
    code = enum(Code, required=True, metadata={"description": "stable error code"})
    stay_id = fields.Integer(
        metadata={"description": "the existing stay an admission was refused for"}
    )


class AddressOut(Schema):
    street = fields.String(allow_none=True)
    postal_code = fields.String(allow_none=True)
    city = fields.String(allow_none=True)


class FacilityOut(Schema):
    """A facility as the caller may see it (``services.intake.places.FacilityInfo``)."""

    id = fields.Integer(required=True, attribute="facility.id")
    code = fields.String(required=True, attribute="facility.code")
    name = fields.String(required=True, attribute="facility.name")
    kind = enum(FacilityKind, required=True, attribute="facility.kind")
    operator = fields.String(required=True, allow_none=True, attribute="facility.operator")
    planning_area = fields.String(
        required=True, allow_none=True, attribute="facility.planning_area"
    )
    district = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "null for an anonymous placement the caller may not locate"},
    )
    address = fields.Nested(
        AddressOut,
        required=True,
        allow_none=True,
        metadata={"description": "null for an anonymous placement the caller may not locate"},
    )
    location = fields.List(
        fields.Float(),
        required=True,
        allow_none=True,
        metadata={"description": "[latitude, longitude] or null"},
    )
    age_min = fields.Integer(required=True, attribute="facility.age_min")
    age_max = fields.Integer(required=True, attribute="facility.age_max")
    genders = fields.List(enum(Gender), required=True)
    uma = enum(UmaPolicy, required=True, attribute="facility.uma_policy")
    anonymous_address = fields.Boolean(required=True, attribute="facility.anonymous_address")
    active = fields.Boolean(required=True, attribute="facility.active")
    confirmed_at = fields.DateTime(
        required=True,
        allow_none=True,
        attribute="facility.confirmed_at",
        metadata={"description": "when the facility last confirmed its figures (null: never)"},
    )
    confirmation_stale = fields.Boolean(
        required=True,
        metadata={
            "description": "never confirmed, or not within FACILITY_CONFIRMATION_STALE_HOURS"
        },
    )

    # The facility columns the dump reads are those the place finder loads (``dumping``:
    # it dumps the same facilities for every search, so their dumps are kept by these).
    _read = attrgetter(*FacilityValues._fields)

    def memo_key(self, info) -> tuple:
        return (*self._read(info.facility), info.address_visible, info.confirmation_stale)


def _state_fields(prefix: str) -> dict[str, fields.Field]:
    """The place figures of a ``PlaceState`` at attribute ``prefix``."""
    figures = {
        "licensed": ("genehmigte Plätze", fields.Integer),
        "usable": ("belegbare Plätze", fields.Integer),
        "limit": ("befristete Obergrenze, sonst genehmigte Plätze", fields.Integer),
        "occupied": ("belegt", fields.Integer),
        "reserved": ("Reservierungen und nach Abgängigkeit freigehaltene Plätze", fields.Integer),
        "held": ("davon nach Abgängigkeit freigehalten", fields.Integer),
        "kept_free": ("Freihalteplätze (nicht abgezogen)", fields.Integer),
        "free": ("max(0, usable − occupied − reserved)", fields.Integer),
        "over_by": ("Personen über der Grenze", fields.Integer),
        "over_capacity": ("occupied > limit", fields.Boolean),
    }
    declared = {
        name: cls(required=True, attribute=f"{prefix}.{name}", metadata={"description": text})
        for name, (text, cls) in figures.items()
    }
    declared["ceiling"] = fields.Integer(
        required=True,
        allow_none=True,
        attribute=f"{prefix}.ceiling",
        metadata={"description": "befristete Obergrenze, falls in Kraft"},
    )
    declared["status"] = enum(Status, required=True, attribute=f"{prefix}.status")
    return declared


class FreeTextOfFacility(fields.String):
    """A free-text reason, null for callers who do not see persons of the object's
    facility (``permissions.may_see_free_text``; looked up once per facility a request)."""

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        value = super().get_value(obj, attr, accessor, default)
        if value is None or value is ma.missing:
            return value
        facility_id = getattr(obj, "facility_id", None)
        known = g.setdefault("free_text_facilities", {})
        if facility_id not in known:
            user = g.get("api_user")
            actor = Actor.for_user(user) if user is not None else None
            known[facility_id] = actor is not None and permissions.may_see_free_text(
                actor, facility_id
            )
        return value if known[facility_id] else None


class WarningMessage(fields.String):
    """The German message of a capacity warning."""

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return messages.warning_message(obj)


class MismatchMessages(fields.List):
    """The German reasons why a youth is outside a facility's profile."""

    def __init__(self, **kwargs) -> None:
        super().__init__(fields.String(), attribute="mismatches", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return messages.mismatch_messages(value or [])


PlaceOptionOut = Schema.from_dict(
    {
        "facility": fields.Nested(FacilityOut, required=True, attribute="info"),
        "suitable": fields.Boolean(required=True),
        "has_room": fields.Boolean(required=True),
        "mismatches": MismatchMessages(
            required=True, metadata={"description": "why the youth is outside the profile"}
        ),
        "distance_km": fields.Float(
            required=True,
            allow_none=True,
            metadata={
                "description": "null without a search point or coordinates, and always "
                "for an anonymous placement the caller is not assigned to"
            },
        ),
        "distance_on_request": fields.Boolean(
            required=True,
            metadata={
                "description": "an anonymous placement: distance on request "
                "(Entfernung auf Anfrage), listed after those with a distance"
            },
        ),
        **_state_fields("state"),
    },
    name="PlaceOption",
)


FacilityOccupancyOut = Schema.from_dict(
    {
        "id": fields.Integer(required=True, attribute="facility.id"),
        "code": fields.String(required=True, attribute="facility.code"),
        "name": fields.String(required=True, attribute="facility.name"),
        "kind": enum(FacilityKind, required=True, attribute="facility.kind"),
        "planning_area": fields.String(
            required=True, allow_none=True, attribute="facility.planning_area"
        ),
        "confirmed_at": fields.DateTime(
            required=True,
            allow_none=True,
            attribute="facility.confirmed_at",
            metadata={"description": "when the facility last confirmed its figures"},
        ),
        "confirmation_stale": fields.Boolean(
            required=True,
            metadata={"description": "never confirmed, or not within the configured hours"},
        ),
        **_state_fields("state"),
    },
    name="FacilityOccupancy",
)


class OccupancyOut(Schema):
    at = fields.DateTime(required=True)
    facilities = fields.List(fields.Nested(FacilityOccupancyOut), required=True, attribute="rows")


class ForecastDayOut(Schema):
    date = fields.Date(required=True, metadata={"description": "local day (Europe/Berlin)"})
    expected = fields.Float(
        required=True,
        metadata={"description": "expected occupancy (occupied, reserved, held) at its end"},
    )
    low = fields.Integer(
        required=True,
        metadata={"description": "lower end of the 80 % band (15 % mid-distribution quantile)"},
    )
    high = fields.Integer(
        required=True,
        metadata={"description": "upper end of the 80 % band (85 % mid-distribution quantile)"},
    )
    limit = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "ceiling in force, else licensed places (null: none)"},
    )
    p_over = fields.Float(
        required=True,
        metadata={"description": "probability of exceeding the limit at the day's end"},
    )
    p_over_by = fields.Float(
        required=True,
        allow_none=True,
        metadata={
            "description": "probability of having exceeded the limit at the end of this or an"
            " earlier forecast day (what the early warning weighs); null for groups"
        },
    )


class ForecastOut(Schema):
    """The forecast of one subject and the inputs that explain it."""

    facility_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "null for a group"}
    )
    subject = fields.String(
        required=True, metadata={"description": "facility, kind, profile or office"}
    )
    key = fields.String(required=True)
    label = fields.String(required=True, metadata={"description": "German label"})
    computed_at = fields.DateTime(
        required=True, metadata={"description": "the instant the forecast starts from"}
    )
    occupied_now = fields.Integer(
        required=True, metadata={"description": "occupied, reserved and held places now"}
    )
    limit_now = fields.Integer(required=True, allow_none=True)
    admissions_per_day = fields.Float(
        required=True, metadata={"description": "expected admissions per day"}
    )
    planned_ends = fields.Integer(
        required=True, metadata={"description": "stays with a planned end within the horizon"}
    )
    coming_of_age_ends = fields.Integer(
        required=True,
        metadata={"description": "youths turning 18 within the horizon where the house ends at 17"},
    )
    window_weeks = fields.Integer(
        required=True, metadata={"description": "trailing window of the admission rate"}
    )
    days = fields.List(fields.Nested(ForecastDayOut), required=True)


class YouthOut(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    birth_date = fields.Date(required=True)
    birth_date_estimated = fields.Boolean(required=True)
    gender = enum(Gender, required=True)
    uma = fields.Boolean(required=True)
    sibling_group = fields.String(required=True, allow_none=True)


class StayOut(Schema):
    id = fields.Integer(required=True)
    facility_id = fields.Integer(required=True)
    youth = fields.Nested(YouthOut, required=True)
    legal_basis = enum(LegalBasis, required=True)
    start = fields.DateTime(required=True, attribute="start_at")
    end = fields.DateTime(required=True, allow_none=True, attribute="end_at")
    end_reason = enum(EndReason, required=True, allow_none=True)
    pinned = fields.Boolean(required=True)
    place_held_until = fields.DateTime(required=True, allow_none=True)
    override_reason = FreeTextOfFacility(
        required=True,
        allow_none=True,
        metadata={"description": "null for callers who do not see persons of the facility"},
    )
    distribution_reported_on = fields.Date(required=True, allow_none=True)
    distribution_result = enum(DistributionResult, required=True, allow_none=True)
    age_assessed_on = fields.Date(required=True, allow_none=True)
    planned_end_on = fields.Date(required=True, allow_none=True)
    planned_end_kind = enum(PlannedEndKind, required=True, allow_none=True)


class ReservationOut(Schema):
    id = fields.Integer(required=True)
    facility_id = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    status = enum(ReservationStatus, required=True)
    closed_at = fields.DateTime(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)
    stay_id = fields.Integer(required=True, allow_none=True)
    places = fields.Integer(required=True)


class WarningOut(Schema):
    code = enum(WarningCode, required=True)
    message = WarningMessage(required=True)
    facility_id = fields.Integer(required=True)
    occupied = fields.Integer(required=True)
    limit = fields.Integer(required=True)


class AdmittedOut(Schema):
    stay = fields.Nested(StayOut, required=True, metadata={"description": "the first youth's"})
    stays = fields.List(
        fields.Nested(StayOut), required=True, metadata={"description": "one per youth"}
    )
    warnings = fields.List(fields.Nested(WarningOut), required=True)


class NoticeMessage(fields.String):
    """The German text of an admission notice."""

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return messages.notice_message(obj)


class NoticeOut(Schema):
    code = enum(NoticeCode, required=True)
    field = fields.String(required=True, metadata={"description": "where it applies"})
    message = NoticeMessage(required=True)


class MemberPreviewOut(Schema):
    age = fields.Integer(required=True)
    mismatches = MismatchMessages(required=True)
    duplicates = fields.List(fields.String(), required=True)


class MovedOut(Schema):
    stays = fields.List(fields.Nested(StayOut), required=True)
    warnings = fields.List(fields.Nested(WarningOut), required=True)


class UndoneOut(Schema):
    stay = fields.Nested(StayOut, required=True)
    warnings = fields.List(fields.Nested(WarningOut), required=True)


class DeadlineOut(Schema):
    code = enum(DeadlineKind, required=True)
    due = fields.Date(required=True)
    overdue = fields.Boolean(required=True)
    due_soon = fields.Boolean(
        required=True, metadata={"description": "overdue or due within DEADLINE_DUE_DAYS"}
    )


class _ListedStay:
    """A listed stay as StayOut reads it, with the list's extra values."""

    def __init__(self, row) -> None:
        self._row = row
        self.age = row.age
        self.facility_name = row.facility.name
        self.deadlines = [
            {"code": d.code, "due": d.due, "overdue": d.overdue, "due_soon": d in row.due}
            for d in row.deadlines
        ]

    def __getattr__(self, name: str):
        return getattr(self._row.stay, name)


class ListedStayOut(StayOut):
    age = fields.Integer(required=True, metadata={"description": "whole years today"})
    facility_name = fields.String(required=True)
    deadlines = fields.List(
        fields.Nested(DeadlineOut),
        required=True,
        metadata={"description": "of open stays, soonest first"},
    )

    @ma.pre_dump
    def _listed(self, row, **_kwargs):
        return _ListedStay(row)


class YouthHitOut(Schema):
    youth = fields.Nested(YouthOut, required=True)
    file_number = fields.String(required=True, allow_none=True, attribute="youth.file_number")
    exact = fields.Boolean(required=True, metadata={"description": "the whole value matched"})
    age = fields.Integer(required=True)
    status = fields.String(
        required=True,
        validate=ma.validate.OneOf(["placed", "absconded", "ended", "none"]),
        metadata={"enum": ["placed", "absconded", "ended", "none"]},
    )
    stay = fields.Nested(
        StayOut,
        required=True,
        allow_none=True,
        metadata={"description": "the open stay, else the latest"},
    )


class PreviewOut(Schema):
    facility_id = fields.Integer(required=True, attribute="facility.id")
    legal_basis = enum(LegalBasis, required=True)
    age = fields.Integer(required=True)
    mismatches = MismatchMessages(required=True)
    override_missing = fields.Boolean(required=True)
    warnings = fields.List(fields.Nested(WarningOut), required=True)
    duplicates = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "references of youths recorded under the same file number"},
    )
    youths = fields.List(
        fields.Nested(MemberPreviewOut),
        required=True,
        attribute="members",
        metadata={"description": "one entry per youth, in the order sent"},
    )
    notices = fields.List(
        fields.Nested(NoticeOut),
        required=True,
        metadata={"description": "to confirm: a start far back or ahead, a person of full age"},
    )
    needs_confirmation = fields.Boolean(required=True)
    confirmation = fields.String(
        required=True, metadata={"description": "send it with the admission"}
    )


# --- facility administration ---------------------------------------------------------------


class FacilityProfileIn(Schema):
    """A facility's profile; in a PATCH, fields left out keep their value (null clears a
    text or the location)."""

    name = Text(allow_none=True, metadata=max_length(200))
    kind = enum(FacilityKind)
    operator = Text(allow_none=True, metadata=max_length(200))
    street = Text(allow_none=True, metadata=max_length(200))
    postal_code = Text(allow_none=True, metadata=max_length(10, "five digits"))
    city = Text(allow_none=True, metadata=max_length(100))
    district = Text(allow_none=True, metadata=max_length(100, "Ortsteil"))
    planning_area = Text(allow_none=True, metadata=max_length(100))
    latitude = fields.Float(allow_none=True, metadata={"description": "with longitude"})
    longitude = fields.Float(allow_none=True)
    age_min = Integer(metadata={"description": "0 to 27"})
    age_max = Integer(metadata={"description": "0 to 27, not below age_min"})
    genders = fields.List(enum(Gender), metadata={"description": "accepted genders"})
    uma = enum(UmaPolicy, attribute="uma_policy")
    anonymous_address = JsonBoolean(
        metadata={"description": "address shown only to roles that see persons"}
    )


class FacilityIn(FacilityProfileIn):
    """A new facility (administrators only)."""

    name = Text(required=True, metadata=max_length(200))
    kind = enum(FacilityKind, required=True)
    code = Text(metadata=max_length(64, "unique, a-z 0-9 - _; generated from the name if left out"))
    licensed = Integer(metadata={"description": "licensed places from now (optional)"})
    usable = Integer(metadata={"description": "usable places from now (default: licensed)"})


class FacilityPatchIn(FacilityProfileIn):
    """Changes to a facility; ``active: false`` closes it (no admissions, not suggested;
    its history stays), ``active: true`` reopens it."""

    active = JsonBoolean()


class CapacityIn(Schema):
    """A change of places from ``valid_from``; fields left out keep the value in force
    then. ``ceiling: null`` ends a temporary ceiling."""

    valid_from = Instant(metadata={"description": "default now; without an offset Berlin"})
    licensed = Integer()
    usable = Integer()
    kept_free = Integer(metadata={"description": "Freihalteplätze"})
    ceiling = Integer(allow_none=True, metadata={"description": "temporary ceiling (places)"})
    ceiling_until = fields.Date(
        allow_none=True, metadata={"description": "last day of the ceiling (Europe/Berlin)"}
    )
    ceiling_reference = Text(
        allow_none=True, metadata=max_length(200, "the approving authority's reference")
    )
    note = Text(metadata=max_length(500))
    confirmation = Text(
        metadata={
            "description": "the token of a preview (send the preview's valid_from too); "
            "required when more people would be placed than places are usable (409 "
            "over_usable_confirmation without it, 409 confirmation_outdated if the "
            "situation changed)"
        }
    )


class CapacityPeriodOut(Schema):
    id = fields.Integer(required=True)
    valid_from = fields.DateTime(required=True)
    valid_until = fields.DateTime(required=True, allow_none=True)
    licensed = fields.Integer(required=True, attribute="licensed_places")
    usable = fields.Integer(required=True, attribute="usable_places")
    ceiling = fields.Integer(required=True, allow_none=True, attribute="temporary_ceiling")
    kept_free = fields.Integer(required=True, attribute="reserved_places")
    ceiling_reference = fields.String(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True, allow_none=True)
    created_by_id = fields.Integer(required=True, allow_none=True)


class PlannedPeriodOut(Schema):
    valid_from = fields.DateTime(required=True)
    valid_until = fields.DateTime(required=True, allow_none=True)
    licensed = fields.Integer(required=True)
    usable = fields.Integer(required=True)
    ceiling = fields.Integer(required=True, allow_none=True)
    kept_free = fields.Integer(required=True)
    ceiling_reference = fields.String(required=True, allow_none=True)


class CapacityPreviewOut(Schema):
    facility_id = fields.Integer(required=True, attribute="facility.id")
    valid_from = fields.DateTime(required=True)
    closes = fields.Function(
        lambda preview: preview.current.id if preview.current is not None else None,
        required=True,
        allow_none=True,
        metadata={
            "type": "integer",
            "description": "id of the period in force at valid_from, closed then",
        },
    )
    creates = fields.List(fields.Nested(PlannedPeriodOut), required=True)
    checked_at = fields.DateTime(required=True)
    occupied = fields.Integer(required=True)
    usable = fields.Integer(required=True)
    over_by = fields.Integer(
        required=True, metadata={"description": "people placed above the usable places"}
    )
    needs_confirmation = fields.Boolean(required=True)
    confirmation = fields.String(required=True, metadata={"description": "send it with the change"})


class CapacityChangedOut(Schema):
    facility_id = fields.Integer(required=True, attribute="facility.id")
    closed = fields.Nested(CapacityPeriodOut, required=True, allow_none=True)
    created = fields.List(fields.Nested(CapacityPeriodOut), required=True)
    over_by = fields.Integer(required=True)


# --- move plans ----------------------------------------------------------------------------


class PlanIn(Schema):
    """What to plan; see the planning page for the meaning of each value."""

    scope = enum(PlanScope, load_default=PlanScope.OFFICE)
    facility_ids = fields.List(Integer(), load_default=list)
    relieve_facility_id = Integer(allow_none=True)
    max_moves = Integer(allow_none=True)
    max_move_km = fields.Float(allow_none=True)
    pinned_youth_ids = fields.List(Integer(), load_default=list)
    closed_facility_ids = fields.List(Integer(), load_default=list)
    keep_free = Integer(load_default=0)
    pin_recent_admissions = JsonBoolean(load_default=True)
    pin_coming_of_age = JsonBoolean(load_default=True)
    time_limit = fields.Float(
        load_default=30.0, metadata={"description": "seconds the solver may take (1 to 300)"}
    )


class PlanCreatedOut(Schema):
    id = fields.Integer(required=True)
    status = enum(PlanStatus, required=True)


class ObjectiveOut(Schema):
    overflow = fields.Integer(required=True)
    reserve_shortfall = fields.Integer(required=True)
    moves = fields.Integer(required=True)
    distance = fields.Integer(required=True, metadata={"description": "tenths of a km"})


class PlanMoveOut(Schema):
    youth_id = fields.Integer(required=True)
    from_ = fields.Integer(required=True, data_key="from", attribute="from_id")
    to = fields.Integer(required=True, attribute="to_id")


class GreedyOut(Schema):
    objective = fields.Nested(ObjectiveOut, required=True)
    moves = fields.Integer(required=True)


class PlanError(fields.String):
    """Why a plan failed, in German."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else messages.plan_error_message(value)


class StaleMessages(fields.List):
    """What changed since the plan was computed, in German."""

    def __init__(self, **kwargs) -> None:
        super().__init__(fields.String(), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return messages.stale_messages(value or [])


class PlanOut(Schema):
    id = fields.Integer(required=True)
    status = enum(PlanStatus, required=True)
    scope = enum(PlanScope, required=True)
    relieve_facility_id = fields.Integer(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    as_of = fields.DateTime(required=True, metadata={"description": "the state planned from"})
    time_limit = fields.Float(required=True)
    stage = fields.String(required=True, allow_none=True)
    elapsed = fields.Float(required=True, allow_none=True, metadata={"description": "seconds"})
    best = fields.Nested(
        ObjectiveOut,
        required=True,
        allow_none=True,
        metadata={"description": "best plan so far (the greedy baseline) while solving"},
    )
    objective = fields.Nested(ObjectiveOut, required=True, allow_none=True)
    proven = fields.Boolean(required=True, metadata={"description": "all four levels optimal"})
    proven_levels = fields.List(fields.String(), required=True)
    moves = fields.List(fields.Nested(PlanMoveOut), required=True)
    greedy = fields.Nested(GreedyOut, required=True, allow_none=True)
    error = PlanError(required=True, allow_none=True)
    stale = StaleMessages(required=True)
    approved_moves = fields.List(Integer(), required=True, allow_none=True)
    executed_moves = fields.Integer(required=True, allow_none=True)


class ExecuteIn(Schema):
    moves = fields.List(
        Integer(),
        metadata={"description": "youth ids of the moves to execute; default: all approved"},
    )


class ExecutedOut(Schema):
    plan = fields.Nested(PlanOut, required=True)
    stays = fields.List(fields.Nested(StayOut), required=True)
    warnings = fields.List(fields.Nested(WarningOut), required=True)


ScenarioOut = Schema.from_dict(
    {
        "format": fields.String(required=True),
        "as_of": fields.String(required=True),
        "max_moves": fields.Integer(required=True, allow_none=True),
        "max_move_km": fields.Float(required=True, allow_none=True),
        "facilities": fields.List(
            fields.Dict(),
            required=True,
            metadata={
                "description": "location is null for an anonymous placement the caller "
                "is not assigned to"
            },
        ),
        "youths": fields.List(fields.Dict(), required=True),
    },
    name="Scenario",
)
