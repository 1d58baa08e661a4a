"""Flask extensions shared by every package, created once and bound in the factory."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
babel = Babel()
# Storage is chosen in the factory: Redis when PORTAL_REDIS_URL is set, memory otherwise.
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)
