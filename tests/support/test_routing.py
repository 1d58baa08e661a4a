"""The routing table: who is responsible for each kind of request, and at what priority."""

from __future__ import annotations

import pytest

from portal import runtime_settings
from portal.clock import frozen_at
from support import routing
from support.services import create_ticket
from tests.helpers import make_customer
from tests.support.conftest import MONDAY_10


def _ticket(db, customer, category, group=None):
    with frozen_at(MONDAY_10):
        ticket, _created = create_ticket(
            db, customer.id, category=category, subject="Тема", body="Текст", product_group=group
        )
    return ticket


@pytest.mark.parametrize(
    ("category", "group", "who", "team_code", "assignment"),
    [
        ("documents", None, "manager", "manager", "routed"),
        ("return", None, "manager", "manager", "routed"),
        ("technical", "electrical", "expert", "expert", "routed"),
        ("technical", "plumbing", "expert", "expert", "fallback"),
        ("question", None, "support", "support", "routed"),
        ("delivery", None, "support", "support", "routed"),
    ],
)
def test_route_by_category(rctx, db, team, customer, category, group, who, team_code, assignment):
    ticket = _ticket(db, customer, category, group)
    assert ticket.assignee_id == getattr(team, who).id
    assert ticket.team == team_code
    assert ticket.assignment == assignment


def test_support_rotation_takes_turns(rctx, db, team, customer):
    first = _ticket(db, customer, "question")
    second = _ticket(db, customer, "question")
    third = _ticket(db, customer, "question")
    assert {first.assignee_id, second.assignee_id} == {team.support.id, team.support2.id}
    assert third.assignee_id == first.assignee_id


def test_customer_without_manager_falls_back_to_support(rctx, db, team):
    orphan = make_customer(db)
    ticket = _ticket(db, orphan, "documents")
    assert ticket.assignee_id in (team.support.id, team.support2.id)
    assert ticket.assignment == "fallback"
    assert ticket.team == "support" or ticket.team == "manager"


def test_inactive_manager_is_not_routed_to(rctx, db, team, customer):
    team.manager.is_active = False
    db.commit()
    ticket = _ticket(db, customer, "documents")
    assert ticket.assignee_id != team.manager.id
    assert ticket.assignment == "fallback"


def test_expert_with_fewer_open_tickets_is_chosen(rctx, db, team, customer):
    from portal.models import ExpertCategory
    from tests.helpers import make_staff

    second = make_staff(db, "expert")
    second.expertise = [ExpertCategory(category_code="electrical")]
    db.commit()
    first = _ticket(db, customer, "technical", "electrical")
    other = _ticket(db, customer, "technical", "electrical")
    assert {first.assignee_id, other.assignee_id} == {team.expert.id, second.id}


def test_no_staff_at_all_refuses(rctx, db):
    customer = make_customer(db)
    with pytest.raises(routing.NoStaff):
        _ticket(db, customer, "question")


def test_priority_from_tier_and_category(rctx, db, team):
    platinum = make_customer(db, loyalty_tier="platinum", manager_id=team.manager.id)
    plain = make_customer(db, manager_id=team.manager.id)
    assert routing.priority(db, platinum, "complaint") == 1  # top customer's complaint first
    assert routing.priority(db, platinum, "question") == 2
    assert routing.priority(db, plain, "complaint") == 3
    assert routing.priority(db, plain, "question") == 4


def test_priority_weights_are_settings(rctx, db, team):
    plain = make_customer(db)
    runtime_settings.put(db, "support.category_points", {"question": 5}, staff_id=None)
    assert routing.priority(db, plain, "question") == 1


def test_priority_uses_turnover_when_orders_provides_it(rctx, db, team, monkeypatch):
    import sys
    import types
    from decimal import Decimal

    fake = types.ModuleType("orders.services")
    fake.customer_turnover = lambda session, customer_id, since: Decimal("12000000")
    monkeypatch.setitem(sys.modules, "orders.services", fake)
    plain = make_customer(db)
    assert routing.customer_value_points(db, plain) == 3
    assert routing.priority(db, plain, "complaint") == 1
