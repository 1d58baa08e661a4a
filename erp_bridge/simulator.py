"""An ERP to run the bridge against: deterministic data, a JSON feed, CommerceML files.

Record ``i`` of each stream is a pure function of ``i`` (and of the data set's
revision), so any volume can be produced as a stream without holding it in memory,
and a test can predict exactly what the portal must end up with.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

from flask import Flask, abort, jsonify, request

_FORMS = ["ООО", "АО", "ООО", "ИП", "ООО"]
_WORDS = [
    "Стройдом",
    "Северный ветер",
    "Техмонтаж",
    "Уралсталь-Сервис",
    "Волга-Строй",
    "Вектор",
    "Альфа-Ремонт",
    "ЭнергоПуть",
    "Сибирский двор",
    "Гранит",
    "Монолит",
    "Меридиан",
    "Прогресс",
    "Кедр",
    "Ладога",
    "Полюс",
]
_CITIES = ["Москва", "Санкт-Петербург", "Казань", "Екатеринбург", "Нижний Новгород", "Самара"]
_STREETS = ["ул. Лесная", "ул. Заводская", "пр. Мира", "ул. Складочная", "Индустриальное ш."]
_GROUPS = [
    ("fasteners", "Крепёж"),
    ("tools", "Инструмент"),
    ("electrical", "Электрика"),
    ("lighting", "Освещение"),
    ("plumbing", "Сантехника"),
    ("heating", "Отопление"),
]
_GOODS = {
    "fasteners": [
        "Болт DIN 933 М{n}×40",
        "Гайка DIN 934 М{n}",
        "Шайба DIN 125 М{n}",
        "Анкер клиновой М{n}×100",
    ],
    "tools": ["Сверло по металлу {n} мм", "Бита PH2 {n} мм", "Ключ рожковый {n} мм"],
    "electrical": ["Кабель ВВГнг 3×{n}", "Автомат ВА47-29 {n}А", "Розетка накладная {n}П"],
    "lighting": ["Светильник LED {n} Вт", "Лампа LED E27 {n} Вт", "Прожектор {n}0 Вт"],
    "plumbing": ['Кран шаровой {n}/2"', "Фитинг PPR {n}0 мм", "Труба PPR {n}0 мм, 4 м"],
    "heating": ["Радиатор биметалл. {n} секц.", "Терморегулятор {n}", "Насос цирк. 25-{n}0"],
}
PRICE_TYPES = [
    ("bd72d8f9-55bc-11d9-848a-00112f43529a", "Розничная"),
    ("bd72d8fa-55bc-11d9-848a-00112f43529a", "Оптовая"),
    ("bd72d8fb-55bc-11d9-848a-00112f43529a", "Дилерская"),
]
STATUSES = ["Принят", "В работе", "Отгружен", "Доставлен", "Отменен"]
BASE_TIME = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))


@dataclass(frozen=True)
class Volume:
    customers: int = 50
    products: int = 200
    orders: int = 100
    revision: int = 0  # bump it to change every 7th record (a newer version of the data)


def _guid(kind: int, i: int) -> str:
    return f"{kind:08x}-{(i >> 32) & 0xFFFF:04x}-4{(i >> 16) & 0xFFF:03x}-8{i & 0xFFF:03x}-{i:012x}"


def _inn(i: int) -> str:
    digits = [int(c) for c in f"7{i:08d}"]
    weights = [2, 4, 10, 3, 5, 9, 4, 6, 8]
    check = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11 % 10
    return "".join(map(str, digits)) + str(check)


def _changed(i: int, volume: Volume) -> int:
    return volume.revision if volume.revision and i % 7 == 0 else 0


def _stamp(i: int, rev: int) -> str:
    return (BASE_TIME + dt.timedelta(seconds=i, days=rev)).isoformat()


def customer(i: int, volume: Volume) -> dict[str, Any]:
    rev = _changed(i, volume)
    word = _WORDS[i % len(_WORDS)]
    city = _CITIES[i % len(_CITIES)]
    return {
        "id": f"C-{i:07d}",
        "number": f"К-{i:07d}",
        "name": f"{_FORMS[i % len(_FORMS)]} «{word} {i}»",
        "inn": _inn(i),
        "email": f"zakaz{i}@client{i % 97}.example",
        "phone": f"+7 495 {100 + i % 900:03d}-{i % 100:02d}-{(i * 7) % 100:02d}",
        "address": f"{city}, {_STREETS[i % len(_STREETS)]}, {1 + i % 120}"
        + (f", офис {rev}" if rev else ""),
        "updated_at": _stamp(i, rev),
    }


def product_group(i: int) -> dict[str, Any]:
    code, name = _GROUPS[i % len(_GROUPS)]
    return {"id": code, "name": name, "parent": None, "updated_at": _stamp(i, 0)}


def product(i: int, volume: Volume) -> dict[str, Any]:
    code, _name = _GROUPS[i % len(_GROUPS)]
    names = _GOODS[code]
    return {
        "id": _guid(1, i),
        "article": f"{code[:3].upper()}-{i:07d}",
        "name": names[(i // len(_GROUPS)) % len(names)].format(n=4 + i % 20) + f" ({i})",
        "group": code,
        "unit": "шт",
        "updated_at": _stamp(i, 0),
    }


def price_type(i: int) -> dict[str, Any]:
    code, name = PRICE_TYPES[i]
    return {"id": code, "name": name, "currency": "RUB", "updated_at": _stamp(i, 0)}


def offer(i: int, volume: Volume) -> dict[str, Any]:
    rev = _changed(i, volume)
    base = Decimal(10 + (i * 37) % 5000) + Decimal(rev * 5) + Decimal(i % 100) / 100
    prices = [
        {"type": PRICE_TYPES[0][0], "price": f"{base:.2f}"},
        {"type": PRICE_TYPES[1][0], "price": f"{base * Decimal('0.9'):.2f}"},
        {"type": PRICE_TYPES[2][0], "price": f"{base * Decimal('0.8'):.2f}"},
    ]
    return {
        "id": _guid(1, i),
        "product": _guid(1, i),
        "prices": prices,
        "quantity": str((i * 13) % 1000),
        "updated_at": _stamp(i, rev),
    }


def order(i: int, volume: Volume) -> dict[str, Any]:
    rev = _changed(i, volume)
    lines = []
    for n in range(1 + i % 4):
        p = (i * 31 + n * 17) % max(volume.products, 1)
        price = Decimal(10 + (p * 37) % 5000) + Decimal(p % 100) / 100
        quantity = 1 + (i + n) % 50
        lines.append(
            {
                "product": _guid(1, p),
                "article": product(p, volume)["article"],
                "name": product(p, volume)["name"],
                "quantity": str(quantity),
                "price": f"{price:.2f}",
                "amount": f"{price * quantity:.2f}",
            }
        )
    total = sum(Decimal(line["amount"]) for line in lines)
    status = (
        STATUSES[min(i % len(STATUSES) + rev, len(STATUSES) - 2)]
        if rev
        else STATUSES[i % len(STATUSES)]
    )
    placed = BASE_TIME + dt.timedelta(hours=i)
    return {
        "id": _guid(2, i),
        "number": f"ТС-{i:07d}",
        "date": placed.isoformat(),
        "customer": f"C-{i % max(volume.customers, 1):07d}",
        "status": status,
        "currency": "RUB",
        "total": f"{total:.2f}",
        "vat": f"{(total * 20 / 120):.2f}",
        "lines": lines,
        "updated_at": _stamp(i, rev),
    }


def bonus(i: int, volume: Volume) -> dict[str, Any]:
    return {
        "id": f"B-{i:07d}",
        "customer": f"C-{i % max(volume.customers, 1):07d}",
        "points": 50 + i % 400,
        "kind": "accrual",
        "occurred_at": _stamp(i, 0),
        "comment": f"Начисление за заказ ТС-{i:07d}",
        "updated_at": _stamp(i, 0),
    }


def payment(i: int, volume: Volume) -> dict[str, Any]:
    """The payment of order ``i``: in full, or half of it for every third order; every
    eleventh is un-posted in the ERP (the portal must reverse it)."""
    paid = order(i, volume)
    total = Decimal(paid["total"])
    amount = total if i % 3 else (total / 2).quantize(Decimal("0.01"))
    return {
        "id": _guid(3, i),
        "customer": paid["customer"],
        "order": paid["id"],
        "number": f"ПП-{i:07d}",
        "date": (BASE_TIME + dt.timedelta(hours=i, days=3)).isoformat(),
        "amount": f"{amount:.2f}",
        "kind": "payment",
        "purpose": f"Оплата по заказу {paid['number']}",
        "posted": i % 11 != 5,
        "updated_at": _stamp(i, 0),
    }


def stream_records(stream: str, volume: Volume) -> Iterator[dict[str, Any]]:
    makers: dict[str, tuple[int, Callable[[int], dict[str, Any]]]] = {
        "customers": (volume.customers, lambda i: customer(i, volume)),
        "product_groups": (len(_GROUPS), product_group),
        "products": (volume.products, lambda i: product(i, volume)),
        "price_types": (len(PRICE_TYPES), price_type),
        "offers": (volume.products, lambda i: offer(i, volume)),
        "orders": (volume.orders, lambda i: order(i, volume)),
        "bonus_operations": (volume.orders, lambda i: bonus(i, volume)),
        "payments": (volume.orders, lambda i: payment(i, volume)),
    }
    if stream not in makers:
        return iter(())
    count, make = makers[stream]
    return (make(i) for i in range(count))


STREAMS = (
    "customers",
    "product_groups",
    "products",
    "price_types",
    "offers",
    "orders",
    "bonus_operations",
    "payments",
)


# --------------------------------------------------------------------------- the JSON feed


def feed_app(volume: Volume, client_id: str, client_secret: str, token_seconds: int = 600) -> Flask:
    """A Flask app serving the pull feed with its own client-credentials token endpoint."""
    app = Flask("erp_simulator")
    tokens: dict[str, tuple[float, set[str]]] = {}
    clock = {"now": lambda: dt.datetime.now(dt.UTC).timestamp()}
    app.config["tokens"] = tokens
    app.config["clock"] = clock

    @app.post("/oauth/token")
    def token():  # type: ignore[no-untyped-def]
        auth = request.authorization
        given = (
            (auth.username, auth.password)
            if auth
            else (request.form.get("client_id"), request.form.get("client_secret"))
        )
        if given != (client_id, client_secret):
            return jsonify(error="invalid_client"), 401
        if request.form.get("grant_type") != "client_credentials":
            return jsonify(error="unsupported_grant_type"), 400
        scopes = set((request.form.get("scope") or " ".join(STREAMS)).split())
        value = secrets.token_urlsafe(24)
        tokens[value] = (clock["now"]() + token_seconds, scopes)
        return jsonify(
            access_token=value,
            token_type="Bearer",  # noqa: S106
            expires_in=token_seconds,
            scope=" ".join(sorted(scopes)),
        )

    @app.get("/<stream>")
    def items(stream: str):  # type: ignore[no-untyped-def]
        header = request.headers.get("Authorization", "")
        entry = tokens.get(header.removeprefix("Bearer ").strip())
        if entry is None or entry[0] < clock["now"]():
            return jsonify(error="invalid_token"), 401
        if stream not in STREAMS:
            abort(404)
        if stream not in entry[1]:
            return jsonify(error="insufficient_scope"), 403
        since = request.args.get("updated_since")
        limit = max(1, min(int(request.args.get("limit", 500)), 5000))
        offset = int(request.args.get("cursor") or 0)
        selected = sorted(
            (
                rec
                for rec in stream_records(stream, volume)
                if since is None or _after(rec["updated_at"], since)
            ),
            key=lambda rec: (rec["updated_at"], rec["id"]),
        )
        page = selected[offset : offset + limit]
        more = offset + limit < len(selected)
        return jsonify(
            items=page, next_cursor=str(offset + limit) if more else None, total=len(selected)
        )

    return app


def _after(value: str, since: str) -> bool:
    return dt.datetime.fromisoformat(value) >= dt.datetime.fromisoformat(since)


# --------------------------------------------------------------------------- CommerceML


def _header(out: IO[str], encoding: str, generated: dt.datetime) -> None:
    out.write(f'<?xml version="1.0" encoding="{encoding}"?>\n')
    out.write(
        f'<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_210" ВерсияСхемы="2.10" '
        f'ДатаФормирования="{generated.replace(tzinfo=None).isoformat()}">\n'
    )


def _open(path: Path, encoding: str, bom: bool) -> IO[str]:
    raw = path.open("wb")
    if bom and encoding.lower() == "utf-8":
        raw.write(b"\xef\xbb\xbf")
    return io.TextIOWrapper(raw, encoding=encoding, newline="\n", errors="xmlcharrefreplace")


def _e(value: Any) -> str:
    return escape(str(value))


def write_catalog(
    path: Path,
    volume: Volume,
    *,
    full: bool = True,
    generated: dt.datetime = BASE_TIME,
    encoding: str = "utf-8",
    bom: bool = True,
    first: int = 0,
    count: int | None = None,
) -> Path:
    count = volume.products if count is None else count
    with _open(path, encoding, bom) as out:
        _header(out, encoding, generated)
        out.write(
            "  <Классификатор>\n    <Ид>classifier-1</Ид>\n    <Наименование>Классификатор "
            "(Основной каталог товаров)</Наименование>\n    <Группы>\n"
        )
        out.write("      <Группа><Ид>all</Ид><Наименование>Все товары</Наименование><Группы>\n")
        for code, name in _GROUPS:
            out.write(
                f"        <Группа><Ид>{code}</Ид><Наименование>{_e(name)}</Наименование></Группа>\n"
            )
        out.write("      </Группы></Группа>\n    </Группы>\n  </Классификатор>\n")
        flag = "false" if full else "true"
        out.write(
            f'  <Каталог СодержитТолькоИзменения="{flag}">\n    <Ид>catalog-1</Ид>\n'
            "    <ИдКлассификатора>classifier-1</ИдКлассификатора>\n"
            "    <Наименование>Основной каталог товаров</Наименование>\n    <Товары>\n"
        )
        for i in range(first, first + count):
            rec = product(i, volume)
            out.write(
                f"      <Товар>\n        <Ид>{rec['id']}</Ид>\n"
                f"        <Артикул>{_e(rec['article'])}</Артикул>\n"
                f"        <Наименование>{_e(rec['name'])}</Наименование>\n"
                '        <БазоваяЕдиница Код="796 " НаименованиеПолное="Штука" '
                'МеждународноеСокращение="PCE">шт</БазоваяЕдиница>\n'
                f"        <Группы><Ид>{rec['group']}</Ид></Группы>\n"
                "        <ЗначенияРеквизитов><ЗначениеРеквизита><Наименование>ВидНоменклатуры"
                "</Наименование><Значение>Товар</Значение></ЗначениеРеквизита>"
                "</ЗначенияРеквизитов>\n      </Товар>\n"
            )
        out.write("    </Товары>\n  </Каталог>\n</КоммерческаяИнформация>\n")
    return path


def write_offers(
    path: Path,
    volume: Volume,
    *,
    full: bool = True,
    generated: dt.datetime = BASE_TIME,
    encoding: str = "utf-8",
    bom: bool = True,
    count: int | None = None,
) -> Path:
    count = volume.products if count is None else count
    with _open(path, encoding, bom) as out:
        _header(out, encoding, generated)
        flag = "false" if full else "true"
        out.write(
            f'  <ПакетПредложений СодержитТолькоИзменения="{flag}">\n'
            "    <Ид>catalog-1#</Ид>\n    <Наименование>Пакет предложений</Наименование>\n"
            "    <ИдКаталога>catalog-1</ИдКаталога>\n    <ТипыЦен>\n"
        )
        for code, name in PRICE_TYPES:
            out.write(
                f"      <ТипЦены><Ид>{code}</Ид><Наименование>{_e(name)}</Наименование>"
                "<Валюта>RUB</Валюта><Налог><Наименование>НДС</Наименование>"
                "<УчтеноВСумме>true</УчтеноВСумме></Налог></ТипЦены>\n"
            )
        out.write("    </ТипыЦен>\n    <Предложения>\n")
        for i in range(count):
            rec = offer(i % max(volume.products, 1), volume)
            prices = "".join(
                f"<Цена><Представление>{p['price']} RUB за шт</Представление>"
                f"<ИдТипаЦены>{p['type']}</ИдТипаЦены><ЦенаЗаЕдиницу>{p['price']}</ЦенаЗаЕдиницу>"
                "<Валюта>RUB</Валюта><Единица>шт</Единица><Коэффициент>1</Коэффициент></Цена>"
                for p in rec["prices"]
            )
            out.write(
                f"      <Предложение>\n        <Ид>{rec['id']}</Ид>\n"
                f"        <Наименование>{_e(product(i % max(volume.products, 1), volume)['name'])}"
                "</Наименование>\n"
                f"        <Цены>{prices}</Цены>\n"
                f"        <Количество>{rec['quantity']}</Количество>\n      </Предложение>\n"
            )
        out.write("    </Предложения>\n  </ПакетПредложений>\n</КоммерческаяИнформация>\n")
    return path


def write_customers(
    path: Path,
    volume: Volume,
    *,
    overrides: dict[int, dict[str, Any]] | None = None,
    generated: dt.datetime = BASE_TIME,
    encoding: str = "utf-8",
    bom: bool = True,
    full: bool = True,
) -> Path:
    with _open(path, encoding, bom) as out:
        _header(out, encoding, generated)
        out.write("  <Контрагенты>\n")
        for i in range(volume.customers):
            rec = customer(i, volume)
            rec.update({k: v for k, v in (overrides or {}).get(i, {}).items() if v})
            out.write(
                f"    <Контрагент>\n      <Ид>{rec['id']}</Ид>\n"
                f"      <Код>{_e(rec['number'])}</Код>\n"
                f"      <Наименование>{_e(rec['name'])}</Наименование>\n"
                f"      <ОфициальноеНаименование>{_e(rec['name'])}</ОфициальноеНаименование>\n"
                f"      <ИНН>{rec['inn']}</ИНН>\n"
                f"      <ЮридическийАдрес><Представление>{_e(rec['address'])}</Представление>"
                "</ЮридическийАдрес>\n      <Контакты>\n"
                f"        <Контакт><Тип>Почта</Тип><Значение>{_e(rec['email'])}</Значение>"
                "</Контакт>\n"
                f"        <Контакт><Тип>Телефон рабочий</Тип><Значение>{_e(rec['phone'])}"
                "</Значение></Контакт>\n      </Контакты>\n    </Контрагент>\n"
            )
        out.write("  </Контрагенты>\n</КоммерческаяИнформация>\n")
    return path


def write_orders(
    path: Path,
    volume: Volume,
    *,
    generated: dt.datetime = BASE_TIME,
    encoding: str = "windows-1251",
    bom: bool = False,
    count: int | None = None,
) -> Path:
    count = volume.orders if count is None else count
    with _open(path, encoding, bom) as out:
        _header(out, encoding, generated)
        for i in range(count):
            rec = order(i, volume)
            placed = dt.datetime.fromisoformat(rec["date"])
            cust = customer(i % max(volume.customers, 1), volume)
            goods = "".join(
                f"<Товар><Ид>{line['product']}</Ид><Артикул>{_e(line['article'])}</Артикул><Наименование>{_e(line['name'])}</Наименование>"
                '<БазоваяЕдиница Код="796">шт</БазоваяЕдиница>'
                f"<ЦенаЗаЕдиницу>{line['price']}</ЦенаЗаЕдиницу><Количество>{line['quantity']}"
                f"</Количество><Сумма>{line['amount']}</Сумма></Товар>"
                for line in rec["lines"]
            )
            shipped = rec["status"] in ("Отгружен", "Доставлен")
            attrs = [
                ("Статус заказа", rec["status"]),
                ("Проведен", "true"),
                ("ПометкаУдаления", "false"),
                ("Дата оплаты по 1С", placed.date().isoformat() + "T10:00:00" if i % 2 else "T"),
            ]
            if shipped:
                attrs += [
                    ("Номер отгрузки по 1С", f"РН-{i:07d}"),
                    (
                        "Дата отгрузки по 1С",
                        (placed + dt.timedelta(days=1)).replace(tzinfo=None).isoformat(),
                    ),
                ]
            values = "".join(
                f"<ЗначениеРеквизита><Наименование>{_e(n)}</Наименование>"
                f"<Значение>{_e(v)}</Значение></ЗначениеРеквизита>"
                for n, v in attrs
            )
            out.write(
                f"  <Документ>\n    <Ид>{rec['id']}</Ид>\n    <Номер>{_e(rec['number'])}</Номер>\n"
                f"    <Дата>{placed.date().isoformat()}</Дата>\n"
                f"    <Время>{placed.strftime('%H:%M:%S')}</Время>\n"
                "    <ХозОперация>Заказ товара</ХозОперация>\n    <Роль>Продавец</Роль>\n"
                "    <Валюта>руб</Валюта>\n    <Курс>1</Курс>\n"
                f"    <Сумма>{rec['total']}</Сумма>\n"
                "    <Контрагенты><Контрагент>"
                f"<Ид>{cust['id']}</Ид><Наименование>{_e(cust['name'])}</Наименование>"
                f"<Роль>Покупатель</Роль><ИНН>{cust['inn']}</ИНН></Контрагент></Контрагенты>\n"
                f"    <Налоги><Налог><Наименование>НДС</Наименование><УчтеноВСумме>true"
                f"</УчтеноВСумме><Сумма>{rec['vat']}</Сумма></Налог></Налоги>\n"
                f"    <Товары>{goods}</Товары>\n"
                f"    <ЗначенияРеквизитов>{values}</ЗначенияРеквизитов>\n  </Документ>\n"
            )
        out.write("</КоммерческаяИнформация>\n")
    return path


def write_exchange_set(folder: Path, volume: Volume) -> list[Path]:
    """What 1C:УТ 11 uploads: import0_1.xml, offers0_1.xml, a counterparties file, orders
    in windows-1251 and in UTF-8, and the same catalog and offers as one zip."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [
        write_customers(folder / "contragents.xml", volume),
        write_catalog(folder / "import0_1.xml", volume),
        write_offers(folder / "offers0_1.xml", volume),
        write_orders(folder / "orders-1251.xml", volume),
        write_orders(folder / "orders-utf8.xml", volume, encoding="utf-8", bom=True),
    ]
    archive = folder / "exchange.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name in ("import0_1.xml", "offers0_1.xml"):
            zipped.write(folder / name, name)
    written.append(archive)
    return written
