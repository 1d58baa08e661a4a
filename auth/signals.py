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

``colleague_invited(sender, session, customer_id, contact_id, invitation_id, by_contact_id,
name, email, role, needs_approval)``: a company's owner invited a colleague. With
``needs_approval`` the link works only once a key officer approves it.

``invitation_email_requested(sender, session, customer_id, contact_id, invitation_id, to,
name, url, needs_approval)``: the owner asked for the enrollment link to be emailed to
the colleague; ``url`` is the single-use link (never stored). The mail sender (support)
queues it; without one connected nothing is sent and the page says so.

``colleague_blocked(sender, session, customer_id, contact_id, by_kind, by_id, reason,
sessions_ended)``: a customer's person was blocked by the company's owner (``by_kind``
"customer", ``by_id`` the owner's contact id) or by staff ("staff", the staff id); their
sessions have ended and their keys no longer open the company.

Receivers run in the sender's transaction: what they queue commits with the change.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

key_needs_attention = _signals.signal("auth.key_needs_attention")
colleague_invited = _signals.signal("auth.colleague_invited")
colleague_blocked = _signals.signal("auth.colleague_blocked")
invitation_email_requested = _signals.signal("auth.invitation_email_requested")
key_registered = _signals.signal("auth.key_registered")
new_browser_sign_in = _signals.signal("auth.new_browser_sign_in")
