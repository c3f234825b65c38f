"""Gateway webhooks: verified by signature, processed exactly once however often and in
whatever order they come; payments whose answer was lost are settled by a webhook or by
reconciliation; and the real delivery path from the local Stripe-compatible server to our
web server.

Events are built the way the gateway builds them: the real PaymentIntent objects from the
local server, signed with ``Stripe-Signature: t=<unix>,v1=<HMAC-SHA256 of "<t>.<body>">``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import urllib.parse
import urllib.request
import uuid
from decimal import Decimal

import pytest
from django.conf import settings

from accounts.services import user_register
from banks.models import BankEvent
from core.money import to_fen
from orders import services as orders
from orders.models import Checkout, CheckoutStatus
from payments import selectors as ledger
from payments import services as payments
from payments.gateway import register_local_webhook, stripe_client
from payments.models import LedgerTransaction, Payment, PaymentStatus, Posting, WebhookEvent
from tests import unique
from tests.orders_factories import AUTH_CARD, market, pay, place

WEBHOOK_URL = "/api/v1/payments/webhooks/stripe/"
db = pytest.mark.django_db


# --- building and delivering events ---------------------------------------------------------


def sign(payload: bytes, *, secret: str | None = None, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    secret = settings.STRIPE_WEBHOOK_SECRET if secret is None else secret
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256)
    return f"t={at},v1={digest.hexdigest()}"


def event(kind: str, intent: dict) -> bytes:
    return json.dumps({
        "id": f"evt_{unique.tag(24)}", "object": "event", "type": kind,
        "api_version": "2017-08-15", "created": int(time.time()), "livemode": False,
        "data": {"object": intent}}).encode()


def deliver(client, payload: bytes, signature: str | None):
    headers = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": signature}
    return client.post(WEBHOOK_URL, data=payload, content_type="application/json",
                       **headers)


def intent_now(intent_id: str) -> dict:
    return stripe_client().v1.payment_intents.retrieve(intent_id).to_dict()


def event_id(payload: bytes) -> str:
    return json.loads(payload)["id"]


def lost_answer_payment(checkout: Checkout) -> tuple[Payment, str]:
    """A payment whose process stopped after the gateway charged the card: our row is
    still CREATED without an intent id, the gateway has a succeeded PaymentIntent that
    carries our key."""
    key = f"lost-{uuid.uuid4().hex}"
    payment = Payment.objects.create(checkout=checkout, idempotency_key=key,
                                     amount_fen=to_fen(checkout.total), card_last4="4242")
    client = stripe_client()
    method = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
    intent = client.v1.payment_intents.create(params={
        "amount": payment.amount_fen, "currency": "cny", "payment_method": method.id,
        "metadata": {"checkout": checkout.number, "payment_key": key}})
    intent = client.v1.payment_intents.confirm(intent.id)
    assert intent.status == "succeeded"
    return payment, intent.id


def escrow_gain(before: dict, bank) -> Decimal:
    """What ``bank``'s escrow gained since ``before`` (other tests may have committed
    payments of their own)."""
    zero = Decimal("0")
    return ledger.escrow_by_bank().get(bank.pk, zero) - before.get(bank.pk, zero)


def captures(checkout) -> int:
    return LedgerTransaction.objects.filter(checkout=checkout, kind="capture").count()


@pytest.fixture
def shop(province):
    return market(province)


# --- exactly once, in any order -------------------------------------------------------------


@db
def test_ten_deliveries_out_of_order_pay_the_checkout_once(province, shop, client_on):
    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 2)])
    escrow_before = ledger.escrow_by_bank()
    payment = pay(checkout, AUTH_CARD)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    before_auth = intent_now(payment.intent_id)
    # The shopper authenticates at the issuer; our side hears of it only by webhook.
    client = stripe_client()
    client.raw_request("post", f"/v1/payment_intents/{payment.intent_id}/_authenticate",
                       success="true", client_secret=before_auth["client_secret"])
    succeeded = intent_now(payment.intent_id)
    assert succeeded["status"] == "succeeded"
    # A stale failure report of the same intent (its state before the authentication).
    stale = {**before_auth, "status": "requires_payment_method",
             "last_payment_error": {"message": "Your card was declined."}}
    success_event = event("payment_intent.succeeded", succeeded)
    failure_event = event("payment_intent.payment_failed", stale)
    deliveries = [success_event] * 10 + [failure_event] * 2
    random.Random(20260401).shuffle(deliveries)
    deliveries.insert(0, failure_event)  # the stale failure even arrives first

    web = client_on(None)
    answers = []
    for payload in deliveries:
        response = deliver(web, payload, sign(payload))
        assert response.status_code == 200, response.content
        assert response.json()["received"] is True
        answers.append((event_id(payload), response.json()["duplicate"]))

    # Each event is new once, a duplicate after that.
    for eid in (event_id(success_event), event_id(failure_event)):
        flags = [dup for e, dup in answers if e == eid]
        assert flags[0] is False
        assert all(flags[1:])
    payment.refresh_from_db()
    checkout.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.failure_message == ""
    assert checkout.status == CheckoutStatus.PAID
    assert captures(checkout) == 1
    assert Posting.objects.filter(order__checkout=checkout).count() == 2
    assert escrow_gain(escrow_before, province.bank_a) == checkout.total
    recorded = WebhookEvent.objects.get(event_id=event_id(success_event))
    assert (recorded.deliveries, recorded.type, recorded.object_id) == (
        10, "payment_intent.succeeded", payment.intent_id)
    assert recorded.processed_at is not None
    assert WebhookEvent.objects.get(event_id=event_id(failure_event)).deliveries == 3


@db
def test_a_lost_answer_is_settled_by_the_webhook(province, shop, client_on):
    checkout = place(province.shopper, province.bank_b, [(shop.sku_b, 1)])
    payment, intent_id = lost_answer_payment(checkout)
    escrow_before = ledger.escrow_by_bank()
    payload = event("payment_intent.succeeded", intent_now(intent_id))
    response = deliver(client_on(province.bank_b), payload, sign(payload))
    assert response.json() == {"received": True, "duplicate": False}
    payment.refresh_from_db()
    checkout.refresh_from_db()
    assert (payment.status, payment.intent_id) == (PaymentStatus.SUCCEEDED, intent_id)
    assert checkout.status == CheckoutStatus.PAID
    assert captures(checkout) == 1
    assert escrow_gain(escrow_before, province.bank_b) == checkout.total
    assert ledger.trial_balance() == Decimal("0.00")


@db
def test_reconciliation_settles_a_payment_whose_webhook_never_came(province, shop):
    checkout = place(province.shopper, province.bank_b, [(shop.sku_b, 1)])
    payment, intent_id = lost_answer_payment(checkout)
    # Another attempt that never reached the gateway at all: nothing was charged.
    other = place(province.shopper, province.bank_a, [(shop.sku_a, 1)])
    never_sent = Payment.objects.create(checkout=other, idempotency_key=uuid.uuid4().hex,
                                        amount_fen=to_fen(other.total))

    assert payments.reconcile_payments(older_than_seconds=0) >= 2
    payment.refresh_from_db()
    checkout.refresh_from_db()
    assert (payment.status, payment.intent_id) == (PaymentStatus.SUCCEEDED, intent_id)
    assert checkout.status == CheckoutStatus.PAID
    assert captures(checkout) == 1
    never_sent.refresh_from_db()
    other.refresh_from_db()
    assert never_sent.status == PaymentStatus.FAILED
    assert other.status == CheckoutStatus.PENDING_PAYMENT  # another card may still pay
    assert captures(other) == 0
    # Running it again changes nothing.
    payments.reconcile_payments(older_than_seconds=0)
    assert captures(checkout) == 1


@db
def test_a_bad_signature_is_refused_and_records_nothing(province, shop, client_on):
    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 1)])
    payment, intent_id = lost_answer_payment(checkout)
    payload = event("payment_intent.succeeded", intent_now(intent_id))
    tampered = payload.replace(b'"livemode": false', b'"livemode": true')
    assert tampered != payload
    web = client_on(None)
    for body, signature in [
            (payload, sign(payload, secret="whsec_someone_else")),
            (tampered, sign(payload)),
            (payload, sign(payload, at=int(time.time()) - 3600)),  # replayed much later
            (payload, sign(payload, at=int(time.time()) + 3600)),  # made for later
            (payload, sign(payload, at=int(time.time()) - 301)),
            (payload, sign(payload, at=int(time.time()) + 400)),
            (payload, "t=1,v1=00"),
            (payload, None),
            (b"not json", sign(b"not json"))]:
        response = deliver(web, body, signature)
        assert response.status_code == 400, (body[:20], signature)
        assert response.json()["message"]
    assert not WebhookEvent.objects.filter(event_id=event_id(payload)).exists()
    assert not WebhookEvent.objects.filter(object_id=intent_id).exists()
    payment.refresh_from_db()
    checkout.refresh_from_db()
    assert (payment.status, payment.intent_id) == (PaymentStatus.CREATED, None)
    assert checkout.status == CheckoutStatus.PENDING_PAYMENT
    assert captures(checkout) == 0
    # The same event, properly signed, is taken.
    assert deliver(web, payload, sign(payload)).status_code == 200
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID


# --- the real delivery path ------------------------------------------------------------------


HOOK_ID = "tests-web-server"


def _configure_local_webhook(fields: list[tuple[str, str]]) -> None:
    request = urllib.request.Request(  # noqa: S310 - the test session's own local server
        f"{settings.STRIPE_API_BASE}/_config/webhooks/{HOOK_ID}",
        data=urllib.parse.urlencode(fields).encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        response.read()


@pytest.fixture
def delivering_webhook(web_server):
    """The local server delivers every event to our web server while the test runs."""
    url = web_server.url("localhost", WEBHOOK_URL)
    register_local_webhook(url, webhook_id=HOOK_ID)
    yield url
    # The local server cannot forget a webhook; narrowed to an event type that never
    # happens, it delivers nothing more to a web server that other tests share.
    _configure_local_webhook([("url", url), ("secret", settings.STRIPE_WEBHOOK_SECRET),
                              ("events[]", "platform.tests.never")])


def _wait_for(check, *, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def test_the_local_server_delivers_webhooks_to_our_web_server(province, delivering_webhook,
                                                             django_db_blocker):
    """Committed data (the web server is another process); the checkouts' money is
    refunded afterwards so that the escrow other tests see is unchanged."""
    paid_here: list[Checkout] = []
    try:
        with django_db_blocker.unblock():
            shop = market(province)
            owner = shop.merchant_a.members.get().user
            buyer = user_register(username=f"t-hook-buyer-{unique.tag()}",
                                  password=province.password)
            first = place(buyer, province.bank_a, [(shop.sku_a, 1)])
            paid = pay(first)
            assert paid.status == PaymentStatus.SUCCEEDED
            paid_here.append(first)
            # A second checkout is paid only at the gateway (authenticated at the issuer):
            # the web server learns it from the delivered webhook alone.
            second = place(buyer, province.bank_a, [(shop.sku_a, 2)])
            waiting = pay(second, AUTH_CARD)
            assert waiting.status == PaymentStatus.REQUIRES_ACTION
            paid_here.append(second)
            client = stripe_client()
            secret = client.v1.payment_intents.retrieve(waiting.intent_id).client_secret
            client.raw_request("post", f"/v1/payment_intents/{waiting.intent_id}/_authenticate",
                               success="true", client_secret=secret)

        def processed(intent_id):
            def check():
                with django_db_blocker.unblock():
                    return WebhookEvent.objects.filter(
                        object_id=intent_id, type="payment_intent.succeeded",
                        processed_at__isnull=False).first()
            return check

        recorded = _wait_for(processed(paid.intent_id))
        assert recorded is not None, "no processed payment_intent.succeeded within 20 s"
        assert recorded.payload["data"]["object"]["metadata"]["checkout"] == first.number
        assert _wait_for(processed(waiting.intent_id)) is not None
        with django_db_blocker.unblock():
            second.refresh_from_db()
            waiting.refresh_from_db()
            assert second.status == CheckoutStatus.PAID
            assert waiting.status == PaymentStatus.SUCCEEDED
            assert captures(second) == 1
            assert captures(first) == 1
    finally:
        with django_db_blocker.unblock():
            for checkout in paid_here:
                checkout.refresh_from_db()
                if checkout.status != CheckoutStatus.PAID:
                    payments.checkout_abandon(checkout=checkout, buyer=checkout.buyer)
                    continue
                for order in checkout.orders.all():
                    orders.refund_issue(order=order, actor=owner, amount=order.total,
                                        reason="test clean-up")


# --- refunds made at the gateway, outside the platform -----------------------------------------


def _refund_at_gateway(intent_id: str, fen: int | None = None) -> dict:
    """A refund made in the gateway's dashboard: no metadata of ours."""
    params = {"payment_intent": intent_id, **({"amount": fen} if fen else {})}
    return stripe_client().v1.refunds.create(params=params).to_dict()


def _charge_refunded(refund: dict) -> dict:
    charge = stripe_client().v1.charges.retrieve(refund["charge"]).to_dict()
    return {**charge, "payment_intent": refund["payment_intent"], "refunded": True,
            "amount_refunded": refund["amount"],
            "refunds": {"object": "list", "data": [refund]}}


def _deliver_all(web, payloads, *, times=3, seed=20261204):
    deliveries = [p for p in payloads for _ in range(times)]
    random.Random(seed).shuffle(deliveries)
    for payload in deliveries:
        response = deliver(web, payload, sign(payload))
        assert response.status_code == 200, response.content


@db
def test_a_refund_made_at_the_gateway_is_booked_once_as_the_orders_refund(province, shop,
                                                                          client_on):
    from orders.models import OrderStatus, RefundStatus
    from payments.models import GatewayRefund

    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 2)])  # 91.00 + 8.00
    payment = pay(checkout)
    order = checkout.orders.get()
    escrow_before = ledger.escrow_by_bank()
    refund = _refund_at_gateway(payment.intent_id, 3000)
    # The gateway says so three ways (and each event comes three times, in any order).
    _deliver_all(client_on(None), [event("refund.created", refund),
                                   event("charge.refunded", _charge_refunded(refund)),
                                   event("refund.updated", refund)])

    recorded = GatewayRefund.objects.get(refund_id=refund["id"])
    assert (recorded.status, recorded.amount, recorded.payment_id, recorded.bank_id) == (
        "booked", Decimal("30.00"), payment.pk, order.merchant_bank_id)
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (OrderStatus.PAID, Decimal("30.00"))
    booked = order.refunds.get()
    assert (booked.status, booked.amount, booked.cash_amount, booked.gateway_reference) == (
        RefundStatus.SUCCEEDED, Decimal("30.00"), Decimal("30.00"), refund["id"])
    assert list(recorded.refunds.all()) == [booked]
    assert LedgerTransaction.objects.filter(kind="refund", refund=booked).count() == 1
    assert escrow_gain(escrow_before, province.bank_a) == Decimal("-30.00")
    assert ledger.trial_balance() == Decimal("0.00")


@db
def test_the_platforms_own_refunds_are_not_booked_again(province, shop, client_on):
    from payments.models import GatewayRefund

    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 1)])
    payment = pay(checkout)
    order = checkout.orders.get()
    ours = orders.refund_issue(order=order, actor=shop.merchant_a.members.get().user,
                               amount="10.00", reason="少发")
    refund = stripe_client().v1.refunds.retrieve(ours.gateway_reference).to_dict()
    _deliver_all(client_on(None), [event("refund.created", refund),
                                   event("charge.refunded", _charge_refunded(refund))])
    assert not GatewayRefund.objects.filter(refund_id=refund["id"]).exists()
    assert order.refunds.count() == 1
    assert payment.intent_id == refund["payment_intent"]


@db
def test_a_gateway_refund_of_a_settled_order_is_left_open_for_the_bank(province, shop,
                                                                       client_on, api_on):
    from payments import settlement
    from payments.models import GatewayRefund
    from payments.tests.test_settlement import _account, _complete

    _account(province.bank_a, shop.merchant_a, "6230000000000000311")
    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 1)])
    payment = pay(checkout)
    _complete(checkout, province.a_manager)
    settlement.settlement_run_execute(settlement.settlement_run_start(
        bank=province.bank_a, cutoff=None).pk)
    order = checkout.orders.get()
    order.refresh_from_db()
    postings_before = Posting.objects.count()
    refund = _refund_at_gateway(payment.intent_id, 2000)
    _deliver_all(client_on(None), [event("charge.refunded", _charge_refunded(refund)),
                                   event("refund.created", refund)])

    recorded = GatewayRefund.objects.get(refund_id=refund["id"])
    assert (recorded.status, recorded.amount, recorded.bank_id) == (
        "open", Decimal("20.00"), province.bank_a.pk)
    assert recorded.note
    assert order.refunds.count() == 0 and Posting.objects.count() == postings_before
    # The bank's admins see it and resolve it; another bank's do not.
    url = "/api/v1/console/gateway-refunds/"
    listed = api_on(province.bank_a, province.a_admin).get(f"{url}?status=open").json()
    assert recorded.pk in [r["id"] for r in listed]
    assert recorded.pk not in [r["id"] for r in api_on(
        province.bank_b, province.b_admin).get(url).json()]
    assert api_on(province.bank_b, province.b_admin).post(
        f"{url}{recorded.pk}/resolve/", {"note": "x"}, format="json").status_code == 404
    assert api_on(province.bank_a, province.a_manager).post(
        f"{url}{recorded.pk}/resolve/", {"note": "x"}, format="json").status_code == 403
    admin = api_on(province.bank_a, province.a_admin)
    assert admin.post(f"{url}{recorded.pk}/resolve/", {}, format="json").status_code == 400
    done = admin.post(f"{url}{recorded.pk}/resolve/", {"note": "商户已退回款项"},
                      format="json")
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    # The admin's resolution is on the bank's audit trail.
    assert list(BankEvent.objects.filter(
        bank=province.bank_a, action="gateway_refund_resolved",
        detail__object=f"payments.gatewayrefund:{recorded.pk}").values_list(
        "actor_id", "detail__changes__status", "detail__note")) == [
        (province.a_admin.pk, ["open", "resolved"], "商户已退回款项")]


@db
def test_a_gateway_refund_of_another_charge_is_left_open_for_its_bank(province, client_on):
    from payments.models import GatewayRefund

    client = stripe_client()
    method = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
    intent = client.v1.payment_intents.create(params={
        "amount": 1230, "currency": "cny", "payment_method": method.id, "confirm": True,
        "metadata": {"bank": province.bank_b.code, "charge_key": "mall:x"}})
    refund = _refund_at_gateway(intent.id)
    _deliver_all(client_on(None), [event("refund.created", refund)], times=2)
    recorded = GatewayRefund.objects.get(refund_id=refund["id"])
    assert (recorded.status, recorded.amount, recorded.bank_id, recorded.payment_id) == (
        "open", Decimal("12.30"), province.bank_b.pk, None)
