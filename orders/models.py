"""Tables of the orders package: catalog, prices, conditions, orders, shipments, documents,
reorder requests. Only ``orders.services`` reads or writes them."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import now
from portal.db import Base


class OrderStatus(enum.StrEnum):
    NEW = "new"
    CONFIRMED = "confirmed"
    ASSEMBLING = "assembling"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"


# An order still under way: shown on the dashboard.
OPEN_STATUSES = (
    OrderStatus.NEW,
    OrderStatus.CONFIRMED,
    OrderStatus.ASSEMBLING,
    OrderStatus.SHIPPED,
    OrderStatus.IN_TRANSIT,
)


class PaymentStatus(enum.StrEnum):
    UNPAID = "unpaid"
    PARTIAL = "partial"
    PAID = "paid"


class ShipmentStatus(enum.StrEnum):
    PREPARING = "preparing"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    RETURNED = "returned"


class DocumentKind(enum.StrEnum):
    INVOICE = "invoice"
    DELIVERY_NOTE = "delivery_note"  # ТОРГ-12 / УПД
    ACT = "act"
    CONTRACT = "contract"


class DiscountKind(enum.StrEnum):
    CUSTOMER = "customer"  # on everything
    GROUP = "group"  # on one product group
    VOLUME = "volume"  # from a quantity on, per order line


class ReorderStatus(enum.StrEnum):
    DRAFT = "draft"  # being edited by the customer
    SENT = "sent"  # confirmed: waiting in (or taken from) the outbound queue
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"  # a draft the customer dropped


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


# --------------------------------------------------------------------------- catalog


class ProductGroup(Base):
    __tablename__ = "product_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("product_group.id"))


class Product(Base):
    __tablename__ = "product"
    __table_args__ = (Index("ix_product_group_name", "group_id", "name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    article: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(300))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("product_group.id"))
    unit: Mapped[str] = mapped_column(String(16), default="шт")
    active: Mapped[bool] = mapped_column(default=True)
    # Article and name in lower case: SQLite's LOWER() knows only ASCII, so case-insensitive
    # search on Cyrillic compares against this column on every backend.
    search_text: Mapped[str] = mapped_column(String(400), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)

    group: Mapped[ProductGroup | None] = relationship(lazy="raise")


class PriceType(Base):
    """The ERP's price types (ТипыЦен): base, wholesale, dealer…"""

    __tablename__ = "price_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3), default="RUB")


class Price(Base):
    __tablename__ = "price"
    __table_args__ = (
        UniqueConstraint("price_type_id", "product_id"),
        CheckConstraint("price >= 0", name="not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"))
    price_type_id: Mapped[int] = mapped_column(ForeignKey("price_type.id", ondelete="CASCADE"))
    price: Mapped[Decimal]
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)


class IndividualPrice(Base):
    """A price agreed with one customer for one product; wins over the price type."""

    __tablename__ = "individual_price"
    __table_args__ = (
        UniqueConstraint("customer_id", "product_id"),
        CheckConstraint("price >= 0", name="not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"))
    price: Mapped[Decimal]
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)


class Discount(Base):
    __tablename__ = "discount"
    __table_args__ = (
        Index("ix_discount_customer", "customer_id", "kind"),
        CheckConstraint(_in("kind", DiscountKind), name="known_kind"),
        CheckConstraint("percent > 0 AND percent < 100", name="sane_percent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("product_group.id"))
    min_quantity: Mapped[int | None]  # volume breaks: from this quantity of one line on
    percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)

    group: Mapped[ProductGroup | None] = relationship(lazy="raise")


class CommercialCondition(Base):
    """The contract's terms for one customer over a period; the current one is shown."""

    __tablename__ = "commercial_condition"
    __table_args__ = (Index("ix_commercial_condition_customer", "customer_id", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    contract_number: Mapped[str] = mapped_column(String(64))
    contract_date: Mapped[dt.date | None] = mapped_column(Date)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    payment_terms: Mapped[str] = mapped_column(String(300))
    deferment_days: Mapped[int] = mapped_column(default=0)
    credit_limit: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    debt: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    delivery_terms: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)


# --------------------------------------------------------------------------- orders


class Order(Base):
    __tablename__ = "customer_order"  # "order" is an SQL keyword
    __table_args__ = (
        Index("ix_customer_order_customer_placed", "customer_id", "placed_at", "id"),
        Index("ix_customer_order_customer_status", "customer_id", "status", "placed_at", "id"),
        CheckConstraint(_in("status", OrderStatus), name="known_status"),
        CheckConstraint(_in("payment_status", PaymentStatus), name="known_payment_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    number: Mapped[str] = mapped_column(String(64))
    placed_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(12), default=OrderStatus.NEW)
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    total: Mapped[Decimal]  # with VAT
    vat: Mapped[Decimal]
    payment_status: Mapped[str] = mapped_column(String(8), default=PaymentStatus.UNPAID)
    line_count: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)

    lines: Mapped[list[OrderLine]] = relationship(
        order_by="OrderLine.line_no", cascade="all, delete-orphan", lazy="raise"
    )


class OrderLine(Base):
    __tablename__ = "order_line"
    __table_args__ = (UniqueConstraint("order_id", "line_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id", ondelete="CASCADE"))
    line_no: Mapped[int]
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"), index=True)
    article: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(16), default="шт")
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit_price: Mapped[Decimal]
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    amount: Mapped[Decimal]


class OrderStatusEvent(Base):
    """One step of an order's timeline."""

    __tablename__ = "order_status_event"
    __table_args__ = (Index("ix_order_status_event_order", "order_id", "occurred_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12))
    occurred_at: Mapped[dt.datetime] = mapped_column(default=now)
    comment: Mapped[str | None] = mapped_column(String(500))


class Shipment(Base):
    __tablename__ = "shipment"
    __table_args__ = (
        Index("ix_shipment_order", "order_id"),
        Index("ix_shipment_customer_status", "customer_id", "status", "expected_at"),
        CheckConstraint(_in("status", ShipmentStatus), name="known_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The order's customer, kept here so that "my shipments in transit" is one indexed query.
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("customer_order.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    number: Mapped[str] = mapped_column(String(64))
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    tracking_url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(12), default=ShipmentStatus.PREPARING)
    shipped_at: Mapped[dt.datetime | None]
    expected_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)


class ShipmentEvent(Base):
    __tablename__ = "shipment_event"
    __table_args__ = (Index("ix_shipment_event_shipment", "shipment_id", "occurred_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipment.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12))
    occurred_at: Mapped[dt.datetime] = mapped_column(default=now)
    comment: Mapped[str | None] = mapped_column(String(500))


class Document(Base):
    """A PDF of a customer (and where it applies, of an order), kept in the file store."""

    __tablename__ = "document"
    __table_args__ = (
        Index("ix_document_customer_issued", "customer_id", "issued_at", "id"),
        Index("ix_document_order", "order_id"),
        Index("ix_document_sha256", "sha256"),  # the public "check a document" page
        UniqueConstraint("customer_id", "kind", "number"),
        CheckConstraint(_in("kind", DocumentKind), name="known_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer_order.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[dt.datetime]
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64), default="application/pdf")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)


# --------------------------------------------------------------------------- reorders


class ReorderRequest(Base):
    """ "Order again": a customer's request, confirmed, then queued for the ERP."""

    __tablename__ = "reorder_request"
    __table_args__ = (
        UniqueConstraint("customer_id", "idempotency_key"),
        Index("ix_reorder_request_customer", "customer_id", "status", "id"),
        Index("ix_reorder_request_outbound", "status", "exported_at", "id"),
        CheckConstraint(_in("status", ReorderStatus), name="known_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    source_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer_order.id", ondelete="SET NULL")
    )
    idempotency_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default=ReorderStatus.DRAFT)
    reason: Mapped[str | None] = mapped_column(String(500))
    comment: Mapped[str | None] = mapped_column(String(500))
    # Lines of the source order that can no longer be ordered (product withdrawn or unpriced):
    # kept to show the customer what was left out, never dropped silently.
    unavailable: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    confirmed_at: Mapped[dt.datetime | None]
    exported_at: Mapped[dt.datetime | None]  # handed to the ERP by the outbound queue
    decided_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)
    # Where to deliver: one of the customer's addresses while a draft; when the request is
    # sent, the address's text is copied, so that a later edit does not change what was sent.
    delivery_address_id: Mapped[int | None] = mapped_column(
        ForeignKey("delivery_address.id", ondelete="SET NULL")
    )
    delivery_address_text: Mapped[str | None] = mapped_column(Text)

    lines: Mapped[list[ReorderLine]] = relationship(
        order_by="ReorderLine.line_no", cascade="all, delete-orphan", lazy="raise"
    )


class ReorderLine(Base):
    __tablename__ = "reorder_line"
    __table_args__ = (
        UniqueConstraint("reorder_id", "line_no"),
        CheckConstraint("quantity > 0", name="positive_quantity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reorder_id: Mapped[int] = mapped_column(ForeignKey("reorder_request.id", ondelete="CASCADE"))
    line_no: Mapped[int]
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    article: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(16), default="шт")
    quantity: Mapped[int]
    unit_price: Mapped[Decimal]
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    amount: Mapped[Decimal]


# --------------------------------------------------------------------------- payments


class PaymentKind(enum.StrEnum):
    PAYMENT = "payment"  # money from the customer: a credit of the statement
    REFUND = "refund"  # money back to the customer: a debit


class Payment(Base):
    """A payment document of the ERP (платёжное поручение, ПКО, возврат).

    Never deleted: a document the ERP un-posts or marks for deletion keeps its row with
    ``cancelled_at`` set, so that the statement shows the payment and its reversal (an act
    already signed for an earlier period does not change afterwards)."""

    __tablename__ = "payment"
    __table_args__ = (
        Index("ix_payment_customer_paid", "customer_id", "paid_at", "id"),
        Index("ix_payment_order", "order_id"),
        CheckConstraint(_in("kind", PaymentKind), name="known_kind"),
        CheckConstraint("amount > 0", name="positive_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    number: Mapped[str] = mapped_column(String(64))
    paid_at: Mapped[dt.datetime]
    amount: Mapped[Decimal]  # roubles, always positive: ``kind`` gives the direction
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    kind: Mapped[str] = mapped_column(String(8), default=PaymentKind.PAYMENT)
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer_order.id", ondelete="SET NULL")
    )
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id", ondelete="SET NULL"))
    purpose: Mapped[str | None] = mapped_column(String(300))  # назначение платежа
    # Set when the ERP un-posted the document or marked it for deletion: the reversal.
    cancelled_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)


# --------------------------------------------------------------------------- delivery


class DeliveryAddress(Base):
    """An address the customer has goods delivered to. Removing one keeps the row (hidden,
    ``removed_at``), so that requests sent to it still say where they went."""

    __tablename__ = "delivery_address"
    __table_args__ = (Index("ix_delivery_address_customer", "customer_id", "removed_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(100))  # "Склад на Складочной"
    address: Mapped[str] = mapped_column(String(500))
    recipient: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(String(500))  # gate, hours, unloading
    created_at: Mapped[dt.datetime] = mapped_column(default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(default=now, onupdate=now)
    removed_at: Mapped[dt.datetime | None]

    @property
    def one_line(self) -> str:
        """The address as a carrier reads it: address; recipient, phone; comment."""
        parts = [self.address]
        who = ", ".join(p for p in (self.recipient, self.phone) if p)
        if who:
            parts.append(who)
        if self.comment:
            parts.append(self.comment)
        return "; ".join(parts)
