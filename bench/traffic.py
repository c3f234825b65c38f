"""Traffic benchmark: what recording costs a storefront page, how fast buffered events
reach the table, how long the daily roll-ups take over 10,000,000 events, and how fast
the dashboards read the roll-ups -- each against a baseline measured in the same run.

1. Page cost. The product page (catalog:product) through Django's full handler
   (django.test.Client, every middleware, templates, real database and Redis), in
   interleaved rounds of three clients:
     off        the settings' middleware without federation.middleware.TrafficMiddleware
     on         with it, a returning visitor (one product_view buffered per page)
     on-new     with it, a new visitor on every page (visit + product_view + cookie)
   Figure: mean time per page and the overhead of "on" and "on-new" against "off".
2. Ingest. recorder.record() alone (calls/s), then services.events_flush() moving the
   buffer into federation_event (resolve + one COPY per 5,000): events/s, against the
   storefront's own page throughput from part 1 (pages/s of one process).
3. Roll-up. N events (default 10,000,000) over D days (default 30) generated in the
   database with generate_series; then services.rollup_day() for every day. Baseline:
   one plain pass over the same rows (SELECT kind, count(*) ... GROUP BY kind per day).
4. Dashboards. TRAFFIC-VIEWS' selectors (federation.selectors) over the D-day range on
   the roll-ups; baseline: the bank-pair matrix computed from the raw events instead.

It runs on the embedded PostgreSQL in a throw-away database ``bench_traffic`` (dropped
and recreated at the start, dropped at the end unless --keep-db) with a private Redis on
a free port. Dev data is never touched. Raw numbers go to bench/out/traffic.json.

    .venv/bin/python bench/traffic.py                              # ~15-25 minutes
    .venv/bin/python bench/traffic.py --events 200000 --days 5 --requests 100 --rounds 3

No timing is asserted; this only measures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

REPO = common.REPO
BENCH_DB = "bench_traffic"
common.use_bench_database(BENCH_DB)  # before Django reads its settings

OUT = REPO / "bench" / "out" / "traffic.json"
PG_SETTINGS = ("shared_buffers", "work_mem", "max_parallel_workers_per_gather",
               "synchronous_commit")
CODE_PATHS = ("federation", "orders", "catalog", "config")


def start_redis():
    from config import embedded

    port = embedded.free_port()
    redis = embedded.redis_process(port, REPO / "bench" / "out" / "traffic-redis.log").start()
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    return redis


# --- set-up --------------------------------------------------------------------------------


def province():
    from accounts.services import user_register
    from banks.models import StaffRole
    from banks.services import BranchSpec, bank_onboard, staff_grant
    from tests.catalog_factories import approved_merchant, listed_product

    banks = []
    for i in range(6):
        banks.append(bank_onboard(
            code=f"bench-{i}", name=f"基准{i}县农村商业银行", short_name=f"基准{i}",
            region=f"基准{i}县", branches=[BranchSpec(code="hq", name=f"基准{i}营业部",
                                                      county=f"基准{i}县", address="人民路 1 号")],
        ).bank)
    staff = user_register(username="bench-staff", password="Bench@pass-2026")
    staff_grant(bank=banks[0], user=staff, role=StaffRole.BANK_ADMIN)
    merchant, _ = approved_merchant(banks[0], staff, name="基准果园")
    product = listed_product(merchant, name="基准苹果", price="45.50")
    return banks, product


# --- 1. page cost ----------------------------------------------------------------------------


def page_cost(bank, product, requests: int, rounds: int) -> dict:
    from django.conf import settings
    from django.test import Client, override_settings

    host = f"{bank.code}.localhost"
    path = f"/p/{product.pk}/"
    without = [m for m in settings.MIDDLEWARE if m != "federation.middleware.TrafficMiddleware"]
    clients = {}
    with override_settings(MIDDLEWARE=without):
        clients["off"] = Client(HTTP_HOST=host)
        clients["off"].get(path)  # loads the middleware chain without recording
    clients["on"] = Client(HTTP_HOST=host)
    clients["on-new"] = Client(HTTP_HOST=host)
    for client in clients.values():
        for _ in range(30):  # warm-up: templates, connections, caches
            assert client.get(path).status_code == 200
    samples: dict[str, list[float]] = {mode: [] for mode in clients}
    round_means: dict[str, list[float]] = {mode: [] for mode in clients}
    for r in range(rounds):
        order = list(clients) if r % 2 == 0 else list(reversed(clients))
        for mode in order:
            client = clients[mode]
            times = []
            for _ in range(requests):
                if mode == "on-new":
                    client.cookies.clear()
                start = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - start)
                assert response.status_code == 200
            samples[mode].extend(times)
            round_means[mode].append(statistics.fmean(times))
    out = {}
    base = statistics.fmean(samples["off"])
    for mode, times in samples.items():
        mean = statistics.fmean(times)
        out[mode] = {"mean_ms": mean * 1000, "median_ms": statistics.median(times) * 1000,
                     "pages_per_s": 1 / mean, "round_means_ms": [m * 1000 for m in
                                                               round_means[mode]],
                     "overhead_pct": (mean / base - 1) * 100}
    return out


# --- 2. ingest ---------------------------------------------------------------------------


def ingest(bank, product, events: int) -> dict:
    from federation import recorder, services
    from federation.models import Event

    redis = recorder.client()
    services.events_flush()  # what part 1 buffered
    Event.objects.all().delete()
    redis.delete(recorder.BUFFER_KEY)
    start = time.perf_counter()
    for i in range(events):
        recorder.record("product_view", storefront_bank_id=bank.pk, product_id=product.pk,
                        session_hash=f"{i // 8:064x}")
    record_s = time.perf_counter() - start
    waiting = redis.llen(recorder.BUFFER_KEY)
    start = time.perf_counter()
    flushed = 0
    while True:
        result = services.events_flush(batch_size=5000, max_batches=1000)
        flushed += result.events
        if not result.events:
            break
    flush_s = time.perf_counter() - start
    return {"events": events, "buffered": waiting, "flushed": flushed,
            "record_s": record_s, "record_per_s": events / record_s,
            "record_us": record_s / events * 1e6,
            "flush_s": flush_s, "flush_per_s": flushed / flush_s,
            "table_rows": Event.objects.count()}


# --- 3. roll-ups ---------------------------------------------------------------------------

GENERATE = """
INSERT INTO federation_event (kind, at, day, storefront_bank_id, merchant_bank_id,
  merchant_id, product_id, category_id, region, session_hash, user_id, segment, query,
  quantity, amount, order_id, checkout_id, sharer_id)
SELECT kind, at, (at AT TIME ZONE 'Asia/Shanghai')::date,
  (%(banks)s::bigint[])[1 + (r2 * 7)::int %% 7],
  CASE WHEN has_product THEN (%(banks)s::bigint[])[1 + (p / 25) %% 6] END,
  CASE WHEN has_product THEN 1 + p / 25 END,
  CASE WHEN has_product THEN p END,
  CASE WHEN has_product THEN p %% 40 END,
  CASE WHEN has_product THEN 'county-' || p %% 30 ELSE '' END,
  md5((i / 8)::text), CASE WHEN i %% 10 = 0 THEN i / 80 END,
  CASE WHEN kind = 'purchase' THEN (ARRAY['villager','community','young','small_business',
    'enterprise',''])[1 + i %% 6] ELSE '' END,
  CASE WHEN kind = 'search' THEN 'word-' || p %% 200 ELSE '' END,
  CASE WHEN kind IN ('add_to_cart', 'purchase') THEN 1 + i %% 3 ELSE 0 END,
  CASE WHEN kind = 'purchase' THEN round((r3 * 200)::numeric, 2) ELSE 0 END,
  CASE WHEN kind = 'purchase' THEN i END,
  CASE WHEN kind IN ('checkout', 'purchase') THEN i / 3 END,
  NULL
FROM (
  SELECT i, r2, r3, at, kind, 1 + (r3 * 5000)::int AS p,
         kind NOT IN ('visit', 'search') AS has_product
  FROM (
    SELECT i, random() AS r2, random() AS r3,
      %(start)s::timestamptz + (i - %(first)s) * %(step)s * interval '1 second' AS at,
      CASE WHEN r1 < .20 THEN 'visit' WHEN r1 < .75 THEN 'product_view'
           WHEN r1 < .85 THEN 'search' WHEN r1 < .93 THEN 'add_to_cart'
           WHEN r1 < .965 THEN 'checkout' WHEN r1 < .995 THEN 'purchase'
           ELSE 'share_click' END AS kind
    FROM (SELECT i, random() AS r1 FROM generate_series(%(first)s, %(last)s) AS i) AS g
  ) AS k
) AS e
"""


def _generate(banks, first: int, last: int, start_at, step: float) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(GENERATE, {"banks": [b.pk for b in banks] + [None], "start": start_at,
                               "first": first, "last": last, "step": step})


def _scan(day) -> float:
    from django.db import connection

    t = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SELECT kind, count(*) FROM federation_event WHERE day = %s "
                    "GROUP BY kind", [day])
        cur.fetchall()
    return time.perf_counter() - t


def rollups(banks, events: int, days: int, slices: int) -> dict:
    from django.db import connection

    from federation import services

    with connection.cursor() as cur:
        cur.execute("TRUNCATE federation_event")
    first_day = datetime(2030, 1, 1).date()
    start_at = datetime.combine(first_day, datetime.min.time(), tzinfo=services.local_zone())
    step = days * 86400 / events
    chunk = 1_000_000
    t0 = time.perf_counter()
    for first in range(0, events, chunk):
        last = min(first + chunk, events) - 1
        _generate(banks, first, last, start_at + timedelta(seconds=first * step), step)
        print(f"  {last + 1:,} events", flush=True)
    generate_s = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE federation_event")
        cur.execute("SELECT pg_total_relation_size('federation_event'), count(*) "
                    "FROM federation_event")
        size, count = cur.fetchone()
    day_list = [first_day + timedelta(days=d) for d in range(days)]
    scan = [_scan(day) for day in day_list]

    # a. the whole history counted incrementally from an empty watermark
    t = time.perf_counter()
    counted = services.rollup_new_events()
    catch_up_s = time.perf_counter() - t
    print(f"  incremental roll-up of {counted:,} events: {catch_up_s:.1f} s", flush=True)
    # b. every day rebuilt from its raw events (what the old task did per day)
    roll = []
    for day in day_list:
        t = time.perf_counter()
        services.rollup_day(day)
        roll.append(time.perf_counter() - t)
    print(f"  rebuild of {days} days: {sum(roll):.1f} s", flush=True)

    # c. the 15-minute task at 333,000 events a day: a quarter hour of new events on the
    # day after the history, then rollup_recent (new events + the fees of two days)
    per_slice = round(333_000 / 96)
    slice_step = 900 / per_slice
    next_day = first_day + timedelta(days=days)
    next_start = datetime.combine(next_day, datetime.min.time(),
                                  tzinfo=services.local_zone())
    with connection.cursor() as cur:
        cur.execute("SELECT max(id) FROM federation_event")
        next_i = cur.fetchone()[0] + 1
    runs, slice_scans = [], []
    now = next_start + timedelta(hours=12)
    for n in range(slices):
        lo = next_i + n * per_slice
        _generate(banks, lo, lo + per_slice - 1, next_start + timedelta(seconds=n * 900),
                  slice_step)
        t = time.perf_counter()
        got = services.rollup_recent(now=now)
        runs.append(time.perf_counter() - t)
        assert got == per_slice, got
        t = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute("SELECT kind, count(*) FROM federation_event WHERE id >= %s "
                        "GROUP BY kind", [lo])
            cur.fetchall()
        slice_scans.append(time.perf_counter() - t)
    t = time.perf_counter()
    services.rollup_day(next_day)
    rebuild_next_s = time.perf_counter() - t
    return {"events": count, "days": days, "table_bytes": size, "generate_s": generate_s,
            "catch_up_s": catch_up_s, "catch_up_events_per_s": count / catch_up_s,
            "catch_up_vs_scan": catch_up_s / sum(scan),
            "rollup_total_s": sum(roll), "rollup_day_mean_s": statistics.fmean(roll),
            "rollup_day_max_s": max(roll), "rollup_events_per_s": count / sum(roll),
            "scan_total_s": sum(scan), "scan_day_mean_s": statistics.fmean(scan),
            "rollup_vs_scan": sum(roll) / sum(scan),
            "slice_events": per_slice, "slices": slices,
            "recent_median_s": statistics.median(runs), "recent_max_s": max(runs),
            "recent_runs_s": runs, "slice_scan_median_s": statistics.median(slice_scans),
            "rebuild_slices_day_s": rebuild_next_s,
            "first_day": str(day_list[0]), "last_day": str(day_list[-1])}


def top_products_90(banks, first_day, days: int, reps: int) -> dict:
    """Top products over 90 days: the product roll-up of the generated days copied to
    the days after them until 90 days are filled (the span totals follow by trigger);
    the selector against the old computation (summing the daily rows) on the same rows."""
    from django.db import connection

    from federation import selectors

    t = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM federation_dailyproductstat WHERE day >= %s",
                    [first_day + timedelta(days=days)])  # the 15-minute runs' day
        for shift in range(days, 90, days):
            cur.execute(
                "INSERT INTO federation_dailyproductstat (day, product_id, storefront_bank_id,"
                " merchant_id, merchant_bank_id, views, orders, quantity, gmv) "
                "SELECT day + %s, product_id, storefront_bank_id, merchant_id, "
                "merchant_bank_id, views, orders, quantity, gmv "
                "FROM federation_dailyproductstat WHERE day BETWEEN %s AND %s "
                "AND day + %s < %s",
                [shift, first_day, first_day + timedelta(days=days - 1), shift,
                 first_day + timedelta(days=90)])
        cur.execute("VACUUM ANALYZE federation_dailyproductstat")
        cur.execute("VACUUM ANALYZE federation_producttotal")
        cur.execute("SELECT count(*) FROM federation_dailyproductstat WHERE day BETWEEN %s "
                    "AND %s", [first_day, first_day + timedelta(days=89)])
        daily_rows = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM federation_producttotal")
        total_rows = cur.fetchone()[0]
    fill_s = time.perf_counter() - t
    last = first_day + timedelta(days=89)
    out = {"daily_rows_90": daily_rows, "span_rows": total_rows, "fill_s": fill_s}
    for label, days_back in (("30", 30), ("90", 90)):
        start = last - timedelta(days=days_back - 1)
        for name, call in (("spans", selectors.top_products),
                           ("days", selectors.top_products_from_days)):
            new = call(start=start, end=last)
            times = []
            for _ in range(reps if name == "spans" else max(3, reps // 10)):
                t = time.perf_counter()
                call(start=start, end=last)
                times.append(time.perf_counter() - t)
            out[f"{name}_{label}_ms"] = statistics.median(times) * 1000
            out[f"{name}_{label}_rows"] = [(r.key, str(r.gmv), r.views) for r in new]
        out[f"same_{label}"] = out[f"spans_{label}_rows"] == out[f"days_{label}_rows"]
        bank = banks[1]
        a = selectors.top_products(start=start, end=last, bank=bank)
        b = selectors.top_products_from_days(start=start, end=last, bank=bank)
        out[f"same_{label}_bank"] = [vars(r) for r in a] == [vars(r) for r in b]
    return out


# --- 4. dashboards -------------------------------------------------------------------------


def dashboards(banks, first_day, last_day, reps: int) -> dict:
    from django.db import connection

    from federation import selectors

    bank = banks[0]
    cases = {
        "traffic_matrix": lambda: selectors.traffic_matrix(start=first_day, end=last_day),
        "traffic_series": lambda: selectors.traffic_series(start=first_day, end=last_day),
        "traffic_funnel": lambda: selectors.traffic_funnel(start=first_day, end=last_day),
        "top_products": lambda: selectors.top_products(start=first_day, end=last_day),
        "top_regions": lambda: selectors.top_regions(start=first_day, end=last_day),
        "referral_credit": lambda: selectors.referral_credit(start=first_day, end=last_day),
        "bank_traffic_flows": lambda: selectors.bank_traffic_flows(
            bank=bank, start=first_day, end=last_day),
        "bank_merchant_performance": lambda: selectors.bank_merchant_performance(
            bank=bank, start=first_day, end=last_day),
        "bank_segments": lambda: selectors.bank_segments(
            bank=bank, start=first_day, end=last_day),
    }

    def raw_matrix():
        with connection.cursor() as cur:
            cur.execute(
                "SELECT storefront_bank_id, merchant_bank_id, "
                "count(*) FILTER (WHERE kind = 'visit'), "
                "count(*) FILTER (WHERE kind = 'product_view'), "
                "count(DISTINCT order_id) FILTER (WHERE kind = 'purchase'), "
                "sum(amount) FILTER (WHERE kind = 'purchase') "
                "FROM federation_event WHERE day BETWEEN %s AND %s GROUP BY 1, 2",
                [first_day, last_day])
            return cur.fetchall()

    out = {}
    for name, call in cases.items():
        call()
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
        out[name] = {"median_ms": statistics.median(times) * 1000,
                     "max_ms": max(times) * 1000}
    times = []
    for _ in range(max(2, reps // 10)):
        t = time.perf_counter()
        raw_matrix()
        times.append(time.perf_counter() - t)
    out["baseline_raw_matrix"] = {"median_ms": statistics.median(times) * 1000,
                                  "max_ms": max(times) * 1000}
    out["matrix_speedup_vs_raw"] = (out["baseline_raw_matrix"]["median_ms"]
                                    / out["traffic_matrix"]["median_ms"])
    return out


# --- report --------------------------------------------------------------------------------


def print_report(result: dict) -> None:
    m = result["machine"]
    print(f"\nMachine: {m['nproc']} CPU {m['cpu_model']}; load {m['loadavg_at_start']}")
    print("\n1. Product page, full Django handler")
    for mode, r in result.get("page", {}).items():
        print(f"  {mode:7s} mean {r['mean_ms']:7.2f} ms  median {r['median_ms']:7.2f} ms  "
              f"{r['pages_per_s']:6.1f} pages/s  overhead {r['overhead_pct']:+5.1f} %")
    i = result.get("ingest")
    if i:
        print(f"\n2. record(): {i['record_per_s']:,.0f} calls/s ({i['record_us']:.0f} us "
              f"each); flush: {i['flush_per_s']:,.0f} events/s; "
              f"= {i['flush_per_s'] / result['page']['off']['pages_per_s']:,.0f} x the "
              f"pages/s of one storefront process")
    r = result["rollup"]
    print(f"\n3. {r['events']:,} events over {r['days']} days "
          f"({r['table_bytes'] / 2**30:.2f} GiB), generated in {r['generate_s']:.0f} s")
    print(f"  one plain pass over every day {r['scan_total_s']:.1f} s")
    print(f"  incremental roll-up of all events {r['catch_up_s']:.1f} s "
          f"({r['catch_up_events_per_s']:,.0f} events/s) = {r['catch_up_vs_scan']:.1f} x a pass")
    print(f"  rebuild of every day {r['rollup_total_s']:.1f} s "
          f"(per day mean {r['rollup_day_mean_s']:.2f} s, max {r['rollup_day_max_s']:.2f} s)"
          f" = {r['rollup_vs_scan']:.1f} x a pass")
    print(f"  15-minute run, {r['slice_events']:,} new events (333,000 a day): median "
          f"{r['recent_median_s']:.3f} s, max {r['recent_max_s']:.3f} s "
          f"(a pass over those events {r['slice_scan_median_s'] * 1000:.1f} ms; "
          f"rebuilding their day {r['rebuild_slices_day_s']:.2f} s)")
    t = result.get("top_products")
    if t:
        print(f"\n   top products: {t['daily_rows_90']:,} daily product rows in 90 days, "
              f"{t['span_rows']:,} span rows in all")
        for label in ("30", "90"):
            print(f"  {label} days: spans {t[f'spans_{label}_ms']:.1f} ms, summing the days "
                  f"{t[f'days_{label}_ms']:.1f} ms; same rows: {t[f'same_{label}']}, "
                  f"for one bank: {t[f'same_{label}_bank']}")
    print(f"\n4. Dashboard reads over {r['days']} days (median of reps)")
    for name, d in result["dashboards"].items():
        if isinstance(d, dict):
            print(f"  {name:28s} {d['median_ms']:9.2f} ms")
    print(f"  matrix from roll-ups is {result['dashboards']['matrix_speedup_vs_raw']:,.0f} x "
          f"faster than from the raw events")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=300, help="pages per mode and round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--ingest", type=int, default=200_000, help="events for part 2")
    parser.add_argument("--reps", type=int, default=30, help="repetitions per dashboard read")
    parser.add_argument("--slices", type=int, default=8,
                        help="15-minute runs measured (each on a quarter hour of events)")
    parser.add_argument("--skip-page", action="store_true",
                        help="skip parts 1 and 2 (page cost and ingest)")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    run_start = time.perf_counter()
    (REPO / "bench" / "out").mkdir(parents=True, exist_ok=True)
    redis = start_redis()
    try:
        print(f"Recreating database {BENCH_DB} on the embedded PostgreSQL ...", flush=True)
        common.recreate_database(BENCH_DB)
    except BaseException:
        redis.stop()
        raise

    import django

    django.setup()
    from django.core.management import call_command

    try:
        call_command("migrate_schemas", interactive=False, verbosity=0, stdout=io.StringIO())
        result = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "machine": common.machine_info(pg_settings=PG_SETTINGS,
                                                 code_paths=CODE_PATHS),
                  "args": vars(args)}
        banks, product = province()
        if not args.skip_page:
            print("1. page cost ...", flush=True)
            result["page"] = page_cost(banks[0], product, args.requests, args.rounds)
            print("2. ingest ...", flush=True)
            result["ingest"] = ingest(banks[0], product, args.ingest)
        print(f"3. roll-ups over {args.events:,} events ...", flush=True)
        result["rollup"] = rollups(banks, args.events, args.days, args.slices)
        print("4. dashboards ...", flush=True)
        first = datetime.fromisoformat(result["rollup"]["first_day"]).date()
        last = datetime.fromisoformat(result["rollup"]["last_day"]).date()
        result["dashboards"] = dashboards(banks, first, last, args.reps)
        print("4b. top products over 90 days ...", flush=True)
        result["top_products"] = top_products_90(banks, first, args.days, args.reps)
        result["run_seconds"] = time.perf_counter() - run_start
        result["machine"]["loadavg_at_end"] = os.getloadavg()
        OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print_report(result)
    finally:
        redis.stop()
        if args.keep_db:
            print(f"\nKept database {BENCH_DB}.")
        else:
            common.drop_database(BENCH_DB)
            print(f"\nDropped database {BENCH_DB}.")


if __name__ == "__main__":
    main()
