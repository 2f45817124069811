"""Intake forms: fields, labels and parsing of typed values. The rules (ranges, required
combinations, vocabularies beyond the offered choices) are checked by the services, so
that the HTML pages and the API give the same answers."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Optional

from placement.models.enums import (
    DistributionResult,
    EndReason,
    Gender,
    LegalBasis,
    PlannedEndKind,
    choices,
)
from placement.services.intake.rules import (
    MAX_FILE_NUMBER_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_REASON_LENGTH,
    MAX_REFERENCE_LENGTH,
    MAX_SIBLING_GROUP_LENGTH,
    MAX_SIBLINGS,
)

DATETIME_LOCAL = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
GENDER_CHOICES = [
    (g.value, label) for g, label in zip(Gender, [c[1] for c in choices(Gender)], strict=True)
]
UMA_CHOICES = [("0", _l("nein")), ("1", _l("ja (unbegleitet)"))]
REQUIRED = _l("Bitte ausfüllen.")
PLANNED_END_LABEL = _l("Voraussichtliches Ende am")
PLANNED_END_KIND_LABEL = _l("Art des Endes")
PLANNED_END_HINT = _l("Wenn bekannt, z. B. Übergabe nach §42b oder Beginn der Anschlusshilfe.")


def planned_end_kind_field() -> SelectField:
    return SelectField(
        PLANNED_END_KIND_LABEL, choices=[("", "–"), *choices(PlannedEndKind)], default=""
    )


class ChildForm(Form):
    """A further child of a sibling group in the place finder (the first child's fields
    are the search form's own)."""

    age = IntegerField(_l("Alter (Jahre)"), validators=[Optional()])
    birth_date = DateField(_l("oder Geburtsdatum"), validators=[Optional()])
    gender = RadioField(_l("Geschlecht"), choices=GENDER_CHOICES, validators=[Optional()])


class PlaceSearchForm(FlaskForm):
    """GET form of the place finder (no CSRF needed for a read). The first child's fields
    are ``age``/``birth_date``/``gender``; "Kind hinzufügen" adds a row to ``children``."""

    class Meta:
        csrf = False

    age = IntegerField(_l("Alter (Jahre)"), validators=[Optional()])
    birth_date = DateField(_l("oder Geburtsdatum"), validators=[Optional()])
    gender = RadioField(_l("Geschlecht"), choices=GENDER_CHOICES, validators=[Optional()])
    children = FieldList(FormField(ChildForm), min_entries=0, max_entries=MAX_SIBLINGS - 1)
    add_child = SubmitField(_l("Kind hinzufügen"))
    uma = RadioField(
        _l("Unbegleitet eingereist (umA)"),
        choices=UMA_CHOICES,
        default="0",
        validators=[InputRequired(REQUIRED)],
    )
    near = SelectField(_l("In der Nähe von"), choices=[], validate_choice=False)
    lat = DecimalField(_l("oder Breite"), places=None, validators=[Optional()])
    lon = DecimalField(_l("Länge"), places=None, validators=[Optional()])
    submit = SubmitField(_l("Plätze suchen"))


class SiblingForm(Form):
    """A further child admitted together with the first (a sibling group)."""

    birth_date = DateField(_l("Geburtsdatum"), validators=[Optional()])
    birth_date_estimated = BooleanField(_l("Geburtsdatum geschätzt (Alterseinschätzung offen)"))
    gender = RadioField(_l("Geschlecht"), choices=GENDER_CHOICES, validators=[Optional()])
    reference = StringField(
        _l("Kürzel (pseudonym)"),
        render_kw={"maxlength": MAX_REFERENCE_LENGTH},
        description=_l("Vorschlag; keine Namen eintragen."),
    )
    file_number = StringField(_l("Aktenzeichen"), render_kw={"maxlength": MAX_FILE_NUMBER_LENGTH})


class AdmissionForm(FlaskForm):
    facility_id = SelectField(
        _l("Einrichtung"), coerce=int, validators=[DataRequired(_l("Bitte Einrichtung wählen."))]
    )
    reservation_id = HiddenField()
    youth_reference = StringField(
        _l("Bereits erfasste Person (Kürzel)"),
        render_kw={"maxlength": MAX_REFERENCE_LENGTH},
        description=_l("Leer lassen, wenn die Person neu ist."),
    )
    reference = StringField(
        _l("Kürzel (pseudonym)"),
        render_kw={"maxlength": MAX_REFERENCE_LENGTH},
        description=_l("Vorschlag übernehmen oder leer lassen (wird vergeben). Keine Namen."),
    )
    birth_date = DateField(_l("Geburtsdatum"), validators=[Optional()])
    birth_date_estimated = BooleanField(_l("Geburtsdatum geschätzt (Alterseinschätzung offen)"))
    gender = RadioField(_l("Geschlecht"), choices=GENDER_CHOICES, validators=[Optional()])
    uma = RadioField(
        _l("Unbegleitet eingereist (umA)"),
        choices=UMA_CHOICES,
        default="0",
        validators=[Optional()],
    )
    file_number = StringField(_l("Aktenzeichen"), render_kw={"maxlength": MAX_FILE_NUMBER_LENGTH})
    sibling_group = StringField(
        _l("Geschwistergruppe"),
        render_kw={"maxlength": MAX_SIBLING_GROUP_LENGTH},
        description=_l(
            "Nur für eine bestehende Gruppe; gemeinsam aufgenommene Geschwister erhalten "
            "automatisch eine."
        ),
    )
    siblings = FieldList(FormField(SiblingForm), min_entries=0, max_entries=MAX_SIBLINGS - 1)
    add_sibling = SubmitField(_l("Kind hinzufügen"))
    legal_basis = SelectField(
        _l("Rechtsgrundlage"), choices=choices(LegalBasis), validators=[DataRequired(REQUIRED)]
    )
    start = DateTimeLocalField(
        _l("Aufnahme am"),
        format=DATETIME_LOCAL,
        validators=[Optional()],
        description=_l("Leer lassen für jetzt."),
    )
    override_reason = TextAreaField(
        _l("Grund für Aufnahme außerhalb des Profils"), render_kw={"maxlength": MAX_REASON_LENGTH}
    )
    planned_end_on = DateField(
        PLANNED_END_LABEL, validators=[Optional()], description=PLANNED_END_HINT
    )
    planned_end_kind = planned_end_kind_field()
    confirm = HiddenField(default="")
    form_token = HiddenField(default="")
    submit = SubmitField(_l("Aufnehmen"))


class ReservationForm(FlaskForm):
    facility_id = HiddenField(validators=[DataRequired(_l("Bitte Einrichtung wählen."))])
    hours = IntegerField(_l("Gültig für (Stunden)"), default=2, validators=[Optional()])
    places = IntegerField(_l("Plätze (Kinder)"), default=1, validators=[Optional()])
    note = StringField(
        _l("Notiz (keine Namen, keine Gründe)"),
        description=_l("Höchstens 200 Zeichen, z. B. „Polizei bringt, ca. 23 Uhr“."),
        render_kw={
            "maxlength": MAX_NOTE_LENGTH,
            "placeholder": _l("keine Namen, keine Gründe"),
        },
    )
    submit = SubmitField(_l("Platz reservieren"))


class DischargeForm(FlaskForm):
    """Nothing preselected: the reason is chosen each time, and the discharge is confirmed
    on a second step that spells out what will be recorded (``confirm``)."""

    reason = SelectField(
        _l("Beendigungsgrund"),
        choices=[("", _l("– bitte wählen –")), *choices(EndReason)],
        default="",
        validators=[DataRequired(_l("Bitte einen Beendigungsgrund wählen."))],
    )
    time = DateTimeLocalField(
        _l("Zeitpunkt"),
        format=DATETIME_LOCAL,
        validators=[Optional()],
        description=_l("Leer lassen für jetzt."),
    )
    confirm = HiddenField(default="")
    submit = SubmitField(_l("Entlassen …"))


class UndoDischargeForm(FlaskForm):
    """Take back a discharge just recorded (by whoever recorded it, for a short while)."""

    submit = SubmitField(_l("Entlassung zurücknehmen"))


# Each form of the stay page gets its own prefix, so that its fields' ids (and labels'
# targets) are unique on the page.
STAY_FORM_PREFIXES = {
    "discharge": "discharge",
    "undo": "undo",
    "move": "move",
    "correct": "correct",
    "distribution": "distribution",
    "planned_end": "planned_end",
}


class MoveForm(FlaskForm):
    facility_id = SelectField(
        _l("Neue Einrichtung"),
        coerce=int,
        validators=[DataRequired(_l("Bitte Einrichtung wählen."))],
    )
    time = DateTimeLocalField(
        _l("Zeitpunkt"),
        format=DATETIME_LOCAL,
        validators=[Optional()],
        description=_l("Leer lassen für jetzt."),
    )
    with_siblings = BooleanField(_l("Geschwister in derselben Einrichtung mitverlegen"))
    override_reason = TextAreaField(
        _l("Grund, falls außerhalb des Profils"), render_kw={"maxlength": MAX_REASON_LENGTH}
    )
    submit = SubmitField(_l("Verlegen"))


class CorrectionForm(FlaskForm):
    facility_id = SelectField(_l("Einrichtung"), coerce=int)
    legal_basis = SelectField(_l("Rechtsgrundlage"), choices=choices(LegalBasis))
    start_at = DateTimeLocalField(
        _l("Beginn"), format=DATETIME_LOCAL, validators=[InputRequired(REQUIRED)]
    )
    end_at = DateTimeLocalField(
        _l("Ende"),
        format=DATETIME_LOCAL,
        validators=[Optional()],
        description=_l("Leer: Aufenthalt ist offen."),
    )
    end_reason = SelectField(
        _l("Beendigungsgrund"), choices=[("", "–"), *choices(EndReason)], default=""
    )
    reason = StringField(_l("Warum wird korrigiert?"), render_kw={"maxlength": MAX_REASON_LENGTH})
    submit = SubmitField(_l("Korrektur speichern"))


class DistributionForm(FlaskForm):
    """The §42a procedure of a stay: it stops the §42a clock."""

    reported_on = DateField(_l("Zur Verteilung gemeldet am"), validators=[Optional()])
    result = SelectField(
        _l("Ergebnis der Verteilung"),
        choices=[("", "–"), *choices(DistributionResult)],
        default="",
    )
    age_assessed_on = DateField(_l("Alterseinschätzung (§ 42f) am"), validators=[Optional()])
    submit = SubmitField(_l("§ 42a-Angaben speichern"))


class PlannedEndForm(FlaskForm):
    """When and why an open stay is planned to end (empty date: no planned end)."""

    planned_end_on = DateField(
        PLANNED_END_LABEL,
        validators=[Optional()],
        description=_l("Leer lassen und speichern, um das geplante Ende zu löschen."),
    )
    planned_end_kind = planned_end_kind_field()
    submit = SubmitField(_l("Geplantes Ende speichern"))
