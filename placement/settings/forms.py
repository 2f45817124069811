from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SubmitField

from placement.settings.locale import LANGUAGE_NAMES


class SettingsForm(FlaskForm):
    # The service checks the value, so that the form and a future API say the same.
    locale = SelectField(_l("Sprache"), validate_choice=False)
    submit = SubmitField(_l("Speichern"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.locale.choices = [("", _l("wie im Browser eingestellt"))] + list(
            LANGUAGE_NAMES.items()
        )
