"""A SKU's stock is what is on the shelf (``on_hand``, counted by the merchant) and what
of it is held (``reserved``) for unpaid checkouts and for paid orders whose goods have not
left; shoppers can buy ``stock = on_hand - reserved``. A count therefore never brings
reserved units back a second time."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import Sku
from catalog.services import product_transition, stock_set
from core.errors import ApplicationError
from orders import services as orders
from orders.models import Fulfilment
from payments import services as payments
from tests.catalog_factories import approved_merchant
from tests.orders_factories import pay, place, product_with_sku
from tests.test_stock_concurrency import committed, run_concurrently

pytestmark = pytest.mark.django_db

AT_LEAST_4 = "盘点数量不能少于 4"  # "count at least 4" (the pages speak Chinese by default)


@pytest.fixture
def shelf(province):
    """A merchant of bank A, run by ``province.a_admin``, with 10 boxes of dates."""
    merchant, _ = approved_merchant(province.bank_a, province.a_manager,
                                    name="盘点测试枣园", owner=province.a_admin)
    sku = product_with_sku(merchant, name="盘点红枣", price="30.00", stock=10)
    return merchant, sku


def figures(sku) -> tuple[int, int, int]:
    sku = Sku.objects.get(pk=sku.pk)
    return sku.on_hand, sku.reserved, sku.stock


def stock_url(sku) -> str:
    return (f"/api/v1/merchant/{sku.product.merchant_id}/products/{sku.product_id}"
            f"/skus/{sku.pk}/stock/")


def test_a_count_during_unpaid_checkouts_does_not_bring_their_units_back(
        province, api_on, shelf):
    _merchant, sku = shelf
    checkout = place(province.shopper, province.bank_a, [(sku, 3)])
    assert figures(sku) == (10, 3, 7)

    # The merchant counts the shelf: the 3 boxes are still there, so 10.
    api = api_on(province.bank_a, province.a_admin)
    response = api.put(stock_url(sku), {"on_hand": 10}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["on_hand"], response.json()["reserved"],
            response.json()["stock"]) == (10, 3, 7)

    # The checkout expires: its 3 boxes are available again - 10 in all, not 13.
    assert payments.expire_reservations(now=timezone.now() + timedelta(hours=1)) >= 1
    checkout.refresh_from_db()
    assert checkout.status == "cancelled"
    assert figures(sku) == (10, 0, 10)


def test_a_count_below_what_is_reserved_is_refused_and_changes_nothing(
        province, api_on, client_on, shelf):
    merchant, sku = shelf
    place(province.shopper, province.bank_a, [(sku, 4)])
    api = api_on(province.bank_a, province.a_admin)
    response = api.put(stock_url(sku), {"on_hand": 3}, format="json")
    assert response.status_code == 400
    assert AT_LEAST_4 in response.json()["errors"]["on_hand"][0]
    assert figures(sku) == (10, 4, 6)
    # The former field name still counts the shelf.
    assert api.put(stock_url(sku), {"stock": 8}, format="json").json()["on_hand"] == 8
    assert figures(sku) == (8, 4, 4)
    assert api.put(stock_url(sku), {}, format="json").status_code == 400

    # The merchant's page shows the three figures and refuses the same count with the message.
    page = client_on(province.bank_a, province.a_admin)
    base = f"/merchant/{merchant.pk}/products/{sku.product_id}/"
    html = page.get(base).content.decode()
    assert '<td class="sku-reserved">4</td>' in html
    assert '<td class="sku-available">4</td>' in html
    after = page.post(base + f"skus/{sku.pk}/stock/", {"stock": "2"}, follow=True)
    assert after.status_code == 200
    assert AT_LEAST_4 in after.content.decode()
    assert figures(sku) == (8, 4, 4)
    page.post(base + f"skus/{sku.pk}/stock/", {"stock": "12"})
    assert figures(sku) == (12, 4, 8)


def test_paid_units_stay_reserved_until_the_goods_leave(province, shelf):
    merchant, sku = shelf
    delivered = place(province.shopper, province.bank_a, [(sku, 2)])
    pay(delivered)
    assert figures(sku) == (10, 2, 8)  # paid, still on the shelf
    stock_set(sku=sku, on_hand=10)  # a count while it waits to be shipped
    orders.order_ship(order=delivered.orders.get(), actor=province.a_admin, carrier="邮政",
                      tracking_number="YZ0001")
    assert figures(sku) == (8, 0, 8)

    pickup = orders.FulfilmentChoice(Fulfilment.PICKUP, province.a_branch.pk)
    picked = place(province.shopper, province.bank_a, [(sku, 3)],
                   fulfilment={merchant.pk: pickup})
    pay(picked)
    assert figures(sku) == (8, 3, 5)
    orders.order_ready_for_pickup(order=picked.orders.get(), actor=province.a_admin)
    assert figures(sku) == (5, 0, 5)  # taken to the branch

    # Refunded in full before it left: still on the shelf, so on sale again.
    refunded = place(province.shopper, province.bank_a, [(sku, 1)])
    pay(refunded)
    assert figures(sku) == (5, 1, 4)
    orders.refund_issue(order=refunded.orders.get(), actor=province.a_admin,
                        amount=refunded.orders.get().total, reason="缺货")
    assert figures(sku) == (5, 0, 5)


def test_the_database_refuses_more_reserved_than_on_hand(shelf):
    _merchant, sku = shelf
    with pytest.raises(IntegrityError), transaction.atomic():
        Sku.objects.filter(pk=sku.pk).update(reserved=11)
    with pytest.raises(IntegrityError), transaction.atomic():
        Sku.objects.filter(pk=sku.pk).update(on_hand=-1, reserved=-1)


@pytest.mark.concurrency
def test_a_count_racing_checkouts_never_leaves_more_reserved_than_counted(province):
    """Checkouts of 2 boxes each and counts of 5 at the same moment, each in its own
    session: whichever order they commit in, reserved never exceeds on_hand, the refused
    checkouts are refused cleanly and an accepted count is never undone by a checkout."""
    from accounts.services import user_register
    from orders.models import Cart, Checkout, Order

    tag = uuid.uuid4().hex[:6]

    def setup():
        merchant, _ = approved_merchant(province.bank_a, province.a_manager,
                                        name=f"盘点并发枣园{tag}")
        sku = product_with_sku(merchant, name=f"盘点并发红枣{tag}", price="30.00", stock=20)
        buyers = [user_register(username=f"count-{tag}-{n}", password=province.password)
                  for n in range(8)]
        return merchant, sku, buyers

    merchant, sku, buyers = committed(setup)

    def buy(buyer):
        return place(buyer, province.bank_a, [(sku, 2)])

    def count():
        return stock_set(sku=Sku.objects.get(pk=sku.pk), on_hand=5)

    try:
        jobs = [lambda b=b: buy(b) for b in buyers] + [count, count]
        outcomes = run_concurrently(jobs, sessions=len(jobs))
        on_hand, reserved, stock = figures(sku)
        assert 0 <= reserved <= on_hand and stock == on_hand - reserved
        bought = sum(1 for ok, _r in outcomes[:8] if ok)
        assert reserved == 2 * bought
        for ok, result in outcomes[:8]:
            assert ok or (isinstance(result, ApplicationError)
                          and result.code == "out_of_stock"), result
        for ok, result in outcomes[8:]:
            assert ok or "不能少于" in str(result) or "count at least" in str(result), result
        if any(ok for ok, _r in outcomes[8:]):
            assert on_hand == 5 and reserved <= 5
        else:
            assert on_hand == 20 and reserved > 5
    finally:
        def cleanup():
            mine = Order.objects.filter(merchant=merchant)
            checkouts = list(mine.values_list("checkout_id", flat=True))
            mine.delete()
            Checkout.objects.filter(pk__in=checkouts, orders__isnull=True).delete()
            Cart.objects.filter(user__in=buyers).delete()
            product_transition(product=sku.product, action="delist")
        committed(cleanup)
