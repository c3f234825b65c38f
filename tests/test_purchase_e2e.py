"""The purchase of issue 4 end to end, committed, with the real Celery worker running the
scheduled work: a shopper on bank A's storefront buys from a merchant of bank A and one of
bank B in one checkout, pays by card, both merchants fulfil (delivery, branch pickup),
receipt is confirmed (once by the shopper, once by the worker's auto-confirmation), and
the ledger holds the escrow per bank to the fen; the bank-B order is credited to bank A.

The steps run in module fixtures, before any test transaction, so that what they write is
committed and the worker (another process) sees it; the tests then check what happened.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from orders import services as orders
from orders.models import Checkout, CheckoutStatus, Fulfilment, Order, OrderStatus
from orders.tasks import auto_confirm_orders
from payments import selectors as ledger
from payments.models import Posting
from payments.tasks import expire_reservations
from tests.orders_factories import market, pay, place

pytestmark = [pytest.mark.django_db, pytest.mark.worker]


@pytest.fixture(scope="module")
def purchase(province, celery_worker_process, django_db_blocker):
    with django_db_blocker.unblock():
        shop = market(province)
        buyer = province.shopper
        checkout = place(buyer, province.bank_a, [(shop.sku_a, 3), (shop.sku_b, 2)],
                         fulfilment={shop.merchant_b.pk: orders.FulfilmentChoice(
                             Fulfilment.PICKUP, province.a_branch.pk)})
        payment = pay(checkout)
        order_a = Order.objects.get(checkout=checkout, merchant=shop.merchant_a)
        order_b = Order.objects.get(checkout=checkout, merchant=shop.merchant_b)

        orders.order_ship(order=order_a, actor=province.a_manager, carrier="中国邮政",
                          tracking_number="EMS0000000001CN")
        orders.order_ready_for_pickup(order=order_b, actor=province.b_manager)
        order_b.refresh_from_db()
        orders.pickup_verify(bank=province.bank_a, code=order_b.pickup_code,
                             actor=province.a_manager)
        orders.order_confirm_receipt(order=order_b, actor=buyer)
        # The delivery's confirmation period passes; the worker confirms it.
        Order.objects.filter(pk=order_a.pk).update(
            auto_confirm_at=timezone.now() - timedelta(minutes=1))
        auto_confirmed = auto_confirm_orders.delay().get(timeout=60)
        order_a.refresh_from_db()
        order_b.refresh_from_db()
        checkout.refresh_from_db()
        return SimpleNamespace(
            shop=shop, checkout=checkout, payment=payment, order_a=order_a, order_b=order_b,
            auto_confirmed=auto_confirmed,
            escrow_a=ledger.escrow_by_merchant(bank=province.bank_a)[shop.merchant_a.pk],
            escrow_b=ledger.escrow_by_merchant(bank=province.bank_b)[shop.merchant_b.pk],
            legs=list(Posting.objects.filter(order__checkout=checkout)
                      .select_related("account")),
            trial_balance=ledger.trial_balance())


def test_checkout_totals_and_payment(purchase):
    checkout = purchase.checkout
    # 3 x 45.50 = 136.50 (free delivery over 99); 2 x 68.00 = 136.00 picked up.
    assert (checkout.goods_total, checkout.shipping_total, checkout.total) == (
        Decimal("272.50"), Decimal("0.00"), Decimal("272.50"))
    assert checkout.status == CheckoutStatus.PAID
    assert purchase.payment.status == "succeeded"
    assert purchase.payment.amount_fen == 27250


def test_the_bank_b_order_is_credited_to_bank_a(purchase, province):
    a, b = purchase.order_a, purchase.order_b
    assert (a.merchant_bank, a.referrer_bank, a.is_cross_bank) == (
        province.bank_a, province.bank_a, False)
    assert (b.merchant_bank, b.referrer_bank, b.is_cross_bank) == (
        province.bank_b, province.bank_a, True)


def test_both_fulfilled_and_confirmed_one_by_the_worker(purchase):
    assert purchase.auto_confirmed >= 1
    assert purchase.order_a.status == OrderStatus.COMPLETED
    assert purchase.order_b.status == OrderStatus.COMPLETED
    kinds = list(purchase.order_a.events.values_list("kind", flat=True))
    assert kinds == ["placed", "pay", "ship", "confirm_receipt"]
    assert purchase.order_a.events.last().note  # "confirmed automatically"
    assert list(purchase.order_b.events.values_list("kind", flat=True)) == [
        "placed", "pay", "ready_for_pickup", "pick_up", "confirm_receipt"]


def test_escrow_per_bank_to_the_fen(purchase, province):
    assert (purchase.escrow_a, purchase.escrow_b) == (Decimal("136.50"), Decimal("136.00"))
    assert purchase.escrow_a + purchase.escrow_b == purchase.checkout.total
    assert sum(p.amount for p in purchase.legs) == 0
    # Bank B's merchant's money sits only on bank B's accounts: nothing is pooled.
    assert {p.account.bank_id for p in purchase.legs if p.order_id == purchase.order_b.pk} \
        == {province.bank_b.pk}
    assert purchase.trial_balance == 0


@pytest.fixture(scope="module")
def expiry(province, celery_worker_process, django_db_blocker):
    with django_db_blocker.unblock():
        shop = market(province, stock_a=5)
        checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 5)])
        shop.sku_a.refresh_from_db()
        reserved_stock = shop.sku_a.stock
        Checkout.objects.filter(pk=checkout.pk).update(
            reserved_until=timezone.now() - timedelta(seconds=1))
        expired = expire_reservations.delay().get(timeout=60)
        checkout.refresh_from_db()
        shop.sku_a.refresh_from_db()
        return SimpleNamespace(reserved_stock=reserved_stock, expired=expired,
                               checkout=checkout, stock_after=shop.sku_a.stock)


def test_the_worker_expires_an_abandoned_checkout_and_stock_comes_back(expiry):
    assert expiry.reserved_stock == 0
    assert expiry.expired >= 1
    assert expiry.checkout.status == CheckoutStatus.CANCELLED
    assert expiry.stock_after == 5
