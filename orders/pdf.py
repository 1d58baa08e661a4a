"""PDF documents (invoice, УПД, act, contract) drawn with reportlab.

The font is DejaVu Sans shipped inside this package (``static/fonts``, Bitstream Vera
licence): Cyrillic text never depends on what fonts the server happens to have.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT_DIR = Path(__file__).parent / "static" / "fonts"
_registered = False

TITLES = {
    "invoice": "Счёт на оплату",
    "delivery_note": "Универсальный передаточный документ (УПД)",
    "act": "Акт сверки взаимных расчётов",
    "contract": "Договор поставки",
}


def _fonts() -> None:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(FONT_DIR / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(FONT_DIR / "DejaVuSans-Bold.ttf")))
        _registered = True


@dataclass(frozen=True)
class DocLine:
    article: str
    name: str
    quantity: Decimal
    unit: str
    price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class DocData:
    kind: str
    number: str
    issued_at: dt.datetime
    seller: str
    seller_address: str
    buyer: str
    buyer_inn: str | None
    buyer_address: str | None
    basis: str | None = None
    lines: tuple[DocLine, ...] = ()
    total: Decimal = Decimal(0)
    vat: Decimal = Decimal(0)
    text: str | None = None


def _rub(value: Decimal) -> str:
    whole = f"{value:,.2f}".replace(",", " ").replace(".", ",")
    return f"{whole} ₽"


rub = _rub  # for the other documents drawn here (the statement of account)


def render(data: DocData) -> bytes:
    _fonts()
    styles = {
        "title": ParagraphStyle("t", fontName="DejaVuSans-Bold", fontSize=14, leading=18),
        "body": ParagraphStyle("b", fontName="DejaVuSans", fontSize=9, leading=12),
        "small": ParagraphStyle("s", fontName="DejaVuSans", fontSize=8, leading=10),
    }
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{TITLES.get(data.kind, 'Документ')} № {data.number}",
        author=data.seller,
        pageCompression=1,
    )
    issued = data.issued_at.astimezone(dt.timezone(dt.timedelta(hours=3))).strftime("%d.%m.%Y")
    story = [
        Paragraph(
            f"{TITLES.get(data.kind, 'Документ')} № {data.number} от {issued}", styles["title"]
        ),
        Spacer(1, 6 * mm),
        Paragraph(f"<b>Поставщик:</b> {data.seller}, {data.seller_address}", styles["body"]),
        Paragraph(
            f"<b>Покупатель:</b> {data.buyer}"
            + (f", ИНН {data.buyer_inn}" if data.buyer_inn else "")
            + (f", {data.buyer_address}" if data.buyer_address else ""),
            styles["body"],
        ),
    ]
    if data.basis:
        story.append(Paragraph(f"<b>Основание:</b> {data.basis}", styles["body"]))
    story.append(Spacer(1, 5 * mm))
    if data.lines:
        rows = [["№", "Артикул", "Товар", "Кол-во", "Ед.", "Цена", "Сумма"]]
        for index, line in enumerate(data.lines, start=1):
            rows.append(
                [
                    str(index),
                    line.article,
                    Paragraph(line.name, styles["small"]),
                    f"{line.quantity.normalize():f}",
                    line.unit,
                    _rub(line.price),
                    _rub(line.amount),
                ]
            )
        rows.append(["", "", "", "", "", "В т. ч. НДС:", _rub(data.vat)])
        rows.append(["", "", "", "", "", "Итого:", _rub(data.total)])
        table = Table(
            rows,
            colWidths=[8 * mm, 22 * mm, 70 * mm, 16 * mm, 10 * mm, 27 * mm, 27 * mm],
            repeatRows=1,
        )
        table.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), "DejaVuSans", 8),
                    ("FONT", (0, 0), (-1, 0), "DejaVuSans-Bold", 8),
                    ("FONT", (5, -2), (-1, -1), "DejaVuSans-Bold", 8),
                    ("GRID", (0, 0), (-1, -3), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8f0f8")),
                    ("ALIGN", (3, 1), (-1, -1), "RIGHT"),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(table)
    if data.text:
        for paragraph in data.text.split("\n\n"):
            story.append(Paragraph(paragraph, styles["body"]))
            story.append(Spacer(1, 3 * mm))
    story += [
        Spacer(1, 12 * mm),
        Paragraph(
            "Руководитель ____________________   Бухгалтер ____________________", styles["body"]
        ),
    ]
    doc.build(story)
    return buffer.getvalue()
