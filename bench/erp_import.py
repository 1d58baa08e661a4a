"""Bench: import offers/prices and orders from CommerceML into PostgreSQL, against COPY.

    .venv/bin/python bench/erp_import.py --scale 0.05      # 50,000 offers, 10,000 orders

At ``--scale 1`` it is the issue's size: 1,000,000 offers (three prices each) and
200,000 orders with lines. In the same run the same rows are loaded with PostgreSQL
``COPY`` into staging tables (from CSV files prepared beforehand: only COPY is timed,
not the simulator's Python that makes the rows), and the ratio of the two rates is
printed. Each import runs in a child process whose peak RSS is reported; the same import
of files a quarter of the size shows whether peak memory depends on the files' size.

Needs PostgreSQL (``PORTAL_TEST_PG_URL``, default postgresql://postgres@127.0.0.1:5432/postgres);
it creates and drops databases of its own.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("PORTAL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
FULL_OFFERS, FULL_ORDERS = 1_000_000, 200_000


def _app(url: str, instance: Path):
    from portal import create_app
    from portal.settings import load_settings

    settings = load_settings(
        {
            "PORTAL_ENV": "test",
            "PORTAL_INSTANCE_DIR": str(instance),
            "PORTAL_DATABASE_URL": url,
            "PORTAL_ORIGIN": "http://localhost",
            "PORTAL_SECRET_KEY": "bench-" + "x" * 40,
            "PORTAL_LOG_LEVEL": "WARNING",
        }
    )
    return create_app({"TESTING": True}, settings)


def _import_child(url: str, instance: str, paths: list[str], queue) -> None:  # type: ignore[no-untyped-def]
    """In a fresh process: import the files, report seconds, counts and peak RSS."""
    from erp_bridge import files
    from portal.db import session_scope

    app = _app(url, Path(instance))
    results = []
    with app.app_context():
        engine = app.extensions["db_engine"]
        for path in paths:
            started = time.perf_counter()
            with session_scope() as session:
                run = files.import_file(session, engine, Path(path), system="1c")
                results.append(
                    (
                        Path(path).name,
                        time.perf_counter() - started,
                        run.status,
                        run.created,
                        run.updated,
                        run.unchanged,
                        run.rejected,
                        run.error,
                    )
                )
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((results, peak_kb))


def run_import(url: str, instance: Path, paths: list[Path]):  # type: ignore[no-untyped-def]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(
        target=_import_child, args=(url, str(instance), [str(p) for p in paths], queue)
    )
    child.start()
    results = queue.get()
    child.join()
    return results


def write_copy_data(folder: Path, offers: int, orders: int, volume) -> tuple[list[Path], int]:  # type: ignore[no-untyped-def]
    """The baseline's rows (offer prices, orders, order lines) as CSV files, written before
    COPY is timed: the simulator's Python (Decimal arithmetic, a record built per row) is no
    part of what COPY costs. Answers the files, in the order of ``BASELINE_TABLES``."""
    import csv

    from erp_bridge import simulator

    paths = [folder / f"{table}.csv" for table, _columns in BASELINE_TABLES]
    rows = 0
    with (
        paths[0].open("w", newline="") as prices,
        paths[1].open("w", newline="") as heads,
        paths[2].open("w", newline="") as lines,
    ):
        price_rows, head_rows, line_rows = csv.writer(prices), csv.writer(heads), csv.writer(lines)
        for i in range(offers):
            rec = simulator.offer(i % volume.products, volume)
            for price in rec["prices"]:
                price_rows.writerow((rec["id"], price["type"], price["price"]))
                rows += 1
        for i in range(orders):
            rec = simulator.order(i, volume)
            head_rows.writerow(
                (
                    rec["id"],
                    rec["number"],
                    rec["date"],
                    rec["customer"],
                    rec["status"],
                    rec["total"],
                )
            )
            rows += 1
            for line in rec["lines"]:
                line_rows.writerow(
                    (
                        rec["id"],
                        line["product"],
                        line["name"],
                        line["quantity"],
                        line["price"],
                        line["amount"],
                    )
                )
                rows += 1
    return paths, rows


BASELINE_TABLES = (
    ("bench_price", "offer text, price_type text, price numeric(14,2)"),
    (
        "bench_order",
        "external_id text, number text, placed_at timestamptz, customer text, status text, "
        "total numeric(14,2)",
    ),
    (
        "bench_line",
        "order_id text, product text, name text, quantity numeric, price numeric(14,2), "
        "amount numeric(14,2)",
    ),
)


def copy_baseline(url: str, paths: list[Path]) -> float:
    """COPY the prepared rows into staging tables; answers the seconds COPY took."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        for table, columns in BASELINE_TABLES:
            conn.execute(f"CREATE UNLOGGED TABLE {table} ({columns})")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur:
            for (table, _columns), path in zip(BASELINE_TABLES, paths, strict=True):
                with (
                    cur.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy,
                    path.open("rb") as f,
                ):
                    while block := f.read(1 << 20):
                        copy.write(block)
        conn.commit()
        return time.perf_counter() - started


def parse_floor(paths: list[Path]) -> float:
    """Seconds lxml needs only to read the files as the import must: the whole-file check
    (``files.check_xml``: a broken file applies nothing) and one streaming pass over the
    record elements, each freed at its end and nothing built of it. No importer that reads
    these files with lxml on one core can be faster than this."""
    from lxml import etree

    from erp_bridge import files
    from erp_bridge.commerceml import free_element

    started = time.perf_counter()
    for path in paths:
        files.check_xml(path)
        for _event, elem in etree.iterparse(
            str(path), events=("end",), tag=("{*}Предложение", "{*}Документ"), no_network=True
        ):
            free_element(elem)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1.0 = 1,000,000 offers and 200,000 orders"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()

    import psycopg

    from erp_bridge import simulator
    from portal import migrate

    offers = max(1, int(FULL_OFFERS * args.scale))
    orders = max(1, int(FULL_ORDERS * args.scale))
    products = min(offers, 100_000)
    customers = max(1, min(orders // 4, 50_000))
    volume = simulator.Volume(customers=customers, products=products, orders=orders)

    names: list[str] = []

    def new_database() -> str:
        name = f"bench_erp_{secrets.token_hex(3)}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        names.append(name)
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        migrate.upgrade(url)
        return url

    work = Path(tempfile.mkdtemp(prefix="erp-bench-"))
    try:
        url = new_database()
        print(
            f"scale {args.scale}: {offers:,} offers × 3 prices, {orders:,} orders; "
            f"{products:,} products, {customers:,} customers",
            flush=True,
        )
        t = time.perf_counter()
        setup = [
            simulator.write_customers(work / "contragents.xml", volume),
            simulator.write_catalog(work / "import.xml", volume),
        ]
        offers_file = simulator.write_offers(work / "offers.xml", volume, count=offers)
        orders_file = simulator.write_orders(work / "orders.xml", volume)
        # The same import at a quarter of the size: peak memory must not follow the size.
        quarter = [
            simulator.write_offers(work / "offers-quarter.xml", volume, count=max(1, offers // 4)),
            simulator.write_orders(work / "orders-quarter.xml", volume, count=max(1, orders // 4)),
        ]
        print(
            f"files written in {time.perf_counter() - t:.1f}s: offers "
            f"{offers_file.stat().st_size / 2**20:.0f} MB, orders "
            f"{orders_file.stat().st_size / 2**20:.0f} MB",
            flush=True,
        )

        results, _peak = run_import(url, work, setup)
        for row in results:
            print(f"  setup {row[0]}: {row[1]:.1f}s {row[2]} created {row[3]}", flush=True)

        results, peak_kb = run_import(url, work, [offers_file, orders_file])
        seconds = sum(row[1] for row in results)
        for row in results:
            print(
                f"  {row[0]}: {row[1]:.1f}s {row[2]} created {row[3]} updated {row[4]} "
                f"unchanged {row[5]} rejected {row[6]} {row[7] or ''}",
                flush=True,
            )
        records = offers + orders
        rate = records / seconds

        again, _ = run_import(url, work, [offers_file, orders_file])
        again_seconds = sum(row[1] for row in again)

        # A first load as well, into a database of its own, after the same setup.
        quarter_url = new_database()
        run_import(quarter_url, work, setup)
        _small, small_peak_kb = run_import(quarter_url, work, quarter)

        t = time.perf_counter()
        copy_files, copy_rows = write_copy_data(work, offers, orders, volume)
        prepare_seconds = time.perf_counter() - t
        copy_seconds = copy_baseline(url, copy_files)
        copy_rate = records / copy_seconds
        floor_rate = records / parse_floor([offers_file, orders_file])

        print()
        print(
            f"import (first load):   {records:,} records in {seconds:.1f}s = {rate:,.0f} records/s"
        )
        print(
            f"import (same files again, all unchanged): {again_seconds:.1f}s = "
            f"{records / again_seconds:,.0f} records/s"
        )
        print(
            f"COPY baseline:         {records:,} records ({copy_rows:,} rows) in "
            f"{copy_seconds:.1f}s = {copy_rate:,.0f} records/s"
        )
        timed_with_generation = records / (copy_seconds + prepare_seconds)
        print(
            f"  (rows generated beforehand in {prepare_seconds:.1f}s, untimed; with that "
            f"generation timed, as the bench did before: {timed_with_generation:,.0f} records/s)"
        )
        print(f"ratio import/COPY:     {rate / copy_rate:.3f}  (target >= 0.25)")
        print(
            f"parse floor (lxml reads the files, builds and writes nothing): "
            f"{floor_rate:,.0f} records/s, ratio to COPY {floor_rate / copy_rate:.3f}"
        )
        print(
            f"peak RSS, full import: {peak_kb / 1024:.0f} MB; the same at a quarter of the "
            f"size: {small_peak_kb / 1024:.0f} MB"
        )
        print(f"target >= 20,000 records/s: {'met' if rate >= 20_000 else 'NOT met'}")
    finally:
        if not args.keep:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                for name in names:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
