"""Demo data of the cabinet: a catalog with price types, and for the ~50 demo customers
two years of orders (~1,000) with lines, timelines, shipments, PDF documents, individual
prices, discounts, conditions and a few reorder requests.

The catalog goes through the same services the ERP bridge uses; the order history is
written as rows directly (with its past timestamps), which is what the services would
have produced over two years.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.clock import now
from portal.models import Customer

from . import pdf, services
from . import statement as statements
from .models import (
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusEvent,
    ReorderLine,
    ReorderRequest,
    ReorderStatus,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
)

ORDERS_TARGET = 1000
DOCUMENT_MONTHS = 12  # invoices and УПД are generated for this many recent months
KOPECK = Decimal("0.01")

PRICE_TYPES = [
    ("base", "Розничная (базовая)", Decimal("1.00")),
    ("wholesale", "Оптовая", Decimal("0.93")),
    ("dealer", "Дилерская", Decimal("0.88")),
    ("large_wholesale", "Крупный опт", Decimal("0.85")),
]
GROUPS = [
    ("fasteners", "Крепёж"),
    ("tools", "Электроинструмент"),
    ("hand_tools", "Ручной инструмент"),
    ("electrical", "Электротовары"),
    ("lighting", "Освещение"),
    ("plumbing", "Сантехника"),
    ("heating", "Отопление"),
]


def _catalog_items() -> Iterator[tuple[str, str, str, str, int]]:
    """(group, article, name, unit, base price in roubles)."""
    for d in (6, 8, 10, 12):
        for length in (30, 50, 80):
            yield (
                "fasteners",
                f"БМ-{d}{length}",
                f"Болт М{d}×{length} оцинкованный DIN 933",
                "шт",
                d + length // 10,
            )
    for d in (6, 8, 10, 12):
        yield "fasteners", f"ГМ-{d}", f"Гайка М{d} оцинкованная DIN 934", "шт", 2 + d // 3
        yield (
            "fasteners",
            f"ША-{d}",
            f"Шайба плоская М{d} DIN 125, упаковка 100 шт",
            "упак",
            90 + d * 12,
        )
    for a, b in ((3.5, 35), (4, 50), (5, 70), (6, 100)):
        yield (
            "fasteners",
            f"ШД-{a}{b}",
            f"Саморез по дереву {a}×{b}, упаковка 200 шт",
            "упак",
            int(150 + a * b),
        )
    yield "fasteners", "АК-1060", "Анкер-клин 10×60, упаковка 50 шт", "упак", 640
    for power in (500, 750, 1010):
        yield "tools", f"ДУ-{power}", f"Дрель ударная {power} Вт", "шт", 2400 + power * 4
    for joules in (2, 3, 4):
        yield (
            "tools",
            f"ПФ-{joules}",
            f"Перфоратор SDS-plus {joules} Дж",
            "шт",
            5200 + joules * 1900,
        )
    for volts in (12, 18):
        yield (
            "tools",
            f"ША-{volts}В",
            f"Шуруповёрт аккумуляторный {volts} В, 2 АКБ",
            "шт",
            3900 + volts * 260,
        )
    for disc in (125, 150, 230):
        yield "tools", f"УШМ-{disc}", f"Углошлифовальная машина {disc} мм", "шт", 2900 + disc * 21
    yield "tools", "ЛО-55", "Лобзик электрический 650 Вт", "шт", 4700
    for size in (8, 10, 13, 17, 19, 22):
        yield "hand_tools", f"КРК-{size}", f"Ключ рожково-накидной {size} мм", "шт", 160 + size * 11
    yield "hand_tools", "НО-94", "Набор отвёрток 6 предметов", "компл", 890
    yield "hand_tools", "МО-800", "Молоток слесарный 800 г", "шт", 620
    yield "hand_tools", "РУ-5", "Рулетка 5 м с фиксатором", "шт", 410
    yield "hand_tools", "УР-600", "Уровень строительный 600 мм", "шт", 780
    for section in (1.5, 2.5, 4):
        yield (
            "electrical",
            f"ВВГ-3{section}",
            f"Кабель ВВГнг-LS 3×{section}, бухта 100 м",
            "бухта",
            int(3200 + section * 2600),
        )
    for poles, amps in ((1, 16), (1, 25), (3, 32)):
        yield (
            "electrical",
            f"АВ-{poles}{amps}",
            f"Автоматический выключатель {poles}P {amps} А",
            "шт",
            240 + poles * 180 + amps * 4,
        )
    yield "electrical", "РЗ-2", "Розетка двойная с заземлением, белая", "шт", 290
    yield "electrical", "ВК-1", "Выключатель одноклавишный, белый", "шт", 180
    yield "electrical", "КР-100", "Коробка распаячная 100×100 IP55", "шт", 150
    for watts in (10, 20, 30, 50):
        yield (
            "lighting",
            f"ПЖ-{watts}",
            f"Прожектор светодиодный {watts} Вт IP65",
            "шт",
            540 + watts * 22,
        )
    for watts in (9, 12, 15):
        yield (
            "lighting",
            f"ЛЛ-{watts}",
            f"Лампа светодиодная {watts} Вт E27, 4000 K",
            "шт",
            90 + watts * 6,
        )
    yield "lighting", "СП-36", "Светильник потолочный 36 Вт 595×595", "шт", 1350
    for diameter in (16, 20, 26):
        yield (
            "plumbing",
            f"МП-{diameter}",
            f"Труба металлопластиковая {diameter} мм, бухта 50 м",
            "бухта",
            2100 + diameter * 95,
        )
        yield (
            "plumbing",
            f"ФП-{diameter}",
            f"Фитинг пресс угольник {diameter} мм",
            "шт",
            160 + diameter * 9,
        )
    yield "plumbing", "КШ-12", 'Кран шаровой 1/2" латунный', "шт", 420
    yield "plumbing", "СМ-40", "Смеситель для кухни однорычажный", "шт", 3400
    for sections in (6, 8, 10, 12):
        yield (
            "heating",
            f"РБ-{sections}",
            f"Радиатор биметаллический 500/80, {sections} секций",
            "шт",
            5200 + sections * 880,
        )
    yield "heating", "ТР-1", "Терморегулятор радиаторный угловой", "шт", 1150
    yield "heating", "НЦ-25", "Насос циркуляционный 25-40 180", "шт", 6900
    # Withdrawn products: still in old orders, no longer sold.
    yield "tools", "ДУ-OLD", "Дрель ударная 600 Вт (снята с производства)", "шт", 3100
    yield "lighting", "ЛН-60", "Лампа накаливания 60 Вт E27", "шт", 35


_WITHDRAWN = {"ДУ-OLD", "ЛН-60"}

CARRIERS = [
    ("СДЭК", "https://www.cdek.ru/ru/tracking?order_id={}"),
    ("Деловые Линии", "https://www.dellin.ru/tracker/?rwID={}"),
    ("ПЭК", "https://pecom.ru/services-are/shipment-status/?code={}"),
    ("Собственная доставка", None),
]
_OPEN_FLOW = [
    OrderStatus.NEW,
    OrderStatus.CONFIRMED,
    OrderStatus.ASSEMBLING,
    OrderStatus.SHIPPED,
    OrderStatus.IN_TRANSIT,
    OrderStatus.DELIVERED,
]
_COMMENTS = {
    OrderStatus.CONFIRMED: "Заказ подтверждён менеджером",
    OrderStatus.ASSEMBLING: "Передан на склад для сборки",
    OrderStatus.SHIPPED: "Передан перевозчику",
    OrderStatus.CANCELLED: "Отменён по просьбе клиента",
    OrderStatus.RETURNED: "Возврат: повреждение упаковки при доставке",
}


def load(session: Session, rng: random.Random) -> None:
    products = _load_catalog(session, rng)
    customers = list(session.scalars(select(Customer).order_by(Customer.id)))
    if not customers:
        return
    _load_terms(session, rng, customers, products)
    weights = [rng.uniform(0.3, 2.5) for _ in customers]
    scale = ORDERS_TARGET / sum(weights)
    moment = now()
    # Dates first, numbers after: the ERP numbers orders in the order they were placed.
    placed: list[tuple[dt.datetime, int]] = []
    for index, weight in enumerate(weights):
        for _ in range(max(3, round(weight * scale))):
            age = rng.uniform(0, 730) if rng.random() > 0.04 else rng.uniform(0, 6)
            placed.append(((moment - dt.timedelta(days=age)).replace(microsecond=0), index))
    placed.sort()
    plans: dict[int, list[tuple[int, dt.datetime]]] = {}
    for number, (at, index) in enumerate(placed, start=1):
        plans.setdefault(index, []).append((number, at))
    for index, customer in enumerate(customers):
        orders = _load_orders(session, rng, customer, products, plans.get(index, []))
        _load_documents(session, rng, customer, orders)
        _load_reorders(session, rng, customer, orders, products)
        session.flush()
        _load_payments(session, customer, orders)


# --------------------------------------------------------------------------- catalog


def _load_catalog(session: Session, rng: random.Random) -> list[dict]:
    for code, name, _factor in PRICE_TYPES:
        services.upsert_price_type(session, code=code, name=name)
    for code, name in GROUPS:
        services.upsert_product_group(session, code=code, name=name)
    products = []
    for index, (group, article, name, unit, base) in enumerate(_catalog_items(), start=1):
        product_id = services.upsert_product(
            session,
            external_id=f"demo-{index:04d}",
            article=article,
            name=name,
            group_code=group,
            unit=unit,
            active=article not in _WITHDRAWN,
        )
        base_price = Decimal(base) + Decimal(rng.choice((0, 0, 50, 90))) / 100
        for code, _name, factor in PRICE_TYPES:
            services.set_price(
                session,
                product_id=product_id,
                price_type_code=code,
                price=(base_price * factor).quantize(KOPECK, ROUND_HALF_UP),
            )
        products.append(
            {
                "id": product_id,
                "article": article,
                "name": name,
                "unit": unit,
                "group": group,
                "base": base_price,
                "active": article not in _WITHDRAWN,
            }
        )
    return products


# --------------------------------------------------------------------------- terms


def _load_terms(
    session: Session, rng: random.Random, customers: list[Customer], products: list[dict]
) -> None:
    today = services.today_local()
    for index, customer in enumerate(customers):
        customer.price_type_code = rng.choices(
            [None, "wholesale", "dealer", "large_wholesale"], weights=[2, 4, 3, 1]
        )[0]
        if index % 2 == 0:
            for product in rng.sample([p for p in products if p["active"]], rng.randint(3, 9)):
                services.set_individual_price(
                    session,
                    customer_id=customer.id,
                    product_id=product["id"],
                    price=(product["base"] * Decimal(rng.uniform(0.78, 0.86))).quantize(KOPECK),
                    valid_to=today + dt.timedelta(days=rng.randint(60, 300)),
                )
        discounts = []
        if rng.random() < 0.4:
            discounts.append(services.DiscountData("customer", Decimal(rng.choice((2, 3, 5)))))
        for code, _name in rng.sample(GROUPS, rng.randint(0, 2)):
            discounts.append(
                services.DiscountData("group", Decimal(rng.choice((4, 6, 8, 10))), group_code=code)
            )
        if rng.random() < 0.3:
            discounts.append(services.DiscountData("volume", Decimal(3), min_quantity=100))
            discounts.append(services.DiscountData("volume", Decimal(5), min_quantity=500))
        services.replace_discounts(session, customer.id, discounts)
        _load_conditions(session, rng, customer, index, today)


def _load_conditions(
    session: Session, rng: random.Random, customer: Customer, index: int, today: dt.date
) -> None:
    year = today.year
    deferment = rng.choice((0, 14, 30, 45, 60))
    limit = Decimal(rng.choice((0, 200_000, 500_000, 1_000_000, 3_000_000))) if deferment else 0
    terms = f"Отсрочка платежа {deferment} календарных дней" if deferment else "100% предоплата"
    delivery = rng.choice(
        [
            "Доставка до склада покупателя за счёт поставщика при заказе от 30 000 ₽",
            "Самовывоз со склада в Москве, ул. Складочная, 1",
            "Доставка транспортной компанией за счёт покупателя",
        ]
    )
    number = f"П-{year - 1}/{index + 101:03d}"
    services.upsert_condition(
        session,
        customer_id=customer.id,
        contract_number=number,
        contract_date=dt.date(year - 2, 12, 20),
        valid_from=dt.date(year - 1, 1, 1),
        valid_to=dt.date(year - 1, 12, 31),
        payment_terms="100% предоплата",
        delivery_terms=delivery,
    )
    if index % 12 == 11:
        return  # this customer's contract has expired: nothing current to show
    services.upsert_condition(
        session,
        customer_id=customer.id,
        contract_number=f"П-{year}/{index + 101:03d}",
        contract_date=dt.date(year - 1, 12, 15),
        valid_from=dt.date(year, 1, 1),
        valid_to=dt.date(year, 12, 31),
        payment_terms=terms,
        deferment_days=deferment,
        credit_limit=limit,
        debt=(limit * Decimal(rng.uniform(0, 0.7))).quantize(Decimal(1)) if limit else 0,
        delivery_terms=delivery,
    )


# --------------------------------------------------------------------------- orders


def _final_status(rng: random.Random, age_days: float) -> OrderStatus:
    """Old orders are settled; recent ones are somewhere along the way."""
    if age_days > 21:
        return rng.choices(
            [OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.RETURNED],
            weights=[90, 7, 3],
        )[0]
    if age_days < 1:
        return rng.choice([OrderStatus.NEW, OrderStatus.CONFIRMED])
    if age_days < 3:
        return rng.choice([OrderStatus.CONFIRMED, OrderStatus.ASSEMBLING, OrderStatus.SHIPPED])
    if age_days < 8:
        return rng.choice([OrderStatus.SHIPPED, OrderStatus.IN_TRANSIT, OrderStatus.IN_TRANSIT])
    return rng.choices([OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED], weights=[1, 4])[0]


def _load_orders(
    session: Session,
    rng: random.Random,
    customer: Customer,
    products: list[dict],
    plan: list[tuple[int, dt.datetime]],
) -> list[tuple[Order, list[OrderLine]]]:
    moment = now()
    made = []
    favourites = rng.sample(products, min(len(products), rng.randint(8, 20)))
    for number, placed in plan:
        status = _final_status(rng, (moment - placed).total_seconds() / 86_400)
        lines = []
        for line_no, product in enumerate(
            rng.sample(favourites, rng.randint(1, min(8, len(favourites)))), start=1
        ):
            quantity = Decimal(rng.choice((1, 2, 3, 5, 10, 20, 50, 100, 200)))
            if product["base"] > 2000:
                quantity = Decimal(rng.randint(1, 6))
            discount = Decimal(rng.choice((0, 0, 3, 5)))
            price = (product["base"] * (1 - discount / 100)).quantize(KOPECK)
            lines.append(
                OrderLine(
                    line_no=line_no,
                    product_id=product["id"],
                    article=product["article"],
                    name=product["name"],
                    unit=product["unit"],
                    quantity=quantity,
                    unit_price=price,
                    discount_percent=discount,
                    amount=(price * quantity).quantize(KOPECK),
                )
            )
        total = sum((line.amount for line in lines), Decimal(0))
        order = Order(
            customer_id=customer.id,
            external_id=f"demo-order-{number}",
            number=f"ЗК-{placed.year % 100:02d}-{number:05d}",
            placed_at=placed,
            status=status,
            currency="RUB",
            total=total,
            vat=(total * 20 / 120).quantize(KOPECK, ROUND_HALF_UP),
            payment_status=_payment(rng, status),
            line_count=len(lines),
            lines=lines,
        )
        session.add(order)
        session.flush()
        _timeline(session, rng, order, moment)
        made.append((order, lines))
    return made


def _payment(rng: random.Random, status: OrderStatus) -> str:
    if status in (OrderStatus.DELIVERED, OrderStatus.RETURNED):
        return rng.choices(["paid", "partial", "unpaid"], weights=[85, 10, 5])[0]
    if status == OrderStatus.CANCELLED:
        return "unpaid"
    return rng.choice(["unpaid", "unpaid", "partial", "paid"])


def _timeline(session: Session, rng: random.Random, order: Order, moment: dt.datetime) -> None:
    """The order's steps up to its status, and its shipment(s) with their own steps."""
    if order.status in (OrderStatus.CANCELLED,):
        steps = [OrderStatus.NEW, OrderStatus.CONFIRMED, OrderStatus.CANCELLED]
    elif order.status == OrderStatus.RETURNED:
        steps = [*_OPEN_FLOW, OrderStatus.RETURNED]
    else:
        steps = _OPEN_FLOW[: _OPEN_FLOW.index(OrderStatus(order.status)) + 1]
    at = order.placed_at
    times = {}
    for step in steps:
        if step != OrderStatus.NEW:
            at = min(at + dt.timedelta(hours=rng.uniform(2, 40)), moment)
        times[step] = at
        session.add(
            OrderStatusEvent(
                order_id=order.id, status=step, occurred_at=at, comment=_COMMENTS.get(step)
            )
        )
    if OrderStatus.SHIPPED in times:
        _shipment(session, rng, order, times, moment)


def _shipment(
    session: Session,
    rng: random.Random,
    order: Order,
    times: dict[OrderStatus, dt.datetime],
    moment: dt.datetime,
) -> None:
    carrier, url = rng.choice(CARRIERS)
    tracking = f"{rng.randint(10**9, 10**10 - 1)}"
    shipped = times[OrderStatus.SHIPPED]
    expected = shipped + dt.timedelta(days=rng.randint(2, 7))
    delivered = times.get(OrderStatus.DELIVERED)
    status = {
        OrderStatus.SHIPPED: ShipmentStatus.SHIPPED,
        OrderStatus.IN_TRANSIT: ShipmentStatus.IN_TRANSIT,
        OrderStatus.DELIVERED: ShipmentStatus.DELIVERED,
        OrderStatus.RETURNED: ShipmentStatus.RETURNED,
    }[OrderStatus(order.status)]
    if status == ShipmentStatus.IN_TRANSIT and expected < moment:
        expected = moment + dt.timedelta(days=rng.randint(1, 3))
    shipment = Shipment(
        customer_id=order.customer_id,
        order_id=order.id,
        external_id=f"demo-shipment-{order.id}",
        number=f"ОТ-{order.number[3:]}",
        carrier=carrier,
        tracking_number=tracking if url else None,
        tracking_url=url.format(tracking) if url else None,
        status=status,
        shipped_at=shipped,
        expected_at=expected,
        delivered_at=delivered if status == ShipmentStatus.DELIVERED else None,
    )
    session.add(shipment)
    session.flush()
    steps = [(ShipmentStatus.SHIPPED, shipped, f"Принят перевозчиком «{carrier}»")]
    if OrderStatus.IN_TRANSIT in times:
        steps.append((ShipmentStatus.IN_TRANSIT, times[OrderStatus.IN_TRANSIT], "В пути"))
    if delivered:
        steps.append((ShipmentStatus.DELIVERED, delivered, "Вручён получателю"))
    if status == ShipmentStatus.RETURNED:
        steps.append((ShipmentStatus.RETURNED, times[OrderStatus.RETURNED], "Возврат отправителю"))
    for step, at, comment in steps:
        session.add(
            ShipmentEvent(shipment_id=shipment.id, status=step, occurred_at=at, comment=comment)
        )


# --------------------------------------------------------------------------- documents


def _load_documents(
    session: Session,
    rng: random.Random,
    customer: Customer,
    orders: list[tuple[Order, list[OrderLine]]],
) -> None:
    company = current_app.config["PORTAL"].company
    moment = now()
    since = moment - dt.timedelta(days=DOCUMENT_MONTHS * 30)

    def doc(kind: str, number: str, issued: dt.datetime, **extra) -> bytes:
        return pdf.render(
            pdf.DocData(
                kind=kind,
                number=number,
                issued_at=issued,
                seller=company.name,
                seller_address=company.address,
                buyer=customer.name,
                buyer_inn=customer.inn,
                buyer_address=customer.address,
                **extra,
            )
        )

    condition = services.current_condition(session, customer.id)
    if condition is not None:
        issued = dt.datetime.combine(
            condition.contract_date or condition.valid_from, dt.time(9), dt.UTC
        )
        services.add_document(
            session,
            customer_id=customer.id,
            order_id=None,
            kind="contract",
            number=condition.contract_number,
            issued_at=issued,
            filename=f"Договор {condition.contract_number}.pdf",
            content=doc(
                "contract",
                condition.contract_number,
                issued,
                text=(
                    f"Поставщик обязуется поставлять, а Покупатель — принимать и оплачивать товары "
                    f"по ценам, действующим на дату заказа. Условия оплаты: "
                    f"{condition.payment_terms}.\n\n"
                    f"Условия доставки: {condition.delivery_terms}.\n\n"
                    f"Срок действия договора — по {condition.valid_to:%d.%m.%Y}."
                ),
            ),
        )
    quarter_end = dt.datetime(moment.year, ((moment.month - 1) // 3) * 3 + 1, 1, 9, tzinfo=dt.UTC)
    services.add_document(
        session,
        customer_id=customer.id,
        order_id=None,
        kind="act",
        number=f"АС-{customer.number}-{quarter_end:%y%m}",
        issued_at=quarter_end,
        filename=f"Акт сверки {quarter_end:%m.%Y}.pdf",
        content=doc(
            "act",
            f"АС-{customer.number}-{quarter_end:%y%m}",
            quarter_end,
            text="Сальдо взаимных расчётов на конец периода подтверждено сторонами.",
        ),
    )
    for order, lines in orders:
        if order.placed_at < since or order.status == OrderStatus.CANCELLED:
            continue
        doc_lines = tuple(
            pdf.DocLine(
                line.article, line.name, line.quantity, line.unit, line.unit_price, line.amount
            )
            for line in lines
        )
        basis = f"Заказ {order.number} от {order.placed_at:%d.%m.%Y}"
        digits = order.number[3:]
        issued = order.placed_at + dt.timedelta(hours=1)
        services.add_document(
            session,
            customer_id=customer.id,
            order_id=order.id,
            kind="invoice",
            number=f"СЧ-{digits}",
            issued_at=issued,
            filename=f"Счёт СЧ-{digits}.pdf",
            content=doc(
                "invoice",
                f"СЧ-{digits}",
                issued,
                basis=basis,
                lines=doc_lines,
                total=order.total,
                vat=order.vat,
            ),
        )
        if order.status in (OrderStatus.DELIVERED, OrderStatus.RETURNED):
            shipped = order.placed_at + dt.timedelta(days=2)
            services.add_document(
                session,
                customer_id=customer.id,
                order_id=order.id,
                kind="delivery_note",
                number=f"УПД-{digits}",
                issued_at=shipped,
                filename=f"УПД УПД-{digits}.pdf",
                content=doc(
                    "delivery_note",
                    f"УПД-{digits}",
                    shipped,
                    basis=basis,
                    lines=doc_lines,
                    total=order.total,
                    vat=order.vat,
                ),
            )


# --------------------------------------------------------------------------- payments


def _load_payments(
    session: Session, customer: Customer, orders: list[tuple[Order, list[OrderLine]]]
) -> None:
    """Bank payments for the shipped orders as their payment status says (in full, half,
    or not yet), refunds of returned orders, and now and then a payment the ERP un-posted
    and entered again: a statement of account with every kind of line.

    Its own random generator (seeded by the customer): the shared one keeps the sequence
    the other demo loaders rely on."""
    rng = random.Random(customer.id * 7919)
    moment = now()
    by_id = {order.id: order for order, _lines in orders}
    rows: list[services.PaymentInput] = []
    shipped = [
        op
        for op in statements.operations_until(session, customer.id, moment)
        if op.kind == statements.SHIPMENT
    ]
    for op in sorted(shipped, key=lambda found: found.moment):
        order = by_id.get(op.source[1])
        if order is None or order.payment_status == "unpaid":
            continue
        amount = order.total if order.payment_status == "paid" else (order.total / 2)
        amount = amount.quantize(KOPECK, ROUND_HALF_UP)
        paid_at = min(op.moment + dt.timedelta(days=rng.uniform(1, 12)), moment)
        number = f"ПП-{order.number[3:]}"
        common = {
            "customer_id": customer.id,
            "order_id": order.id,
            "paid_at": paid_at.replace(microsecond=0),
            "amount": amount,
            "purpose": f"Оплата по счёту СЧ-{order.number[3:]}, в т. ч. НДС 20 %",
        }
        if rng.random() < 0.06 and paid_at + dt.timedelta(days=3) < moment:
            # Entered with a mistake, un-posted in 1C three days later, entered again.
            rows.append(
                services.PaymentInput(
                    external_id=f"demo-payment-{order.id}-x",
                    number=f"{number}-1",
                    cancelled=True,
                    cancelled_at=common["paid_at"] + dt.timedelta(days=3),
                    **common,
                )
            )
            common["paid_at"] += dt.timedelta(days=3, hours=2)
        rows.append(
            services.PaymentInput(external_id=f"demo-payment-{order.id}", number=number, **common)
        )
        if order.status == OrderStatus.RETURNED:
            rows.append(
                services.PaymentInput(
                    customer_id=customer.id,
                    external_id=f"demo-refund-{order.id}",
                    number=f"ВД-{order.number[3:]}",
                    paid_at=min(common["paid_at"] + dt.timedelta(days=14), moment),
                    amount=amount,
                    kind="refund",
                    order_id=order.id,
                    purpose=f"Возврат оплаты по заказу {order.number}",
                )
            )
    done = services.upsert_payments(session, rows)
    if done.rejected:
        raise RuntimeError(f"demo payments refused: {done.rejected}")


# --------------------------------------------------------------------------- reorders


def _load_reorders(
    session: Session,
    rng: random.Random,
    customer: Customer,
    orders: list[tuple[Order, list[OrderLine]]],
    products: list[dict],
) -> None:
    if rng.random() > 0.35 or not orders:
        return
    by_id = {p["id"]: p for p in products}
    outcomes = rng.sample(
        [ReorderStatus.SENT, ReorderStatus.ACCEPTED, ReorderStatus.REJECTED, ReorderStatus.SENT],
        rng.randint(1, 2),
    )
    for attempt, status in enumerate(outcomes):
        order, lines = rng.choice(orders)
        usable = [line for line in lines if by_id[line.product_id]["active"]]
        if not usable:
            continue
        created = now() - dt.timedelta(days=rng.uniform(0.5, 20))
        reorder = ReorderRequest(
            customer_id=customer.id,
            source_order_id=order.id,
            idempotency_key=f"demo-{customer.id}-{order.id}-{attempt}",
            status=status,
            created_at=created,
            confirmed_at=created + dt.timedelta(minutes=5),
            exported_at=created + dt.timedelta(minutes=10),
            decided_at=created + dt.timedelta(hours=3) if status != ReorderStatus.SENT else None,
            reason="Товар временно отсутствует на складе, ожидаем поставку"
            if status == ReorderStatus.REJECTED
            else None,
            unavailable=[],
        )
        reorder.lines = [
            ReorderLine(
                line_no=index,
                product_id=line.product_id,
                article=line.article,
                name=line.name,
                unit=line.unit,
                quantity=int(line.quantity),
                unit_price=line.unit_price,
                discount_percent=line.discount_percent,
                amount=line.amount,
            )
            for index, line in enumerate(usable, start=1)
        ]
        reorder.total = sum((line.amount for line in reorder.lines), Decimal(0))
        session.add(reorder)
