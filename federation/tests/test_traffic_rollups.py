"""Incremental roll-ups: counting only the events past the watermark gives exactly the
rows a rebuild of the day from its raw events gives (and what the raw events say), in
any batching and chunking, running twice counts nothing twice; a flush that died after
its COPY committed does not write (or count) its batch again; top products read from
the span totals equal the sum of the daily product roll-up."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from federation import recorder, selectors, services
from federation.models import (
    DailyPairStat,
    DailyProductStat,
    Event,
    EventBatch,
    ProductTotal,
    RollupState,
    RollupWatermark,
)
from federation.services import flush as event_flush
from federation.tests.test_traffic_data import (
    _expected,
    _table,
    buffer,  # noqa: F401 - the fixture
    event_rows,
)
from tests.orders_factories import market

pytestmark = pytest.mark.django_db

DAYS = (date(2034, 5, 6), date(2034, 5, 7))


def _snapshot(days) -> dict:
    """Every roll-up row of ``days`` (all columns but the id), per table."""
    out = {}
    for model in services.ROLLUP_MODELS:
        fields = [f.attname for f in model._meta.concrete_fields if f.attname != "id"]
        out[model.__name__] = sorted(
            tuple(str(v) for v in row)
            for row in model.objects.filter(day__in=days).values_list(*fields))
    return out


def _totals(model_filter=None) -> set[tuple]:
    qs = ProductTotal.objects.all()
    if model_filter is not None:
        qs = qs.filter(model_filter)
    return set(qs.values_list("level", "start", "product_id", "merchant_bank_id", "rows",
                              "views", "orders", "quantity", "gmv"))


def _rows(province, raw, days) -> list[dict]:
    """Like test_traffic_data's generated rows, spread over ``days``."""
    banks = {None: None, "a": province.bank_a.pk, "b": province.bank_b.pk}
    rows = []
    for i, r in enumerate(raw):
        day = days[i % len(days)]
        merchant_bank = banks[r["merchant"]]
        has_product = r["kind"] not in ("visit", "search") and merchant_bank is not None
        product = r["product"] if has_product else None
        rows.append({
            "kind": r["kind"], "day": day,
            "at": datetime.combine(day, datetime.min.time(), tzinfo=services.local_zone()),
            "storefront_bank_id": banks[r["storefront"]],
            "merchant_bank_id": merchant_bank if has_product else None,
            "merchant_id": 100 + product * (1 if r["merchant"] == "a" else 10)
            if product else None,
            "product_id": product * (1 if r["merchant"] == "a" else 10) if product else None,
            "category_id": product % 2 if product else None,
            "region": f"县{product % 3}" if product else "",
            # blank session hashes too (with an account: the buyer is then the account)
            "session_hash": "" if r["buyer"] == 4 and r["user"] else f"s{r['buyer']}",
            "user_id": r["user"],
            "segment": r["segment"] if r["kind"] == "purchase" else "",
            "quantity": r["quantity"],
            "amount": r["amount"] if r["kind"] == "purchase" else Decimal("0"),
            "order_id": r["order"] * 10 + (1 if r["merchant"] == "a" else 2)
            if r["kind"] == "purchase" and has_product else None,
            "checkout_id": r["checkout"] if r["kind"] in ("checkout", "purchase") else None,
        })
    return rows


@hsettings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=event_rows, cuts=st.lists(st.integers(0, 60), max_size=4),
       chunk=st.sampled_from([1, 3, 1000]))
def test_incremental_rollups_equal_a_rebuild_and_the_raw_events(province, raw, cuts, chunk):
    Event.objects.filter(day__in=DAYS).delete()
    for model in services.ROLLUP_MODELS:
        model.objects.filter(day__in=DAYS).delete()
    RollupState.objects.filter(day__in=DAYS).delete()
    services.rollup_new_events()  # nothing else outstanding
    rows = _rows(province, raw, DAYS)

    # written in several batches, rolled up after each (chunk ids per transaction)
    bounds = sorted({0, len(rows), *(c for c in cuts if c < len(rows))})
    counted = 0
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        services.write_events(rows[lo:hi])
        counted += services.rollup_new_events(chunk=chunk)
    assert counted == len(rows)
    assert services.rollup_new_events() == 0  # again: nothing counted twice
    mark = RollupWatermark.objects.get(name="events").last_event_id
    assert mark >= (Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)

    incremental, totals = _snapshot(DAYS), _totals()
    # the pair roll-up is what the raw events say, per day
    fields = ["visits", "product_views", "searches", "add_to_cart", "share_clicks",
              "checkouts", "orders", "buyers", "gmv"]
    for day in DAYS:
        want = {key: {f: v.get(f, Decimal("0") if f == "gmv" else 0) for f in fields}
                for key, v in _expected([r for r in rows if r["day"] == day]).items()}
        assert _table(DailyPairStat.objects.filter(day=day), fields) == want

    # a rebuild of each day from its raw events gives the same rows, and the same spans
    assert sum(services.rollup_day(day) for day in DAYS) == len(rows)
    assert _snapshot(DAYS) == incremental
    assert _totals() == totals
    assert {s.day: s.events for s in RollupState.objects.filter(day__in=DAYS)} == {
        d: sum(r["day"] == d for r in rows) for d in DAYS}


def test_an_event_of_an_order_counted_in_an_earlier_run_is_not_a_new_order(province):
    day = date(2034, 6, 1)
    base = {"kind": "purchase", "day": day,
            "at": datetime(2034, 6, 1, 9, tzinfo=services.local_zone()),
            "storefront_bank_id": province.bank_a.pk, "merchant_bank_id": province.bank_b.pk,
            "merchant_id": 5, "product_id": 50, "category_id": 1, "region": "甲县",
            "session_hash": "buyer-1", "order_id": 777, "checkout_id": 70, "quantity": 1,
            "amount": Decimal("10.00")}
    services.rollup_new_events()
    services.write_events([base])
    services.rollup_new_events()
    # the same order's second line, and the same buyer's second order, arrive later
    services.write_events([{**base, "product_id": 51, "amount": Decimal("5.00")},
                           {**base, "order_id": 778, "amount": Decimal("1.00")}])
    assert services.rollup_new_events() == 2
    pair = DailyPairStat.objects.get(day=day, storefront_bank=province.bank_a,
                                     merchant_bank=province.bank_b)
    assert (pair.orders, pair.buyers, pair.gmv) == (2, 1, Decimal("16.00"))
    products = dict(DailyProductStat.objects.filter(day=day).values_list("product_id", "orders"))
    assert products == {50: 2, 51: 1}
    before = _snapshot([day])
    services.rollup_day(day)
    assert _snapshot([day]) == before


def test_a_flush_that_died_after_its_commit_does_not_write_or_count_its_batch_twice(
        province, buffer, monkeypatch):  # noqa: F811
    day = date(2034, 7, 1)
    at = datetime(2034, 7, 1, 10, tzinfo=services.local_zone()).timestamp()
    assert recorder.push([recorder.encode("search", at=at + i, query=f"once-{i}",
                                          storefront_bank_id=province.bank_a.pk)
                          for i in range(5)])
    services.rollup_new_events()
    real = services.write_batch

    def commit_then_die(key, rows):
        real(key, rows)  # the COPY and the batch's name are committed...
        raise SystemExit("worker killed")  # ...and the process dies before the clean-up

    monkeypatch.setattr(event_flush, "write_batch", commit_then_die)
    with pytest.raises(SystemExit):
        services.events_flush()
    monkeypatch.undo()
    mine = Event.objects.filter(day=day, query__startswith="once-")
    assert mine.count() == 5
    assert buffer.llen(services.INFLIGHT_KEY) == 5  # the batch is still in flight
    buffer.delete(services.LOCK_KEY)  # the dead flush's lock would expire

    result = services.events_flush()  # finds the batch written: drops it
    assert (result.events, result.batches) == (0, 1)
    assert mine.count() == 5
    assert buffer.llen(services.INFLIGHT_KEY) == 0
    assert not buffer.exists(services.INFLIGHT_BATCH_KEY)
    assert EventBatch.objects.filter(events=5).exists()
    services.rollup_new_events()
    stat = DailyPairStat.objects.get(day=day, storefront_bank=province.bank_a,
                                     merchant_bank=None)
    assert stat.searches == 5

    # a new batch gets a new name and is written
    recorder.push([recorder.encode("search", at=at, query="once-more",
                                   storefront_bank_id=province.bank_a.pk)])
    assert services.events_flush().events == 1


def test_a_flush_that_died_before_its_commit_writes_its_batch_once(
        province, buffer, monkeypatch):  # noqa: F811
    recorder.record("search", query="香菇-twice")

    def broken(rows):
        raise RuntimeError("database gone")

    monkeypatch.setattr(event_flush, "write_events", broken)
    with pytest.raises(RuntimeError):
        services.events_flush()
    monkeypatch.undo()
    assert not EventBatch.objects.filter(
        key=buffer.get(services.INFLIGHT_BATCH_KEY).decode()).exists()  # rolled back
    assert services.events_flush().events == 1
    assert Event.objects.filter(query="香菇-twice").count() == 1


# --- top products from the span totals ------------------------------------------------


def test_spans_cover_a_range_exactly_with_few_spans():
    rng = random.Random(3)
    for _ in range(300):
        first = date(2030, 1, 1) + timedelta(days=rng.randint(0, 900))
        last = first + timedelta(days=rng.randint(0, 365))
        spans = ProductTotal.spans(first, last)
        days = []
        for level, start in spans:
            days += [start + timedelta(days=i) for i in range(1 << level)]
        assert days == [first + timedelta(days=i) for i in range((last - first).days + 1)]
        assert len(spans) <= 2 * ProductTotal.SPAN_LEVELS


def test_span_totals_follow_every_write_to_the_daily_product_rollup(province):
    """Rows written, changed and deleted in every way (ORM, roll-ups, retention): the
    spans always equal the daily rows summed, and top products over any range equal the
    old computation over the days."""
    rng = random.Random(11)
    banks = [province.bank_a, province.bank_b]
    first = date(2035, 1, 1)
    stats = []
    for _ in range(600):
        product = rng.randint(1, 40)
        stats.append(DailyProductStat(
            day=first + timedelta(days=rng.randint(0, 120)), product_id=product,
            storefront_bank=rng.choice([None, *banks]), merchant_id=product // 4,
            merchant_bank=banks[product % 2], views=rng.randint(0, 50),
            orders=rng.randint(0, 5), quantity=rng.randint(0, 9),
            gmv=Decimal(rng.randint(0, 99999)) / 100))
    seen = set()
    DailyProductStat.objects.bulk_create(
        [s for s in stats if (k := (s.day, s.product_id, s.storefront_bank_id)) not in seen
         and not seen.add(k)])
    some = DailyProductStat.objects.filter(day__lt=first + timedelta(days=30))
    some.filter(product_id__lt=10).update(views=7, gmv=Decimal("1.50"))
    some.filter(product_id=12).update(merchant_bank=province.bank_a)  # a moved product
    DailyProductStat.objects.filter(day=first + timedelta(days=40)).delete()
    one = DailyProductStat.objects.filter(day__gt=first + timedelta(days=60)).first()
    one.orders += 3
    one.save()

    def check():
        for _ in range(12):
            start = first + timedelta(days=rng.randint(-5, 125))
            end = start + timedelta(days=rng.choice([0, 1, 6, 29, 89, 200]))
            for bank in (None, province.bank_a):
                new = selectors.top_products(start=start, end=end, bank=bank, limit=1000)
                old = selectors.top_products_from_days(start=start, end=end, bank=bank,
                                                       limit=1000)
                assert [(r.key, r.bank, r.views, r.orders, r.quantity, r.gmv) for r in new] == [
                    (r.key, r.bank, r.views, r.orders, r.quantity, r.gmv) for r in old]

    check()
    # retention deletes the old days' rows: their spans lose them
    services.retention_enforce(today=first + timedelta(days=50 + 1825))
    assert not DailyProductStat.objects.filter(day__lt=first + timedelta(days=50)).exists()
    check()
    assert not ProductTotal.objects.filter(rows__lte=0).exists()
    DailyProductStat.objects.filter(day__gte=first).delete()
    assert not ProductTotal.objects.filter(start__gte=first - timedelta(days=256)).exists()


def test_top_products_on_the_demo_history_equal_the_old_computation(province):
    from fixtures import traffic_demo

    shop = market(province)
    products = [p for p in traffic_demo._catalog()
                if p.merchant_id in (shop.merchant_a.pk, shop.merchant_b.pk)]
    first, last = date(2036, 1, 1), date(2036, 4, 9)
    traffic_demo.generate(banks=[province.bank_a, province.bank_b], products=products,
                          first=first, last=last, seed=5, scale=0.05)
    services.rollup_new_events()
    for days in (1, 7, 30, 90):
        start = last - timedelta(days=days - 1)
        for bank in (None, province.bank_a, province.bank_b):
            new = selectors.top_products(start=start, end=last, bank=bank)
            old = selectors.top_products_from_days(start=start, end=last, bank=bank)
            assert new and [vars(r) for r in new] == [vars(r) for r in old]


def test_the_rollup_sorts_with_its_own_work_mem(province, settings):
    """TRAFFIC_ROLLUP_WORK_MEM is in effect while the roll-up stages its events (set with
    set_config(..., is_local => true): it ends with the roll-up's transaction, which the
    test's own outer transaction hides here)."""
    settings.TRAFFIC_ROLLUP_WORK_MEM = "37MB"
    with connection.cursor() as cur:
        cur.execute("SHOW work_mem")
        before = cur.fetchone()[0]
    assert before != "37MB"
    seen: list[str] = []

    def spy(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "fed_rollup_t" in sql and not seen:
            with context["connection"].cursor() as cur:
                cur.execute("SHOW work_mem")
                seen.append(cur.fetchone()[0])
        return result

    services.write_events([{"kind": "visit", "day": date(2034, 7, 1),
                            "at": datetime(2034, 7, 1, 9, tzinfo=services.local_zone()),
                            "storefront_bank_id": province.bank_a.pk,
                            "session_hash": "v-1"}])
    with connection.execute_wrapper(spy):
        assert services.rollup_new_events() == 1
    assert seen == ["37MB"]
