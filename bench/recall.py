"""Recall benchmark: how long ``recalls.services.recall_open`` takes when the recalled
batch is in N paid orders (default 10,000), against a baseline measured in the same run:
a plain count of those same orders (the join that finds them).

One bank, one merchant with two products (the recalled one and another), N paid orders
of the recalled product and N of the other (bulk-created, one line each), one batch
harvested before every order. Timed: the opening (flag the batch, delist the product,
record the affected orders, hold them with one UPDATE, one history row each by INSERT ...
SELECT, audit) in one transaction, its SQL statements, and the count baseline. Checked:
exactly N orders held. No timing is asserted; this only measures.

It runs on the embedded PostgreSQL in a throw-away database, ``bench_recall``, dropped
and created at the start and dropped at the end.

    .venv/bin/python bench/recall.py                 # N = 10,000 (about 2 minutes)
    .venv/bin/python bench/recall.py --orders 50000

Results: a table on stdout and the raw numbers in bench/out/recall.json.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

REPO = common.REPO
BENCH_DB = "bench_recall"
common.use_bench_database(BENCH_DB)  # before Django reads its settings
OUT = REPO / "bench" / "out" / "recall.json"
CHUNK = 5_000


def make_world(n: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from banks.models import StaffRole
    from banks.services import BranchSpec, bank_onboard, staff_grant
    from catalog.models import Batch, Category, Merchant, MerchantStatus, Product, Sku
    from orders.models import Checkout, CheckoutStatus, Order, OrderLine, OrderStatus

    bank = bank_onboard(code="benchr", name="基准农商行", branches=[BranchSpec(
        code="hq", name="营业部", county="甲县", address="人民路 1 号")]).bank
    now = timezone.now()
    staff = get_user_model().objects.create(username="bench-admin", password="!")
    staff_grant(bank=bank, user=staff, role=StaffRole.BANK_ADMIN)
    merchant = Merchant.objects.create(bank=bank, name="基准合作社", county="甲县",
                                       kind="cooperative", status=MerchantStatus.APPROVED,
                                       status_changed_at=now)
    category = Category.objects.create(slug="bench-fruit", name="水果")
    skus = []
    for name in ("召回苹果", "无关酥梨"):
        product = Product.objects.create(merchant=merchant, category=category, name=name,
                                         origin_county="甲县", status="listed", listed_at=now)
        skus.append(Sku.objects.create(product=product, spec="5斤", unit="箱",
                                       price=Decimal("40.00"), on_hand=10**6))
    batch = Batch.objects.create(product=skus[0].product, code="RC-1", farm="甲县果园",
                                 harvest_date=(now - timedelta(days=30)).date())
    buyers = get_user_model().objects.bulk_create(
        get_user_model()(username=f"buyer{i:04d}", password="!") for i in range(200))
    paid = now - timedelta(days=3)
    start = time.perf_counter()
    for s, sku in enumerate(skus):
        for lo in range(0, n, CHUNK):
            k = range(lo, min(n, lo + CHUNK))
            with transaction.atomic():
                checkouts = Checkout.objects.bulk_create(
                    Checkout(number=f"C{s}{i:09d}", buyer_id=buyers[i % 200].pk,
                             storefront_bank=bank, status=CheckoutStatus.PAID,
                             goods_total=Decimal("40.00"), shipping_total=Decimal("8.00"),
                             total=Decimal("48.00"), paid_at=paid, reserved_until=paid)
                    for i in k)
                orders = Order.objects.bulk_create(
                    Order(checkout=c, number=f"O{s}{i:09d}", buyer_id=c.buyer_id,
                          merchant=merchant, merchant_bank=bank, status=OrderStatus.PAID,
                          fulfilment="delivery", recipient_name="张三",
                          recipient_phone="13700000001", address="甲县人民路 18 号",
                          goods_total=Decimal("40.00"), shipping_fee=Decimal("8.00"),
                          total=Decimal("48.00"), paid_at=paid)
                    for i, c in zip(k, checkouts, strict=True))
                OrderLine.objects.bulk_create(
                    OrderLine(order=o, sku=sku, product_name=sku.product.name, spec="5斤",
                              unit="箱", quantity=1, unit_price=Decimal("40.00"),
                              line_total=Decimal("40.00")) for o in orders)
    return {"bank": bank, "staff": staff, "batch": batch, "sku": skus[0],
            "build_seconds": time.perf_counter() - start}


def baseline_count(world: dict) -> tuple[int, float]:
    """The affected orders counted by the same join the opening uses, nothing written."""
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(DISTINCT o.id) FROM orders_order o "
            "JOIN orders_orderline l ON l.order_id = o.id "
            "JOIN catalog_sku s ON s.id = l.sku_id "
            "JOIN catalog_batch b ON b.product_id = s.product_id AND b.id = %s "
            "WHERE o.paid_at >= b.harvest_date::timestamp AT TIME ZONE 'Asia/Shanghai'",
            [world["batch"].pk])
        count = cur.fetchone()[0]
    return count, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000)
    args = parser.parse_args()
    (REPO / "bench" / "out").mkdir(parents=True, exist_ok=True)
    try:
        print(f"Recreating database {BENCH_DB} on the embedded PostgreSQL ...", flush=True)
        common.recreate_database(BENCH_DB)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from orders.models import Order
        from recalls.services import recall_open

        call_command("migrate_schemas", interactive=False, verbosity=0, stdout=io.StringIO())
        world = make_world(args.orders)
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        print(f"  {args.orders} orders of the recalled product and {args.orders} of another "
              f"built in {world['build_seconds']:.1f} s", flush=True)
        counted, base = baseline_count(world)
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            recall = recall_open(actor=world["staff"], bank=world["bank"],
                                 batch_ids=[world["batch"].pk], reason="基准：农药残留超标")
            opened = time.perf_counter() - start
        held = Order.objects.filter(held_reason="recall").count()
        assert held == counted == args.orders == recall.orders_held, (held, counted)
        result = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": common.machine_info(pg_settings=(), code_paths=("recalls", "orders")),
            "orders": args.orders, "held": held, "open_seconds": opened,
            "open_statements": len(queries), "baseline_count_seconds": base,
            "ratio": opened / base if base else None,
        }
        OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
        print(f"\n| orders held | opening | SQL statements | baseline count | ratio |\n"
              f"|---|---|---|---|---|\n| {held:,} | {opened:.2f} s | {len(queries)} | "
              f"{base * 1000:.0f} ms | {opened / base:.1f}x |")
    finally:
        common.drop_database(BENCH_DB)
        print(f"\nDropped database {BENCH_DB}.")


if __name__ == "__main__":
    main()
