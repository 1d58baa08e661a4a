"""Reading CommerceML 2 files as a stream, and writing the documents 1C asks for.

``CmlReader`` walks a file with lxml's ``iterparse``: no DTD is loaded, no entity is
resolved, nothing is fetched from the network, and a document that declares a DOCTYPE
at all is refused (XXE and "billion laughs" have nowhere to start). Each record element
is turned into a plain dict when it ends and then freed, so memory stays flat whatever
the file's size. Names are matched by their local part: files come with the
``urn:1C.ru:commerceml_2…`` namespace or without one. The encoding comes from the XML
declaration (UTF-8 or windows-1251), a BOM is honoured.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from lxml import etree


class CmlError(ValueError):
    """The file cannot be read as CommerceML; the message says why, for 1C's log."""


# A file names a few dozen distinct tags millions of times: their local parts are
# remembered (boundedly, so that a hostile file of endless names cannot grow it).
_LOCAL_NAMES: dict[str, str] = {}


def local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rpartition("}")[2]
        if len(_LOCAL_NAMES) < 4096:
            _LOCAL_NAMES[tag] = name
    return name


def child(elem: etree._Element, name: str) -> etree._Element | None:
    for sub in elem:
        if local(sub.tag) == name:
            return sub
    return None


def children(elem: etree._Element | None, name: str) -> list[etree._Element]:
    if elem is None:
        return []
    return [sub for sub in elem if local(sub.tag) == name]


def fields(elem: etree._Element | None) -> dict[str, etree._Element]:
    """An element's children by local name (the first of each name), in one pass: a
    record reads a dozen of them, and ``child`` would walk the children for each."""
    found: dict[str, etree._Element] = {}
    if elem is not None:
        names = _LOCAL_NAMES
        for sub in elem:
            tag = sub.tag
            name = names.get(tag) if isinstance(tag, str) else None
            if name is None:
                name = local(tag)
            if name not in found:
                found[name] = sub
    return found


def text_of(elem: etree._Element | None) -> str | None:
    """An element's stripped text; None when absent or blank."""
    if elem is None or elem.text is None:
        return None
    return elem.text.strip() or None


def value(elem: etree._Element | None, name: str) -> str | None:
    return text_of(child(elem, name) if elem is not None else None)


def path(elem: etree._Element | None, *names: str) -> etree._Element | None:
    for name in names:
        if elem is None:
            return None
        elem = child(elem, name)
    return elem


def attributes(elem: etree._Element, holder: etree._Element | None = None) -> dict[str, str]:
    """``ЗначенияРеквизитов/ЗначениеРеквизита{Наименование, Значение}`` as a dict
    (``holder``: the ЗначенияРеквизитов element, when the caller has found it already)."""
    result: dict[str, str] = {}
    if holder is None:
        holder = child(elem, "ЗначенияРеквизитов")
    for item in children(holder, "ЗначениеРеквизита"):
        parts = fields(item)
        name = text_of(parts.get("Наименование"))
        if name:
            result[name] = text_of(parts.get("Значение")) or ""
    return result


class CountingReader(io.RawIOBase):
    """Counts the bytes lxml has read, for the progress bar and the staff console."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        return data


_RECORD_TAGS = (
    "{*}КоммерческаяИнформация",
    "{*}Каталог",
    "{*}ПакетПредложений",
    "{*}СодержитТолькоИзменения",
    "{*}Классификатор",
    "{*}Товар",
    "{*}Предложение",
    "{*}ТипЦены",
    "{*}Документ",
    "{*}Контрагент",
)


_IN_DOCUMENTS = frozenset(("Товар", "Контрагент"))


@dataclass
class CmlReader:
    """Iterate ``(entity, record)`` pairs of a CommerceML file.

    ``kind`` (catalog, offers, orders, customers), ``full`` (a full export, as opposed to
    changes only), ``schema_version`` and ``generated_at`` are known from the first record.
    """

    source: IO[bytes]
    kind: str | None = None
    full: bool = True
    schema_version: str | None = None
    generated_at: str | None = None
    counter: CountingReader = field(init=False)

    def __post_init__(self) -> None:
        self.counter = CountingReader(self.source)

    @property
    def bytes_read(self) -> int:
        return self.counter.count

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        parser = etree.iterparse(
            self.counter,
            events=("start", "end"),
            tag=_RECORD_TAGS,
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            huge_tree=True,
            remove_comments=True,
            remove_pis=True,
        )
        try:
            yield from self._walk(parser)
        except etree.XMLSyntaxError as exc:
            raise CmlError(f"the file is not well-formed XML: {exc}") from exc
        if self.kind is None:
            raise CmlError("the file is not a CommerceML document (no КоммерческаяИнформация)")

    def _walk(self, parser: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        documents = 0  # open Документ elements: their lines and buyers are read with them
        for event, elem in parser:
            name = local(elem.tag)
            if documents and name in _IN_DOCUMENTS:
                continue  # an order's Товар or Контрагент: neither a product nor a customer
            if event == "start":
                documents += name == "Документ"
                self._start(name, elem)
                continue
            if name == "СодержитТолькоИзменения":  # the 2.03–2.05 element form
                self.full = (elem.text or "").strip().lower() != "true"
            elif name == "Классификатор":
                yield from self._classifier(elem)
                free_element(elem)
            elif name == "Товар" and self._in("Товары", "Каталог", elem):
                yield "product", product(elem)
                free_element(elem)
            elif name == "ТипЦены" and self._in("ТипыЦен", "ПакетПредложений", elem):
                yield "price_type", price_type(elem)
            elif name == "Предложение":
                yield "offer", offer(elem)
                free_element(elem)
            elif name == "Документ":
                documents -= 1
                operation = (value(elem, "ХозОперация") or "").strip()
                if operation in PAYMENT_OPERATIONS:
                    yield "payment", payment(elem, PAYMENT_OPERATIONS[operation])
                else:
                    yield "order", order(elem)
                free_element(elem)
            elif name == "Контрагент" and self._in("Контрагенты", "КоммерческаяИнформация", elem):
                yield "customer", counterparty(elem)
                free_element(elem)

    def _start(self, name: str, elem: etree._Element) -> None:
        if name == "КоммерческаяИнформация":
            if elem.getroottree().docinfo.doctype:
                raise CmlError("a DOCTYPE is not allowed in an exchange file")
            if self.kind is None:
                self.kind = "orders"  # documents only, until a catalog or offers say otherwise
            self.schema_version = elem.get("ВерсияСхемы")
            self.generated_at = elem.get("ДатаФормирования")
        elif name in ("Каталог", "ПакетПредложений"):
            self.kind = "catalog" if name == "Каталог" else "offers"
            flag = elem.get("СодержитТолькоИзменения")
            if flag is not None:
                self.full = flag.strip().lower() != "true"
        elif name == "Контрагент" and local(elem.getparent().tag) == "Контрагенты":
            grand = elem.getparent().getparent()
            if grand is not None and local(grand.tag) == "КоммерческаяИнформация":
                self.kind = "customers"
        elif name == "Документ" and self.kind is None:
            self.kind = "orders"

    @staticmethod
    def _in(parent: str, grandparent: str, elem: etree._Element) -> bool:
        up = elem.getparent()
        if up is None or local(up.tag) != parent:
            return False
        upper = up.getparent()
        return upper is not None and local(upper.tag) == grandparent

    def _classifier(self, elem: etree._Element) -> Iterator[tuple[str, dict[str, Any]]]:
        # Parents before children, so that a group's parent always exists when it lands.
        stack: list[tuple[etree._Element, str | None]] = [
            (group, None) for group in children(child(elem, "Группы"), "Группа")
        ]
        while stack:
            group, parent = stack.pop(0)
            code = value(group, "Ид")
            yield (
                "product_group",
                {"id": code, "name": value(group, "Наименование"), "parent": parent},
            )
            stack.extend((sub, code) for sub in children(child(group, "Группы"), "Группа"))
        for kind in children(child(elem, "ТипыЦен"), "ТипЦены"):
            yield "price_type", price_type(kind)


def free_element(elem: etree._Element) -> None:
    """Drop a handled element and the siblings before it: memory stays flat."""
    elem.clear(keep_tail=True)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


# --------------------------------------------------------------------------- records


def product(elem: etree._Element) -> dict[str, Any]:
    unit = child(elem, "БазоваяЕдиница")
    unit_name = None
    if unit is not None:
        unit_name = (
            (unit.text or "").strip()
            or unit.get("НаименованиеКраткое")
            or unit.get("НаименованиеПолное")
        )
    props = attributes(elem)
    status = (value(elem, "Статус") or "").lower()
    deleted = status == "удален" or (value(elem, "ПометкаУдаления") or "").lower() == "true"
    groups = children(child(elem, "Группы"), "Ид")
    return {
        "id": value(elem, "Ид"),
        "article": value(elem, "Артикул"),
        "name": value(elem, "Наименование") or props.get("Полное наименование"),
        "group": (groups[0].text or "").strip() if groups else None,
        "unit": unit_name,
        "active": not deleted,
    }


def price_type(elem: etree._Element) -> dict[str, Any]:
    return {
        "id": value(elem, "Ид"),
        "name": value(elem, "Наименование"),
        "currency": value(elem, "Валюта") or "RUB",
    }


def offer(elem: etree._Element) -> dict[str, Any]:
    parts = fields(elem)
    offer_id = text_of(parts.get("Ид")) or ""
    prices = []
    for price in children(parts.get("Цены"), "Цена"):
        price_parts = fields(price)
        prices.append(
            {
                "type": text_of(price_parts.get("ИдТипаЦены")),
                "price": text_of(price_parts.get("ЦенаЗаЕдиницу")),
                "currency": text_of(price_parts.get("Валюта")),
            }
        )
    quantity = text_of(parts.get("Количество"))
    if quantity is None:
        stocks = [s.get("КоличествоНаСкладе") for s in children(elem, "Склад")]
        stocks = [s for s in stocks if s not in (None, "")]
        if stocks:
            quantity = str(sum(float(s.replace(",", ".")) for s in stocks))
    return {
        "id": offer_id or None,
        "product": offer_id.split("#", 1)[0] or None,
        "prices": prices,
        "quantity": quantity,
    }


def _contacts(elem: etree._Element) -> dict[str, str]:
    found: dict[str, str] = {}
    for contact in children(child(elem, "Контакты"), "Контакт"):
        kind = (value(contact, "Тип") or "").lower()
        text = value(contact, "Значение")
        if not text:
            continue
        if "почта" in kind or "mail" in kind:
            found.setdefault("email", text)
        elif "телефон" in kind or "phone" in kind:
            found.setdefault("phone", text)
    return found


def counterparty(elem: etree._Element) -> dict[str, Any]:
    address = value(path(elem, "ЮридическийАдрес"), "Представление") or value(
        path(elem, "Адрес"), "Представление"
    )
    contacts = _contacts(elem)
    person = child(elem, "ФизЛицо") is not None
    return {
        "id": value(elem, "Ид"),
        "number": value(elem, "Код"),
        "name": value(elem, "ОфициальноеНаименование")
        or value(elem, "Наименование")
        or value(elem, "ПолноеНаименование"),
        "kind": "person" if person else None,
        "inn": value(elem, "ИНН"),
        "kpp": value(elem, "КПП"),
        "email": contacts.get("email"),
        "phone": contacts.get("phone"),
        "address": address,
        "active": (value(elem, "ПометкаУдаления") or "").lower() != "true",
    }


def _buyer(elem: etree._Element, holder: etree._Element | None = None) -> etree._Element | None:
    buyers = children(holder if holder is not None else child(elem, "Контрагенты"), "Контрагент")
    return next(
        (c for c in buyers if (value(c, "Роль") or "").lower() == "покупатель"),
        buyers[0] if buyers else None,
    )


# ХозОперация of the money documents in CommerceML 2 (the schema's enumeration): money
# from the buyer is a payment, money back to the buyer a refund.
PAYMENT_OPERATIONS = {
    "Выплата безналичных денег": "payment",
    "Выплата наличных денег": "payment",
    "Возврат безналичных денег": "refund",
    "Возврат наличных денег": "refund",
}


def payment(elem: etree._Element, kind: str) -> dict[str, Any]:
    """A payment document: ``Основание`` names the order it pays (its Ид), the requisites
    "Проведен" and "ПометкаУдаления" say whether it still counts."""
    buyer = _buyer(elem)
    date, time = value(elem, "Дата"), value(elem, "Время")
    return {
        "id": value(elem, "Ид"),
        "number": value(elem, "Номер"),
        "date": f"{date}T{time}" if date and time else date,
        "customer": value(buyer, "Ид") if buyer is not None else None,
        "amount": value(elem, "Сумма"),
        "currency": value(elem, "Валюта") or "RUB",
        "kind": kind,
        "order": value(elem, "Основание"),
        "purpose": value(elem, "Комментарий"),
        "attributes": attributes(elem),
    }


def order(elem: etree._Element) -> dict[str, Any]:
    parts = fields(elem)
    buyer = _buyer(elem, parts.get("Контрагенты"))
    date, time = text_of(parts.get("Дата")), text_of(parts.get("Время"))
    lines = []
    for item in children(parts.get("Товары"), "Товар"):
        item_parts = fields(item)
        item_props = attributes(item, item_parts.get("ЗначенияРеквизитов"))
        vat = sum(
            float((value(tax, "Сумма") or "0").replace(",", "."))
            for tax in children(item_parts.get("Налоги"), "Налог")
        )
        lines.append(
            {
                "product": text_of(item_parts.get("Ид")),
                "article": text_of(item_parts.get("Артикул")),
                "name": text_of(item_parts.get("Наименование")),
                "quantity": text_of(item_parts.get("Количество")),
                "price": text_of(item_parts.get("ЦенаЗаЕдиницу")),
                "amount": text_of(item_parts.get("Сумма")),
                "vat": f"{vat:.2f}",
                "kind": item_props.get("ТипНоменклатуры") or item_props.get("ВидНоменклатуры"),
            }
        )
    taxes = children(parts.get("Налоги"), "Налог")
    return {
        "id": text_of(parts.get("Ид")),
        "number": text_of(parts.get("Номер")),
        "date": f"{date}T{time}" if date and time else date,
        "operation": text_of(parts.get("ХозОперация")),
        "customer": value(buyer, "Ид") if buyer is not None else None,
        "currency": text_of(parts.get("Валюта")) or "RUB",
        "total": text_of(parts.get("Сумма")),
        "vat": value(taxes[0], "Сумма") if taxes else None,
        "lines": lines,
        "attributes": attributes(elem, parts.get("ЗначенияРеквизитов")),
    }


# --------------------------------------------------------------------------- writing


def write_document(root: etree._Element, encoding: str) -> bytes:
    """Serialise an answer for 1C in the encoding its configuration expects."""
    body = etree.tostring(root, encoding=encoding, xml_declaration=True, pretty_print=True)
    if encoding.lower().replace("-", "") == "utf8":
        return b"\xef\xbb\xbf" + body  # 1C reads UTF-8 reliably only with a BOM
    return body


def sub(parent: etree._Element, name: str, text: Any = None, **attrs: str) -> etree._Element:
    elem = etree.SubElement(parent, name, attrs)
    if text is not None:
        elem.text = str(text)
    return elem
