"""One request per Idempotency-Key, for every API operation that takes one (checkout
payment, loan repayment, checkout financing, order financing, the points mall's cash
part): the same key with another body is a 422 and changes nothing; the same key while
the first request is still in flight is a 409 with Retry-After; the same request again
replays the first answer. Through the real API, database, cache and local card server."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.utils import timezone
from django_tenants.utils import schema_context

from core.idempotency import IN_FLIGHT_SECONDS, request_fingerprint
from core.models import IdempotencyKey
from lending.models import Application, Loan, LoanRepayment
from payments.models import Payment
from payments.services import charges as payment_charges
from tests.lending_factories import buyer, lenient_policy
from tests.orders_factories import market, pay, place
from tests.rewards_factories import grant, offer

pytestmark = pytest.mark.django_db

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
OTHER_CARD = {**CARD, "number": "5555555555554444"}


def key(value: str | None = None) -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": value or uuid.uuid4().hex}


def refused_as_mismatch(response) -> None:
    assert response.status_code == 422, response.content
    assert "idempotency_key" in response.json()["errors"]
    assert "Idempotency-Key" in response.json()["message"]


def refused_as_in_flight(response) -> None:
    assert response.status_code == 409, response.content
    assert int(response["Retry-After"]) > 0
    assert response.json()["message"]


@pytest.fixture
def shop(province):
    return market(province)


def test_the_checkout_payment_key(province, shop, api_on):
    me = buyer()
    api = api_on(province.bank_a, me)
    checkout = place(me, province.bank_a, [(shop.sku_a, 1)])
    url = f"/api/v1/checkouts/{checkout.number}/payments/"
    once = key()
    first = api.post(url, {"card": CARD}, format="json", **once)
    assert first.status_code == 201 and first.json()["status"] == "succeeded"
    refused_as_mismatch(api.post(url, {"card": OTHER_CARD}, format="json", **once))
    replay = api.post(url, {"card": CARD}, format="json", **once)
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    assert Payment.objects.filter(checkout=checkout).count() == 1

    # A first request still at the gateway (its row committed, no answer yet).
    other = place(me, province.bank_a, [(shop.sku_a, 1)])
    busy = uuid.uuid4().hex
    payment = Payment.objects.create(checkout=other, idempotency_key=f"u{me.pk}:{busy}",
                                     amount_fen=100)
    IdempotencyKey.objects.create(
        scope="checkout_pay", owner=f"user:{me.pk}", key=busy, target_id=payment.pk,
        fingerprint=request_fingerprint(operation="checkout_pay", checkout=other.number,
                                        card=CARD))
    refused_as_in_flight(api.post(f"/api/v1/checkouts/{other.number}/payments/",
                                  {"card": CARD}, format="json", **key(busy)))


def test_the_loan_repayment_key(province, shop, api_on):
    lenient_policy(province.bank_a, province.a_admin)
    me = buyer(business=True)
    pay(place(me, province.bank_a, [(shop.sku_a, 10)]))
    api = api_on(province.bank_a, me)
    assert api.put("/api/v1/credit/consent/", {"agree": True}, format="json").status_code == 200
    checkout = place(me, province.bank_a, [(shop.sku_b, 2)])
    base = f"/api/v1/credit/checkouts/{checkout.number}/finance/"
    once = key()
    made = api.post(base, {}, format="json", **once)
    assert made.status_code == 201, made.json()
    loan_id = made.json()["loan"]["id"]
    url = f"/api/v1/credit/loans/{loan_id}/repayments/"

    declined = {**CARD, "number": "4000000000000341"}
    first_key = key()
    first = api.post(url, {"card": declined}, format="json", **first_key)
    assert first.status_code == 201 and first.json()["status"] == "failed"
    # The same key with a good card is not a new attempt: it is refused, nothing charged.
    refused_as_mismatch(api.post(url, {"card": CARD}, format="json", **first_key))
    refused_as_mismatch(api.post(url, {"card": declined, "everything": True},
                                 format="json", **first_key))
    with schema_context(province.bank_a.schema_name):
        assert LoanRepayment.objects.filter(loan_id=loan_id).count() == 1
        # A repayment still at the gateway.
        busy = uuid.uuid4().hex
        repayment = LoanRepayment.objects.create(
            loan_id=loan_id, source="card", idempotency_key=f"card:u{me.pk}:{busy}",
            status="pending", amount=Decimal("1.00"), at=checkout.created_at)
        IdempotencyKey.objects.create(
            scope="loan_repay", owner=f"bank:{province.bank_a.pk}/user:{me.pk}", key=busy,
            target_id=repayment.pk,
            fingerprint=request_fingerprint(operation="loan_repay", loan=loan_id, card=CARD,
                                            everything=False))
    refused_as_in_flight(api.post(url, {"card": CARD}, format="json", **key(busy)))


def test_the_checkout_financing_key(province, shop, api_on):
    lenient_policy(province.bank_a, province.a_admin)
    me = buyer()
    pay(place(me, province.bank_a, [(shop.sku_a, 10)]))
    api = api_on(province.bank_a, me)
    assert api.put("/api/v1/credit/consent/", {"agree": True}, format="json").status_code == 200
    checkout = place(me, province.bank_a, [(shop.sku_b, 2)])
    url = f"/api/v1/credit/checkouts/{checkout.number}/finance/"
    months = api.get(f"/api/v1/credit/checkouts/{checkout.number}/options/").json()
    choices = [o["months"] for o in months["instalments"]]
    assert len(choices) >= 2
    once = key()
    # Another request under a key while the first with it is in flight (begun, no result).
    fingerprint = request_fingerprint(operation="checkout_finance", checkout=checkout.number,
                                      months=choices[0])
    in_flight = IdempotencyKey.objects.create(
        scope="checkout_financing", owner=f"bank:{province.bank_a.pk}/user:{me.pk}",
        key=once["HTTP_IDEMPOTENCY_KEY"], fingerprint=fingerprint)
    refused_as_in_flight(api.post(url, {"months": choices[0]}, format="json", **once))
    # A request in flight for longer than a process lives is taken over.
    IdempotencyKey.objects.filter(pk=in_flight.pk).update(
        created_at=timezone.now() - timedelta(seconds=IN_FLIGHT_SECONDS + 1))
    made = api.post(url, {"months": choices[0]}, format="json", **once)
    assert made.status_code == 201, made.json()
    refused_as_mismatch(api.post(url, {"months": choices[1]}, format="json", **once))
    assert api.post(url, {"months": choices[0]}, format="json", **once).status_code == 200
    with schema_context(province.bank_a.schema_name):
        assert Loan.objects.get(user_id=me.pk).lines.count() == choices[0]


def test_the_order_financing_key(province, shop, api_on):
    lenient_policy(province.bank_b, province.b_admin)
    checkout = place(province.shopper, province.bank_a, [(shop.sku_b, 2)])
    pay(checkout)
    order = checkout.orders.get()
    owner = shop.merchant_b.members.get().user
    api = api_on(province.bank_b, owner)
    base = f"/api/v1/merchant/{shop.merchant_b.pk}/financing/"
    assert api.put(f"{base}consent/", {"agree": True}, format="json").status_code == 200
    url = f"{base}orders/{order.number}/finance/"
    once = key()
    made = api.post(url, {"amount": "50.00"}, format="json", **once)
    assert made.status_code == 201, made.json()
    refused_as_mismatch(api.post(url, {"amount": "60.00"}, format="json", **once))
    again = api.post(url, {"amount": "50.00"}, format="json", **once)
    assert again.status_code == 200 and again.json()["id"] == made.json()["id"]
    with schema_context(province.bank_b.schema_name):
        assert Application.objects.get(order_id=order.pk).amount == Decimal("50.00")


def test_the_points_mall_cash_key(province, shop, api_on, monkeypatch):
    from rewards.tests.test_rewards_cash import _Gateway

    bank, me = province.bank_a, buyer()
    grant(bank, me, 500)
    plus_cash = offer(bank, shop.merchant_a, shop.sku_a, cash_price=Decimal("5.00"),
                      per_customer_limit=5)
    api = api_on(bank, me)
    redeem = f"/api/v1/points/offers/{plus_cash.pk}/redeem/"
    rid = api.post(redeem, {"quantity": 1, "branch_id": province.a_branch.pk},
                   format="json").json()["id"]
    url = f"/api/v1/points/redemptions/{rid}/pay/"
    once = key()
    paid = api.post(url, {"card": CARD}, format="json", **once)
    assert paid.status_code == 200 and paid.json()["status"] == "ready"
    refused_as_mismatch(api.post(url, {"card": OTHER_CARD}, format="json", **once))
    assert api.post(url, {"card": CARD}, format="json", **once).status_code == 200

    # The answer lost: 202 and the payment stays open; the same key again is in flight,
    # another key is a payment in progress; both 409.
    second = api.post(redeem, {"quantity": 1, "branch_id": province.a_branch.pk},
                      format="json").json()["id"]
    url = f"/api/v1/points/redemptions/{second}/pay/"
    monkeypatch.setattr(payment_charges, "stripe_client", lambda: _Gateway(lose_answer=True))
    lost_key = key()
    lost = api.post(url, {"card": CARD}, format="json", **lost_key)
    assert lost.status_code == 202 and lost.json()["status"] == "awaiting_cash"
    monkeypatch.undo()
    refused_as_in_flight(api.post(url, {"card": CARD}, format="json", **lost_key))
    refused_as_in_flight(api.post(url, {"card": CARD}, format="json", **key()))
    refused_as_mismatch(api.post(url, {"card": OTHER_CARD}, format="json", **lost_key))


def test_two_buyers_may_send_the_same_key(province, shop, api_on):
    """Keys are each owner's own: the same key from another buyer is a request of its own
    (201), not a replay or a mismatch of the first buyer's."""
    shared = key()
    made = []
    for person in (buyer(), buyer()):
        checkout = place(person, province.bank_a, [(shop.sku_a, 1)])
        answer = api_on(province.bank_a, person).post(
            f"/api/v1/checkouts/{checkout.number}/payments/", {"card": CARD}, format="json",
            **shared)
        assert answer.status_code == 201, answer.content
        assert answer.json()["status"] == "succeeded"
        made.append(Payment.objects.get(checkout=checkout).pk)
    assert made[0] != made[1]
    assert IdempotencyKey.objects.filter(key=shared["HTTP_IDEMPOTENCY_KEY"]).count() == 2


def test_a_financing_key_outlives_the_cache(province, shop, api_on):
    """The key and its request are in the database: with the cache emptied, the same key
    with another amount is still refused and the same request still replays."""
    lenient_policy(province.bank_b, province.b_admin)
    checkout = place(province.shopper, province.bank_a, [(shop.sku_b, 2)])
    pay(checkout)
    order = checkout.orders.get()
    owner = shop.merchant_b.members.get().user
    api = api_on(province.bank_b, owner)
    base = f"/api/v1/merchant/{shop.merchant_b.pk}/financing/"
    assert api.put(f"{base}consent/", {"agree": True}, format="json").status_code == 200
    url = f"{base}orders/{order.number}/finance/"
    once = key()
    made = api.post(url, {"amount": "40.00"}, format="json", **once)
    assert made.status_code == 201, made.json()
    caches["default"].clear()
    refused_as_mismatch(api.post(url, {"amount": "45.00"}, format="json", **once))
    again = api.post(url, {"amount": "40.00"}, format="json", **once)
    assert again.status_code == 200 and again.json()["id"] == made.json()["id"]
