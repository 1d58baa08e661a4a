"""Forms of the auth pages (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from portal.i18n import lazy_gettext as _l


class EnrollConfirmForm(FlaskForm):
    """The person opening an enrollment link confirms who they are."""

    answer = StringField(_l("Your customer number"), validators=[DataRequired(), Length(max=254)])


class RenameKeyForm(FlaskForm):
    name = StringField(_l("Key name"), validators=[DataRequired(), Length(max=100)])


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


def _role_choices() -> list[SelectChoice]:
    from .company_roles import ROLE_LABELS

    return [SelectChoice(role.value, str(label)) for role, label in ROLE_LABELS.items()]


class InviteColleagueForm(FlaskForm):
    """The owner invites a new person of the company."""

    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(_l("Role"), choices=_role_choices, default="buyer")
    send_email = BooleanField(_l("Send the link to this email"), default=True)


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=_role_choices)


class BlockForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


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
