"""The statement of account as text, PDF (reportlab, DejaVu Sans) and XLSX (openpyxl).

The words come through gettext: the page and the XLSX speak the reader's language, the
PDF is rendered under ``force_locale("ru")`` because it is a Russian accounting document
that the two companies sign.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal
from xml.sax.saxutils import escape

from flask_babel import force_locale
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from portal.i18n import gettext as _

from . import pdf
from .statement import (
    PAYMENT,
    PAYMENT_REVERSAL,
    REFUND,
    REFUND_REVERSAL,
    RETURN,
    SHIPMENT,
    Operation,
    Statement,
)


def day_text(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


def describe(op: Operation) -> str:
    """The "document" column: what the operation is, with its number and order."""
    order = op.order_number
    if op.kind == SHIPMENT:
        if order and order != op.number:
            return _(
                "Shipment no. %(document)s, order no. %(order)s", document=op.number, order=order
            )
        return _("Shipment no. %(document)s", document=op.number)
    if op.kind == RETURN:
        return _("Return of goods, order no. %(order)s", order=order or op.number)
    if op.kind == PAYMENT:
        if order:
            return _(
                "Payment no. %(number)s for order no. %(order)s", number=op.number, order=order
            )
        return _("Payment no. %(number)s", number=op.number)
    if op.kind == REFUND:
        return _("Refund no. %(number)s", number=op.number)
    if op.kind == PAYMENT_REVERSAL:
        return _("Reversal of payment no. %(number)s", number=op.number)
    if op.kind == REFUND_REVERSAL:
        return _("Reversal of refund no. %(number)s", number=op.number)
    return op.number


def money_text(value: Decimal) -> str:
    return pdf.rub(value)


def verdict(found: Statement, company: str, money: Callable[[Decimal], str] | None = None) -> str:
    """Who owes whom at the end of the period, in words (``money`` formats the amount)."""
    money = money or money_text
    when = day_text(found.date_to)
    if found.in_favour == "company":
        return _(
            "Debt in favour of %(party)s as of %(date)s: %(amount)s.",
            party=company,
            date=when,
            amount=money(found.closing),
        )
    if found.in_favour == "customer":
        return _(
            "Debt in favour of %(party)s as of %(date)s: %(amount)s.",
            party=found.customer_name,
            date=when,
            amount=money(-found.closing),
        )
    return _("There is no debt as of %(date)s.", date=when)


def title(found: Statement) -> str:
    return _(
        "Statement of account for %(start)s – %(end)s",
        start=day_text(found.date_from),
        end=day_text(found.date_to),
    )


def filename(found: Statement, extension: str) -> str:
    return (
        f"{_('Statement of account')} {found.customer_number} "
        f"{found.date_from:%Y-%m-%d}_{found.date_to:%Y-%m-%d}.{extension}"
    )


MIMETYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def file_content(found: Statement, fmt: str, company: str, company_address: str) -> bytes:
    """The statement as a ``pdf`` or ``xlsx`` file (its type is ``MIMETYPES[fmt]``)."""
    if fmt == "pdf":
        return pdf_bytes(found, company, company_address)
    return xlsx_bytes(found, company)


# --------------------------------------------------------------------------- PDF


def pdf_bytes(found: Statement, company: str, company_address: str) -> bytes:
    with force_locale("ru"):
        return _pdf(found, company, company_address)


def _pdf(found: Statement, company: str, company_address: str) -> bytes:
    pdf._fonts()
    body = ParagraphStyle("b", fontName="DejaVuSans", fontSize=9, leading=12)
    small = ParagraphStyle("s", fontName="DejaVuSans", fontSize=8, leading=10)
    heading = ParagraphStyle("t", fontName="DejaVuSans-Bold", fontSize=13, leading=17, alignment=1)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=title(found),
        author=company,
        pageCompression=1,
    )
    parties = _(
        "between %(company)s and %(customer)s",
        company=company,
        customer=found.customer_name
        + (f", {_('INN')} {found.customer_inn}" if found.customer_inn else ""),
    )
    story = [
        Paragraph(escape(_("Statement of account")), heading),
        Paragraph(escape(parties), ParagraphStyle("p", parent=body, alignment=1)),
        Paragraph(
            escape(
                _(
                    "for the period from %(start)s to %(end)s",
                    start=day_text(found.date_from),
                    end=day_text(found.date_to),
                )
            ),
            ParagraphStyle("p2", parent=body, alignment=1),
        ),
        Spacer(1, 5 * mm),
        Paragraph(escape(_("According to %(company)s, roubles", company=company)), body),
        Spacer(1, 2 * mm),
    ]
    rows: list[list[object]] = [
        [_("Date"), _("Document"), _("Debit"), _("Credit"), _("Running balance")],
        ["", _("Opening balance"), "", "", money_text(found.opening)],
    ]
    for line in found.lines:
        op = line.operation
        rows.append(
            [
                day_text(line.day),
                Paragraph(escape(describe(op)), small),
                money_text(op.debit) if op.debit else "",
                money_text(op.credit) if op.credit else "",
                money_text(line.balance),
            ]
        )
    rows.append(
        [
            "",
            _("Turnover for the period"),
            money_text(found.debit_total),
            money_text(found.credit_total),
            "",
        ]
    )
    rows.append(["", _("Closing balance"), "", "", money_text(found.closing)])
    table = Table(rows, colWidths=[22 * mm, 76 * mm, 27 * mm, 27 * mm, 28 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "DejaVuSans", 8),
                ("FONT", (0, 0), (-1, 1), "DejaVuSans-Bold", 8),
                ("FONT", (0, -2), (-1, -1), "DejaVuSans-Bold", 8),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8f0f8")),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story += [
        table,
        Spacer(1, 5 * mm),
        Paragraph(
            escape(verdict(found, company)),
            ParagraphStyle("v", parent=body, fontName="DejaVuSans-Bold"),
        ),
        Spacer(1, 12 * mm),
    ]
    signatures = Table(
        [
            [_("For %(party)s", party=company), _("For %(party)s", party=found.customer_name)],
            ["", ""],
            ["____________________ / ____________ /", "____________________ / ____________ /"],
            [_("Stamp"), _("Stamp")],
        ],
        colWidths=[90 * mm, 90 * mm],
    )
    signatures.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "DejaVuSans", 8),
                ("FONT", (0, 0), (-1, 0), "DejaVuSans-Bold", 8),
                ("TOPPADDING", (0, 1), (-1, 1), 8 * mm),
            ]
        )
    )
    story.append(signatures)
    story.append(Spacer(1, 4 * mm))
    story.append(Paragraph(escape(f"{company}, {company_address}"), small))
    doc.build(story)
    return buffer.getvalue()


# --------------------------------------------------------------------------- XLSX


def xlsx_bytes(found: Statement, company: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = _("Statement")[:31]
    for column, width in zip("ABCDE", (12, 58, 16, 16, 16), strict=True):
        sheet.column_dimensions[column].width = width
    bold = Font(bold=True)
    thin = Side(style="thin", color="999999")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    money_format = "#,##0.00"
    sheet.append([_("Statement of account")])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(
        [
            _(
                "between %(company)s and %(customer)s",
                company=company,
                customer=found.customer_name,
            )
        ]
    )
    sheet.append(
        [
            _(
                "for the period from %(start)s to %(end)s",
                start=day_text(found.date_from),
                end=day_text(found.date_to),
            )
        ]
    )
    sheet.append([_("According to %(company)s, roubles", company=company)])
    sheet.append([])
    header_row = sheet.max_row + 1
    sheet.append([_("Date"), _("Document"), _("Debit"), _("Credit"), _("Running balance")])
    sheet.append([None, _("Opening balance"), None, None, found.opening])
    for line in found.lines:
        op = line.operation
        sheet.append(
            [
                line.day,
                describe(op),
                op.debit or None,
                op.credit or None,
                line.balance,
            ]
        )
    sheet.append([None, _("Turnover for the period"), found.debit_total, found.credit_total, None])
    sheet.append([None, _("Closing balance"), None, None, found.closing])
    last_row = sheet.max_row
    for row in sheet.iter_rows(min_row=header_row, max_row=last_row):
        for cell in row:
            cell.border = box
            if cell.column == 1 and isinstance(cell.value, dt.date):
                cell.number_format = "DD.MM.YYYY"
            if cell.column >= 3:
                cell.number_format = money_format
            if cell.column == 2:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    for index in (header_row, header_row + 1, last_row - 1, last_row):
        for cell in sheet[index]:
            cell.font = bold
    sheet.append([])
    sheet.append([verdict(found, company)])
    sheet.cell(row=sheet.max_row, column=1).font = bold
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
