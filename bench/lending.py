"""Lending benchmark: the nightly recomputation of every credit profile of a bank
(``lending.services.scoring_run_execute``) for 10,000 merchants and 100,000 buyers.

Data (bulk inserts, not through the services): one bank (``bank_onboard``), M approved
merchants and B buyers (``bulk_create`` in batches), every merchant's and every buyer's
consent (the bank's ``MerchantConsent`` rows, the buyers' ``accounts.Consent`` rows), and
about K orders per merchant (one checkout each) spread over the last 12 months, each to a
random buyer: completed, most shipped within 48 hours, some late, a few refunded or
cancelled. Buyers without an order are scored too (tenure only). No products, batches,
inspections or loans: those factors read as "no data" (the queries still run).

Measured in a fresh process (spawned, Django set up, warmed up on a few parties): two
runs, the first inserting every profile, the second replacing them (as every night after
the first); for each its wall time, parties per second, SQL statements and the process's
peak RSS (``ru_maxrss``) before and after. With ``--tracemalloc`` a third run traces the
peak of Python allocations (some 30 times slower here: use a small size; the run works
chunk by chunk, so the peak should not grow with the number of parties). Baseline in
the same process just before: the bare aggregate the figures are made of - one
``GROUP BY merchant`` and one ``GROUP BY buyer`` over the same orders, with the same
conditional sums - so the run reads as a ratio to the cost of reading the data once.

It runs on the embedded PostgreSQL in a throw-away database, ``bench_lending``, dropped
and created at the start and dropped at the end (``--keep-db`` keeps it).

    .venv/bin/python bench/lending.py                                  # 10,000 / 100,000
    .venv/bin/python bench/lending.py --merchants 1000 --buyers 10000  # quick

Results: a table on stdout and the raw numbers in bench/out/lending.json. No timing is
asserted; this only measures.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import random
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

REPO = common.REPO
BENCH_DB = "bench_lending"
common.use_bench_database(BENCH_DB)  # before Django reads its settings

OUT = REPO / "bench" / "out" / "lending.json"
PG_SETTINGS = ("shared_buffers", "work_mem", "synchronous_commit",
               "max_parallel_workers_per_gather", "jit")
CODE_PATHS = ("lending", "orders", "accounts")
BATCH = 5_000


# --- data ----------------------------------------------------------------------------------


def make_world(n_merchants: int, n_buyers: int, per_merchant: int, seed: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from accounts.models import Consent, ConsentPurpose
    from banks.services import BranchSpec, bank_onboard
    from catalog.models import Merchant, MerchantStatus
    from lending.models import MerchantConsent
    from orders.models import Checkout, CheckoutStatus, Order, OrderStatus

    rng = random.Random(seed)
    timings = {}
    t0 = time.perf_counter()
    bank = bank_onboard(code="benchlend", name="基准农商行",
                        branches=[BranchSpec(code="hq", name="营业部", county="甲县",
                                             address="人民路 1 号")]).bank
    now = timezone.now()
    User = get_user_model()
    merchant_ids: list[int] = []
    for lo in range(0, n_merchants, BATCH):
        rows = Merchant.objects.bulk_create(
            Merchant(bank=bank, name=f"基准合作社{n:05d}", county="甲县", kind="cooperative",
                     status=MerchantStatus.APPROVED, status_changed_at=now)
            for n in range(lo, min(n_merchants, lo + BATCH)))
        merchant_ids += [m.pk for m in rows]
    # Time on the platform: up to three years.
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("UPDATE catalog_merchant SET created_at = now() - "
                    "(random() * interval '1095 days') WHERE bank_id = %s", [bank.pk])
    buyer_ids: list[int] = []
    for lo in range(0, n_buyers, BATCH):
        rows = User.objects.bulk_create(
            User(username=f"bench-buyer-{n:06d}", password="!",
                 date_joined=now - timedelta(days=rng.randint(0, 1095)),
                 buyer_kind="business" if n % 7 == 0 else "individual")
            for n in range(lo, min(n_buyers, lo + BATCH)))
        buyer_ids += [u.pk for u in rows]
    timings["parties_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    for lo in range(0, n_buyers, BATCH):
        Consent.objects.bulk_create(
            Consent(user_id=pk, bank=bank, purpose=ConsentPurpose.CREDIT, granted_at=now)
            for pk in buyer_ids[lo:lo + BATCH])
    with schema_context(bank.schema_name):
        MerchantConsent.objects.bulk_create(
            (MerchantConsent(merchant_id=pk, given_by_id=buyer_ids[0], granted_at=now)
             for pk in merchant_ids), batch_size=BATCH)
    timings["consents_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    n_orders = n_merchants * per_merchant
    made = 0
    for lo in range(0, n_orders, BATCH):
        specs = []
        for i in range(lo, min(n_orders, lo + BATCH)):
            merchant = merchant_ids[i % n_merchants]
            buyer = buyer_ids[rng.randrange(n_buyers)]
            paid = now - timedelta(days=rng.uniform(0, 365))
            goods = Decimal(rng.randint(1200, 60000)) / 100
            roll = rng.random()
            status = (OrderStatus.REFUNDED if roll < 0.02 else OrderStatus.CANCELLED
                      if roll < 0.03 else OrderStatus.COMPLETED)
            shipped = paid + timedelta(hours=rng.choice([3, 8, 20, 30, 40, 60, 90]))
            specs.append((i, merchant, buyer, paid, goods, status, shipped))
        with transaction.atomic():
            checkouts = Checkout.objects.bulk_create(
                Checkout(number=f"CB{i:010d}", buyer_id=b, storefront_bank=bank,
                         status=CheckoutStatus.PAID, goods_total=g,
                         shipping_total=Decimal("8.00"), total=g + 8, paid_at=p,
                         reserved_until=p)
                for i, _m, b, p, g, _s, _sh in specs)
            Order.objects.bulk_create(
                Order(checkout=c, number=f"OB{i:010d}", buyer_id=b, merchant_id=m,
                      merchant_bank=bank, referrer_bank=bank, status=s,
                      fulfilment="delivery", recipient_name="张三",
                      recipient_phone="13700000001", address="甲县人民路 18 号",
                      goods_total=g, shipping_fee=Decimal("8.00"), total=g + 8,
                      refunded_total=g + 8 if s == OrderStatus.REFUNDED else Decimal("0.00"),
                      paid_at=p, shipped_at=sh, completed_at=sh + timedelta(days=3))
                for c, (i, m, b, p, g, s, sh) in zip(checkouts, specs, strict=True))
        made += len(specs)
    timings["orders_s"] = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    return {"bank": bank.pk, "schema": bank.schema_name, "merchants": n_merchants,
            "buyers": n_buyers, "orders": made, "timings": timings}


# --- the measuring process -------------------------------------------------------------------


def child(job: dict, outbox) -> None:
    import resource
    import tracemalloc

    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from banks.models import Bank
    from lending import scoring
    from lending import services as lending
    from lending.models import CreditDataUse, CreditProfile, ScoringRun
    from orders.models import Order

    def maxrss() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux

    bank = Bank.objects.get(pk=job["bank"])
    result: dict = {}
    statements = {"n": 0}

    def count(execute, sql, params, many, context):
        statements["n"] += 1
        return execute(sql, params, many, context)

    with schema_context(bank.schema_name):
        # Warm-up: imports and the first queries of every read, on a few parties.
        merchants, buyers = lending.scoring_parties(bank)
        scoring.merchant_figures(merchants[:50])
        scoring.buyer_figures(buyers[:50])

        # Baseline: the figures' aggregates over the same orders, once, in two statements.
        now = timezone.now()
        t0 = time.perf_counter()
        by_merchant = list(Order.objects.values("merchant_id")
                           .annotate(**scoring._sales_aggregates(now)))
        by_buyer = list(Order.objects.values("buyer_id")
                        .annotate(**scoring._sales_aggregates(now)))
        result["baseline"] = {"seconds": time.perf_counter() - t0,
                              "groups": len(by_merchant) + len(by_buyer)}
        t0 = time.perf_counter()
        Order.objects.aggregate(n=Count("pk"))
        result["count_orders_s"] = time.perf_counter() - t0

        runs = []
        plan = [("first run", False), ("second run", False)]
        if job.get("tracemalloc"):
            plan.append(("traced run", True))
        for label, traced in plan:
            CreditDataUse.objects.all().delete()
            rss_before = maxrss()
            if traced:
                tracemalloc.start()
            statements["n"] = 0
            run = lending.scoring_run_start(bank=bank, trigger=f"bench{len(runs)}")
            t0 = time.perf_counter()
            with connection.execute_wrapper(count):
                run = lending.scoring_run_execute(bank=bank, run_id=run.pk)
            seconds = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1] if traced else None
            if traced:
                tracemalloc.stop()
            assert run.status == ScoringRun.Status.COMPLETED, run.error
            runs.append({"label": label, "seconds": seconds, "parties": run.done,
                         "statements": statements["n"],
                         "parties_per_s": run.done / seconds,
                         "maxrss_kb_before": rss_before, "maxrss_kb_after": maxrss(),
                         "tracemalloc_peak_kb": peak // 1024 if peak else None})
        result["runs"] = runs
        result["profiles"] = CreditProfile.objects.count()
        result["tiers"] = dict(CreditProfile.objects.values_list("tier").annotate(Count("pk"))
                               .order_by("tier"))
    outbox.put(result)


def measure(job: dict) -> dict:
    ctx = multiprocessing.get_context("spawn")
    outbox = ctx.Queue()
    proc = ctx.Process(target=child, args=(job, outbox))
    proc.start()
    result = outbox.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--merchants", type=int, default=10_000)
    parser.add_argument("--buyers", type=int, default=100_000)
    parser.add_argument("--orders-per-merchant", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="a third run with tracemalloc on (slow: 30x here)")
    parser.add_argument("--keep-db", action="store_true",
                        help=f"keep the {BENCH_DB} database at the end")
    args = parser.parse_args()

    (REPO / "bench" / "out").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        print(f"Recreating database {BENCH_DB} on the embedded PostgreSQL ...", flush=True)
        common.recreate_database(BENCH_DB)
        import django

        django.setup()
        from django.core.management import call_command

        t0 = time.perf_counter()
        call_command("migrate_schemas", interactive=False, verbosity=0, stdout=io.StringIO())
        print(f"  migrated in {time.perf_counter() - t0:.1f} s", flush=True)
        world = make_world(args.merchants, args.buyers, args.orders_per_merchant, args.seed)
        print(f"  {world['merchants']:,} merchants, {world['buyers']:,} buyers, "
              f"{world['orders']:,} orders in "
              f"{sum(world['timings'].values()):.1f} s", flush=True)
        result = {"machine": common.machine_info(pg_settings=PG_SETTINGS,
                                                 code_paths=CODE_PATHS),
                  "args": vars(args), "world": world}
        from django.db import connections

        connections.close_all()
        result["measured"] = measure({"bank": world["bank"], "tracemalloc": args.tracemalloc})
    finally:
        if not args.keep_db:
            common.drop_database(BENCH_DB)
    result["total_s"] = time.perf_counter() - started
    OUT.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")

    m = result["measured"]
    print(f"\nBaseline: two GROUP BY aggregates over {world['orders']:,} orders: "
          f"{m['baseline']['seconds']:.2f} s ({m['baseline']['groups']:,} groups)")
    print(f"{'run':<12}{'parties':>10}{'seconds':>10}{'parties/s':>11}{'SQL':>8}"
          f"{'RSS before':>12}{'RSS after':>11}{'py peak':>10}")
    for r in m["runs"]:
        peak = f"{r['tracemalloc_peak_kb'] / 1024:.1f} MB" if r["tracemalloc_peak_kb"] else "-"
        print(f"{r['label']:<12}{r['parties']:>10,}{r['seconds']:>10.1f}"
              f"{r['parties_per_s']:>11,.0f}{r['statements']:>8,}"
              f"{r['maxrss_kb_before'] / 1024:>9.0f} MB{r['maxrss_kb_after'] / 1024:>8.0f} MB"
              f"{peak:>10}")
    print(f"Tiers: {m['tiers']}   (raw numbers in {OUT.relative_to(REPO)})")


if __name__ == "__main__":
    main()
