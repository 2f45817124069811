"""The German words for what the services of ``services.people`` return: history entries
(what happened, with the values before and after) and the status of a youth found."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from placement.formatting import format_local, format_local_date
from placement.models.enums import label
from placement.services.people.history import Change, HistoryEntry

FIELD_LABELS = {
    "facility_id": _l("Einrichtung"),
    "legal_basis": _l("Rechtsgrundlage"),
    "start_at": _l("Beginn"),
    "end_at": _l("Ende"),
    "end_reason": _l("Beendigungsgrund"),
    "place_held_until": _l("Platz gehalten bis"),
    "distribution_reported_on": _l("Zur Verteilung gemeldet am"),
    "distribution_result": _l("Ergebnis der Verteilung"),
    "age_assessed_on": _l("Alterseinschätzung (§ 42f) am"),
    "planned_end_on": _l("Geplantes Ende"),
    "planned_end_kind": _l("Art des Endes"),
}

STATUS_LABELS = {
    "placed": _l("untergebracht"),
    "absconded": _l("abgängig (Platz gehalten)"),
    "ended": _l("beendet"),
    "none": _l("kein Aufenthalt"),
}


def shown(value: Any) -> str:
    """A value as the page shows it: dates German, codes by their label, none as "–"."""
    if value is None or value == "":
        return "–"
    if isinstance(value, datetime):
        return format_local(value)
    if isinstance(value, date):
        return format_local_date(value)
    if isinstance(value, StrEnum):
        return label(value)
    return str(value)


def change_line(change: Change) -> str:
    """ "Beginn: 01.03.2024 10:00 → 02.03.2024 10:00" """
    return _(
        "%(field)s: %(before)s → %(after)s",
        field=FIELD_LABELS.get(change.field, change.field),
        before=shown(change.before),
        after=shown(change.after),
    )


def history_entry(entry: HistoryEntry) -> dict[str, Any]:
    """An entry's title and detail lines in German."""
    lines: list[str] = []
    if entry.kind == "admit":
        title = _("Aufnahme in %(facility)s", facility=entry.facility)
        lines.append(_("ab %(when)s", when=shown(entry.when)))
        lines.append(_("Rechtsgrundlage: %(basis)s", basis=shown(entry.legal_basis)))
        if entry.reason:
            lines.append(
                _("Aufnahme außerhalb des Profils, Grund: %(reason)s", reason=entry.reason)
            )
        planned = {c.field: c.after for c in entry.changes}
        if planned.get("planned_end_on") is not None:
            kind = planned.get("planned_end_kind")
            lines.append(
                _(
                    "Geplantes Ende: %(day)s%(kind)s",
                    day=shown(planned["planned_end_on"]),
                    kind=f" ({shown(kind)})" if kind is not None else "",
                )
            )
    elif entry.kind == "recorded":
        title = _("Aufenthalt in %(facility)s erfasst", facility=entry.facility)
        lines.append(_("ab %(when)s", when=shown(entry.when)))
        if entry.legal_basis is not None:
            lines.append(_("Rechtsgrundlage: %(basis)s", basis=shown(entry.legal_basis)))
    elif entry.kind == "move":
        title = _(
            "Verlegung von %(facility)s nach %(target)s",
            facility=entry.facility,
            target=entry.target or "–",
        )
        lines.append(_("am %(when)s", when=shown(entry.when)))
        if entry.reason:
            lines.append(_("Grund: %(reason)s", reason=entry.reason))
    elif entry.kind == "discharge":
        title = _("Entlassung aus %(facility)s", facility=entry.facility)
        lines.append(_("am %(when)s", when=shown(entry.when)))
        lines.append(_("Beendigungsgrund: %(reason)s", reason=shown(entry.end_reason)))
        if entry.held_until is not None:
            lines.append(_("Platz gehalten bis %(until)s", until=shown(entry.held_until)))
    elif entry.kind == "undo_discharge":
        title = _("Entlassung zurückgenommen (%(facility)s)", facility=entry.facility)
        lines.append(
            _(
                "Die Entlassung am %(when)s (%(reason)s) gilt nicht; der Aufenthalt läuft weiter.",
                when=shown(entry.when),
                reason=shown(entry.end_reason),
            )
        )
    elif entry.kind == "ended":
        title = _("Ende in %(facility)s", facility=entry.facility)
        lines.append(_("am %(when)s", when=shown(entry.when)))
        lines.append(_("Beendigungsgrund: %(reason)s", reason=shown(entry.end_reason)))
    elif entry.kind == "correct":
        title = _("Korrektur (%(facility)s)", facility=entry.facility)
        lines.extend(change_line(c) for c in entry.changes)
        if entry.reason:
            lines.append(_("Grund: %(reason)s", reason=entry.reason))
    elif entry.kind == "planned_end":
        title = _("Geplantes Ende (%(facility)s)", facility=entry.facility)
        lines.extend(change_line(c) for c in entry.changes)
    else:
        title = _("§ 42a-Verfahren (%(facility)s)", facility=entry.facility)
        lines.extend(change_line(c) for c in entry.changes)
    return {"title": title, "lines": lines}
