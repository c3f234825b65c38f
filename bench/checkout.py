"""Checkout benchmark: how many checkouts per second ``orders.services.checkout_place``
takes with N buyers at once, on one hot SKU and spread over many SKUs, against a baseline
measured in the same run on the same database: the same number of single-row conditional
updates, ``UPDATE catalog_sku SET reserved = reserved + 1 WHERE id = %s AND stock >= 1``, each
its own transaction, at the same concurrency, on one hot row and on many rows; and against
a second baseline, a hand-written SQL transaction (``hand_written_checkout``: BEGIN, 6
statements, COMMIT on Django's cursor) that makes the same rows for the same carts. Before
the cases, one checkout of each kind is run with every message to the database counted
(round trips: statements, BEGIN/COMMIT, ``SET search_path``).

Buyers are processes (a pool of worker processes, each with ``django.setup()`` and its
own database session), not threads: the machine has few cores and the GIL would measure
Python's scheduling instead of the database. Every buyer has a different account; its
cart is filled before the case starts (one SKU, quantity 1), so a case times only
``checkout_place`` (stock reserved, one order with its line and event, cart emptied, one
commit). All workers of a case are released at the same instant; throughput is the number
of operations over the time from that instant to the last one's end.

Optionally (``--payment-ops``), checkout plus a card payment through the local
Stripe-compatible server (``payments.services.checkout_pay``, a PaymentIntent confirmed
at once, the escrow ledger posted) at concurrency 4, as an extra line.

It runs on the embedded PostgreSQL in a throw-away database, ``bench_checkout``, which it
drops and recreates at the start and drops again at the end (``--keep-db`` keeps it).
Dev data (database ``platform``) is never touched.

    .venv/bin/python bench/checkout.py                          # about 4 minutes
    .venv/bin/python bench/checkout.py --ops 96 --concurrency 1,4 --payment-ops 0  # quick

Results: a table on stdout and the raw numbers in bench/out/checkout.json.
No timing is asserted; this only measures.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from psycopg2.extensions import TRANSACTION_STATUS_IDLE

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

REPO = common.REPO
BENCH_DB = "bench_checkout"
common.use_bench_database(BENCH_DB)  # before Django reads its settings
# The platform's modules are imported inside the functions: the buyers are spawned
# processes that import this module before their django.setup().

OUT = REPO / "bench" / "out" / "checkout.json"
PG_SETTINGS = (
    "max_connections",
    "shared_buffers",
    "synchronous_commit",
    "fsync",
    "wal_sync_method",
    "commit_delay",
    "default_transaction_isolation",
)
CODE_PATHS = ("orders", "payments", "catalog", "config")
BASELINE_SQL = ("UPDATE catalog_sku SET reserved = reserved + 1 "
                "WHERE id = %s AND stock >= 1")
HOT_STOCK = 10_000_000
HAND_CART_SQL = (
    "SELECT ci.id, ci.sku_id, ci.quantity, s.price, p.name, s.spec, s.unit, p.merchant_id, "
    "m.bank_id FROM orders_cartitem ci JOIN catalog_sku s ON s.id = ci.sku_id "
    "JOIN catalog_product p ON p.id = s.product_id JOIN catalog_merchant m ON m.id = p.merchant_id "
    "WHERE ci.cart_id = %s ORDER BY ci.sku_id FOR UPDATE OF ci")
HAND_CHECKOUT_SQL = (
    "INSERT INTO orders_checkout (number, buyer_id, storefront_bank_id, status, cancel_reason, "
    "goods_total, shipping_total, total, points_used, points_value, reserved_until, created_at) "
    "VALUES (%s, %s, %s, 'pending_payment', '', %s, %s, %s, 0, 0, %s, %s) RETURNING id")
HAND_ORDER_COLUMNS = (
    "(checkout_id, number, buyer_id, merchant_id, merchant_bank_id, referrer_bank_id, "
    "is_cross_bank, status, status_before_refund, fulfilment, recipient_name, recipient_phone, "
    "address, pickup_code, carrier, tracking_number, goods_total, shipping_fee, total, "
    "refunded_total, points_used, points_value, created_at, held_reason)")
HAND_ORDER_ROW = ("(%s, %s, %s, %s, %s, %s, %s, 'pending_payment', '', 'delivery', %s, %s, %s, "
                  "'', '', '', %s, %s, %s, 0, 0, 0, %s, '')")
HAND_LINE_COLUMNS = ("(order_id, sku_id, product_name, spec, unit, quantity, unit_price, "
                     "line_total, price_kind)")
HAND_LINE_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, 'retail')"
HAND_EVENTS_SQL = (
    "WITH gone AS (DELETE FROM orders_cartitem WHERE id = ANY(%s)) "
    "INSERT INTO orders_orderevent (order_id, kind, actor_id, note, detail, at) "
    "SELECT o, 'placed', %s, '', '{}'::jsonb, %s FROM unnest(%s::bigint[]) AS o")
HAND_STOCK_SQL = (
    "UPDATE catalog_sku s SET reserved = s.reserved + v.q FROM (VALUES {rows}) AS v(id, q) "
    "WHERE s.id = v.id AND s.on_hand - s.reserved >= v.q RETURNING s.id")
STOCK = 1_000_000


# --- data ----------------------------------------------------------------------------------


def generate(n_skus: int, n_buyers: int) -> dict:
    """One bank, 20 approved merchants, the hot SKU and ``n_skus`` others (one product
    each), ``n_buyers`` buyer accounts with a cart each."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from banks.services import BranchSpec, bank_onboard
    from catalog.models import Category, Merchant, MerchantStatus, Product, ProductStatus, Sku
    from orders.models import Cart

    bank = bank_onboard(code="bench", name="基准测试农商行",
                        branches=[BranchSpec(code="hq", name="营业部", county="甲县",
                                             address="人民路 1 号")]).bank
    category = Category.objects.create(slug="fruit", name="水果")
    now = timezone.now()
    merchants = Merchant.objects.bulk_create(
        Merchant(bank=bank, name=f"基准果园{n:02d}", county="甲县", kind="cooperative",
                 status=MerchantStatus.APPROVED, status_changed_at=now)
        for n in range(20))
    products = Product.objects.bulk_create(
        Product(merchant=merchants[n % len(merchants)], category=category,
                name="爆款苹果" if n == 0 else f"苹果{n:03d}", origin_county="甲县",
                status=ProductStatus.LISTED, price_from=Decimal("39.90"), listed_at=now)
        for n in range(n_skus + 1))
    skus = Sku.objects.bulk_create(
        Sku(product=p, spec="5斤装", unit="箱", price=Decimal("39.90"),
            on_hand=HOT_STOCK if n == 0 else STOCK)
        for n, p in enumerate(products))
    User = get_user_model()
    users = User.objects.bulk_create(User(username=f"buyer{n:05d}", password="!")
                                     for n in range(n_buyers))
    Cart.objects.bulk_create(Cart(user=u) for u in users)
    return {"bank_id": bank.pk, "hot_sku": skus[0].pk, "skus": [s.pk for s in skus[1:]],
            "buyers": [u.pk for u in users]}


def fill_carts(buyers: list[int], sku_ids: list[int]) -> None:
    """Each buyer's cart holds exactly one line: 1 of its SKU."""
    from orders.models import Cart, CartItem

    carts = dict(Cart.objects.filter(user_id__in=buyers).values_list("user_id", "pk"))
    CartItem.objects.filter(cart_id__in=carts.values()).delete()
    CartItem.objects.bulk_create(CartItem(cart_id=carts[b], sku_id=s, quantity=1)
                                 for b, s in zip(buyers, sku_ids, strict=True))


def settle_database() -> None:
    """Between cases: dead row versions of the last case vacuumed, dirty pages written,
    so that no case inherits another's leftovers."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE catalog_sku")
        cur.execute("VACUUM ANALYZE orders_cartitem")
        cur.execute("CHECKPOINT")


# --- the hand-written transaction ---------------------------------------------------------


def hand_written_checkout(cursor, *, buyer_id: int, cart_id: int, storefront_bank_id: int,
                          address: tuple[str, str, str]) -> int:
    """The rows ``checkout_place`` makes for a cart of retail lines, delivered, without a
    referral touch, from merchants on the platform's default delivery fee (the bench's
    merchants have no rule of their own), written by hand in one transaction on a plain
    cursor: the cart's lines read and locked with their prices (one SELECT), the checkout,
    one order per merchant, the lines, the "placed" events with the cart emptied (one
    statement, as the service does), the stock reserved with one conditional UPDATE; ids
    from RETURNING. BEGIN, 6 statements, COMMIT. Nothing of the service's checks
    (visibility, recalls, lab reports, flash sales, address) is in it: this is the floor
    a checkout's writes can reach."""
    from django.conf import settings
    from django.utils import timezone

    from core.money import quantize_money
    from orders.selectors import shipping_fee_of
    from orders.services.checkout import _new_number

    now = timezone.now()
    cursor.execute("BEGIN")
    try:
        cursor.execute(HAND_CART_SQL, [cart_id])
        rows = cursor.fetchall()
        if not rows:
            raise RuntimeError("empty cart")
        merchants: dict[int, list] = {}
        for row in rows:
            merchants.setdefault(row[7], []).append(row)
        goods = {m: quantize_money(sum(r[3] * r[2] for r in lines))
                 for m, lines in merchants.items()}
        shipping = {m: shipping_fee_of(rule=None, goods_total=g) for m, g in goods.items()}
        goods_total = sum(goods.values())
        shipping_total = sum(shipping.values())
        number = _new_number("H")
        cursor.execute(HAND_CHECKOUT_SQL, [
            number, buyer_id, storefront_bank_id, goods_total, shipping_total,
            goods_total + shipping_total,
            now + timedelta(minutes=settings.ORDER_RESERVATION_MINUTES), now])
        checkout_id = cursor.fetchone()[0]
        order_params: list = []
        for index, (merchant_id, lines) in enumerate(sorted(merchants.items()), start=1):
            bank_id = lines[0][8]
            order_params += [checkout_id, f"{number}-{index}", buyer_id, merchant_id, bank_id,
                             storefront_bank_id, storefront_bank_id != bank_id, *address,
                             goods[merchant_id], shipping[merchant_id],
                             goods[merchant_id] + shipping[merchant_id], now]
        cursor.execute(f"INSERT INTO orders_order {HAND_ORDER_COLUMNS} VALUES "  # noqa: S608
                       + ", ".join([HAND_ORDER_ROW] * len(merchants)) + " RETURNING id",
                       order_params)
        order_ids = [r[0] for r in cursor.fetchall()]
        line_params: list = []
        for order_id, (_merchant, lines) in zip(order_ids, sorted(merchants.items()),
                                                strict=True):
            for _id, sku_id, quantity, price, name, spec, unit, _m, _b in lines:
                line_params += [order_id, sku_id, name, spec, unit, quantity, price,
                                quantize_money(price * quantity)]
        cursor.execute(f"INSERT INTO orders_orderline {HAND_LINE_COLUMNS} VALUES "  # noqa: S608
                       + ", ".join([HAND_LINE_ROW] * len(rows)), line_params)
        cursor.execute(HAND_EVENTS_SQL, [[r[0] for r in rows], buyer_id, now, order_ids])
        sku_qty: dict[int, int] = {}
        for row in rows:
            sku_qty[row[1]] = sku_qty.get(row[1], 0) + row[2]
        cursor.execute(HAND_STOCK_SQL.format(
            rows=", ".join(["(%s::bigint, %s::integer)"] * len(sku_qty))),
            [x for sku_id in sorted(sku_qty) for x in (sku_id, sku_qty[sku_id])])
        if cursor.rowcount != len(sku_qty):
            raise RuntimeError("out of stock")
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
    cursor.execute("COMMIT")
    return checkout_id


class _CountingCursor:
    """A psycopg2 cursor that notes every statement it sends (``SET search_path`` of
    django-tenants included: it goes to the driver's cursor, not through Django's
    logging)."""

    def __init__(self, cursor, log):
        self._cursor, self._log = cursor, log

    def execute(self, sql, params=None):
        self._log.note(sql)
        return self._cursor.execute(sql, params)

    def executemany(self, sql, params):
        self._log.note(sql)
        return self._cursor.executemany(sql, params)

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def __iter__(self):
        return iter(self._cursor)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._cursor.close()


class _CountingConnection:
    """Stands in for Django's psycopg2 connection while one call runs: each message the
    client waits on is one round trip (a statement, the ``BEGIN`` psycopg2 sends before
    the first statement of a transaction, ``COMMIT``, ``ROLLBACK``)."""

    def __init__(self, raw):
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "trips", [])

    def note(self, sql):
        if not self._raw.autocommit and self._raw.info.transaction_status == \
                TRANSACTION_STATUS_IDLE:
            self.trips.append("BEGIN")
        self.trips.append(" ".join(str(sql).split())[:60])

    def cursor(self, *args, **kwargs):
        return _CountingCursor(self._raw.cursor(*args, **kwargs), self)

    def commit(self):
        if self._raw.info.transaction_status != 0:  # psycopg2 sends nothing when idle
            self.trips.append("COMMIT")
        return self._raw.commit()

    def rollback(self):
        if self._raw.info.transaction_status != 0:
            self.trips.append("ROLLBACK")
        return self._raw.rollback()

    def __getattr__(self, name):
        return getattr(self._raw, name)

    def __setattr__(self, name, value):
        setattr(self._raw, name, value)


def count_round_trips(data: dict) -> dict:
    """One checkout of each kind (one line, delivery) in this process, every message to the
    database counted: what a checkout of the timed cases sends."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from banks.models import Bank
    from orders import services as orders
    from orders.models import Cart

    bank = Bank.objects.get(pk=data["bank_id"])
    buyer, other = data["buyers"][-2:]
    fill_carts([buyer, other], data["skus"][:2])
    users = get_user_model().objects.in_bulk([buyer, other])
    carts = {c.user_id: c for c in Cart.objects.filter(user_id__in=[buyer, other])}
    address = orders.DeliveryAddress("张三", "13700000001", "甲县人民路 18 号 3 单元")
    result = {}
    for kind, user_id in (("checkout", buyer), ("hand", other)):
        connection.ensure_connection()
        raw = connection.connection
        counting = _CountingConnection(raw)
        connection.connection = counting
        try:
            if kind == "checkout":
                orders.checkout_place(buyer=users[user_id], cart=carts[user_id],
                                      storefront_bank=bank, delivery=address)
            else:
                with connection.cursor() as cur:
                    hand_written_checkout(cur, buyer_id=user_id, cart_id=carts[user_id].pk,
                                          storefront_bank_id=bank.pk,
                                          address=(address.recipient_name,
                                                   address.recipient_phone, address.address))
        finally:
            connection.connection = raw
        kinds = Counter("SET search_path" if t.startswith("SET search_path")
                        else t if t in ("BEGIN", "COMMIT", "ROLLBACK")
                        else t.split()[0].upper() for t in counting.trips)
        result[kind] = {"total": len(counting.trips), "trips": counting.trips,
                        "summary": ", ".join(f"{k} {v}" for k, v in kinds.items())}
    return result


# --- the worker processes ------------------------------------------------------------------


def worker_main(worker_id: int, inbox, outbox) -> None:
    """One buyer: takes a job, prepares it (untimed), reports ready, waits for the common
    start instant, runs it and reports the latencies."""
    import logging

    import django

    django.setup()
    logging.getLogger("stripe").setLevel(logging.WARNING)  # it logs every request at INFO
    from django.contrib.auth import get_user_model
    from django.db import connection

    from banks.models import Bank
    from orders import services as orders
    from orders.models import Cart
    from payments import services as payments
    from payments.models import PaymentStatus

    address = orders.DeliveryAddress("张三", "13700000001", "甲县人民路 18 号 3 单元")
    card = payments.Card("4242424242424242", 12, 2030, "123")
    User = get_user_model()
    reserved_at: list[float] = []

    def stamp_reservation(execute, sql, params, many, context):
        """Notes when the stock UPDATE starts (from then on the row is locked)."""
        if not reserved_at and "UPDATE catalog_sku" in sql:  # orders.services.stock
            reserved_at.append(time.perf_counter())
        return execute(sql, params, many, context)

    connection.ensure_connection()
    outbox.put(("up", worker_id))
    while True:
        job = inbox.get()
        if job is None:
            break
        kind, bank_id, items = job
        bank = Bank.objects.get(pk=bank_id)
        if kind in ("checkout", "checkout+pay", "hand"):
            users = User.objects.in_bulk(items)
            carts = {c.user_id: c for c in Cart.objects.filter(user_id__in=items)}
        outbox.put(("ready", worker_id))
        _go, start_at = inbox.get()
        while time.time() < start_at:
            time.sleep(min(0.001, max(0.0, start_at - time.time())))
        latencies, parts, holds, errors = [], [], [], Counter()
        cpu_start = time.process_time()
        for item in items:
            reserved_at.clear()
            t0 = time.perf_counter()
            try:
                if kind == "update":
                    with connection.cursor() as cur:
                        cur.execute(BASELINE_SQL, [item])
                        if cur.rowcount != 1:
                            errors["no row updated"] += 1
                elif kind == "hand":
                    with connection.cursor() as cur:
                        hand_written_checkout(cur, buyer_id=item, cart_id=carts[item].pk,
                                              storefront_bank_id=bank.pk,
                                              address=(address.recipient_name,
                                                       address.recipient_phone,
                                                       address.address))
                else:
                    with connection.execute_wrapper(stamp_reservation):
                        checkout = orders.checkout_place(buyer=users[item], cart=carts[item],
                                                         storefront_bank=bank,
                                                         delivery=address)
                    if reserved_at:  # the SKU row stays locked until the commit
                        holds.append((time.perf_counter() - reserved_at[0]) * 1000)
                    if kind == "checkout+pay":
                        t1 = time.perf_counter()
                        payment = payments.checkout_pay(checkout=checkout, buyer=users[item],
                                                        card=card,
                                                        idempotency_key=uuid.uuid4().hex)
                        if payment.status != PaymentStatus.SUCCEEDED:
                            errors[f"payment {payment.status}"] += 1
                        parts.append((t1 - t0) * 1000)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors[f"{type(exc).__name__}: {getattr(exc, 'code', '')}".rstrip(": ")] += 1
            latencies.append((time.perf_counter() - t0) * 1000)
        outbox.put(("done", worker_id, {"latencies_ms": latencies, "checkout_part_ms": parts,
                                        "lock_held_ms": holds, "errors": dict(errors),
                                        "cpu_s": time.process_time() - cpu_start,
                                        "ended_at": time.time()}))
    connection.close()


class Pool:
    """``size`` long-lived buyer processes (spawned: each imports Django afresh)."""

    def __init__(self, size: int):
        ctx = multiprocessing.get_context("spawn")
        self.outbox = ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(size)]
        self.procs = [ctx.Process(target=worker_main, args=(n, self.inboxes[n], self.outbox),
                                  daemon=True) for n in range(size)]
        for proc in self.procs:
            proc.start()
        for _ in range(size):
            self._expect("up")

    def _expect(self, what: str):
        message = self.outbox.get(timeout=300)
        if message[0] != what:  # pragma: no cover - a worker broke the protocol
            raise RuntimeError(f"expected {what!r} from a worker, got {message!r}")
        return message

    def run(self, kind: str, bank_id: int, items: list, concurrency: int) -> dict:
        """Split ``items`` over ``concurrency`` workers, release them together, collect."""
        shares = [items[n::concurrency] for n in range(concurrency)]
        for n, share in enumerate(shares):
            self.inboxes[n].put((kind, bank_id, share))
        for _ in shares:
            self._expect("ready")
        start_at = time.time() + 0.05
        for n in range(concurrency):
            self.inboxes[n].put(("go", start_at))
        with SessionSampler() as sampler:
            results = [self._expect("done")[2] for _ in shares]
        errors = Counter()
        for r in results:
            errors.update(r["errors"])
        latencies = [x for r in results for x in r["latencies_ms"]]
        return {
            "ops": len(latencies),
            "wall_s": max(r["ended_at"] for r in results) - start_at,
            "latencies_ms": latencies,
            "checkout_part_ms": [x for r in results for x in r["checkout_part_ms"]],
            "lock_held_ms": [x for r in results for x in r["lock_held_ms"]],
            "client_cpu_s": sum(r["cpu_s"] for r in results),
            "errors": dict(errors),
            "sessions": sampler.samples,
        }

    def close(self) -> None:
        for inbox in self.inboxes:
            inbox.put(None)
        for proc in self.procs:
            proc.join(20)
            if proc.is_alive():  # pragma: no cover
                proc.terminate()


class SessionSampler:
    """While a case runs, every 50 ms: how many of the database's sessions are running a
    statement, and how many of those wait for a lock (another transaction's row)."""

    def __init__(self):
        import threading

        self.samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        from django.db import connection

        try:
            with connection.cursor() as cur:
                while not self._stop.wait(0.05):
                    cur.execute(
                        "SELECT count(*) FILTER (WHERE state = 'active'), "
                        "count(*) FILTER (WHERE wait_event_type = 'Lock') "
                        "FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()")
                    self.samples.append(cur.fetchone())
        finally:
            connection.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def summary(self) -> dict:
        if not self.samples:
            return {"samples": 0}
        return {"samples": len(self.samples),
                "mean_active": statistics.fmean(a for a, _w in self.samples),
                "mean_waiting_for_lock": statistics.fmean(w for _a, w in self.samples)}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


# --- the cases -----------------------------------------------------------------------------


def summarise(kind: str, concurrency: int, target: str, runs: list[dict]) -> dict:
    """One case over its repetitions: throughput per repetition (and their median), the
    latency percentiles over all its operations, errors and the sessions seen."""
    latencies = [x for r in runs for x in r["latencies_ms"]]
    parts = [x for r in runs for x in r["checkout_part_ms"]]
    per_rep = [r["ops"] / r["wall_s"] for r in runs]
    samples = [x for r in runs for x in r["sessions"]]
    errors = Counter()
    for r in runs:
        errors.update(r["errors"])
    summary = {
        "kind": kind,
        "concurrency": concurrency,
        "target": target,
        "ops": len(latencies),
        "ops_per_s": statistics.median(per_rep),
        "ops_per_s_per_repetition": per_rep,
        "p50_ms": pct(latencies, 0.5),
        "p95_ms": pct(latencies, 0.95),
        "mean_ms": statistics.fmean(latencies),
        "max_ms": max(latencies),
        # CPU the buyer processes spent (Django, the ORM, psycopg2), per operation
        "client_cpu_ms_per_op": 1000 * sum(r["client_cpu_s"] for r in runs) / len(latencies),
        "errors": dict(errors),
        "sessions": {
            "samples": len(samples),
            "mean_active": statistics.fmean(a for a, _w in samples) if samples else 0.0,
            "mean_waiting_for_lock": statistics.fmean(w for _a, w in samples) if samples
            else 0.0,
        },
        "latencies_ms": latencies,
    }
    holds = [x for r in runs for x in r["lock_held_ms"]]
    if holds:
        summary["sku_row_locked_p50_ms"] = pct(holds, 0.5)
        summary["sku_row_locked_share_of_p50"] = pct(holds, 0.5) / summary["p50_ms"]
    if parts:
        summary["checkout_part_p50_ms"] = pct(parts, 0.5)
        summary["payment_part_p50_ms"] = pct(
            [a - b for a, b in zip(latencies, parts, strict=True)], 0.5)
    return summary


def run_cases(pool: Pool, data: dict, args) -> list[dict]:
    """Every case ``args.repetitions`` times, the cases interleaved (in the opposite order
    on every other repetition), so that background load and the growth of the tables hit
    checkouts and baseline alike."""
    from orders.models import Checkout

    buyers, skus, hot = data["buyers"], data["skus"], data["hot_sku"]
    n = args.ops // args.repetitions
    targets = {"hot": [hot] * n, "many": [skus[k % len(skus)] for k in range(n)]}
    specs = [(kind, concurrency, target) for concurrency in args.concurrency
             for target in ("hot", "many") for kind in ("checkout", "hand", "update")]
    runs: dict[tuple, list] = {spec: [] for spec in specs}
    for rep in range(args.repetitions):
        print(f"  repetition {rep + 1}/{args.repetitions}", flush=True)
        for kind, concurrency, target in specs if rep % 2 == 0 else specs[::-1]:
            sku_ids = targets[target]
            if kind in ("checkout", "hand"):
                fill_carts(buyers[:n], sku_ids)
            settle_database()
            run = pool.run(kind, data["bank_id"], buyers[:n] if kind in ("checkout", "hand")
                           else sku_ids, concurrency)
            runs[(kind, concurrency, target)].append(run)
            print(f"    {LABELS[kind]:16}{concurrency:>3} buyers {target:>5}: "
                  f"{run['ops'] / run['wall_s']:8.1f}/s", flush=True)
            # The checkouts' reservations stay (unpaid, pending): the orders table grows
            # as in production; nothing expires during the run.
    cases = [summarise(kind, concurrency, target, runs[(kind, concurrency, target)])
             for kind, concurrency, target in specs]
    if args.payment_ops:
        n = args.payment_ops
        fill_carts(buyers[:n], [skus[k % len(skus)] for k in range(n)])
        settle_database()
        run = pool.run("checkout+pay", data["bank_id"], buyers[:n], 4)
        print(f"    checkout + card payment  4 buyers  many: {run['ops'] / run['wall_s']:8.1f}/s",
              flush=True)
        cases.append(summarise("checkout+pay", 4, "many", [run]))
    data["checkouts_made"] = Checkout.objects.count()
    return cases


def add_ratios(cases: list[dict]) -> list[dict]:
    """checkout ÷ baseline UPDATE and checkout ÷ hand-written transaction at the same
    concurrency and target."""
    base = {(c["concurrency"], c["target"]): c for c in cases if c["kind"] == "update"}
    hand = {(c["concurrency"], c["target"]): c for c in cases if c["kind"] == "hand"}
    rows = []
    for c in cases:
        if c["kind"] == "update":
            continue
        b = base.get((c["concurrency"], c["target"]))
        row = {"kind": c["kind"], "concurrency": c["concurrency"], "target": c["target"]}
        if b is not None:
            row["throughput_ratio"] = c["ops_per_s"] / b["ops_per_s"]
            row["p50_ratio"] = c["p50_ms"] / b["p50_ms"]
            row["p95_ratio"] = c["p95_ms"] / b["p95_ms"]
        h = hand.get((c["concurrency"], c["target"]))
        if c["kind"] == "checkout" and h is not None:
            row["throughput_ratio_vs_hand"] = c["ops_per_s"] / h["ops_per_s"]
            row["p50_ratio_vs_hand"] = c["p50_ms"] / h["p50_ms"]
            row["p95_ratio_vs_hand"] = c["p95_ms"] / h["p95_ms"]
        plain = next((p for p in cases if p["kind"] == "checkout"
                      and (p["concurrency"], p["target"]) == (c["concurrency"], c["target"])),
                     None)
        if c["kind"] == "checkout+pay" and plain is not None:
            row["throughput_ratio_vs_checkout"] = c["ops_per_s"] / plain["ops_per_s"]
        rows.append(row)
    return rows


def integrity(data: dict) -> dict:
    """After the run: every reservation is accounted for on every SKU it touched."""
    from django.db.models import Sum

    from catalog.models import Sku
    from orders.models import OrderLine

    reserved = dict(OrderLine.objects.values("sku_id").annotate(n=Sum("quantity"))
                    .values_list("sku_id", "n"))
    negative = Sku.objects.filter(stock__lt=0).count()
    return {"skus_with_negative_stock": negative,
            "order_lines": OrderLine.objects.count(),
            "hot_sku_reserved_by_checkouts": reserved.get(data["hot_sku"], 0)}


# --- report --------------------------------------------------------------------------------

LABELS = {"checkout": "checkout_place", "hand": "hand-written SQL",
          "update": "baseline UPDATE",
          "checkout+pay": "checkout + card payment"}


def print_report(result: dict) -> None:
    m = result["machine"]
    print()
    print(
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), Python {m['python']}, "
        f"Django {m['django']}, {m['postgresql']['version'].split(' on ')[0]} "
        f"(synchronous_commit {m['postgresql']['synchronous_commit']}, fsync "
        f"{m['postgresql']['fsync']}), commit {m['git_commit'][:7]}"
        f"{'+changes' if m['git_dirty'] else ''}; load average at start "
        f"{m['loadavg_at_start'][0]:.2f}, at end {m['loadavg_at_end'][0]:.2f}")
    a = result["args"]
    print(f"Data: {len(result['data']['skus'])} SKUs besides the hot one; "
          f"{a['ops']} operations per case in {a['repetitions']} interleaved repetitions "
          f"(ops/s: the median repetition; p50/p95 over all operations)\n")
    print(f"   {'case':26}{'buyers':>7}{'target':>7}{'ops/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'errors':>7}{'active':>8}{'locked':>8}{'held ms':>9}{'cpu ms':>8}")
    for c in result["cases"]:
        sessions = c["sessions"]
        print(f"   {LABELS[c['kind']]:26}{c['concurrency']:>7}{c['target']:>7}"
              f"{c['ops_per_s']:>9.1f}{c['p50_ms']:>9.2f}{c['p95_ms']:>9.2f}"
              f"{sum(c['errors'].values()):>7}{sessions.get('mean_active', 0):>8.1f}"
              f"{sessions.get('mean_waiting_for_lock', 0):>8.1f}"
              f"{c.get('sku_row_locked_p50_ms', float('nan')):>9.1f}"
              f"{c['client_cpu_ms_per_op']:>8.2f}")
    print("   (active / locked: mean sessions running a statement / waiting for a lock;\n"
          "    held: p50 time from the stock UPDATE to the end of checkout_place, during "
          "which the SKU row stays locked;\n    cpu: CPU time of the buyer processes "
          "per operation)")
    print("\n   ratios to the baseline UPDATE (same concurrency, same target)")
    print(f"   {'case':26}{'buyers':>7}{'target':>7}{'ops/s x':>10}{'p50 x':>9}{'p95 x':>9}")
    for r in result["ratios"]:
        if "throughput_ratio" in r:
            print(f"   {LABELS[r['kind']]:26}{r['concurrency']:>7}{r['target']:>7}"
                  f"{r['throughput_ratio']:>10.3f}{r['p50_ratio']:>9.1f}{r['p95_ratio']:>9.1f}")
        if "throughput_ratio_vs_checkout" in r:
            print(f"   {'':26}(÷ checkout_place alone: {r['throughput_ratio_vs_checkout']:.2f})")
    print("\n   checkout_place ÷ the hand-written transaction (same concurrency, same target)")
    print(f"   {'buyers':>7}{'target':>7}{'ops/s x':>10}{'p50 x':>9}{'p95 x':>9}")
    for r in result["ratios"]:
        if "throughput_ratio_vs_hand" in r:
            print(f"   {r['concurrency']:>7}{r['target']:>7}{r['throughput_ratio_vs_hand']:>10.3f}"
                  f"{r['p50_ratio_vs_hand']:>9.2f}{r['p95_ratio_vs_hand']:>9.2f}")
    print("\n   round trips of one checkout (1 line, delivery), counted once before the run:")
    for kind, counted in result["round_trips"].items():
        print(f"   {LABELS[kind]:26}{counted['total']:>3}  ({counted['summary']})")
    errors = {f"{LABELS[c['kind']]} {c['concurrency']} {c['target']}": c["errors"]
              for c in result["cases"] if c["errors"]}
    print(f"\nErrors: {errors or 'none'}; integrity: {result['integrity']}")
    print(f"Raw numbers: {OUT.relative_to(REPO)}  (total run {result['run_seconds']:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=480,
                        help="checkouts per case (and as many baseline updates), over all "
                             "repetitions")
    parser.add_argument("--repetitions", type=int, default=3,
                        help="runs of each case, interleaved")
    parser.add_argument("--concurrency", default="1,4,16",
                        help="numbers of buyers at once, comma-separated")
    parser.add_argument("--skus", type=int, default=200, help="SKUs of the 'many' target")
    parser.add_argument("--payment-ops", type=int, default=80,
                        help="checkouts with card payment at concurrency 4 (0: skip)")
    parser.add_argument("--keep-db", action="store_true",
                        help=f"keep the {BENCH_DB} database at the end")
    args = parser.parse_args()
    args.concurrency = [int(n) for n in args.concurrency.split(",")]
    if max(args.concurrency) > 64:
        parser.error("at most 64 buyers at once (the server's connections are shared)")

    run_start = time.perf_counter()
    (REPO / "bench" / "out").mkdir(parents=True, exist_ok=True)
    stripe = None
    if args.payment_ops:
        from config import embedded

        port = embedded.free_port()
        stripe = embedded.stripe_process(port, REPO / "bench" / "out" / "checkout-stripe.pickle",
                                         REPO / "bench" / "out" / "checkout-stripe.log",
                                         from_scratch=True).start()
        os.environ["STRIPE_API_BASE"] = f"http://127.0.0.1:{port}"  # read by the workers too
    pool = None
    try:
        print(f"Recreating database {BENCH_DB} on the embedded PostgreSQL ...", flush=True)
        common.recreate_database(BENCH_DB)

        import django

        django.setup()
        from django.core.management import call_command

        start = time.perf_counter()
        call_command("migrate_schemas", interactive=False, verbosity=0, stdout=io.StringIO())
        print(f"  migrated in {time.perf_counter() - start:.1f} s", flush=True)
        result = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": common.machine_info(pg_settings=PG_SETTINGS, code_paths=CODE_PATHS),
            "args": vars(args),
        }
        n_buyers = max(args.ops, args.payment_ops)
        data = generate(args.skus, n_buyers)
        result["data"] = {"skus": data["skus"], "hot_sku": data["hot_sku"],
                          "buyers": len(data["buyers"])}
        start = time.perf_counter()
        pool = Pool(max(max(args.concurrency), 4 if args.payment_ops else 1))
        print(f"  {len(pool.procs)} buyer processes up in {time.perf_counter() - start:.1f} s",
              flush=True)
        # Warm-up: every process checks out once and updates once (imports, first queries).
        warm = data["buyers"][:len(pool.procs)]
        fill_carts(warm, [data["skus"][n % len(data["skus"])] for n in range(len(warm))])
        pool.run("checkout", data["bank_id"], warm, len(pool.procs))
        pool.run("update", data["bank_id"], data["skus"][:len(pool.procs)], len(pool.procs))
        if args.payment_ops:
            fill_carts(warm[:4], data["skus"][:4])
            pool.run("checkout+pay", data["bank_id"], warm[:4], 4)
        result["round_trips"] = count_round_trips(data)
        result["cases"] = run_cases(pool, data, args)
        result["ratios"] = add_ratios(result["cases"])
        result["integrity"] = integrity(data)
        result["data"]["checkouts_made"] = data["checkouts_made"]
        result["run_seconds"] = time.perf_counter() - run_start
        result["machine"]["loadavg_at_end"] = os.getloadavg()
        OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print_report(result)
    finally:
        if pool is not None:
            pool.close()
        if stripe is not None:
            stripe.stop()
        if args.keep_db:
            print(f"\nKept database {BENCH_DB}.")
        else:
            common.drop_database(BENCH_DB)
            print(f"\nDropped database {BENCH_DB}.")


if __name__ == "__main__":
    main()
