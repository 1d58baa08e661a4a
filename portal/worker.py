"""Entry point for ``celery -A portal.worker:celery``: builds the app and exposes its Celery."""

from portal import create_app
from portal.tasks import celery

app = create_app()

__all__ = ["app", "celery"]
