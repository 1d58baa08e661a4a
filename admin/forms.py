"""Forms of the console (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.i18n import lazy_gettext as _l
from portal.models import StaffRole

from .customers import CHANNELS

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[\d\s\-()]{5,32}$")

ROLE_LABELS = {
    StaffRole.ADMIN: _l("Administrator"),
    StaffRole.KEY_OFFICER: _l("Key officer"),
    StaffRole.MANAGER: _l("Manager"),
    StaffRole.SUPPORT: _l("Support"),
    StaffRole.EXPERT: _l("Expert"),
}
CHANNEL_LABELS = {"call": _l("Call"), "visit": _l("Visit"), "email": _l("Email")}


def _email(_form, field) -> None:
    if field.data and not _EMAIL.match(field.data.strip()):
        raise ValidationError(_l("Enter an email address like name@example.ru."))


def _phone(_form, field) -> None:
    if field.data and not _PHONE.match(field.data.strip()):
        raise ValidationError(_l("Enter a phone number like +7 912 345-67-89."))


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CustomerForm(FlaskForm):
    name = StringField(_l("Name"), [DataRequired(), Length(max=300)], filters=[_strip])
    inn = StringField(
        _l("INN"),
        [Optional(), Regexp(r"^(\d{10}|\d{12})$", message=_l("The INN has 10 or 12 digits."))],
        filters=[_strip],
    )
    email = StringField(_l("Email"), [Optional(), Length(max=254), _email], filters=[_strip])
    phone = StringField(_l("Phone"), [Optional(), _phone], filters=[_strip])
    address = TextAreaField(_l("Address"), [Optional(), Length(max=1000)], filters=[_strip])
    manager_id = SelectField(_l("Assigned manager"), coerce=int)

    def values(self) -> dict:
        return {
            "name": self.name.data,
            "inn": self.inn.data or None,
            "email": (self.email.data or "").lower() or None,
            "phone": self.phone.data or None,
            "address": self.address.data or None,
            "manager_id": self.manager_id.data or None,
        }


class ContactForm(FlaskForm):
    name = StringField(_l("Full name"), [DataRequired(), Length(max=200)], filters=[_strip])
    position = StringField(_l("Position"), [Optional(), Length(max=200)], filters=[_strip])
    email = StringField(_l("Email"), [Optional(), Length(max=254), _email], filters=[_strip])
    phone = StringField(_l("Phone"), [Optional(), _phone], filters=[_strip])
    is_primary = BooleanField(_l("Primary contact"))

    def values(self) -> dict:
        return {
            "name": self.name.data,
            "position": self.position.data or None,
            "email": (self.email.data or "").lower() or None,
            "phone": self.phone.data or None,
            "is_primary": bool(self.is_primary.data),
        }


class InteractionForm(FlaskForm):
    channel = SelectField(
        _l("Channel"),
        choices=[SelectChoice(c, CHANNEL_LABELS[c]) for c in CHANNELS],
        validators=[AnyOf(CHANNELS)],
    )
    occurred_at = DateTimeLocalField(
        _l("When"),
        [Optional()],
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        description=_l("Leave empty for now."),
    )
    summary = TextAreaField(
        _l("What was discussed"), [DataRequired(), Length(max=4000)], filters=[_strip]
    )


def _role_choices() -> list[SelectChoice]:
    return [SelectChoice(role.value, ROLE_LABELS[role]) for role in StaffRole]


class StaffRolesForm(FlaskForm):
    roles = MultiCheckboxField(
        _l("Roles"),
        choices=_role_choices(),
        validators=[DataRequired(message=_l("Choose at least one role."))],
    )


class StaffInviteForm(StaffRolesForm):
    name = StringField(_l("Full name"), [DataRequired(), Length(max=200)], filters=[_strip])
    email = StringField(_l("Email"), [DataRequired(), Length(max=254), _email], filters=[_strip])
    phone = StringField(_l("Phone"), [Optional(), _phone], filters=[_strip])


class ConfirmForm(FlaskForm):
    """The second step of a destructive action: the page asks, this form says yes."""

    confirm = BooleanField()
