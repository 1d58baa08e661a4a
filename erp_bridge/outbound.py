"""What goes back to the ERP: reorder requests, as a CommerceML document or as JSON.

Requests come from ``orders.services.outbound_reorders`` and are marked delivered only
when the ERP confirms (1C's ``mode=success``, the JSON ``ack``): a lost answer means
they are sent again, never lost.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit
from portal.clock import now
from portal.models import Customer, ExternalRef

from .commerceml import sub, write_document
from .models import ErpClient
from .records import MOSCOW

BATCH = 500


def _orders_services() -> Any | None:
    try:
        from orders import services
    except ImportError:
        return None
    return services if hasattr(services, "outbound_reorders") else None


def pending_reorders(session: Session, limit: int = BATCH) -> list[Any]:
    services = _orders_services()
    return list(services.outbound_reorders(session, limit)) if services else []


def mark_delivered(session: Session, ids: list[int], client: ErpClient) -> None:
    services = _orders_services()
    if services is None or not ids:
        return
    services.mark_reorders_delivered(session, ids)
    audit.record(
        session,
        "erp.reorders_delivered",
        audit.Actor("erp", client.id),
        ("erp_client", client.id),
        count=len(ids),
        ids=ids[:100],
    )


def _external(session: Session, system: str, entity: str, local_id: int | None) -> str | None:
    if local_id is None:
        return None
    return session.scalar(
        select(ExternalRef.external_id).where(
            ExternalRef.system == system,
            ExternalRef.entity == entity,
            ExternalRef.local_id == local_id,
        )
    )


def _field(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(obj, dict) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return default


def reorder_as_dict(session: Session, system: str, reorder: Any) -> dict[str, Any]:
    """A reorder request in the bridge's own shape, the same for CommerceML and JSON."""
    customer_id = _field(reorder, "customer_id")
    customer = session.get(Customer, customer_id) if customer_id else None
    created = _field(reorder, "confirmed_at", "created_at") or now()
    lines = []
    for line in _field(reorder, "lines", default=[]) or []:
        product_id = _field(line, "product_id")
        quantity = Decimal(str(_field(line, "quantity", default=0)))
        price = _field(line, "unit_price", "price", default=None)
        lines.append(
            {
                "product": _external(session, system, "product", product_id),
                "article": _field(line, "article"),
                "name": _field(line, "name", "product_name", default=""),
                "quantity": str(quantity),
                "price": None if price is None else str(price),
            }
        )
    return {
        "id": _field(reorder, "id"),
        "number": _field(reorder, "number", default=f"ПЗ-{_field(reorder, 'id')}"),
        "created_at": created.isoformat() if isinstance(created, dt.datetime) else str(created),
        "customer": _external(session, system, "customer", customer_id),
        "customer_number": customer.number if customer else None,
        "customer_name": customer.name if customer else None,
        "customer_inn": customer.inn if customer else None,
        "order": _external(
            session, system, "order", _field(reorder, "source_order_id", "order_id")
        ),
        "comment": _field(reorder, "comment", default="") or "",
        # Where to deliver, as approved by the customer's key when the request was sent.
        "delivery_address": _field(reorder, "delivery_address_text", default=None),
        "lines": lines,
    }


def reorders_document(session: Session, client: ErpClient) -> tuple[bytes, list[int]]:
    """The ``mode=query`` answer: one ``Документ`` per reorder request, in the client's encoding."""
    items = [reorder_as_dict(session, client.system, r) for r in pending_reorders(session)]
    stamp = now().astimezone(MOSCOW).replace(tzinfo=None, microsecond=0)
    root = etree.Element(
        "КоммерческаяИнформация", {"ВерсияСхемы": "2.08", "ДатаФормирования": stamp.isoformat()}
    )
    for item in items:
        _document(root, item)
    return write_document(root, client.encoding), [item["id"] for item in items]


def _document(root: etree._Element, item: dict[str, Any]) -> None:
    created = dt.datetime.fromisoformat(item["created_at"]).astimezone(MOSCOW)
    doc = sub(root, "Документ")
    sub(doc, "Ид", f"reorder-{item['id']}")
    sub(doc, "Номер", item["number"])
    sub(doc, "Дата", created.date().isoformat())
    sub(doc, "Время", created.strftime("%H:%M:%S"))
    sub(doc, "ХозОперация", "Заказ товара")
    sub(doc, "Роль", "Продавец")
    sub(doc, "Валюта", "RUB")
    sub(doc, "Курс", "1")
    total = sum(
        (
            Decimal(line["price"]) * Decimal(line["quantity"])
            for line in item["lines"]
            if line["price"] is not None
        ),
        Decimal(0),
    )
    sub(doc, "Сумма", f"{total:.2f}")
    parties = sub(doc, "Контрагенты")
    party = sub(parties, "Контрагент")
    sub(party, "Ид", item["customer"] or item["customer_number"] or "")
    sub(party, "Наименование", item["customer_name"] or "")
    sub(party, "Роль", "Покупатель")
    if item["customer_inn"]:
        sub(party, "ИНН", item["customer_inn"])
    sub(doc, "Комментарий", item["comment"])
    goods = sub(doc, "Товары")
    for line in item["lines"]:
        good = sub(goods, "Товар")
        sub(good, "Ид", line["product"] or "")
        if line["article"]:
            sub(good, "Артикул", line["article"])
        sub(good, "Наименование", line["name"])
        sub(good, "Количество", line["quantity"])
        if line["price"] is not None:
            sub(good, "ЦенаЗаЕдиницу", line["price"])
            sub(good, "Сумма", f"{Decimal(line['price']) * Decimal(line['quantity']):.2f}")
    values = sub(doc, "ЗначенияРеквизитов")
    for name, text in (
        ("Метод оплаты", "По счёту"),
        ("Заказ оплачен", "false"),
        ("Источник", "Портал самообслуживания"),
    ):
        value = sub(values, "ЗначениеРеквизита")
        sub(value, "Наименование", name)
        sub(value, "Значение", text)
    if item.get("delivery_address"):
        value = sub(values, "ЗначениеРеквизита")
        sub(value, "Наименование", "Адрес доставки")
        sub(value, "Значение", item["delivery_address"])
    if item["order"]:
        value = sub(values, "ЗначениеРеквизита")
        sub(value, "Наименование", "Основание")
        sub(value, "Значение", item["order"])
