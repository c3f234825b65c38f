"""Load test: locust's shoppers (``bench/locustfile.py``: 70% browse, 20% search, 10% cart +
checkout + card payment) against gunicorn serving the demo province on several bank
hosts, at a few numbers of users; and, as the baseline measured in the same run on the
same gunicorn, the storefront's pages (home, category, product) at their highest rate
against the same HTML served from memory by a bare Django view (``bench/wsgi.py``).

Everything is started by the script, on free ports: a private Redis (cache, broker), the
local Stripe-compatible server (``config.stripe_server``, from scratch), a Celery worker,
and gunicorn (``bench.wsgi:application``, ``--workers`` sync workers, default 2, as the
run command) on the throw-away database ``bench_load`` of the embedded PostgreSQL with
the demo province loaded (``fixtures.loader.load_demo_province``). The database is
dropped and recreated at the start and dropped at the end (``--keep-db`` keeps it).

Steps (each a headless locust run, ``--reset-stats`` after the ramp-up):

1. the shopper mix at each of ``--users`` (default 10, 25, 50, 100), ``--duration`` each;
2. browsing only, no pauses, ``--browse-users`` users: the storefront pages, then the
   bare view with the same pages, then the bare view through the platform's middleware
   (``--browse-duration`` each).

Per step: requests/s, p50/p95/p99 (locust's own percentiles, in ms) and failures, per
request kind and in all; the highest requests/s of the mix whose p95 stayed under 300 ms;
the pages' throughput against the bare view's.

    .venv/bin/python bench/load.py                                  # about 9 minutes
    .venv/bin/python bench/load.py --users 10 --duration 15s --browse-duration 10s  # quick

Results: a table on stdout, the raw numbers in bench/out/load.json and locust's CSV files
in bench/out/load-*. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

REPO = common.REPO
BENCH_DB = "bench_load"
common.use_bench_database(BENCH_DB)  # before Django reads its settings

OUT_DIR = REPO / "bench" / "out"
OUT = OUT_DIR / "load.json"
DATA_FILE = OUT_DIR / "load-data.json"
PAGES_FILE = OUT_DIR / "load-bare-pages.json"
PG_SETTINGS = ("max_connections", "shared_buffers", "synchronous_commit", "fsync")
CODE_PATHS = ("catalog", "orders", "payments", "federation", "config", "core", "banks")
P95_GOAL_MS = 300


def start_services():
    """Redis and the Stripe-compatible server on free ports; their addresses set in the
    environment before the settings are read (the children inherit them)."""
    from config import embedded

    redis_port, stripe_port = embedded.free_port(), embedded.free_port()
    redis = embedded.redis_process(redis_port, OUT_DIR / "load-redis.log").start()
    stripe = embedded.stripe_process(stripe_port, OUT_DIR / "load-stripe.pickle",
                                     OUT_DIR / "load-stripe.log", from_scratch=True).start()
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    os.environ["STRIPE_API_BASE"] = f"http://127.0.0.1:{stripe_port}"
    os.environ["DJANGO_HTTPS"] = "false"
    return [redis, stripe]


# --- data ----------------------------------------------------------------------------------


def prepare(n_shoppers: int) -> dict:
    """What the shoppers visit and buy: each bank host's home, category and product pages,
    search words from the catalog, SKUs to buy (given ample stock, so that no checkout is
    refused for stock), and shopper accounts with an API token each."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from knox.models import AuthToken, get_digest_token
    from knox.settings import CONSTANTS, knox_settings

    from banks.selectors import bank_list_active, bank_primary_domain
    from catalog import selectors as catalog_selectors
    from catalog.models import Category, Sku

    visible = list(catalog_selectors.visible_products().order_by("pk"))
    product_ids = [p.pk for p in visible]
    slugs = sorted(set(Category.objects.filter(products__in=product_ids)
                       .values_list("slug", flat=True)))
    hosts = [h for h in (bank_primary_domain(b) for b in bank_list_active()) if h]
    pages = {h: {"categories": [f"/c/{s}/" for s in slugs],
                 "products": [f"/p/{p}/" for p in product_ids]} for h in hosts}
    # SKUs outside any flash sale (their own price and cap would be measured too)
    skus = list(Sku.objects.filter(product_id__in=product_ids, flash_sales=None)
                .order_by("pk").values_list("pk", flat=True)[:40])
    Sku.objects.filter(pk__in=skus).update(on_hand=1_000_000)
    words = sorted({p.name[:2] for p in visible})[:40]
    User = get_user_model()
    users = User.objects.bulk_create(User(username=f"load{n:04d}", password="!")
                                     for n in range(n_shoppers))
    rows, tokens = [], []
    expiry = timezone.now() + knox_settings.TOKEN_TTL
    for user in users:
        digest, token = get_digest_token()
        rows.append(AuthToken(digest=digest, token_key=token[:CONSTANTS.TOKEN_KEY_LENGTH],
                              user=user, expiry=expiry))
        tokens.append(token)
    AuthToken.objects.bulk_create(rows)
    return {"hosts": hosts, "pages": pages, "skus": skus, "words": words, "tokens": tokens}


def capture_pages(data: dict) -> dict:
    """Each page's anonymous HTML, rendered once here: what the bare view serves."""
    from django.test import Client

    client = Client()
    pages = {}
    for host, kinds in data["pages"].items():
        for path in ["/", *kinds["categories"], *kinds["products"]]:
            response = client.get(path, HTTP_HOST=host)
            if response.status_code != 200:
                raise SystemExit(f"{host}{path} answered {response.status_code}")
            pages[f"/{host}{path}"] = response.content.decode()
    return pages


# --- processes -----------------------------------------------------------------------------


def child_env() -> dict:
    from django.db import connection

    from config import embedded

    return {
        "DATABASE_URL": embedded.database_url(connection.settings_dict),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "BENCH_BARE_PAGES": str(PAGES_FILE),
    }


def start_worker(env: dict):
    from config import embedded

    return embedded.ManagedProcess(
        name="worker",
        args=[sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel",
              "WARNING", "--concurrency", "2", "--hostname", f"bench-load-{os.getpid()}@%h"],
        env=env, log_path=OUT_DIR / "load-worker.log").start(wait=False)


def start_gunicorn(env: dict, workers: int):
    from config import embedded

    port = embedded.free_port()
    return embedded.ManagedProcess(
        name="web",
        args=[sys.executable, "-m", "gunicorn", "bench.wsgi:application", "--bind",
              f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning",
              "--limit-request-line", "8190", "--backlog", "2048"],
        port=port, env=env, log_path=OUT_DIR / "load-web.log").start(), port


def run_locust(name: str, *, port: int, users: int, duration: str, mode: str) -> dict:
    prefix = OUT_DIR / f"load-{name}"
    env = {**os.environ, "LOAD_DATA": str(DATA_FILE), "LOAD_MODE": mode}
    load_before = os.getloadavg()
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(REPO / "bench" / "locustfile.py"),
         "--headless", "-u", str(users), "-r", str(max(1, users // 5)), "-t", duration,
         "--host", f"http://127.0.0.1:{port}", "--csv", str(prefix), "--reset-stats",
         "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"],
        env=env, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-3000:])
        raise SystemExit(f"locust step {name} failed ({proc.returncode})")
    def ms(value: str) -> float:   # locust writes "N/A" for a step without requests
        return float(value) if value not in ("", "N/A") else float("nan")

    rows = {}
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows[row["Name"]] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "per_s": float(row["Requests/s"]),
                "p50_ms": ms(row["50%"]),
                "p95_ms": ms(row["95%"]),
                "p99_ms": ms(row["99%"]),
                "max_ms": ms(row["Max Response Time"]),
            }
    failures = []
    failures_csv = Path(f"{prefix}_failures.csv")
    if failures_csv.exists():
        with open(failures_csv, newline="", encoding="utf-8") as f:
            failures = [{"name": r["Name"], "error": r["Error"][:300],
                         "occurrences": int(r["Occurrences"])} for r in csv.DictReader(f)]
    return {"name": name, "mode": mode, "users": users, "duration": duration,
            "loadavg_before": load_before, "seconds": time.perf_counter() - start,
            "stats": rows, "failures": failures}


# --- report --------------------------------------------------------------------------------


def print_report(result: dict) -> None:
    m = result["machine"]
    print(f"\nMachine: {m['nproc']} CPUs ({m['cpu_model']}); gunicorn "
          f"{result['args']['workers']} sync workers; locust on the same machine")
    head = (f"{'step':<22}{'users':>6}{'load':>6}  {'kind':<14}{'req':>7}{'req/s':>8}"
            f"{'p50':>6}{'p95':>6}{'p99':>6}{'fail':>6}")
    print("\n" + head)
    for step in result["steps"]:
        for kind, s in step["stats"].items():
            print(f"{step['name']:<22}{step['users']:>6}{step['loadavg_before'][0]:>6.2f}  "
                  f"{kind:<14}{s['requests']:>7}{s['per_s']:>8.1f}{s['p50_ms']:>6.0f}"
                  f"{s['p95_ms']:>6.0f}{s['p99_ms']:>6.0f}{s['failures']:>6}")
        for f in step["failures"][:5]:
            print(f"    failure x{f['occurrences']} {f['name']}: {f['error'][:120]}")
    best = result["best_under_goal"]
    print(f"\nhighest requests/s of the shopper mix with p95 < {P95_GOAL_MS} ms: "
          + (f"{best['per_s']:.1f} at {best['users']} users (p95 {best['p95_ms']:.0f} ms)"
             if best else "none of the steps"))
    print(f"storefront pages (home, category, product): "
          f"{result['pages_against_bare']:.3f} of the bare view's requests/s, "
          f"{result['pages_against_bare_with_middleware']:.3f} of the bare view's through "
          f"the middleware")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="10,25,50,100",
                        help="numbers of simulated shoppers, one step each")
    parser.add_argument("--duration", default="60s", help="each step of the shopper mix")
    parser.add_argument("--browse-users", type=int, default=20)
    parser.add_argument("--browse-duration", default="30s")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    user_steps = [int(n) for n in args.users.split(",")]

    run_start = time.perf_counter()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    children = start_services()
    try:
        print(f"Recreating database {BENCH_DB} on the embedded PostgreSQL ...", flush=True)
        common.recreate_database(BENCH_DB)
        import django

        django.setup()
        from django.core.management import call_command

        start = time.perf_counter()
        call_command("migrate_schemas", interactive=False, verbosity=0, stdout=io.StringIO())
        from fixtures.loader import load_demo_province

        load_demo_province()
        print(f"  migrated, demo province loaded in {time.perf_counter() - start:.1f} s",
              flush=True)
        result = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": common.machine_info(pg_settings=PG_SETTINGS, code_paths=CODE_PATHS),
            "args": vars(args),
        }
        data = prepare(max(user_steps) + 10)
        DATA_FILE.write_text(json.dumps(data, ensure_ascii=False))
        PAGES_FILE.write_text(json.dumps(capture_pages(data), ensure_ascii=False))
        result["data"] = {"hosts": data["hosts"], "skus": len(data["skus"]),
                          "products": len(next(iter(data["pages"].values()))["products"]),
                          "categories": len(next(iter(data["pages"].values()))["categories"]),
                          "words": data["words"]}
        print(f"  {result['data']['products']} products, {result['data']['categories']} "
              f"categories on {len(data['hosts'])} hosts", flush=True)
        from django.db import connections

        connections.close_all()
        env = child_env()
        children.append(start_worker(env))
        web, port = start_gunicorn(env, args.workers)
        children.append(web)
        from payments.gateway import register_local_webhook

        register_local_webhook(f"http://127.0.0.1:{port}/api/v1/payments/webhooks/stripe/")
        # warm-up: every worker imports and renders every kind of page once or more
        run_locust("warmup", port=port, users=4, duration="10s", mode="mixed")
        print("  warmed up", flush=True)

        steps = []
        for users in user_steps:
            steps.append(run_locust(f"mix-{users}", port=port, users=users,
                                    duration=args.duration, mode="mixed"))
            s = steps[-1]["stats"].get("Aggregated", {})
            print(f"  mix, {users} users: {s.get('per_s', 0):.1f} req/s, p95 "
                  f"{s.get('p95_ms', 0):.0f} ms", flush=True)
        steps.append(run_locust("pages", port=port, users=args.browse_users,
                                duration=args.browse_duration, mode="browse"))
        steps.append(run_locust("bare", port=port, users=args.browse_users,
                                duration=args.browse_duration, mode="bare"))
        steps.append(run_locust("bare+middleware", port=port, users=args.browse_users,
                                duration=args.browse_duration, mode="bare_mw"))
        result["steps"] = steps
        under = [s for s in steps if s["mode"] == "mixed"
                 and s["stats"]["Aggregated"]["p95_ms"] < P95_GOAL_MS]
        best = max(under, key=lambda s: s["stats"]["Aggregated"]["per_s"], default=None)
        result["best_under_goal"] = None if best is None else {
            "users": best["users"], **best["stats"]["Aggregated"]}
        pages, bare, bare_mw = (steps[-3]["stats"], steps[-2]["stats"],
                                steps[-1]["stats"])
        # All together only: the users of a step pick the kinds of page in fixed
        # proportions, so each kind's requests/s is that share of the step's whole.
        result["pages_against_bare"] = (pages["Aggregated"]["per_s"]
                                        / bare["Aggregated"]["per_s"])
        result["pages_against_bare_with_middleware"] = (pages["Aggregated"]["per_s"]
                                                        / bare_mw["Aggregated"]["per_s"])
        result["machine"]["loadavg_at_end"] = os.getloadavg()
        result["run_seconds"] = time.perf_counter() - run_start
        OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print_report(result)
    finally:
        for child in reversed(children):
            child.stop()
        if args.keep_db:
            print(f"\nKept database {BENCH_DB}.")
        else:
            common.drop_database(BENCH_DB)


if __name__ == "__main__":
    main()
