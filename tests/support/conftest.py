"""Fixtures of the support tests: a small staff with every role, a customer, files."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass

import pytest

from portal.models import ExpertCategory, Staff
from support.sla import MOSCOW
from tests.helpers import make_customer, make_staff

# Monday 23 November 2026, 10:00 Moscow time: a working morning.
MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=MOSCOW)


@dataclass
class Team:
    support: Staff
    support2: Staff
    manager: Staff
    expert: Staff
    admin: Staff


@pytest.fixture
def team(db) -> Team:
    expert = make_staff(db, "expert", name="Эксперт Электрики")
    expert.expertise = [ExpertCategory(category_code="electrical")]
    db.commit()
    return Team(
        support=make_staff(db, "support", name="Первый Поддержки"),
        support2=make_staff(db, "support", name="Второй Поддержки"),
        manager=make_staff(db, "manager", name="Менеджер Клиента"),
        expert=expert,
        admin=make_staff(db, "admin", name="Администратор"),
    )


@pytest.fixture
def customer(db, team):
    return make_customer(db, manager_id=team.manager.id, phone="+7 916 555-12-34")


def pdf_bytes() -> bytes:
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def png_bytes() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def plain_zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.exe", "MZ")
    return buffer.getvalue()


@pytest.fixture
def rctx(app):
    """A request context: services speak through gettext, which needs the reader's locale."""
    with app.test_request_context("/"):
        yield app
