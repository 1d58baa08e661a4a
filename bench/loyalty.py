"""Loyalty ledger benchmark on PostgreSQL.

    .venv/bin/python bench/loyalty.py --scale 1.0        # 100,000 customers x 50 entries

Builds a throw-away database with ``100,000 x scale`` customers and 50 ledger entries
each (45 accruals spread over ``--months`` months, the 5 oldest spent by 5 redemptions,
with their lots and allocations), then measures in one run:

1. the nightly expiry job over the whole ledger (``expire_due_lots``): first the
   catch-up run that finds every lot past its date (about a third of all lots), with
   time and resident memory before, peak during and after (target: under 60 s, memory
   flat); a second run (must find nothing); a regular next night (the lots whose last
   valid day was today); ``portal loyalty verify``'s check;
2. the customer's bonus page (``GET /bonuses/``) against a hello-world route
   (``GET /healthz``), both through the WSGI app in this process: requests per second
   and their ratio;
3. redemptions (``loyalty.services.redeem`` + commit, the row-locked path) against the
   same hello-world: operations per second and the ratio; then the check again.

PostgreSQL comes from ``PORTAL_BENCH_PG_URL`` (default: postgresql://postgres@127.0.0.1:5432/postgres);
the database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from sqlalchemy import text

from portal import create_app, migrate
from portal.clock import frozen_at, now
from portal.settings import load_settings

ADMIN_URL = os.environ.get("PORTAL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ENTRIES_PER_CUSTOMER = 50
ACCRUALS = 45
SPENT = 5


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class MemoryWatch:
    """Samples this process's resident memory every 20 ms while a block runs."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()

    def __enter__(self) -> MemoryWatch:
        self.before = rss_mb()
        self.peak = self.before
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.after = rss_mb()


def create_database() -> tuple[str, str]:
    name = f"portal_bench_loyalty_{secrets.token_hex(3)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill(engine, customers: int, months: int) -> None:
    """Customers, accounts, entries, lots and allocations, generated on the server."""
    params = {
        "customers": customers,
        "span": int(months * 30.44),
        "accruals": ACCRUALS,
        "spent": SPENT,
        "balance": (ACCRUALS - SPENT) * 100,
    }
    statements = [
        """INSERT INTO customer (number, kind, name, status, loyalty_tier, created_at, updated_at)
           SELECT 'B-' || g, 'company', 'ООО «Бенчмарк ' || g || '»', 'active', 'base',
                  now(), now()
           FROM generate_series(1, CAST(:customers AS integer)) g""",
        # 45 accruals per customer, oldest first, spread evenly over the span (shifted by
        # up to 11 days per customer, so that every night has some lots to expire).
        """INSERT INTO loyalty_entry (customer_id, points, kind, source_kind, source_ref,
               idempotency_key, expires_on, comment, created_at)
           SELECT c.id, 100, 'accrual', 'erp', 'B' || c.id || '-' || k,
                  'erp:B' || c.id || '-' || k, at::date + 365,
                  'Покупка в магазине', at
           FROM customer c
           CROSS JOIN generate_series(1, CAST(:accruals AS integer)) k
           CROSS JOIN LATERAL (
               SELECT now() - make_interval(
                   days => CAST(:span AS integer) * (CAST(:accruals AS integer) - k)
                           / CAST(:accruals AS integer) + c.id % 12
               ) AS at
           ) moment
           ORDER BY c.id, k""",
        """INSERT INTO loyalty_lot (customer_id, entry_id, points, remaining, expires_on)
           SELECT customer_id, id, points, points, expires_on FROM loyalty_entry
           WHERE kind = 'accrual' ORDER BY id""",
        # 5 redemptions per customer (recent), each spending one of the 5 oldest lots.
        """INSERT INTO loyalty_entry (customer_id, points, kind, source_kind, source_ref,
               idempotency_key, comment, created_at)
           SELECT c.id, -100, 'redemption', 'reorder', c.id || '-' || k,
                  'bench:redeem:' || c.id || '-' || k, 'Оплата баллами',
                  now() - make_interval(days => 30 * k)
           FROM customer c CROSS JOIN generate_series(1, CAST(:spent AS integer)) k
           ORDER BY c.id, k""",
        """WITH oldest AS (
               SELECT id, customer_id,
                      row_number() OVER (PARTITION BY customer_id ORDER BY expires_on, id) AS n
               FROM loyalty_lot
           ), spent AS (
               SELECT e.id, e.customer_id,
                      row_number() OVER (PARTITION BY e.customer_id ORDER BY e.id) AS n
               FROM loyalty_entry e WHERE e.kind = 'redemption'
           )
           INSERT INTO loyalty_allocation (lot_id, entry_id, points, returned)
           SELECT oldest.id, spent.id, 100, false
           FROM oldest JOIN spent USING (customer_id, n)
           WHERE oldest.n <= CAST(:spent AS integer)""",
        """UPDATE loyalty_lot SET remaining = 0
           WHERE id IN (SELECT lot_id FROM loyalty_allocation)""",
        """INSERT INTO loyalty_account (customer_id, balance, held, debt, tier, turnover_12m,
               updated_at)
           SELECT id, CAST(:balance AS integer), 0, 0, 'base', 150000, now() FROM customer""",
    ]
    with engine.begin() as connection:
        # Loading is faster without the secondary indexes: drop them, load, build them again.
        kept = _drop_secondary_indexes(connection)
        for sql in statements:
            statement = text(sql)
            used = {k: v for k, v in params.items() if f":{k}" in sql}
            connection.execute(statement, used)
        for definition in kept:
            connection.execute(text(definition))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))


LOADED_TABLES = ("loyalty_entry", "loyalty_lot", "loyalty_allocation", "loyalty_account")


def _drop_secondary_indexes(connection) -> list[str]:
    """Drop the loaded tables' non-primary indexes and unique constraints; return their DDL."""
    rows = connection.execute(
        text(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
                      c.conname, pg_get_constraintdef(c.oid), t.relname
               FROM pg_index i
               JOIN pg_class t ON t.oid = i.indrelid
               LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype = 'u'
               WHERE t.relname = ANY(:tables) AND NOT i.indisprimary"""
        ),
        {"tables": list(LOADED_TABLES)},
    ).all()
    ddl = []
    for index, index_def, constraint, constraint_def, table in rows:
        if constraint:
            connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"'))
            ddl.append(f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" {constraint_def}')
        else:
            connection.execute(text(f"DROP INDEX {index}"))
            ddl.append(index_def)
    return ddl


def signed_in_clients(app, customer_ids: list[int]):
    from auth import sessions

    clients = []
    factory = app.extensions["db_sessionmaker"]
    with app.app_context():
        db = factory()
        for customer_id in customer_ids:
            token, _row = sessions.start_session(
                db,
                kind="customer",
                subject_id=customer_id,
                key_id=None,
                ip="127.0.0.1",
                user_agent="bench",
            )
            client = app.test_client()
            client.set_cookie("portal_session", token, domain="localhost")
            clients.append(client)
        db.commit()
        db.close()
    return clients


def rate(work, seconds: float) -> tuple[float, int]:
    """Operations per second of ``work(n)`` run for about ``seconds``."""
    done = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        work(done)
        done += 1
    return done / elapsed, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100,000 customers")
    parser.add_argument("--months", type=int, default=18, help="span of the accruals")
    parser.add_argument("--seconds", type=float, default=10.0, help="per throughput phase")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    customers = max(10, int(100_000 * args.scale))

    name, url = create_database()
    print(f"database {name}: {customers:,} customers x {ENTRIES_PER_CUSTOMER} entries")
    try:
        migrate.upgrade(url)
        environ = {
            "PORTAL_ENV": "test",
            "PORTAL_INSTANCE_DIR": tempfile.mkdtemp(prefix="bench-loyalty-"),
            "PORTAL_DATABASE_URL": url,
            "PORTAL_ORIGIN": "http://localhost",
            "PORTAL_SECRET_KEY": "bench-" + "x" * 40,
            "PORTAL_LOG_LEVEL": "WARNING",  # a line per request would be most of the output
        }
        app = create_app({"TESTING": True}, load_settings(environ))
        engine = app.extensions["db_engine"]
        started = time.perf_counter()
        fill(engine, customers, args.months)
        with engine.connect() as connection:
            entries = connection.execute(text("SELECT count(*) FROM loyalty_entry")).scalar()
            size = connection.execute(
                text("SELECT pg_size_pretty(pg_database_size(current_database()))")
            ).scalar()
        print(f"filled {entries:,} entries in {time.perf_counter() - started:.1f} s ({size})")

        from loyalty import services

        factory = app.extensions["db_sessionmaker"]
        with app.app_context():
            db = factory()
            # The first run after loading: every lot past its date, the worst case.
            with MemoryWatch() as memory:
                started = time.perf_counter()
                run = services.expire_due_lots(db, batch=1000)
                elapsed = time.perf_counter() - started
            print(
                f"expiry catch-up  {elapsed:8.1f} s      {run.lots:,} lots closed, "
                f"{run.points:,} points expired, {run.batches} batches "
                f"({'under' if elapsed < 60 else 'OVER'} the 60 s target)\n"
                f"memory (RSS)     before {memory.before:.0f} MB, peak {memory.peak:.0f} MB, "
                f"after {memory.after:.0f} MB"
            )
            started = time.perf_counter()
            again = services.expire_due_lots(db, batch=1000)
            print(
                f"expiry rerun     {time.perf_counter() - started:8.1f} s      "
                f"{again.lots} lots (nothing left to do)"
            )
            # A regular night: the lots whose last valid day was today.
            with frozen_at(now() + dt.timedelta(days=1)), MemoryWatch() as night_memory:
                started = time.perf_counter()
                night = services.expire_due_lots(db, batch=1000)
                night_time = time.perf_counter() - started
            print(
                f"next night       {night_time:8.1f} s      {night.lots:,} lots closed, "
                f"{night.points:,} points expired "
                f"(RSS peak {night_memory.peak:.0f} MB)"
            )
            started = time.perf_counter()
            bad = services.verify(db)
            print(
                f"verify           {time.perf_counter() - started:8.1f} s      "
                f"{len(bad)} accounts disagree with the ledger"
            )
            db.close()

        rng = random.Random(1)
        ids = [rng.randint(1, customers) for _ in range(200)]
        clients = signed_in_clients(app, ids)
        hello_client = app.test_client()

        def hello(_n: int) -> None:
            assert hello_client.get("/healthz").status_code == 200

        def balance_page(n: int) -> None:
            response = clients[n % len(clients)].get("/bonuses/")
            assert response.status_code == 200, response.status_code

        hello_rate, _ = rate(hello, args.seconds)
        page_rate, pages = rate(balance_page, args.seconds)
        print(
            f"hello-world      {hello_rate:8.1f} req/s\n"
            f"balance page     {page_rate:8.1f} req/s  ({pages} requests)  "
            f"ratio {page_rate / hello_rate:.3f} of hello-world"
        )

        spenders = list(range(1, customers + 1))
        rng.shuffle(spenders)

        def redeem(n: int) -> None:
            with app.app_context():
                db = factory()
                services.redeem(db, spenders[n % len(spenders)], points=10, key=f"bench:{n}")
                db.commit()
                db.close()

        redeem_rate, redeemed = rate(redeem, args.seconds)
        print(
            f"redemption       {redeem_rate:8.1f} op/s   ({redeemed} redemptions, each committed)  "
            f"ratio {redeem_rate / hello_rate:.3f} of hello-world"
        )

        with app.app_context():
            db = factory()
            bad_after = services.verify(db)
            db.close()
        print(f"verify after     {len(bad_after)} accounts disagree with the ledger")
        return 0 if not bad and not bad_after and again.lots == 0 else 1
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            drop_database(name)


if __name__ == "__main__":
    sys.exit(main())
