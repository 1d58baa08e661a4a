"""Forms of the auth pages (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class EnrollConfirmForm(FlaskForm):
    """The person opening an enrollment link confirms who they are."""

    answer = StringField(_l("Your customer number"), validators=[DataRequired(), Length(max=254)])


class RenameKeyForm(FlaskForm):
    name = StringField(_l("Key name"), validators=[DataRequired(), Length(max=100)])


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
