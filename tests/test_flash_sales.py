"""秒杀: flash sales admitted in Redis, with PostgreSQL the source of truth.

Concurrent buyers (each in a session of its own, committed data) never get more than the
sale's quantity nor more than the cap; Redis restarted in the middle of the sale loses its
copy, which is rebuilt from the database; Redis down is a 503 that reserves nothing;
an unpaid win that expires goes back on sale in Redis too."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from catalog.models import Sku
from catalog.services import product_transition
from core.errors import ApplicationError
from orders import flash
from orders import services as orders
from orders.models import Checkout, CheckoutStatus, FlashSale, FlashSaleTake, Order, OrderLine
from orders.services import stock as order_stock
from payments import services as payments
from tests import services_plugin, unique
from tests.orders_factories import ADDRESS, product_with_sku
from tests.test_faults import _drop_pooled_redis_connections, redis_stopped
from tests.test_stock_concurrency import committed, run_concurrently

pytestmark = pytest.mark.django_db
TAG = unique.tag()


def flash_sale(sku, *, quantity, limit, starts=-1, ends=60, price="9.90"):
    now = timezone.now()
    sale = orders.flash_sale_create(sku=sku, title=f"秒杀{TAG}", price=price,
                                    starts_at=now - timedelta(minutes=1),
                                    ends_at=now + timedelta(minutes=max(ends, 1)),
                                    quantity=quantity, per_customer_limit=limit)
    if starts != -1 or ends < 1:  # a window in the past or the future (set directly)
        FlashSale.objects.filter(pk=sale.pk).update(
            starts_at=now + timedelta(minutes=starts), ends_at=now + timedelta(minutes=ends))
        sale.refresh_from_db()
    return sale


def buy(buyer, sale, quantity=1, bank=None):
    return orders.flash_sale_buy(buyer=buyer, sale_id=sale.pk, quantity=quantity,
                                 storefront_bank=bank, delivery=ADDRESS)


def db_state(sale) -> tuple[int, dict[int, int]]:
    sale = FlashSale.objects.get(pk=sale.pk)
    takes = dict(FlashSaleTake.objects.filter(flash_sale=sale, quantity__gt=0)
                 .values_list("user_id", "quantity"))
    return sale.quantity - sale.sold, takes


@pytest.fixture
def shop(province):
    from tests.catalog_factories import approved_merchant

    merchant, _ = approved_merchant(province.bank_a, province.a_manager,
                                    name=f"秒杀果园{unique.tag()}")
    return product_with_sku(merchant, name=f"秒杀蜂蜜{unique.tag()}", price="39.90",
                            stock=50)


# --- one buyer at a time -------------------------------------------------------------------


def test_a_win_is_answered_at_once_and_redis_matches_the_database(api_on, province, shop):
    sale = flash_sale(shop, quantity=5, limit=2)
    api = api_on(province.bank_a, province.shopper)
    response = api.post(f"/api/v1/flash-sales/{sale.pk}/buy/",
                        {"quantity": 2, "delivery": ADDRESS.__dict__}, format="json",
                        HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "抢到了" in body["message"] and "15 分钟" in body["message"]
    [line] = body["checkout"]["orders"][0]["lines"]
    assert (line["quantity"], line["unit_price"]) == (2, "9.90")
    assert flash.state(sale.pk) == db_state(sale) == (3, {province.shopper.pk: 2})
    assert Sku.objects.get(pk=shop.pk).reserved == 2

    again = api.post(f"/api/v1/flash-sales/{sale.pk}/buy/",
                     {"quantity": 1, "delivery": ADDRESS.__dict__}, format="json")
    assert again.status_code == 400
    assert "每人限购 2" in again.json()["message"]
    assert flash.state(sale.pk) == db_state(sale) == (3, {province.shopper.pk: 2})


@pytest.mark.parametrize(("case", "expected"), [
    ("before", "开始"), ("after", "已结束"), ("delisted", "未在售"), ("over_cap", "每人限购"),
])
def test_b_refusals_are_clear_and_reserve_nothing(api_on, province, shop, case, expected):
    window = {"before": {"starts": 30, "ends": 90}, "after": {"starts": -90, "ends": -30}}
    sale = flash_sale(shop, quantity=5, limit=2, **window.get(case, {}))
    if case == "delisted":
        product_transition(product=shop.product, action="delist")
    response = api_on(province.bank_a, province.shopper).post(
        f"/api/v1/flash-sales/{sale.pk}/buy/",
        {"quantity": 3 if case == "over_cap" else 1, "delivery": ADDRESS.__dict__},
        format="json")
    assert response.status_code == 400, response.json()
    assert expected in response.json()["message"], response.json()
    assert db_state(sale) == (5, {})
    assert Sku.objects.get(pk=shop.pk).reserved == 0
    assert not Checkout.objects.filter(buyer=province.shopper, orders__lines__sku=shop).exists()


@pytest.mark.parametrize("sale_id", [2**63, 10**20, 0])
def test_b_a_sale_id_no_sale_can_have_is_a_clear_400(api_on, province, sale_id):
    response = api_on(province.bank_a, province.shopper).post(
        f"/api/v1/flash-sales/{sale_id}/buy/", {"quantity": 1, "delivery": ADDRESS.__dict__},
        format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"]["sale"]


def test_c_redis_down_is_a_503_in_chinese_and_nothing_is_reserved(api_on, province, shop):
    sale = flash_sale(shop, quantity=5, limit=2)
    api = api_on(province.bank_a, province.shopper)
    with redis_stopped():
        flash.reset_client()
        response = api.post(f"/api/v1/flash-sales/{sale.pk}/buy/",
                            {"quantity": 1, "delivery": ADDRESS.__dict__}, format="json")
        assert response.status_code == 503
        assert "请稍后再试" in response.json()["message"]
        assert response["Retry-After"]
        assert db_state(sale) == (5, {})
        assert Sku.objects.get(pk=shop.pk).reserved == 0
    flash.reset_client()
    # Back: the copy was lost with the restart, rebuilt from the database; the sale goes on.
    response = api.post(f"/api/v1/flash-sales/{sale.pk}/buy/",
                        {"quantity": 1, "delivery": ADDRESS.__dict__}, format="json")
    assert response.status_code == 201
    assert flash.state(sale.pk) == db_state(sale) == (4, {province.shopper.pk: 1})


def test_c_the_checkout_page_with_redis_down_says_try_again_with_a_503(client_on, province,
                                                                      shop):
    sale = flash_sale(shop, quantity=5, limit=2)
    cart = orders.cart_get_or_create(user=province.shopper)
    orders.cart_add(cart=cart, sku_id=shop.pk, quantity=1)
    page = client_on(province.bank_a, province.shopper)
    form = {"recipient_name": ADDRESS.recipient_name, "recipient_phone": ADDRESS.recipient_phone,
            "address": ADDRESS.address}
    checkouts = Checkout.objects.filter(buyer=province.shopper).count()
    with redis_stopped():
        flash.reset_client()
        response = page.post("/checkout/", form)
        assert response.status_code == 503
        assert response["Retry-After"]
        assert "请稍后再试" in response.content.decode()
        assert db_state(sale) == (5, {})
        assert Sku.objects.get(pk=shop.pk).reserved == 0
        assert Checkout.objects.filter(buyer=province.shopper).count() == checkouts
    flash.reset_client()
    assert page.post("/checkout/", form).status_code == 302   # on to the card page
    assert db_state(sale) == (4, {province.shopper.pk: 1})


def test_d_an_expired_win_goes_back_on_sale_in_redis_too(province, shop,
                                                          django_capture_on_commit_callbacks):
    sale = flash_sale(shop, quantity=3, limit=2)
    checkout = buy(province.shopper, sale, 2)
    assert flash.state(sale.pk) == (1, {province.shopper.pk: 2})
    Checkout.objects.filter(pk=checkout.pk).update(
        reserved_until=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert payments.expire_reservations() >= 1
    assert flash.state(sale.pk) == db_state(sale) == (3, {})
    assert Sku.objects.get(pk=shop.pk).reserved == 0
    buy(province.shopper, sale, 2)  # and it can be won again
    assert flash.state(sale.pk) == db_state(sale) == (1, {province.shopper.pk: 2})


def test_e_a_failed_database_write_gives_the_unit_back(province, shop, monkeypatch):
    sale = flash_sale(shop, quantity=3, limit=2)
    flash.forget(sale.pk)

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(order_stock, "stock_hold_many", broken)
    with pytest.raises(RuntimeError):
        buy(province.shopper, sale, 1)
    assert flash.state(sale.pk) == db_state(sale) == (3, {})


def test_f_a_stale_copy_is_dropped_when_the_database_refuses(province, shop):
    """Redis says there is one left (a copy gone wrong); the database says sold out: the
    buyer is told "sold out", nothing is reserved, and the copy is rebuilt right."""
    sale = flash_sale(shop, quantity=1, limit=1)
    FlashSale.objects.filter(pk=sale.pk).update(sold=1)  # sold meanwhile, Redis not told
    flash.forget(sale.pk)
    flash.client().hset(flash.key(sale.pk), mapping={"left": 1, "gen": "stale"})
    with pytest.raises(ApplicationError) as refused:
        buy(province.shopper, sale, 1)
    assert refused.value.code == "sold_out"
    assert flash.state(sale.pk) is None  # dropped; the next buyer rebuilds it
    with pytest.raises(ApplicationError):
        buy(province.a_admin, sale, 1)
    assert flash.state(sale.pk) == db_state(sale) == (0, {})


def test_g_a_rebuild_under_someone_elses_lock_waits(province, shop):
    sale = flash_sale(shop, quantity=4, limit=2)
    flash.forget(sale.pk)
    flash.client().set(f"{flash.key(sale.pk)}:lock", "other", px=5000)
    assert flash.rebuild(sale_id=sale.pk) is False
    assert flash.state(sale.pk) is None
    flash.client().delete(f"{flash.key(sale.pk)}:lock")
    assert flash.rebuild(sale_id=sale.pk) is True
    assert flash.rebuild(sale_id=sale.pk) is True  # a copy there: left as it is
    assert flash.state(sale.pk) == (4, {})


# --- a rush, with Redis restarted in the middle --------------------------------------------


@pytest.mark.concurrency
def test_h_a_rush_through_a_redis_restart_sells_exactly_the_quantity(province,
                                                                     django_db_blocker):
    from accounts.services import user_register
    from tests.catalog_factories import approved_merchant

    with django_db_blocker.unblock():
        def setup():
            merchant, _ = approved_merchant(province.bank_a, province.a_manager,
                                            name=f"秒杀冲击{TAG}")
            sku = product_with_sku(merchant, name=f"秒杀冲击蜂蜜{TAG}", price="39.90",
                                   stock=100)
            sale = flash_sale(sku, quantity=30, limit=2)
            buyers = [user_register(username=f"flash-{TAG}-{n:03d}",
                                    password=province.password) for n in range(60)]
            return merchant, sku, sale, buyers

        merchant, sku, sale, buyers = committed(setup)
        try:
            _rush(sale, sku, buyers)
        finally:
            def cleanup():
                mine = Order.objects.filter(merchant=merchant)
                checkouts = list(mine.values_list("checkout_id", flat=True))
                mine.delete()
                Checkout.objects.filter(pk__in=checkouts).delete()
                FlashSale.objects.filter(pk=sale.pk).delete()
                product_transition(product=sku.product, action="delist")

            committed(cleanup)
            flash.forget(sale.pk)


def _rush(sale, sku, buyers):
    # Each buyer wants 1 or 2; every third fires a second purchase of 1 at once.
    wants = [(b, 1 + n % 2) for n, b in enumerate(buyers)]
    wants += [(b, 1) for n, b in enumerate(buyers) if n % 3 == 0]
    restarted = threading.Event()

    def restart_redis():
        time.sleep(0.05)
        redis = next(p for p in services_plugin._started if p.name == "redis")
        redis.stop()
        time.sleep(0.3)
        redis.start()
        restarted.set()
        return "restarted"

    jobs = [lambda b=b, q=q: buy(b, sale, q) for b, q in wants]
    jobs.insert(len(jobs) // 4, restart_redis)
    outcomes = run_concurrently(jobs, sessions=12, timeout=120)
    assert restarted.is_set()
    _drop_pooled_redis_connections()
    codes = Counter(o[1].code if isinstance(o[1], ApplicationError) else repr(o[1])
                    for o in outcomes if not o[0])
    assert set(codes) <= {"sold_out", "flash_limit", "flash_unavailable"}, codes

    # Whoever was told "try again" does so, now that Redis is back.
    retry = [(b, q) for (b, q), o in zip(wants, [o for i, o in enumerate(outcomes)
                                                 if jobs[i] is not restart_redis],
                                         strict=True)
             if not o[0] and o[1].code == "flash_unavailable"]
    run_concurrently([lambda b=b, q=q: _try(b, sale, q) for b, q in retry], sessions=6)

    sale.refresh_from_db()
    lines = OrderLine.objects.filter(flash_sale=sale,
                                     order__checkout__status=CheckoutStatus.PENDING_PAYMENT)
    held = defaultdict(int)
    for buyer_id, quantity in lines.values_list("order__buyer_id", "quantity"):
        held[buyer_id] += quantity
    assert sale.sold == 30  # 60 buyers want more than 30: sold out, exactly
    assert lines.aggregate(n=Sum("quantity"))["n"] == 30
    assert max(held.values()) <= 2
    assert Sku.objects.get(pk=sku.pk).reserved == 30
    takes = dict(FlashSaleTake.objects.filter(flash_sale=sale, quantity__gt=0)
                 .values_list("user_id", "quantity"))
    assert takes == dict(held)
    # Redis and the database agree (the copy rebuilt after the restart, or still lost and
    # rebuilt now by the next buyer).
    if flash.state(sale.pk) is None:
        assert flash.rebuild(sale_id=sale.pk)
    assert flash.state(sale.pk) == db_state(sale) == (0, dict(held))


def _try(buyer, sale, quantity):
    try:
        return buy(buyer, sale, quantity)
    except ApplicationError as exc:
        if exc.code in ("sold_out", "flash_limit"):
            return exc.code
        raise


# --- the cap as the shopper sees it --------------------------------------------------------


def test_i_the_cap_is_shown_and_units_over_it_cost_the_regular_price(client_on, province,
                                                                     shop):
    sale = flash_sale(shop, quantity=10, limit=2)
    client = client_on(province.bank_a, province.shopper)
    page = client.get(f"/p/{shop.product_id}/").content.decode()
    assert "每人限购 2 件" in page and "您还可以按抢购价购买 2 件" in page

    cart = orders.cart_get_or_create(user=province.shopper)
    cart.items.all().delete()
    orders.cart_add(cart=cart, sku_id=shop.pk, quantity=3)
    page = client.get("/cart/").content.decode()
    assert "您还可以按抢购价购买 2 件" in page
    assert "其中 1 件超出限购，按原价 ¥39.90 计" in page
    assert "¥59.70" in page  # 2 × 9.90 + 39.90

    checkout = orders.checkout_place(buyer=province.shopper, cart=cart,
                                     storefront_bank=province.bank_a, delivery=ADDRESS)
    lines = sorted(OrderLine.objects.filter(order__checkout=checkout)
                   .values_list("price_kind", "quantity", "unit_price", "flash_sale_id"))
    assert [(k, q, str(p), s) for k, q, p, s in lines] == [
        ("flash", 2, "9.90", sale.pk), ("retail", 1, "39.90", None)]
    assert checkout.goods_total == Decimal("59.70")
    assert flash.state(sale.pk) == db_state(sale) == (8, {province.shopper.pk: 2})

    # Having bought 2, one more is at the regular price, and the pages say so.
    page = client.get(f"/p/{shop.product_id}/").content.decode()
    assert "您已按抢购价买满 2 件" in page
    orders.cart_add(cart=cart, sku_id=shop.pk, quantity=1)
    page = client.get("/cart/").content.decode()
    assert "其中 1 件超出限购，按原价 ¥39.90 计" in page
    again = orders.checkout_place(buyer=province.shopper, cart=cart,
                                  storefront_bank=province.bank_a, delivery=ADDRESS)
    assert again.goods_total == Decimal("39.90")
