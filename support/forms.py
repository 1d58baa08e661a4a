"""Forms of support, for the customer's pages and the staff console (CSRF comes with them)."""

from __future__ import annotations

import secrets

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from portal.i18n import lazy_gettext as _l

from . import labels


def _choices(mapping) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in mapping.items()]


def _new_key() -> str:
    return secrets.token_urlsafe(16)


class TicketForm(FlaskForm):
    category = SelectField(_l("Topic"), choices=_choices(labels.CATEGORIES), default="question")
    subject = StringField(
        _l("Subject"),
        validators=[DataRequired(), Length(min=3, max=200)],
        render_kw={"autocomplete": "off", "maxlength": 200},
    )
    body = TextAreaField(
        _l("Describe the situation"), validators=[DataRequired(), Length(max=20000)]
    )
    order_number = StringField(
        _l("Order number (if it concerns an order)"), validators=[Optional(), Length(max=64)]
    )
    product_group = SelectField(
        _l("Product group of the question"), choices=[], validators=[Optional()]
    )
    attachments = MultipleFileField(_l("Files"))
    idempotency_key = HiddenField(default=_new_key, validators=[Length(max=64)])


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Your message"), validators=[DataRequired(), Length(max=20000)])
    attachments = MultipleFileField(_l("Files"))


class CloseForm(FlaskForm):
    comment = TextAreaField(_l("How was it settled? (optional)"), validators=[Length(max=5000)])


class ReopenForm(FlaskForm):
    reason = TextAreaField(_l("What is still wrong?"), validators=[Length(max=5000)])


def half_hours(opens: str = "08:00", closes: str = "20:00") -> list[SelectChoice]:
    slots = []
    hour, minute = (int(p) for p in opens.split(":"))
    end_hour, end_minute = (int(p) for p in closes.split(":"))
    while (hour, minute) <= (end_hour, end_minute):
        text = f"{hour:02d}:{minute:02d}"
        slots.append(SelectChoice(text, text))
        minute += 30
        if minute == 60:
            hour, minute = hour + 1, 0
    return slots


class CallbackForm(FlaskForm):
    topic = SelectField(_l("Topic"), choices=_choices(labels.TOPICS), default="commercial")
    product_group = SelectField(
        _l("Product group of the question"), choices=[], validators=[Optional()]
    )
    phone = StringField(
        _l("Phone"),
        validators=[DataRequired(), Length(max=32)],
        render_kw={"type": "tel", "autocomplete": "tel"},
    )
    day = DateField(_l("Day"), validators=[DataRequired(message=_l("Choose a day."))])
    start = SelectField(_l("From"), choices=[])
    end = SelectField(_l("Until"), choices=[])
    comment = TextAreaField(_l("Comment (optional)"), validators=[Length(max=2000)])
    idempotency_key = HiddenField(default=_new_key, validators=[Length(max=64)])


# --------------------------------------------------------------------------- staff


class StaffReplyForm(FlaskForm):
    body = TextAreaField(
        _l("Answer to the customer"), validators=[DataRequired(), Length(max=20000)]
    )
    status = SelectField(
        _l("Status after the answer"),
        choices=[
            SelectChoice(status, labels.STATUSES[status])
            for status in ("waiting_customer", "in_progress", "resolved")
        ],
        default="waiting_customer",
    )
    resolution = TextAreaField(
        _l("Resolution (required to resolve a complaint)"), validators=[Length(max=5000)]
    )
    attachments = MultipleFileField(_l("Files"))


class NoteForm(FlaskForm):
    note = TextAreaField(
        _l("Internal note (the customer never sees it)"),
        validators=[DataRequired(), Length(max=10000)],
    )


class StatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=_choices(labels.STATUSES))
    resolution = TextAreaField(_l("Resolution"), validators=[Length(max=5000)])


class AssignForm(FlaskForm):
    assignee_id = SelectField(_l("Responsible"), coerce=int, choices=[])


class MergeForm(FlaskForm):
    target = StringField(
        _l("Merge into ticket №"),
        validators=[
            DataRequired(),
            Regexp(r"^\s*[№#]?\s*\d{1,9}\s*$", message=_l("Enter a ticket number.")),
        ],
    )


class CannedForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Text"), validators=[DataRequired(), Length(max=10000)])


class ArticleForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(
        _l("Address (latin letters, digits, hyphens)"),
        validators=[
            DataRequired(),
            Regexp(
                r"^[a-z0-9][a-z0-9-]{1,118}[a-z0-9]$",
                message=_l("Use 3 to 120 lower-case latin letters, digits and hyphens."),
            ),
        ],
    )
    keywords = StringField(_l("Keywords for search"), validators=[Length(max=500)])
    body = TextAreaField(
        _l("Text (Markdown)"),
        validators=[DataRequired(), Length(max=50000)],
        render_kw={"rows": 16},
    )
    published = BooleanField(_l("Published"))


class OutcomeForm(FlaskForm):
    outcome = SelectField(_l("Outcome"), choices=_choices(labels.OUTCOMES))
    note = TextAreaField(_l("Note"), validators=[Length(max=5000)])
