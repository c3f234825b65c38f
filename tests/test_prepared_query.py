"""core.prepared: a hot path's query built and compiled once, then run with new values,
gives the rows the ORM gives (model instances, their select_related rows, annotations) and
refuses a builder whose query would silently keep a stale value."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from catalog.models import Sku
from core.prepared import PreparedQuery
from orders import services as orders
from orders.models import CartItem
from orders.services.checkout import _cart_lines_query
from tests.orders_factories import market

pytestmark = pytest.mark.django_db


def _cart_of(user, lines):
    cart = orders.cart_get_or_create(user=user)
    for sku, quantity in lines:
        orders.cart_add(cart=cart, sku_id=sku.pk, quantity=quantity)
    return cart


def _view(items):
    return [(i.pk, i.sku_id, i.quantity, i.sku.price, i.sku.product.name,
             i.sku.product.merchant.bank.code, i.flash_id, i.is_recalled,
             i.has_passing_report, i.touch_bank_id, i.touch_sharer_id) for i in items]


def test_the_checkouts_cart_lines_come_back_as_the_orm_reads_them(
        province, django_assert_num_queries):
    shop = market(province)
    cart = _cart_of(province.shopper, [(shop.sku_b, 1), (shop.sku_a, 2)])
    other = _cart_of(province.b_manager, [(shop.sku_a, 5)])
    prepared = PreparedQuery(_cart_lines_query, cart_id=int, buyer_id=int, now=datetime,
                             since=datetime)
    now = timezone.now()
    since = now - timedelta(days=30)
    for c, user in ((cart, province.shopper), (other, province.b_manager)):
        expected = list(_cart_lines_query(c.pk, user.pk, now, since))
        with django_assert_num_queries(1):  # the lines, their SKU, product, merchant, bank
            got = _view(prepared.fetch(cart_id=c.pk, buyer_id=user.pk, now=now, since=since))
        assert got == _view(expected)
        assert [i.sku_id for i in expected] == sorted(i.sku_id for i in expected)
    assert len(got) == 1 and got[0][2] == 5  # the second cart's one line, not the first's


def test_it_is_built_once_per_process_and_takes_exactly_its_values(province):
    shop = market(province)
    cart = _cart_of(province.shopper, [(shop.sku_a, 1)])
    builds = []

    def build(cart_id):
        builds.append(cart_id)
        return CartItem.objects.filter(cart_id=cart_id).select_related("sku")

    prepared = PreparedQuery(build, cart_id=int)
    for _ in range(3):
        (item,) = prepared.fetch(cart_id=cart.pk)
        assert isinstance(item.sku, Sku) and item.sku.pk == shop.sku_a.pk
    assert len(builds) == 2  # twice on the first call (to tell values from constants)
    assert cart.pk not in builds  # built with stand-ins, never with a real value
    assert prepared.fetch(cart_id=-1) == []
    with pytest.raises(TypeError):
        prepared.fetch(cart=cart.pk)


def test_a_builder_that_puts_a_changing_value_of_its_own_into_the_query_is_refused(province):
    def reads_the_clock(cart_id):
        return CartItem.objects.filter(cart_id=cart_id, added_at__lte=timezone.now())

    with pytest.raises(ImproperlyConfigured, match="changes between calls"):
        PreparedQuery(reads_the_clock, cart_id=int).fetch(cart_id=1)

    def ignores_its_parameter(cart_id):
        return CartItem.objects.filter(cart_id=7)

    with pytest.raises(ImproperlyConfigured, match="does not use"):
        PreparedQuery(ignores_its_parameter, cart_id=int).fetch(cart_id=1)
