"""Fixtures of the console tests."""

from __future__ import annotations

import pytest

from tests.helpers import make_staff, sign_in


@pytest.fixture
def admin_client(client, db):
    """A test client signed in as an administrator (``client.staff`` is the member)."""
    member = make_staff(db, "admin")
    sign_in(client, db, member)
    client.staff = member
    return client
