"""Adding the same item to a cart from two requests at once (a double click, two tabs):
both requests succeed and both units are in the cart. Each request runs in a thread with
its own database session through the real page or API; the data is committed first and
removed at the end."""

from __future__ import annotations

import contextlib
import threading
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient

from catalog.services import product_transition
from conftest import host_of
from orders import services as orders
from orders.models import Cart, CartItem
from orders.services import carts
from tests.catalog_factories import approved_merchant
from tests.orders_factories import product_with_sku
from tests.test_stock_concurrency import committed, run_concurrently

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]


@pytest.fixture
def racing_carts(province, monkeypatch):
    """Two committed shoppers with an (empty) cart each and a SKU; both requests of a pair
    wait for each other after checking the SKU, so they reach the cart line together."""
    from accounts.services import user_register

    tag = uuid.uuid4().hex[:6]

    def setup():
        merchant, _ = approved_merchant(province.bank_a, province.a_manager,
                                        name=f"加购并发果园{tag}")
        sku = product_with_sku(merchant, name=f"加购并发苹果{tag}", price="20.00", stock=50)
        shoppers = [user_register(username=f"cart-{tag}-{n}", password=province.password)
                    for n in range(2)]
        for shopper in shoppers:
            orders.cart_get_or_create(user=shopper)
        pages = [Client(HTTP_HOST=host_of(province.bank_a)) for _n in range(2)]
        for page in pages:  # one session per tab; the session rows are committed here
            page.force_login(shoppers[0])
        return sku, shoppers, pages

    sku, shoppers, pages = committed(setup)
    together = threading.Barrier(2, timeout=5)
    checked = carts._buyable_sku

    def buyable_then_wait(sku_id):
        found = checked(sku_id)
        with contextlib.suppress(threading.BrokenBarrierError):
            together.wait()
        return found

    monkeypatch.setattr(carts, "_buyable_sku", buyable_then_wait)
    yield sku, shoppers, pages, together
    committed(lambda: (Cart.objects.filter(user__in=shoppers).delete(),
                       product_transition(product=sku.product, action="delist")))


def line_quantity(user, sku) -> int | None:
    item = CartItem.objects.filter(cart__user=user, sku=sku).first()
    return item.quantity if item else None


def test_two_adds_at_once_on_the_page_both_count(racing_carts):
    sku, shoppers, pages, _together = racing_carts

    def add(page):
        return page.post("/cart/add/", {"sku": sku.pk, "quantity": "1"}).status_code

    outcomes = run_concurrently([lambda: add(pages[0]), lambda: add(pages[1])], sessions=2)
    assert outcomes == [(True, 302), (True, 302)]
    assert line_quantity(shoppers[0], sku) == 2


def test_two_adds_at_once_through_the_api_both_count(racing_carts):
    sku, shoppers, _pages, _together = racing_carts
    apis = [APIClient(HTTP_HOST=host_of(sku.product.merchant.bank)) for _n in range(2)]
    for api in apis:
        api.force_authenticate(shoppers[1])

    def add(api):
        response = api.post("/api/v1/cart/items/", {"sku": sku.pk, "quantity": 1},
                            format="json")
        return response.status_code

    outcomes = run_concurrently([lambda: add(apis[0]), lambda: add(apis[1])], sessions=2)
    assert outcomes == [(True, 201), (True, 201)]
    assert line_quantity(shoppers[1], sku) == 2


def test_adds_over_the_line_limit_are_refused_and_change_nothing(racing_carts):
    sku, shoppers, _pages, together = racing_carts
    together.abort()  # one request at a time here
    cart = Cart.objects.get(user=shoppers[0])
    committed(lambda: orders.cart_add(cart=cart, sku_id=sku.pk,
                                      quantity=orders.MAX_LINE_QUANTITY - 1))
    with pytest.raises(ValidationError):
        committed(lambda: orders.cart_add(cart=cart, sku_id=sku.pk, quantity=2))
    assert line_quantity(shoppers[0], sku) == orders.MAX_LINE_QUANTITY - 1
    committed(lambda: orders.cart_add(cart=cart, sku_id=sku.pk, quantity=1))
    assert line_quantity(shoppers[0], sku) == orders.MAX_LINE_QUANTITY
