"""Tickets from both sides: creation, thread, statuses, the complaint rule, merge, reopen."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from portal.clock import advance, frozen_at
from support import services
from support.models import Message, OutboxEmail, Ticket
from tests.helpers import make_customer
from tests.support.conftest import MONDAY_10


def _open(db, customer, category="question", key=None, subject="Не пришёл счёт"):
    ticket, _created = services.create_ticket(
        db, customer.id, category=category, subject=subject, body="Текст", idempotency_key=key
    )
    return ticket


def test_new_ticket_has_responsible_deadlines_and_notifications(rctx, db, team, customer):
    with frozen_at(MONDAY_10):
        ticket = _open(db, customer)
        db.commit()
    assert ticket.status == "new"
    assert ticket.assignee_id in (team.support.id, team.support2.id)
    # priority 4 (plain customer, question): first answer in 8 working hours
    assert ticket.first_response_due == MONDAY_10 + dt.timedelta(hours=8)
    assert ticket.resolution_due > ticket.first_response_due
    mails = db.scalars(select(OutboxEmail)).all()
    assert {m.to for m in mails} == {customer.email, ticket.assignee.email}


def test_idempotency_key_makes_one_ticket(rctx, db, team, customer):
    first, created = services.create_ticket(
        db, customer.id, category="question", subject="Тема", body="x", idempotency_key="k1"
    )
    again, created_again = services.create_ticket(
        db, customer.id, category="question", subject="Тема", body="x", idempotency_key="k1"
    )
    assert created and not created_again and first.id == again.id
    other = make_customer(db)
    theirs, created_other = services.create_ticket(
        db, other.id, category="question", subject="Тема", body="x", idempotency_key="k1"
    )
    assert created_other and theirs.id != first.id


@pytest.mark.parametrize("column", ["assignee_id", "resolution_due", "first_response_due"])
def test_database_refuses_a_ticket_without_responsible_or_deadline(
    rctx, db, team, customer, column
):
    ticket = _open(db, customer)
    db.commit()
    with pytest.raises(IntegrityError):
        db.execute(
            text(f"UPDATE support_ticket SET {column} = NULL WHERE id = :id"), {"id": ticket.id}
        )
        db.flush()
    db.rollback()


def test_database_refuses_a_closed_complaint_without_resolution(rctx, db, team, customer):
    ticket = _open(db, customer, "complaint")
    db.commit()
    with pytest.raises(IntegrityError):
        db.execute(
            text("UPDATE support_ticket SET status = 'closed' WHERE id = :id"), {"id": ticket.id}
        )
    db.rollback()


def test_complaint_needs_a_resolution_to_resolve(rctx, db, team, customer):
    ticket = _open(db, customer, "complaint")
    with pytest.raises(services.TicketError):
        services.change_status(db, team.support.id, ticket, "resolved")
    services.change_status(db, team.support.id, ticket, "resolved", "Заменили товар")
    db.commit()
    assert ticket.status == "resolved" and ticket.resolution == "Заменили товар"


def test_customer_closing_a_complaint_must_say_how(rctx, db, team, customer):
    ticket = _open(db, customer, "complaint")
    with pytest.raises(services.TicketError):
        services.customer_close(db, customer.id, ticket.id, "")
    services.customer_close(db, customer.id, ticket.id, "Договорились о скидке")
    assert ticket.status == "closed"
    assert "Договорились о скидке" in ticket.resolution


def test_staff_answer_stops_first_response_clock_and_mails_customer(rctx, db, team, customer):
    with frozen_at(MONDAY_10):
        ticket = _open(db, customer)
        advance(dt.timedelta(hours=1))
        services.staff_reply(db, team.support.id, ticket, "Счёт отправлен повторно.")
        db.commit()
        assert ticket.first_response_at == MONDAY_10 + dt.timedelta(hours=1)
    assert ticket.status == "waiting_customer"
    subjects = [
        m.subject for m in db.scalars(select(OutboxEmail).where(OutboxEmail.to == customer.email))
    ]
    assert any("Не пришёл счёт" in s and "№" in s for s in subjects)
    assert len(subjects) == 2  # registered + answered


def test_customer_reply_brings_ticket_back_to_work(rctx, db, team, customer):
    ticket = _open(db, customer)
    services.staff_reply(db, team.support.id, ticket, "Уточните номер заказа")
    services.customer_reply(db, customer.id, ticket.id, "Заказ 123")
    assert ticket.status == "in_progress"


def test_internal_notes_never_reach_the_customer(rctx, db, team, customer):
    ticket = _open(db, customer)
    services.add_note(db, team.support.id, ticket, "Клиент сложный, проверить оплату")
    db.commit()
    public = services.public_thread(db, ticket)
    assert all("сложный" not in m.body for m in public)
    assert any("сложный" in m.body for m in services.staff_thread(db, ticket))
    mails = db.scalars(select(OutboxEmail.body)).all()
    assert all("сложный" not in body for body in mails)


def test_other_customers_ticket_is_invisible(rctx, db, team, customer):
    ticket = _open(db, customer)
    other = make_customer(db)
    assert services.get_ticket(db, other.id, ticket.id) is None
    with pytest.raises(LookupError):
        services.customer_reply(db, other.id, ticket.id, "чужое")


def test_reopen_within_14_days_only(rctx, db, team, customer):
    with frozen_at(MONDAY_10):
        ticket = _open(db, customer)
        services.change_status(db, team.support.id, ticket, "resolved", "Готово")
        advance(dt.timedelta(days=13))
        services.customer_reopen(db, customer.id, ticket.id, "Снова не работает")
        assert ticket.status == "in_progress"
        assert ticket.resolution_due > MONDAY_10 + dt.timedelta(days=13)
        services.change_status(db, team.support.id, ticket, "closed", "Готово")
        advance(dt.timedelta(days=15))
        with pytest.raises(services.TicketError):
            services.customer_reopen(db, customer.id, ticket.id, "")


def test_reassign_is_recorded_and_notifies(rctx, db, team, customer):
    ticket = _open(db, customer)
    services.reassign(db, team.admin.id, ticket, team.expert.id)
    db.commit()
    assert ticket.assignee_id == team.expert.id and ticket.assignment == "manual"
    notes = [m for m in services.staff_thread(db, ticket) if m.author_kind == "system"]
    assert notes and notes[0].internal
    assert db.scalar(select(OutboxEmail).where(OutboxEmail.to == team.expert.email)) is not None


def test_merge_duplicates(rctx, db, team, customer):
    first = _open(db, customer, subject="Нет счёта")
    duplicate = _open(db, customer, subject="Нет счёта (повтор)")
    target = services.merge(db, team.support.id, duplicate, first.id)
    db.commit()
    assert target.id == first.id
    assert duplicate.status == "closed" and duplicate.merged_into_id == first.id
    bodies = [m.ticket_id for m in db.scalars(select(Message))]
    assert set(bodies) == {first.id}
    other = _open(db, make_customer(db))
    with pytest.raises(services.TicketError):
        services.merge(db, team.support.id, other, first.id)


def test_queues(rctx, db, team, customer):
    with frozen_at(MONDAY_10):
        mine = _open(db, customer, "documents")  # the manager's
        _open(db, customer, "question")
        db.commit()
        scope = services.StaffScope.of(team.manager.id, frozenset({"manager"}))
        rows, total = services.staff_queue(db, scope, services.QueueFilter("mine"))
        assert [r.id for r in rows] == [mine.id] and total == 1
        advance(dt.timedelta(days=7))
        support_scope = services.StaffScope.of(team.support.id, frozenset({"support"}))
        overdue, count = services.staff_queue(db, support_scope, services.QueueFilter("overdue"))
        assert count == 2 and all(t.is_overdue(MONDAY_10 + dt.timedelta(days=7)) for t in overdue)
        found, _n = services.staff_queue(
            db, support_scope, services.QueueFilter("all", text=customer.number)
        )
        assert len(found) == 2
        by_category, _n = services.staff_queue(
            db, support_scope, services.QueueFilter("all", category="documents")
        )
        assert [t.id for t in by_category] == [mine.id]


def test_manager_sees_only_own_customers(rctx, db, team, customer):
    stranger = make_customer(db)
    theirs = _open(db, stranger, "question")
    scope = services.StaffScope.of(team.manager.id, frozenset({"manager"}))
    assert services.staff_ticket(db, scope, theirs.id) is None
    db.commit()
    assert db.get(Ticket, theirs.id) is not None
