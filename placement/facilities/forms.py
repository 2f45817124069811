"""Forms of facility administration: the profile, a change of places, and the one-click
buttons (confirm occupancy, close, reopen). The rules are checked by the services, so that
the HTML pages and the API give the same answers; the forms only parse typed values."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from placement.models.enums import FacilityKind, Gender, UmaPolicy, choices
from placement.services.facilities.admin import PROFILE_FIELDS

DATETIME_LOCAL = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _kinds():
    return choices(FacilityKind)


class FacilityForm(FlaskForm):
    """A facility's profile (new or edited)."""

    name = StringField(_l("Name"), render_kw={"maxlength": 200})
    code = StringField(
        _l("Kürzel"),
        render_kw={"maxlength": 64},
        description=_l(
            "Eindeutig, nur a–z, 0–9, - und _. Leer lassen: wird aus dem Namen gebildet."
        ),
    )
    kind = SelectField(_l("Art"), choices=[])
    operator = StringField(_l("Träger"), render_kw={"maxlength": 200})
    street = StringField(_l("Straße und Hausnummer"), render_kw={"maxlength": 200})
    postal_code = StringField(
        _l("Postleitzahl"), render_kw={"maxlength": 5, "inputmode": "numeric"}
    )
    city = StringField(_l("Ort"), render_kw={"maxlength": 100})
    district = StringField(_l("Ortsteil"), render_kw={"maxlength": 100})
    planning_area = StringField(_l("Planungsraum"), render_kw={"maxlength": 100})
    latitude = DecimalField(_l("Breite"), places=None, validators=[Optional()])
    longitude = DecimalField(_l("Länge"), places=None, validators=[Optional()])
    age_min = IntegerField(_l("Alter von"), validators=[Optional()])
    age_max = IntegerField(_l("Alter bis"), validators=[Optional()])
    genders = CheckboxesField(_l("Geschlecht"), choices=[])
    uma_policy = SelectField(_l("Unbegleitete Minderjährige (umA)"), choices=[])
    anonymous_address = BooleanField(
        _l("Anonyme Unterbringung (Anschrift nur für Berechtigte sichtbar)")
    )
    licensed = IntegerField(
        _l("Genehmigte Plätze"),
        validators=[Optional()],
        description=_l("Ab jetzt; später unter „Plätze ändern“."),
    )
    usable = IntegerField(
        _l("Belegbare Plätze"),
        validators=[Optional()],
        description=_l("Leer lassen: so viele wie genehmigt."),
    )
    submit = SubmitField(_l("Speichern"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = _kinds()
        self.genders.choices = choices(Gender)
        self.uma_policy.choices = choices(UmaPolicy)

    def profile(self) -> dict[str, object]:
        """The typed profile values for the services (which check them)."""
        return {
            "name": self.name.data,
            "kind": self.kind.data,
            "operator": self.operator.data,
            "street": self.street.data,
            "postal_code": self.postal_code.data,
            "city": self.city.data,
            "district": self.district.data,
            "planning_area": self.planning_area.data,
            "latitude": None if self.latitude.data is None else float(self.latitude.data),
            "longitude": None if self.longitude.data is None else float(self.longitude.data),
            "age_min": self.age_min.data if self.age_min.data is not None else 0,
            "age_max": self.age_max.data if self.age_max.data is not None else 17,
            "genders": list(self.genders.data or []),
            "uma_policy": self.uma_policy.data,
            "anonymous_address": bool(self.anonymous_address.data),
        }

    def fill(self, facility) -> None:
        """Prefill from a facility (GET of the edit page)."""
        for name in PROFILE_FIELDS:
            if name not in ("kind", "genders", "uma_policy"):  # choices: set below
                getattr(self, name).data = getattr(facility, name)
        self.kind.data = facility.kind.value
        self.uma_policy.data = facility.uma_policy.value
        self.genders.data = sorted(facility.genders)


class CapacityForm(FlaskForm):
    """A change of places from an instant; prefilled with the places in force now."""

    valid_from = DateTimeLocalField(
        _l("Gültig ab"),
        format=DATETIME_LOCAL,
        validators=[Optional()],
        description=_l("Leer lassen: ab jetzt. Der bisherige Zeitraum endet dann."),
    )
    licensed = IntegerField(_l("Genehmigte Plätze"), validators=[Optional()])
    usable = IntegerField(_l("Belegbare Plätze"), validators=[Optional()])
    kept_free = IntegerField(
        _l("Freihalteplätze"),
        validators=[Optional()],
        description=_l("Für Notaufnahmen freigehaltene Plätze."),
    )
    ceiling = IntegerField(
        _l("Befristete Obergrenze"),
        validators=[Optional()],
        description=_l("Leer lassen: keine befristete Überbelegung."),
    )
    ceiling_until = DateField(
        _l("Obergrenze bis einschließlich"),
        validators=[Optional()],
    )
    ceiling_reference = StringField(
        _l("Aktenzeichen der Genehmigung"), render_kw={"maxlength": 200}
    )
    note = StringField(_l("Notiz"), render_kw={"maxlength": 500})
    confirm = HiddenField()
    submit = SubmitField(_l("Plätze ändern"))


class ActionForm(FlaskForm):
    """A one-click action (confirm occupancy, close, reopen): only the CSRF token."""

    reason = StringField(_l("Grund (optional)"), render_kw={"maxlength": 500})
    next = HiddenField()
