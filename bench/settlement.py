"""Settlement benchmark: how long ``payments.settlement.settlement_run_execute`` takes to
settle N completed orders, how its time and memory grow with N, and how fast an account's
balance comes out of a ledger of 1,000,000 postings.

(a) Settlement. Three banks (``bank_onboard``), a few hundred approved merchants
(``bulk_create``, not through admission), each with a settlement account on its dossier
in its bank's schema. For each size N the order and ledger tables are emptied
(``TRUNCATE``; ledger accounts stay), then N completed orders are bulk-created, one
checkout each, a share of them sold through another bank's storefront (cross-bank: the
referral fee is booked), and their escrow captured as real ledger transactions (one
``capture`` transaction of two postings per checkout, committed in chunks: the database's
balance trigger checks every transaction at commit). A fresh process (spawned, Django set
up, warmed up) then runs one settlement over every bank: the settlement proper, the
payout batches and files, and the reconciliation. Timed: wall time, orders/s, SQL
statements per order, and the process's peak RSS (``ru_maxrss``) before and after.
Baseline in the same process just before: the same number of bare ``ledger_post`` calls
of a two-leg transaction (accounts looked up once; each its own transaction) and of
single-row INSERTs, so the settlement figure reads as a ratio.

(b) Balances. 1,000,000 postings (500,000 two-leg transactions over a year, inserted in
SQL in chunks, the balance trigger on), one account with 100,000 of them, one with 100.
An account's balance now and at a past moment, ``SUM(amount)`` through the ORM as the
code asks it, p50/p95 over many queries; the plan is checked with ``EXPLAIN`` (an
index-only scan of ``payments_posting_balance``). Baselines in the same run: the same
queries with the balance index and the account foreign-key index dropped (inside a
transaction that is rolled back: a sequential scan), and with only the balance index
dropped (the foreign-key index plus heap fetches).

It runs on the embedded PostgreSQL in a throw-away database, ``bench_settlement``,
dropped and created at the start and dropped at the end (``--keep-db`` keeps it).

    .venv/bin/python bench/settlement.py                       # about 10 minutes
    .venv/bin/python bench/settlement.py --sizes 100000 --skip-balance    # 20-40 minutes
    .venv/bin/python bench/settlement.py --sizes 5000 --compare-with 05df29b --skip-balance
    .venv/bin/python bench/settlement.py --sizes 2000 --profile --skip-balance  # cProfile
    .venv/bin/python bench/settlement.py --sizes 500 --postings 100000 --large 10000  # quick

Results: a table on stdout and the raw numbers in bench/out/settlement.json (a profile in
bench/out/settlement-profile.txt). No timing is asserted; this only measures.
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
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

REPO = common.REPO
BENCH_DB = "bench_settlement"
common.use_bench_database(BENCH_DB)  # before Django reads its settings

OUT = REPO / "bench" / "out" / "settlement.json"
PROFILE_OUT = REPO / "bench" / "out" / "settlement-profile.txt"
PG_SETTINGS = ("shared_buffers", "work_mem", "synchronous_commit", "fsync",
               "max_parallel_workers_per_gather", "jit")
CODE_PATHS = ("payments", "orders", "config")
CHUNK = 5_000


# --- data ----------------------------------------------------------------------------------


def make_world(n_banks: int, n_merchants: int) -> dict:
    """Banks, merchants with a settlement account each, buyers, and the ledger accounts
    the captures post to (card clearing per bank, escrow per merchant)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from admission.models import Dossier
    from banks.services import BranchSpec, bank_onboard
    from catalog.models import Merchant, MerchantStatus
    from payments.models import AccountKind, LedgerAccount

    banks = [bank_onboard(code=f"bench{b}", name=f"基准农商行{b}",
                          branches=[BranchSpec(code="hq", name="营业部", county="甲县",
                                               address="人民路 1 号")]).bank
             for b in range(1, n_banks + 1)]
    now = timezone.now()
    merchants = Merchant.objects.bulk_create(
        Merchant(bank=banks[n % n_banks], name=f"基准合作社{n:04d}", county="甲县",
                 kind="cooperative", status=MerchantStatus.APPROVED, status_changed_at=now)
        for n in range(n_merchants))
    for bank in banks:
        with schema_context(bank.schema_name):
            Dossier.objects.bulk_create(
                Dossier(merchant=m, uscc="91450300MA5KXXXX0X", legal_rep_name="张三",
                        legal_rep_id_masked="4503**********1234", contact_phone="13700000001",
                        address="甲县人民路 18 号", settlement_account_name=m.name,
                        settlement_account_number=f"62300000{m.pk:011d}")
                for m in merchants if m.bank_id == bank.pk)
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"buyer{n:04d}", password="!") for n in range(200))
    clearing = {b.pk: a.pk for b, a in zip(banks, LedgerAccount.objects.bulk_create(
        LedgerAccount(kind=AccountKind.CARD_CLEARING, bank=b) for b in banks), strict=True)}
    escrow = {m.pk: a.pk for m, a in zip(merchants, LedgerAccount.objects.bulk_create(
        LedgerAccount(kind=AccountKind.ESCROW, bank_id=m.bank_id, merchant=m)
        for m in merchants), strict=True)}
    return {"banks": [b.pk for b in banks], "schemas": [b.schema_name for b in banks],
            "merchants": [(m.pk, m.bank_id) for m in merchants],
            "buyers": [u.pk for u in users], "clearing": clearing, "escrow": escrow}


ORDER_TABLES = ("payments_payoutline", "payments_payoutbatch", "payments_settlementitem",
                "payments_settlementrun", "payments_posting", "payments_ledgertransaction",
                "orders_orderevent", "orders_orderline", "orders_order", "orders_checkout")


def reset_orders() -> None:
    """Empty the order and ledger tables (TRUNCATE fires no row trigger); accounts stay."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(ORDER_TABLES)} CASCADE")


def make_orders(world: dict, n: int, cross_share: float, tag: str,
                merchants: list | None = None) -> dict:
    """``n`` completed orders (one checkout each) with their escrow captured in the ledger.
    Amounts vary (12.00-311.99 goods + 8.00 delivery); ``cross_share`` of them were sold on
    another bank's storefront."""
    from django.db import transaction
    from django.utils import timezone

    from orders.models import Checkout, CheckoutStatus, Order, OrderStatus
    from payments.models import LedgerTransaction, Posting

    banks, buyers = world["banks"], world["buyers"]
    merchants = merchants or world["merchants"]
    now = timezone.now()
    completed = now - timedelta(hours=2)
    cross_every = round(1 / cross_share) if cross_share > 0 else 0
    cross = 0
    start = time.perf_counter()
    for lo in range(0, n, CHUNK):
        k = range(lo, min(n, lo + CHUNK))
        rows = []
        for i in k:
            merchant_id, bank_id = merchants[(i * 7919) % len(merchants)]
            is_cross = bool(cross_every) and i % cross_every == 0
            storefront = banks[(banks.index(bank_id) + 1) % len(banks)] if is_cross else bank_id
            goods = Decimal(1200 + (i * 37) % 30000) / 100
            rows.append((merchant_id, bank_id, storefront, is_cross, goods))
            cross += is_cross
        with transaction.atomic():
            checkouts = Checkout.objects.bulk_create(
                Checkout(number=f"C{tag}{i:09d}", buyer_id=buyers[i % len(buyers)],
                         storefront_bank_id=s, status=CheckoutStatus.PAID, goods_total=g,
                         shipping_total=Decimal("8.00"), total=g + 8, paid_at=completed,
                         reserved_until=completed)
                for i, (_m, _b, s, _x, g) in zip(k, rows, strict=True))
            orders = Order.objects.bulk_create(
                Order(checkout=c, number=f"O{tag}{i:09d}", buyer_id=c.buyer_id, merchant_id=m,
                      merchant_bank_id=b, referrer_bank_id=s, is_cross_bank=x,
                      status=OrderStatus.COMPLETED, fulfilment="delivery",
                      recipient_name="张三", recipient_phone="13700000001",
                      address="甲县人民路 18 号", goods_total=g, shipping_fee=Decimal("8.00"),
                      total=g + 8, paid_at=completed, completed_at=completed)
                for i, c, (m, b, s, x, g) in zip(k, checkouts, rows, strict=True))
            txns = LedgerTransaction.objects.bulk_create(
                LedgerTransaction(kind="capture", reference=f"pi_{tag}{i:09d}",
                                  memo=f"checkout {c.number}", checkout=c)
                for i, c in zip(k, checkouts, strict=True))
            Posting.objects.bulk_create(
                [p for t, o in zip(txns, orders, strict=True) for p in (
                    Posting(transaction=t, account_id=world["clearing"][o.merchant_bank_id],
                            amount=o.total, order=o, posted_at=completed),
                    Posting(transaction=t, account_id=world["escrow"][o.merchant_id],
                            amount=-o.total, order=o, posted_at=completed))],
                batch_size=2_000)
    return {"orders": n, "cross_bank": cross, "seconds": time.perf_counter() - start}


def settle_database() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
        cur.execute("CHECKPOINT")


# --- (a) the settling process ----------------------------------------------------------------


def rss_kb() -> int:
    """The process's resident set now (kB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def settle_child(job: dict, outbox) -> None:
    """In a fresh process: warm up, the baselines, then the settlement run."""
    import resource

    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from payments import settlement
    from payments.models import AccountKind, SettlementRun

    if job.get("settlement_source"):
        # Another version of payments/settlement.py (from git), as its own module.
        import types

        settlement = types.ModuleType("settlement_compared")
        settlement.__file__ = "payments/settlement.py@" + job["code"]
        exec(compile(job["settlement_source"], settlement.__file__, "exec"),  # noqa: S102
             settlement.__dict__)
    from payments.services import Leg, ledger_account, ledger_post

    def maxrss() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux

    connection.ensure_connection()
    result: dict = {}
    # Warm-up: imports and first queries of everything used below.
    # The baseline posts between two accounts that no reconciliation equation reads.
    debit = ledger_account(kind=AccountKind.LOAN_PRINCIPAL, bank_id=job["bank"])
    credit = ledger_account(kind=AccountKind.LOAN_INTEREST, bank_id=job["bank"])
    ledger_post(kind="bench_warm", reference=job["tag"], legs=[Leg(debit, Decimal("1.00")),
                                                               Leg(credit, Decimal("-1.00"))])
    settlement.settleable_orders(SettlementRun(cutoff=timezone.now())).exists()
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, "
                    "n integer NOT NULL, at timestamptz NOT NULL DEFAULT now())")

    # Baselines: bare two-leg ledger_post calls and single-row INSERTs, each committed.
    m = job["baseline_ops"]
    t0 = time.perf_counter()
    for i in range(m):
        amount = Decimal(100 + i % 9000) / 100
        ledger_post(kind="bench", reference=f"{job['tag']}:{i}",
                    legs=[Leg(debit, amount), Leg(credit, -amount)])
    result["ledger_post"] = {"ops": m, "seconds": time.perf_counter() - t0}
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        for i in range(m):
            cur.execute("INSERT INTO bench_insert (n) VALUES (%s)", [i])
    result["insert"] = {"ops": m, "seconds": time.perf_counter() - t0}

    # The settlement run, timed by phase: the first statement on payout batches ends the
    # per-order part.
    marks: dict[str, float] = {}
    counts = {"statements": 0}

    from collections import Counter

    shapes: Counter = Counter()

    page_ms: list[float] = []
    page_at: list[float] = []  # when each page of orders was asked for, from the start

    def watch(execute, sql, params, many, context):
        counts["statements"] += 1
        if "payout" not in marks and "payments_payoutbatch" in sql:
            marks["payout"] = time.perf_counter()
            counts["statements_orders"] = counts["statements"] - 1
        if "payout" not in marks:
            if job["profile"]:
                shapes[sql[:90]] += 1
            if sql.startswith('SELECT "orders_order"."id"') and "FOR UPDATE" in sql:  # a chunk
                t = time.perf_counter()
                page_at.append(t - t0)
                try:
                    return execute(sql, params, many, context)
                finally:
                    page_ms.append((time.perf_counter() - t) * 1000)
        return execute(sql, params, many, context)

    tracer = None
    if job["tracemalloc"]:
        import tracemalloc

        tracemalloc.start()
        tracer = tracemalloc
    profiler = None
    if job["profile"]:
        import cProfile

        profiler = cProfile.Profile()
    rss_before, maxrss_before = rss_kb(), maxrss()
    t0 = time.perf_counter()
    with connection.execute_wrapper(watch):
        if profiler:
            profiler.enable()
        from banks.models import Bank

        scope = Bank.objects.get(pk=job["scope"]) if job.get("scope") else None
        run = settlement.settlement_run_start(bank=scope, cutoff=timezone.now())
        run = settlement.settlement_run_execute(run.pk)
        if profiler:
            profiler.disable()
    t1 = time.perf_counter()
    maxrss_run = maxrss()
    result["bulk_insert"] = bulk_insert_baseline(job["tag"])
    result["settle"] = {
        "seconds": t1 - t0,
        "orders_seconds": marks.get("payout", t1) - t0,
        "payouts_and_reconciliation_seconds": t1 - marks.get("payout", t1),
        "statements": counts["statements"],
        "statements_orders": counts.get("statements_orders", counts["statements"]),
        "page_queries": len(page_ms), "page_queries_ms": sum(page_ms),
        "last_full_page_query_ms": page_ms[-2] if len(page_ms) > 1 else None,
        "page_at_s": page_at, "page_query_ms_each": page_ms,
        "rss_before_kb": rss_before, "rss_after_kb": rss_kb(),
        "maxrss_before_kb": maxrss_before, "maxrss_after_kb": maxrss_run,
        "run_status": run.status, "orders_done": run.orders_done,
        "orders_total": run.orders_total,
        "reconciliation_ok": all(r["ok"] for r in run.reconciliation.values()),
        "payout_lines": sum(b.line_count for b in run.batches.all()),
    }
    if tracer:
        result["settle"]["tracemalloc_peak_kb"] = tracer.get_traced_memory()[1] // 1024
        tracer.stop()
    if profiler:
        import pstats

        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
        out.write("\nSQL statements of the per-order part, by their first 90 characters:\n")
        for shape, count in shapes.most_common(40):
            out.write(f"{count:8d}  {shape}\n")
        PROFILE_OUT.write_text(out.getvalue())
    outbox.put(result)


def bulk_insert_baseline(tag: str) -> dict:
    """Bare bulk INSERTs of the same postings the settlement wrote: every settlement and
    referral fee transaction again (new kind and reference, no order), in multi-row
    INSERTs of as many transactions as a settlement chunk has, one commit per chunk; the
    balance trigger checks them as it checked the settlement's."""
    from django.conf import settings
    from django.db import connection, transaction
    from psycopg2.extras import execute_values

    with connection.cursor() as cur:
        cur.execute("SELECT t.id, p.account_id, p.amount FROM payments_ledgertransaction t "
                    "JOIN payments_posting p ON p.transaction_id = t.id "
                    "WHERE t.kind IN ('settle', 'referral_fee') ORDER BY t.id, p.id")
        rows = cur.fetchall()
        cur.execute("SELECT count(*) FROM payments_settlementitem")
        orders = cur.fetchone()[0]
    legs: dict[int, list] = {}
    for txn, account, amount in rows:
        legs.setdefault(txn, []).append((account, amount))
    txns = list(legs.items())
    per_chunk = max(1, round(len(txns) * settings.SETTLEMENT_CHUNK / max(orders, 1)))
    t0 = time.perf_counter()
    for lo in range(0, len(txns), per_chunk):
        part = txns[lo:lo + per_chunk]
        with transaction.atomic(), connection.cursor() as cur:
            ids = execute_values(
                cur, "INSERT INTO payments_ledgertransaction (kind, reference, memo, "
                "created_at) VALUES %s RETURNING id",
                [("bench_bulk", f"{tag}:{txn}", "", datetime.now(UTC)) for txn, _l in part],
                page_size=len(part), fetch=True)
            now = datetime.now(UTC)
            execute_values(
                cur, "INSERT INTO payments_posting (transaction_id, account_id, amount, "
                "posted_at) VALUES %s",
                [(new_id, account, amount, now)
                 for (new_id,), (_txn, ls) in zip(ids, part, strict=True)
                 for account, amount in ls], page_size=10_000)
    return {"transactions": len(txns), "postings": len(rows),
            "seconds": time.perf_counter() - t0}


def run_settle_child(job: dict) -> dict:
    ctx = multiprocessing.get_context("spawn")
    outbox = ctx.Queue()
    proc = ctx.Process(target=settle_child, args=(job, outbox))
    proc.start()
    try:
        result = outbox.get()
    finally:
        proc.join(60)
    if proc.exitcode not in (0, None):
        raise SystemExit(f"the settling process failed ({proc.exitcode})")
    return result


def verify(n: int) -> dict:
    """After a run: every order settled once, every transaction balanced."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT order_id) FROM payments_settlementitem")
        items, distinct = cur.fetchone()
        cur.execute("SELECT count(*) FROM (SELECT transaction_id FROM payments_posting "
                    "GROUP BY transaction_id HAVING sum(amount) <> 0) x")
        unbalanced = cur.fetchone()[0]
        cur.execute("SELECT coalesce(sum(amount), 0) FROM payments_posting p JOIN "
                    "payments_ledgeraccount a ON a.id = p.account_id WHERE a.kind = 'escrow' "
                    "AND p.order_id IS NOT NULL")
        escrow_left = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM payments_posting")
        postings = cur.fetchone()[0]
    return {"items": items, "distinct_orders": distinct, "expected": n,
            "unbalanced_transactions": unbalanced, "escrow_left_on_orders": str(escrow_left),
            "postings": postings}


def rates_by_tenth(page_at: list[float], n: int) -> list[float]:
    """Orders/s over each tenth of the orders, from the moments the pages were asked for
    (page k starts at order k * CHUNK of payments.settlement; the last is the empty one)."""
    from django.conf import settings

    PAGE = settings.SETTLEMENT_CHUNK  # noqa: N806

    if len(page_at) < 11:
        return []
    rates = []
    for tenth in range(10):
        a = round(tenth * (len(page_at) - 1) / 10)
        b = round((tenth + 1) * (len(page_at) - 1) / 10)
        orders = min(n, b * PAGE) - a * PAGE
        rates.append(orders / (page_at[b] - page_at[a]) if page_at[b] > page_at[a] else 0.0)
    return rates


def bench_settlement(world: dict, args) -> list[dict]:
    codes = [("working tree", None)]
    if args.compare_with:
        source = common.git("show", f"{args.compare_with}:payments/settlement.py")
        if not source:
            raise SystemExit(f"no payments/settlement.py at {args.compare_with}")
        codes.insert(0, (common.git("rev-parse", "--short", args.compare_with), source + "\n"))
    rows = []
    for n in args.sizes:
        for code, source in codes:
            print(f"  {n:,} orders, settlement code of {code}: making data ...", flush=True)
            reset_orders()
            bank = world["banks"][0]
            made = make_orders(world, n, args.cross_share, tag=f"{n}-",
                               merchants=[m for m in world["merchants"] if m[1] == bank])
            settle_database()
            print(f"    made in {made['seconds']:.0f} s ({made['cross_bank']:,} cross-bank); "
                  "settling ...", flush=True)
            job = {"tag": f"{n}-{code}", "baseline_ops": min(n, args.baseline_max),
                   "bank": world["banks"][0], "code": code, "settlement_source": source,
                   "tracemalloc": args.tracemalloc, "profile": args.profile, "scope": bank}
            child = run_settle_child(job)
            s = child["settle"]
            row = {"orders": n, "code": code, "data": made, **child, "check": verify(n)}
            row["orders_per_s"] = n / s["orders_seconds"]
            row["orders_per_s_overall"] = n / s["seconds"]
            row["ledger_post_per_s"] = (child["ledger_post"]["ops"]
                                        / child["ledger_post"]["seconds"])
            row["insert_per_s"] = child["insert"]["ops"] / child["insert"]["seconds"]
            row["ratio_to_ledger_post"] = row["orders_per_s"] / row["ledger_post_per_s"]
            row["ratio_to_insert"] = row["orders_per_s"] / row["insert_per_s"]
            row["statements_per_order"] = s["statements_orders"] / n
            bulk = child["bulk_insert"]
            row["ratio_to_bulk_insert"] = bulk["seconds"] / s["orders_seconds"]
            row["maxrss_delta_kb"] = s["maxrss_after_kb"] - s["maxrss_before_kb"]
            row["orders_per_s_by_tenth"] = rates_by_tenth(s.get("page_at_s") or [], n)
            rows.append(row)
            print(f"    {s['seconds']:.1f} s ({s['orders_seconds']:.1f} s orders, of which "
                  f"{s['page_queries_ms'] / 1000:.1f} s in {s['page_queries']} page queries; "
                  f"{s['payouts_and_reconciliation_seconds']:.1f} s payouts + reconciliation)"
                  f", {row['orders_per_s']:.1f} orders/s; ledger_post "
                  f"{row['ledger_post_per_s']:.1f}/s (ratio {row['ratio_to_ledger_post']:.2f})"
                  f"; INSERT {row['insert_per_s']:.0f}/s (ratio {row['ratio_to_insert']:.3f})"
                  f"; bulk INSERT of the same {bulk['postings']:,} postings "
                  f"{bulk['seconds']:.1f} s (ratio {row['ratio_to_bulk_insert']:.2f})"
                  f"; {s['statements_orders']:,} statements ({row['statements_per_order']:.4f} per "
                  f"order); RSS "
                  f"{s['rss_before_kb']:,} -> {s['rss_after_kb']:,} kB, peak "
                  f"{s['maxrss_before_kb']:,} -> {s['maxrss_after_kb']:,} kB"
                  + (f"; tracemalloc peak {s['tracemalloc_peak_kb']:,} kB"
                     if "tracemalloc_peak_kb" in s else "")
                  + "\n    orders/s in each tenth of the orders: "
                  + " ".join(f"{r:.0f}" for r in row["orders_per_s_by_tenth"])
                  + f"\n    check: {row['check']}", flush=True)
    return rows


# --- (c) many banks in parallel ---------------------------------------------------------------


def fanout_worker(run_ids, results) -> None:
    """A worker process: execute runs from the queue until it is empty (what a Celery
    worker process does with the daily group's tasks)."""
    import django

    django.setup()
    from django.db import connection

    from payments.settlement import settlement_run_execute

    connection.ensure_connection()
    results.put("ready")
    while True:
        run_id = run_ids.get()
        if run_id is None:
            break
        t0 = time.perf_counter()
        run = settlement_run_execute(run_id)
        results.put((run_id, run.status, run.orders_done, time.perf_counter() - t0,
                     all(r["ok"] for r in run.reconciliation.values())))


def bench_fanout(world: dict, args) -> list[dict]:
    """Every bank's run, ``per_bank`` orders each, executed by 1, 2, 4 worker processes."""
    from django.utils import timezone

    from banks.models import Bank
    from payments import settlement

    rows = []
    n = args.fanout * len(world["banks"])
    ctx = multiprocessing.get_context("spawn")
    for workers in args.workers:
        print(f"  {len(world['banks'])} banks x {args.fanout:,} orders, {workers} worker "
              "processes: making data ...", flush=True)
        reset_orders()
        made = make_orders(world, n, args.cross_share, tag=f"f{workers}-")
        settle_database()
        run_ids, results = ctx.Queue(), ctx.Queue()
        procs = [ctx.Process(target=fanout_worker, args=(run_ids, results))
                 for _ in range(workers)]
        for proc in procs:
            proc.start()
        assert [results.get() for _ in procs] == ["ready"] * workers  # Django set up
        # Timed from here: the day's runs started and queued, until every one is done.
        cutoff = timezone.now()
        t0 = time.perf_counter()
        ids = [settlement.settlement_run_start(bank=bank, cutoff=cutoff).pk
               for bank in Bank.objects.filter(pk__in=world["banks"]).order_by("pk")]
        for run_id in ids + [None] * workers:
            run_ids.put(run_id)
        done = [results.get() for _ in ids]
        seconds = time.perf_counter() - t0
        for proc in procs:
            proc.join(60)
        row = {"banks": len(ids), "orders": n, "workers": workers, "data": made,
               "seconds": seconds, "orders_per_s": n / seconds,
               "run_seconds": sorted(d[3] for d in done),
               "all_completed": all(d[1] == "completed" for d in done),
               "reconciliation_ok": all(d[4] for d in done),
               "orders_done": sum(d[2] for d in done), "check": verify(n)}
        rows.append(row)
        print(f"    {seconds:.1f} s, {row['orders_per_s']:.0f} orders/s; runs "
              f"{row['run_seconds'][0]:.2f}-{row['run_seconds'][-1]:.2f} s each; all "
              f"completed {row['all_completed']}, reconciled {row['reconciliation_ok']}; "
              f"check: {row['check']}", flush=True)
    return rows


# --- (b) balances ------------------------------------------------------------------------------


def make_postings(world: dict, total: int, large: int, small: int) -> dict:
    """``total`` postings in two-leg transactions over the past year, in SQL, committed in
    chunks (the balance trigger runs). One account (card clearing of the first bank) gets
    ``large`` debits, another (a merchant's escrow, otherwise unused) ``small``; the other
    legs go to the other banks' clearing and merchants' escrow."""
    from django.db import connection, transaction

    from payments.models import AccountKind, LedgerAccount

    reset_orders()
    banks = world["banks"]
    big = world["clearing"][banks[0]]
    little_merchant = world["merchants"][-1][0]
    little = world["escrow"][little_merchant]
    others = [world["clearing"][b] for b in banks[1:]] or [big]
    escrows = [world["escrow"][m] for m, _b in world["merchants"][:-1]]
    payable = LedgerAccount.objects.get_or_create(kind=AccountKind.MERCHANT_PAYABLE,
                                                  bank_id=world["merchants"][-1][1],
                                                  merchant_id=little_merchant)[0].pk
    n_txn = total // 2
    big_every = max(1, n_txn // large)
    small_every = max(1, n_txn // small)
    start = time.perf_counter()
    step = 50_000
    for lo in range(0, n_txn, step):
        hi = min(n_txn, lo + step) - 1
        with transaction.atomic(), connection.cursor() as cur:
            # g-th transaction at now - 365 days + g/n_txn of a year; debit leg, credit leg.
            cur.execute(
                """
                WITH t AS (
                    INSERT INTO payments_ledgertransaction (kind, reference, memo, created_at)
                    SELECT 'bench', 'b:' || g, '',
                           now() - interval '365 days' * (1 - g::float8 / %(n)s)
                    FROM generate_series(%(lo)s, %(hi)s) g
                    RETURNING id, created_at, substr(reference, 3)::int AS g
                )
                INSERT INTO payments_posting (transaction_id, account_id, amount, order_id,
                                              posted_at)
                SELECT t.id, CASE WHEN leg = 1 THEN
                           CASE WHEN t.g %% %(big_every)s = 0 THEN %(big)s
                                WHEN t.g %% %(small_every)s = 1 THEN %(little)s
                                ELSE (%(others)s::bigint[])[1 + t.g %% %(n_others)s] END
                         ELSE CASE WHEN t.g %% %(small_every)s = 1 THEN %(payable)s
                                   ELSE (%(escrows)s::bigint[])[1 + t.g %% %(n_escrows)s]
                              END END,
                       CASE WHEN leg = 1 THEN 1 ELSE -1 END * (1 + t.g %% 9973) / 100.0,
                       NULL, t.created_at
                FROM t CROSS JOIN (VALUES (1), (2)) legs(leg)
                """,
                {"n": n_txn, "lo": lo, "hi": hi, "big_every": big_every, "big": big,
                 "small_every": small_every, "little": little, "others": others,
                 "n_others": len(others), "payable": payable, "escrows": escrows,
                 "n_escrows": len(escrows)})
    seconds = time.perf_counter() - start
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE payments_posting")
        cur.execute("VACUUM ANALYZE payments_ledgertransaction")
        cur.execute("CHECKPOINT")
        cur.execute("SELECT count(*) FROM payments_posting")
        count = cur.fetchone()[0]
        cur.execute("SELECT account_id, count(*) FROM payments_posting WHERE account_id IN "
                    "(%s, %s) GROUP BY account_id", [big, little])
        per = dict(cur.fetchall())
        cur.execute("SELECT pg_relation_size('payments_posting'), "
                    "pg_relation_size('payments_posting_balance')")
        table_bytes, index_bytes = cur.fetchone()
    return {"postings": count, "seconds": seconds, "large_account": big,
            "small_account": little, "large_postings": per.get(big, 0),
            "small_postings": per.get(little, 0), "table_bytes": table_bytes,
            "balance_index_bytes": index_bytes}


def balance(account_id: int, at=None) -> Decimal:
    """An account's balance now or at a moment, as the code would ask it."""
    from django.db.models import Sum

    from payments.models import Posting

    qs = Posting.objects.filter(account_id=account_id)
    if at is not None:
        qs = qs.filter(posted_at__lte=at)
    return qs.aggregate(t=Sum("amount"))["t"] or Decimal("0.00")


def explain(account_id: int, at) -> dict:
    """The plan of exactly the statement ``balance`` sends, run under EXPLAIN ANALYZE."""
    from django.db import connection

    sent = []

    def capture(execute, sql, params, many, context):
        sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        balance(account_id, at)
    sql, params = next((q, p) for q, p in sent if "payments_posting" in q)
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
        plan = cur.fetchone()[0]
        plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]

    def nodes(node):
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)

    kinds = [f"{n['Node Type']}" + (f" on {n['Index Name']}" if "Index Name" in n else "")
             for n in nodes(plan["Plan"])]
    heap = sum(n.get("Heap Fetches", 0) for n in nodes(plan["Plan"]))
    return {"nodes": kinds, "heap_fetches": heap, "execution_ms": plan["Execution Time"],
            "planning_ms": plan["Planning Time"]}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def time_balances(cases: list[tuple[str, int, object]], reps: int) -> dict:
    """Each case ``reps`` times, the cases interleaved; ms per query."""
    samples: dict[str, list[float]] = {name: [] for name, _a, _t in cases}
    values = {}
    for name, account, at in cases:  # warm-up
        values[name] = str(balance(account, at))
    for _ in range(reps):
        for name, account, at in cases:
            t0 = time.perf_counter()
            balance(account, at)
            samples[name].append((time.perf_counter() - t0) * 1000)
    return {name: {"p50_ms": pct(s, 0.5), "p95_ms": pct(s, 0.95), "mean_ms": statistics.fmean(s),
                   "n": len(s), "balance": values[name]} for name, s in samples.items()}


def bench_balances(world: dict, args) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    print(f"  making {args.postings:,} postings ...", flush=True)
    data = make_postings(world, args.postings, args.large, args.small)
    print(f"    {data['postings']:,} postings in {data['seconds']:.0f} s; large account "
          f"{data['large_postings']:,}, small {data['small_postings']:,}", flush=True)
    past = timezone.now() - timedelta(days=182)
    cases = [(f"{size} {when}", account, at)
             for size, account in (("large", data["large_account"]),
                                   ("small", data["small_account"]))
             for when, at in (("now", None), ("past", past))]
    out = {"data": data, "plans": {}, "timings": {}}
    out["plans"]["index"] = {name: explain(a, t) for name, a, t in cases}
    out["timings"]["index"] = time_balances(cases, args.queries)
    with connection.cursor() as cur:
        cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'payments_posting' "
                    "AND indexdef LIKE '%%(account_id)'")
        fk_index = cur.fetchone()[0]
    for variant, drop in (("fk_index_only", ["payments_posting_balance"]),
                          ("seq_scan", ["payments_posting_balance", fk_index])):
        with transaction.atomic():
            with connection.cursor() as cur:
                for index in drop:
                    cur.execute(f'DROP INDEX "{index}"')
            out["plans"][variant] = {name: explain(a, t) for name, a, t in cases}
            out["timings"][variant] = time_balances(cases, args.baseline_queries)
            transaction.set_rollback(True)  # the indexes come back
    with connection.cursor() as cur:
        t0 = time.perf_counter()
        for _ in range(args.baseline_queries):
            cur.execute("SELECT count(*) FROM payments_posting")
        out["count_star_ms"] = (time.perf_counter() - t0) * 1000 / args.baseline_queries
    for variant, timings in out["timings"].items():
        for name, t in timings.items():
            plan = out["plans"][variant][name]
            print(f"    {variant:14}{name:12}p50 {t['p50_ms']:8.2f} ms  p95 {t['p95_ms']:8.2f} ms"
                  f"  server {plan['execution_ms']:8.2f} ms  {' / '.join(plan['nodes'])}"
                  f" (heap fetches {plan['heap_fetches']})", flush=True)
    print(f"    COUNT(*) of the table: {out['count_star_ms']:.1f} ms", flush=True)
    return out


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="3000,10000",
                        help="numbers of orders to settle, comma-separated (0: skip)")
    parser.add_argument("--banks", type=int, default=3)
    parser.add_argument("--merchants", type=int, default=300)
    parser.add_argument("--cross-share", type=float, default=0.3,
                        help="share of orders sold on another bank's storefront")
    parser.add_argument("--baseline-max", type=int, default=10_000,
                        help="baseline ledger_post calls / INSERTs per size: min(N, this)")
    parser.add_argument("--compare-with", default="",
                        help="also settle each size with payments/settlement.py of this "
                             "commit (before/after)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="trace Python allocations while settling (slows it down)")
    parser.add_argument("--profile", action="store_true",
                        help=f"cProfile the settling, to {PROFILE_OUT.relative_to(REPO)}")
    parser.add_argument("--skip-balance", action="store_true")
    parser.add_argument("--fanout", type=int, default=0,
                        help="(c): orders per bank, every bank's run in parallel (0: skip)")
    parser.add_argument("--workers", default="1,2,4",
                        help="(c): numbers of worker processes, comma-separated")
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--large", type=int, default=100_000,
                        help="postings on the large account")
    parser.add_argument("--small", type=int, default=100, help="postings on the small account")
    parser.add_argument("--queries", type=int, default=300,
                        help="balance queries per case with the index")
    parser.add_argument("--baseline-queries", type=int, default=20,
                        help="balance queries per case without it")
    parser.add_argument("--keep-db", action="store_true",
                        help=f"keep the {BENCH_DB} database at the end")
    args = parser.parse_args()
    args.sizes = [int(n) for n in args.sizes.split(",") if int(n) > 0]
    args.workers = [int(n) for n in args.workers.split(",") if int(n) > 0]

    run_start = time.perf_counter()
    (REPO / "bench" / "out").mkdir(parents=True, exist_ok=True)
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
        world = make_world(args.banks, args.merchants)
        print(f"  {args.banks} banks, {args.merchants} merchants", flush=True)
        if args.sizes:
            print("(a) settlement", flush=True)
            result["settlement"] = bench_settlement(world, args)
        if args.fanout:
            print("(c) every bank's run in parallel", flush=True)
            result["fanout"] = bench_fanout(world, args)
        if not args.skip_balance:
            print("(b) balances", flush=True)
            result["balances"] = bench_balances(world, args)
        result["run_seconds"] = time.perf_counter() - run_start
        result["machine"]["loadavg_at_end"] = os.getloadavg()
        OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
        m = result["machine"]
        print(f"\nMachine: {m['nproc']} CPUs ({m['cpu_model']}), Python {m['python']}, Django "
              f"{m['django']}, {m['postgresql']['version'].split(' on ')[0]}; commit "
              f"{m['git_commit'][:7]}{'+changes' if m['git_dirty'] else ''}; load average "
              f"{m['loadavg_at_start'][0]:.2f} at start, {m['loadavg_at_end'][0]:.2f} at end")
        print(f"Raw numbers: {OUT.relative_to(REPO)}  (total run {result['run_seconds']:.0f} s)")
    finally:
        if args.keep_db:
            print(f"\nKept database {BENCH_DB}.")
        else:
            common.drop_database(BENCH_DB)
            print(f"\nDropped database {BENCH_DB}.")


if __name__ == "__main__":
    main()
