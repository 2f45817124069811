"""The account form: role, facilities, active."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from placement.models.enums import Role, choices


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class AccountForm(FlaskForm):
    role = SelectField(_l("Rolle"), choices=[])
    facility_ids = CheckboxesField(_l("Zugeordnete Einrichtungen"), choices=[], coerce=int)
    active = BooleanField(_l("Konto aktiv (Anmeldung erlaubt)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = choices(Role)
