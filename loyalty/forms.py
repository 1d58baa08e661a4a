"""Forms of the loyalty pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from portal.i18n import lazy_gettext as _l

from .models import EntryKind

KIND_LABELS = {
    EntryKind.ACCRUAL: _l("Accrual"),
    EntryKind.REDEMPTION: _l("Redemption"),
    EntryKind.EXPIRY: _l("Expiry"),
    EntryKind.ADJUSTMENT: _l("Adjustment"),
    EntryKind.REVERSAL: _l("Reversal"),
}


class HistoryFilterForm(FlaskForm):
    """The history's filters: a GET form (it changes nothing, so no CSRF token)."""

    class Meta:
        csrf = False

    kind = SelectMultipleField(
        _l("Operation"),
        choices=[SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()],
        validators=[Optional()],
    )
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end of the period is before its start."))


class AdjustmentForm(FlaskForm):
    """A manual correction by staff: points (signed) and a mandatory reason."""

    points = IntegerField(
        _l("Points (negative to write off)"),
        validators=[
            DataRequired(_l("Enter a number of points other than zero.")),
            NumberRange(-1_000_000, 1_000_000),
        ],
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(_l("Give the reason for the adjustment.")), Length(max=500)],
    )
    token = StringField(validators=[DataRequired(), Length(min=16, max=64)])


class ApplyPointsForm(FlaskForm):
    """The customer applies points to one of their reorder requests."""

    points = IntegerField(
        _l("Points to apply"),
        validators=[
            InputRequired(_l("Enter the number of points (0 to apply none).")),
            NumberRange(min=0, message=_l("The number of points cannot be negative.")),
        ],
    )
