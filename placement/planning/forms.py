"""The form that starts a move plan; the planning service checks every value."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import Optional

from placement.models.enums import PlanScope, choices


class PlanForm(FlaskForm):
    scope = RadioField(_l("Was soll geplant werden?"), choices=choices(PlanScope), default="office")
    relieve_facility_id = SelectField(
        _l("Zu entlastende Einrichtung"), coerce=int, validators=[Optional()], validate_choice=False
    )
    facility_ids = SelectMultipleField(
        _l("Einrichtungen (Umzüge nur zwischen diesen)"),
        coerce=int,
        validators=[Optional()],
        validate_choice=False,
    )
    max_moves = IntegerField(
        _l("Höchstens so viele Umzüge"),
        validators=[Optional()],
        description=_l("Leer lassen: so viele wie nötig."),
    )
    max_move_km = DecimalField(
        _l("Höchstens so weit je Umzug (km)"), places=None, validators=[Optional()]
    )
    pinned = StringField(
        _l("Nicht verlegen (Kürzel, durch Komma getrennt)"),
        description=_l("z. B. wegen Prüfungen oder einer bevorstehenden Entlassung."),
    )
    closed_facility_ids = SelectMultipleField(
        _l("Keine Zuzüge in"), coerce=int, validators=[Optional()], validate_choice=False
    )
    keep_free = IntegerField(
        _l("Zusätzlich frei halten (Plätze je Einrichtung)"), default=0, validators=[Optional()]
    )
    pin_recent_admissions = BooleanField(
        _l("In den letzten 24 Stunden Aufgenommene nicht verlegen"), default=True
    )
    pin_coming_of_age = BooleanField(
        _l("Wer in 7 Tagen volljährig wird und deshalb auszieht, nicht verlegen"), default=True
    )
    time_limit = IntegerField(_l("Rechenzeit höchstens (Sekunden)"), default=30)
    submit = SubmitField(_l("Plan berechnen"))
