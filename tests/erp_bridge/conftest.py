"""Fixtures of the bridge's tests: an ERP client with its clear secret, the sample files."""

from __future__ import annotations

from pathlib import Path

import pytest

from erp_bridge import services

SAMPLES = Path(__file__).resolve().parents[2] / "erp_bridge" / "sample_data"


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def erp_client(db):
    """A 1C client with every scope; ``.secret`` is the clear secret shown once."""
    issued = services.create_client(
        db,
        name="1С:УТ",
        system="1c",
        login="1c-test",
        scopes=services.known_scopes(),
        encoding="windows-1251",
        staff_id=None,
    )
    db.commit()
    issued.client.secret = issued.secret
    return issued.client
