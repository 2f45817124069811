from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField(
        _l("E-Mail"), validators=[DataRequired(_l("Bitte E-Mail angeben.")), Length(max=254)]
    )
    password = PasswordField(
        _l("Passwort"), validators=[DataRequired(_l("Bitte Passwort angeben."))]
    )
    remember = BooleanField(_l("Angemeldet bleiben"))
    submit = SubmitField(_l("Anmelden"))
