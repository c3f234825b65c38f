"""Traffic events: recording (through pages, the cart, checkout and payment), the flush
into the table, consent, the daily roll-ups against the raw events, retention, and the
log of uses of behaviour data. Real database, real Redis, the local card server."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from accounts.models import ConsentPurpose
from accounts.services import consent_grant
from core.errors import ApplicationError
from federation import recorder, services
from federation.models import (
    DailyCategoryStat,
    DailyMerchantStat,
    DailyPairStat,
    DailyProductStat,
    DailyRegionStat,
    DailySegmentStat,
    DataUse,
    Event,
    RollupState,
)
from federation.services import flush as event_flush
from orders import services as orders_services
from orders.models import Cart
from tests.orders_factories import ADDRESS, market, pay, place

pytestmark = pytest.mark.django_db


@pytest.fixture
def buffer():
    """An empty event buffer on the test session's Redis (and empty afterwards)."""
    recorder.reset_client()
    redis = recorder.client()
    redis.delete(recorder.BUFFER_KEY, services.INFLIGHT_KEY, services.INFLIGHT_BATCH_KEY,
                 services.LOCK_KEY)
    yield redis
    redis.delete(recorder.BUFFER_KEY, services.INFLIGHT_KEY, services.INFLIGHT_BATCH_KEY,
                 services.LOCK_KEY)
    recorder.reset_client()


def buffered(redis) -> list[dict]:
    return [json.loads(line) for line in redis.lrange(recorder.BUFFER_KEY, 0, -1)]


def flush() -> list[Event]:
    before = set(Event.objects.values_list("pk", flat=True))
    services.events_flush()
    return list(Event.objects.exclude(pk__in=before).order_by("pk"))


# --- recording ---------------------------------------------------------------------------


def test_pages_record_a_visit_product_views_and_searches(province, buffer, client_on):
    shop = market(province)
    client = client_on(province.bank_a)
    product_id = shop.sku_b.product_id
    assert client.get(f"/p/{product_id}/").status_code == 200
    assert client.get("/search/", {"q": "  槐花   蜜 "}).status_code == 200
    assert client.get(f"/p/{product_id}/").status_code == 200
    events = flush()
    kinds = [e.kind for e in events]
    assert kinds == ["visit", "product_view", "search", "product_view"]
    visit, view, search, _again = events
    # one visitor: the same keyed hash on every event, never the cookie itself
    token = client.cookies[recorder.VISITOR_COOKIE].value.split(".")[0]
    assert {e.session_hash for e in events} == {recorder.keyed_hash(f"v:{token}")}
    assert token not in visit.session_hash
    assert all(e.storefront_bank_id == province.bank_a.pk for e in events)
    assert all(e.user_id is None for e in events)  # anonymous
    # the flush resolved the product: bank B's merchant, its category, its county
    assert (view.product_id, view.merchant_id, view.merchant_bank_id, view.category_id,
            view.region) == (product_id, shop.merchant_b.pk, province.bank_b.pk,
                             shop.sku_b.product.category_id, "甲县")
    assert search.query == "槐花 蜜"
    assert view.day == timezone.localdate(view.at)
    assert recorder.client().llen(recorder.BUFFER_KEY) == 0


def test_a_new_visitor_on_another_storefront_is_another_visit(province, buffer, client_on):
    client_on(province.bank_a).get("/")
    client_on(province.bank_b).get("/")
    client_on(None).get("/")  # the portal
    visits = [e for e in flush() if e.kind == "visit"]
    assert [v.storefront_bank_id for v in visits] == [province.bank_a.pk, province.bank_b.pk,
                                                      None]
    assert len({v.session_hash for v in visits}) == 3


def test_consoles_apis_and_errors_record_nothing(province, buffer, client_on):
    client = client_on(province.bank_a, province.a_manager)
    client.get("/console/")
    client.get("/api/v1/products/")
    client.get("/p/999999999/")  # 404
    assert buffered(buffer) == []


def test_consent_decides_whether_events_carry_the_user(province, buffer, client_on):
    shop = market(province)
    path = f"/p/{shop.sku_a.product_id}/"
    client_on(province.bank_a, province.shopper).get(path)
    (view,) = [e for e in flush() if e.kind == "product_view"]
    assert view.user_id is None and view.session_hash

    consent_grant(user=province.shopper, purpose=ConsentPurpose.BEHAVIOUR, source="test")
    client_on(province.bank_a, province.shopper).get(path)
    (view,) = [e for e in flush() if e.kind == "product_view"]
    assert view.user_id == province.shopper.pk

    # a consent to one bank (for credit) is not a consent to behaviour recording
    consent_grant(user=province.a_admin, purpose=ConsentPurpose.CREDIT, bank=province.bank_a,
                  source="test")
    client_on(province.bank_a, province.a_admin).get(path)
    (view,) = [e for e in flush() if e.kind == "product_view"]
    assert view.user_id is None


def test_cart_checkout_and_purchase_are_recorded_after_commit(
        province, buffer, django_capture_on_commit_callbacks):
    shop = market(province)
    province.shopper.segment = "villager"
    province.shopper.save(update_fields=["segment"])
    with django_capture_on_commit_callbacks(execute=True):
        checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 2), (shop.sku_b, 1)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(checkout)
    events = flush()
    assert sorted(e.kind for e in events) == ["add_to_cart"] * 2 + ["checkout"] * 2 + [
        "purchase"] * 2
    purchases = sorted((e for e in events if e.kind == "purchase"), key=lambda e: e.amount)
    orders = {o.merchant_id: o for o in checkout.orders.all()}
    honey, apples = purchases
    assert (apples.merchant_bank_id, apples.quantity, apples.amount,
            apples.order_id) == (province.bank_a.pk, 2, Decimal("91.00"),
                                 orders[shop.merchant_a.pk].pk)
    assert (honey.merchant_bank_id, honey.amount) == (province.bank_b.pk, Decimal("68.00"))
    # the checkout knows its storefront; a cart filled outside a page does not
    assert {e.storefront_bank_id for e in events if e.kind != "add_to_cart"} == {
        province.bank_a.pk}
    assert {e.checkout_id for e in purchases} == {checkout.pk}
    assert {e.segment for e in purchases} == {"villager"}
    # no consent: no user id; the buyer pseudonym is the same for both lines of the day
    assert {e.user_id for e in events} == {None}
    assert len({e.session_hash for e in purchases}) == 1


def test_a_checkouts_events_are_recorded_from_its_lines_in_hand_without_a_query(
        province, buffer, django_capture_on_commit_callbacks, django_assert_num_queries):
    """After the commit, the checkout's events come from the lines it just wrote: the
    receiver sends nothing more to the database (a round trip less per checkout)."""
    shop = market(province)
    cart = orders_services.cart_get_or_create(user=province.shopper)
    cart.items.all().delete()
    for sku, qty in ((shop.sku_a, 2), (shop.sku_b, 1)):
        orders_services.cart_add(cart=cart, sku_id=sku.pk, quantity=qty)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        checkout = orders_services.checkout_place(buyer=province.shopper, cart=cart,
                                                  storefront_bank=province.bank_a,
                                                  delivery=ADDRESS)
    with django_assert_num_queries(0):
        for callback in callbacks:
            callback()
    events = buffered(buffer)
    orders = {o.merchant_id: o.pk for o in checkout.orders.all()}
    assert sorted((e["kind"], e["order_id"], e["product_id"], e["quantity"], e["amount"])
                  for e in events) == sorted([
        ("checkout", orders[shop.merchant_a.pk], shop.sku_a.product_id, 2, "91.00"),
        ("checkout", orders[shop.merchant_b.pk], shop.sku_b.product_id, 1, "68.00")])
    assert {e["checkout_id"] for e in events} == {checkout.pk}


def test_add_to_cart_is_recorded_even_when_the_cart_is_gone_by_commit(
        province, buffer, django_capture_on_commit_callbacks):
    shop = market(province)
    with django_capture_on_commit_callbacks(execute=True):
        cart = orders_services.cart_get_or_create(user=province.shopper)
        orders_services.cart_add(cart=cart, sku_id=shop.sku_a.pk, quantity=2)
        Cart.objects.filter(pk=cart.pk).delete()  # as a checkout in the same transaction
    (added,) = flush()
    assert (added.kind, added.product_id, added.quantity) == (
        "add_to_cart", shop.sku_a.product_id, 2)


def test_add_to_cart_on_a_page_carries_the_storefront_and_visitor(
        province, buffer, client_on, django_capture_on_commit_callbacks):
    shop = market(province)
    client = client_on(province.bank_b)
    client.get("/")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/cart/add/", {"sku": shop.sku_a.pk, "quantity": 3})
    assert response.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/cart/add/", {"sku": 10**9, "quantity": 1})  # refused: nothing
    visit, added = flush()
    assert (added.kind, added.storefront_bank_id, added.product_id, added.merchant_bank_id,
            added.quantity) == ("add_to_cart", province.bank_b.pk, shop.sku_a.product_id,
                                province.bank_a.pk, 3)
    assert added.session_hash == visit.session_hash


def test_nothing_is_recorded_when_the_transaction_rolls_back(province, buffer):
    shop = market(province)
    place(province.shopper, province.bank_a, [(shop.sku_a, 1)])  # the test's transaction
    assert buffered(buffer) == []


def test_recording_never_raises_and_counts_drops_when_redis_is_down(
        province, buffer, settings, client_on):
    shop = market(province)
    settings.TRAFFIC_REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    recorder.reset_client()
    before = recorder.dropped()
    assert recorder.record("search", query="苹果") is False
    assert recorder.dropped() == before + 1
    # the page is served all the same (recording is paused after the first failure)
    response = client_on(province.bank_a).get(f"/p/{shop.sku_a.product_id}/")
    assert response.status_code == 200
    assert recorder.dropped() >= before + 3  # the visit and the view were counted too
    # Redis back: the drops are reported with the next event
    settings.TRAFFIC_REDIS_URL = ""
    recorder.reset_client()
    assert recorder.record("search", query="苹果") is True
    assert int(recorder.client().get(recorder.DROPPED_KEY) or 0) >= 3


def test_record_refuses_what_the_catalogue_does_not_declare(buffer):
    assert recorder.record("mouse_move", x=1) is False
    assert recorder.record("search", query="米", password="secret", phone="138") is True
    (row,) = buffered(buffer)
    assert set(row) == {"kind", "at", "query"}


def test_malformed_buffer_lines_are_rejected_not_fatal(province, buffer):
    buffer.rpush(recorder.BUFFER_KEY, "not json", json.dumps({"kind": "search"}),
                 json.dumps({"kind": "hack", "at": time.time()}),
                 recorder.encode("search", query="茶\t叶\\n", storefront_bank_id=10**9))
    result = services.events_flush()
    assert (result.events, result.rejected) == (1, 3)
    (event,) = Event.objects.filter(query__startswith="茶")
    assert event.query == "茶\t叶\\n" and event.storefront_bank_id is None


def test_a_failed_write_keeps_the_batch_for_the_next_flush(province, buffer, monkeypatch):
    recorder.record("search", query="香菇")

    def broken(rows):
        raise RuntimeError("database gone")

    monkeypatch.setattr(event_flush, "write_events", broken)
    with pytest.raises(RuntimeError):
        services.events_flush()
    monkeypatch.undo()
    assert buffer.llen(services.INFLIGHT_KEY) == 1
    assert services.events_flush().events == 1
    assert Event.objects.filter(query="香菇").count() == 1
    assert buffer.llen(services.INFLIGHT_KEY) == 0


# --- roll-ups against the raw events ------------------------------------------------------

KINDS = ["visit", "product_view", "search", "add_to_cart", "checkout", "purchase",
         "share_click"]
DAY = date(2031, 3, 14)  # far from other tests' events


def _expected(events):
    """The roll-ups computed in Python from the raw rows, keyed like the tables."""
    pair = defaultdict(lambda: defaultdict(set))
    sums = defaultdict(lambda: defaultdict(Decimal))
    for e in events:
        key = (e["storefront_bank_id"], e["merchant_bank_id"])
        k = e["kind"]
        sums[key]["visits"] += k == "visit"
        sums[key]["product_views"] += k == "product_view"
        sums[key]["searches"] += k == "search"
        sums[key]["add_to_cart"] += k == "add_to_cart"
        sums[key]["share_clicks"] += k == "share_click"
        if k == "checkout" and e["checkout_id"] is not None:
            pair[key]["checkouts"].add(e["checkout_id"])
        if k == "purchase":
            if e["order_id"] is not None:
                pair[key]["orders"].add(e["order_id"])
            pair[key]["buyers"].add(e["session_hash"] or f"u{e['user_id']}")
            sums[key]["gmv"] += e["amount"]
    out = {}
    for key in set(pair) | set(sums):
        out[key] = {**{n: int(v) for n, v in sums[key].items() if n != "gmv"},
                    "gmv": sums[key]["gmv"],
                    **{n: len(v) for n, v in pair[key].items()}}
    return out


def _table(rows, fields):
    return {(r.storefront_bank_id, r.merchant_bank_id): {f: getattr(r, f) for f in fields}
            for r in rows}


event_rows = st.lists(st.fixed_dictionaries({
    "kind": st.sampled_from(KINDS),
    "storefront": st.sampled_from([None, "a", "b"]),
    "merchant": st.sampled_from([None, "a", "b"]),
    "product": st.integers(1, 4),
    "order": st.integers(1, 6),
    "checkout": st.integers(1, 3),
    "buyer": st.integers(1, 4),
    "user": st.sampled_from([None, 1, 2]),
    "segment": st.sampled_from(["", "villager", "young"]),
    "amount": st.decimals(min_value=0, max_value=500, places=2),
    "quantity": st.integers(0, 9),
}), max_size=60)


@hsettings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=event_rows)
def test_rollups_equal_the_raw_events(province, raw):
    banks = {None: None, "a": province.bank_a.pk, "b": province.bank_b.pk}
    at = datetime(2031, 3, 14, 12, tzinfo=services.local_zone())
    rows = []
    for r in raw:
        merchant_bank = banks[r["merchant"]]
        has_product = r["kind"] not in ("visit", "search") and merchant_bank is not None
        product = r["product"] if has_product else None
        rows.append({
            "kind": r["kind"], "at": at, "day": DAY,
            "storefront_bank_id": banks[r["storefront"]],
            "merchant_bank_id": merchant_bank if has_product else None,
            # a product belongs to one merchant, category and region
            "merchant_id": 100 + product * (1 if r["merchant"] == "a" else 10)
            if product else None,
            "product_id": product * (1 if r["merchant"] == "a" else 10) if product else None,
            "category_id": product % 2 if product else None,
            "region": f"县{product % 3}" if product else "",
            "session_hash": f"s{r['buyer']}", "user_id": r["user"],
            "segment": r["segment"] if r["kind"] == "purchase" else "",
            "query": "米" if r["kind"] == "search" else "",
            "quantity": r["quantity"],
            "amount": r["amount"] if r["kind"] == "purchase" else Decimal("0"),
            # an order belongs to one merchant (so to one merchant bank)
            "order_id": r["order"] * 10 + (1 if r["merchant"] == "a" else 2)
            if r["kind"] == "purchase" and has_product else None,
            "checkout_id": r["checkout"] if r["kind"] in ("checkout", "purchase") else None,
            "sharer_id": None,
        })
    Event.objects.filter(day=DAY).delete()
    services.write_events(rows)
    assert services.rollup_day(DAY) == len(rows)

    expected = _expected(rows)
    fields = ["visits", "product_views", "searches", "add_to_cart", "share_clicks",
              "checkouts", "orders", "buyers", "gmv"]
    got = _table(DailyPairStat.objects.filter(day=DAY), fields)
    want = {key: {f: v.get(f, Decimal("0") if f == "gmv" else 0) for f in fields}
            for key, v in expected.items()}
    assert got == want

    # every other roll-up: each measure summed over the table equals the raw events
    purchases = [r for r in rows if r["kind"] == "purchase"]
    with_product = [r for r in rows if r["product_id"] is not None]
    views = sum(r["kind"] == "product_view" for r in with_product)
    gmv = sum((r["amount"] for r in purchases if r["product_id"]), Decimal("0"))
    for model in (DailyCategoryStat, DailyRegionStat, DailyMerchantStat):
        stats = list(model.objects.filter(day=DAY))
        assert sum(s.product_views for s in stats) == views
        assert sum((s.gmv for s in stats), Decimal("0")) == gmv
    products = list(DailyProductStat.objects.filter(day=DAY))
    assert sum(s.views for s in products) == views
    assert sum(s.quantity for s in products) == sum(r["quantity"] for r in purchases
                                                    if r["product_id"])
    by_product = defaultdict(set)
    for r in purchases:
        if r["product_id"]:
            by_product[(r["product_id"], r["storefront_bank_id"])].add(r["order_id"])
    assert {(s.product_id, s.storefront_bank_id): s.orders for s in products if s.orders} == {
        key: len(v) for key, v in by_product.items()}
    merchants = DailyMerchantStat.objects.filter(day=DAY)
    assert sum(s.add_to_cart for s in merchants) == sum(
        r["kind"] == "add_to_cart" for r in with_product)
    segments = {(s.storefront_bank_id, s.segment): (s.orders, s.gmv, s.buyers)
                for s in DailySegmentStat.objects.filter(day=DAY)}
    want_segments = defaultdict(lambda: [set(), Decimal("0"), set()])
    for r in purchases:
        slot = want_segments[(r["storefront_bank_id"], r["segment"])]
        if r["order_id"]:
            slot[0].add(r["order_id"])
        slot[1] += r["amount"]
        slot[2].add(r["session_hash"])
    assert segments == {k: (len(o), g, len(b)) for k, (o, g, b) in want_segments.items()}

    # idempotent: the same day again gives the same rows
    again = services.rollup_day(DAY)
    assert again == len(rows)
    assert _table(DailyPairStat.objects.filter(day=DAY), fields) == got
    assert RollupState.objects.get(day=DAY).events == len(rows)


def test_rollup_of_real_trade_counts_orders_gmv_and_cross_bank_pairs(
        province, buffer, client_on, django_capture_on_commit_callbacks):
    shop = market(province)
    client = client_on(province.bank_a, province.shopper)
    client.get(f"/p/{shop.sku_b.product_id}/")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/cart/add/", {"sku": shop.sku_b.pk, "quantity": 2})
    with django_capture_on_commit_callbacks(execute=True):
        checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 1), (shop.sku_b, 2)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(checkout)
    flush()
    today = timezone.localdate()
    services.rollup_day(today)
    cross = DailyPairStat.objects.get(day=today, storefront_bank=province.bank_a,
                                      merchant_bank=province.bank_b)
    # other tests commit nothing here (the test's transaction), but be exact only about
    # what this test made: at least its own view, and its order of honey (2 x 68.00)
    assert cross.product_views >= 1 and cross.orders >= 1
    assert cross.gmv >= Decimal("136.00")
    honey = DailyProductStat.objects.get(day=today, product_id=shop.sku_b.product_id,
                                         storefront_bank=province.bank_a)
    assert (honey.views, honey.orders, honey.quantity, honey.gmv) == (
        1, 1, 2, Decimal("136.00"))
    merchant = DailyMerchantStat.objects.get(day=today, merchant_id=shop.merchant_b.pk,
                                             storefront_bank=province.bank_a)
    assert (merchant.product_views, merchant.add_to_cart, merchant.orders, merchant.gmv) == (
        1, 1, 1, Decimal("136.00"))


# --- retention ---------------------------------------------------------------------------


def test_retention_deletes_only_what_is_past_its_time(province):
    today = date(2032, 6, 1)
    at = timezone.now()

    def event(kind, age):
        return {"kind": kind, "at": at, "day": today - timedelta(days=age),
                "session_hash": f"ret-{kind}-{age}", "amount": Decimal("0")}

    cases = {("search", 90): True, ("search", 91): False, ("visit", 180): True,
             ("visit", 181): False, ("product_view", 400): False,
             ("purchase", 730): True, ("purchase", 731): False, ("purchase", 10): True}
    services.write_events([event(k, age) for k, age in cases])
    old_stat = DailyPairStat.objects.create(day=today - timedelta(days=1826))
    kept_stat = DailyPairStat.objects.create(day=today - timedelta(days=1825))
    result = services.retention_enforce(today=today)
    left = set(Event.objects.filter(session_hash__startswith="ret-")
               .values_list("kind", "day"))
    assert left == {(k, today - timedelta(days=age)) for (k, age), keep in cases.items()
                    if keep}
    assert not DailyPairStat.objects.filter(pk=old_stat.pk).exists()
    assert DailyPairStat.objects.filter(pk=kept_stat.pk).exists()
    assert result["rollups"] >= 1


# --- uses of behaviour data --------------------------------------------------------------


def test_credit_use_needs_consent_to_that_bank_and_is_logged(province):
    user = province.shopper
    with pytest.raises(ApplicationError):
        services.behaviour_for_credit(bank=province.bank_a, user_id=user.pk,
                                      used_by=province.a_manager)
    assert not DataUse.objects.filter(subject_user_id=user.pk).exists()
    consent_grant(user=user, purpose=ConsentPurpose.CREDIT, bank=province.bank_a,
                  source="test")
    services.write_events([{"kind": "purchase", "at": timezone.now(),
                            "day": timezone.localdate(), "user_id": user.pk,
                            "order_id": 424242, "amount": Decimal("12.50"),
                            "session_hash": "x"}])
    summary = services.behaviour_for_credit(bank=province.bank_a, user_id=user.pk,
                                            used_by=province.a_manager)
    assert summary.orders >= 1 and summary.spent >= Decimal("12.50")
    (use,) = DataUse.objects.filter(subject_user_id=user.pk)
    assert (use.bank_id, use.purpose, use.used_by_id) == (
        province.bank_a.pk, "credit_scoring", province.a_manager.pk)
    # the consent was to bank A: bank B may not
    with pytest.raises(ApplicationError):
        services.behaviour_for_credit(bank=province.bank_b, user_id=user.pk)
    # a purpose the catalogue does not list for the data is refused
    with pytest.raises(ApplicationError):
        services.data_use_log(data_kind="search_queries", purpose="credit_scoring",
                              bank=province.bank_a, subject_user_id=user.pk)


# --- the demo's generated history ------------------------------------------------------------


def test_generated_history_rolls_up_to_exactly_its_events(province):
    from django.db.models import Count, Q, Sum

    from fixtures import traffic_demo

    shop = market(province)
    products = [p for p in traffic_demo._catalog()
                if p.merchant_id in (shop.merchant_a.pk, shop.merchant_b.pk)]
    first, last = date(2033, 1, 1), date(2033, 1, 3)
    written = traffic_demo.generate(banks=[province.bank_a, province.bank_b],
                                    products=products, first=first, last=last, seed=7,
                                    scale=0.5)
    assert written > 100
    services.rollup_range(first, last)
    events = Event.objects.filter(day__range=(first, last))
    assert events.count() == written
    raw = events.aggregate(
        visits=Count("pk", filter=Q(kind="visit")),
        views=Count("pk", filter=Q(kind="product_view")),
        carts=Count("pk", filter=Q(kind="add_to_cart")),
        orders=Count("order_id", distinct=True, filter=Q(kind="purchase")),
        gmv=Sum("amount", filter=Q(kind="purchase")))
    pairs = DailyPairStat.objects.filter(day__range=(first, last)).aggregate(
        visits=Sum("visits"), views=Sum("product_views"), carts=Sum("add_to_cart"),
        orders=Sum("orders"), gmv=Sum("gmv"))
    assert pairs == raw
    assert raw["orders"] > 0 and raw["visits"] > 0
    # cross-bank traffic exists both ways, and the portal has visits of its own
    stats = DailyPairStat.objects.filter(day__range=(first, last))
    assert stats.filter(storefront_bank=province.bank_a, merchant_bank=province.bank_b,
                        product_views__gt=0).exists()
    assert stats.filter(storefront_bank=province.bank_b, merchant_bank=province.bank_a,
                        product_views__gt=0).exists()
    assert stats.filter(storefront_bank__isnull=True, visits__gt=0).exists()
    segments = DailySegmentStat.objects.filter(day__range=(first, last))
    assert segments.aggregate(o=Sum("orders"))["o"] == raw["orders"]
    assert segments.exclude(segment="").exists()
    # generated orders never meet real ones
    assert not events.filter(kind="purchase",
                             order_id__lt=traffic_demo.GENERATED_ID_BASE).exists()


# --- the data catalogue page ------------------------------------------------------------


def test_the_data_catalogue_is_public_and_admins_see_the_pipeline(province, client_on):
    from federation import catalogue

    page = client_on(None).get("/federation/data-catalogue/")
    assert page.status_code == 200
    html = page.content.decode()
    for entry in catalogue.ENTRIES:
        assert f'id="{entry.key}"' in html
    assert "180" in html and "730" in html
    assert "数据目录" in html  # Chinese by default
    assert "dc-pipeline" not in html
    admin_page = client_on(None, province.fed_admin).get("/federation/data-catalogue/")
    assert "dc-pipeline" in admin_page.content.decode()
    # every event kind the platform records is declared, with a retention period
    from federation.models import EventKind

    assert set(catalogue.event_retention()) == set(EventKind.values)


# --- the scheduled tasks in a real worker ---------------------------------------------------


@pytest.mark.worker
def test_the_flush_and_rollup_tasks_run_in_a_real_worker(province, buffer, celery_worker_process):
    from federation import tasks

    at = datetime(2001, 5, 2, 10, tzinfo=services.local_zone()).timestamp()
    lines = [recorder.encode("search", at=at + i, query=f"worker-{i}",
                             storefront_bank_id=province.bank_b.pk) for i in range(30)]
    assert recorder.push(lines)
    tasks.events_flush.delay()  # as beat queues it (no result kept)
    mine = Event.objects.filter(day=date(2001, 5, 2), query__startswith="worker-")
    deadline = time.monotonic() + 60
    while mine.count() < 30 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert mine.count() == 30
    assert buffer.llen(recorder.BUFFER_KEY) == 0
    assert tasks.rollup_day.delay("2001-05-02").get(timeout=60) >= 30
    stat = DailyPairStat.objects.get(day=date(2001, 5, 2), storefront_bank=province.bank_b,
                                     merchant_bank=None)
    assert stat.searches >= 30


def test_the_rollup_command_redoes_a_range_and_refuses_bad_dates(province, buffer):
    from django.core.management import CommandError, call_command

    services.write_events([{"kind": "visit", "at": timezone.now(), "day": date(2033, 2, d),
                            "storefront_bank_id": province.bank_a.pk} for d in (1, 2, 2)])
    call_command("traffic_rollup", "--from", "2033-02-01", "--to", "2033-02-03")
    visits = dict(DailyPairStat.objects.filter(day__range=(date(2033, 2, 1), date(2033, 2, 3)))
                  .values_list("day", "visits"))
    assert visits == {date(2033, 2, 1): 1, date(2033, 2, 2): 2}
    assert RollupState.objects.filter(day=date(2033, 2, 3), events=0).exists()
    with pytest.raises(CommandError):
        call_command("traffic_rollup", "--from", "2033-02-30")
    with pytest.raises(CommandError):
        call_command("traffic_rollup", "--from", "2033-02-03", "--to", "2033-02-01")
