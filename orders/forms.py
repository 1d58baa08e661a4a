"""Forms of the cabinet: list filters (GET, no CSRF needed) and the "order again" button."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from portal.i18n import lazy_gettext as _l

from .labels import DOCUMENT_KIND, ORDER_STATUS
from .statement import default_period


class _GetForm(FlaskForm):
    class Meta:
        csrf = False  # filters only read: a link may carry them


class OrderFilterForm(_GetForm):
    status = SelectField(_l("Status"), validators=[Optional()], validate_choice=True)
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])
    number = StringField(_l("Order number"), validators=[Optional(), Length(max=64)])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.status.choices = [SelectChoice("", _l("Any status"))] + [
            SelectChoice(code, text) for code, (text, _badge) in ORDER_STATUS.items()
        ]

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The period ends before it starts."))


class DocumentFilterForm(_GetForm):
    kind = SelectField(_l("Kind"), validators=[Optional()], validate_choice=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [SelectChoice("", _l("All documents"))] + [
            SelectChoice(code, text) for code, (text, _badge) in DOCUMENT_KIND.items()
        ]


class PriceFilterForm(_GetForm):
    q = StringField(_l("Search"), validators=[Optional(), Length(max=100)])
    group = SelectField(_l("Product group"), validators=[Optional()], coerce=str)


class ReorderStartForm(FlaskForm):
    """The "order again" button: the key makes a double submission return the same request."""

    idempotency_key = HiddenField(validators=[DataRequired(), Length(min=16, max=64)])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.idempotency_key.data:
            self.idempotency_key.data = secrets.token_urlsafe(24)


class ReorderEditForm(FlaskForm):
    """CSRF and the comment; the per-line quantities (``qty-<line id>``) and removals
    (``remove-<line id>``) are read from the request and checked by the service."""

    comment = TextAreaField(_l("Comment for the manager"), validators=[Optional(), Length(max=500)])
    delivery_address = SelectField(_l("Deliver to"), validators=[Optional()], validate_choice=True)


class ReorderCancelForm(FlaskForm):
    pass


def _check_period(form: FlaskForm, field: DateField) -> None:
    start = form.date_from.data
    if field.data and start:
        if field.data < start:
            raise ValidationError(_l("The period ends before it starts."))
        if (field.data - start).days > 3 * 366 + 1:
            raise ValidationError(_l("The period is longer than three years."))


class StatementForm(_GetForm):
    """The statement's period (GET: a link may carry it); both dates are Moscow days."""

    date_from = DateField(_l("From"), validators=[InputRequired(_l("Enter the first day."))])
    date_to = DateField(_l("To"), validators=[InputRequired(_l("Enter the last day."))])

    def validate_date_to(self, field: DateField) -> None:
        _check_period(self, field)


def statement_period(
    args: Mapping[str, str], today: dt.date, prefix: str = ""
) -> tuple[StatementForm, bool]:
    """The statement's period from a query string, and whether it is valid; the current
    quarter when the query names no date (``prefix``: the form's, e.g. "st" on the card)."""
    names = {f"{prefix}-date_from", f"{prefix}-date_to"} if prefix else {"date_from", "date_to"}
    if not names & set(args):
        start, end = default_period(today)
        data = {"date_from": start, "date_to": end}
        return StatementForm(formdata=None, data=data, prefix=prefix), True
    form = StatementForm(args, prefix=prefix)
    return form, form.validate()


class StatementActForm(FlaskForm):
    """ "Ask for a signed act" for the period shown (CSRF-protected)."""

    date_from = DateField(validators=[DataRequired()])
    date_to = DateField(validators=[DataRequired()])

    def validate_date_to(self, field: DateField) -> None:
        _check_period(self, field)


class AddressForm(FlaskForm):
    """A delivery address; sent as JSON with the key's approval (CSRF in the header)."""

    class Meta:
        csrf = False  # JSON POSTs: CSRFProtect checks the X-CSRFToken header

    label = StringField(
        _l("Name of the address"),
        validators=[DataRequired(_l("Give the address a name.")), Length(max=100)],
    )
    address = TextAreaField(
        _l("Address"),
        validators=[DataRequired(_l("Write the address.")), Length(max=500)],
    )
    recipient = StringField(_l("Who receives the goods"), validators=[Optional(), Length(max=200)])
    phone = StringField(_l("Recipient's phone"), validators=[Optional(), Length(max=32)])
    comment = TextAreaField(
        _l("For the driver (gate, hours, unloading)"), validators=[Optional(), Length(max=500)]
    )

    def values(self) -> dict[str, str | None]:
        """The entered values, trimmed; empty ones as None (what is approved and stored)."""
        return {
            name: (getattr(self, name).data or "").strip() or None
            for name in ("label", "address", "recipient", "phone", "comment")
        }


class DocumentCheckForm(FlaskForm):
    """The public "check a document" form: a file, or the SHA-256 printed on a document."""

    file = FileField(_l("Document file"))
    sha256 = StringField(
        _l("Or its SHA-256"),
        validators=[Optional(), Length(max=100)],
        filters=[lambda text: "".join((text or "").split()).lower() or None],
    )

    def validate_sha256(self, field: StringField) -> None:
        if field.data and not (
            len(field.data) == 64 and all(c in "0123456789abcdef" for c in field.data)
        ):
            raise ValidationError(_l("A SHA-256 is 64 characters 0-9 and a-f."))
