"""Reading the query parameters shared by the overview, facility pages and reports.

Bad input never raises: it yields a German message naming the field, and the page falls
back to a sensible default while the typed value is shown again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from placement.models.enums import FacilityKind, Gender
from placement.services.forecast import DEFAULT_DAYS, MAX_DAYS
from placement.services.reporting.overview import BoardFilters, BoardOrder
from placement.timeutil import local, parse_instant
from placement.timeutil import now as utcnow


@dataclass
class Params:
    """Parsed parameters plus what was typed and what was wrong with it."""

    instant: datetime
    as_of: bool
    typed: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    filters: BoardFilters = field(default_factory=BoardFilters)
    order: BoardOrder = BoardOrder.KIND

    @property
    def at_value(self) -> str:
        """The value for the datetime-local input (Berlin wall clock, minutes)."""
        if "at" in self.errors:
            return self.typed.get("at", "")
        return local(self.instant).strftime("%Y-%m-%dT%H:%M") if self.as_of else ""


def parse_at(args: MultiDict, name: str = "at", label: str | None = None) -> Params:
    """The instant ``at`` (Berlin wall clock or ISO 8601 with offset); default now."""
    typed = {key: value for key, value in args.items()}
    raw = (args.get(name) or "").strip()
    params = Params(instant=utcnow(), as_of=False, typed=typed)
    if raw:
        try:
            params.instant = parse_instant(raw)
            params.as_of = True
        except ValueError:
            params.errors[name] = _(
                "„%(field)s“: „%(value)s“ ist kein gültiger Zeitpunkt (Datum und Uhrzeit, "
                "z. B. 01.03.2024 14:30). Angezeigt wird der aktuelle Stand.",
                field=label or _("Stand"),
                value=raw,
            )
    return params


def parse_board(args: MultiDict) -> Params:
    """``at`` plus the board filters: kind, area, age, gender, uma (ja/nein), engpass
    (only facilities with an expected shortage: ja) and the order ``sort`` (art, engpass)."""
    params = parse_at(args)
    kind = gender = age = uma = None
    raw_kind = args.get("kind", "")
    if raw_kind:
        try:
            kind = FacilityKind(raw_kind)
        except ValueError:
            params.errors["kind"] = _("„Art“: unbekannte Einrichtungsart.")
    raw_gender = args.get("gender", "")
    if raw_gender:
        try:
            gender = Gender(raw_gender)
        except ValueError:
            params.errors["gender"] = _("„Geschlecht“: unbekannter Wert.")
    raw_age = args.get("age", "").strip()
    if raw_age:
        if raw_age.isdigit() and int(raw_age) <= 27:
            age = int(raw_age)
        else:
            params.errors["age"] = _("„Alter“: bitte eine ganze Zahl von 0 bis 27 angeben.")
    raw_uma = args.get("uma", "")
    if raw_uma in ("ja", "nein"):
        uma = raw_uma == "ja"
    elif raw_uma:
        params.errors["uma"] = _("„umA“: bitte „ja“ oder „nein“ wählen.")
    raw_shortage = args.get("engpass", "")
    if raw_shortage and raw_shortage != "ja":
        params.errors["engpass"] = _("„Nur mit Engpass“: bitte ankreuzen oder leer lassen.")
    raw_order = args.get("sort", "")
    if raw_order:
        try:
            params.order = BoardOrder(raw_order)
        except ValueError:
            params.errors["sort"] = _("„Sortierung“: bitte „Art“ oder „Engpass zuerst“ wählen.")
    params.filters = BoardFilters(
        kind=kind,
        planning_area=args.get("area") or None,
        age=age,
        gender=gender,
        uma=uma,
        shortage_only=raw_shortage == "ja",
    )
    return params


def parse_day(args: MultiDict, name: str, label: str, errors: dict[str, str]) -> date | None:
    """A calendar day YYYY-MM-DD; a bad value is reported in ``errors`` and ignored."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _(
            "„%(field)s“: „%(value)s“ ist kein gültiges Datum.", field=label, value=raw
        )
        return None


def parse_forecast_days(args: MultiDict, errors: dict[str, str]) -> int:
    """The forecast horizon ``forecast_days`` (1 to 28, default 14); a bad value is
    reported in ``errors`` and the default is used."""
    raw = (args.get("forecast_days") or "").strip()
    if not raw:
        return DEFAULT_DAYS
    if raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_DAYS:
        return int(raw)
    errors["forecast_days"] = _(
        "„%(field)s“: bitte eine ganze Zahl von 1 bis %(max)s angeben.",
        field=_("Prognose für Tage"),
        max=MAX_DAYS,
    )
    return DEFAULT_DAYS
