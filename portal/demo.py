"""``portal demo load``: a realistic demo company, loaded once.

The core loads staff and ~50 customers with Russian names, addresses and contact
history; every capability adds its own data through a registered demo loader.
"""

from __future__ import annotations

import random

from flask import current_app
from sqlalchemy.orm import Session

from portal import runtime_settings
from portal.db import session_scope
from portal.models import (
    Contact,
    Customer,
    CustomerKind,
    ExpertCategory,
    Interaction,
    Staff,
    StaffRole,
    StaffRoleGrant,
)
from portal.registry import get_registry

runtime_settings.define("demo.loaded", False, "Demo data loaded")

SEED = 20261123

STAFF = [
    ("Ирина Волкова", "admin@tekhsnab.example", ["admin"], []),
    ("Олег Смирнов", "keys@tekhsnab.example", ["key_officer"], []),
    ("Анна Кузнецова", "a.kuznetsova@tekhsnab.example", ["manager"], []),
    ("Дмитрий Орлов", "d.orlov@tekhsnab.example", ["manager"], []),
    ("Елена Павлова", "e.pavlova@tekhsnab.example", ["manager", "key_officer"], []),
    ("Сергей Лебедев", "support@tekhsnab.example", ["support"], []),
    ("Мария Соколова", "m.sokolova@tekhsnab.example", ["support"], []),
    ("Виктор Зайцев", "v.zaitsev@tekhsnab.example", ["expert"], ["fasteners", "tools"]),
    ("Наталья Морозова", "n.morozova@tekhsnab.example", ["expert"], ["electrical", "lighting"]),
    ("Алексей Новиков", "a.novikov@tekhsnab.example", ["expert"], ["plumbing", "heating"]),
]

_COMPANY_FORMS = ["ООО", "АО", "ООО", "ООО", "ИП"]
_COMPANY_WORDS = [
    "Стройдом",
    "Северный ветер",
    "Техмонтаж",
    "Уралсталь-Сервис",
    "Волга-Строй",
    "Вектор",
    "Альфа-Ремонт",
    "Мастерская Левши",
    "ЭнергоПуть",
    "Сибирский двор",
    "Берёзка",
    "Гранит",
    "Монолит",
    "Меридиан",
    "Северсталь-Торг",
    "Полимер-Профи",
    "Кровля Плюс",
    "АкваТерм",
    "Светлый дом",
    "ТеплоЛюкс",
    "Инструмент-Центр",
    "Крепёж-Опт",
    "ДомСтрой",
    "Ладога",
    "Горизонт",
    "Ока-Трейд",
    "Промснаб",
    "Электромир",
    "Камская верфь",
    "Сантех-Эксперт",
]
_FIRST = [
    "Александр",
    "Мария",
    "Иван",
    "Ольга",
    "Пётр",
    "Татьяна",
    "Николай",
    "Светлана",
    "Андрей",
    "Екатерина",
    "Михаил",
    "Юлия",
    "Владимир",
    "Наталья",
    "Григорий",
    "Анастасия",
]
_PATRONYMIC_M = ["Иванович", "Петрович", "Сергеевич", "Алексеевич", "Николаевич", "Андреевич"]
_PATRONYMIC_F = ["Ивановна", "Петровна", "Сергеевна", "Алексеевна", "Николаевна", "Андреевна"]
_LAST_M = [
    "Иванов",
    "Петров",
    "Сидоров",
    "Кузнецов",
    "Соколов",
    "Попов",
    "Лебедев",
    "Козлов",
    "Новиков",
    "Морозов",
    "Волков",
    "Фёдоров",
]
_FEMALE = {"Мария", "Ольга", "Татьяна", "Светлана", "Екатерина", "Юлия", "Наталья", "Анастасия"}
_CITIES = [
    ("Москва", "ул. Тверская", "125009"),
    ("Санкт-Петербург", "Невский пр-т", "191025"),
    ("Казань", "ул. Баумана", "420111"),
    ("Екатеринбург", "ул. Малышева", "620014"),
    ("Нижний Новгород", "ул. Большая Покровская", "603005"),
    ("Самара", "ул. Куйбышева", "443099"),
    ("Новосибирск", "Красный пр-т", "630007"),
    ("Ярославль", "ул. Свободы", "150000"),
    ("Тверь", "ул. Советская", "170100"),
    ("Калуга", "ул. Кирова", "248000"),
]
_POSITIONS = [
    "Генеральный директор",
    "Главный бухгалтер",
    "Менеджер по закупкам",
    "Инженер-снабженец",
    "Прораб",
    "Заведующий складом",
]


def person_name(rng: random.Random) -> str:
    first = rng.choice(_FIRST)
    last = rng.choice(_LAST_M)
    if first in _FEMALE:
        return f"{last}а {first} {rng.choice(_PATRONYMIC_F)}"
    return f"{last} {first} {rng.choice(_PATRONYMIC_M)}"


def _phone(rng: random.Random) -> str:
    digits = (rng.randint(10, 99), rng.randint(100, 999), rng.randint(10, 99), rng.randint(10, 99))
    return "+7 9{} {}-{}-{}".format(*digits)


def _inn(rng: random.Random, digits: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(digits))


def load_crm(session: Session, rng: random.Random) -> None:
    """Staff and ~50 customers with contacts and a little contact history."""
    staff_rows = []
    for name, email, roles, categories in STAFF:
        member = Staff(name=name, email=email, phone=_phone(rng))
        member.role_rows = [StaffRoleGrant(role=role) for role in roles]
        member.expertise = [ExpertCategory(category_code=code) for code in categories]
        session.add(member)
        staff_rows.append(member)
    session.flush()
    managers = [m for m in staff_rows if StaffRole.MANAGER in m.roles]

    for index in range(50):
        city, street, postcode = rng.choice(_CITIES)
        address = f"{postcode}, г. {city}, {street}, д. {rng.randint(1, 120)}"
        if index % 5 == 4:
            name = person_name(rng)
            customer = Customer(
                number=f"К-{10001 + index}", kind=CustomerKind.PERSON, name=name, inn=_inn(rng, 12)
            )
            contacts = [Contact(name=name, phone=_phone(rng), is_primary=True)]
        else:
            form = rng.choice(_COMPANY_FORMS)
            word = _COMPANY_WORDS[index % len(_COMPANY_WORDS)]
            label = f"{form} «{word}»" if form != "ИП" else f"ИП {person_name(rng)}"
            customer = Customer(
                number=f"К-{10001 + index}",
                kind=CustomerKind.COMPANY,
                name=label,
                inn=_inn(rng, 10 if form != "ИП" else 12),
            )
            contacts = [
                Contact(
                    name=person_name(rng), position=position, phone=_phone(rng), is_primary=(i == 0)
                )
                for i, position in enumerate(rng.sample(_POSITIONS, rng.randint(1, 3)))
            ]
        customer.email = f"client{10001 + index}@example.ru"
        customer.phone = _phone(rng)
        customer.address = address
        customer.manager = managers[index % len(managers)]
        customer.contacts = contacts
        session.add(customer)
        session.flush()
        for _ in range(rng.randint(0, 3)):
            session.add(
                Interaction(
                    customer_id=customer.id,
                    staff_id=customer.manager.id,
                    channel=rng.choice(["call", "visit", "email"]),
                    summary=rng.choice(
                        [
                            "Обсудили график поставок на следующий квартал.",
                            "Клиент уточнил условия отсрочки платежа.",
                            "Передали образцы новой линейки крепежа.",
                            "Согласовали доставку до объекта.",
                        ]
                    ),
                )
            )


def load(force: bool = False) -> bool:
    """Run every registered demo loader once; returns False when demo data was already there."""
    with session_scope() as session:
        if runtime_settings.get(session, "demo.loaded") and not force:
            return False
        rng = random.Random(SEED)
        for _order, _name, loader in get_registry(current_app).demo_loaders:
            loader(session, rng)
            session.flush()
        runtime_settings.put(session, "demo.loaded", True, staff_id=None)
    return True
