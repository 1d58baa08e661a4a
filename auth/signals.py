"""What the auth package tells later packages (they connect in their ``init_app``).

``key_needs_attention(sender, session, key_id, owner_kind, owner_id, reason)``: a key was
suspended as a possible clone, blocked after failures, or reported lost. Key officers see
it in the key desk's "needs attention" list; a mail sender may also notify them.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

key_needs_attention = _signals.signal("auth.key_needs_attention")
