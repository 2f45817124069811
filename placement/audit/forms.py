"""The GET form of the audit page (a read: no CSRF). Values are checked by the service."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, IntegerField, SelectField, SubmitField
from wtforms.validators import NumberRange, Optional

ANY = ("", _l("alle"))


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    user = SelectField(_l("Benutzer"), choices=[], default="")
    action = SelectField(_l("Aktion"), choices=[], default="")
    object_type = SelectField(_l("Objektart"), choices=[], default="")
    object_id = IntegerField(
        _l("Objekt-Id"), validators=[Optional(), NumberRange(min=0, max=2**31 - 1)]
    )
    since = DateTimeLocalField(_l("von"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    until = DateTimeLocalField(_l("bis"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    page = IntegerField(_l("Seite"), validators=[Optional(), NumberRange(min=1)])
    submit = SubmitField(_l("Anzeigen"))
