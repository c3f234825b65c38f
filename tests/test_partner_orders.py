"""Partner platforms' orders: placed through the shoppers' checkout with a key's scopes,
idempotent by key, paid by card on a signed link, settled with the partner's fee booked
to the fen, the monthly statement; webhooks signed, retried and replayed."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.db.models import Sum
from django.utils import timezone

from orders import services as orders
from orders.models import Checkout, CheckoutStatus
from partners import webhooks
from partners.models import (
    DeliveryStatus,
    PartnerOrder,
    PartnerWebhookDelivery,
    PartnerWebhookEvent,
)
from partners.tasks import deliver_webhook
from payments import settlement
from payments.models import AccountKind, Posting
from payments.selectors import trial_balance
from tests.orders_factories import market, pay
from tests.test_partners import client_with, new_key, register

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/partner/orders/"
XIHU_BEISHAN = "330106002"  # 浙江省 杭州市 西湖区 北山街道
ALL_SCOPES = ("catalog:read", "orders:write", "orders:read", "webhooks:manage")


@pytest.fixture
def world(province):
    shop = market(province)
    partner = register(province, name=f"县电商中心{shop.sku_a.pk}", fee_rate="0.0150")
    key = new_key(province, partner, scopes=ALL_SCOPES)
    return shop, partner, client_with(key.secret)


def body(sku, quantity=2, **extra):
    return {"customer_reference": "WX-1001",
            "recipient": {"name": "王五", "phone": "13800138000", "division": XIHU_BEISHAN,
                          "detail": "灵隐路 8 号"},
            "lines": [{"sku": sku.pk, "quantity": quantity}], **extra}


def place(client, data, key="k-1"):
    return client.post(ORDERS, data, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_each_operation_needs_its_scope(province, world):
    shop, partner, _client = world
    reader = client_with(new_key(province, partner, scopes=["catalog:read"]).secret)
    assert place(reader, body(shop.sku_a)).status_code == 403
    assert reader.get(ORDERS).status_code == 403
    assert reader.get("/api/v1/partner/statements/?month=2026-01").status_code == 403
    assert reader.get("/api/v1/partner/webhooks/endpoints/").status_code == 403
    writer = client_with(new_key(province, partner, scopes=["orders:write"]).secret)
    assert writer.get(ORDERS).status_code == 403
    assert client_with(None).post(ORDERS, body(shop.sku_a), format="json").status_code == 401
    assert not PartnerOrder.objects.filter(partner=partner).exists()
    # Without an Idempotency-Key nothing is placed.
    response = client_with(new_key(province, partner, scopes=["orders:write"]).secret).post(
        ORDERS, body(shop.sku_a), format="json")
    assert response.status_code == 400
    assert "idempotency_key" in response.json()["errors"]


def test_same_key_same_order_other_body_422(province, world):
    shop, partner, client = world
    first = place(client, body(shop.sku_a))
    assert first.status_code == 201, first.content
    again = place(client, body(shop.sku_a))
    assert again.status_code == 200
    assert again.json()["number"] == first.json()["number"]
    other = place(client, body(shop.sku_a, quantity=3))
    assert other.status_code == 422
    assert other.json()["errors"]["idempotency_key"]
    assert PartnerOrder.objects.filter(partner=partner).count() == 1
    shop.sku_a.refresh_from_db()
    assert Checkout.objects.get(number=first.json()["number"]).orders.get().lines.get() \
        .quantity == 2


def test_a_sku_of_a_bank_not_allowed_is_refused_and_nothing_is_reserved(province, world):
    shop, partner, client = world
    stock_a, stock_b = shop.sku_a.stock, shop.sku_b.stock
    data = body(shop.sku_a)
    data["lines"].append({"sku": shop.sku_b.pk, "quantity": 1})  # bank B: not allowed
    response = place(client, data)
    assert response.status_code == 400
    assert str(shop.sku_b.pk) in response.json()["errors"]["lines"][0]
    shop.sku_a.refresh_from_db()
    shop.sku_b.refresh_from_db()
    assert (shop.sku_a.stock, shop.sku_b.stock) == (stock_a, stock_b)
    assert not PartnerOrder.objects.filter(partner=partner).exists()
    # A bad address is a 400 on the recipient's field, nothing placed either.
    bad = body(shop.sku_a)
    bad["recipient"]["division"] = "3301"  # a city, not a township
    response = place(client, bad, key="k-2")
    assert response.status_code == 400
    assert "recipient.division" in response.json()["errors"]


def test_another_partners_order_is_404(province, world):
    shop, partner, client = world
    number = place(client, body(shop.sku_a)).json()["number"]
    assert client.get(f"{ORDERS}{number}/").status_code == 200
    other = register(province, name=f"合作社小店{shop.sku_a.pk}")
    stranger = client_with(new_key(province, other, scopes=ALL_SCOPES).secret)
    assert stranger.get(f"{ORDERS}{number}/").status_code == 404
    assert stranger.get(ORDERS).json()["items"] == []


def _complete(checkout, actor):
    for order in checkout.orders.all():
        orders.order_ship(order=order, actor=actor, carrier="顺丰速运",
                          tracking_number=f"SF{order.pk:010d}")
        orders.order_confirm_receipt(order=order, actor=checkout.buyer)


def test_paid_by_card_on_the_pay_link_settled_with_the_fee_to_the_fen(province, world,
                                                                       client_on):
    shop, partner, client = world
    placed = place(client, body(shop.sku_a)).json()
    # Goods 2 x 45.50 = 91.00, delivery by the merchant's rule; pay on bank A's storefront.
    assert placed["goods_total"] == "91.00"
    assert placed["status"] == "pending_payment"
    url = urlsplit(placed["payment_url"])
    assert url.hostname == f"{province.bank_a.code}.localhost"
    checkout = Checkout.objects.get(number=placed["number"])
    assert checkout.buyer.username == f"partner:{partner.pk}"
    assert not checkout.buyer.has_usable_password()

    page = client_on(province.bank_a)
    assert page.get(url.path).status_code == 200
    assert client_on(province.bank_b).get(url.path).status_code == 404  # not its bank
    assert page.get(url.path[:-5] + "xxxx/").status_code == 404       # forged
    form = page.get(url.path).content.decode()
    key = form.split('name="idempotency_key" value="')[1].split('"')[0]
    paid = page.post(url.path, {"number": "4242 4242 4242 4242", "exp": "12/30",
                                "cvc": "123", "idempotency_key": key})
    assert paid.status_code == 200
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID
    detail = client.get(f"{ORDERS}{checkout.number}/").json()
    assert detail["status"] == "paid" and detail["payment_url"] is None

    _complete(checkout, province.a_manager)
    detail = client.get(f"{ORDERS}{checkout.number}/").json()
    assert detail["orders"][0]["shipment"]["carrier"] == "顺丰速运"

    run = settlement.settlement_run_start(bank=None, cutoff=timezone.now())
    run = settlement.settlement_run_execute(run.pk)
    assert all(r["ok"] for r in run.reconciliation.values()), run.reconciliation
    order = checkout.orders.get()
    # 1.5 % of 91.00 = 1.365: a half fen rounds up.
    fees = Posting.objects.filter(order=order, transaction__kind="partner_fee")
    assert fees.get(account__kind=AccountKind.PARTNER_FEE_PAYABLE).amount == Decimal("-1.37")
    assert fees.get(account__kind=AccountKind.PARTNER_FEE_EXPENSE).amount == Decimal("1.37")
    assert fees.aggregate(t=Sum("amount"))["t"] == 0
    assert trial_balance() == Decimal("0.00")
    # The merchant is credited all it sold: the bank pays the partner, not the merchant.
    assert order.settlement.merchant_credit == order.total

    month = f"{timezone.localdate():%Y-%m}"
    statement = client.get(f"/api/v1/partner/statements/?month={month}")
    assert statement.status_code == 200
    st = statement.json()
    assert st["fees"] == "1.37" and st["goods_total"] == "91.00"
    assert [(o["order"], o["fee"], o["customer_reference"]) for o in st["orders"]] == [
        (order.number, "1.37", "WX-1001")]
    assert client.get("/api/v1/partner/statements/?month=2026-13").status_code == 400
    fed = client_on(None, province.fed_admin).get(f"/federation/partners/?month={month}")
    assert f'data-partner-fees="{partner.pk}">¥1.37<' in fed.content.decode()


# --- webhooks -------------------------------------------------------------------------------


class _Receiver(http.server.BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[tuple[dict, bytes]] = []

    def do_POST(self):  # noqa: N802 - the standard library's name
        length = int(self.headers["Content-Length"])
        self.received.append((dict(self.headers), self.rfile.read(length)))
        self.send_response(self.answers.pop(0) if self.answers else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.answers, _Receiver.received = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, _Receiver
    server.shutdown()
    server.server_close()


def _verify(secret: str, headers: dict, raw: bytes) -> dict:
    """What a partner does with a delivery: check the signature, then read it."""
    parts = dict(p.split("=", 1) for p in headers["Platform-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + raw,
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])
    return json.loads(raw)


def test_webhooks_are_signed_retried_after_a_500_and_replayed(
        province, world, receiver, monkeypatch, django_capture_on_commit_callbacks):
    shop, partner, client = world
    server, handler = receiver
    queued: list[int] = []
    monkeypatch.setattr(webhooks, "_queue", queued.append)  # the task is called below
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    assert client.post("/api/v1/partner/webhooks/endpoints/",
                       {"url": "http://example.com/h", "events": ["order.paid"]},
                       format="json").status_code == 400  # http only for localhost
    made = client.post("/api/v1/partner/webhooks/endpoints/",
                       {"url": url, "events": ["order.paid", "order.shipped"]},
                       format="json")
    assert made.status_code == 201, made.content
    secret = made.json()["secret"]
    assert "secret" not in client.get("/api/v1/partner/webhooks/endpoints/").json()[0]

    number = place(client, body(shop.sku_a)).json()["number"]
    checkout = Checkout.objects.get(number=number)
    with django_capture_on_commit_callbacks(execute=True):
        pay(checkout)
    event = PartnerWebhookEvent.objects.get(partner=partner, type="order.paid")
    delivery = PartnerWebhookDelivery.objects.get(event=event)
    assert queued == [delivery.pk]


    handler.answers = [500]
    assert deliver_webhook(delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code) == (1, 500)
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=50)
    # Not due yet: calling again sends nothing.
    assert deliver_webhook(delivery.pk) == DeliveryStatus.PENDING
    assert len(handler.received) == 1
    # The retry's time comes (the sweep finds it).
    PartnerWebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now())
    assert webhooks.deliveries_due() == [delivery.pk]
    assert deliver_webhook(delivery.pk) == DeliveryStatus.SUCCEEDED
    assert len(handler.received) == 2
    for headers, raw in handler.received:
        sent = _verify(secret, headers, raw)
        assert sent["id"] == event.id and sent["id"].startswith("evt_")
        assert sent["type"] == "order.paid"
        assert sent["data"]["checkout"]["number"] == number
        assert sent["data"]["checkout"]["status"] == "paid"
    # A forged body fails the check.
    headers, raw = handler.received[0]
    with pytest.raises(AssertionError):
        _verify(secret, headers, raw.replace(b"paid", b"PAID"))

    replayed = client.post(f"/api/v1/partner/webhooks/deliveries/{delivery.pk}/replay/")
    assert replayed.status_code == 200, replayed.content
    assert replayed.json()["attempts"] == 3
    assert [a["replay"] for a in replayed.json()["attempt_log"]] == [False, False, True]
    assert [a["status_code"] for a in replayed.json()["attempt_log"]] == [500, 200, 200]
    assert len(handler.received) == 3
    listed = client.get("/api/v1/partner/webhooks/deliveries/").json()
    assert [d["id"] for d in listed] == [delivery.pk]
    # Another partner cannot see or replay it.
    other = register(province, name=f"外部平台{shop.sku_a.pk}")
    stranger = client_with(new_key(province, other, scopes=ALL_SCOPES).secret)
    assert stranger.post(f"/api/v1/partner/webhooks/deliveries/{delivery.pk}/replay/") \
        .status_code == 404


def test_retries_give_up_after_the_last_delay(province, world, receiver, monkeypatch,
                                              django_capture_on_commit_callbacks, settings):
    shop, partner, client = world
    server, handler = receiver
    monkeypatch.setattr(webhooks, "_queue", lambda _id: None)
    settings.PARTNER_WEBHOOK_RETRY_DELAYS = (60, 300)
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    client.post("/api/v1/partner/webhooks/endpoints/", {"url": url, "events": ["order.paid"]},
                format="json")
    checkout = Checkout.objects.get(number=place(client, body(shop.sku_a)).json()["number"])
    with django_capture_on_commit_callbacks(execute=True):
        pay(checkout)
    delivery = PartnerWebhookDelivery.objects.get(event__partner=partner)
    handler.answers = [503, 503, 503]
    for _attempt in range(3):
        PartnerWebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now())
        webhooks.delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        DeliveryStatus.FAILED, 3, None)
    # The order itself was never held up.
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID


def test_a_card_that_asks_for_authentication_is_approved_on_the_pay_link(province, world,
                                                                        client_on):
    """3-D Secure on the pay link: the customer is sent to the issuer's check (signed link,
    no sign-in), approves, and the checkout is paid; another order's link cannot reach
    the payment."""
    shop, _partner, client = world
    placed = place(client, body(shop.sku_a, quantity=1)).json()
    other = place(client, body(shop.sku_a, quantity=1), key="k-2").json()
    path = urlsplit(placed["payment_url"]).path
    page = client_on(province.bank_a)
    key = page.get(path).content.decode().split('name="idempotency_key" value="')[1][:32]
    sent = page.post(path, {"number": "4000 0027 6000 3184", "exp": "12/30", "cvc": "123",
                            "idempotency_key": key})
    assert sent.status_code == 302
    check = sent["Location"]
    assert check.startswith(f"{path}authenticate/")
    checkout = Checkout.objects.get(number=placed["number"])
    assert checkout.status == CheckoutStatus.PENDING_PAYMENT
    payment_id = check.rstrip("/").rsplit("/", 1)[1]
    assert page.get(f"{urlsplit(other['payment_url']).path}authenticate/{payment_id}/"
                    ).status_code == 404
    assert client_on(province.bank_b).get(check).status_code == 404
    assert page.get(check).status_code == 200
    done = page.post(check, {"result": "approve"})
    assert done.status_code == 200
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID
    assert client.get(f"{ORDERS}{checkout.number}/").json()["status"] == "paid"
