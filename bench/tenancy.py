"""Tenancy benchmark: what one schema per bank costs, measured in one run.

1. Onboarding 1, 10 and 50 banks (fresh schemas for each series).
2. A no-op ``migrate_schemas`` over all bank schemas against a no-op migrate of the
   public schema only.
3. The per-request cost of routing by host (``banks.middleware.BankRoutingMiddleware``)
   against the same trivial view without it, directly and through the full Django stack.

It runs on the embedded PostgreSQL in a throw-away database, ``bench_platform``, which it
drops and recreates at the start and drops again at the end (``--keep-db`` keeps it).
Dev data (database ``platform``) is never touched.

    .venv/bin/python bench/tenancy.py            # or: make bench
    .venv/bin/python bench/tenancy.py --sizes 1,5 --requests 500 --rounds 3   # quick

Results: a table on stdout and the raw numbers in bench/out/tenancy.json.
No timing is asserted; this only measures.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import time
import types
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

REPO = common.REPO
BENCH_DB = "bench_platform"
common.use_bench_database(BENCH_DB)  # before Django reads its settings

# Needs the settings, not the app registry: importable before django.setup().
from banks import migration_executor  # noqa: E402

OUT = REPO / "bench" / "out" / "tenancy.json"
URLCONF = "bench_tenancy_urls"  # registered in sys.modules below


# --- database set-up and clean-up ------------------------------------------------------

def reset_banks() -> None:
    """Remove every bank: its schema, its row and every public row that refers to it."""
    from django.db import connection

    from banks.models import Bank

    connection.set_schema_to_public()
    with connection.cursor() as cur:
        cur.execute(r"SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bank\_%'")
        for (schema,) in cur.fetchall():
            cur.execute(f'DROP SCHEMA "{schema}" CASCADE')
        cur.execute(f'TRUNCATE TABLE "{Bank._meta.db_table}" RESTART IDENTITY CASCADE')
        cur.execute("CHECKPOINT")  # so that no checkpoint of the drop lands in a series


# --- 1. onboarding ----------------------------------------------------------------------

def onboard(index: int, prefix: str = "bench") -> tuple[float, float]:
    """Onboard one bank; return (seconds for bank_onboard, seconds of that in create_schema)."""
    from banks.services import BranchSpec, bank_onboard

    _schema_seconds.clear()
    start = time.perf_counter()
    bank_onboard(code=f"{prefix}-{index}", name=f"Bench Bank {prefix} {index}",
                 branches=[BranchSpec(code="main", name="Main branch", county="Bench County",
                                      address="1 Bench Road")])
    return time.perf_counter() - start, sum(_schema_seconds)


_schema_seconds: list[float] = []


def _time_create_schema() -> None:
    """Record how long TenantMixin.create_schema (CREATE SCHEMA + migrations) takes."""
    from banks.models import Bank

    original = Bank.create_schema

    def create_schema(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            _schema_seconds.append(time.perf_counter() - start)

    Bank.create_schema = create_schema


def tenant_schema_size(schema: str) -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", [schema])
        tables = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = %s", [schema])
        indexes = cur.fetchone()[0]
        cur.execute(f'SELECT count(*) FROM "{schema}".django_migrations')
        migrations = cur.fetchone()[0]
    return {"schema": schema, "tables": tables, "indexes": indexes,
            "migrations_applied": migrations}


def bench_onboarding(sizes: list[int], baseline_repeats: int) -> dict:
    """Each series starts from no bank at all. The first (smallest) series is the baseline;
    it is short, so it is repeated and its median total is used."""

    def series_run(size: int) -> tuple[float, list[tuple[float, float]]]:
        reset_banks()
        samples = []
        start = time.perf_counter()
        for i in range(1, size + 1):
            samples.append(onboard(i))
        return time.perf_counter() - start, samples

    _time_create_schema()
    reset_banks()
    warmup, _ = onboard(0, prefix="warmup")  # first onboarding in the process: imports etc.
    series = []
    for position, size in enumerate(sizes):
        repeats = baseline_repeats if position == 0 and len(sizes) > 1 else 1
        runs = [series_run(size) for _ in range(repeats)]
        totals = [t for t, _ in runs]
        total = statistics.median(totals)
        pairs = [x for _, run_samples in runs for x in run_samples]
        samples = [total_s for total_s, _ in pairs]
        schema_samples = [schema_s for _, schema_s in pairs]
        entry = {
            "banks": size,
            "repeats": repeats,
            "total_s": total,
            "per_bank_s": total / size,
            "per_bank_median_s": statistics.median(samples),
            "per_bank_min_s": min(samples),
            "per_bank_max_s": max(samples),
            "samples_s": samples,
            "create_schema_samples_s": schema_samples,
            "create_schema_share": sum(schema_samples) / sum(samples),
        }
        if repeats > 1:
            entry["repeat_totals_s"] = totals
        series.append(entry)
        print(f"  onboarded {size:>3} banks in {total:7.2f} s"
              + (f" (median of {repeats} runs)" if repeats > 1 else ""), flush=True)
    base = series[0]["per_bank_s"]
    for entry in series:
        entry["per_bank_ratio_vs_first_series"] = entry["per_bank_s"] / base
        k = min(10, len(entry["samples_s"]) // 2) if entry["repeats"] == 1 else 0
        if k:
            entry["first_k"] = k
            entry["first_k_mean_s"] = statistics.fmean(entry["samples_s"][:k])
            entry["last_k_mean_s"] = statistics.fmean(entry["samples_s"][-k:])
    return {"warmup_s": warmup, "baseline_banks": sizes[0], "series": series,
            "tenant_schema": tenant_schema_size("bank_bench_1")}


# --- 2. no-op migrate -------------------------------------------------------------------

def bench_migrate(rounds: int, bank_count: int) -> dict:
    from django.core.management import call_command

    def timed(**options) -> float:
        start = time.perf_counter()
        call_command("migrate_schemas", interactive=False, verbosity=0,
                     stdout=io.StringIO(), stderr=io.StringIO(), **options)
        return time.perf_counter() - start

    def timed_full_path() -> float:
        """Baseline: every bank schema through Django's migrate, as django-tenants does
        without banks.migration_executor's check."""
        check = migration_executor.up_to_date
        migration_executor.up_to_date = lambda *a, **k: set()  # type: ignore[assignment]
        try:
            return timed()
        finally:
            migration_executor.up_to_date = check

    timed(schema_name="public")  # warm-up: loads the migration modules once
    all_runs, public_runs, full_runs = [], [], []
    for _ in range(rounds):  # alternate, so that background noise hits all alike
        all_runs.append(timed())
        public_runs.append(timed(schema_name="public"))
        full_runs.append(timed_full_path())

    def cli(*extra: str) -> float:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        start = time.perf_counter()
        subprocess.run([sys.executable, "manage.py", "migrate_schemas", "-v", "0", *extra],
                       cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start

    cli_all, cli_public = cli(), cli("--schema=public")
    cli_multi = cli("--executor=multiprocessing")
    all_med, public_med = statistics.median(all_runs), statistics.median(public_runs)
    return {
        "bank_schemas": bank_count,
        "in_process": {
            "all_schemas_s": all_runs,
            "public_only_s": public_runs,
            "all_schemas_median_s": all_med,
            "public_only_median_s": public_med,
            "ratio_all_vs_public": all_med / public_med,
            "per_bank_schema_s": (all_med - public_med) / bank_count,
            "every_schema_migrated_s": full_runs,
            "every_schema_migrated_per_bank_s":
                (statistics.median(full_runs) - public_med) / bank_count,
        },
        "cli": {
            "all_schemas_s": cli_all,
            "public_only_s": cli_public,
            "ratio_all_vs_public": cli_all / cli_public,
            "multiprocessing_all_schemas_s": cli_multi,
            "multiprocessing_per_bank_schema_s": (cli_multi - cli_public) / bank_count,
            "per_bank_schema_s": (cli_all - cli_public) / bank_count,
        },
    }


# --- 3. routing per request -------------------------------------------------------------

def trivial_view(request):
    from django.http import HttpResponse

    return HttpResponse("ok")


def install_urlconf() -> None:
    from django.urls import path

    module = types.ModuleType(URLCONF)
    module.urlpatterns = [path("bench/ok/", trivial_view)]
    sys.modules[URLCONF] = module


def _time_rounds(cases: dict, rounds: int, n: int, warmup: int = 200) -> dict:
    """cases: name -> (prepare(n) -> state, run(state), settings overrides or None).

    Rounds are interleaved across cases so that background noise hits them alike; the
    overrides are entered outside the timed region.
    """
    from django.test import override_settings

    def once(case, count) -> float:
        prepare, run, overrides = case
        with override_settings(**(overrides or {})):
            state = prepare(count)
            gc.collect()
            start = time.perf_counter()
            run(state)
            return time.perf_counter() - start

    for case in cases.values():
        once(case, warmup)
    per_request_us: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            per_request_us[name].append(once(case, n) / n * 1e6)
    return {name: {"median_us": statistics.median(v), "min_us": min(v), "max_us": max(v),
                   "rounds_us": v} for name, v in per_request_us.items()}


def bench_routing(rounds: int, n: int, bank_host: str, portal_host: str) -> dict:
    from django.conf import settings
    from django.db import connection
    from django.test import Client, RequestFactory, override_settings
    from django.test.utils import CaptureQueriesContext
    from django.urls import set_urlconf

    from banks.middleware import BankRoutingMiddleware

    install_urlconf()
    routing_mw = "banks.middleware.BankRoutingMiddleware"
    assert settings.MIDDLEWARE[0] == routing_mw, settings.MIDDLEWARE
    rf = RequestFactory()

    def requests_for(host):
        return lambda count: [rf.get("/bench/ok/", HTTP_HOST=host) for _ in range(count)]

    def call_each(handler):
        def run(requests):
            for request in requests:
                handler(request)
        return run

    middleware = BankRoutingMiddleware(get_response=trivial_view)
    # Sanity and query count, once, outside the timing.
    with CaptureQueriesContext(connection) as queries:
        response = middleware(rf.get("/bench/ok/", HTTP_HOST=bank_host))
    assert response.status_code == 200, response.status_code
    bank_host_queries = [q["sql"] for q in queries.captured_queries]

    direct = _time_rounds({
        "view_only": (requests_for(bank_host), call_each(trivial_view), None),
        "middleware_portal_host": (requests_for(portal_host), call_each(middleware), None),
        "middleware_bank_host": (requests_for(bank_host), call_each(middleware), None),
    }, rounds, n)
    connection.set_schema_to_public()
    set_urlconf(None)

    plain = {"MIDDLEWARE": [m for m in settings.MIDDLEWARE if m != routing_mw],
             "ROOT_URLCONF": URLCONF}
    routed = {"ROOT_URLCONF": URLCONF, "PUBLIC_SCHEMA_URLCONF": URLCONF}

    def client_case(overrides, host, path="/bench/ok/"):
        # The Client loads its middleware on its first request: under the overrides.
        with override_settings(**overrides):
            client = Client()
            response = client.get(path, HTTP_HOST=host)
        assert response.status_code == 200, (host, path, response.status_code)

        def run(count):
            for _ in range(count):
                client.get(path, HTTP_HOST=host)
        return (lambda count: count), run, overrides

    full = _time_rounds({
        "plain_no_routing": client_case(plain, bank_host),
        "routed_portal_host": client_case(routed, portal_host),
        "routed_bank_host": client_case(routed, bank_host),
        # a real endpoint with the real urlconf, for scale
        "storefront_api_bank_host": client_case({}, bank_host, "/api/v1/storefront/"),
    }, rounds, n)
    connection.set_schema_to_public()
    set_urlconf(None)

    def ratios(results, base):
        b = results[base]["median_us"]
        return {name: {"baseline": base, "ratio": r["median_us"] / b,
                       "added_us": r["median_us"] - b}
                for name, r in results.items() if name != base}

    return {
        "requests_per_round": n,
        "rounds": rounds,
        "bank_host": bank_host,
        "portal_host": portal_host,
        "bank_host_queries": bank_host_queries,
        "direct": direct,
        "direct_vs_view_only": ratios(direct, "view_only"),
        "full_stack": full,
        "full_stack_vs_plain": ratios(full, "plain_no_routing"),
    }


# --- machine ----------------------------------------------------------------------------

def machine_info() -> dict:
    import django_tenants
    import psycopg2

    info = common.machine_info(
        pg_settings=("server_version", "fsync", "synchronous_commit", "shared_buffers")
    )
    info["django_tenants"] = getattr(django_tenants, "__version__", None) or _dist_version(
        "django-tenants"
    )
    info["psycopg2"] = psycopg2.__version__.split()[0]
    return info


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


# --- report -----------------------------------------------------------------------------

def print_report(result: dict) -> None:
    m = result["machine"]
    print()
    print(f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), Python {m['python']}, "
          f"Django {m['django']}, django-tenants {m['django_tenants']}, "
          f"PostgreSQL {m['postgresql']['server_version']}")

    o = result["onboarding"]
    print(f"\n1. Onboarding (bank_onboard, one branch each; first series: median of "
          f"{o['series'][0]['repeats']} runs; warm-up bank: {o['warmup_s']:.3f} s)")
    print(f"   {'banks':>5}  {'total s':>8}  {'s/bank':>7}  {'median':>7}  {'min':>6}  "
          f"{'max':>6}  {'ratio vs ' + str(o['baseline_banks']):>11}  {'schema %':>8}  "
          f"first/last k mean s (k)")
    for s in o["series"]:
        fl = (f"{s['first_k_mean_s']:.3f} / {s['last_k_mean_s']:.3f} ({s['first_k']})"
              if "first_k" in s else "-")
        print(f"   {s['banks']:>5}  {s['total_s']:>8.2f}  {s['per_bank_s']:>7.3f}  "
              f"{s['per_bank_median_s']:>7.3f}  {s['per_bank_min_s']:>6.3f}  "
              f"{s['per_bank_max_s']:>6.3f}  {s['per_bank_ratio_vs_first_series']:>11.2f}  "
              f"{100 * s['create_schema_share']:>8.0f}  {fl}")
    ts = o["tenant_schema"]
    print(f"   a bank schema: {ts['tables']} tables, {ts['indexes']} indexes, "
          f"{ts['migrations_applied']} migrations; schema % = share of time in create_schema")

    g = result["migrate"]
    ip, cli = g["in_process"], g["cli"]
    print(f"\n2. No-op migrate_schemas, {g['bank_schemas']} bank schemas "
          f"(in-process: median of {len(ip['all_schemas_s'])})")
    print(f"   {'':32}{'in-process s':>13}  {'manage.py s':>12}")
    print(f"   {'public + all bank schemas':32}{ip['all_schemas_median_s']:>13.2f}  "
          f"{cli['all_schemas_s']:>12.2f}")
    print(f"   {'--schema=public only':32}{ip['public_only_median_s']:>13.2f}  "
          f"{cli['public_only_s']:>12.2f}")
    print(f"   {'ratio all / public':32}{ip['ratio_all_vs_public']:>13.1f}  "
          f"{cli['ratio_all_vs_public']:>12.1f}")
    print(f"   {'per bank schema':32}{ip['per_bank_schema_s']:>13.3f}  "
          f"{cli['per_bank_schema_s']:>12.3f}")
    print(f"   {'baseline: every schema migrated':32}"
          f"{ip['every_schema_migrated_per_bank_s']:>13.3f}  (per bank schema)")
    print(f"   {'--executor=multiprocessing':32}{'':>13}  "
          f"{cli['multiprocessing_all_schemas_s']:>12.2f}  "
          f"({cli['multiprocessing_per_bank_schema_s']:.3f} s per bank schema)")

    r = result["routing"]
    print(f"\n3. Routing per request (median of {r['rounds']} rounds x "
          f"{r['requests_per_round']} requests; us/request)")
    print(f"   bank host {r['bank_host']}: {len(r['bank_host_queries'])} SQL statement(s) "
          f"in the middleware")
    rows = [("direct", "view_only", "trivial view called directly"),
            ("direct", "middleware_portal_host", "BankRoutingMiddleware + view, portal host"),
            ("direct", "middleware_bank_host", "BankRoutingMiddleware + view, bank host"),
            ("full_stack", "plain_no_routing", "Client, full stack without routing"),
            ("full_stack", "routed_portal_host", "Client, full stack, portal host"),
            ("full_stack", "routed_bank_host", "Client, full stack, bank host"),
            ("full_stack", "storefront_api_bank_host", "Client, GET /api/v1/storefront/ (bank)")]
    base_key = {"direct": "direct_vs_view_only", "full_stack": "full_stack_vs_plain"}
    print(f"   {'case':46}{'median':>9}{'min':>9}{'ratio':>8}{'added':>9}")
    for group, name, label in rows:
        v = r[group][name]
        cmp = r[base_key[group]].get(name)
        ratio = f"{cmp['ratio']:>8.2f}" if cmp else f"{'1.00':>8}"
        added = f"{cmp['added_us']:>9.1f}" if cmp else f"{'-':>9}"
        print(f"   {label:46}{v['median_us']:>9.1f}{v['min_us']:>9.1f}{ratio}{added}")
    print(f"\nRaw numbers: {OUT.relative_to(REPO)}  (total run {result['run_seconds']:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,50,110",
                        help="onboarding series, comma-separated (default 1,10,50); the "
                             "first is the baseline, the largest is kept for steps 2 and 3")
    parser.add_argument("--baseline-repeats", type=int, default=5,
                        help="how often the first (baseline) series is run; median used")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per routing case")
    parser.add_argument("--migrate-rounds", type=int, default=3)
    parser.add_argument("--keep-db", action="store_true",
                        help=f"keep the {BENCH_DB} database at the end")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if sorted(sizes) != sizes or sizes[0] < 1:
        parser.error("--sizes must be increasing positive numbers")

    run_start = time.perf_counter()
    print(f"Recreating database {BENCH_DB} on the embedded PostgreSQL ...", flush=True)
    common.recreate_database(BENCH_DB)

    import django

    django.setup()
    from django.core.management import call_command

    try:
        start = time.perf_counter()
        call_command("migrate_schemas", interactive=False, verbosity=0,
                     stdout=io.StringIO())
        print(f"  public schema migrated in {time.perf_counter() - start:.1f} s", flush=True)
        result = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "machine": machine_info()}
        print("1. onboarding ...", flush=True)
        # leaves the largest series in place for steps 2 and 3
        result["onboarding"] = bench_onboarding(sizes, args.baseline_repeats)
        print("2. no-op migrate_schemas ...", flush=True)
        result["migrate"] = bench_migrate(args.migrate_rounds, sizes[-1])
        print("3. routing ...", flush=True)
        from django.conf import settings

        result["routing"] = bench_routing(args.rounds, args.requests, bank_host="bench-1."
                                          + settings.BANK_DOMAIN_SUFFIX,
                                          portal_host=settings.PORTAL_DOMAINS[0])
        result["run_seconds"] = time.perf_counter() - run_start
        result["machine"]["loadavg_at_end"] = os.getloadavg()
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(result, indent=2) + "\n")
        print_report(result)
    finally:
        if args.keep_db:
            print(f"\nKept database {BENCH_DB}.")
        else:
            common.drop_database(BENCH_DB)
            print(f"\nDropped database {BENCH_DB}.")


if __name__ == "__main__":
    main()
