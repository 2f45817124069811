"""German texts for the domain's codes: errors, capacity warnings and profile mismatches.

The HTML pages, the API and the CLI all render codes through these functions (Flask-Babel
message ids, so that an English catalogue can follow). Messages may use the error's
``params`` and ``%(field)s``: the name of the offending field as the surface calls it (the
API field name, or the form label)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from flask_babel import gettext

from placement.models.enums import label
from placement.services.errors import Code, PlacementError
from placement.services.intake.arrivals import Warning, WarningCode
from placement.services.intake.rules import Mismatch, MismatchCode
from placement.services.planning.plans import StaleCode


def _l(message: str) -> str:
    """Marks a message id for extraction (pybabel extract -k _l); translated when shown."""
    return message


ERRORS = {
    Code.MISSING: _l("Das Feld „%(field)s“ fehlt."),
    Code.NOT_INTEGER: _l("„%(field)s“ muss eine ganze Zahl sein."),
    Code.NOT_NUMBER: _l("„%(field)s“ muss eine Zahl sein."),
    Code.NOT_BOOLEAN: _l("„%(field)s“ muss true oder false sein."),
    Code.NOT_TEXT: _l("„%(field)s“ muss ein Text sein."),
    Code.NOT_DATE: _l("„%(field)s“ ist kein Datum (JJJJ-MM-TT)."),
    Code.NOT_INSTANT: _l(
        "„%(field)s“ ist kein gültiger Zeitpunkt (ISO 8601, z. B. 2024-03-01T14:30:00+01:00)."
    ),
    Code.NOT_OBJECT: _l("„%(field)s“ muss ein JSON-Objekt sein."),
    Code.NOT_LIST: _l("„%(field)s“ muss eine Liste sein."),
    Code.NOT_JSON: _l("Der Anfragetext ist kein gültiges JSON-Objekt."),
    Code.UNKNOWN_VALUE: _l("„%(field)s“: unbekannter Wert (erlaubt: %(allowed)s)."),
    Code.TOO_LONG: _l("Der Text ist zu lang (höchstens %(max)s Zeichen)."),
    Code.OUT_OF_RANGE: _l("„%(field)s“ liegt außerhalb des erlaubten Bereichs."),
    Code.BAD_REQUEST: _l("Ungültige Anfrage."),
    Code.UNAUTHENTICATED: _l("Anmeldung erforderlich: Authorization: Bearer TOKEN."),
    Code.NOT_FOUND: _l("Nicht gefunden."),
    Code.METHOD_NOT_ALLOWED: _l("Diese Methode ist hier nicht erlaubt."),
    Code.PAYLOAD_TOO_LARGE: _l("Die Anfrage ist zu groß."),
    Code.UNSUPPORTED_MEDIA_TYPE: _l("Bitte JSON senden (Content-Type: application/json)."),
    Code.SERVER_ERROR: _l("Interner Fehler; bitte später erneut versuchen."),
    Code.FORBIDDEN: _l("Für diese Aktion fehlt Ihnen die Berechtigung."),
    Code.INVALID_EMAIL: _l("Bitte eine gültige E-Mail-Adresse angeben."),
    Code.UNKNOWN_ROLE: _l("Unbekannte Rolle."),
    Code.PASSWORD_TOO_SHORT: _l("Das Passwort muss mindestens %(min)s Zeichen haben."),
    Code.EMAIL_TAKEN: _l("Diese E-Mail-Adresse ist bereits vergeben."),
    Code.UNKNOWN_ACCOUNT: _l("Kein Konto mit dieser E-Mail-Adresse."),
    Code.UNKNOWN_FACILITY: _l("Diese Einrichtung ist nicht bekannt."),
    Code.UNKNOWN_YOUTH: _l("Diese Person ist nicht bekannt."),
    Code.UNKNOWN_REFERENCE: _l("Kein Eintrag mit diesem Kürzel."),
    Code.UNKNOWN_STAY: _l("Dieser Aufenthalt ist nicht bekannt."),
    Code.UNKNOWN_RESERVATION: _l("Diese Reservierung ist nicht bekannt."),
    Code.FACILITY_INACTIVE: _l("Diese Einrichtung ist nicht aktiv."),
    Code.YOUTH_CHOICE: _l(
        "Bitte entweder eine bereits erfasste Person oder die Angaben einer neuen Person "
        "angeben, nicht beides."
    ),
    Code.BIRTH_DATE_REQUIRED: _l(
        "Bitte ausfüllen: Geburtsdatum (oder ein geschätztes Alter), oder eine bereits "
        "erfasste Person angeben."
    ),
    Code.GENDER_REQUIRED: _l("Bitte Geschlecht wählen."),
    Code.AGE_OR_BIRTH_DATE_REQUIRED: _l("Bitte Alter oder Geburtsdatum angeben."),
    Code.INSTANT_IN_FUTURE: _l("Der Zeitpunkt liegt in der Zukunft."),
    Code.BIRTH_DATE_IN_FUTURE: _l("Das Geburtsdatum liegt in der Zukunft."),
    Code.TOO_OLD: _l("Das Geburtsdatum ergibt ein Alter über %(max)s Jahren."),
    Code.AGE_OUT_OF_RANGE: _l("Alter zwischen 0 und %(max)s angeben."),
    Code.ADMISSION_BEFORE_BIRTH: _l("Die Aufnahme liegt vor dem Geburtsdatum."),
    Code.DUPLICATE_REFERENCE: _l(
        "Das Kürzel „%(reference)s“ ist bereits vergeben; bitte die vorhandene Person wählen."
    ),
    Code.OPEN_STAY_EXISTS: _l("Diese Person ist bereits aufgenommen; bitte stattdessen verlegen."),
    Code.OVERLAPPING_STAY: _l(
        "Der Zeitraum überschneidet sich mit einem anderen Aufenthalt dieser Person."
    ),
    Code.OVERRIDE_REQUIRED: _l(
        "Außerhalb des Profils der Einrichtung (%(mismatches)s): bitte kurz begründen, warum "
        "trotzdem hier aufgenommen wird."
    ),
    Code.REASON_TOO_SHORT: _l("Bitte den Grund in ein paar Worten angeben."),
    Code.REASON_REQUIRED: _l("Bitte den Grund der Korrektur angeben."),
    Code.END_BEFORE_START: _l("Das Ende muss nach dem Beginn liegen."),
    Code.DISCHARGE_BEFORE_ADMISSION: _l("Das Ende muss nach der Aufnahme liegen."),
    Code.MOVE_BEFORE_ADMISSION: _l("Die Verlegung muss nach der Aufnahme liegen."),
    Code.END_REASON_REQUIRED: _l("Für ein Ende bitte einen Beendigungsgrund angeben."),
    Code.END_REASON_WITHOUT_END: _l(
        "Ein Beendigungsgrund ist genau dann anzugeben, wenn ein Ende angegeben ist."
    ),
    Code.STAY_CLOSED: _l("Dieser Aufenthalt ist bereits beendet."),
    Code.SAME_FACILITY: _l("Die Person ist bereits in dieser Einrichtung."),
    Code.NOTHING_CHANGED: _l("Es wurde nichts geändert."),
    Code.RESERVATION_NOT_OPEN: _l(
        "Die Reservierung ist nicht mehr offen (abgelaufen, storniert oder schon genutzt); "
        "bitte direkt aufnehmen."
    ),
    Code.RESERVATION_OTHER_FACILITY: _l("Die Reservierung gilt für eine andere Einrichtung."),
    Code.NO_FREE_PLACE: _l(
        "In %(facility)s ist kein Platz frei, der reserviert werden könnte (%(occupied)s "
        "belegt, %(reserved)s reserviert, %(usable)s belegbar). Eine Inobhutnahme kann "
        "trotzdem direkt aufgenommen werden."
    ),
    Code.EXPIRY_IN_PAST: _l("Das Ablaufdatum muss in der Zukunft liegen."),
    Code.EXPIRY_TOO_FAR: _l("Eine Reservierung gilt mindestens 1, höchstens %(hours)s Stunden."),
    Code.SIBLINGS_OUT_OF_RANGE: _l(
        "Die Zahl gemeinsam unterzubringender Geschwister muss zwischen 1 und %(max)s liegen."
    ),
    Code.LOCATION_INCOMPLETE: _l("Für den Standort bitte Breite und Länge angeben."),
    Code.LATITUDE_OUT_OF_RANGE: _l("Die Breite muss zwischen -90 und 90 liegen."),
    Code.LONGITUDE_OUT_OF_RANGE: _l("Die Länge muss zwischen -180 und 180 liegen."),
    Code.CONFIRMATION_OUTDATED: _l(
        "Die Lage hat sich seit der Prüfung geändert: bitte die neuen Hinweise lesen und "
        "erneut bestätigen."
    ),
    Code.UNKNOWN_NOTIFICATION: _l("Diese Benachrichtigung ist nicht bekannt."),
    Code.NOT_A_DEAD_LETTER: _l(
        "Nur nicht zustellbare Benachrichtigungen können erneut gesendet werden."
    ),
    Code.UNKNOWN_ALERT: _l("Dieser Hinweis ist nicht bekannt."),
    Code.UNKNOWN_SILENCE: _l("Diese Stummschaltung ist nicht bekannt."),
    Code.SILENCE_NEEDS_SUBJECT: _l("Bitte eine Einrichtung oder einen Aufenthalt wählen."),
    Code.SILENCE_REASON_REQUIRED: _l("Bitte angeben, warum stummgeschaltet wird."),
    Code.EXPIRY_REQUIRED: _l("Bitte angeben, bis wann (höchstens 90 Tage)."),
    Code.DATE_IN_FUTURE: _l("Das Datum liegt in der Zukunft."),
    Code.DATE_BEFORE_ADMISSION: _l("Das Datum liegt vor der Aufnahme."),
    Code.NOT_A_42A_STAY: _l("Das gilt nur für vorläufige Inobhutnahmen (§ 42a)."),
    Code.NEGATIVE_LIMIT: _l("Bitte eine positive Zahl angeben (oder leer lassen)."),
    Code.PLAN_NEEDS_TWO_FACILITIES: _l("Bitte mindestens zwei Einrichtungen wählen."),
    Code.YOUTH_NOT_PLACED: _l(
        "Wer fixiert werden soll, muss in einer der geplanten Einrichtungen untergebracht sein."
    ),
    Code.UNKNOWN_PLAN: _l("Dieser Umzugsplan ist nicht bekannt."),
    Code.PLAN_NOT_PROPOSED: _l(
        "Der Plan liegt nicht als Vorschlag vor (Stand: %(status)s) und kann so nicht "
        "genehmigt werden."
    ),
    Code.PLAN_NOT_APPROVED: _l("Der Plan ist noch nicht genehmigt (Stand: %(status)s)."),
    Code.PLAN_ALREADY_EXECUTED: _l("Der Plan wurde bereits ausgeführt."),
    Code.PLAN_CANCELLED: _l("Der Plan wurde abgebrochen."),
    Code.PLAN_STALE: _l(
        "Der Plan ist veraltet: seit der Berechnung hat sich etwas geändert. Bitte neu planen."
    ),
    Code.PLAN_WENT_STALE: _l("Nicht ausgeführt, der Plan ist veraltet: %(reasons)s"),
    Code.PLAN_NOT_CANCELLABLE: _l("Ein Plan im Stand „%(status)s“ kann nicht abgebrochen werden."),
    Code.NO_MOVES_SELECTED: _l("Bitte mindestens einen Umzug auswählen."),
    Code.UNKNOWN_MOVE: _l("Diese Umzüge gehören nicht zum Plan: %(youths)s."),
    Code.SIBLINGS_SPLIT: _l(
        "Geschwister (Gruppe %(group)s) ziehen nur gemeinsam um: bitte alle oder keinen wählen."
    ),
    Code.NEGATIVE_PLACES: _l("Die Zahl der Plätze darf nicht negativ sein."),
    Code.CEILING_NOT_ABOVE_LICENSED: _l(
        "Eine befristete Obergrenze muss über den genehmigten Plätzen liegen."
    ),
    Code.USABLE_ABOVE_LIMIT: _l(
        "Belegbare Plätze dürfen die genehmigten Plätze (bzw. die befristete Obergrenze) "
        "nicht übersteigen."
    ),
    Code.KEPT_FREE_ABOVE_USABLE: _l(
        "Freihalteplätze dürfen die belegbaren Plätze nicht übersteigen."
    ),
    Code.PERIOD_END_BEFORE_START: _l("„Gültig bis“ muss nach „gültig ab“ liegen."),
    Code.PERIOD_OVERLAP: _l(
        "Der Zeitraum überschneidet sich mit einem bestehenden Kapazitätszeitraum."
    ),
    Code.INVALID_SCENARIO: _l("Das Szenario ist ungültig: %(errors)s"),
    Code.INVALID_SEED_SIZE: _l("Bitte positive Anzahlen und Jahre angeben."),
    Code.DATABASE_NOT_EMPTY: _l(
        "Die Datenbank enthält bereits Einrichtungen, Jugendliche oder Aufenthalte; "
        "synthetische Daten werden nur in eine leere Datenbank geschrieben."
    ),
}

WARNINGS = {
    WarningCode.NO_CAPACITY: _l("Für %(facility)s sind keine Plätze hinterlegt."),
    WarningCode.OVER_CAPACITY: _l(
        "%(facility)s ist überbelegt: %(occupied)s Personen auf %(limit)s genehmigten Plätzen."
    ),
    WarningCode.ABOVE_USABLE: _l(
        "%(facility)s: mehr Personen (%(occupied)s) und Reservierungen (%(reserved)s) als "
        "belegbare Plätze (%(usable)s)."
    ),
}

MISMATCHES = {
    MismatchCode.AGE: _l("Alter %(age)s liegt außerhalb von %(min)s–%(max)s Jahren"),
    MismatchCode.GENDER: _l("Geschlecht wird hier nicht aufgenommen"),
    MismatchCode.UMA_ONLY: _l("nur für unbegleitete Minderjährige (umA)"),
    MismatchCode.NO_UMA: _l("nimmt keine unbegleiteten Minderjährigen (umA) auf"),
}


STALE = {
    StaleCode.STAY_CHANGED: _l(
        "Der Aufenthalt von %(subject)s wurde seit der Planung geändert oder beendet."
    ),
    StaleCode.YOUTH_CHANGED: _l("Die Angaben zu %(subject)s haben sich seit der Planung geändert."),
    StaleCode.CAPACITY_CHANGED: _l(
        "Die Plätze von %(subject)s haben sich seit der Planung geändert."
    ),
    StaleCode.PROFILE_CHANGED: _l(
        "Das Aufnahmeprofil von %(subject)s hat sich seit der Planung geändert."
    ),
    StaleCode.NO_LONGER_FITS: _l(
        "%(subject)s passt nicht mehr zum Profil des Ziels (z. B. ein Geburtstag seit der Planung)."
    ),
}

PLAN_ERRORS = {
    "worker_lost": _l(
        "Der Rechenprozess hat sich nicht mehr gemeldet (abgebrochen oder abgestürzt). "
        "Bitte neu planen."
    ),
}


def stale_messages(reasons: Iterable) -> list[str]:
    """What changed since a plan was computed (``StaleReason`` values or [code, subject])."""
    pairs = [(r.code, r.subject) if hasattr(r, "code") else tuple(r) for r in reasons]
    return [gettext(STALE[StaleCode(code)], subject=subject) for code, subject in pairs]


def plan_error_message(error: str | None) -> str:
    if error in PLAN_ERRORS:
        return gettext(PLAN_ERRORS[error])
    return gettext("Die Berechnung ist fehlgeschlagen: %(error)s", error=error or "?")


def objective_sentence(before: dict[str, int], after: dict[str, int]) -> str:
    """The objective in plain German, e.g. "Überbelegung von 28 auf 0,
    Reserve-Unterschreitung 1, 34 Umzüge, zusammen 203 km"."""
    km = f"{after.get('distance', 0) / 10:,.0f}".replace(",", ".")
    return gettext(
        "Überbelegung von %(over_before)s auf %(over)s, Reserve-Unterschreitung %(short)s, "
        "%(moves)s Umzüge, zusammen %(km)s km",
        over_before=before.get("overflow", 0),
        over=after.get("overflow", 0),
        short=after.get("reserve_shortfall", 0),
        moves=after.get("moves", 0),
        km=km,
    )


def mismatch_message(mismatch: Mismatch) -> str:
    return gettext(MISMATCHES[mismatch.code], **mismatch.params)


def mismatch_messages(mismatches: Iterable[Mismatch]) -> list[str]:
    return [mismatch_message(m) for m in mismatches]


def warning_message(warning: Warning) -> str:
    return gettext(
        WARNINGS[warning.code],
        facility=warning.facility_name,
        occupied=warning.occupied,
        limit=warning.limit,
        reserved=warning.reserved,
        usable=warning.usable,
    )


def error_message(error: PlacementError, field_label: str | None = None) -> str:
    """The German message of an error; ``field_label`` names the field (default: the
    error's field as it is)."""
    params = {
        key: label(value) if isinstance(value, StrEnum) else value
        for key, value in error.params.items()
    }
    if "mismatches" in params:
        params["mismatches"] = "; ".join(mismatch_messages(params["mismatches"]))
    params.setdefault("field", field_label or error.field or "")
    return gettext(ERRORS[error.code], **params)


# --- alerts ---------------------------------------------------------------------------------

ALERT_TITLES = {
    "over_occupancy": _l("Überbelegung: %(facility)s (+%(over_by)s)"),
    "near_full": _l("Fast voll: %(facility)s"),
    "no_place_for_profile": _l("Kaum noch Plätze für %(profile)s"),
    "report_42a": _l("§ 42a-Meldung fällig: %(reference)s (%(facility)s)"),
    "distribution_42a": _l("§ 42a: Verteilung bald ausgeschlossen: %(reference)s (%(facility)s)"),
    "coming_of_age": _l("Volljährigkeit: %(reference)s (%(facility)s)"),
    "long_stay": _l("Lange Notaufnahme: %(reference)s (%(facility)s)"),
    "ceiling_expiring": _l("Befristete Obergrenze endet: %(facility)s"),
    "reservation_expired": _l("Reservierung ungenutzt abgelaufen: %(facility)s"),
    "hold_expiring": _l("Freigehaltener Platz endet: %(reference)s (%(facility)s)"),
}

ALERT_LINES = {
    "over_occupancy": _l(
        "%(facility)s ist überbelegt: %(occupied)s Personen bei %(limit)s Plätzen (+%(over_by)s)."
    ),
    "near_full": _l(
        "%(facility)s ist fast voll: %(occupied)s belegt und %(reserved)s reserviert von "
        "%(usable)s belegbaren Plätzen."
    ),
    "no_place_for_profile": _l("Für %(profile)s sind im ganzen Jugendamt %(free)s Plätze frei."),
    "report_42a": _l(
        "%(reference)s in %(facility)s: Meldung zur Verteilung (§ 42a) bis %(due)s fällig."
    ),
    "distribution_42a": _l(
        "%(reference)s in %(facility)s: ohne Verteilung ist sie ab %(date)s ausgeschlossen (§ 42a)."
    ),
    "coming_of_age": _l(
        "%(reference)s in %(facility)s wird am %(date)s volljährig; die Einrichtung nimmt "
        "nur Minderjährige auf."
    ),
    "long_stay": _l("%(reference)s ist seit %(days)s Tagen in der Notaufnahme %(facility)s."),
    "ceiling_expiring": _l(
        "Die befristete Obergrenze von %(facility)s (%(ceiling)s Plätze) endet am %(until)s; "
        "dann gelten %(licensed)s genehmigte Plätze bei %(occupied)s Belegten."
    ),
    "reservation_expired": _l("Eine Reservierung in %(facility)s ist ungenutzt abgelaufen."),
    "hold_expiring": _l(
        "Der freigehaltene Platz für %(reference)s in %(facility)s wird am %(until)s frei."
    ),
}


def _shown(details: dict) -> dict:
    """Dates and instants as Germans write them."""
    from datetime import date, datetime

    shown = {}
    for key, value in details.items():
        if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and value[7:8] == "-":
            try:
                if len(value) == 10:
                    value = date.fromisoformat(value).strftime("%d.%m.%Y")
                else:
                    from placement.timeutil import local

                    value = local(datetime.fromisoformat(value)).strftime("%d.%m.%Y %H:%M")
            except ValueError:
                pass
        shown[key] = value
    return shown


def alert_title(rule: str, details: dict) -> str:
    return gettext(ALERT_TITLES[rule], **_shown(details))


def alert_line(rule: str, details: dict) -> str:
    line = gettext(ALERT_LINES[rule], **_shown(details))
    if rule == "report_42a" and details.get("left", 0) < 0:
        line += " " + gettext("Die Frist ist überschritten.")
    return line
