"""German texts for the domain's codes: errors, capacity warnings and profile mismatches.

The HTML pages, the API and the CLI all render codes through these functions (Flask-Babel
message ids, so that an English catalogue can follow). Messages may use the error's
``params`` and ``%(field)s``: the name of the offending field as the surface calls it (the
API field name, or the form label)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from flask_babel import get_locale, gettext

from placement.models.enums import label
from placement.services.errors import Code, PlacementError
from placement.services.intake.arrivals import Warning, WarningCode
from placement.services.intake.rules import Mismatch, MismatchCode, Notice, NoticeCode
from placement.services.planning.plans import StaleCode
from placement.timeutil import local


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
    Code.INVALID_CHARACTERS: _l(
        "„%(field)s“ enthält unzulässige Zeichen (Steuerzeichen oder ungültige Kodierung)."
    ),
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
    Code.PASSWORD_TOO_LONG: _l("Das Passwort darf höchstens %(max)s Zeichen haben."),
    Code.PASSWORD_TOO_COMMON: _l(
        "Dieses Passwort ist zu verbreitet und leicht zu erraten; bitte ein anderes wählen."
    ),
    Code.PASSWORD_CONTAINS_EMAIL: _l(
        "Das Passwort darf nicht die eigene E-Mail-Adresse (oder ihren Namensteil) enthalten."
    ),
    Code.PASSWORD_MISMATCH: _l("Die beiden neuen Passwörter stimmen nicht überein."),
    Code.PASSWORD_UNCHANGED: _l("Das neue Passwort muss sich vom bisherigen unterscheiden."),
    Code.WRONG_PASSWORD: _l("Das aktuelle Passwort ist falsch."),
    Code.LOGIN_THROTTLED: _l(
        "Zu viele fehlgeschlagene Anmeldungen. Bitte versuchen Sie es ab %(until)s Uhr erneut."
    ),
    Code.ACCOUNT_LOCKED: _l(
        "Zu viele fehlgeschlagene Anmeldungen: Die Anmeldung ist gesperrt. Die Administration "
        "kann die Sperre aufheben."
    ),
    Code.UNKNOWN_USER: _l("Dieses Benutzerkonto ist nicht bekannt."),
    Code.EMAIL_TAKEN: _l("Diese E-Mail-Adresse ist bereits vergeben."),
    Code.UNKNOWN_ACCOUNT: _l("Kein Konto mit dieser E-Mail-Adresse."),
    Code.OWN_ACCOUNT_LOCKOUT: _l(
        "Das eigene Konto kann nicht deaktiviert oder aus der Administration genommen werden."
    ),
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
    Code.CONFIRMATION_REQUIRED: _l(
        "Bitte zuerst prüfen und bestätigen: %(notices)s (Vorschau anfordern und deren "
        "„confirmation“ mitsenden)."
    ),
    Code.FORM_ALREADY_SUBMITTED: _l(
        "Dieses Aufnahmeformular wurde bereits abgeschickt; die Aufnahme ist gespeichert. "
        "Für eine weitere Aufnahme bitte ein neues Formular öffnen."
    ),
    Code.FILE_NUMBER_OPEN_STAY: _l(
        "Unter dem Aktenzeichen „%(file_number)s“ ist %(reference)s bereits aufgenommen "
        "(%(facility)s); bitte den bestehenden Aufenthalt öffnen und ggf. verlegen."
    ),
    Code.REFERENCE_LOOKS_LIKE_NAME: _l(
        "Das sieht wie ein Name aus. Bitte keine Namen eintragen, sondern ein Kürzel wie "
        "„IO-2026-17“ oder das Feld leer lassen (wird automatisch vergeben)."
    ),
    Code.LOCAL_TIME_NONEXISTENT: _l(
        "%(time)s gibt es nicht (Umstellung auf Sommerzeit: die Uhr springt von 02:00 auf "
        "03:00); bitte die Uhrzeit prüfen."
    ),
    Code.LOCAL_TIME_AMBIGUOUS: _l(
        "%(time)s gibt es zweimal (Umstellung auf Winterzeit); bitte eine Uhrzeit vor 02:00 "
        "oder ab 03:00 angeben oder den Zeitpunkt mit Zeitzone über die API erfassen."
    ),
    Code.UNDO_STAY_OPEN: _l("Dieser Aufenthalt ist nicht beendet: es gibt nichts zurückzunehmen."),
    Code.UNDO_NOT_OWN: _l(
        "Nur wer die Entlassung erfasst hat, kann sie zurücknehmen. Bitte eine Korrektur "
        "des Aufenthalts veranlassen (Einrichtungsleitung)."
    ),
    Code.UNDO_EXPIRED: _l(
        "Die Entlassung wurde vor mehr als %(minutes)s Minuten erfasst und kann nicht mehr "
        "zurückgenommen werden. Bitte stattdessen den Aufenthalt korrigieren lassen "
        "(Einrichtungsleitung: „Korrigieren“, Ende leeren)."
    ),
    Code.UNDO_LATER_STAY: _l(
        "Die Person hat nach diesem Aufenthalt einen weiteren; die Entlassung kann nicht "
        "zurückgenommen werden. Bitte eine Korrektur veranlassen."
    ),
    Code.UNDO_OPEN_STAY: _l(
        "Die Person ist inzwischen anderswo aufgenommen; die Entlassung kann nicht "
        "zurückgenommen werden. Bitte eine Korrektur veranlassen."
    ),
    Code.SEARCH_QUERY_REQUIRED: _l("Bitte ein Kürzel oder Aktenzeichen eingeben."),
    Code.DEADLINE_FILTER_OPEN_ONLY: _l(
        "Fristen gibt es nur für untergebrachte Personen: der Filter „Frist fällig“ gilt nur "
        "für die Liste der Untergebrachten."
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
    Code.HISTORY_IN_FUTURE: _l(
        "„%(field)s“: %(value)s liegt in der Zukunft. Rückblickende Stände gibt es nur bis "
        "jetzt (%(latest)s); wie sich die Belegung entwickelt, ist eine Prognose."
    ),
    Code.HISTORY_BEFORE_DATA: _l(
        "„%(field)s“: %(value)s liegt vor den ersten erfassten Daten. Erlaubt ist ein "
        "Zeitpunkt von %(earliest)s bis %(latest)s."
    ),
    Code.MONTH_IN_FUTURE: _l(
        "„%(field)s“: %(value)s hat noch nicht begonnen. Erlaubt sind Monate bis %(latest)s."
    ),
    Code.MONTH_BEFORE_DATA: _l(
        "„%(field)s“: %(value)s liegt vor den ersten erfassten Daten. Erlaubt sind Monate "
        "von %(earliest)s bis %(latest)s."
    ),
    Code.NOT_A_42A_STAY: _l("Das gilt nur für vorläufige Inobhutnahmen (§ 42a)."),
    Code.PLANNED_END_BEFORE_ADMISSION: _l("Das geplante Ende liegt vor der Aufnahme."),
    Code.PLANNED_END_IN_PAST: _l(
        "Das geplante Ende liegt in der Vergangenheit. Ist der Aufenthalt beendet, bitte die "
        "Entlassung erfassen."
    ),
    Code.PLANNED_END_KIND_WITHOUT_DATE: _l("Zur Art des geplanten Endes fehlt das Datum."),
    Code.FORECAST_ONE_SUBJECT: _l(
        "„%(field)s“: bitte nur eines angeben: facility_id, kind oder profile (keines: das "
        "ganze Jugendamt)."
    ),
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
    Code.PERIOD_STARTS_THERE: _l(
        "Ab %(start)s gilt bereits ein eigener Kapazitätszeitraum; nichts wird überschrieben. "
        "Bitte einen anderen Zeitpunkt wählen."
    ),
    Code.PERIOD_OVERLAPS_NEXT: _l(
        "Der Zeitraum überschneidet sich mit dem Kapazitätszeitraum ab %(start)s: bitte "
        "früher enden lassen oder zuerst jenen Zeitraum ändern."
    ),
    Code.CAPACITY_REQUIRED: _l(
        "Zu diesem Zeitpunkt sind keine Plätze hinterlegt: bitte „%(field)s“ angeben."
    ),
    Code.CEILING_END_REQUIRED: _l("Eine befristete Obergrenze braucht ein Enddatum („bis“)."),
    Code.CEILING_END_WITHOUT_CEILING: _l(
        "Ein Enddatum gilt nur zusammen mit einer befristeten Obergrenze."
    ),
    Code.CEILING_REFERENCE_REQUIRED: _l(
        "Bitte das Aktenzeichen der Genehmigung der befristeten Obergrenze angeben."
    ),
    Code.OVER_USABLE_CONFIRMATION: _l(
        "Nach dieser Änderung wären %(over)s Personen mehr untergebracht als Plätze belegbar "
        "sind (%(occupied)s belegt, %(usable)s belegbar). Bitte die Änderung bestätigen."
    ),
    Code.FACILITY_CODE_INVALID: _l(
        "Das Kürzel darf nur Kleinbuchstaben a–z, Ziffern, „-“ und „_“ enthalten "
        "(höchstens %(max)s Zeichen)."
    ),
    Code.FACILITY_CODE_TAKEN: _l("Das Kürzel „%(value)s“ ist bereits vergeben."),
    Code.AGE_RANGE_INVALID: _l("Das Mindestalter darf nicht über dem Höchstalter liegen."),
    Code.GENDERS_REQUIRED: _l("Bitte mindestens ein Geschlecht wählen."),
    Code.POSTAL_CODE_INVALID: _l("Die Postleitzahl besteht aus fünf Ziffern."),
    Code.FACILITY_ALREADY_CLOSED: _l("Diese Einrichtung ist bereits geschlossen."),
    Code.FACILITY_ALREADY_OPEN: _l("Diese Einrichtung ist bereits geöffnet."),
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

NOTICES = {
    NoticeCode.START_BACKDATED: _l("Beginn liegt %(ago)s zurück: %(when)s – bitte bestätigen."),
    NoticeCode.START_IN_FUTURE: _l(
        "Beginn liegt %(ahead)s in der Zukunft: %(when)s – bitte bestätigen."
    ),
    NoticeCode.ADULT: _l(
        "%(who)s ist %(age)s Jahre alt, also volljährig: eine Inobhutnahme (§ 42) gilt nur "
        "Minderjährigen. Bitte bestätigen, dass es Hilfe für junge Volljährige (§ 41) ist "
        "oder die Alterseinschätzung Volljährigkeit ergeben hat."
    ),
}

WEEKDAYS = [
    _l("Montag"),
    _l("Dienstag"),
    _l("Mittwoch"),
    _l("Donnerstag"),
    _l("Freitag"),
    _l("Samstag"),
    _l("Sonntag"),
]

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


# The place finder names the same few reasons for every search (150 facilities, most of
# them outside the profile): each text is looked up once per locale and kept.
_MISMATCH_TEXTS: dict[tuple, str] = {}
_MISMATCH_TEXTS_MAX = 4096


def mismatch_messages(mismatches: Iterable[Mismatch]) -> list[str]:
    texts = []
    locale = None
    for mismatch in mismatches:
        if locale is None:
            locale = str(get_locale())
        key = (locale, mismatch.code, *sorted(mismatch.params.items()))
        text = _MISMATCH_TEXTS.get(key)
        if text is None:
            if len(_MISMATCH_TEXTS) >= _MISMATCH_TEXTS_MAX:
                _MISMATCH_TEXTS.clear()
            text = _MISMATCH_TEXTS[key] = mismatch_message(mismatch)
        texts.append(text)
    return texts


def warning_message(warning: Warning) -> str:
    return gettext(
        WARNINGS[warning.code],
        facility=warning.facility_name,
        occupied=warning.occupied,
        limit=warning.limit,
        reserved=warning.reserved,
        usable=warning.usable,
    )


def spelt_out(instant) -> str:
    """An instant as "Freitag, 27.11.2026 22:15" (Berlin time)."""
    from placement.timeutil import local

    shown = local(instant)
    return f"{gettext(WEEKDAYS[shown.weekday()])}, {shown.strftime('%d.%m.%Y %H:%M')}"


def _span_text(days: int, hours: int) -> str:
    if days >= 2:
        return gettext("%(n)s Tage", n=days)
    if hours == 1:
        return gettext("1 Stunde")
    return gettext("%(n)s Stunden", n=hours)


def notice_message(notice: Notice, who: str | None = None) -> str:
    """The German text of an admission notice; ``who`` names the person (default: "Die
    Person")."""
    params = notice.params
    if notice.code == NoticeCode.ADULT:
        return gettext(NOTICES[notice.code], who=who or gettext("Die Person"), age=params["age"])
    span = _span_text(params["days"], params["hours"])
    return gettext(NOTICES[notice.code], ago=span, ahead=span, when=spelt_out(params["at"]))


def _param_shown(value):
    """A message parameter as shown: enum labels, instants as dd.MM.yyyy HH:mm (Berlin)."""
    if isinstance(value, StrEnum):
        return label(value)
    if isinstance(value, datetime):
        # Python's zone data, as when the value was parsed (Babel renders instants before
        # 1893 in local mean time differently: 1900 showed as "31.12.1899 23:53").
        return local(value).strftime("%d.%m.%Y %H:%M")
    return value


def error_message(error: PlacementError, field_label: str | None = None) -> str:
    """The German message of an error; ``field_label`` names the field (default: the
    error's field as it is)."""
    params = {key: _param_shown(value) for key, value in error.params.items()}
    if "mismatches" in params:
        params["mismatches"] = "; ".join(mismatch_messages(params["mismatches"]))
    if "notices" in params:
        params["notices"] = " ".join(notice_message(n) for n in params["notices"])
    params.setdefault("field", field_label or error.field or "")
    return gettext(ERRORS[error.code], **params)


# --- alerts ---------------------------------------------------------------------------------

ALERT_TITLES = {
    "over_occupancy": _l("Überbelegung: %(facility)s (+%(over_by)s)"),
    "near_full": _l("Fast voll: %(facility)s"),
    "forecast_over": _l("Engpass erwartet: %(facility)s bis %(date)s (%(percent)s %%)"),
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
    "forecast_over": _l(
        "%(facility)s: voraussichtlich bis %(date)s über %(limit)s Plätzen (%(percent)s %%), "
        "jetzt %(occupied)s belegt; %(why)s."
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


def _forecast_why(details: dict) -> str:
    """Why an early warning fires, e.g. "im Mittel 1,4 Aufnahmen pro Tag, 2 geplante
    Abgänge in 7 Tagen"."""
    from flask_babel import format_decimal, ngettext

    rate = gettext(
        "im Mittel %(rate)s Aufnahmen pro Tag",
        rate=format_decimal(details["admissions_per_day"], format="#,##0.0"),
    )
    planned = details["planned_ends"]
    ends = [
        ngettext("%(num)d geplanter Abgang", "%(num)d geplante Abgänge", planned)
        if planned
        else gettext("keine geplanten Abgänge")
    ]
    adult = details.get("coming_of_age_ends", 0)
    if adult:
        ends.append(
            ngettext(
                "%(num)d Abgang wegen Volljährigkeit", "%(num)d Abgänge wegen Volljährigkeit", adult
            )
        )
    return gettext(
        "%(rate)s, %(ends)s in %(days)s Tagen",
        rate=rate,
        ends=gettext(" und ").join(ends),
        days=details["horizon"],
    )


def alert_line(rule: str, details: dict) -> str:
    if rule == "forecast_over":
        details = {**details, "why": _forecast_why(details)}
    line = gettext(ALERT_LINES[rule], **_shown(details))
    if rule == "report_42a" and details.get("left", 0) < 0:
        line += " " + gettext("Die Frist ist überschritten.")
    return line
