"""The 1C exchange replayed as 1C:УТ 11 performs it, and its failure answers."""

from __future__ import annotations

import base64
import io
import zipfile
from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy import func, select

from erp_bridge import simulator
from erp_bridge.models import DeadLetter, SyncRun
from orders.models import Order, Price, PriceType, Product, ProductGroup, Shipment
from portal import runtime_settings
from portal.audit import AuditEvent
from portal.models import Customer, ExternalRef

URL = "/exchange/1c"


def _basic(login: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{login}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _signed_in(client, erp_client) -> None:
    answer = client.get(
        f"{URL}?type=catalog&mode=checkauth", headers=_basic(erp_client.login, erp_client.secret)
    )
    lines = answer.get_data(as_text=True).split("\n")
    assert answer.status_code == 200 and lines[0] == "success"
    assert lines[1] == "erp_exchange"  # the cookie the portal really reads
    client.set_cookie(lines[1], lines[2], domain="localhost")


def _send(client, kind: str, name: str, body: bytes, chunks: int = 1) -> None:
    size = -(-len(body) // chunks)
    for start in range(0, len(body), size):
        answer = client.post(
            f"{URL}?type={kind}&mode=file&filename={name}",
            data=body[start : start + size],
            content_type="application/octet-stream",
        )
        assert answer.get_data(as_text=True).startswith("success"), answer.get_data(as_text=True)


def _import(client, kind: str, name: str) -> str:
    for _ in range(20):
        text = client.get(f"{URL}?type={kind}&mode=import&filename={name}").get_data(as_text=True)
        if not text.startswith("progress"):
            return text
    raise AssertionError("the import never finished")


def _replay(client, erp_client, samples) -> None:
    _signed_in(client, erp_client)
    init = client.get(f"{URL}?type=catalog&mode=init").get_data(as_text=True)
    assert init.startswith("zip=yes\nfile_limit=")
    _send(client, "catalog", "contragents.xml", (samples / "contragents.xml").read_bytes())
    assert _import(client, "catalog", "contragents.xml").startswith("success")
    # The catalog and offers arrive as one zip, cut into chunks like a large upload.
    _send(client, "catalog", "exchange.zip", (samples / "exchange.zip").read_bytes(), chunks=3)
    assert _import(client, "catalog", "import0_1.xml").startswith("success")
    assert _import(client, "catalog", "offers0_1.xml").startswith("success")
    # Orders with their statuses, in windows-1251 as older 1C configurations send them.
    assert client.get(f"{URL}?type=sale&mode=init").get_data(as_text=True).startswith("zip=")
    _send(client, "sale", "orders-1251.xml", (samples / "orders-1251.xml").read_bytes())
    assert _import(client, "sale", "orders-1251.xml").startswith("success")


def test_a_file_sent_as_form_data_still_lands_whole(client, db, erp_client, samples):
    # Some 1C configurations label the raw file as a form; the body is read as it is
    # (a zip holds NUL bytes, which a form check would refuse or consume).
    _signed_in(client, erp_client)
    assert client.get(f"{URL}?type=catalog&mode=init").get_data(as_text=True).startswith("zip=")
    answer = client.post(
        f"{URL}?type=catalog&mode=file&filename=exchange.zip",
        data=(samples / "exchange.zip").read_bytes(),
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.get_data(as_text=True).startswith("success")
    assert _import(client, "catalog", "import0_1.xml").startswith("success")


def test_full_exchange_replayed_as_1c_does(client, db, erp_client, samples):
    _replay(client, erp_client, samples)
    assert db.scalar(select(func.count()).select_from(Customer)) == 12

    def count(model):
        return db.scalar(select(func.count()).select_from(model))

    assert (count(ProductGroup), count(Product), count(PriceType), count(Price)) == (7, 30, 3, 90)
    assert count(Order) == 10
    statuses = dict(db.execute(select(Order.number, Order.status)).all())
    assert statuses["ТС-0000002"] == "shipped" and statuses["ТС-0000004"] == "cancelled"
    assert statuses["ТС-0000003"] == "delivered" and statuses["ТС-0000001"] == "assembling"
    shipped = set(db.scalars(select(Shipment.number)))
    assert {"РН-0000002", "РН-0000003"} <= shipped
    paid = dict(db.execute(select(Order.number, Order.payment_status)).all())
    assert paid["ТС-0000001"] == "paid" and paid["ТС-0000000"] == "unpaid"
    assert db.scalar(select(func.count()).select_from(DeadLetter)) == 0


def test_the_same_exchange_twice_changes_nothing(client, db, erp_client, samples):
    _replay(client, erp_client, samples)
    refs_before = db.execute(
        select(
            ExternalRef.entity,
            ExternalRef.external_id,
            ExternalRef.content_hash,
            ExternalRef.updated_at,
        ).order_by(ExternalRef.id)
    ).all()
    client.delete_cookie("erp_exchange", domain="localhost")
    _replay(client, erp_client, samples)
    second = db.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(4)).all()
    assert all(run.created == run.updated == 0 for run in second)
    assert sum(run.unchanged for run in second) > 0
    db.expire_all()
    refs_after = db.execute(
        select(
            ExternalRef.entity,
            ExternalRef.external_id,
            ExternalRef.content_hash,
            ExternalRef.updated_at,
        ).order_by(ExternalRef.id)
    ).all()
    assert refs_after == refs_before


def test_orders_in_utf8_with_bom_are_read_alike(client, db, erp_client, samples):
    _replay(client, erp_client, samples)
    first = dict(db.execute(select(Order.number, Order.status)).all())
    _send(client, "sale", "orders-utf8.xml", (samples / "orders-utf8.xml").read_bytes())
    assert _import(client, "sale", "orders-utf8.xml").startswith("success")
    run = db.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
    assert run.unchanged == 10 and run.created == run.updated == 0
    assert dict(db.execute(select(Order.number, Order.status)).all()) == first


def test_wrong_credentials_are_refused_and_audited(client, db, erp_client):
    answer = client.get(
        f"{URL}?type=catalog&mode=checkauth", headers=_basic(erp_client.login, "wrong")
    )
    assert answer.status_code == 401 and answer.mimetype == "text/plain"
    assert answer.get_data(as_text=True).startswith("failure\n")
    # No cookie, no credentials: every other mode is refused too.
    answer = client.get(f"{URL}?type=catalog&mode=init")
    assert answer.get_data(as_text=True).startswith("failure\n")
    events = db.scalars(select(AuditEvent).where(AuditEvent.event == "erp.auth_failed")).all()
    assert len(events) == 2 and all(e.outcome == "denied" for e in events)


def test_revoked_client_cannot_exchange(client, db, erp_client):
    from erp_bridge import services

    _signed_in(client, erp_client)
    services.revoke_client(db, erp_client.id, None)
    db.commit()
    answer = client.get(f"{URL}?type=catalog&mode=init")
    assert answer.get_data(as_text=True).startswith("failure\n")


def _upload_and_import(client, erp_client, name: str, body: bytes) -> str:
    _signed_in(client, erp_client)
    client.get(f"{URL}?type=catalog&mode=init")
    _send(client, "catalog", name, body)
    return _import(client, "catalog", name)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<?xml version='1.0' encoding='UTF-8'?><\xd0\x9a\xd0\xbe>", "not well-formed"),
        (
            "<?xml version='1.0' encoding='UTF-8'?><КоммерческаяИнформация><Каталог>Ёж"
            "</Каталог></КоммерческаяИнформация>".encode("cp1251"),
            "encoding",
        ),
        (
            b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
            b"<r>&x;</r>",
            "DOCTYPE",
        ),
        (
            b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;'>"
            b"<!ENTITY c '&b;&b;&b;&b;'>]><r>&c;</r>",
            "DOCTYPE",
        ),
        (b"<?xml version='1.0'?><root/>", "not a CommerceML document"),
    ],
    ids=["malformed", "wrong-encoding", "xxe", "billion-laughs", "not-commerceml"],
)
def test_bad_files_fail_clearly_and_apply_nothing(client, db, erp_client, body, reason):
    answer = _upload_and_import(client, erp_client, "import.xml", body)
    assert answer.startswith("failure\n") and reason in answer
    assert db.scalar(select(func.count()).select_from(Customer)) == 0


def test_truncated_zip_fails_clearly(client, erp_client, samples):
    _signed_in(client, erp_client)
    client.get(f"{URL}?type=catalog&mode=init")
    whole = (samples / "exchange.zip").read_bytes()
    _send(client, "catalog", "exchange.zip", whole[: len(whole) // 2])
    answer = _import(client, "catalog", "import0_1.xml")
    assert answer.startswith("failure\n") and "damaged or truncated" in answer


def test_file_names_are_sanitised(client, app, erp_client):
    _signed_in(client, erp_client)
    client.get(f"{URL}?type=catalog&mode=init")
    _send(client, "catalog", "../../../escape.xml", b"<x/>")
    _send(client, "catalog", "/etc/passwd", b"<x/>")
    instance = app.config["PORTAL"].instance_dir
    assert not (instance / "escape.xml").exists()
    folder = instance / "erp_exchange" / str(erp_client.id) / "catalog"
    assert (folder / "escape.xml").exists() and (folder / "etc" / "passwd").exists()


def test_init_clears_a_stale_upload(client, erp_client, samples, db):
    _signed_in(client, erp_client)
    client.get(f"{URL}?type=catalog&mode=init")
    _send(client, "catalog", "contragents.xml", b"<half a file")
    client.get(f"{URL}?type=catalog&mode=init")  # 1C retries the exchange from the start
    _send(client, "catalog", "contragents.xml", (samples / "contragents.xml").read_bytes())
    assert _import(client, "catalog", "contragents.xml").startswith("success")


def test_bad_records_become_dead_letters_the_rest_lands(client, db, erp_client, samples):
    _replay(client, erp_client, samples)
    offers = (
        "<?xml version='1.0' encoding='UTF-8'?><КоммерческаяИнформация ВерсияСхемы='2.05' "
        "ДатаФормирования='2026-11-02T10:00:00'><ПакетПредложений>"
        "<СодержитТолькоИзменения>true</СодержитТолькоИзменения><Предложения>"
        f"<Предложение><Ид>{simulator.product(0, simulator.Volume())['id']}</Ид><Цены><Цена>"
        "<ИдТипаЦены>no-such-type</ИдТипаЦены><ЦенаЗаЕдиницу>10</ЦенаЗаЕдиницу></Цена></Цены>"
        "</Предложение>"
        f"<Предложение><Ид>{simulator.product(1, simulator.Volume())['id']}</Ид><Цены><Цена>"
        f"<ИдТипаЦены>{simulator.PRICE_TYPES[0][0]}</ИдТипаЦены><ЦенаЗаЕдиницу>10</ЦенаЗаЕдиницу>"
        "</Цена></Цены><Количество>-5</Количество></Предложение>"
        f"<Предложение><Ид>{simulator.product(2, simulator.Volume())['id']}</Ид><Цены><Цена>"
        f"<ИдТипаЦены>{simulator.PRICE_TYPES[0][0]}</ИдТипаЦены><ЦенаЗаЕдиницу>777.00"
        "</ЦенаЗаЕдиницу></Цена></Цены><Количество>5</Количество></Предложение>"
        "</Предложения></ПакетПредложений></КоммерческаяИнформация>"
    ).encode()
    client.get(f"{URL}?type=catalog&mode=init")
    _send(client, "catalog", "offers1.xml", offers)
    assert _import(client, "catalog", "offers1.xml").startswith("success")
    reasons = sorted(d.reason for d in db.scalars(select(DeadLetter)))
    assert len(reasons) == 2
    assert "negative quantity" in reasons[0] and "unknown price type: no-such-type" in reasons[1]
    price = db.scalar(
        select(Price.price)
        .join(Product, Product.id == Price.product_id)
        .join(PriceType, PriceType.id == Price.price_type_id)
        .where(
            Product.external_id == simulator.product(2, simulator.Volume())["id"],
            PriceType.code == simulator.PRICE_TYPES[0][0],
        )
    )
    assert price == 777


def test_order_for_an_unknown_customer_is_a_dead_letter(client, db, erp_client, samples):
    answer = _upload_and_import(
        client, erp_client, "orders.xml", (samples / "orders-1251.xml").read_bytes()
    )
    assert answer.startswith("success")
    letters = db.scalars(select(DeadLetter)).all()
    assert len(letters) == 10 and all("unknown customer" in d.reason for d in letters)


def test_large_file_answers_progress_then_success(client, db, app, erp_client, tmp_path):
    with app.app_context():
        runtime_settings.put(db, "erp.exchange_inline_mb", 1, None)
        db.commit()
    path = simulator.write_customers(tmp_path / "big.xml", simulator.Volume(customers=2500))
    assert path.stat().st_size > 1024 * 1024
    _signed_in(client, erp_client)
    client.get(f"{URL}?type=catalog&mode=init")
    _send(client, "catalog", "big.xml", path.read_bytes(), chunks=2)
    first = client.get(f"{URL}?type=catalog&mode=import&filename=big.xml")
    assert first.get_data(as_text=True) == "progress"
    assert _import(client, "catalog", "big.xml").startswith("success")
    assert db.scalar(select(func.count()).select_from(Customer)) == 2500


def test_query_sends_reorders_until_success_confirms(client, db, erp_client, samples):
    from orders.models import ReorderLine, ReorderRequest

    _replay(client, erp_client, samples)
    customer_id = db.scalar(
        select(ExternalRef.local_id).where(
            ExternalRef.entity == "customer", ExternalRef.external_id == "C-0000003"
        )
    )
    product = db.scalar(select(Product).order_by(Product.id))
    reorder = ReorderRequest(
        customer_id=customer_id,
        idempotency_key="k-1",
        status="sent",
        comment="Срочно",
        total=Decimal("1240.00"),
        delivery_address_text="Москва, ул. Складочная, 1; Иванов И. И.",
    )
    reorder.lines = [
        ReorderLine(
            line_no=1,
            product_id=product.id,
            article=product.article,
            name=product.name,
            quantity=100,
            unit_price=Decimal("12.40"),
            amount=Decimal("1240.00"),
        )
    ]
    db.add(reorder)
    db.commit()
    for _ in range(2):  # without mode=success the same request is sent again
        answer = client.get(f"{URL}?type=sale&mode=query")
        assert answer.headers["Content-Type"] == "application/xml; charset=windows-1251"
        root = etree.fromstring(answer.data)
        docs = root.findall("Документ")
        assert len(docs) == 1 and docs[0].findtext("Номер") == f"ПЗ-{reorder.id}"
        assert docs[0].findtext("Контрагенты/Контрагент/Ид") == "C-0000003"
        assert docs[0].findtext("Товары/Товар/Ид") == product.external_id
        assert docs[0].findtext("Товары/Товар/Наименование") == product.name
        assert docs[0].findtext("Сумма") == "1240.00"
        requisites = {
            v.findtext("Наименование"): v.findtext("Значение")
            for v in docs[0].findall("ЗначенияРеквизитов/ЗначениеРеквизита")
        }
        assert requisites["Адрес доставки"] == "Москва, ул. Складочная, 1; Иванов И. И."
    assert client.get(f"{URL}?type=sale&mode=success").get_data(as_text=True) == "success"
    db.expire_all()
    assert db.get(ReorderRequest, reorder.id).exported_at is not None
    root = etree.fromstring(client.get(f"{URL}?type=sale&mode=query").data)
    assert root.findall("Документ") == []


def test_unknown_mode_and_type_answer_failure(client, erp_client):
    _signed_in(client, erp_client)
    assert (
        client.get(f"{URL}?type=catalog&mode=dance")
        .get_data(as_text=True)
        .startswith("failure\nunknown mode")
    )
    assert client.get(f"{URL}?type=x&mode=init").get_data(as_text=True).startswith("failure\n")


def test_zip_with_cp866_names_is_unpacked(tmp_path):
    from erp_bridge import files

    archive = tmp_path / "a.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("../../XXXXXXXX.xml", b"<x/>")
    # 1C's archiver: Cyrillic names in cp866, without the UTF-8 flag.
    archive.write_bytes(buffer.getvalue().replace(b"XXXXXXXX", "выгрузка".encode("cp866")))
    written = files.unzip(archive, tmp_path / "out")
    assert [p.relative_to(tmp_path / "out").as_posix() for p in written] == ["выгрузка.xml"]


def test_full_catalog_deactivates_missing_products_incremental_does_not(app_ctx, db, tmp_path):
    from erp_bridge import files

    engine = app_ctx.extensions["db_engine"]
    volume = simulator.Volume(products=10)

    def load(count: int, full: bool):
        path = simulator.write_catalog(tmp_path / "import.xml", volume, full=full, count=count)
        return files.import_file(db, engine, path, system="1c")

    assert load(10, full=True).created == 17  # 7 groups, 10 products
    changes = load(6, full=False)  # changes only: the 4 not listed stay as they are
    assert changes.deactivated == 0 and changes.unchanged == 13
    full = load(6, full=True)
    assert full.deactivated == 4
    active = dict(db.execute(select(Product.external_id, Product.active)).all())
    assert len(active) == 10 and sum(active.values()) == 6  # kept, switched off
    audit = db.scalar(select(AuditEvent).where(AuditEvent.event == "erp.deactivated"))
    assert '"count": 4' in audit.details
    assert load(10, full=True).updated == 4  # listed again: switched back on
    db.expire_all()
    assert all(db.scalars(select(Product.active)))
