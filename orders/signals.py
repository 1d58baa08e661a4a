"""What the orders package tells later packages (loyalty, support, the ERP bridge).

Receivers run in the sender's transaction and get its ``session``: what they write
commits or rolls back with the change that caused it.

- ``order_status_changed(sender, session, order_id, customer_id, old, new, amount)``:
  an order appeared (``old`` is None) or its status changed; ``amount`` is its total.
- ``reorder_status_changed(sender, session, reorder_id, customer_id, old, new)``:
  a reorder request was confirmed (``new`` is "sent"), accepted, rejected or cancelled.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

order_status_changed = _signals.signal("orders.order_status_changed")
reorder_status_changed = _signals.signal("orders.reorder_status_changed")
