"""What the orders package tells later packages (loyalty, support, the ERP bridge).

Receivers run in the sender's transaction and get its ``session``: what they write
commits or rolls back with the change that caused it.

- ``order_status_changed(sender, session, order_id, customer_id, old, new, amount)``:
  an order appeared (``old`` is None) or its status changed; ``amount`` is its total.
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

from blinker import Namespace

_signals = Namespace()

order_status_changed = _signals.signal("orders.order_status_changed")
reorder_status_changed = _signals.signal("orders.reorder_status_changed")
statement_act_requested = _signals.signal("orders.statement_act_requested")


@dataclass(frozen=True)
class ActRequestTask:
    """What a receiver of ``statement_act_requested`` made: the task and its deadline."""

    task_id: int
    created: bool  # False: the same period was asked before, this is that task
    due: dt.datetime
    assignee: str
