"""Benchmark of the customer's cabinet on a big PostgreSQL database.

Generates customers and orders (with lines, status timelines and shipments) in a fresh
PostgreSQL database migrated with the project's own migrations (so the indexes are the
migrations' indexes), bulk-loaded with COPY; then serves the portal with gunicorn and
measures signed-in GETs of the dashboard and of the order list against a hello-world
route of the same app, in the same run, with the same client, the routes taking turns in
two-second slices so that all meet the same machine. Prints each ratio
(requests per second of the page / of hello-world). Target: >= 0.40.

    .venv/bin/python bench/cabinet.py --scale 1        # 10,000 customers, 1,000,000 orders
    .venv/bin/python bench/cabinet.py --scale 0.05     # 500 customers, 50,000 orders

The client is an asyncio HTTP/1.0 loop with C concurrent connections: a few microseconds
per request, so that it takes as little CPU from the server as it can on a small machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.cli import SERVE_THREADS  # noqa: E402  (after the sys.path line above)

FULL_CUSTOMERS = 10_000
FULL_ORDERS = 1_000_000
PRODUCTS = 500
SIGNED_IN = 200  # customers with a session; requests rotate over them
HELLO = "/bench/hello"


# --------------------------------------------------------------------------- the app


def bench_app():
    """The portal plus one hello-world route (gunicorn: 'bench.cabinet:bench_app()')."""
    from portal import create_app

    app = create_app()

    @app.get(HELLO)
    def hello():
        return "hello"

    return app


# --------------------------------------------------------------------------- data


def _copy(cursor, table: str, columns: tuple[str, ...], rows) -> int:
    count = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def load(url: str, customers: int, orders: int, seed: int = 7) -> list[int]:
    """Bulk-load the database; returns the ids of customers to sign in."""
    import psycopg

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now - dt.timedelta(days=730)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        cur = conn.cursor()
        cur.execute(
            "INSERT INTO staff (id, email, name, phone, is_active, created_at) "
            "VALUES (1, 'manager@bench.example', 'Анна Кузнецова', '+7 495 120-45-68', true, %s)",
            (now,),
        )
        _copy(
            cur,
            "customer",
            (
                "id",
                "number",
                "kind",
                "name",
                "email",
                "status",
                "manager_id",
                "price_type_code",
                "created_at",
                "updated_at",
            ),
            (
                (
                    i,
                    f"B-{i:06d}",
                    "company",
                    f"ООО «Клиент {i}»",
                    f"c{i}@bench.example",
                    "active",
                    1,
                    "wholesale" if i % 3 else None,
                    now,
                    now,
                )
                for i in range(1, customers + 1)
            ),
        )
        cur.execute(
            "INSERT INTO price_type (id, code, name, currency) VALUES "
            "(1, 'base', 'Базовая', 'RUB'), (2, 'wholesale', 'Оптовая', 'RUB')"
        )
        cur.execute("INSERT INTO product_group (id, code, name) VALUES (1, 'g1', 'Крепёж')")
        _copy(
            cur,
            "product",
            (
                "id",
                "external_id",
                "article",
                "name",
                "group_id",
                "unit",
                "active",
                "search_text",
                "updated_at",
            ),
            (
                (
                    p,
                    f"p{p}",
                    f"А-{p:04d}",
                    f"Товар {p:04d}",
                    1,
                    "шт",
                    True,
                    f"а-{p:04d} товар {p:04d}",
                    now,
                )
                for p in range(1, PRODUCTS + 1)
            ),
        )
        _copy(
            cur,
            "price",
            ("product_id", "price_type_id", "price", "updated_at"),
            (
                (p, t, Decimal(100 + p) * (Decimal("0.9") if t == 2 else 1), now)
                for p in range(1, PRODUCTS + 1)
                for t in (1, 2)
            ),
        )
        print(f"  customers and catalog: {customers} customers, {PRODUCTS} products", flush=True)

        plan = []  # (order id, customer, placed, status)
        for order_id in range(1, orders + 1):
            age = rng.random() * 730
            placed = now - dt.timedelta(days=age, seconds=rng.randint(0, 86_399))
            if age > 21:
                status = "delivered" if rng.random() < 0.92 else "cancelled"
            else:
                status = rng.choice(("new", "confirmed", "assembling", "shipped", "in_transit"))
            plan.append((order_id, rng.randint(1, customers), max(placed, start), status))
        lines_per = [rng.randint(1, 5) for _ in plan]

        started = time.perf_counter()
        _copy(
            cur,
            "customer_order",
            (
                "id",
                "customer_id",
                "external_id",
                "number",
                "placed_at",
                "status",
                "currency",
                "total",
                "vat",
                "payment_status",
                "line_count",
                "updated_at",
            ),
            (
                (
                    oid,
                    cid,
                    f"o{oid}",
                    f"ЗК-{oid:07d}",
                    placed,
                    status,
                    "RUB",
                    Decimal(1200 * n),
                    Decimal(200 * n),
                    "paid",
                    n,
                    placed,
                )
                for (oid, cid, placed, status), n in zip(plan, lines_per, strict=True)
            ),
        )
        print(f"  orders: {orders} in {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        line_rows = _copy(
            cur,
            "order_line",
            (
                "order_id",
                "line_no",
                "product_id",
                "article",
                "name",
                "unit",
                "quantity",
                "unit_price",
                "discount_percent",
                "amount",
            ),
            (
                (oid, k, (oid * 7 + k) % PRODUCTS + 1, "А-0001", "Товар", "шт", 2, 600, 0, 1200)
                for (oid, _c, _p, _s), n in zip(plan, lines_per, strict=True)
                for k in range(1, n + 1)
            ),
        )
        print(f"  order lines: {line_rows} in {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        events = _copy(
            cur,
            "order_status_event",
            ("order_id", "status", "occurred_at"),
            (
                row
                for oid, _c, placed, status in plan
                for row in (
                    ((oid, "new", placed),)
                    if status == "new"
                    else ((oid, "new", placed), (oid, status, placed + dt.timedelta(days=1)))
                )
            ),
        )
        shipments = _copy(
            cur,
            "shipment",
            (
                "id",
                "customer_id",
                "order_id",
                "external_id",
                "number",
                "carrier",
                "tracking_number",
                "tracking_url",
                "status",
                "shipped_at",
                "expected_at",
                "delivered_at",
                "updated_at",
            ),
            (
                (
                    oid,
                    cid,
                    oid,
                    f"s{oid}",
                    f"ОТ-{oid:07d}",
                    "СДЭК",
                    f"{oid:010d}",
                    f"https://www.cdek.ru/ru/tracking?order_id={oid:010d}",
                    "delivered" if status == "delivered" else "in_transit",
                    placed + dt.timedelta(days=1),
                    placed + dt.timedelta(days=4),
                    placed + dt.timedelta(days=3) if status == "delivered" else None,
                    placed,
                )
                for oid, cid, placed, status in plan
                if status in ("delivered", "shipped", "in_transit")
            ),
        )
        print(
            f"  status events: {events}, shipments: {shipments} "
            f"in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        for table in (
            "customer",
            "product",
            "customer_order",
            "shipment",
            "staff",
            "price_type",
            "product_group",
        ):
            cur.execute(  # table names come from the tuple above, not from input
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        conn.commit()
        conn.autocommit = True
        started = time.perf_counter()
        cur.execute("VACUUM ANALYZE")
        print(f"  vacuum analyze in {time.perf_counter() - started:.0f} s", flush=True)
    return rng.sample(range(1, customers + 1), min(SIGNED_IN, customers))


def renew_sessions(url: str) -> list[str]:
    """New tokens for the live sessions of a kept database (the table holds only hashes)."""
    import psycopg

    from auth.sessions import hash_token

    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM auth_session WHERE principal_kind = 'customer' ORDER BY id"
            )
        ]
        tokens = [secrets.token_urlsafe(32) for _ in ids]
        conn.cursor().executemany(
            "UPDATE auth_session SET token_hash = %s, last_seen_at = %s, expires_at = %s, "
            "ended_at = NULL, end_reason = NULL WHERE id = %s",
            [
                (hash_token(token), now, now + dt.timedelta(hours=8), sid)
                for token, sid in zip(tokens, ids, strict=True)
            ],
        )
    return tokens


def open_sessions(url: str, customer_ids: list[int]) -> list[str]:
    """A live session per customer, written as the auth package writes it: each customer's
    owner (a person, with a company membership) is the one signed in."""
    import psycopg

    from auth.sessions import hash_token

    now = dt.datetime.now(dt.UTC)
    tokens = [secrets.token_urlsafe(32) for _ in customer_ids]
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        cursor = conn.cursor()
        people = []
        for cid in customer_ids:
            cursor.execute(
                "INSERT INTO contact (customer_id, name, is_primary, created_at) "
                "VALUES (%s, %s, true, %s) RETURNING id",
                (cid, f"Покупатель {cid}", now),
            )
            person = cursor.fetchone()[0]
            cursor.execute(
                "INSERT INTO auth_company_member (customer_id, contact_id, role, created_at, "
                "updated_at) VALUES (%s, %s, 'owner', %s, %s)",
                (cid, person, now, now),
            )
            people.append(person)
        cursor.executemany(
            "INSERT INTO auth_session (token_hash, principal_kind, customer_id, contact_id, "
            "created_at, last_seen_at, idle_seconds, expires_at) "
            "VALUES (%s, 'customer', %s, %s, %s, %s, %s, %s)",
            [
                (hash_token(token), cid, person, now, now, 86_400, now + dt.timedelta(hours=8))
                for token, cid, person in zip(tokens, customer_ids, people, strict=True)
            ],
        )
    return tokens


# --------------------------------------------------------------------------- client


async def _one(port: int, path: str, cookie: str | None) -> tuple[int, float]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"GET {path} HTTP/1.0\r\nHost: localhost:{port}\r\n"
    if cookie:
        head += f"Cookie: portal_session={cookie}\r\n"
    writer.write((head + "\r\n").encode())
    data = await reader.read()
    writer.close()
    status = int(data[9:12]) if data[:5] == b"HTTP/" else 0
    return status, time.perf_counter() - started


async def _drive(port: int, path: str, tokens: list[str | None], seconds: float, c: int):
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            token = tokens[next(counter) % len(tokens)]
            status, elapsed = await _one(port, path, token)
            if status != 200:
                errors += 1
            latencies.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(c)))
    return len(latencies) / (time.perf_counter() - started), latencies, errors


SLICE = 2.0  # seconds of one route before the next route's turn


def measure(port: int, routes: dict[str, tuple[str, list[str | None]]], seconds: float, c: int):
    """Each route's rate, p50/p95 and errors, the routes taking turns in slices of SLICE
    seconds, ``seconds`` each in all.

    This virtual machine's speed drifts by tens of percent within a minute (hello-world
    has measured 570 and 1,130 requests/s in one afternoon): measured one after the other,
    the routes would meet different machines. Taking turns, they meet the same one.
    """
    for path, who in routes.values():  # warm-up: workers, pools, caches, prepared plans
        asyncio.run(_drive(port, path, who, min(3.0, seconds / 3), c))
    done = {label: ([], 0, 0.0) for label in routes}
    for _round in range(max(1, round(seconds / SLICE))):
        for label, (path, who) in routes.items():
            started = time.perf_counter()
            _rps, latencies, errors = asyncio.run(_drive(port, path, who, SLICE, c))
            kept, failed, spent = done[label]
            done[label] = (kept + latencies, failed + errors, spent + time.perf_counter() - started)
    results = {}
    for label, (latencies, errors, spent) in done.items():
        latencies.sort()
        results[label] = {
            "rps": len(latencies) / spent,
            "p50": statistics.median(latencies) * 1000,
            "p95": latencies[int(len(latencies) * 0.95) - 1] * 1000,
            "errors": errors,
            "requests": len(latencies),
        }
    return results


# --------------------------------------------------------------------------- main


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(port: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1 = 10,000 customers and 1,000,000 orders"
    )
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "PORTAL_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--seconds", type=float, default=20, help="per measured route")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads",
        type=int,
        default=SERVE_THREADS,
        help="gunicorn threads per worker (default: what `portal serve` runs with)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--database",
        help="measure a database kept by an earlier --keep run "
        "(its scale must be given again) instead of loading a new one",
    )
    args = parser.parse_args()

    import psycopg

    from portal import migrate

    customers = max(10, int(FULL_CUSTOMERS * args.scale))
    orders = max(100, int(FULL_ORDERS * args.scale))
    name = args.database or f"bench_cabinet_{os.getpid()}"
    keep = args.keep or bool(args.database)
    base = args.pg.rsplit("/", 1)[0]
    url = f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    if not args.database:
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    server = None
    try:
        if args.database:
            print(f"database {name}: kept by an earlier run, migrating to head", flush=True)
            migrate.upgrade(url)
            tokens = renew_sessions(url)
        else:
            print(
                f"database {name}: migrating, then loading {customers} customers, {orders} orders",
                flush=True,
            )
            started = time.perf_counter()
            migrate.upgrade(url)
            signed = load(url, customers, orders)
            tokens = open_sessions(url, signed)
            print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)

        port = _free_port()
        instance = Path(f"/tmp/{name}")
        instance.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "PORTAL_ENV": "development",
            "PORTAL_DATABASE_URL": url,
            "PORTAL_ORIGIN": f"http://localhost:{port}",
            "PORTAL_SECRET_KEY": secrets.token_urlsafe(48),
            "PORTAL_INSTANCE_DIR": str(instance),
            "PORTAL_LOG_LEVEL": "WARNING",
        }
        gunicorn = Path(sys.executable).parent / "gunicorn"
        server = subprocess.Popen(
            [
                str(gunicorn),
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "bench.cabinet:bench_app()",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        _wait_until_up(port)
        routes = {
            "hello-world": (HELLO, [None]),
            # The foundation's own small signed-in page, for scale: what any signed-in
            # page costs before the cabinet adds anything.
            "my sessions": ("/auth/sessions", tokens),
            "dashboard": ("/", tokens),
            "order list": ("/orders", tokens),
        }
        results = measure(port, routes, args.seconds, args.concurrency)
        for label, r in results.items():
            print(
                f"{label:12s} {r['rps']:8.1f} req/s  p50 {r['p50']:6.1f} ms  "
                f"p95 {r['p95']:6.1f} ms  errors {r['errors']}/{r['requests']}",
                flush=True,
            )
        hello = results["hello-world"]["rps"]
        print(
            f"\nscale {args.scale}: {customers} customers, {orders} orders; gunicorn "
            f"{args.workers} workers × {args.threads} threads, C={args.concurrency}, "
            f"{args.seconds:.0f} s per route"
        )
        reference = results["my sessions"]["rps"] / hello
        print(f"reference: foundation page /auth/sessions / hello-world = {reference:.2f}")
        for label in ("dashboard", "order list"):
            ratio = results[label]["rps"] / hello
            verdict = "OK" if ratio >= 0.40 else "BELOW TARGET"
            print(f"ratio {label:10s} / hello-world = {ratio:.2f}  (target >= 0.40: {verdict})")
        if any(r["errors"] for r in results.values()):
            print("!! some requests did not answer 200", file=sys.stderr)
            sys.exit(1)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        if not keep:
            with psycopg.connect(args.pg, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
