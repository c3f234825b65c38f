"""Faults with the real components: the platform's Redis stopped while people shop.

The test session's own Redis (started by tests.services_plugin) is stopped for the test
and started again on the same port afterwards, so the worker and web server of the session
find it again."""

from __future__ import annotations

import contextlib

import pytest
from django.core.cache import cache
from kombu import pools as kombu_pools

from federation import recorder
from tests import services_plugin
from tests.catalog_factories import approved_merchant, listed_product

pytestmark = pytest.mark.django_db


@contextlib.contextmanager
def redis_stopped():
    redis = next(p for p in services_plugin._started if p.name == "redis")
    redis.stop()
    try:
        yield
    finally:
        redis.start()
        _drop_pooled_redis_connections()


def _drop_pooled_redis_connections() -> None:
    """This test process keeps pooled connections (Celery's broker and results, the cache,
    the traffic recorder) to the Redis that was stopped: drop them, so that the tests after
    this one start from fresh connections, as a restarted process would."""
    from config.celery import app

    # What a forked worker process does with the connections it inherited.
    kombu_pools.reset()
    app._after_fork()
    with contextlib.suppress(AttributeError):
        app.control._after_fork()
    backend_client = getattr(app.backend, "client", None)
    if backend_client is not None:
        backend_client.connection_pool.disconnect()
    for pool in getattr(cache._cache, "_pools", {}).values():
        pool.disconnect()
    recorder.reset_client()


@contextlib.contextmanager
def card_server_stopped():
    """The session's Stripe-compatible server stopped, then started again on its port with
    its state kept (without --from-scratch)."""
    server = next(p for p in services_plugin._started if p.name == "stripe")
    server.stop()
    try:
        yield
    finally:
        server.args = [a for a in server.args if a != "--from-scratch"]
        server.start()


@pytest.fixture
def product(province):
    merchant, _ = approved_merchant(province.bank_a, province.a_admin)
    return listed_product(merchant, name="断网测试蜂蜜", stock=20)


def test_with_redis_down_the_storefront_search_and_cart_keep_working(client_on, province,
                                                                     product):
    shopper = client_on(province.bank_a, province.shopper)
    dropped_before = recorder.dropped()
    with redis_stopped():
        assert shopper.get("/").status_code == 200
        assert shopper.get(f"/p/{product.pk}/").status_code == 200
        found = shopper.get("/search/", {"q": "蜂蜜"})
        assert found.status_code == 200 and "断网测试蜂蜜" in found.content.decode()
        sku = product.skus.first()
        added = shopper.post("/cart/add/", {"sku": sku.pk, "quantity": 1})
        assert added.status_code in (200, 302)
        assert shopper.get("/cart/").status_code == 200
    assert cache.get("anything-after-restart") is None  # the cache works again
    assert recorder.dropped() > dropped_before  # the visits were counted as dropped


def test_with_redis_down_a_shopper_checks_out_and_pays(api_on, province, product,
                                                      django_capture_on_commit_callbacks):
    from accounts.services import user_register
    from orders.models import Checkout
    from tests.test_orders_api import DELIVERY, GOOD

    buyer = user_register(username="redis-down-buyer", password=province.password)
    api = api_on(province.bank_a, buyer)
    sku = product.skus.first()
    with redis_stopped(), django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/cart/items/", {"sku": sku.pk, "quantity": 2},
                        format="json").status_code in (200, 201)
        placed = api.post("/api/v1/checkouts/", {"delivery": DELIVERY}, format="json")
        assert placed.status_code == 201, placed.content[:300]
        number = placed.json()["number"]
        paid = api.post(f"/api/v1/checkouts/{number}/payments/", {"card": GOOD},
                        format="json", HTTP_IDEMPOTENCY_KEY="redis-down-1")
        assert paid.status_code == 201, paid.content[:300]
    assert Checkout.objects.get(number=number).status == "paid"
    sku.refresh_from_db()


def test_with_the_card_server_down_the_shopper_is_told_and_nothing_is_charged_twice(
        api_on, province, product):
    from accounts.services import user_register
    from orders.models import Checkout
    from payments.models import Payment, PaymentStatus
    from tests.test_orders_api import DELIVERY, GOOD

    buyer = user_register(username="card-down-buyer", password=province.password)
    api = api_on(province.bank_a, buyer)
    sku = product.skus.first()
    api.post("/api/v1/cart/items/", {"sku": sku.pk, "quantity": 1}, format="json")
    number = api.post("/api/v1/checkouts/", {"delivery": DELIVERY},
                      format="json").json()["number"]
    with card_server_stopped():
        down = api.post(f"/api/v1/checkouts/{number}/payments/", {"card": GOOD},
                        format="json", HTTP_IDEMPOTENCY_KEY="card-down-1")
        assert down.status_code == 503, down.content[:300]
        assert down["Retry-After"]
        assert "未扣款" in down.json()["message"]  # nothing reached it: say so
        assert Checkout.objects.get(number=number).status != "paid"
    again = api.post(f"/api/v1/checkouts/{number}/payments/", {"card": GOOD},
                     format="json", HTTP_IDEMPOTENCY_KEY="card-down-2")
    assert again.status_code == 201, again.content[:300]
    assert Checkout.objects.get(number=number).status == "paid"
    checkout = Checkout.objects.get(number=number)
    assert Payment.objects.filter(checkout=checkout,
                                  status=PaymentStatus.SUCCEEDED).count() == 1
