"""Forms of the auth pages (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp


class EnrollConfirmForm(FlaskForm):
    """The person opening an enrollment link confirms who they are."""

    answer = StringField(_l("Your customer number"), validators=[DataRequired(), Length(max=254)])


class RenameKeyForm(FlaskForm):
    name = StringField(_l("Key name"), validators=[DataRequired(), Length(max=100)])


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class ContactDetailsForm(FlaskForm):
    """The customer's email and phone; sent as JSON with the key's approval."""

    class Meta:
        csrf = False  # JSON POSTs: CSRFProtect checks the X-CSRFToken header

    email = StringField(
        _l("Email"),
        validators=[
            DataRequired(_l("Enter an email address.")),
            Length(max=254),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter a valid email address.")),
        ],
    )
    phone = StringField(
        _l("Phone"),
        validators=[
            Optional(),
            Regexp(r"^\+?[\d\s\-()]{5,32}$", message=_l("Enter a valid phone number.")),
        ],
    )
