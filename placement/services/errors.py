"""The error vocabulary of the domain: one stable code per situation, the offending field,
and the values a message needs. No UI wording here: the HTML and API adapters turn a code
into a German message (``placement.messages``) and a status (``placement.api.errors``).

The class says what kind of error it is, so that callers can catch a kind
(``except NotFound``) and the API can map it to a status; the code says which one."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Code(StrEnum):
    """Stable error codes. The API returns them as ``code``; never rename one."""

    # request shape (raised by the API's schema layer)
    MISSING = "missing"
    NOT_INTEGER = "not_integer"
    NOT_NUMBER = "not_number"
    NOT_BOOLEAN = "not_boolean"
    NOT_TEXT = "not_text"
    NOT_DATE = "not_date"
    NOT_INSTANT = "not_instant"
    NOT_OBJECT = "not_object"
    NOT_LIST = "not_list"
    NOT_JSON = "not_json"
    UNKNOWN_VALUE = "unknown_value"
    TOO_LONG = "too_long"
    OUT_OF_RANGE = "out_of_range"
    INVALID_CHARACTERS = "invalid_characters"  # a NUL byte or a lone surrogate in a text
    # HTTP level (raised by the adapters)
    BAD_REQUEST = "bad_request"
    UNAUTHENTICATED = "unauthenticated"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    SERVER_ERROR = "server_error"
    # accounts
    FORBIDDEN = "forbidden"
    INVALID_EMAIL = "invalid_email"
    UNKNOWN_ROLE = "unknown_role"
    PASSWORD_TOO_SHORT = "password_too_short"
    PASSWORD_TOO_LONG = "password_too_long"
    PASSWORD_TOO_COMMON = "password_too_common"
    PASSWORD_CONTAINS_EMAIL = "password_contains_email"
    PASSWORD_MISMATCH = "password_mismatch"
    PASSWORD_UNCHANGED = "password_unchanged"
    WRONG_PASSWORD = "wrong_password"
    LOGIN_THROTTLED = "login_throttled"
    ACCOUNT_LOCKED = "account_locked"
    UNKNOWN_USER = "unknown_user"
    EMAIL_TAKEN = "email_taken"
    UNKNOWN_ACCOUNT = "unknown_account"
    OWN_ACCOUNT_LOCKOUT = "own_account_lockout"
    # things that do not exist
    UNKNOWN_FACILITY = "unknown_facility"
    UNKNOWN_YOUTH = "unknown_youth"
    UNKNOWN_REFERENCE = "unknown_reference"
    UNKNOWN_STAY = "unknown_stay"
    UNKNOWN_RESERVATION = "unknown_reservation"
    # intake rules
    FACILITY_INACTIVE = "facility_inactive"
    YOUTH_CHOICE = "youth_choice"
    BIRTH_DATE_REQUIRED = "birth_date_required"
    GENDER_REQUIRED = "gender_required"
    AGE_OR_BIRTH_DATE_REQUIRED = "age_or_birth_date_required"
    INSTANT_IN_FUTURE = "instant_in_future"
    BIRTH_DATE_IN_FUTURE = "birth_date_in_future"
    TOO_OLD = "too_old"
    AGE_OUT_OF_RANGE = "age_out_of_range"
    ADMISSION_BEFORE_BIRTH = "admission_before_birth"
    DUPLICATE_REFERENCE = "duplicate_reference"
    OPEN_STAY_EXISTS = "open_stay_exists"
    OVERLAPPING_STAY = "overlapping_stay"
    OVERRIDE_REQUIRED = "override_required"
    REASON_TOO_SHORT = "reason_too_short"
    REASON_REQUIRED = "reason_required"
    END_BEFORE_START = "end_before_start"
    DISCHARGE_BEFORE_ADMISSION = "discharge_before_admission"
    MOVE_BEFORE_ADMISSION = "move_before_admission"
    END_REASON_REQUIRED = "end_reason_required"
    END_REASON_WITHOUT_END = "end_reason_without_end"
    STAY_CLOSED = "stay_closed"
    SAME_FACILITY = "same_facility"
    NOTHING_CHANGED = "nothing_changed"
    RESERVATION_NOT_OPEN = "reservation_not_open"
    RESERVATION_OTHER_FACILITY = "reservation_other_facility"
    NO_FREE_PLACE = "no_free_place"
    EXPIRY_IN_PAST = "expiry_in_past"
    EXPIRY_TOO_FAR = "expiry_too_far"
    SIBLINGS_OUT_OF_RANGE = "siblings_out_of_range"
    LOCATION_INCOMPLETE = "location_incomplete"
    LATITUDE_OUT_OF_RANGE = "latitude_out_of_range"
    LONGITUDE_OUT_OF_RANGE = "longitude_out_of_range"
    CONFIRMATION_OUTDATED = "confirmation_outdated"
    CONFIRMATION_REQUIRED = "confirmation_required"
    FORM_ALREADY_SUBMITTED = "form_already_submitted"
    FILE_NUMBER_OPEN_STAY = "file_number_open_stay"
    REFERENCE_LOOKS_LIKE_NAME = "reference_looks_like_name"
    LOCAL_TIME_NONEXISTENT = "local_time_nonexistent"
    LOCAL_TIME_AMBIGUOUS = "local_time_ambiguous"
    # undoing a discharge; finding people
    UNDO_STAY_OPEN = "undo_stay_open"
    UNDO_NOT_OWN = "undo_not_own"
    UNDO_EXPIRED = "undo_expired"
    UNDO_LATER_STAY = "undo_later_stay"
    UNDO_OPEN_STAY = "undo_open_stay"
    SEARCH_QUERY_REQUIRED = "search_query_required"
    # history views (overview and facility page as of, Stichtag and monthly reports)
    HISTORY_IN_FUTURE = "history_in_future"
    HISTORY_BEFORE_DATA = "history_before_data"
    MONTH_IN_FUTURE = "month_in_future"
    MONTH_BEFORE_DATA = "month_before_data"
    DEADLINE_FILTER_OPEN_ONLY = "deadline_filter_open_only"
    # move plans
    NEGATIVE_LIMIT = "negative_limit"
    PLAN_NEEDS_TWO_FACILITIES = "plan_needs_two_facilities"
    YOUTH_NOT_PLACED = "youth_not_placed"
    UNKNOWN_PLAN = "unknown_plan"
    PLAN_NOT_PROPOSED = "plan_not_proposed"
    PLAN_NOT_APPROVED = "plan_not_approved"
    PLAN_ALREADY_EXECUTED = "plan_already_executed"
    PLAN_CANCELLED = "plan_cancelled"
    PLAN_STALE = "plan_stale"
    PLAN_WENT_STALE = "plan_went_stale"
    PLAN_NOT_CANCELLABLE = "plan_not_cancellable"
    NO_MOVES_SELECTED = "no_moves_selected"
    UNKNOWN_MOVE = "unknown_move"
    SIBLINGS_SPLIT = "siblings_split"
    # alerts
    UNKNOWN_NOTIFICATION = "unknown_notification"
    NOT_A_DEAD_LETTER = "not_a_dead_letter"
    UNKNOWN_ALERT = "unknown_alert"
    UNKNOWN_SILENCE = "unknown_silence"
    SILENCE_NEEDS_SUBJECT = "silence_needs_subject"
    SILENCE_REASON_REQUIRED = "silence_reason_required"
    EXPIRY_REQUIRED = "expiry_required"
    DATE_IN_FUTURE = "date_in_future"
    DATE_BEFORE_ADMISSION = "date_before_admission"
    NOT_A_42A_STAY = "not_a_42a_stay"
    # planned end of a stay (forecast)
    PLANNED_END_BEFORE_ADMISSION = "planned_end_before_admission"
    PLANNED_END_IN_PAST = "planned_end_in_past"
    PLANNED_END_KIND_WITHOUT_DATE = "planned_end_kind_without_date"
    # forecast
    FORECAST_ONE_SUBJECT = "forecast_one_subject"
    # capacity periods
    NEGATIVE_PLACES = "negative_places"
    CEILING_NOT_ABOVE_LICENSED = "ceiling_not_above_licensed"
    USABLE_ABOVE_LIMIT = "usable_above_limit"
    KEPT_FREE_ABOVE_USABLE = "kept_free_above_usable"
    PERIOD_END_BEFORE_START = "period_end_before_start"
    PERIOD_OVERLAP = "period_overlap"
    PERIOD_STARTS_THERE = "period_starts_there"
    PERIOD_OVERLAPS_NEXT = "period_overlaps_next"
    CAPACITY_REQUIRED = "capacity_required"
    CEILING_END_REQUIRED = "ceiling_end_required"
    CEILING_END_WITHOUT_CEILING = "ceiling_end_without_ceiling"
    CEILING_REFERENCE_REQUIRED = "ceiling_reference_required"
    OVER_USABLE_CONFIRMATION = "over_usable_confirmation"
    # facility administration
    FACILITY_CODE_INVALID = "facility_code_invalid"
    FACILITY_CODE_TAKEN = "facility_code_taken"
    AGE_RANGE_INVALID = "age_range_invalid"
    GENDERS_REQUIRED = "genders_required"
    POSTAL_CODE_INVALID = "postal_code_invalid"
    FACILITY_ALREADY_CLOSED = "facility_already_closed"
    FACILITY_ALREADY_OPEN = "facility_already_open"
    # seeding and import
    INVALID_SCENARIO = "invalid_scenario"
    INVALID_SEED_SIZE = "invalid_seed_size"
    DATABASE_NOT_EMPTY = "database_not_empty"


class PlacementError(Exception):
    """A rule violation a user can cause: ``code``, the offending ``field`` (dotted for
    nested input, e.g. ``youth.birth_date``; None for the request as a whole) and the
    ``params`` its message needs."""

    def __init__(self, code: Code, field: str | None = None, **params: Any) -> None:
        super().__init__(f"{code}: {field}" if field else str(code))
        self.code = Code(code)
        self.field = field
        self.params = params


class BadInput(PlacementError):
    """The request does not have the declared shape (types, missing fields)."""


class Unauthenticated(PlacementError):
    """No or an unknown credential."""


class Forbidden(PlacementError):
    """The actor's role does not allow this."""


class NotFound(PlacementError):
    """The named object does not exist."""


class Conflict(PlacementError):
    """The request clashes with the current state (an open stay, a taken place...)."""


class RuleViolation(PlacementError):
    """Well-formed, but against a rule of the domain."""


class OverrideRequired(RuleViolation):
    """The youth is outside the facility's profile and no override reason was given;
    ``params["mismatches"]`` lists the profile mismatches."""


class InvalidScenario(RuleViolation):
    """A scenario file that cannot be imported; ``errors`` lists every problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(Code.INVALID_SCENARIO, "scenario", errors="; ".join(errors))
        self.errors = errors
