"""What the orders package tells later packages (loyalty, support, the ERP bridge).

Receivers run in the sender's transaction and get its ``session``: what they write
commits or rolls back with the change that caused it.

- ``order_status_changed(sender, session, order_id, customer_id, old, new, amount)``:
  an order appeared (``old`` is None) or its status changed; ``amount`` is its total.
- ``order_statuses_changed(sender, session, changes)``: the same for a whole batch of the
  set-based ``upsert_orders`` (an ERP import), sent once per batch instead of one
  ``order_status_changed`` per order; ``changes`` is a list of ``StatusChange`` in the
  batch's order. A receiver of ``order_status_changed`` connects to this one too.
- ``reorder_status_changed(sender, session, reorder_id, customer_id, old, new)``:
  a reorder request was confirmed (``new`` is "sent"), accepted, rejected or cancelled.
- ``statement_act_requested(sender, session, customer_id, date_from, date_to, requested_by)``:
  the customer asks for a signed statement of account for [date_from, date_to] (dates);
  ``requested_by`` is the audit actor. A receiver that makes a task of it returns
  ``ActRequestTask``; the same period asked twice must answer the first task.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from blinker import Namespace

_signals = Namespace()

order_status_changed = _signals.signal("orders.order_status_changed")
order_statuses_changed = _signals.signal("orders.order_statuses_changed")
reorder_status_changed = _signals.signal("orders.reorder_status_changed")
statement_act_requested = _signals.signal("orders.statement_act_requested")


@dataclass(frozen=True)
class StatusChange:
    """One order of ``order_statuses_changed``: the arguments of ``order_status_changed``."""

    order_id: int
    customer_id: int
    old: str | None
    new: str
    amount: Decimal | None


@dataclass(frozen=True)
class ActRequestTask:
    """What a receiver of ``statement_act_requested`` made: the task and its deadline."""

    task_id: int
    created: bool  # False: the same period was asked before, this is that task
    due: dt.datetime
    assignee: str
