"""Handlers for the entities owned by ``orders`` and ``loyalty``, through their services.

Written against the contract in CONTRIBUTING.md (``orders.services.upsert_*``,
``set_price``, ``add_document``; ``loyalty.services.apply_erp_operation``). When a package
is not installed, its records become dead letters with that reason, to be retried once
it is.
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal
from typing import Any

from portal import runtime_settings

from . import records as r
from . import snapshots
from .handlers import Context, Handler, register
from .records import InvalidRecord

_CENT = Decimal("0.01")


def _service(package: str, name: str) -> Any:
    try:
        module = __import__(f"{package}.services", fromlist=[name])
    except ImportError:
        module = None
    function = getattr(module, name, None) if module else None
    if function is None:
        raise InvalidRecord(f"the {package} package cannot take this record yet ({name} missing)")
    return function


# --------------------------------------------------------------------------- catalog


def normalize_group(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r.external_id(raw),
        "name": r.text(raw, "name", required=True, limit=255),
        "parent": r.text(raw, "parent", limit=128),
    }


def upsert_group(ctx: Context, rec: dict[str, Any], local_id: int | None) -> int:
    if rec["parent"]:
        ctx.require("product_group", rec["parent"], "parent group")
    return _service("orders", "upsert_product_group")(
        ctx.session, code=rec["id"], name=rec["name"], parent_code=rec["parent"]
    )


def normalize_product(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r.external_id(raw),
        "article": r.text(raw, "article", limit=64),
        "name": r.text(raw, "name", required=True, limit=500),
        "group": r.text(raw, "group", limit=128),
        "unit": r.text(raw, "unit", limit=32) or "шт",
        "active": r.flag(raw, "active", default=True),
    }


def upsert_product(ctx: Context, rec: dict[str, Any], local_id: int | None) -> int:
    if rec["group"]:
        ctx.require("product_group", rec["group"], "product group")
    values = _product_values(rec)
    product_id = _service("orders", "upsert_product")(ctx.session, **values, active=rec["active"])
    # Kept so that a full catalog that drops the product can switch it off the same way.
    snapshots.keep(ctx.session, ctx.system, "product", product_id, values)
    return product_id


def _product_values(rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "external_id": rec["id"],
        "article": rec["article"] or rec["id"][:64],
        "name": rec["name"],
        "group_code": rec["group"],
        "unit": rec["unit"],
    }


def upsert_products(
    ctx: Context, batch: list[tuple[dict[str, Any], int | None]]
) -> list[int | str]:
    """A chunk of products through ``upsert_products`` (set-based), their snapshots kept
    with one read and one write for the chunk."""
    ctx.prefetch("product_group", {rec["group"] for rec, _local in batch if rec["group"]})
    product_input = _service("orders", "ProductInput")
    answers: list[int | str] = []
    inputs: list[Any] = []
    positions: list[int] = []
    for position, (rec, _local) in enumerate(batch):
        try:
            if rec["group"]:
                ctx.require("product_group", rec["group"], "product group")
        except InvalidRecord as exc:
            answers.append(str(exc))
            continue
        answers.append(0)
        positions.append(position)
        inputs.append(product_input(**_product_values(rec), active=rec["active"]))
    done = _service("orders", "upsert_products")(ctx.session, inputs)
    for index, reason in done.rejected.items():
        answers[positions[index]] = reason
    kept: dict[int, dict[str, Any]] = {}
    for index, product_id in done.ids.items():
        answers[positions[index]] = product_id
        kept[product_id] = _product_values(batch[positions[index]][0])
    snapshots.keep_many(ctx.session, ctx.system, "product", kept)
    return answers


def deactivate_products(session: Any, ids: list[int]) -> int:
    """Products a full catalog no longer lists are switched off (kept, never deleted)."""
    upsert = _service("orders", "upsert_product")
    changed = 0
    for values in snapshots.load(session, "product", ids):
        upsert(session, **values, active=False)
        changed += 1
    return changed


def normalize_price_type(raw: dict[str, Any]) -> dict[str, Any]:
    currency = (r.text(raw, "currency", limit=8) or "RUB").upper()
    if currency in ("РУБ", "RUR", "643"):
        currency = "RUB"
    return {
        "id": r.external_id(raw),
        "name": r.text(raw, "name", required=True, limit=255),
        "currency": currency,
    }


def upsert_price_type(ctx: Context, rec: dict[str, Any], local_id: int | None) -> int:
    return _service("orders", "upsert_price_type")(
        ctx.session, code=rec["id"][:64], name=rec["name"], currency=rec["currency"]
    )


def normalize_offer(raw: dict[str, Any]) -> dict[str, Any]:
    offer_id = r.external_id(raw)
    prices = raw.get("prices")
    if not isinstance(prices, list):
        raise InvalidRecord("'prices' must be a list")
    normal = []
    for price in prices:
        if not isinstance(price, dict):
            raise InvalidRecord("each price must be an object")
        kind = r.text(price, "type", required=True, limit=128)
        amount = r.money(price, "price")
        normal.append({"type": kind, "price": str(amount)})
    quantity = r.decimal(raw, "quantity", required=False)
    if quantity is not None and quantity < 0:
        raise InvalidRecord(f"negative quantity: {quantity}")
    return {
        "id": offer_id,
        "product": r.text(raw, "product", limit=128) or offer_id.split("#", 1)[0],
        "prices": sorted(normal, key=lambda p: p["type"] or ""),
        "quantity": None if quantity is None else str(quantity.normalize()),
    }


def upsert_offer(ctx: Context, rec: dict[str, Any], local_id: int | None) -> int:
    product_id = ctx.require("product", rec["product"], "product")
    set_price = _service("orders", "set_price")
    for price in rec["prices"]:
        ctx.require("price_type", price["type"], "price type")
        set_price(
            ctx.session,
            product_id=product_id,
            price_type_code=price["type"][:64],
            price=Decimal(price["price"]),
        )
    return product_id


def upsert_offers(ctx: Context, batch: list[tuple[dict[str, Any], int | None]]) -> list[int | str]:
    """A chunk of offers with a fixed number of statements, through ``set_prices``.

    An offer is all or nothing: one unknown product, price type or bad price refuses it
    whole, and none of its prices is written; the other offers land."""
    ctx.prefetch("product", {rec["product"] for rec, _local in batch})
    ctx.prefetch("price_type", {p["type"] for rec, _local in batch for p in rec["prices"]})
    price_input = _service("orders", "PriceInput")
    answers: list[int | str] = []
    rows: list[Any] = []
    owners: list[int] = []
    for position, (rec, _local) in enumerate(batch):
        try:
            product_id = ctx.require("product", rec["product"], "product")
            for price in rec["prices"]:
                ctx.require("price_type", price["type"], "price type")
        except InvalidRecord as exc:
            answers.append(str(exc))
            continue
        answers.append(product_id)
        for price in rec["prices"]:
            rows.append(price_input(product_id, price["type"][:64], Decimal(price["price"])))
            owners.append(position)
    set_prices = _service("orders", "set_prices")
    savepoint = ctx.session.begin_nested()
    refused = set_prices(ctx.session, rows).rejected
    if not refused:
        savepoint.commit()
        return answers
    # Some prices were refused: undo the chunk's prices, refuse their offers whole and
    # write the others again (a row's validity does not depend on its neighbours).
    savepoint.rollback()
    for index, reason in refused.items():
        if not isinstance(answers[owners[index]], str):
            answers[owners[index]] = reason
    kept = [row for row, owner in zip(rows, owners, strict=True) if isinstance(answers[owner], int)]
    set_prices(ctx.session, kept)
    return answers


# --------------------------------------------------------------------------- orders


def _status_text(raw: dict[str, Any], attrs: dict[str, str]) -> str:
    if r.flag(attrs, "ПометкаУдаления") or r.flag(attrs, "Отменен"):
        return "отменен"
    text = raw.get("status") or attrs.get("Статус заказа") or attrs.get("Статус") or ""
    text = str(text).strip()
    if text.startswith("[") and "]" in text:  # Bitrix style: "[F] Выполнен"
        text = text.split("]", 1)[1]
    if not text:
        text = "доставлен" if r.flag(attrs, "Финальный статус") else "принят"
    return " ".join(text.lower().replace("ё", "е").split())


def normalize_order(raw: dict[str, Any]) -> dict[str, Any]:
    attrs = raw.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise InvalidRecord("'attributes' must be an object")
    lines_raw = raw.get("lines")
    if not isinstance(lines_raw, list) or not lines_raw:
        raise InvalidRecord("an order needs at least one line")
    lines = [_order_line(line, n) for n, line in enumerate(lines_raw, 1)]
    total = r.money(raw, "total", required=False)
    computed = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
    vat = r.money(raw, "vat", required=False)
    if vat is None:
        vat = sum((Decimal(line["vat"]) for line in lines), Decimal(0))
    paid = bool(attrs.get("Дата оплаты по 1С", "").strip("T ")) or r.flag(attrs, "Заказ оплачен")
    shipped_at = r.moment(attrs, "Дата отгрузки по 1С")
    shipment_number = r.text(attrs, "Номер отгрузки по 1С", limit=64)
    return {
        "id": r.external_id(raw),
        "number": r.text(raw, "number", required=True, limit=64),
        "placed_at": r.moment(raw, "date", required=True).isoformat(),
        "customer": r.text(raw, "customer", required=True, limit=128),
        "currency": _currency(raw.get("currency")),
        "status": _status_text(raw, attrs),
        "payment_status": r.text(raw, "payment_status", limit=20) or ("paid" if paid else "unpaid"),
        "total": str(total if total is not None else computed.quantize(_CENT)),
        "vat": str(Decimal(vat).quantize(_CENT)),
        "lines": lines,
        "shipment": (
            {
                "number": shipment_number,
                "shipped_at": shipped_at.isoformat() if shipped_at else None,
            }
            if shipment_number
            else None
        ),
    }


def _currency(value: Any) -> str:
    text = str(value or "RUB").strip().upper()
    return "RUB" if text in ("РУБ", "RUR", "643", "РУБ.") else text[:3]


def _order_line(line: Any, number: int) -> dict[str, Any]:
    if not isinstance(line, dict):
        raise InvalidRecord(f"line {number} is not an object")
    quantity = r.decimal(line, "quantity")
    assert quantity is not None
    if quantity < 0:
        raise InvalidRecord(f"line {number}: negative quantity {quantity}")
    price = r.money(line, "price")
    assert price is not None
    amount = r.money(line, "amount", required=False)
    return {
        "product": r.text(line, "product", limit=128),
        "article": r.text(line, "article", limit=64),
        "name": r.text(line, "name", required=True, limit=500),
        "quantity": str(quantity.normalize()),
        "price": str(price),
        "amount": str(amount if amount is not None else (price * quantity).quantize(_CENT)),
        "vat": str(r.money(line, "vat", required=False) or Decimal("0.00")),
    }


def _order_status(ctx: Context, text: str) -> str:
    mapping = runtime_settings.get(ctx.session, "erp.order_statuses")
    status = mapping.get(text)
    if status is None:
        raise InvalidRecord(
            f"unknown order status '{text}': add it to the setting erp.order_statuses, then retry"
        )
    return status


def _line_data(ctx: Context, line: dict[str, Any]) -> Any:
    from orders.services import OrderLineData

    return OrderLineData(
        article=line["article"] or (line["product"] or "—")[:64],
        name=line["name"],
        quantity=Decimal(line["quantity"]),
        unit_price=Decimal(line["price"]),
        amount=Decimal(line["amount"]),
        product_external_id=line["product"],
    )


def upsert_order(ctx: Context, rec: dict[str, Any], local_id: int | None) -> int:
    customer_id = ctx.require("customer", rec["customer"], "customer")
    status = _order_status(ctx, rec["status"])
    order_id = _service("orders", "upsert_order")(
        ctx.session,
        customer_id=customer_id,
        external_id=rec["id"],
        number=rec["number"],
        placed_at=r.moment(rec, "placed_at"),
        status=status,
        currency=rec["currency"],
        lines=[_line_data(ctx, line) for line in rec["lines"]],
        total=Decimal(rec["total"]),
        vat=Decimal(rec["vat"]),
        payment_status=rec["payment_status"],
    )
    if rec["shipment"]:
        _upsert_order_shipment(ctx, rec, order_id, status)
    return order_id


def upsert_orders(ctx: Context, batch: list[tuple[dict[str, Any], int | None]]) -> list[int | str]:
    """A chunk of orders through ``upsert_orders`` (a fixed number of statements for the
    orders, their lines and timeline steps); shipments still go one by one."""
    ctx.prefetch("customer", {rec["customer"] for rec, _local in batch})
    mapping = runtime_settings.get(ctx.session, "erp.order_statuses")
    order_input = _service("orders", "OrderInput")
    answers: list[int | str] = []
    inputs: list[Any] = []
    owners: list[int] = []
    for position, (rec, _local) in enumerate(batch):
        try:
            customer_id = ctx.require("customer", rec["customer"], "customer")
            status = mapping.get(rec["status"])
            if status is None:
                raise InvalidRecord(
                    f"unknown order status '{rec['status']}': add it to the setting "
                    "erp.order_statuses, then retry"
                )
        except InvalidRecord as exc:
            answers.append(str(exc))
            continue
        answers.append(0)
        owners.append(position)
        inputs.append(
            order_input(
                customer_id=customer_id,
                external_id=rec["id"],
                number=rec["number"],
                placed_at=r.moment(rec, "placed_at"),
                status=status,
                currency=rec["currency"],
                lines=[_line_data(ctx, line) for line in rec["lines"]],
                total=Decimal(rec["total"]),
                vat=Decimal(rec["vat"]),
                payment_status=rec["payment_status"],
            )
        )
    done = _service("orders", "upsert_orders")(ctx.session, inputs)
    for index, reason in done.rejected.items():
        answers[owners[index]] = reason
    shipments = []
    for index, order_id in done.ids.items():
        answers[owners[index]] = order_id
        rec = batch[owners[index]][0]
        if rec["shipment"]:
            shipments.append(_shipment_input(rec, order_id, inputs[index].status))
    refused = _service("orders", "upsert_shipments")(ctx.session, shipments).rejected
    if refused:
        # The orders are written already: the engine replays the chunk record by record,
        # so that only the order whose shipment is refused becomes a dead letter.
        raise InvalidRecord(next(iter(refused.values())))
    return answers


def _shipment_input(rec: dict[str, Any], order_id: int, status: str) -> Any:
    shipment = rec["shipment"]
    return _service("orders", "ShipmentInput")(
        order_id=order_id,
        external_id=f"{rec['id']}:shipment",
        number=shipment["number"],
        status=_shipment_status(status),
        shipped_at=r.moment(shipment, "shipped_at"),
    )


def _shipment_status(order_status: str) -> str:
    return order_status if order_status in ("delivered", "returned", "in_transit") else "shipped"


def _upsert_order_shipment(ctx: Context, rec: dict[str, Any], order_id: int, status: str) -> None:
    shipment = rec["shipment"]
    _service("orders", "upsert_shipment")(
        ctx.session,
        order_id=order_id,
        external_id=f"{rec['id']}:shipment",
        number=shipment["number"],
        carrier=None,
        tracking_number=None,
        tracking_url=None,
        status=_shipment_status(status),
        shipped_at=r.moment(shipment, "shipped_at"),
        expected_at=None,
        delivered_at=None,
    )


def normalize_shipment(raw: dict[str, Any]) -> dict[str, Any]:
    def when(key: str) -> str | None:
        moment = r.moment(raw, key)
        return moment.isoformat() if moment else None

    return {
        "id": r.external_id(raw),
        "order": r.text(raw, "order", required=True, limit=128),
        "number": r.text(raw, "number", required=True, limit=64),
        "carrier": r.text(raw, "carrier", limit=100),
        "tracking_number": r.text(raw, "tracking_number", limit=100),
        "tracking_url": r.text(raw, "tracking_url", limit=500),
        "status": r.text(raw, "status", limit=20) or "shipped",
        "shipped_at": when("shipped_at"),
        "expected_at": when("expected_at"),
        "delivered_at": when("delivered_at"),
    }


def upsert_shipment(ctx: Context, rec: dict[str, Any], local_id: int | None) -> int:
    order_id = ctx.require("order", rec["order"], "order")
    return _service("orders", "upsert_shipment")(
        ctx.session,
        order_id=order_id,
        external_id=rec["id"],
        number=rec["number"],
        carrier=rec["carrier"],
        tracking_number=rec["tracking_number"],
        tracking_url=rec["tracking_url"],
        status=rec["status"],
        shipped_at=r.moment(rec, "shipped_at"),
        expected_at=r.moment(rec, "expected_at"),
        delivered_at=r.moment(rec, "delivered_at"),
    )


def normalize_document(raw: dict[str, Any]) -> dict[str, Any]:
    content = raw.get("content_base64")
    if not isinstance(content, str) or not content:
        raise InvalidRecord("'content_base64' is missing")
    try:
        decoded = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRecord("'content_base64' is not base64") from exc
    issued = r.moment(raw, "issued_at", required=True)
    return {
        "id": r.external_id(raw),
        "customer": r.text(raw, "customer", required=True, limit=128),
        "order": r.text(raw, "order", limit=128),
        "kind": r.text(raw, "kind", required=True, limit=32),
        "number": r.text(raw, "number", required=True, limit=64),
        "issued_at": issued.isoformat() if issued else None,
        "filename": r.text(raw, "filename", required=True, limit=200),
        # The hash covers the content through its digest, not the megabytes themselves.
        "content_sha256": r.content_hash({"b": content}),
        "_content": decoded,
    }


def upsert_document(ctx: Context, rec: dict[str, Any], local_id: int | None) -> int:
    # orders replaces a document of the same (customer, kind, number): a resend is an update.
    customer_id = ctx.require("customer", rec["customer"], "customer")
    order_id = ctx.local_id("order", rec["order"]) if rec["order"] else None
    if rec["order"] and order_id is None:
        raise InvalidRecord(f"unknown order: {rec['order']}")
    return _service("orders", "add_document")(
        ctx.session,
        customer_id=customer_id,
        order_id=order_id,
        kind=rec["kind"],
        number=rec["number"],
        issued_at=r.moment(rec, "issued_at"),
        filename=rec["filename"],
        content=rec["_content"],
    )


# --------------------------------------------------------------------------- payments


def _payment_kind(raw: dict[str, Any]) -> str:
    kind = (r.text(raw, "kind", limit=20) or "payment").lower()
    if kind in ("payment", "оплата", "поступление"):
        return "payment"
    if kind in ("refund", "возврат"):
        return "refund"
    raise InvalidRecord(f"'kind' must be payment or refund: {kind}")


def normalize_payment(raw: dict[str, Any]) -> dict[str, Any]:
    """A payment (or refund) document; "posted": false or "deleted": true (1C: Проведен,
    ПометкаУдаления) reverse it. It names its customer, or at least the order it pays."""
    attrs = raw.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise InvalidRecord("'attributes' must be an object")
    posted = r.flag(raw, "posted", default=r.flag(attrs, "Проведен", default=True))
    deleted = r.flag(raw, "deleted", default=r.flag(attrs, "ПометкаУдаления", default=False))
    customer = r.text(raw, "customer", limit=128)
    order = r.text(raw, "order", limit=128)
    if customer is None and order is None:
        raise InvalidRecord("'customer' is missing (and no 'order' names it)")
    cancelled_at = r.moment(raw, "cancelled_at")
    return {
        "id": r.external_id(raw),
        "customer": customer,
        "order": order,
        "document": r.text(raw, "document", limit=128),
        "number": r.text(raw, "number", required=True, limit=64),
        "paid_at": r.moment(raw, "date", required=True).isoformat(),
        "amount": str(r.money(raw, "amount")),
        "currency": _currency(raw.get("currency")),
        "kind": _payment_kind(raw),
        "purpose": r.text(raw, "purpose", limit=300),
        "cancelled": deleted or not posted,
        "cancelled_at": cancelled_at.isoformat() if cancelled_at else None,
    }


def _payment_input(ctx: Context, rec: dict[str, Any], owners: dict[int, int]) -> Any:
    """The ``PaymentInput`` of a record; ``owners`` maps local order ids to customers."""
    order_id = ctx.require("order", rec["order"], "order") if rec["order"] else None
    document_id = ctx.require("document", rec["document"], "document") if rec["document"] else None
    if rec["customer"]:
        customer_id = ctx.require("customer", rec["customer"], "customer")
    else:
        assert order_id is not None
        customer_id = owners.get(order_id)
        if customer_id is None:
            raise InvalidRecord(f"unknown order: {rec['order']}")
    return _service("orders", "PaymentInput")(
        customer_id=customer_id,
        external_id=rec["id"],
        number=rec["number"],
        paid_at=r.moment(rec, "paid_at"),
        amount=Decimal(rec["amount"]),
        kind=rec["kind"],
        order_id=order_id,
        document_id=document_id,
        purpose=rec["purpose"],
        cancelled=rec["cancelled"],
        cancelled_at=r.moment(rec, "cancelled_at"),
        currency=rec["currency"],
    )


def upsert_payments(
    ctx: Context, batch: list[tuple[dict[str, Any], int | None]]
) -> list[int | str]:
    """A chunk of payments through ``orders.services.upsert_payments`` (set-based)."""
    ctx.prefetch("customer", {rec["customer"] for rec, _local in batch if rec["customer"]})
    ctx.prefetch("order", {rec["order"] for rec, _local in batch if rec["order"]})
    ctx.prefetch("document", {rec["document"] for rec, _local in batch if rec["document"]})
    orphans = {
        ctx.local_id("order", rec["order"])
        for rec, _local in batch
        if rec["order"] and not rec["customer"]
    }
    owners = _service("orders", "order_customers")(ctx.session, {o for o in orphans if o})
    answers: list[int | str] = []
    inputs: list[Any] = []
    positions: list[int] = []
    for position, (rec, _local) in enumerate(batch):
        try:
            inputs.append(_payment_input(ctx, rec, owners))
        except InvalidRecord as exc:
            answers.append(str(exc))
            continue
        answers.append(0)
        positions.append(position)
    done = _service("orders", "upsert_payments")(ctx.session, inputs)
    for index, reason in done.rejected.items():
        answers[positions[index]] = reason
    for index, payment_id in done.ids.items():
        answers[positions[index]] = payment_id
    return answers


def upsert_payment(ctx: Context, rec: dict[str, Any], local_id: int | None) -> int:
    answer = upsert_payments(ctx, [(rec, local_id)])[0]
    if isinstance(answer, str):
        raise InvalidRecord(answer)
    return answer


# --------------------------------------------------------------------------- loyalty


def normalize_bonus(raw: dict[str, Any]) -> dict[str, Any]:
    points = raw.get("points")
    if not isinstance(points, int) or isinstance(points, bool):
        raise InvalidRecord("'points' must be a whole number")
    return {
        "id": r.external_id(raw),
        "customer": r.text(raw, "customer", required=True, limit=128),
        "points": points,
        "kind": r.text(raw, "kind", required=True, limit=32),
        "occurred_at": r.moment(raw, "occurred_at", required=True).isoformat(),
        "comment": r.text(raw, "comment", limit=500) or "",
    }


def upsert_bonus(ctx: Context, rec: dict[str, Any], local_id: int | None) -> int:
    customer_id = ctx.require("customer", rec["customer"], "customer")
    return _service("loyalty", "apply_erp_operation")(
        ctx.session,
        customer_id=customer_id,
        external_id=rec["id"],
        points=rec["points"],
        kind=rec["kind"],
        occurred_at=r.moment(rec, "occurred_at"),
        comment=rec["comment"],
    )


for _handler in (
    Handler("product_group", "product_groups", normalize_group, upsert_group),
    Handler(
        "product",
        "products",
        normalize_product,
        upsert_product,
        deactivate_products,
        upsert_many=upsert_products,
    ),
    Handler("price_type", "price_types", normalize_price_type, upsert_price_type),
    Handler("offer", "offers", normalize_offer, upsert_offer, upsert_many=upsert_offers),
    Handler("order", "orders", normalize_order, upsert_order, upsert_many=upsert_orders),
    Handler("shipment", "shipments", normalize_shipment, upsert_shipment),
    Handler("document", "documents", normalize_document, upsert_document),
    Handler("bonus", "bonus_operations", normalize_bonus, upsert_bonus),
    Handler("payment", "payments", normalize_payment, upsert_payment, upsert_many=upsert_payments),
):
    register(_handler)
