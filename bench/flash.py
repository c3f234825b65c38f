"""Flash-sale stampede (秒杀) against a real gunicorn: N distinct buyers (5,000) on one SKU
of Q units (500), C at once (50), through ``POST /api/v1/flash-sales/<id>/buy/`` with API
tokens, while the Redis that admits them is killed once and started again on the same
port. Against a baseline measured in the same run on the same gunicorn: the same number of
requests at the same concurrency on a bare Django view (``bench/wsgi.py``, ``/__bare__/ok``:
no middleware, no database), before and after the stampede.

Everything is started by the script on free ports: a private Redis (cache, broker and
flash admission, as in a one-Redis deployment), and gunicorn (``bench.wsgi:application``,
sync workers, ``--workers``, default 2 x CPUs + 1) on the throw-away database
``bench_flash`` of the embedded PostgreSQL, dropped and recreated at the start and
dropped at the end (``--keep-db`` keeps it). Dev data is never touched.

Buyers are threads with one HTTP client each (stdlib ``http.client``); each takes the next
buyer of a shuffled list (seeded) and sends that buyer's requests:

* most ask for 1 unit, some for 2 (the cap), some for 3 (over the cap at once), and some
  ask for 2 and then 1 more (over the cap in two steps, refused by the admission);
* an answer 503 ("try again") is retried like a real client would: after ``Retry-After``
  (capped at 2 s), at most twice; those retries are counted.

When half the units are won (``--kill-at``), Redis is killed (SIGKILL, its data gone)
and started again after ``--redis-down`` seconds. Afterwards the database is checked:
the takes, ``FlashSale.sold``, the units the answers say were won, the SKU's reservation
and the cap per customer. Then every unpaid win is expired
(``payments.services.expire_reservations``) and the units must be back on sale, in the
database and in Redis.

    .venv/bin/python bench/flash.py                                 # about 2 minutes
    .venv/bin/python bench/flash.py --buyers 1000 --quantity 100    # quick check

Results: a table on stdout and the raw numbers in bench/out/flash.json. Nothing here
asserts a timing; the integrity checks are reported (and make the exit status 1 if broken).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

REPO = common.REPO
BENCH_DB = "bench_flash"
common.use_bench_database(BENCH_DB)  # before Django reads its settings

OUT_DIR = REPO / "bench" / "out"
OUT = OUT_DIR / "flash.json"
PG_SETTINGS = ("max_connections", "shared_buffers", "synchronous_commit", "fsync")
CODE_PATHS = ("orders", "payments", "catalog", "accounts", "config", "core")
HOST = "bench.localhost"
CAP = 2
DELIVERY = {"recipient_name": "张三", "recipient_phone": "13700000001",
            "address": "甲县人民路 18 号 3 单元"}


def start_redis():
    """A private Redis on a free port; REDIS_URL set before the settings are read."""
    from config import embedded

    port = embedded.free_port()
    redis = embedded.redis_process(port, OUT_DIR / "flash-redis.log").start()
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    return redis, port


# --- data ----------------------------------------------------------------------------------


def generate(*, n_buyers: int, n_warm: int, quantity: int, seed: int) -> dict:
    """One bank (host bench.localhost), an approved merchant, the sale's SKU and a warm-up
    SKU, each with a running flash sale; buyer accounts with an API token each."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from knox.models import AuthToken, get_digest_token
    from knox.settings import CONSTANTS, knox_settings

    from banks.services import BranchSpec, bank_onboard
    from catalog.models import Category, Merchant, MerchantStatus, Product, ProductStatus, Sku
    from orders import services as orders

    bank = bank_onboard(code="bench", name="基准测试农商行",
                        branches=[BranchSpec(code="hq", name="营业部", county="甲县",
                                             address="人民路 1 号")]).bank
    category = Category.objects.create(slug="fruit", name="水果")
    now = timezone.now()
    merchant = Merchant.objects.create(bank=bank, name="基准果园", county="甲县",
                                       kind="cooperative", status=MerchantStatus.APPROVED,
                                       status_changed_at=now)
    skus = []
    for name in ("秒杀苹果", "预热苹果"):
        product = Product.objects.create(merchant=merchant, category=category, name=name,
                                         origin_county="甲县", status=ProductStatus.LISTED,
                                         price_from=Decimal("39.90"), listed_at=now)
        skus.append(Sku.objects.create(product=product, spec="5斤装", unit="箱",
                                       price=Decimal("39.90"), on_hand=2 * quantity + n_warm))
    sales = [orders.flash_sale_create(sku=sku, title=title, price="9.90",
                                      starts_at=now - timedelta(minutes=1),
                                      ends_at=now + timedelta(hours=2),
                                      quantity=q, per_customer_limit=CAP)
             for sku, title, q in ((skus[0], "苹果秒杀", quantity),
                                   (skus[1], "预热秒杀", n_warm))]
    User = get_user_model()
    users = User.objects.bulk_create(User(username=f"flash{n:05d}", password="!")
                                     for n in range(n_buyers + n_warm))
    # Tokens as knox makes them (accounts.services.api_token_create makes one per call).
    rows, tokens = [], []
    expiry = now + knox_settings.TOKEN_TTL
    for user in users:
        digest, token = get_digest_token()
        rows.append(AuthToken(digest=digest, token_key=token[:CONSTANTS.TOKEN_KEY_LENGTH],
                              user=user, expiry=expiry))
        tokens.append(token)
    AuthToken.objects.bulk_create(rows, batch_size=1000)
    rng = random.Random(seed)
    buyers = []
    for user, token in zip(users[:n_buyers], tokens[:n_buyers], strict=True):
        r = rng.random()
        plan = [1] if r < 0.80 else [2] if r < 0.90 else [3] if r < 0.95 else [2, 1]
        buyers.append({"user_id": user.pk, "token": token, "plan": plan})
    rng.shuffle(buyers)
    warm = [{"user_id": u.pk, "token": t, "plan": [1]}
            for u, t in zip(users[n_buyers:], tokens[n_buyers:], strict=True)]
    return {"bank_id": bank.pk, "sale": sales[0].pk, "sku": skus[0].pk,
            "warm_sale": sales[1].pk, "buyers": buyers, "warm": warm}


# --- the server ----------------------------------------------------------------------------


def start_gunicorn(workers: int):
    from django.db import connection

    from config import embedded

    port = embedded.free_port()
    env = {
        "DATABASE_URL": embedded.database_url(connection.settings_dict),
        "REDIS_URL": os.environ["REDIS_URL"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_HTTPS": "false",
    }
    return embedded.ManagedProcess(
        name="web",
        args=[sys.executable, "-m", "gunicorn", "bench.wsgi:application", "--bind",
              f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning",
              "--backlog", "2048"],
        port=port, env=env, log_path=OUT_DIR / "flash-web.log").start(), port


# --- the clients ---------------------------------------------------------------------------


class Client:
    """One HTTP client (one thread). gunicorn's sync workers close every connection after
    the answer, so each request opens a connection, as a phone's would after a while."""

    def __init__(self, port: int):
        self.port = port

    def send(self, method: str, path: str, body: bytes | None = None,
             headers: dict | None = None) -> tuple[int, dict, bytes, float]:
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers={"Host": HOST, **(headers or {})})
            response = conn.getresponse()
            data = response.read()
            status, head = response.status, dict(response.getheaders())
        except (OSError, http.client.HTTPException) as exc:
            status, head, data = 0, {}, repr(exc).encode()
        finally:
            conn.close()
        return status, head, data, (time.perf_counter() - start) * 1000


def classify(status: int, data: bytes) -> str:
    if status == 201:
        return "won"
    if status in (400, 503):
        try:
            message = json.loads(data)["message"]
        except (ValueError, KeyError):
            message = ""
        if status == 503:
            return "503 try again"
        if "sold out" in message:
            return "sold out"
        if "limited to" in message:
            return "over the cap"
        return f"400 {message[:60]}"
    return f"HTTP {status}"


def run_bare(port: int, n: int, concurrency: int) -> dict:
    """The baseline: ``n`` GET /__bare__/ok, ``concurrency`` at once."""
    counter = iter(range(n))
    lock = threading.Lock()
    latencies, statuses = [], Counter()

    def work():
        client = Client(port)
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            status, _h, _d, ms = client.send("GET", "/__bare__/ok")
            with lock:
                latencies.append(ms)
                statuses[status] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"requests": n, "wall_s": wall, "per_s": n / wall, "statuses": dict(statuses),
            **summary(latencies)}


def run_stampede(port: int, buyers: list[dict], sale_id: int, concurrency: int, *,
                 kill_at_units: int | None, redis_ctl=None, retries: int = 2) -> dict:
    path = f"/api/v1/flash-sales/{sale_id}/buy/"
    queue = iter(buyers)
    lock = threading.Lock()
    requests: list[dict] = []  # one per HTTP request
    per_buyer: list[dict] = []
    won_units = [0]
    killed = threading.Event()
    t0 = time.perf_counter()

    def buy(client, buyer, quantity):
        token = buyer["token"]
        body = json.dumps({"quantity": quantity, "delivery": DELIVERY}).encode()
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json",
                   "Accept-Language": "en"}
        attempts = 0
        while True:
            status, head, data, ms = client.send("POST", path, body, headers)
            outcome = classify(status, data)
            with lock:
                requests.append({"t": time.perf_counter() - t0, "ms": ms, "outcome": outcome,
                                 "retry": attempts, "buyer": buyer["user_id"]})
                if outcome == "won":
                    won_units[0] += quantity
                    if (kill_at_units is not None and not killed.is_set()
                            and won_units[0] >= kill_at_units):
                        killed.set()
            if outcome != "503 try again" or attempts >= retries:
                return outcome
            attempts += 1
            try:
                wait = min(float(head.get("Retry-After", "1")), 2.0)
            except ValueError:
                wait = 1.0
            time.sleep(wait)

    def work():
        client = Client(port)
        while True:
            with lock:
                buyer = next(queue, None)
            if buyer is None:
                return
            start = time.perf_counter()
            outcomes = [(q, buy(client, buyer, q)) for q in buyer["plan"]]
            with lock:
                per_buyer.append({"user_id": buyer["user_id"], "plan": buyer["plan"],
                                  "outcomes": [o for _q, o in outcomes],
                                  "won": sum(q for q, o in outcomes if o == "won"),
                                  "ms": (time.perf_counter() - start) * 1000})

    redis_events: dict = {}

    def controller():
        if not killed.wait(timeout=600):
            return
        redis_ctl(redis_events, t0)

    sampler = SessionSampler(t0)
    sampler.start()
    ctl = None
    if kill_at_units is not None and redis_ctl is not None:
        ctl = threading.Thread(target=controller)
        ctl.start()
    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    sampler.done.set()
    sampler.join()
    if ctl is not None:
        killed.set()
        ctl.join()
    outcomes = Counter(r["outcome"] for r in requests)
    first_try = [r["ms"] for r in requests if r["retry"] == 0]
    by_outcome = {o: summary([r["ms"] for r in requests if r["outcome"] == o])
                  for o in outcomes}
    final = Counter(b["outcomes"][-1] for b in per_buyer)
    return {
        "buyers": len(per_buyer), "requests": len(requests), "wall_s": wall,
        "per_s": len(requests) / wall, "outcomes": dict(outcomes),
        "final_outcome_per_buyer": dict(final),
        "retried_requests": sum(1 for r in requests if r["retry"] > 0),
        "buyers_who_retried": len({r["buyer"] for r in requests if r["retry"] > 0}),
        "units_won_per_answers": sum(b["won"] for b in per_buyer),
        "buyers_won": sum(1 for b in per_buyer if b["won"]),
        "max_won_per_buyer": max((b["won"] for b in per_buyer), default=0),
        "latency_all": summary([r["ms"] for r in requests]),
        "latency_first_try": summary(first_try),
        "latency_by_outcome": by_outcome,
        "buyer_end_to_end": summary([b["ms"] for b in per_buyer]),
        "redis": redis_events,
        "phases": phases(requests, sampler.samples),
        "timeline": timeline(requests, sampler.samples),
        "won_by_user": {b["user_id"]: b["won"] for b in per_buyer if b["won"]},
    }


class SessionSampler(threading.Thread):
    """Every 50 ms: how many of the bench database's sessions run a statement, and how
    many of those wait for a lock (``pg_stat_activity``)."""

    SQL = ("SELECT count(*) FILTER (WHERE state = 'active'), "
           "count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock') "
           "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()")

    def __init__(self, t0: float):
        super().__init__(daemon=True)
        self.t0, self.samples, self.done = t0, [], threading.Event()

    def run(self):
        conn = common._server_connection()
        try:
            with conn.cursor() as cur:
                while not self.done.is_set():
                    cur.execute(self.SQL, [BENCH_DB])
                    active, locked = cur.fetchone()
                    self.samples.append((time.perf_counter() - self.t0, active, locked))
                    time.sleep(0.05)
        finally:
            conn.close()


def timeline(requests: list[dict], samples: list[tuple], step: float = 0.5) -> list[dict]:
    """Per half second: requests answered, their outcomes and p95, and the database
    sessions running a statement and waiting for a lock (means of the samples)."""
    buckets: dict[int, list[dict]] = defaultdict(list)
    for r in requests:
        buckets[int(r["t"] / step)].append(r)
    sampled: dict[int, list[tuple]] = defaultdict(list)
    for t, active, locked in samples:
        sampled[int(t / step)].append((active, locked))
    return [{"t": k * step, "n": len(v), "p95_ms": pct([r["ms"] for r in v], 95),
             "outcomes": dict(Counter(r["outcome"] for r in v)),
             "db_active": statistics.fmean(a for a, _l in sampled[k]) if sampled[k] else None,
             "db_locked": statistics.fmean(lk for _a, lk in sampled[k]) if sampled[k] else None}
            for k, v in sorted(buckets.items())]


def phases(requests: list[dict], samples: list[tuple]) -> dict:
    """The selling phase (until the last win) and the sold-out phase after it: answers
    per second and the mean database sessions active and waiting for a lock."""
    wins = [r["t"] for r in requests if r["outcome"] == "won"]
    if not wins:
        return {}
    end = max(r["t"] for r in requests)
    cut = max(wins)
    result = {}
    for name, lo, hi in (("selling", 0.0, cut), ("sold_out", cut, end)):
        n = sum(1 for r in requests if (r["t"] <= cut) == (name == "selling"))
        inside = [(a, lk) for t, a, lk in samples if lo <= t <= hi]
        result[name] = {
            "from_s": lo, "to_s": hi, "answers": n,
            "per_s": n / (hi - lo) if hi > lo else None,
            "db_active_mean": statistics.fmean(a for a, _l in inside) if inside else None,
            "db_locked_mean": statistics.fmean(lk for _a, lk in inside) if inside else None,
        }
    return result


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * len(values) + 0.5) - 1))
    return values[k]


def summary(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50_ms": pct(values, 50), "p95_ms": pct(values, 95),
            "p99_ms": pct(values, 99), "max_ms": max(values),
            "mean_ms": statistics.fmean(values)}


# --- checks --------------------------------------------------------------------------------


def integrity(data: dict, stampede: dict, quantity: int) -> dict:
    from django.db.models import Max, Sum

    from catalog.models import Sku
    from orders import flash
    from orders.models import FlashSale, FlashSaleTake, OrderLine

    sale = FlashSale.objects.get(pk=data["sale"])
    takes = FlashSaleTake.objects.filter(flash_sale=sale, quantity__gt=0)
    agg = takes.aggregate(total=Sum("quantity"), top=Max("quantity"))
    sku = Sku.objects.get(pk=data["sku"])
    lines = (OrderLine.objects.filter(sku_id=data["sku"], order__checkout__status__in=(
        "pending_payment",)).aggregate(total=Sum("quantity"))["total"] or 0)
    db_by_user = dict(takes.values_list("user_id", "quantity"))
    answers_by_user = {int(k): v for k, v in stampede["won_by_user"].items()}
    state = flash.state(sale.pk)
    result = {
        "takes_sum": agg["total"] or 0,
        "sale_sold": sale.sold,
        "units_won_per_answers": stampede["units_won_per_answers"],
        "quantity": quantity,
        "sku_on_hand": sku.on_hand, "sku_reserved": sku.reserved, "sku_stock": sku.stock,
        "order_lines_pending": lines,
        "max_per_customer_db": agg["top"] or 0,
        "max_per_customer_answers": stampede["max_won_per_buyer"],
        "customers_over_cap": sum(1 for v in db_by_user.values() if v > CAP),
        "answers_match_db_per_customer": db_by_user == answers_by_user,
        "redis_copy_left": None if state is None else state[0],
    }
    result["ok"] = bool(
        result["takes_sum"] == result["sale_sold"] == result["units_won_per_answers"]
        == result["order_lines_pending"] <= quantity
        and result["sku_stock"] >= 0 and result["sku_reserved"] == result["sale_sold"]
        and result["max_per_customer_db"] <= CAP and result["customers_over_cap"] == 0
        and result["answers_match_db_per_customer"]
        and result["redis_copy_left"] in (None, quantity - sale.sold))
    return result


def expire_all(data: dict, quantity: int) -> dict:
    """Every unpaid win expires: the units go back on sale, in the database and Redis."""
    from django.utils import timezone

    from catalog.models import Sku
    from orders import flash
    from orders.models import Checkout, FlashSale, FlashSaleTake
    from payments.services import expire_reservations

    Checkout.objects.filter(status="pending_payment").update(
        reserved_until=timezone.now() - timedelta(seconds=1))
    start = time.perf_counter()
    expired = expire_reservations()
    seconds = time.perf_counter() - start
    sale = FlashSale.objects.get(pk=data["sale"])
    state = flash.state(sale.pk)
    result = {
        "checkouts_expired": expired, "seconds": seconds,
        "sale_sold_after": sale.sold,
        "takes_after": sum(FlashSaleTake.objects.filter(flash_sale=sale)
                           .values_list("quantity", flat=True)),
        "sku_reserved_after": Sku.objects.get(pk=data["sku"]).reserved,
        "redis_left_after": None if state is None else state[0],
    }
    result["ok"] = (result["sale_sold_after"] == 0 == result["takes_after"]
                    == result["sku_reserved_after"]
                    and result["redis_left_after"] in (None, quantity))
    return result


# --- report --------------------------------------------------------------------------------


def print_report(result: dict) -> None:
    s, m = result["stampede"], result["machine"]
    print(f"\nMachine: {m['nproc']} CPUs ({m['cpu_model']}), load average at start "
          f"{m['loadavg_at_start'][0]:.2f}, at end {m['loadavg_at_end'][0]:.2f}; gunicorn "
          f"{result['args']['workers']} sync workers")
    print(f"\n{'case':<34}{'requests':>9}{'wall s':>8}{'req/s':>8}{'p50 ms':>8}"
          f"{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}")
    rows = [("bare view, before", result["bare_before"]),
            ("flash buy, every request", {**s, **s["latency_all"]}),
            ("bare view, after", result["bare_after"])]
    for name, r in rows:
        print(f"{name:<34}{r['requests']:>9}{r['wall_s']:>8.1f}{r['per_s']:>8.0f}"
              f"{r['p50_ms']:>8.0f}{r['p95_ms']:>8.0f}{r['p99_ms']:>8.0f}{r['max_ms']:>8.0f}")
    print("\nflash buy latency by answer:")
    for outcome, lat in sorted(s["latency_by_outcome"].items()):
        print(f"  {outcome:<28}{lat['n']:>7}  p50 {lat['p50_ms']:>6.0f}  p95 "
              f"{lat['p95_ms']:>6.0f}  p99 {lat['p99_ms']:>6.0f} ms")
    e2e = s["buyer_end_to_end"]
    print(f"  buyer end to end (with retries): p50 {e2e['p50_ms']:.0f}  p95 "
          f"{e2e['p95_ms']:.0f}  max {e2e['max_ms']:.0f} ms")
    print(f"\nbuyers answered {s['buyers']}, requests {s['requests']} "
          f"(retried after 503: {s['retried_requests']}); final answer per buyer: "
          f"{s['final_outcome_per_buyer']}")
    print(f"units won {s['units_won_per_answers']} by {s['buyers_won']} buyers; "
          f"redis: {s['redis']}")
    for name, ph in s["phases"].items():
        print(f"{name} phase {ph['from_s']:.1f}-{ph['to_s']:.1f} s: {ph['answers']} answers, "
              f"{ph['per_s'] or 0:.0f}/s; database sessions active {ph['db_active_mean']:.1f}, "
              f"waiting for a lock {ph['db_locked_mean']:.1f} (means)")
    print(f"p95 against the bare view before: "
          f"{s['latency_all']['p95_ms'] / result['bare_before']['p95_ms']:.1f}x; "
          f"throughput {s['per_s'] / result['bare_before']['per_s']:.2f} of it")
    print(f"\nintegrity: {result['integrity']}")
    if "expiry" in result:
        print(f"expiry: {result['expiry']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", type=int, default=5000)
    parser.add_argument("--quantity", type=int, default=500, help="units on sale")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1,
                        help="gunicorn sync workers")
    parser.add_argument("--kill-at", type=float, default=0.5,
                        help="kill Redis when this share of the units is won (0: never)")
    parser.add_argument("--redis-down", type=float, default=1.0,
                        help="seconds Redis stays down")
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--no-expiry", action="store_true",
                        help="skip expiring the unpaid wins at the end")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    run_start = time.perf_counter()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    redis, redis_port = start_redis()
    web = None
    procs = {"redis": redis}
    try:
        print(f"Recreating database {BENCH_DB} on the embedded PostgreSQL ...", flush=True)
        common.recreate_database(BENCH_DB)
        import django

        django.setup()
        from django.core.management import call_command

        from config import embedded

        start = time.perf_counter()
        call_command("migrate_schemas", interactive=False, verbosity=0, stdout=io.StringIO())
        print(f"  migrated in {time.perf_counter() - start:.1f} s", flush=True)
        result = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": common.machine_info(pg_settings=PG_SETTINGS, code_paths=CODE_PATHS),
            "args": vars(args),
        }
        start = time.perf_counter()
        n_warm = 4 * args.concurrency
        data = generate(n_buyers=args.buyers, n_warm=n_warm, quantity=args.quantity,
                        seed=args.seed)
        print(f"  {args.buyers} buyers with tokens in {time.perf_counter() - start:.1f} s",
              flush=True)
        from django.db import connections

        connections.close_all()
        web, port = start_gunicorn(args.workers)
        procs["web"] = web
        # Warm-up: every worker imports, connects and answers both kinds of request.
        run_bare(port, 10 * args.concurrency, args.concurrency)
        run_stampede(port, data["warm"], data["warm_sale"], args.concurrency,
                     kill_at_units=None)
        print("  warmed up", flush=True)

        def redis_ctl(events: dict, t0: float) -> None:
            events["killed_at_s"] = time.perf_counter() - t0
            procs["redis"].proc.kill()
            procs["redis"].proc.wait(5)
            time.sleep(args.redis_down)
            procs["redis"] = embedded.redis_process(redis_port,
                                                    OUT_DIR / "flash-redis.log").start()
            events["back_at_s"] = time.perf_counter() - t0

        result["machine"]["loadavg_before_stampede"] = os.getloadavg()
        result["bare_before"] = run_bare(port, args.buyers, args.concurrency)
        kill_at = round(args.kill_at * args.quantity) if args.kill_at > 0 else None
        result["stampede"] = run_stampede(port, data["buyers"], data["sale"],
                                          args.concurrency, kill_at_units=kill_at,
                                          redis_ctl=redis_ctl)
        result["bare_after"] = run_bare(port, args.buyers, args.concurrency)
        from orders import flash

        flash.reset_client()
        result["integrity"] = integrity(data, result["stampede"], args.quantity)
        if not args.no_expiry:
            result["expiry"] = expire_all(data, args.quantity)
        result["machine"]["loadavg_at_end"] = os.getloadavg()
        result["run_seconds"] = time.perf_counter() - run_start
        OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print_report(result)
        ok = result["integrity"]["ok"] and result.get("expiry", {"ok": True})["ok"]
    finally:
        if web is not None:
            web.stop()
        procs["redis"].stop()
        if args.keep_db:
            print(f"\nKept database {BENCH_DB}.")
        else:
            common.drop_database(BENCH_DB)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
