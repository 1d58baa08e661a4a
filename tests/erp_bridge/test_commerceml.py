"""CmlReader: an order's lines and buyer are read with it, never taken for catalog
products or counterparties; a catalog's goods and a counterparties file are."""

from __future__ import annotations

from erp_bridge import simulator
from erp_bridge.commerceml import CmlReader

VOLUME = simulator.Volume(customers=3, products=5, orders=4)


def _read(path):
    with path.open("rb") as handle:
        reader = CmlReader(handle)
        return reader, list(reader)


def test_orders_carry_their_lines_and_buyer_and_nothing_else(tmp_path):
    reader, records = _read(simulator.write_orders(tmp_path / "orders.xml", VOLUME))
    assert reader.kind == "orders"
    assert [entity for entity, _raw in records] == ["order"] * 4
    for i, (_entity, raw) in enumerate(records):
        expected = simulator.order(i, VOLUME)
        assert raw["id"] == expected["id"]
        assert raw["customer"] == expected["customer"]
        assert [line["product"] for line in raw["lines"]] == [
            line["product"] for line in expected["lines"]
        ]


def test_catalog_goods_and_counterparties_are_records(tmp_path):
    reader, records = _read(simulator.write_catalog(tmp_path / "import.xml", VOLUME))
    assert reader.kind == "catalog"
    assert [raw["id"] for entity, raw in records if entity == "product"] == [
        simulator.product(i, VOLUME)["id"] for i in range(5)
    ]
    reader, records = _read(simulator.write_customers(tmp_path / "contragents.xml", VOLUME))
    assert reader.kind == "customers"
    assert [raw["id"] for entity, raw in records] == ["C-0000000", "C-0000001", "C-0000002"]
