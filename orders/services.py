"""The only code that reads or writes the orders tables.

Customer-facing reads take the customer id first and can never return another customer's
rows: a foreign id raises ``NotFound`` exactly like a missing one. ERP-facing upserts are
idempotent (keyed by the ERP's external ids) and raise ``InvalidRecord`` with a reason for
bad data. Services flush but do not commit: the caller owns the unit of work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    ARRAY,
    Select,
    and_,
    any_,
    bindparam,
    cast,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy import insert as insert_
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from portal import bulk, runtime_settings
from portal.clock import now
from portal.db import is_postgresql, prebuilt
from portal.i18n import lazy_gettext as _l
from portal.models import Customer, Staff

from . import filestore, signals
from .labels import label
from .models import (
    OPEN_STATUSES,
    CommercialCondition,
    DeliveryAddress,
    Discount,
    DiscountKind,
    Document,
    DocumentKind,
    IndividualPrice,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusEvent,
    Payment,
    PaymentKind,
    PaymentStatus,
    Price,
    PriceType,
    Product,
    ProductGroup,
    ReorderLine,
    ReorderRequest,
    ReorderStatus,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
)

__all__ = [
    "InvalidRecord",
    "NotFound",
    "OrderLineData",
    "customer_turnover",
    "mark_reorders_delivered",
    "outbound_reorders",
    "set_reorder_status",
    "upsert_order",
]

KOPECK = Decimal("0.01")
HUNDRED = Decimal(100)
ORDER_PAGE_SIZE = 20
DOCUMENT_PAGE_SIZE = 25
PRICE_PAGE_SIZE = 50


def _check_max_quantity(value: Any) -> str | None:
    if isinstance(value, int) and 1 <= value <= 1_000_000:
        return None
    return _l("Must be a whole number from 1 to 1,000,000.")


runtime_settings.define(
    "orders.base_price_type",
    "base",
    _l("Orders: code of the base price type (shown next to the customer's price)"),
)
runtime_settings.define(
    "orders.reorder_max_quantity",
    10_000,
    _l("Orders: largest quantity of one line in a reorder request"),
    check=_check_max_quantity,
)


class InvalidRecord(ValueError):
    """Bad data from the ERP (or another writer); ``reason`` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(LookupError):
    """No such record for this customer (missing, or another customer's: the same answer)."""

    def __init__(self, kind: str, record_id: int) -> None:
        super().__init__(f"{kind} {record_id}")
        self.kind = kind
        self.record_id = record_id


class InvalidRequest(ValueError):
    """A customer's request that cannot be carried out as given; ``errors`` per field."""

    def __init__(self, message: Any, errors: dict[str, Any] | None = None) -> None:
        super().__init__("invalid request")  # the message is lazy: rendered by the view
        self.message = message
        self.errors = errors or {}


# =========================================================================== helpers


def _money(value: Any, what: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidRecord(f"{what}: not a number") from exc
    if not amount.is_finite():
        raise InvalidRecord(f"{what}: not a number")
    return amount.quantize(KOPECK, ROUND_HALF_UP)


def _required(value: str | None, what: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidRecord(f"{what}: empty")
    if len(text) > limit:
        raise InvalidRecord(f"{what}: longer than {limit} characters")
    return text


def _aware(value: dt.datetime | None, what: str) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidRecord(f"{what}: a time without a time zone")
    return value


def _current(valid_from: Any, valid_to: Any, today: dt.date) -> Any:
    """SQL: a row whose validity period contains ``today`` (open ends allowed)."""
    return and_(
        or_(valid_from.is_(None), valid_from <= today),
        or_(valid_to.is_(None), valid_to >= today),
    )


def today_local() -> dt.date:
    """Today in Moscow, where contracts and price validity dates are counted."""
    return (now() + dt.timedelta(hours=3)).date()


@dataclass(frozen=True)
class Page:
    """One page of a keyset-paginated list; ``next_cursor`` is None on the last page."""

    items: list[Any]
    next_cursor: str | None


def _encode_cursor(*parts: Any) -> str:
    return "~".join(p.isoformat() if isinstance(p, dt.datetime) else str(p) for p in parts)


def _decode_time_cursor(cursor: str | None) -> tuple[dt.datetime, int] | None:
    if not cursor:
        return None
    try:
        stamp, _sep, ident = cursor.rpartition("~")
        moment = dt.datetime.fromisoformat(stamp)
        if moment.tzinfo is None:
            return None
        return moment, int(ident)
    except ValueError:
        return None  # a mangled cursor starts from the first page


def _decode_name_cursor(cursor: str | None) -> tuple[str, int] | None:
    if not cursor:
        return None
    name, sep, ident = cursor.rpartition("~")
    if not sep or not ident.isdigit():
        return None
    return name, int(ident)


# The values a batch's rows are checked against: built once (``set(OrderStatus)`` per row
# was a tenth of the orders' own checks).
_ORDER_STATUSES = frozenset(OrderStatus)
_PAYMENT_STATUSES = frozenset(PaymentStatus)
_SHIPMENT_STATUSES = frozenset(ShipmentStatus)


# =========================================================================== set-based writes
# The ERP bridge hands these services chunks of thousands of rows. New rows go by COPY
# (``portal.bulk.insert_rows``). The rest, on PostgreSQL, travels as one array per column
# in one short statement (``= ANY``, ``unnest``): an IN list or a multi-row VALUES list of
# thousands of parameters is a new, long SQL text every time, which psycopg splits in
# Python and the server plans anew. SQLite gets executemany.


def _among(session: Session, column: Any, values: Iterable[Any]) -> Any:
    """SQL: ``column`` is one of ``values``."""
    values = list(values)
    if is_postgresql(session):
        return column == any_(cast(values, ARRAY(column.type)))
    return column.in_(values)


def _arrays(session: Session, table: Any, keys: Sequence[str]) -> tuple[str, str]:
    """The quoted column names and the typed ``unnest`` of one array parameter each."""
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(key) for key in keys)
    arrays = ", ".join(
        f"CAST(:{key} AS {table.c[key].type.compile(dialect=dialect)}[])" for key in keys
    )
    return names, f"unnest({arrays})"


def _update_many(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Update rows by ``id``: each dict holds ``id`` and the new values of its columns."""
    if not rows:
        return
    keys = list(rows[0])
    values = [key for key in keys if key != "id"]
    if is_postgresql(session):
        names, unnest = _arrays(session, table, keys)
        quote = session.get_bind().dialect.identifier_preparer.quote
        assignments = ", ".join(f"{quote(key)} = u.{quote(key)}" for key in values)
        session.execute(
            text(
                f"UPDATE {table.name} AS t SET {assignments} "  # noqa: S608 (column names)
                f"FROM {unnest} AS u({names}) WHERE t.id = u.id"
            ),
            {key: [row[key] for row in rows] for key in keys},
        )
        return
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({key: bindparam(f"new_{key}") for key in values}),
        [{"row_id": row["id"]} | {f"new_{key}": row[key] for key in values} for row in rows],
    )


# =========================================================================== catalog (ERP)


def upsert_product_group(
    session: Session, *, code: str, name: str, parent_code: str | None = None
) -> int:
    code = _required(code, "group code", 64)
    name = _required(name, "group name", 200)
    parent_id = None
    if parent_code:
        if parent_code == code:
            raise InvalidRecord("group: its own parent")
        parent_id = session.scalar(select(ProductGroup.id).where(ProductGroup.code == parent_code))
        if parent_id is None:
            raise InvalidRecord(f"group {code}: unknown parent {parent_code}")
    group = session.scalar(select(ProductGroup).where(ProductGroup.code == code))
    if group is None:
        group = ProductGroup(code=code, name=name, parent_id=parent_id)
        session.add(group)
    else:
        group.name, group.parent_id = name, parent_id
    session.flush()
    return group.id


def upsert_product(
    session: Session,
    *,
    external_id: str,
    article: str,
    name: str,
    group_code: str | None,
    unit: str,
    active: bool = True,
) -> int:
    external_id = _required(external_id, "product external id", 128)
    article = _required(article, "article", 64)
    name = _required(name, "product name", 300)
    unit = _required(unit, "unit", 16)
    group_id = None
    if group_code:
        group_id = session.scalar(select(ProductGroup.id).where(ProductGroup.code == group_code))
        if group_id is None:
            raise InvalidRecord(f"product {external_id}: unknown group {group_code}")
    product = session.scalar(select(Product).where(Product.external_id == external_id))
    if product is None:
        product = Product(external_id=external_id)
        session.add(product)
    product.article, product.name, product.group_id = article, name, group_id
    product.unit, product.active = unit, bool(active)
    product.search_text = f"{article} {name}".lower()[:400]
    session.flush()
    return product.id


@dataclass(frozen=True)
class ProductInput:
    """One product of a batch (see ``upsert_products``): the arguments of ``upsert_product``."""

    external_id: str
    article: str
    name: str
    group_code: str | None
    unit: str
    active: bool = True


def _accepted(
    rows: Sequence[Any], rejected: dict[int, str], check: Callable[[Any], dict[str, Any]]
) -> dict[str, tuple[int, dict[str, Any]]]:
    """A batch's rows that ``check`` accepts, by external id, with their positions: a
    refused row's reason goes to ``rejected`` under its position, and of two rows with
    one external id the later wins (it is the ERP's newer word)."""
    accepted: dict[str, tuple[int, dict[str, Any]]] = {}
    for position, row in enumerate(rows):
        try:
            values = check(row)
        except InvalidRecord as exc:
            rejected[position] = exc.reason
            continue
        accepted.pop(values["external_id"], None)
        accepted[values["external_id"]] = (position, values)
    return accepted


@dataclass
class ProductBatch:
    """What ``upsert_products`` did: product ids and refusals by position in the input
    (nothing of a refused row is written)."""

    ids: dict[int, int] = field(default_factory=dict)
    rejected: dict[int, str] = field(default_factory=dict)


def _checked_product(row: ProductInput, groups: dict[str, int]) -> dict[str, Any]:
    """``upsert_product``'s checks on one row; its column values."""
    external_id = _required(row.external_id, "product external id", 128)
    article = _required(row.article, "article", 64)
    name = _required(row.name, "product name", 300)
    unit = _required(row.unit, "unit", 16)
    group_id = None
    if row.group_code:
        group_id = groups.get(row.group_code)
        if group_id is None:
            raise InvalidRecord(f"product {external_id}: unknown group {row.group_code}")
    return {
        "external_id": external_id,
        "article": article,
        "name": name,
        "group_id": group_id,
        "unit": unit,
        "active": bool(row.active),
        "search_text": f"{article} {name}".lower()[:400],
    }


def upsert_products(session: Session, rows: Sequence[ProductInput]) -> ProductBatch:
    """Create or update many products by external id: the set-based ``upsert_product``.

    Groups and existing products are read with one query each, new and changed products
    written with one statement each. A refused row (empty fields, an unknown group) is
    reported in ``rejected``; the same external id twice: the later row wins."""
    batch = ProductBatch()
    if not rows:
        return batch
    codes = {row.group_code for row in rows if row.group_code}
    groups = dict(
        session.execute(
            select(ProductGroup.code, ProductGroup.id).where(
                _among(session, ProductGroup.code, codes)
            )
        ).all()
        if codes
        else []
    )
    accepted = _accepted(rows, batch.rejected, lambda row: _checked_product(row, groups))
    if not accepted:
        return batch
    ids = dict(
        session.execute(
            select(Product.external_id, Product.id).where(
                _among(session, Product.external_id, accepted)
            )
        ).all()
    )
    table, moment = Product.__table__, now()
    fresh = [
        v | {"updated_at": moment} for _p, v in accepted.values() if v["external_id"] not in ids
    ]
    stale = [
        {"id": ids[v["external_id"]]} | v | {"updated_at": moment}
        for _p, v in accepted.values()
        if v["external_id"] in ids
    ]
    inserted = bulk.insert_rows(session, table, fresh, returning=("external_id", "id"))
    _update_many(session, table, stale)
    ids.update({external: product_id for external, product_id in inserted})
    for position, row in enumerate(rows):
        if position not in batch.rejected:
            batch.ids[position] = ids[row.external_id.strip()]
    return batch


def upsert_price_type(session: Session, *, code: str, name: str, currency: str = "RUB") -> int:
    code = _required(code, "price type code", 64)
    name = _required(name, "price type name", 200)
    if len(currency or "") != 3 or not currency.isalpha():
        raise InvalidRecord(f"price type {code}: currency must be a 3-letter code")
    row = session.scalar(select(PriceType).where(PriceType.code == code))
    if row is None:
        row = PriceType(code=code)
        session.add(row)
    row.name, row.currency = name, currency.upper()
    session.flush()
    return row.id


def set_price(session: Session, *, product_id: int, price_type_code: str, price: Decimal) -> bool:
    """Set one price; returns whether it changed."""
    amount = _money(price, "price")
    if amount < 0:
        raise InvalidRecord("price: negative")
    type_id = session.scalar(select(PriceType.id).where(PriceType.code == price_type_code))
    if type_id is None:
        raise InvalidRecord(f"unknown price type {price_type_code}")
    if session.get(Product, product_id) is None:
        raise InvalidRecord(f"unknown product {product_id}")
    row = session.scalar(
        select(Price).where(Price.product_id == product_id, Price.price_type_id == type_id)
    )
    if row is None:
        session.add(Price(product_id=product_id, price_type_id=type_id, price=amount))
    elif row.price == amount:
        return False
    else:
        row.price = amount
    session.flush()
    return True


@dataclass(frozen=True)
class PriceInput:
    """One price to set in a batch (see ``set_prices``)."""

    product_id: int
    price_type_code: str
    price: Decimal


@dataclass
class PriceBatch:
    """What ``set_prices`` did: rows inserted or changed, and the rows it refused.

    ``rejected`` maps a row's position in the input to the reason; no refused row is
    written, every other row is."""

    changed: int = 0
    rejected: dict[int, str] = field(default_factory=dict)


def set_prices(session: Session, rows: Sequence[PriceInput]) -> PriceBatch:
    """Set many prices at once: the set-based ``set_price`` for ERP imports.

    Price types and products are resolved with one query each; the valid rows are written
    with ``INSERT … ON CONFLICT (price_type_id, product_id) DO UPDATE … WHERE the price
    differs``, so an unchanged price is not rewritten. A row with an unknown product or
    price type or a bad amount is reported in ``rejected`` and left out; the rest are
    written. The same (product, price type) twice: the later row wins."""
    batch = PriceBatch()
    if not rows:
        return batch
    codes = {row.price_type_code for row in rows}
    type_ids = dict(
        session.execute(
            select(PriceType.code, PriceType.id).where(_among(session, PriceType.code, codes))
        ).all()
    )
    product_ids = {row.product_id for row in rows}
    known_products = set(
        session.scalars(select(Product.id).where(_among(session, Product.id, product_ids)))
    )
    values: dict[tuple[int, int], dict[str, Any]] = {}
    moment = now()
    for index, row in enumerate(rows):
        try:
            amount = _money(row.price, "price")
            if amount < 0:
                raise InvalidRecord("price: negative")
            type_id = type_ids.get(row.price_type_code)
            if type_id is None:
                raise InvalidRecord(f"unknown price type {row.price_type_code}")
            if row.product_id not in known_products:
                raise InvalidRecord(f"unknown product {row.product_id}")
        except InvalidRecord as exc:
            batch.rejected[index] = exc.reason
            continue
        values[(row.product_id, type_id)] = {
            "product_id": row.product_id,
            "price_type_id": type_id,
            "price": amount,
            "updated_at": moment,
        }
    if values:
        batch.changed = _write_prices(session, list(values.values()), moment)
    return batch


# PostgreSQL: the batch is COPYed into a temporary table of this transaction (see
# portal.bulk), then moved from there in one statement that also empties it (a second
# batch of the transaction starts afresh). Only the changed rows are counted, in the
# server: RETURNING would send thousands of ids back to be counted.
_PRICE_STAGE_PG = text(
    "CREATE TEMPORARY TABLE IF NOT EXISTS price_stage "
    "(product_id integer, price_type_id integer, price numeric(14, 2)) ON COMMIT DROP"
)
_PRICE_UPSERT_PG = text(
    "WITH staged AS (DELETE FROM price_stage RETURNING product_id, price_type_id, price), "
    "written AS (INSERT INTO price (product_id, price_type_id, price, updated_at) "
    "SELECT product_id, price_type_id, price, CAST(:moment AS timestamptz) FROM staged "
    "ON CONFLICT (price_type_id, product_id) DO UPDATE "
    "SET price = excluded.price, updated_at = excluded.updated_at "
    "WHERE price.price IS DISTINCT FROM excluded.price RETURNING 1) "
    "SELECT count(*) FROM written"
)


def _write_prices(session: Session, rows: list[dict[str, Any]], moment: dt.datetime) -> int:
    """Upsert the checked rows; answers how many were inserted or changed.

    The rows written are counted (a price the WHERE left alone is not among them): the
    driver's rowcount of such a batch is not dependable."""
    if is_postgresql(session):
        session.execute(_PRICE_STAGE_PG)
        bulk.copy_rows(
            session,
            "price_stage",
            ("product_id", "price_type_id", "price"),
            ((row["product_id"], row["price_type_id"], row["price"]) for row in rows),
        )
        return session.scalar(_PRICE_UPSERT_PG, {"moment": moment}) or 0
    table = Price.__table__
    statement = sqlite.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.price_type_id, table.c.product_id],
        set_={"price": statement.excluded.price, "updated_at": statement.excluded.updated_at},
        where=table.c.price.is_distinct_from(statement.excluded.price),
    ).returning(table.c.id)
    return len(session.connection().execute(statement, rows).all())


def product_id_by_external(session: Session, external_id: str) -> int | None:
    return session.scalar(select(Product.id).where(Product.external_id == external_id))


# =========================================================================== customer terms


def set_individual_price(
    session: Session,
    *,
    customer_id: int,
    product_id: int,
    price: Decimal,
    valid_from: dt.date | None = None,
    valid_to: dt.date | None = None,
) -> int:
    amount = _money(price, "individual price")
    if amount < 0:
        raise InvalidRecord("individual price: negative")
    if valid_from and valid_to and valid_to < valid_from:
        raise InvalidRecord("individual price: ends before it starts")
    row = session.scalar(
        select(IndividualPrice).where(
            IndividualPrice.customer_id == customer_id, IndividualPrice.product_id == product_id
        )
    )
    if row is None:
        row = IndividualPrice(customer_id=customer_id, product_id=product_id)
        session.add(row)
    row.price, row.valid_from, row.valid_to = amount, valid_from, valid_to
    session.flush()
    return row.id


@dataclass(frozen=True)
class DiscountData:
    kind: str  # DiscountKind
    percent: Decimal
    group_code: str | None = None
    min_quantity: int | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


def replace_discounts(
    session: Session, customer_id: int, discounts: Sequence[DiscountData]
) -> None:
    """Make the customer's discounts exactly ``discounts`` (the ERP sends the full set)."""
    rows = []
    for item in discounts:
        if item.kind not in set(DiscountKind):
            raise InvalidRecord(f"discount: unknown kind {item.kind}")
        percent = _money(item.percent, "discount percent")
        if not Decimal(0) < percent < HUNDRED:
            raise InvalidRecord("discount: percent must be between 0 and 100")
        group_id = None
        if item.kind == DiscountKind.GROUP:
            group_id = session.scalar(
                select(ProductGroup.id).where(ProductGroup.code == item.group_code)
            )
            if group_id is None:
                raise InvalidRecord(f"discount: unknown group {item.group_code}")
        if item.kind == DiscountKind.VOLUME and not (item.min_quantity or 0) > 1:
            raise InvalidRecord("volume discount: needs a minimum quantity above 1")
        rows.append(
            Discount(
                customer_id=customer_id,
                kind=item.kind,
                group_id=group_id,
                min_quantity=item.min_quantity if item.kind == DiscountKind.VOLUME else None,
                percent=percent,
                valid_from=item.valid_from,
                valid_to=item.valid_to,
            )
        )
    session.execute(delete(Discount).where(Discount.customer_id == customer_id))
    session.add_all(rows)
    session.flush()


def upsert_condition(
    session: Session,
    *,
    customer_id: int,
    contract_number: str,
    valid_from: dt.date,
    valid_to: dt.date | None = None,
    contract_date: dt.date | None = None,
    payment_terms: str,
    deferment_days: int = 0,
    credit_limit: Decimal = Decimal(0),
    debt: Decimal = Decimal(0),
    delivery_terms: str = "",
) -> int:
    """Keyed by (customer, contract number, start date): a new period is a new row."""
    contract_number = _required(contract_number, "contract number", 64)
    if valid_to and valid_to < valid_from:
        raise InvalidRecord("conditions: end before start")
    if deferment_days < 0:
        raise InvalidRecord("conditions: negative deferment")
    row = session.scalar(
        select(CommercialCondition).where(
            CommercialCondition.customer_id == customer_id,
            CommercialCondition.contract_number == contract_number,
            CommercialCondition.valid_from == valid_from,
        )
    )
    if row is None:
        row = CommercialCondition(
            customer_id=customer_id, contract_number=contract_number, valid_from=valid_from
        )
        session.add(row)
    row.valid_to, row.contract_date = valid_to, contract_date
    row.payment_terms = _required(payment_terms, "payment terms", 300)
    row.deferment_days = deferment_days
    row.credit_limit = _money(credit_limit, "credit limit")
    row.debt = _money(debt, "debt")
    row.delivery_terms = delivery_terms or ""
    session.flush()
    return row.id


# =========================================================================== orders (ERP)


@dataclass(frozen=True)
class OrderLineData:
    """One line of an order as the ERP sends it."""

    article: str
    name: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    unit: str = "шт"
    discount_percent: Decimal = Decimal(0)
    product_external_id: str | None = None


def upsert_order(
    session: Session,
    *,
    customer_id: int,
    external_id: str,
    number: str,
    placed_at: dt.datetime,
    status: str,
    currency: str,
    lines: list[OrderLineData],
    total: Decimal,
    vat: Decimal,
    payment_status: str,
    status_changed_at: dt.datetime | None = None,
    status_comment: str | None = None,
) -> int:
    """Create or update an order by its external id; a status change adds a timeline step
    (at ``status_changed_at``, default now) and sends ``order_status_changed``."""
    external_id = _required(external_id, "order external id", 128)
    number = _required(number, "order number", 64)
    if _aware(placed_at, "placed_at") is None:
        raise InvalidRecord("placed_at: missing")
    _aware(status_changed_at, "status_changed_at")
    if status not in _ORDER_STATUSES:
        raise InvalidRecord(f"order {number}: unknown status {status}")
    if payment_status not in _PAYMENT_STATUSES:
        raise InvalidRecord(f"order {number}: unknown payment status {payment_status}")
    if len(currency or "") != 3 or not currency.isalpha():
        raise InvalidRecord(f"order {number}: currency must be a 3-letter code")
    total_amount, vat_amount = _money(total, "total"), _money(vat, "vat")
    if total_amount < 0 or vat_amount < 0 or vat_amount > total_amount:
        raise InvalidRecord(f"order {number}: total or VAT out of range")
    if session.get(Customer, customer_id) is None:
        raise InvalidRecord(f"order {number}: unknown customer {customer_id}")
    line_rows = _order_lines(session, number, lines)

    order = session.scalar(select(Order).where(Order.external_id == external_id))
    old_status = None
    if order is None:
        order = Order(external_id=external_id, customer_id=customer_id)
        session.add(order)
    else:
        if order.customer_id != customer_id:
            raise InvalidRecord(f"order {number}: belongs to another customer")
        old_status = order.status
        session.execute(delete(OrderLine).where(OrderLine.order_id == order.id))
    order.number, order.placed_at, order.status = number, placed_at, status
    order.currency, order.total, order.vat = currency.upper(), total_amount, vat_amount
    order.payment_status, order.line_count = payment_status, len(line_rows)
    session.flush()
    for row in line_rows:
        row.order_id = order.id
    session.add_all(line_rows)
    if status != old_status:
        moment = status_changed_at or (placed_at if old_status is None else now())
        session.add(
            OrderStatusEvent(
                order_id=order.id, status=status, occurred_at=moment, comment=status_comment
            )
        )
    session.flush()
    if status != old_status:
        signals.order_status_changed.send(
            None,
            session=session,
            order_id=order.id,
            customer_id=customer_id,
            old=old_status,
            new=status,
            amount=total_amount,
        )
    return order.id


def _order_lines(session: Session, number: str, lines: list[OrderLineData]) -> list[OrderLine]:
    externals = {line.product_external_id for line in lines if line.product_external_id}
    return [
        OrderLine(**row)
        for row in _line_rows(number, lines, _products_by_external(session, externals))
    ]


def _products_by_external(session: Session, externals: set[str]) -> dict[str, int]:
    if not externals:
        return {}
    return dict(
        session.execute(
            select(Product.external_id, Product.id).where(
                _among(session, Product.external_id, externals)
            )
        ).all()
    )


def _line_rows(
    number: str, lines: list[OrderLineData], known: dict[str, int]
) -> list[dict[str, Any]]:
    """The checked column values of an order's lines (plain dicts: a batch has thousands)."""
    rows = []
    for index, line in enumerate(lines, start=1):
        try:
            quantity = Decimal(str(line.quantity))
        except InvalidOperation as exc:
            raise InvalidRecord(f"order {number} line {index}: quantity not a number") from exc
        if not quantity.is_finite() or quantity <= 0:
            raise InvalidRecord(f"order {number} line {index}: quantity must be positive")
        rows.append(
            {
                "line_no": index,
                "product_id": known.get(line.product_external_id or ""),
                "article": _required(line.article, f"line {index} article", 64),
                "name": _required(line.name, f"line {index} name", 300),
                "unit": (line.unit or "шт")[:16],
                "quantity": quantity,
                "unit_price": _money(line.unit_price, f"line {index} price"),
                "discount_percent": _money(line.discount_percent, f"line {index} discount"),
                "amount": _money(line.amount, f"line {index} amount"),
            }
        )
    return rows


@dataclass(frozen=True)
class OrderInput:
    """One order of a batch (see ``upsert_orders``): the arguments of ``upsert_order``."""

    customer_id: int
    external_id: str
    number: str
    placed_at: dt.datetime
    status: str
    currency: str
    lines: list[OrderLineData]
    total: Decimal
    vat: Decimal
    payment_status: str


@dataclass
class OrderBatch:
    """What ``upsert_orders`` did: the order id of each row written (by position in the
    input) and the reason of each row refused (nothing of a refused row is written)."""

    ids: dict[int, int] = field(default_factory=dict)
    rejected: dict[int, str] = field(default_factory=dict)


def _checked_order(row: OrderInput, known: dict[str, int]) -> dict[str, Any]:
    """The checks of ``upsert_order`` that need no query; the order's column values."""
    external_id = _required(row.external_id, "order external id", 128)
    number = _required(row.number, "order number", 64)
    if _aware(row.placed_at, "placed_at") is None:
        raise InvalidRecord("placed_at: missing")
    if row.status not in _ORDER_STATUSES:
        raise InvalidRecord(f"order {number}: unknown status {row.status}")
    if row.payment_status not in _PAYMENT_STATUSES:
        raise InvalidRecord(f"order {number}: unknown payment status {row.payment_status}")
    if len(row.currency or "") != 3 or not row.currency.isalpha():
        raise InvalidRecord(f"order {number}: currency must be a 3-letter code")
    total, vat = _money(row.total, "total"), _money(row.vat, "vat")
    if total < 0 or vat < 0 or vat > total:
        raise InvalidRecord(f"order {number}: total or VAT out of range")
    lines = _line_rows(number, row.lines, known)
    return {
        "external_id": external_id,
        "customer_id": row.customer_id,
        "number": number,
        "placed_at": row.placed_at,
        "status": row.status,
        "currency": row.currency.upper(),
        "total": total,
        "vat": vat,
        "payment_status": row.payment_status,
        "line_count": len(lines),
        "_lines": lines,
    }


def upsert_orders(session: Session, rows: Sequence[OrderInput]) -> OrderBatch:
    """Create or update many orders by external id: the set-based ``upsert_order``.

    Customers, products and the existing orders are read with one query each; new orders,
    changed orders, their lines and timeline steps are written with one batched statement
    each. A refused row (bad values, unknown customer, an order of another customer) is
    reported in ``rejected`` and nothing of it is written. ``order_statuses_changed`` is sent
    once with every order whose status changed (``upsert_order`` sends
    ``order_status_changed`` for its one order). The same external id
    twice: the later row wins."""
    batch = OrderBatch()
    if not rows:
        return batch
    externals = {line.product_external_id for row in rows for line in row.lines}
    known = _products_by_external(session, {e for e in externals if e})
    customers = set(
        session.scalars(
            select(Customer.id).where(
                _among(session, Customer.id, {row.customer_id for row in rows})
            )
        )
    )
    existing = {
        found.external_id: found
        for found in session.execute(
            select(Order.id, Order.external_id, Order.customer_id, Order.status).where(
                _among(session, Order.external_id, {row.external_id for row in rows})
            )
        )
    }
    accepted: dict[str, tuple[int, dict[str, Any]]] = {}
    for position, row in enumerate(rows):
        try:
            values = _checked_order(row, known)
            if row.customer_id not in customers:
                raise InvalidRecord(f"order {values['number']}: unknown customer {row.customer_id}")
            found = existing.get(values["external_id"])
            if found is not None and found.customer_id != row.customer_id:
                raise InvalidRecord(f"order {values['number']}: belongs to another customer")
        except InvalidRecord as exc:
            batch.rejected[position] = exc.reason
            continue
        accepted.pop(values["external_id"], None)
        accepted[values["external_id"]] = (position, values)
    if not accepted:
        return batch
    ids, changes = _write_orders(session, existing, [values for _p, values in accepted.values()])
    for external, (position, _values) in accepted.items():
        batch.ids[position] = ids[external]
    for position, row in enumerate(rows):  # an earlier duplicate answers the same order
        if position not in batch.ids and position not in batch.rejected:
            batch.ids[position] = ids[row.external_id.strip()]
    if changes:
        # One signal for the batch: loyalty accrues a thousand delivered orders with a few
        # statements instead of a dozen each (see orders.signals).
        signals.order_statuses_changed.send(
            None,
            session=session,
            changes=[
                signals.StatusChange(order_id, customer_id, old, new, amount)
                for order_id, customer_id, old, new, amount in changes
            ],
        )
    return batch


def _write_orders(
    session: Session, existing: dict[str, Any], accepted: list[dict[str, Any]]
) -> tuple[dict[str, int], list[tuple[int, int, str | None, str, Decimal]]]:
    """The writes of ``upsert_orders``: answers order ids by external id, and the status
    changes to announce."""
    table, line_table = Order.__table__, OrderLine.__table__
    moment = now()
    columns = ("number", "placed_at", "status", "currency", "total", "vat", "payment_status")
    fresh = [v for v in accepted if v["external_id"] not in existing]
    stale = [v for v in accepted if v["external_id"] in existing]
    ids = {external: found.id for external, found in existing.items()}
    inserted = bulk.insert_rows(
        session,
        table,
        [
            {key: v[key] for key in (*columns, "external_id", "customer_id", "line_count")}
            | {"updated_at": moment}
            for v in fresh
        ],
        returning=("external_id", "id"),
    )
    ids.update({external: order_id for external, order_id in inserted})
    _update_many(
        session,
        table,
        [
            {"id": ids[v["external_id"]]}
            | {key: v[key] for key in (*columns, "line_count")}
            | {"updated_at": moment}
            for v in stale
        ],
    )
    if stale:
        # An updated order's lines are replaced whole: the ERP sends them all every time.
        session.execute(
            delete(line_table).where(
                _among(session, line_table.c.order_id, [ids[v["external_id"]] for v in stale])
            )
        )
    lines = [{"order_id": ids[v["external_id"]]} | line for v in accepted for line in v["_lines"]]
    bulk.insert_rows(session, line_table, lines)
    changes = []
    events = []
    for v in accepted:
        found = existing.get(v["external_id"])
        old = found.status if found is not None else None
        if v["status"] == old:
            continue
        order_id = ids[v["external_id"]]
        events.append(
            {
                "order_id": order_id,
                "status": v["status"],
                "occurred_at": v["placed_at"] if old is None else moment,
                "comment": None,
            }
        )
        changes.append((order_id, v["customer_id"], old, v["status"], v["total"]))
    bulk.insert_rows(session, OrderStatusEvent.__table__, events)
    return ids, changes


def upsert_shipment(
    session: Session,
    *,
    order_id: int,
    external_id: str,
    number: str,
    carrier: str | None,
    tracking_number: str | None,
    tracking_url: str | None,
    status: str,
    shipped_at: dt.datetime | None,
    expected_at: dt.datetime | None,
    delivered_at: dt.datetime | None,
    status_changed_at: dt.datetime | None = None,
    status_comment: str | None = None,
) -> int:
    external_id = _required(external_id, "shipment external id", 128)
    number = _required(number, "shipment number", 64)
    if status not in _SHIPMENT_STATUSES:
        raise InvalidRecord(f"shipment {number}: unknown status {status}")
    for value, what in (
        (shipped_at, "shipped_at"),
        (expected_at, "expected_at"),
        (delivered_at, "delivered_at"),
        (status_changed_at, "status_changed_at"),
    ):
        _aware(value, what)
    if tracking_url and not tracking_url.startswith(("https://", "http://")):
        raise InvalidRecord(f"shipment {number}: tracking URL must be http(s)")
    order_customer = session.scalar(select(Order.customer_id).where(Order.id == order_id))
    if order_customer is None:
        raise InvalidRecord(f"shipment {number}: unknown order {order_id}")
    shipment = session.scalar(select(Shipment).where(Shipment.external_id == external_id))
    old_status = None
    if shipment is None:
        shipment = Shipment(external_id=external_id)
        session.add(shipment)
    else:
        old_status = shipment.status
    shipment.order_id, shipment.customer_id = order_id, order_customer
    shipment.number, shipment.carrier = number, carrier
    shipment.tracking_number, shipment.tracking_url = tracking_number, tracking_url
    shipment.status, shipment.shipped_at = status, shipped_at
    shipment.expected_at, shipment.delivered_at = expected_at, delivered_at
    session.flush()
    if status != old_status:
        session.add(
            ShipmentEvent(
                shipment_id=shipment.id,
                status=status,
                occurred_at=status_changed_at or now(),
                comment=status_comment,
            )
        )
        session.flush()
    return shipment.id


@dataclass(frozen=True)
class ShipmentInput:
    """One shipment of a batch (see ``upsert_shipments``): the arguments of ``upsert_shipment``."""

    order_id: int
    external_id: str
    number: str
    status: str
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipped_at: dt.datetime | None = None
    expected_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None


@dataclass
class ShipmentBatch:
    """What ``upsert_shipments`` did: shipment ids and refusals by position in the input."""

    ids: dict[int, int] = field(default_factory=dict)
    rejected: dict[int, str] = field(default_factory=dict)


_SHIPMENT_FIELDS = (
    "order_id",
    "customer_id",
    "number",
    "carrier",
    "tracking_number",
    "tracking_url",
    "status",
    "shipped_at",
    "expected_at",
    "delivered_at",
)


def _checked_shipment(row: ShipmentInput, customers: dict[int, int]) -> dict[str, Any]:
    """``upsert_shipment``'s checks on one row; its column values."""
    external_id = _required(row.external_id, "shipment external id", 128)
    number = _required(row.number, "shipment number", 64)
    if row.status not in _SHIPMENT_STATUSES:
        raise InvalidRecord(f"shipment {number}: unknown status {row.status}")
    for value, what in (
        (row.shipped_at, "shipped_at"),
        (row.expected_at, "expected_at"),
        (row.delivered_at, "delivered_at"),
    ):
        _aware(value, what)
    if row.tracking_url and not row.tracking_url.startswith(("https://", "http://")):
        raise InvalidRecord(f"shipment {number}: tracking URL must be http(s)")
    if row.order_id not in customers:
        raise InvalidRecord(f"shipment {number}: unknown order {row.order_id}")
    return {
        "external_id": external_id,
        "order_id": row.order_id,
        "customer_id": customers[row.order_id],
        "number": number,
        "carrier": row.carrier,
        "tracking_number": row.tracking_number,
        "tracking_url": row.tracking_url,
        "status": row.status,
        "shipped_at": row.shipped_at,
        "expected_at": row.expected_at,
        "delivered_at": row.delivered_at,
    }


def upsert_shipments(session: Session, rows: Sequence[ShipmentInput]) -> ShipmentBatch:
    """Create or update many shipments by external id: the set-based ``upsert_shipment``.

    Orders and existing shipments are read with one query each; new shipments, changed
    ones and their status steps are written with one batched statement each. A refused row
    is reported in ``rejected`` and not written. The same external id twice: the later
    row wins."""
    batch = ShipmentBatch()
    if not rows:
        return batch
    customers = dict(
        session.execute(
            select(Order.id, Order.customer_id).where(
                _among(session, Order.id, {r.order_id for r in rows})
            )
        ).all()
    )
    existing = {
        found.external_id: found
        for found in session.execute(
            select(Shipment.id, Shipment.external_id, Shipment.status).where(
                _among(session, Shipment.external_id, {r.external_id for r in rows})
            )
        )
    }
    accepted = _accepted(rows, batch.rejected, lambda row: _checked_shipment(row, customers))
    if not accepted:
        return batch
    table, moment = Shipment.__table__, now()
    ids = {external: found.id for external, found in existing.items()}
    fresh = [v for _p, v in accepted.values() if v["external_id"] not in existing]
    stale = [v for _p, v in accepted.values() if v["external_id"] in existing]
    inserted = bulk.insert_rows(
        session,
        table,
        [v | {"updated_at": moment} for v in fresh],
        returning=("external_id", "id"),
    )
    ids.update({external: shipment_id for external, shipment_id in inserted})
    _update_many(
        session,
        table,
        [
            {"id": ids[v["external_id"]]}
            | {key: v[key] for key in _SHIPMENT_FIELDS}
            | {"updated_at": moment}
            for v in stale
        ],
    )
    events = [
        {"shipment_id": ids[v["external_id"]], "status": v["status"], "occurred_at": moment}
        for _p, v in accepted.values()
        if v["external_id"] not in existing or existing[v["external_id"]].status != v["status"]
    ]
    bulk.insert_rows(session, ShipmentEvent.__table__, events)
    for position, row in enumerate(rows):
        if position not in batch.rejected:
            batch.ids[position] = ids[row.external_id.strip()]
    return batch


# =========================================================================== payments (ERP)


@dataclass(frozen=True)
class PaymentInput:
    """One payment document of the ERP (see ``upsert_payments``).

    ``amount`` is positive in roubles; ``kind`` says the direction ("payment": from the
    customer, "refund": back to the customer). ``cancelled`` is the ERP's "not posted" or
    "marked for deletion"; ``cancelled_at`` when it says when (default: the moment the
    portal learns it)."""

    customer_id: int
    external_id: str
    number: str
    paid_at: dt.datetime
    amount: Decimal
    kind: str = PaymentKind.PAYMENT
    order_id: int | None = None
    document_id: int | None = None
    purpose: str | None = None
    cancelled: bool = False
    cancelled_at: dt.datetime | None = None
    currency: str = "RUB"


@dataclass
class PaymentBatch:
    """What ``upsert_payments`` did: payment ids and refusals by position in the input;
    ``cancelled`` and ``restored`` are the ids whose reversal appeared or went away."""

    ids: dict[int, int] = field(default_factory=dict)
    rejected: dict[int, str] = field(default_factory=dict)
    cancelled: list[int] = field(default_factory=list)
    restored: list[int] = field(default_factory=list)


_PAYMENT_FIELDS = (
    "customer_id",
    "number",
    "paid_at",
    "amount",
    "currency",
    "kind",
    "order_id",
    "document_id",
    "purpose",
    "cancelled_at",
)


def _checked_payment(
    row: PaymentInput,
    customers: set[int],
    orders: dict[int, int],
    documents: dict[int, int],
    existing: dict[str, Any],
    moment: dt.datetime,
) -> dict[str, Any]:
    """The checks of one payment row; its column values (with the reversal decided)."""
    external_id = _required(row.external_id, "payment external id", 128)
    number = _required(row.number, "payment number", 64)
    if _aware(row.paid_at, "paid_at") is None:
        raise InvalidRecord(f"payment {number}: paid_at missing")
    _aware(row.cancelled_at, "cancelled_at")
    if row.kind not in set(PaymentKind):
        raise InvalidRecord(f"payment {number}: unknown kind {row.kind}")
    if (row.currency or "").upper() != "RUB":
        raise InvalidRecord(f"payment {number}: only roubles are accepted, not {row.currency}")
    amount = _money(row.amount, f"payment {number} amount")
    if amount <= 0:
        raise InvalidRecord(f"payment {number}: amount must be positive (a refund is a kind)")
    if row.customer_id not in customers:
        raise InvalidRecord(f"payment {number}: unknown customer {row.customer_id}")
    if row.order_id is not None and orders.get(row.order_id) != row.customer_id:
        raise InvalidRecord(f"payment {number}: order {row.order_id} is not this customer's")
    if row.document_id is not None and documents.get(row.document_id) != row.customer_id:
        raise InvalidRecord(f"payment {number}: document {row.document_id} is not this customer's")
    found = existing.get(external_id)
    if found is not None and found.customer_id != row.customer_id:
        raise InvalidRecord(f"payment {number}: belongs to another customer")
    cancelled_at = None
    if row.cancelled:
        if row.cancelled_at is not None:
            cancelled_at = row.cancelled_at
        elif found is not None and found.cancelled_at is not None:
            cancelled_at = found.cancelled_at  # a resend keeps the first reversal's date
        elif found is not None:
            cancelled_at = moment  # posted before, un-posted now: reversed from now on
        else:
            cancelled_at = row.paid_at  # never seen posted: leaves no trace
        cancelled_at = max(cancelled_at, row.paid_at)
    return {
        "external_id": external_id,
        "customer_id": row.customer_id,
        "number": number,
        "paid_at": row.paid_at,
        "amount": amount,
        "currency": "RUB",
        "kind": row.kind,
        "order_id": row.order_id,
        "document_id": row.document_id,
        "purpose": (row.purpose or "").strip()[:300] or None,
        "cancelled_at": cancelled_at,
    }


def upsert_payments(session: Session, rows: Sequence[PaymentInput]) -> PaymentBatch:
    """Create or update many payments by external id, set-based like ``upsert_orders``.

    Customers, orders, documents and existing payments are read with one query each; new
    and changed payments are written with one batched statement each. A refused row (bad
    values, unknown customer, an order or document of another customer, a payment bound
    to another customer) is reported in ``rejected`` and not written. A cancelled payment
    (un-posted or marked for deletion in the ERP) is kept with its reversal date, never
    deleted; posted again, the reversal goes away. The same external id twice: the later
    row wins. Idempotent: the same rows again change nothing."""
    batch = PaymentBatch()
    if not rows:
        return batch
    customers = set(
        session.scalars(select(Customer.id).where(Customer.id.in_({r.customer_id for r in rows})))
    )
    order_ids = {r.order_id for r in rows if r.order_id is not None}
    orders = (
        dict(
            session.execute(
                select(Order.id, Order.customer_id).where(Order.id.in_(order_ids))
            ).all()
        )
        if order_ids
        else {}
    )
    document_ids = {r.document_id for r in rows if r.document_id is not None}
    documents = (
        dict(
            session.execute(
                select(Document.id, Document.customer_id).where(Document.id.in_(document_ids))
            ).all()
        )
        if document_ids
        else {}
    )
    existing = {
        found.external_id: found
        for found in session.execute(
            select(
                Payment.id, Payment.external_id, Payment.customer_id, Payment.cancelled_at
            ).where(Payment.external_id.in_({(r.external_id or "").strip() for r in rows}))
        )
    }
    moment = now()
    accepted = _accepted(
        rows,
        batch.rejected,
        lambda row: _checked_payment(row, customers, orders, documents, existing, moment),
    )
    if not accepted:
        return batch
    table = Payment.__table__
    connection = session.connection()
    ids = {external: found.id for external, found in existing.items()}
    fresh = [v for _p, v in accepted.values() if v["external_id"] not in existing]
    stale = [v for _p, v in accepted.values() if v["external_id"] in existing]
    if fresh:
        inserted = connection.execute(
            insert_(table).returning(table.c.external_id, table.c.id),
            [v | {"created_at": moment, "updated_at": moment} for v in fresh],
        )
        ids.update({external: payment_id for external, payment_id in inserted})
    if stale:
        connection.execute(
            update(table)
            .where(table.c.id == bindparam("payment_id"))
            .values({key: bindparam(key) for key in (*_PAYMENT_FIELDS, "updated_at")}),
            [
                {key: v[key] for key in _PAYMENT_FIELDS}
                | {"payment_id": ids[v["external_id"]], "updated_at": moment}
                for v in stale
            ],
        )
    for _position, values in accepted.values():
        before = existing.get(values["external_id"])
        was_cancelled = before is not None and before.cancelled_at is not None
        if values["cancelled_at"] is not None and not was_cancelled:
            batch.cancelled.append(ids[values["external_id"]])
        elif values["cancelled_at"] is None and was_cancelled:
            batch.restored.append(ids[values["external_id"]])
    for position, row in enumerate(rows):
        if position not in batch.rejected:
            batch.ids[position] = ids[row.external_id.strip()]
    return batch


def customer_payments(session: Session, customer_id: int, limit: int = 20) -> list[Payment]:
    """The customer's latest payments and refunds (reversed ones too), newest first."""
    return list(
        session.scalars(
            select(Payment)
            .where(Payment.customer_id == customer_id)
            .order_by(Payment.paid_at.desc(), Payment.id.desc())
            .limit(limit)
        )
    )


def add_document(
    session: Session,
    *,
    customer_id: int,
    order_id: int | None,
    kind: str,
    number: str,
    issued_at: dt.datetime,
    filename: str,
    content: bytes,
) -> int:
    """Keep a PDF in the file store and link it; the same (customer, kind, number) is
    replaced, not duplicated. Raises ``InvalidRecord`` for a bad file or link."""
    if kind not in set(DocumentKind):
        raise InvalidRecord(f"document {number}: unknown kind {kind}")
    number = _required(number, "document number", 64)
    filename = _safe_filename(filename)
    if _aware(issued_at, "issued_at") is None:
        raise InvalidRecord("issued_at: missing")
    try:
        filestore.check_pdf(content)
    except filestore.RejectedFile as exc:
        raise InvalidRecord(f"document {number}: {exc}") from exc
    if order_id is not None:
        owner = session.scalar(select(Order.customer_id).where(Order.id == order_id))
        if owner != customer_id:
            raise InvalidRecord(f"document {number}: order {order_id} is not this customer's")
    elif session.get(Customer, customer_id) is None:
        raise InvalidRecord(f"document {number}: unknown customer {customer_id}")
    digest = filestore.store(content)
    row = session.scalar(
        select(Document).where(
            Document.customer_id == customer_id, Document.kind == kind, Document.number == number
        )
    )
    if row is None:
        row = Document(customer_id=customer_id, kind=kind, number=number)
        session.add(row)
    row.order_id, row.issued_at, row.filename = order_id, issued_at, filename
    row.content_type, row.size, row.sha256 = "application/pdf", len(content), digest
    session.flush()
    return row.id


def _safe_filename(filename: str) -> str:
    # Only the last path part, no control characters; the store never uses it as a path.
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name:
        raise InvalidRecord("document: empty file name")
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    return name[-200:]


def customer_turnovers(
    session: Session, customer_ids: Iterable[int], since: dt.datetime
) -> dict[int, Decimal]:
    """``customer_turnover`` of many customers in one query (every one of them answered)."""
    wanted = set(customer_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(Order.customer_id, func.sum(Order.total))
        .where(
            _among(session, Order.customer_id, wanted),
            Order.status == OrderStatus.DELIVERED,
            Order.placed_at >= since,
        )
        .group_by(Order.customer_id)
    )
    found = {customer_id: Decimal(total).quantize(KOPECK) for customer_id, total in rows}
    return {customer_id: found.get(customer_id, Decimal("0.00")) for customer_id in wanted}


def customer_turnover(session: Session, customer_id: int, since: dt.datetime) -> Decimal:
    """Sum of the customer's delivered orders placed since ``since``."""
    total = session.scalar(
        select(func.coalesce(func.sum(Order.total), 0)).where(
            Order.customer_id == customer_id,
            Order.status == OrderStatus.DELIVERED,
            Order.placed_at >= since,
        )
    )
    return Decimal(total).quantize(KOPECK)


# =========================================================================== customer reads


def list_orders(
    session: Session,
    customer_id: int,
    *,
    status: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    number: str | None = None,
    cursor: str | None = None,
    limit: int = ORDER_PAGE_SIZE,
) -> Page:
    """The customer's orders, newest first, one keyset page (one query)."""
    query = select(Order).where(Order.customer_id == customer_id)
    if status:
        query = query.where(Order.status == status)
    if date_from:
        query = query.where(Order.placed_at >= _moscow_midnight(date_from))
    if date_to:
        query = query.where(Order.placed_at < _moscow_midnight(date_to + dt.timedelta(days=1)))
    if number:
        # Order numbers are upper case ("ЗК-001234"); SQLite cannot fold Cyrillic case.
        pattern = f"%{_escape_like(number.strip().upper())}%"
        query = query.where(Order.number.like(pattern, escape="\\"))
    after = _decode_time_cursor(cursor)
    if after:
        query = query.where(
            or_(
                Order.placed_at < after[0],
                and_(Order.placed_at == after[0], Order.id < after[1]),
            )
        )
    rows = list(
        session.scalars(query.order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit + 1))
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1].placed_at, rows[-1].id)
    return Page(rows, next_cursor)


def _moscow_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC) - dt.timedelta(hours=3)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class OrderDetail:
    order: Order
    lines: list[OrderLine]
    timeline: list[OrderStatusEvent]
    shipments: list[Shipment]
    documents: list[Document]

    @property
    def net(self) -> Decimal:
        return self.order.total - self.order.vat


def get_order(session: Session, customer_id: int, order_id: int) -> OrderDetail:
    order = session.scalar(
        select(Order).where(Order.id == order_id, Order.customer_id == customer_id)
    )
    if order is None:
        raise NotFound("order", order_id)
    lines = list(
        session.scalars(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no)
        )
    )
    timeline = list(
        session.scalars(
            select(OrderStatusEvent)
            .where(OrderStatusEvent.order_id == order_id)
            .order_by(OrderStatusEvent.occurred_at, OrderStatusEvent.id)
        )
    )
    shipments = list(
        session.scalars(select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id))
    )
    documents = list(
        session.scalars(
            select(Document)
            .where(Document.order_id == order_id, Document.customer_id == customer_id)
            .order_by(Document.issued_at, Document.id)
        )
    )
    return OrderDetail(order, lines, timeline, shipments, documents)


@dataclass
class ShipmentDetail:
    shipment: Shipment
    order_number: str
    timeline: list[ShipmentEvent]


def get_shipment(session: Session, customer_id: int, shipment_id: int) -> ShipmentDetail:
    row = session.execute(
        select(Shipment, Order.number)
        .join(Order, Order.id == Shipment.order_id)
        .where(Shipment.id == shipment_id, Shipment.customer_id == customer_id)
    ).one_or_none()
    if row is None:
        raise NotFound("shipment", shipment_id)
    timeline = list(
        session.scalars(
            select(ShipmentEvent)
            .where(ShipmentEvent.shipment_id == shipment_id)
            .order_by(ShipmentEvent.occurred_at, ShipmentEvent.id)
        )
    )
    return ShipmentDetail(row[0], row[1], timeline)


def list_documents(
    session: Session,
    customer_id: int,
    *,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = DOCUMENT_PAGE_SIZE,
) -> Page:
    """The customer's documents, newest first, with their order's number (one query)."""
    query = (
        select(Document, Order.number)
        .outerjoin(Order, Order.id == Document.order_id)
        .where(Document.customer_id == customer_id)
    )
    if kind:
        query = query.where(Document.kind == kind)
    after = _decode_time_cursor(cursor)
    if after:
        query = query.where(
            or_(
                Document.issued_at < after[0],
                and_(Document.issued_at == after[0], Document.id < after[1]),
            )
        )
    rows = list(
        session.execute(
            query.order_by(Document.issued_at.desc(), Document.id.desc()).limit(limit + 1)
        ).all()
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1][0].issued_at, rows[-1][0].id)
    return Page([(doc, order_number) for doc, order_number in rows], next_cursor)


def get_document(session: Session, customer_id: int, document_id: int) -> Document:
    document = session.scalar(
        select(Document).where(Document.id == document_id, Document.customer_id == customer_id)
    )
    if document is None:
        raise NotFound("document", document_id)
    return document


@dataclass(frozen=True)
class DocumentProof:
    """What the public "check a document" page may say: never to whom it is addressed."""

    kind: str
    number: str
    issued_at: dt.datetime
    sha256: str


def is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def verify_document(session: Session, sha256: str) -> DocumentProof | None:
    """The document the company issued with exactly this content (its SHA-256), or None.

    Public, so it returns only the kind, number and date; the customer and the order stay
    out of the answer (and out of the dataclass, so that no template can leak them).
    """
    digest = sha256.strip().lower()
    if not is_sha256(digest):
        return None
    row = session.execute(
        select(Document.kind, Document.number, Document.issued_at, Document.sha256)
        .where(Document.sha256 == digest)
        .order_by(Document.id)
        .limit(1)
    ).one_or_none()
    return DocumentProof(*row) if row else None


# =========================================================================== prices


@dataclass(frozen=True)
class PricingContext:
    """What decides a customer's prices; loaded once per request (one query + discounts)."""

    customer_id: int
    base_type_id: int | None
    own_type_id: int | None
    own_type_name: str | None
    currency: str
    customer_percent: Decimal
    group_percents: dict[int, Decimal]
    volume_breaks: list[tuple[int, Decimal]]  # (min quantity, percent), ascending


def pricing_context(session: Session, customer_id: int) -> PricingContext:
    base_code = runtime_settings.get(session, "orders.base_price_type")
    base_type = select(PriceType.id).where(PriceType.code == base_code).scalar_subquery()
    row = session.execute(
        select(base_type, PriceType.id, PriceType.name, PriceType.currency)
        .select_from(Customer)
        .outerjoin(PriceType, PriceType.code == Customer.price_type_code)
        .where(Customer.id == customer_id)
    ).one_or_none()
    base_id, own_id, own_name, currency = row if row else (None, None, None, None)
    today = today_local()
    customer_percent = Decimal(0)
    group_percents: dict[int, Decimal] = {}
    volume: dict[int, Decimal] = {}
    for kind, group_id, min_quantity, percent in session.execute(
        select(Discount.kind, Discount.group_id, Discount.min_quantity, Discount.percent).where(
            Discount.customer_id == customer_id,
            _current(Discount.valid_from, Discount.valid_to, today),
        )
    ):
        if kind == DiscountKind.CUSTOMER:
            customer_percent = max(customer_percent, percent)
        elif kind == DiscountKind.GROUP and group_id is not None:
            group_percents[group_id] = max(group_percents.get(group_id, Decimal(0)), percent)
        elif kind == DiscountKind.VOLUME and min_quantity:
            volume[min_quantity] = max(volume.get(min_quantity, Decimal(0)), percent)
    return PricingContext(
        customer_id=customer_id,
        base_type_id=base_id,
        own_type_id=own_id or base_id,
        own_type_name=own_name,
        currency=currency or "RUB",
        customer_percent=customer_percent,
        group_percents=group_percents,
        volume_breaks=sorted(volume.items()),
    )


@dataclass(frozen=True)
class PriceRow:
    product_id: int
    article: str
    name: str
    unit: str
    group_name: str | None
    base_price: Decimal | None
    price: Decimal | None  # the customer's price for one unit
    discount_percent: Decimal  # the customer's price against the base price
    individual: bool

    @property
    def available(self) -> bool:
        return self.price is not None


def quote(
    context: PricingContext,
    *,
    group_id: int | None,
    base_price: Decimal | None,
    type_price: Decimal | None,
    individual_price: Decimal | None,
    quantity: int = 1,
) -> tuple[Decimal | None, Decimal, bool]:
    """The customer's unit price, its discount against the base price, and whether it is
    an individual price.

    Rules: an agreed individual price is final. Otherwise the customer's price-type price
    (the base price when the type has none) less the largest applicable discount: the
    customer-wide one, the product group's, or a volume break reached by ``quantity``.
    Discounts do not add up.
    """
    if individual_price is not None:
        price = individual_price
        individual = True
    else:
        start = type_price if type_price is not None else base_price
        if start is None:
            return None, Decimal(0), False
        percent = max(
            context.customer_percent,
            context.group_percents.get(group_id, Decimal(0)) if group_id else Decimal(0),
            max((p for q, p in context.volume_breaks if quantity >= q), default=Decimal(0)),
        )
        price = (start * (HUNDRED - percent) / HUNDRED).quantize(KOPECK, ROUND_HALF_UP)
        individual = False
    if base_price and base_price > 0 and price < base_price:
        shown = ((base_price - price) * HUNDRED / base_price).quantize(KOPECK, ROUND_HALF_UP)
    else:
        shown = Decimal(0)
    return price, shown, individual


def _price_query(context: PricingContext) -> Any:
    base = Price.__table__.alias("base_price")
    own = Price.__table__.alias("own_price")
    today = today_local()
    return (
        select(
            Product.id,
            Product.article,
            Product.name,
            Product.unit,
            Product.group_id,
            ProductGroup.name,
            base.c.price,
            own.c.price,
            IndividualPrice.price,
        )
        .outerjoin(ProductGroup, ProductGroup.id == Product.group_id)
        .outerjoin(
            base,
            and_(base.c.product_id == Product.id, base.c.price_type_id == context.base_type_id),
        )
        .outerjoin(
            own, and_(own.c.product_id == Product.id, own.c.price_type_id == context.own_type_id)
        )
        .outerjoin(
            IndividualPrice,
            and_(
                IndividualPrice.product_id == Product.id,
                IndividualPrice.customer_id == context.customer_id,
                _current(IndividualPrice.valid_from, IndividualPrice.valid_to, today),
            ),
        )
        .where(
            Product.active.is_(True),
            or_(base.c.price.is_not(None), own.c.price.is_not(None)),
        )
    )


def _price_row(context: PricingContext, row: Any) -> PriceRow:
    product_id, article, name, unit, group_id, group_name, base_price, type_price, ind = row
    price, percent, individual = quote(
        context,
        group_id=group_id,
        base_price=base_price,
        type_price=type_price,
        individual_price=ind,
    )
    return PriceRow(
        product_id, article, name, unit, group_name, base_price, price, percent, individual
    )


def price_list(
    session: Session,
    context: PricingContext,
    *,
    search: str | None = None,
    group_id: int | None = None,
    cursor: str | None = None,
    limit: int = PRICE_PAGE_SIZE,
) -> Page:
    """One keyset page of the customer's price list, by product name (one query)."""
    query = _price_query(context)
    if search:
        pattern = f"%{_escape_like(search.strip().lower())}%"
        query = query.where(Product.search_text.like(pattern, escape="\\"))
    if group_id:
        query = query.where(Product.group_id == group_id)
    after = _decode_name_cursor(cursor)
    if after:
        query = query.where(
            or_(Product.name > after[0], and_(Product.name == after[0], Product.id > after[1]))
        )
    rows = session.execute(query.order_by(Product.name, Product.id).limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1][2], rows[-1][0])
    return Page([_price_row(context, row) for row in rows], next_cursor)


def iter_price_list(
    session: Session, context: PricingContext, batch: int = 1000
) -> Iterator[PriceRow]:
    """The whole personal price list, by group and name, read in keyset batches."""
    cursor = None
    while True:
        page = price_list(session, context, cursor=cursor, limit=batch)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def product_groups(session: Session) -> list[ProductGroup]:
    return list(session.scalars(select(ProductGroup).order_by(ProductGroup.name)))


# =========================================================================== conditions


@dataclass(frozen=True)
class ManagerContact:
    """The assigned manager as the customer sees them (not the Staff row: loading that
    brings its roles and expertise along, two more queries)."""

    name: str
    phone: str | None
    email: str


@dataclass
class ConditionsView:
    condition: CommercialCondition | None
    price_type_name: str | None
    manager: ManagerContact | None
    context: PricingContext
    groups: dict[int, str] = field(default_factory=dict)

    @property
    def credit_available(self) -> Decimal | None:
        if self.condition is None:
            return None
        return max(self.condition.credit_limit - self.condition.debt, Decimal(0))


def current_condition(session: Session, customer_id: int) -> CommercialCondition | None:
    """The conditions in force today (the latest started, not yet expired), or None."""
    today = today_local()
    return session.scalar(
        select(CommercialCondition)
        .where(
            CommercialCondition.customer_id == customer_id,
            _current(CommercialCondition.valid_from, CommercialCondition.valid_to, today),
        )
        .order_by(CommercialCondition.valid_from.desc(), CommercialCondition.id.desc())
        .limit(1)
    )


def conditions(session: Session, customer_id: int) -> ConditionsView:
    context = pricing_context(session, customer_id)
    manager = assigned_manager(session, customer_id)
    groups = {}
    if context.group_percents:
        groups = dict(
            session.execute(
                select(ProductGroup.id, ProductGroup.name).where(
                    ProductGroup.id.in_(context.group_percents)
                )
            ).all()
        )
    return ConditionsView(
        current_condition(session, customer_id),
        context.own_type_name,
        manager,
        context,
        groups,
    )


# =========================================================================== dashboard


@dataclass(frozen=True)
class Counted:
    items: list[Any]
    total: int


@dataclass(frozen=True)
class OpenOrder:
    """A line of the dashboard's "orders under way"."""

    id: int
    number: str
    placed_at: dt.datetime
    status: OrderStatus
    total: Decimal
    currency: str


@dataclass(frozen=True)
class ShipmentOnWay:
    """A line of the dashboard's "on the way to you"."""

    id: int
    number: str
    order_number: str
    carrier: str | None
    tracking_url: str | None
    expected_at: dt.datetime | None


@dataclass(frozen=True)
class UnderWay:
    """The dashboard's orders under way and shipments on the way, each with its count."""

    orders: Counted
    shipments: Counted


_OPEN_ORDER_COLUMNS = ("id", "number", "placed_at", "status", "total", "currency")
_ON_WAY_COLUMNS = ("id", "number", "order_number", "carrier", "tracking_url", "expected_at")


def under_way(session: Session, customer_id: int, limit: int = 5) -> UnderWay:
    """The newest open orders and the shipments in transit (soonest expected first), in one
    query: each list is ranked in its own subquery, and the two are zipped on the rank
    (row *n* holds the *n*-th order and the *n*-th shipment; a FULL JOIN because either
    list may be the longer). A shipment still on the way is listed whatever its order's
    status says: the ERP may close an order before the carrier delivers."""
    rows = session.execute(_under_way_query(), {"customer_id": customer_id, "limit": limit}).all()
    orders, shipments = [], []
    order_total = shipment_total = 0
    for row in rows:
        if row.orders_total is not None:
            orders.append(OpenOrder(*(getattr(row, f"o_{name}") for name in _OPEN_ORDER_COLUMNS)))
            order_total = row.orders_total
        if row.shipments_total is not None:
            shipments.append(
                ShipmentOnWay(*(getattr(row, f"s_{name}") for name in _ON_WAY_COLUMNS))
            )
            shipment_total = row.shipments_total
    return UnderWay(Counted(orders, order_total), Counted(shipments, shipment_total))


@prebuilt
def _under_way_query() -> Select[Any]:
    # Built once (every dashboard runs it): subqueries are costly to assemble in Python.
    # Plain columns, not ORM entities aliased to the subqueries: the ORM adapts an aliased
    # entity's columns when it first compiles the statement, and under concurrent first
    # requests that adaptation once left a column on the base table (a cartesian product
    # with every order in the database). Plain columns leave nothing to adapt.
    customer_id, limit = bindparam("customer_id"), bindparam("limit")
    ranked_orders = (
        select(
            *(getattr(Order, name) for name in _OPEN_ORDER_COLUMNS),
            func.row_number()
            .over(order_by=(Order.placed_at.desc(), Order.id.desc()))
            .label("rank"),
            func.count().over().label("orders_total"),
        )
        .where(Order.customer_id == customer_id, Order.status.in_(OPEN_STATUSES))
        .subquery("ranked_orders")
    )
    ranked_shipments = (
        select(
            Shipment.id,
            Shipment.number,
            Order.number.label("order_number"),
            Shipment.carrier,
            Shipment.tracking_url,
            Shipment.expected_at,
            func.row_number().over(order_by=(Shipment.expected_at, Shipment.id)).label("rank"),
            func.count().over().label("shipments_total"),
        )
        .join(Order, Order.id == Shipment.order_id)
        .where(
            Shipment.customer_id == customer_id,
            Shipment.status.in_((ShipmentStatus.SHIPPED, ShipmentStatus.IN_TRANSIT)),
        )
        .subquery("ranked_shipments")
    )
    # Only the first ``limit`` of each (filtered outside: a window cannot be filtered inside).
    open_orders = select(ranked_orders).where(ranked_orders.c.rank <= limit).subquery("open")
    in_transit = (
        select(ranked_shipments).where(ranked_shipments.c.rank <= limit).subquery("in_transit")
    )
    return (
        select(
            *(open_orders.c[name].label(f"o_{name}") for name in _OPEN_ORDER_COLUMNS),
            open_orders.c.orders_total,
            *(in_transit.c[name].label(f"s_{name}") for name in _ON_WAY_COLUMNS),
            in_transit.c.shipments_total,
        )
        .select_from(open_orders)
        .join(in_transit, in_transit.c.rank == open_orders.c.rank, full=True)
        .order_by(func.coalesce(open_orders.c.rank, in_transit.c.rank))
    )


def open_reorders(session: Session, customer_id: int, limit: int = 5) -> Counted:
    """Reorder requests still waiting: drafts and those sent but not yet decided."""
    rows = session.execute(_open_reorders_query(), {"customer_id": customer_id, "limit": limit})
    found = rows.all()
    return Counted([row[0] for row in found], found[0][1] if found else 0)


@prebuilt
def _open_reorders_query() -> Select[Any]:
    # Built once: every dashboard runs it.
    return (
        select(ReorderRequest, func.count().over().label("total"))
        .where(
            ReorderRequest.customer_id == bindparam("customer_id"),
            ReorderRequest.status.in_((ReorderStatus.DRAFT, ReorderStatus.SENT)),
        )
        .order_by(ReorderRequest.id.desc())
        .limit(bindparam("limit"))
    )


def assigned_manager(session: Session, customer_id: int) -> ManagerContact | None:
    """The customer's manager (an active staff member), or None. One query."""
    row = session.execute(_manager_query(), {"customer_id": customer_id}).one_or_none()
    return ManagerContact(*row) if row else None


@prebuilt
def _manager_query() -> Select[Any]:
    # Built once: every dashboard runs it.
    return (
        select(Staff.name, Staff.phone, Staff.email)
        .join(Customer, Customer.manager_id == Staff.id)
        .where(Customer.id == bindparam("customer_id"), Staff.is_active.is_(True))
    )


@dataclass(frozen=True)
class CustomerSummary:
    """For the staff console's customer card."""

    orders: int
    open_orders: int
    last_order_at: dt.datetime | None
    turnover_year: Decimal
    price_type_name: str | None
    individual_prices: int
    discounts: int
    condition: CommercialCondition | None


def customer_summary(session: Session, customer_id: int) -> CustomerSummary:
    year_ago = now() - dt.timedelta(days=365)
    is_open = Order.status.in_(OPEN_STATUSES)
    delivered_year = and_(Order.status == OrderStatus.DELIVERED, Order.placed_at >= year_ago)
    stats = session.execute(
        select(
            func.count(Order.id),
            func.count(Order.id).filter(is_open),
            func.max(Order.placed_at),
            func.coalesce(func.sum(Order.total).filter(delivered_year), 0),
        ).where(Order.customer_id == customer_id)
    ).one()
    terms = session.execute(
        select(
            PriceType.name,
            select(func.count(IndividualPrice.id))
            .where(IndividualPrice.customer_id == customer_id)
            .scalar_subquery(),
            select(func.count(Discount.id))
            .where(Discount.customer_id == customer_id)
            .scalar_subquery(),
        )
        .select_from(Customer)
        .outerjoin(PriceType, PriceType.code == Customer.price_type_code)
        .where(Customer.id == customer_id)
    ).one()
    last = stats[2]
    if last is not None and last.tzinfo is None:  # SQLite aggregates lose the column type
        last = last.replace(tzinfo=dt.UTC)
    elif isinstance(last, str):
        last = dt.datetime.fromisoformat(last).replace(tzinfo=dt.UTC)
    return CustomerSummary(
        orders=stats[0],
        open_orders=stats[1],
        last_order_at=last,
        turnover_year=Decimal(stats[3]).quantize(KOPECK),
        price_type_name=terms[0],
        individual_prices=terms[1],
        discounts=terms[2],
        condition=current_condition(session, customer_id),
    )


# =========================================================================== reorders


def list_reorders(
    session: Session, customer_id: int, *, cursor: str | None = None, limit: int = 20
) -> Page:
    query = select(ReorderRequest).where(ReorderRequest.customer_id == customer_id)
    if cursor and cursor.isdigit():
        query = query.where(ReorderRequest.id < int(cursor))
    rows = list(session.scalars(query.order_by(ReorderRequest.id.desc()).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = str(rows[-1].id)
    return Page(rows, next_cursor)


@dataclass
class ReorderDetail:
    reorder: ReorderRequest
    lines: list[ReorderLine]
    source_number: str | None


def get_reorder(session: Session, customer_id: int, reorder_id: int) -> ReorderDetail:
    row = session.execute(
        select(ReorderRequest, Order.number)
        .outerjoin(Order, Order.id == ReorderRequest.source_order_id)
        .where(ReorderRequest.id == reorder_id, ReorderRequest.customer_id == customer_id)
    ).one_or_none()
    if row is None:
        raise NotFound("reorder", reorder_id)
    lines = list(
        session.scalars(
            select(ReorderLine)
            .where(ReorderLine.reorder_id == reorder_id)
            .order_by(ReorderLine.line_no)
        )
    )
    return ReorderDetail(row[0], lines, row[1])


def start_reorder(
    session: Session, customer_id: int, order_id: int, idempotency_key: str
) -> tuple[int, bool]:
    """ "Order again": a draft with the order's lines at the customer's current prices.

    The same idempotency key returns the request made before instead of a second one.
    Lines whose product is no longer sold (withdrawn, unknown or without a price) are
    listed in ``unavailable``. Returns (reorder id, created now?).
    """
    key = (idempotency_key or "").strip()
    if not 16 <= len(key) <= 64:
        raise InvalidRequest(_l("The form has expired. Open the order and try again."))
    existing = session.scalar(
        select(ReorderRequest.id).where(
            ReorderRequest.customer_id == customer_id, ReorderRequest.idempotency_key == key
        )
    )
    if existing is not None:
        return existing, False
    detail = get_order(session, customer_id, order_id)
    context = pricing_context(session, customer_id)
    product_ids = [line.product_id for line in detail.lines if line.product_id]
    quotes = _quotes(session, context, product_ids)
    reorder = ReorderRequest(
        customer_id=customer_id,
        source_order_id=order_id,
        idempotency_key=key,
        currency=context.currency,
        unavailable=[],
    )
    lines: list[ReorderLine] = []
    unavailable: list[dict[str, Any]] = []
    for line in detail.lines:
        quantity = max(1, int(line.quantity.to_integral_value(ROUND_HALF_UP)))
        product = quotes.get(line.product_id) if line.product_id else None
        if product is None:
            unavailable.append(
                {"article": line.article, "name": line.name, "quantity": str(quantity)}
            )
            continue
        lines.append(_reorder_line(context, product, len(lines) + 1, quantity))
    if not lines:
        raise InvalidRequest(_l("None of the products of this order is sold any more."))
    reorder.unavailable = unavailable
    reorder.lines = lines
    reorder.total = sum((line.amount for line in lines), Decimal(0))
    session.add(reorder)
    session.flush()
    return reorder.id, True


@dataclass(frozen=True)
class _Quotable:
    product_id: int
    article: str
    name: str
    unit: str
    group_id: int | None
    base_price: Decimal | None
    type_price: Decimal | None
    individual_price: Decimal | None


def _quotes(
    session: Session, context: PricingContext, product_ids: list[int]
) -> dict[int, _Quotable]:
    """Active, priced products among ``product_ids`` with what their price depends on."""
    if not product_ids:
        return {}
    rows = session.execute(_price_query(context).where(Product.id.in_(set(product_ids)))).all()
    return {
        row[0]: _Quotable(row[0], row[1], row[2], row[3], row[4], row[6], row[7], row[8])
        for row in rows
    }


def _reorder_line(
    context: PricingContext, product: _Quotable, line_no: int, quantity: int
) -> ReorderLine:
    price, percent, _individual = quote(
        context,
        group_id=product.group_id,
        base_price=product.base_price,
        type_price=product.type_price,
        individual_price=product.individual_price,
        quantity=quantity,
    )
    assert price is not None  # _quotes returns priced products only
    return ReorderLine(
        line_no=line_no,
        product_id=product.product_id,
        article=product.article,
        name=product.name,
        unit=product.unit,
        quantity=quantity,
        unit_price=price,
        discount_percent=percent,
        amount=(price * quantity).quantize(KOPECK),
    )


def parse_quantity(text: str | None, maximum: int) -> int | None:
    """A positive whole number not above ``maximum``, or None."""
    text = (text or "").strip()
    if not text.isdigit() or len(text) > 9:
        return None
    value = int(text)
    return value if 1 <= value <= maximum else None


def update_reorder(
    session: Session,
    customer_id: int,
    reorder_id: int,
    *,
    quantities: dict[int, str],
    removed: set[int],
    comment: str | None,
    confirm: bool,
) -> ReorderDetail:
    """Change a draft's quantities (re-priced at today's prices) and, with ``confirm``,
    send it: status ``sent``, queued for the ERP. Confirming a request already sent
    changes nothing (a double click). Raises ``InvalidRequest`` with per-line errors."""
    detail = get_reorder(session, customer_id, reorder_id)
    reorder = detail.reorder
    if reorder.status != ReorderStatus.DRAFT:
        if confirm and reorder.status == ReorderStatus.SENT:
            return detail
        raise InvalidRequest(_l("This request has already been sent and cannot be changed."))
    maximum = runtime_settings.get(session, "orders.reorder_max_quantity")
    errors: dict[str, Any] = {}
    wanted: list[tuple[ReorderLine, int]] = []
    for line in detail.lines:
        if line.id in removed:
            continue
        quantity = parse_quantity(quantities.get(line.id, str(line.quantity)), maximum)
        if quantity is None:
            errors[f"qty-{line.id}"] = _l("Enter a whole number from 1 to %(max)s.", max=maximum)
        else:
            wanted.append((line, quantity))
    if errors:
        raise InvalidRequest(_l("Please correct the quantities."), errors)
    if not wanted:
        raise InvalidRequest(_l("Keep at least one line in the request."))
    if comment is not None and len(comment) > 500:
        raise InvalidRequest(
            _l("The comment is too long."), {"comment": _l("At most 500 characters.")}
        )
    context = pricing_context(session, customer_id)
    quotes = _quotes(session, context, [line.product_id for line, _q in wanted])
    withdrawn = [line for line, _q in wanted if line.product_id not in quotes]
    if withdrawn:
        reorder.unavailable = [
            *reorder.unavailable,
            *(
                {"article": x.article, "name": x.name, "quantity": str(x.quantity)}
                for x in withdrawn
            ),
        ]
    new_lines = [
        _reorder_line(context, quotes[line.product_id], index, quantity)
        for index, (line, quantity) in enumerate(
            ((line, q) for line, q in wanted if line.product_id in quotes), start=1
        )
    ]
    session.execute(delete(ReorderLine).where(ReorderLine.reorder_id == reorder.id))
    session.flush()
    for line in new_lines:
        line.reorder_id = reorder.id
    session.add_all(new_lines)
    reorder.total = sum((line.amount for line in new_lines), Decimal(0))
    reorder.comment = (comment or "").strip() or None
    if withdrawn:
        session.flush()
        raise InvalidRequest(
            _l("Some products are no longer sold and were taken out. Check the request.")
        )
    if confirm:
        if not new_lines:
            raise InvalidRequest(_l("Keep at least one line in the request."))
        if reorder.delivery_address_id is not None:
            address = session.get(DeliveryAddress, reorder.delivery_address_id)
            if address is None or address.removed_at is not None:
                raise InvalidRequest(_l("The delivery address was removed. Choose another one."))
            reorder.delivery_address_text = address.one_line
        reorder.status = ReorderStatus.SENT
        reorder.confirmed_at = now()
    session.flush()
    if confirm:
        signals.reorder_status_changed.send(
            None,
            session=session,
            reorder_id=reorder.id,
            customer_id=customer_id,
            old=ReorderStatus.DRAFT.value,
            new=ReorderStatus.SENT.value,
        )
    return get_reorder(session, customer_id, reorder_id)


def set_reorder_address(
    session: Session, customer_id: int, reorder_id: int, address_id: int | None
) -> None:
    """Choose where a draft is to be delivered (one of the customer's own addresses, or
    None: as agreed with the manager). ``NotFound`` for another customer's address."""
    reorder = get_reorder(session, customer_id, reorder_id).reorder
    if reorder.status != ReorderStatus.DRAFT:
        raise InvalidRequest(_l("This request has already been sent and cannot be changed."))
    if address_id is not None:
        get_address(session, customer_id, address_id)
    reorder.delivery_address_id = address_id
    session.flush()


def reorder_address(session: Session, reorder: ReorderRequest) -> DeliveryAddress | None:
    """The address chosen for a draft (None when none is chosen or it was removed)."""
    if reorder.delivery_address_id is None:
        return None
    address = session.get(DeliveryAddress, reorder.delivery_address_id)
    if address is None or address.removed_at is not None:
        return None
    return address


# =========================================================================== addresses


ADDRESS_FIELDS = ("label", "address", "recipient", "phone", "comment")


def list_addresses(session: Session, customer_id: int) -> list[DeliveryAddress]:
    """The customer's delivery addresses in use, oldest first."""
    return list(
        session.scalars(
            select(DeliveryAddress)
            .where(DeliveryAddress.customer_id == customer_id, DeliveryAddress.removed_at.is_(None))
            .order_by(DeliveryAddress.id)
        )
    )


def get_address(session: Session, customer_id: int, address_id: int) -> DeliveryAddress:
    address = session.scalar(
        select(DeliveryAddress).where(
            DeliveryAddress.id == address_id,
            DeliveryAddress.customer_id == customer_id,
            DeliveryAddress.removed_at.is_(None),
        )
    )
    if address is None:
        raise NotFound("address", address_id)
    return address


def save_address(
    session: Session, customer_id: int, values: dict[str, str | None], address_id: int | None
) -> DeliveryAddress:
    """Add an address (``address_id`` None) or change one of the customer's own."""
    clean = {name: (values.get(name) or "").strip() or None for name in ADDRESS_FIELDS}
    if not clean["label"] or not clean["address"]:
        raise InvalidRequest(_l("Give the address a name and write the address."))
    if address_id is None:
        address = DeliveryAddress(customer_id=customer_id)
        session.add(address)
    else:
        address = get_address(session, customer_id, address_id)
    for name, value in clean.items():
        setattr(address, name, value)
    address.updated_at = now()
    session.flush()
    return address


def remove_address(session: Session, customer_id: int, address_id: int) -> DeliveryAddress:
    """Hide an address; drafts that had chosen it are left without one."""
    address = get_address(session, customer_id, address_id)
    address.removed_at = now()
    session.execute(
        update(ReorderRequest)
        .where(
            ReorderRequest.delivery_address_id == address.id,
            ReorderRequest.status == ReorderStatus.DRAFT,
        )
        .values(delivery_address_id=None)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return address


def cancel_reorder(session: Session, customer_id: int, reorder_id: int) -> None:
    """Drop a draft (a sent request is the ERP's to decide)."""
    reorder = get_reorder(session, customer_id, reorder_id).reorder
    if reorder.status != ReorderStatus.DRAFT:
        raise InvalidRequest(_l("This request has already been sent and cannot be changed."))
    reorder.status = ReorderStatus.CANCELLED
    session.flush()
    signals.reorder_status_changed.send(
        None,
        session=session,
        reorder_id=reorder.id,
        customer_id=customer_id,
        old=ReorderStatus.DRAFT.value,
        new=ReorderStatus.CANCELLED.value,
    )


def outbound_reorders(session: Session, limit: int) -> list[ReorderRequest]:
    """Confirmed requests not yet handed to the ERP, oldest first, with their lines loaded
    (``request.lines``)."""
    from sqlalchemy.orm import selectinload

    return list(
        session.scalars(
            select(ReorderRequest)
            .options(selectinload(ReorderRequest.lines))
            .where(
                ReorderRequest.status == ReorderStatus.SENT,
                ReorderRequest.exported_at.is_(None),
            )
            .order_by(ReorderRequest.id)
            .limit(limit)
        )
    )


def mark_reorders_delivered(session: Session, ids: Sequence[int]) -> None:
    """The ERP has taken these requests: they leave the outbound queue."""
    if not ids:
        return
    session.execute(
        update(ReorderRequest)
        .where(ReorderRequest.id.in_(list(ids)), ReorderRequest.exported_at.is_(None))
        .values(exported_at=now(), updated_at=now())
    )


def set_reorder_status(
    session: Session, reorder_id: int, status: str, reason: str | None = None
) -> None:
    """The ERP's decision on a sent request: ``accepted``, or ``rejected`` with a reason."""
    if status not in (ReorderStatus.ACCEPTED, ReorderStatus.REJECTED):
        raise InvalidRecord(f"reorder {reorder_id}: status must be accepted or rejected")
    if status == ReorderStatus.REJECTED and not (reason or "").strip():
        raise InvalidRecord(f"reorder {reorder_id}: a rejection needs a reason")
    reorder = session.get(ReorderRequest, reorder_id)
    if reorder is None:
        raise InvalidRecord(f"unknown reorder {reorder_id}")
    if reorder.status == status:
        return  # the same decision again: idempotent
    if reorder.status != ReorderStatus.SENT:
        raise InvalidRecord(f"reorder {reorder_id}: is {reorder.status}, not sent")
    old = reorder.status
    reorder.status = status
    reason_text = (reason or "").strip()
    reorder.reason = reason_text[:500] or None
    reorder.decided_at = now()
    session.flush()
    signals.reorder_status_changed.send(
        None,
        session=session,
        reorder_id=reorder.id,
        customer_id=reorder.customer_id,
        old=old,
        new=status,
    )


def order_counts_by_status(session: Session) -> dict[str, int]:
    """How many orders are in each status, labelled in the reader's language, in the
    order of an order's life (overview chart)."""
    counts = dict(session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
    return {label("order", status): counts[status] for status in OrderStatus if status in counts}


def order_customers(session: Session, order_ids: set[int]) -> dict[int, int]:
    """The customer of each of these orders (for ERP records that name only the order)."""
    if not order_ids:
        return {}
    return dict(
        session.execute(select(Order.id, Order.customer_id).where(Order.id.in_(order_ids))).all()
    )
