"""Demo data of support: knowledge-base articles, canned answers, tickets in every status
(one overdue and escalated), callbacks in every state, and emails sent and failed."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.clock import now
from portal.models import Customer, Staff

from . import callbacks, escalation, kb, services
from .models import Callback, OutboxEmail
from .sla import MOSCOW

ARTICLES = [
    (
        "delivery-times",
        "Сроки и стоимость доставки",
        "доставка срок стоимость",
        "## Москва и область\n\nДоставляем **на следующий рабочий день** при заказе до 15:00.\n\n"
        "## Регионы\n\nЧерез транспортные компании, обычно **2–5 дней**. Номер накладной "
        "появится в заказе, как только груз передан перевозчику.\n",
    ),
    (
        "return-goods",
        "Как вернуть или обменять товар",
        "возврат обмен брак рекламация",
        "1. Откройте обращение с темой «Возврат или претензия».\n2. Приложите фото и акт.\n"
        "3. Менеджер согласует возврат в течение двух рабочих дней.\n\nБрак меняем за наш счёт.\n",
    ),
    (
        "closing-documents",
        "Закрывающие документы и акт сверки",
        "документы упд акт сверки счёт",
        "УПД и счета-фактуры доступны в карточке заказа. Акт сверки запросите у менеджера — "
        "пришлём в течение рабочего дня.\n",
    ),
    (
        "security-key",
        "Если ключ безопасности потерян",
        "ключ потерян вход",
        "Позвоните нам: мы **сразу отзовём** ключ и выдадим новый. Вход по старому ключу "
        "станет невозможен в ту же минуту.\n",
    ),
    (
        "payment-terms",
        "Отсрочка платежа",
        "оплата отсрочка лимит",
        "Отсрочка до 30 дней доступна постоянным клиентам. Условия — в разделе «Мои условия».\n",
    ),
]
CANNED = [
    ("Запросили документы", "Добрый день! Мы запросили документы на складе и пришлём их сегодня."),
    (
        "Замена брака",
        "Приносим извинения. Заменим товар за наш счёт: курьер заберёт брак при доставке.",
    ),
    ("Нужны фото", "Пришлите, пожалуйста, фото упаковки и маркировки — так мы быстрее разберёмся."),
]
TICKETS = [
    (
        "complaint",
        "Пришла битая плитка в заказе",
        "Три коробки из десяти разбиты, фото прилагаю.",
        "resolved",
    ),
    (
        "documents",
        "Нужен акт сверки за квартал",
        "Пришлите акт сверки за III квартал.",
        "waiting_customer",
    ),
    ("delivery", "Где мой заказ?", "Обещали вчера, до сих пор нет трек-номера.", "in_progress"),
    (
        "technical",
        "Какой автомат подобрать для бойлера?",
        "Бойлер 3 кВт, проводка медь 2,5.",
        "new",
    ),
    ("return", "Возврат лишних саморезов", "Заказали лишние 20 упаковок, хотим вернуть.", "closed"),
    ("question", "Можно ли забрать самовывозом?", "Есть ли склад в Москве для самовывоза?", "new"),
]


def load(session: Session, rng: random.Random) -> None:
    staff = {m.email: m for m in session.scalars(select(Staff))}
    author = staff.get("support@tekhsnab.example")
    author_id = author.id if author else None
    for slug, title, keywords, body in ARTICLES:
        kb.save(
            session,
            author_id,
            None,
            title=title,
            slug=slug,
            body=body,
            keywords=keywords,
            published=True,
        )
    for title, body in CANNED:
        services.save_canned(session, author_id, None, title, body)
    customers = list(session.scalars(select(Customer).order_by(Customer.id).limit(12)))
    if not customers or author is None:
        return
    customers[0].loyalty_tier = customers[0].loyalty_tier or "gold"
    for index, (category, subject, body, status) in enumerate(TICKETS):
        customer = customers[index % len(customers)]
        group = "electrical" if category == "technical" else None
        ticket, _ = services.create_ticket(
            session, customer.id, category=category, subject=subject, body=body, product_group=group
        )
        if status == "new":
            continue
        answer = "Добрый день! Разбираемся, вернёмся с ответом сегодня."
        resolution = "Заменили 3 коробки, доставка бесплатно." if category == "complaint" else None
        services.staff_reply(
            session,
            ticket.assignee_id,
            ticket,
            answer,
            status="in_progress" if status == "in_progress" else "waiting_customer",
        )
        if status in ("resolved", "closed"):
            services.change_status(
                session,
                ticket.assignee_id,
                ticket,
                status,
                resolution or "Возврат оформлен, деньги вернём за 5 дней.",
            )
    # One ticket opened long ago and never answered: overdue and escalated.
    late, _ = services.create_ticket(
        session,
        customers[1].id,
        category="complaint",
        subject="Не работает перфоратор после ремонта",
        body="Вернули из сервиса — снова не включается.",
    )
    late.created_at = now() - dt.timedelta(days=5)
    late.first_response_due = now() - dt.timedelta(days=4)
    late.resolution_due = now() - dt.timedelta(days=2)
    session.flush()
    escalation.run(session)
    _callbacks(session, customers, staff)
    _emails(session, customers)


def _callbacks(session: Session, customers: list[Customer], staff: dict[str, Staff]) -> None:
    today = now().astimezone(MOSCOW).date()
    states = ["new", "claimed", "retry", "reached", "wrong_number", "done", "cancelled", "new"]
    topics = ["commercial", "technical", "order", "other"]
    for index, state in enumerate(states):
        customer = customers[(index + 3) % len(customers)]
        day = today + dt.timedelta(days=(1 if state in ("new", "claimed") else -2))
        start = dt.datetime.combine(day, dt.time(10 + index % 6), MOSCOW)
        topic = topics[index % len(topics)]
        routed = callbacks.routing.route(
            session,
            customer,
            callbacks.TOPIC_TEAMS[topic],
            "electrical" if topic == "technical" else None,
        )
        row = Callback(
            customer_id=customer.id,
            topic=topic,
            phone=(customer.phone and callbacks.normalise_phone(customer.phone)) or "+74951204567",
            window_start=start,
            window_end=start + dt.timedelta(hours=2),
            team=routed.team,
            assignee_id=routed.assignee_id,
            product_group="electrical" if topic == "technical" else None,
            comment="Удобнее после обеда." if index % 2 else None,
            created_at=start - dt.timedelta(days=1),
        )
        session.add(row)
        session.flush()
        if state == "claimed":
            callbacks.claim(session, routed.assignee_id, row)
        elif state in ("retry", "reached", "wrong_number", "done"):
            outcome = "no_answer" if state == "retry" else state
            callbacks.record_outcome(
                session, routed.assignee_id, row, outcome, "Демо: звонок по заявке."
            )
        elif state == "cancelled":
            callbacks.cancel(session, customer.id, row.id)


def _emails(session: Session, customers: list[Customer]) -> None:
    moment = now()
    session.add(
        OutboxEmail(
            to=customers[0].email or "client@example.ru",
            subject="[№000001] Статус обращения изменён",
            body="Демо",
            status="sent",
            attempts=1,
            sent_at=moment,
            customer_id=customers[0].id,
        )
    )
    session.add(
        OutboxEmail(
            to="old-address@example.ru",
            subject="[№000002] Новый ответ",
            body="Демо",
            status="failed",
            attempts=8,
            last_error="SMTPRecipientsRefused: 550 5.1.1 mailbox unavailable",
            customer_id=customers[1].id,
        )
    )
