from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField(
        _l("E-Mail"),
        validators=[DataRequired(_l("Bitte E-Mail angeben.")), Length(max=254)],
        # At night, straight to typing: the page opens with the focus in the e-mail.
        render_kw={"autofocus": True, "autocomplete": "username"},
    )
    password = PasswordField(
        _l("Passwort"),
        validators=[DataRequired(_l("Bitte Passwort angeben.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("Angemeldet bleiben"))
    submit = SubmitField(_l("Anmelden"))


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        _l("Aktuelles Passwort"),
        validators=[DataRequired(_l("Bitte das aktuelle Passwort angeben."))],
    )
    new_password = PasswordField(
        _l("Neues Passwort"),
        validators=[DataRequired(_l("Bitte ein neues Passwort angeben."))],
        description=_l(
            "Mindestens 12 Zeichen; ein Satz aus mehreren Wörtern ist gut zu merken. "
            "Verbreitete Passwörter und die eigene E-Mail-Adresse werden abgelehnt."
        ),
        render_kw={"autocomplete": "new-password"},
    )
    new_password_repeat = PasswordField(
        _l("Neues Passwort wiederholen"),
        validators=[DataRequired(_l("Bitte das neue Passwort wiederholen."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Passwort ändern"))


class EndSessionsForm(FlaskForm):
    submit = SubmitField(_l("Alle anderen Sitzungen beenden"))
