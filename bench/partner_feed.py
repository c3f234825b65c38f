"""Partner catalog export benchmark: the streamed JSON Lines export of N listed products
(default 100,000), through the whole HTTP stack with a partner key, against a plain dump
of the same products (``list(Product.objects.values(...))`` written as JSON Lines), both
measured in the same run: wall time and peak resident memory.

Each case runs in a child process of its own (the same database, Django set up, nothing
else), so that its peak RSS (``ru_maxrss``) is its own; a child that only sets Django up
gives the floor every case starts from.

Cases:
  setup_only     Django set up, one query: the floor
  baseline_dump  list(Product.objects.filter(status="listed").values(id, name, merchant
                 name, bank code, category slug, updated_at)) then json.dumps of each row:
                 fewer fields (no prices, stock, images, traces), everything in memory
  export_http    GET /api/v1/partner/catalog/export.jsonl on the portal with a partner
                 key (django.test.Client, every middleware, streamed), every line read and
                 parsed by the caller as a client would
  baseline_page  a keyset page of 500 listed products by (updated_at, id) with the
                 baseline dump's fields, JSON-encoded; 20 pages one after the other
  changes_page   GET /api/v1/partner/catalog/changes?limit=500 with the key through the
                 whole stack, 20 pages following next_cursor from the start: the
                 incremental feed's page (goal: <= 100 ms)

It runs on the embedded PostgreSQL in a throw-away database, ``bench_partner_feed``,
dropped and created at the start and dropped at the end (``--keep-db`` keeps it; with
``--reuse-db`` a kept one is measured again). A private Redis (the key's use counter, the
throttle) is started on a free port and stopped. Nothing is asserted; it only measures.

    .venv/bin/python bench/partner_feed.py                     # 100,000 products
    .venv/bin/python bench/partner_feed.py --products 10000    # quick

Results: a table on stdout, raw numbers in bench/out/partner_feed.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

REPO = common.REPO
BENCH_DB = "bench_partner_feed"
common.use_bench_database(BENCH_DB)  # before Django reads its settings
OUT = REPO / "bench" / "out" / "partner_feed.json"
PG_SETTINGS = ("shared_buffers", "work_mem")
CODE_PATHS = ("partners", "catalog", "config")
KEY_FILE = REPO / "bench" / "out" / "partner_feed.key"
CASES = ["setup_only", "baseline_dump", "export_http", "baseline_page", "changes_page"]
PAGES = 20  # pages of 500 timed by the page cases, from the start of the feed


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def generate(n_products: int, n_merchants: int, seed: int = 20261) -> str:
    """Two banks, their merchants, N listed products (2 SKUs and a batch each), a partner
    allowed both banks and a key; the key's whole value."""
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from banks.services import bank_onboard
    from catalog.models import Batch, Category, Merchant, MerchantStatus, Product, Sku
    from partners.services import key_create, partner_register

    rng = random.Random(seed)
    banks = [bank_onboard(code=f"feed-{i}", name=f"基准农商行{i}").bank for i in (1, 2)]
    parent = Category.objects.create(slug="fruit", name="水果")
    cats = [Category.objects.create(slug=f"c{i}", name=f"类目{i}", parent=parent)
            for i in range(20)]
    now = timezone.now()
    merchants = Merchant.objects.bulk_create(
        Merchant(bank=banks[i % 2], name=f"合作社{i}", county="某县", kind="cooperative",
                 status=MerchantStatus.APPROVED, status_changed_at=now)
        for i in range(n_merchants))
    chunk = 5000
    made = 0
    while made < n_products:
        rows = [Product(merchant=rng.choice(merchants), category=rng.choice(cats),
                        name=f"特产{made + i}号", origin_county="某县", status="listed",
                        price_from=Decimal("9.90"), listed_at=now)
                for i in range(min(chunk, n_products - made))]
        rows = Product.objects.bulk_create(rows, batch_size=chunk)
        Sku.objects.bulk_create(
            [Sku(product=p, spec=spec, unit="斤", price=Decimal(rng.randrange(100, 20000)) / 100,
                 on_hand=rng.randrange(0, 40))
             for p in rows for spec in ("1斤", "5斤")], batch_size=chunk)
        Batch.objects.bulk_create(
            [Batch(product=p, code=f"B{p.pk}", harvest_date=dt.date(2026, 9, 1), farm="某农场")
             for p in rows], batch_size=chunk)
        made += len(rows)
    admin = get_user_model().objects.create_user(username="bench-fed", password=None,
                                                 is_federation_admin=True)
    partner = partner_register(acting_user=admin, name="县电商服务中心", kind="county_centre",
                               contact_name="李四", contact_phone="13800000001",
                               fee_rate="0.015", banks=banks)
    key = key_create(partner=partner, name="bench", scopes=["catalog:read"],
                     acting_user=admin).secret
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE catalog_product")
        cur.execute("VACUUM ANALYZE catalog_sku")
        cur.execute("VACUUM ANALYZE catalog_batch")
    return key


def run_case(case: str) -> dict:
    """In the child: one case, its time and its process's peak RSS."""
    import django

    django.setup()
    from django.db import connection

    from catalog.models import Product

    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    rows = 0
    size = 0
    start = time.perf_counter()
    if case == "baseline_dump":
        data = list(Product.objects.filter(status="listed").values(
            "id", "name", "merchant__name", "merchant__bank__code", "category__slug",
            "updated_at"))
        for row in data:
            line = json.dumps(row, ensure_ascii=False, default=str) + "\n"
            size += len(line.encode())
            rows += 1
    elif case == "export_http":
        from django.test import Client

        client = Client(HTTP_HOST="localhost",
                        HTTP_AUTHORIZATION=f"Bearer {KEY_FILE.read_text().strip()}")
        response = client.get("/api/v1/partner/catalog/export.jsonl", secure=True)
        assert response.status_code == 200, response.status_code
        pending = b""
        for part in response.streaming_content:
            pending += part
            *lines, pending = pending.split(b"\n")
            for line in lines:
                json.loads(line)
                size += len(line) + 1
                rows += 1
        response.close()
    elif case in ("baseline_page", "changes_page"):
        return _pages(case)
    seconds = time.perf_counter() - start
    return {"case": case, "seconds": seconds, "rows": rows, "bytes": size,
            "peak_rss_mb": peak_rss_mb()}


def _pages(case: str) -> dict:
    """PAGES pages of 500 changes one after the other, each timed: through the whole stack
    (``changes_page``: the changes endpoint with the key, following next_cursor), or the
    baseline (``baseline_page``: a keyset page of the same 500 products by (updated_at,
    id), the baseline dump's fields). Reports the median page and the slowest."""
    from django.test import Client

    from catalog.models import Product

    times, size = [], 0
    if case == "changes_page":
        client = Client(HTTP_HOST="localhost",
                        HTTP_AUTHORIZATION=f"Bearer {KEY_FILE.read_text().strip()}")
        cursor = ""
        for _ in range(PAGES):
            start = time.perf_counter()
            response = client.get("/api/v1/partner/catalog/changes",
                                  {"limit": 500, **({"cursor": cursor} if cursor else {})},
                                  secure=True)
            body = response.json()
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, response.status_code
            assert len(body["items"]) == 500, len(body["items"])
            size += len(response.content)
            cursor = body["next_cursor"]
    else:
        after = None
        for _ in range(PAGES):
            start = time.perf_counter()
            rows = Product.objects.filter(status="listed").order_by("updated_at", "id")
            if after is not None:
                rows = rows.filter(updated_at__gte=after[0]).exclude(
                    updated_at=after[0], id__lte=after[1])
            page = list(rows.values("id", "name", "merchant__name", "merchant__bank__code",
                                    "category__slug", "updated_at")[:500])
            text = json.dumps({"items": page}, ensure_ascii=False, default=str)
            times.append(time.perf_counter() - start)
            size += len(text.encode())
            after = (page[-1]["updated_at"], page[-1]["id"])
    times.sort()
    return {"case": case, "seconds": statistics.median(times), "slowest": times[-1],
            "rows": 500, "bytes": size // PAGES, "peak_rss_mb": peak_rss_mb()}


def measure(case: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", case], capture_output=True,
                         text=True, env=os.environ.copy(), cwd=REPO, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{case} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_redis():
    from config import embedded

    port = embedded.free_port()
    redis = embedded.redis_process(port, REPO / "bench" / "out" / "feed-redis.log").start()
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    os.environ["PARTNER_API_RATE"] = "1000000/min"
    return redis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("products", nargs="?", type=int, default=100_000)
    parser.add_argument("--merchants", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each case (median)")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--reuse-db", action="store_true")
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_case(args.child)))
        return

    (REPO / "bench" / "out").mkdir(parents=True, exist_ok=True)
    redis = start_redis()
    try:
        if not args.reuse_db:
            print(f"Recreating database {BENCH_DB} on the embedded PostgreSQL ...", flush=True)
            common.recreate_database(BENCH_DB)
        import django

        django.setup()
        from django.core.management import call_command

        result = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "machine": common.machine_info(pg_settings=PG_SETTINGS,
                                                 code_paths=CODE_PATHS),
                  "args": {k: v for k, v in vars(args).items() if k != "child"}}
        if not args.reuse_db:
            start = time.perf_counter()
            call_command("migrate_schemas", interactive=False, verbosity=0,
                         stdout=io.StringIO())
            print(f"  migrated in {time.perf_counter() - start:.1f} s", flush=True)
            start = time.perf_counter()
            KEY_FILE.write_text(generate(args.products, args.merchants))
            result["generate_s"] = time.perf_counter() - start
            print(f"  {args.products:,} products generated in {result['generate_s']:.1f} s",
                  flush=True)
        from django.db import connections

        connections.close_all()
        samples: dict[str, list[dict]] = {case: [] for case in CASES}
        for round_no in range(args.rounds):  # cases interleaved, round by round
            for case in CASES:
                samples[case].append(measure(case))
            print(f"  round {round_no + 1}/{args.rounds} done", flush=True)
        summary = {}
        for case, runs in samples.items():
            summary[case] = {
                "seconds": statistics.median(r["seconds"] for r in runs),
                "slowest": max(r.get("slowest", r["seconds"]) for r in runs),
                "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
                "rows": runs[0]["rows"], "bytes": runs[0]["bytes"]}
        floor = summary["setup_only"]["peak_rss_mb"]
        for case in summary.values():
            case["rss_over_floor_mb"] = case["peak_rss_mb"] - floor
            case["rows_per_s"] = case["rows"] / case["seconds"] if case["seconds"] else 0
        result["samples"], result["summary"] = samples, summary
        OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
        print(f"\n{args.products:,} products, median of {args.rounds} rounds")
        print(f"{'case':<15}{'seconds':>9}{'rows/s':>10}{'MB out':>9}{'peak RSS MB':>13}"
              f"{'over floor':>12}")
        for name, case in summary.items():
            print(f"{name:<15}{case['seconds']:>9.3f}{case['rows_per_s']:>10,.0f}"
                  f"{case['bytes'] / 1e6:>9.1f}{case['peak_rss_mb']:>13.1f}"
                  f"{case['rss_over_floor_mb']:>12.1f}")
        page, base = summary["changes_page"], summary["baseline_page"]
        print(f"\na page of 500 changes: median {page['seconds'] * 1000:.1f} ms, slowest "
              f"{page['slowest'] * 1000:.1f} ms ({PAGES} pages x {args.rounds} rounds); the "
              f"baseline keyset page {base['seconds'] * 1000:.1f} ms: "
              f"{page['seconds'] / base['seconds']:.1f} x")
    finally:
        redis.stop()
        if not args.keep_db and not args.child:
            common.drop_database(BENCH_DB)


if __name__ == "__main__":
    main()
