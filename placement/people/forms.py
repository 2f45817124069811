"""GET forms of the people pages (reads: no CSRF). Codes are checked by the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import Optional

from placement.models.enums import DeadlineKind, FacilityKind, LegalBasis, choices
from placement.services.people.lists import AGE_BAND_LABELS, ANY_DEADLINE, AgeBand
from placement.services.people.search import MAX_QUERY_LENGTH

ANY = ("", _l("alle"))


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(
        _l("Kürzel oder Aktenzeichen"),
        render_kw={"maxlength": MAX_QUERY_LENGTH, "autocomplete": "off"},
        description=_l("Ganz oder der Anfang; Groß- und Kleinschreibung egal."),
    )
    page = IntegerField(_l("Seite"), validators=[Optional()])
    submit = SubmitField(_l("Suchen"))


class StayFilterForm(FlaskForm):
    """Filters of the lists of placed and absconded youths."""

    class Meta:
        csrf = False

    facility_id = SelectField(_l("Einrichtung"), choices=[], default="")
    kind = SelectField(_l("Art der Einrichtung"), choices=[ANY, *choices(FacilityKind)], default="")
    uma = SelectField(
        _l("umA"), choices=[ANY, ("1", _l("nur umA")), ("0", _l("ohne umA"))], default=""
    )
    age_band = SelectField(
        _l("Alter"),
        choices=[ANY, *[(b.value, AGE_BAND_LABELS[b]) for b in AgeBand]],
        default="",
    )
    legal_basis = SelectField(
        _l("Rechtsgrundlage"), choices=[ANY, *choices(LegalBasis)], default=""
    )
    deadline = SelectField(
        _l("Frist fällig"),
        choices=[ANY, (ANY_DEADLINE, _l("irgendeine Frist")), *choices(DeadlineKind)],
        default="",
    )
    sort = SelectField(_l("Sortierung"), choices=[], default="")
    page = IntegerField(_l("Seite"), validators=[Optional()])
    submit = SubmitField(_l("Anzeigen"))
