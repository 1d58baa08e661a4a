"""What the auth package tells later packages (they connect in their ``init_app``).

Receivers run in the sender's transaction: what they queue (an email in the outbox)
commits with the change, or not at all.

``key_needs_attention(sender, session, key_id, owner_kind, owner_id, reason)``: a key was
suspended as a possible clone (reason ``clone_suspected``), blocked after failures, or
reported lost. Key officers see it in the key desk's "needs attention" list; support
emails them, and the customer too for a clone alert.

``key_registered(sender, session, key_id, owner_kind, owner_id, mode)``: a new key now
opens the portal for its owner (``mode``: invitation, desk, self).

``new_browser_sign_in(sender, session, customer_id, key_id, browser, ip, occurred_at)``:
a customer signed in from a browser this customer had not used before (``auth.devices``).

``colleague_blocked(sender, session, customer_id, contact_id, blocked_by_contact_id)``:
the owner of a customer company blocked a colleague (their sessions ended, their keys no
longer open this company). Sent by the code that blocks people.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

key_needs_attention = _signals.signal("auth.key_needs_attention")
key_registered = _signals.signal("auth.key_registered")
new_browser_sign_in = _signals.signal("auth.new_browser_sign_in")
colleague_blocked = _signals.signal("auth.colleague_blocked")
