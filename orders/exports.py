"""The personal price list as CSV (streamed) and XLSX (openpyxl, write-only)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from portal.i18n import gettext as _

from .services import PriceRow


def _headers() -> list[str]:
    return [
        _("Article"),
        _("Product"),
        _("Group"),
        _("Unit"),
        _("Base price"),
        _("Your price"),
        _("Discount, %"),
        _("Individual price"),
    ]


def _values(row: PriceRow) -> list[object]:
    return [
        row.article,
        row.name,
        row.group_name or "",
        row.unit,
        row.base_price,
        row.price,
        row.discount_percent,
        _("yes") if row.individual else "",
    ]


def csv_chunks(rows: Iterable[PriceRow], batch: int = 500) -> Iterator[str]:
    """CSV for Excel in Russia: UTF-8 with BOM, semicolons, decimal commas."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(_headers())
    for count, row in enumerate(rows, start=1):
        writer.writerow(
            [str(v).replace(".", ",") if isinstance(v, Decimal) else v for v in _values(row)]
        )
        if count % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(rows: Iterable[PriceRow], title: str) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31] or "Prices")
    for index, width in enumerate((14, 60, 24, 8, 14, 14, 12, 14)):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    bold = Font(bold=True)
    header = []
    for text in _headers():
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        values = _values(row)
        cells = []
        for index, value in enumerate(values):
            cell = WriteOnlyCell(sheet, value=value)
            if index in (4, 5):
                cell.number_format = "#,##0.00"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
