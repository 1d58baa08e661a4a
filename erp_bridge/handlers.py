"""Entity handlers: for each entity the ERP sends, how to validate it and where to upsert it.

A handler's ``normalize`` turns a raw record (from CommerceML or JSON, already a dict)
into its canonical form or raises ``InvalidRecord``; the canonical form is what the
content hash covers. ``upsert`` writes it through the owning package's services and
returns the local id; ``upsert_many`` (optional) does the same for a whole chunk with a
fixed number of statements, and ``upsert`` stays the path for one record alone.
``deactivate`` (optional) switches off rows a full export no longer lists. Handlers for
the ``orders`` and ``loyalty`` entities live in ``erp_bridge.handlers_orders``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.models import Customer, CustomerKind, CustomerStatus, ExternalRef

from . import bindings
from . import records as r
from .records import InvalidRecord


@dataclass
class Context:
    """What a handler may ask of the run: the system, and local ids of other entities."""

    session: Session
    system: str
    # Lookups of other entities (the same three price types for a million offers) are
    # remembered for one chunk; the engine forgets them at each commit or rollback.
    cache: dict[tuple[str, str], int] = field(default_factory=dict)

    def local_id(self, entity: str, external: str | None) -> int | None:
        if not external:
            return None
        key = (entity, external)
        if key in self.cache:
            return self.cache[key]
        found = self.session.scalar(
            select(ExternalRef.local_id).where(
                ExternalRef.system == self.system,
                ExternalRef.entity == entity,
                ExternalRef.external_id == external,
            )
        )
        if found is not None:
            self.cache[key] = found
        return found

    def prefetch(self, entity: str, externals: set[str]) -> None:
        """Look up the local ids of a whole chunk's references in one query."""
        wanted = [e for e in externals if e and (entity, e) not in self.cache]
        for external, local in bindings.local_ids(
            self.session, self.system, entity, wanted
        ).items():
            self.cache[(entity, external)] = local

    def require(self, entity: str, external: str | None, label: str) -> int:
        local = self.local_id(entity, external)
        if local is None:
            raise InvalidRecord(f"unknown {label}: {external}")
        return local


Normalizer = Callable[[dict[str, Any]], dict[str, Any]]
Upserter = Callable[[Context, dict[str, Any], int | None], int]
# A whole chunk at once: (record, bound local id) pairs in, for each the local id or the
# reason it is refused; nothing of a refused record may have been written.
BatchUpserter = Callable[[Context, list[tuple[dict[str, Any], int | None]]], list[int | str]]
Deactivator = Callable[[Session, list[int]], int]


@dataclass(frozen=True)
class Handler:
    entity: str
    stream: str  # the name in URLs, scopes and settings (plural)
    normalize: Normalizer
    upsert: Upserter
    deactivate: Deactivator | None = None
    version_key: str | None = "updated_at"
    upsert_many: BatchUpserter | None = None  # set-based path for big imports (optional)


HANDLERS: dict[str, Handler] = {}
STREAMS: dict[str, str] = {}  # stream -> entity


def register(handler: Handler) -> None:
    HANDLERS[handler.entity] = handler
    STREAMS[handler.stream] = handler.entity


def handler_for(entity: str) -> Handler:
    try:
        return HANDLERS[entity]
    except KeyError:
        raise InvalidRecord(f"unknown entity {entity!r}") from None


def entity_for_stream(stream: str) -> str | None:
    return STREAMS.get(stream)


# --------------------------------------------------------------------------- customers


def normalize_customer(raw: dict[str, Any]) -> dict[str, Any]:
    inn = r.inn(raw)
    kind = r.text(raw, "kind", limit=10) or (
        CustomerKind.PERSON if inn and len(inn) == 12 and not raw.get("kpp") else None
    )
    kind = kind or CustomerKind.COMPANY
    if kind not in (CustomerKind.COMPANY, CustomerKind.PERSON):
        raise InvalidRecord(f"'kind' must be company or person: {kind}")
    return {
        "id": r.external_id(raw),
        "number": r.text(raw, "number", limit=32),
        "name": r.text(raw, "name", required=True, limit=300),
        "kind": str(kind),
        "inn": inn,
        "email": r.email(raw),
        "phone": r.text(raw, "phone", limit=32),
        "address": r.text(raw, "address", limit=1000),
        "price_type": r.text(raw, "price_type", limit=64),
        "active": r.flag(raw, "active", default=True),
    }


def upsert_customer(ctx: Context, rec: dict[str, Any], local_id: int | None) -> int:
    session = ctx.session
    customer = session.get(Customer, local_id) if local_id else None
    if customer is None and rec["inn"]:
        customer = _unbound_by_inn(ctx, rec["inn"])
    if customer is None:
        # A number taken by another customer fails the unique constraint: a dead letter.
        number = rec["number"] or _new_number(ctx, rec["id"])
        customer = Customer(number=number, name=rec["name"])
        session.add(customer)
    elif rec["number"] and rec["number"] != customer.number:
        customer.number = rec["number"]
        _check_number_free(session, customer)
    customer.name = rec["name"]
    customer.kind = rec["kind"]
    customer.inn = rec["inn"]
    customer.email = rec["email"]
    customer.phone = rec["phone"]
    customer.address = rec["address"]
    if rec["price_type"]:
        customer.price_type_code = rec["price_type"]
    # A customer blocked in the portal stays blocked whatever the ERP says.
    if customer.status != CustomerStatus.BLOCKED:
        customer.status = CustomerStatus.ACTIVE if rec["active"] else CustomerStatus.ARCHIVED
    session.flush()
    return customer.id


def _unbound_by_inn(ctx: Context, inn: str) -> Customer | None:
    """A customer entered in the CRM before the ERP knew it: bind it rather than duplicate.

    Only when exactly one customer has the INN and no other record of this ERP is bound to
    it (branches of one company share an INN and stay apart).
    """
    bound = (
        select(ExternalRef.id)
        .where(
            ExternalRef.entity == "customer",
            ExternalRef.local_id == Customer.id,
            ExternalRef.system == ctx.system,
        )
        .exists()
    )
    matches = ctx.session.scalars(
        select(Customer).where(Customer.inn == inn, ~bound).limit(2)
    ).all()
    return matches[0] if len(matches) == 1 else None


def _new_number(ctx: Context, external: str) -> str:
    return f"{ctx.system.upper()}-{external}"[:32]


def _check_number_free(session: Session, customer: Customer) -> None:
    query = select(func.count()).where(Customer.number == customer.number)
    if customer.id is not None:
        query = query.where(Customer.id != customer.id)
    with session.no_autoflush:
        if session.scalar(query):
            raise InvalidRecord(f"customer number {customer.number} belongs to another customer")


def deactivate_customers(session: Session, ids: list[int]) -> int:
    result = session.execute(
        update(Customer)
        .where(Customer.id.in_(ids), Customer.status == CustomerStatus.ACTIVE)
        .values(status=CustomerStatus.ARCHIVED)
    )
    return result.rowcount or 0


register(
    Handler(
        entity="customer",
        stream="customers",
        normalize=normalize_customer,
        upsert=upsert_customer,
        deactivate=deactivate_customers,
    )
)
