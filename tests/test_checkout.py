"""Buying across banks through the real services, the real database and the local
Stripe-compatible server: checkout, card payment into escrow, fulfilment, refunds."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import Sku
from core.errors import ApplicationError
from orders import services as orders
from orders.models import CheckoutStatus, Fulfilment, OrderLine, OrderStatus
from orders.selectors import quote
from payments import selectors as ledger
from payments import services as payments
from payments.models import PaymentStatus, Posting
from tests.orders_factories import ADDRESS, AUTH_CARD, DECLINED_CARD, market, pay, place

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(province):
    return market(province)


def test_one_checkout_across_two_banks_escrow_fulfilment_and_referral(province, shop):
    buyer = province.shopper
    pickup = orders.FulfilmentChoice(Fulfilment.PICKUP, province.a_branch.pk)
    checkout = place(buyer, province.bank_a, [(shop.sku_a, 2), (shop.sku_b, 1)],
                     fulfilment={shop.merchant_b.pk: pickup})
    # Apples 2 x 45.50 = 91.00 + 8.00 delivery; honey 68.00, picked up: no fee.
    assert checkout.goods_total == Decimal("159.00")
    assert checkout.shipping_total == Decimal("8.00")
    assert checkout.total == Decimal("167.00")
    order_a, order_b = checkout.orders.order_by("merchant__bank__code")
    assert (order_a.merchant_bank, order_a.referrer_bank, order_a.is_cross_bank) == (
        province.bank_a, province.bank_a, False)
    assert (order_b.merchant_bank, order_b.referrer_bank, order_b.is_cross_bank) == (
        province.bank_b, province.bank_a, True)
    shop.sku_a.refresh_from_db()
    assert shop.sku_a.stock == 18  # reserved

    # Other test modules commit data of these banks: compare with what was there before.
    before = ledger.escrow_by_bank()
    payment = pay(checkout)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.amount_fen == 16700
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID
    balances = ledger.escrow_by_bank()
    zero = Decimal("0.00")
    assert balances[province.bank_a.pk] - before.get(province.bank_a.pk, zero) == \
        Decimal("99.00")
    assert balances[province.bank_b.pk] - before.get(province.bank_b.pk, zero) == \
        Decimal("68.00")
    assert ledger.trial_balance() == Decimal("0.00")

    order_a.refresh_from_db()
    orders.order_ship(order=order_a, actor=province.a_manager, carrier="中国邮政",
                      tracking_number="EMS1234567890")
    orders.order_track(order=order_a, actor=province.a_manager, description="已签收",
                       location="甲县", delivered=True)
    order_b.refresh_from_db()
    orders.order_ready_for_pickup(order=order_b, actor=province.b_manager)
    order_b.refresh_from_db()
    assert len(order_b.pickup_code) == 8
    # Bank B's staff cannot hand over goods waiting at bank A's branch.
    with pytest.raises(ApplicationError):
        orders.pickup_verify(bank=province.bank_b, code=order_b.pickup_code,
                             actor=province.b_manager)
    orders.pickup_verify(bank=province.bank_a, code=order_b.pickup_code,
                         actor=province.a_manager)
    for order in (order_a, order_b):
        orders.order_confirm_receipt(order=order, actor=buyer)
        order.refresh_from_db()
        assert order.status == OrderStatus.COMPLETED


def test_illegal_transitions_are_refused(province, shop):
    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 1)])
    order = checkout.orders.get()
    with pytest.raises(ApplicationError) as err:
        orders.order_ship(order=order, actor=province.a_manager, carrier="顺丰",
                          tracking_number="SF1")
    assert err.value.code == "illegal_transition"
    with pytest.raises(ApplicationError):
        orders.order_confirm_receipt(order=order, actor=province.shopper)


def test_declined_card_keeps_the_reservation_and_another_card_pays(province, shop):
    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 3)])
    failed = pay(checkout, DECLINED_CARD)
    assert failed.status == PaymentStatus.FAILED
    assert failed.failure_message
    shop.sku_a.refresh_from_db()
    assert shop.sku_a.stock == 17
    assert pay(checkout).status == PaymentStatus.SUCCEEDED


def test_authentication_required_then_completed(province, shop):
    checkout = place(province.shopper, province.bank_a, [(shop.sku_b, 1)])
    payment = pay(checkout, AUTH_CARD)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PENDING_PAYMENT
    payment = payments.payment_authenticate(payment=payment, success=True)
    assert payment.status == PaymentStatus.SUCCEEDED
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID


def test_the_same_idempotency_key_never_charges_twice(province, shop):
    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 1)])
    first = pay(checkout, key="same-key-1")
    second = pay(checkout, key="same-key-1")
    assert first.pk == second.pk
    assert Posting.objects.filter(order__checkout=checkout).count() == 2


def test_abandoned_checkout_expires_and_gives_stock_back(province, shop):
    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 5)])
    pay(checkout, AUTH_CARD)  # never authenticated
    assert payments.expire_reservations(now=timezone.now() + timedelta(minutes=16)) == 1
    checkout.refresh_from_db()
    shop.sku_a.refresh_from_db()
    assert checkout.status == CheckoutStatus.CANCELLED
    assert shop.sku_a.stock == 20
    assert checkout.orders.get().status == OrderStatus.CANCELLED
    with pytest.raises(ApplicationError):
        pay(checkout)


def test_refunds_partial_then_full_through_gateway_and_ledger(province, shop):
    checkout = place(province.shopper, province.bank_a, [(shop.sku_b, 2)])
    held = ledger.escrow_by_bank().get(province.bank_b.pk, Decimal("0.00"))
    pay(checkout)
    order = checkout.orders.get()  # 136.00 goods + 0 (free over 99)
    assert order.total == Decimal("136.00")
    refund = orders.refund_request(order=order, actor=province.shopper, amount="36.10",
                                   reason="一瓶漏了")
    orders.refund_decide(refund=refund, actor=province.b_manager, approve=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.refunded_total == Decimal("36.10")
    assert ledger.escrow_by_bank()[province.bank_b.pk] - held == Decimal("99.90")
    with pytest.raises(ValidationError):
        orders.refund_request(order=order, actor=province.shopper, amount="99.91",
                              reason="全部")
    refund = orders.refund_request(order=order, actor=province.shopper, amount="99.90",
                                   reason="全部")
    orders.refund_decide(refund=refund, actor=province.b_manager, approve=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert ledger.escrow_by_bank().get(province.bank_b.pk, Decimal("0")) - held == 0
    assert ledger.trial_balance() == Decimal("0.00")


def test_wholesale_prices_for_business_buyers_only(province, shop):
    from accounts.services import user_register

    business = user_register(username="t-canteen", password=province.password,
                             buyer_kind="business", business_name="甲县一中食堂")
    checkout = place(business, province.bank_a, [(shop.sku_a, 12)])
    assert checkout.goods_total == Decimal("468.00")  # 12 x 39.00
    retail = place(province.shopper, province.bank_a, [(shop.sku_a, 8)])
    assert retail.goods_total == Decimal("364.00")  # 8 x 45.50: tiers are not for them
    assert quote(sku=shop.sku_a, quantity=12, buyer=province.shopper).unit_price == \
        Decimal("45.50")


def test_overselling_is_refused_and_changes_nothing(province, shop):
    with pytest.raises(ApplicationError) as err:
        place(province.shopper, province.bank_a, [(shop.sku_b, 1), (shop.sku_a, 21)])
    assert err.value.code == "out_of_stock"
    shop.sku_b.refresh_from_db()
    assert shop.sku_b.stock == 20


def test_postings_cannot_be_edited_or_unbalanced(province, shop):
    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 1)])
    pay(checkout)
    posting = Posting.objects.filter(order__checkout=checkout).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Posting.objects.filter(pk=posting.pk).update(amount=Decimal("1.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Posting.objects.filter(pk=posting.pk).delete()


def test_money_arriving_for_a_cancelled_checkout_goes_straight_back(province, shop):
    from payments.gateway import stripe_client

    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 2)])
    payment = pay(checkout, AUTH_CARD)
    # The reservation lapsed without the intent being cancelled (say, the gateway was
    # unreachable then); the shopper completes authentication afterwards.
    orders.checkout_cancel(checkout=checkout, reason="expired")
    payment = payments.payment_authenticate(payment=payment, success=True)
    assert payment.status == PaymentStatus.RETURNED
    assert payment.late_refund_reference
    refund = stripe_client().v1.refunds.retrieve(payment.late_refund_reference)
    assert refund.amount == payment.amount_fen
    assert not Posting.objects.filter(order__checkout=checkout).exists()
    shop.sku_a.refresh_from_db()
    assert shop.sku_a.stock == 20


def test_an_attempt_authenticated_meanwhile_is_not_charged_twice(province, shop):
    from payments.gateway import stripe_client

    checkout = place(province.shopper, province.bank_a, [(shop.sku_b, 1)])
    first = pay(checkout, AUTH_CARD)
    client = stripe_client()
    intent = client.v1.payment_intents.retrieve(first.intent_id)
    client.raw_request("post", f"/v1/payment_intents/{first.intent_id}/_authenticate",
                       success="true", client_secret=intent.client_secret)
    with pytest.raises(ApplicationError) as err:
        pay(checkout)  # another card, while the first was just approved
    assert err.value.code == "already_paid"
    first.refresh_from_db()
    checkout.refresh_from_db()
    assert first.status == PaymentStatus.SUCCEEDED
    assert checkout.status == CheckoutStatus.PAID
    assert Posting.objects.filter(order__checkout=checkout).count() == 2


def test_checkout_of_two_merchants_takes_few_round_trips(province, django_assert_max_num_queries):
    """Set-based writes: one statement each for the cart, the checkout, the orders, the
    lines, the events, the stock of all SKUs and the emptied cart (plus the referral
    lookup), whatever the number of lines; no `SET search_path` in between."""
    from tests.orders_factories import product_with_sku

    shop = market(province, stock_a=50, stock_b=50)
    sku_c = product_with_sku(shop.merchant_a, name="甲县梨", price="12.00", stock=50)
    cart = orders.cart_get_or_create(user=province.shopper)
    cart.items.all().delete()
    for sku, qty in ((shop.sku_a, 2), (sku_c, 3), (shop.sku_b, 1)):
        orders.cart_add(cart=cart, sku_id=sku.pk, quantity=qty)
    with django_assert_max_num_queries(8) as captured:
        checkout = orders.checkout_place(buyer=province.shopper, cart=cart,
                                         storefront_bank=province.bank_a, delivery=ADDRESS)
    assert not [q for q in captured.captured_queries
                if q["sql"].startswith("SET search_path")]
    assert checkout.orders.count() == 2
    assert OrderLine.objects.filter(order__checkout=checkout).count() == 3
    assert Sku.objects.get(pk=sku_c.pk).stock == 47
    assert not cart.items.exists()
