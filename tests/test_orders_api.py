"""The buying API end to end: cart, checkout across two banks, card payment into escrow,
fulfilment by both merchants, receipt; bad input as 400 changing nothing; idempotent
payment; and 404 for anyone who is not the buyer, the shop or the bank."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.services import user_register
from catalog.models import Sku
from orders.models import Cart, Checkout, CheckoutStatus, Refund
from payments import selectors as ledger
from payments.gateway import stripe_client
from payments.models import LedgerTransaction, Payment, PaymentStatus, Posting
from tests import unique
from tests.orders_factories import market

pytestmark = pytest.mark.django_db

GOOD = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
DECLINED = {**GOOD, "number": "4000000000000341"}
NEEDS_AUTH = {**GOOD, "number": "4000002760003184"}
DELIVERY = {"recipient_name": "张三", "recipient_phone": "13700000001",
            "address": "甲县人民路 18 号 3 单元"}


@pytest.fixture
def shop(province):
    shop = market(province)
    shop.owner_a = shop.merchant_a.members.get().user
    shop.owner_b = shop.merchant_b.members.get().user
    return shop


def fresh_user(province, prefix: str):
    return user_register(username=f"{prefix}-{unique.tag()}",
                         password=province.password)


@pytest.fixture
def me(province):
    """The buyer: a new account, so that no cart line or storefront visit committed by
    another test (browser tests use the web server) changes what these tests see."""
    return fresh_user(province, "t-buyer")


@pytest.fixture
def stranger(province):
    return fresh_user(province, "t-stranger")


def add(api, sku, quantity):
    return api.post("/api/v1/cart/items/", {"sku": sku.pk, "quantity": quantity},
                    format="json")


def checkout_of(api, body=None):
    return api.post("/api/v1/checkouts/", body or {"delivery": DELIVERY}, format="json")


def pay(api, number, card=GOOD, key=None):
    headers = {} if key is False else {"HTTP_IDEMPOTENCY_KEY": key or uuid.uuid4().hex}
    return api.post(f"/api/v1/checkouts/{number}/payments/", {"card": card}, format="json",
                    **headers)


def escrow_gain(before: dict) -> dict:
    """Escrow per bank code gained since ``before`` (other tests may have committed
    payments of their own: only this test's movements are compared)."""
    from banks.models import Bank

    codes = dict(Bank.objects.values_list("pk", "code"))
    now = ledger.escrow_by_bank()
    return {codes[pk]: now.get(pk, Decimal("0")) - before.get(pk, Decimal("0"))
            for pk in set(now) | set(before)
            if now.get(pk, Decimal("0")) != before.get(pk, Decimal("0"))}


def placed(api, shop, *lines):
    for sku, quantity in lines or [(shop.sku_a, 1)]:
        assert add(api, sku, quantity).status_code == 201
    response = checkout_of(api)
    assert response.status_code == 201, response.json()
    return response.json()


def test_buying_across_two_banks_through_the_api(province, me, shop, api_on):
    buyer = api_on(province.bank_a, me)
    assert add(buyer, shop.sku_a, 2).status_code == 201
    response = add(buyer, shop.sku_b, 1)
    assert response.status_code == 201
    cart = response.json()
    assert cart["count"] == 3
    assert cart["goods_total"] == "159.00"
    assert {g["merchant"]["bank"] for g in cart["groups"]} == {"bank-a", "bank-b"}

    response = buyer.post("/api/v1/checkouts/", {
        "fulfilment": [{"merchant": shop.merchant_b.pk, "method": "pickup",
                        "branch": province.a_branch.pk}],
        "delivery": DELIVERY}, format="json")
    assert response.status_code == 201, response.json()
    checkout = response.json()
    number = checkout["number"]
    # Apples 2 x 45.50 + 8.00 delivery; honey 68.00 collected at bank A's branch.
    assert (checkout["goods_total"], checkout["shipping_total"], checkout["total"]) == (
        "159.00", "8.00", "167.00")
    assert checkout["storefront_bank"] == "bank-a"
    orders = {o["merchant_bank"]: o for o in checkout["orders"]}
    assert orders["bank-a"]["referrer_bank"] == "bank-a"
    assert orders["bank-a"]["is_cross_bank"] is False
    assert orders["bank-b"]["referrer_bank"] == "bank-a"  # bank A brought the shopper
    assert orders["bank-b"]["is_cross_bank"] is True
    assert orders["bank-b"]["fulfilment"] == "pickup"
    assert orders["bank-b"]["pickup_branch"]["id"] == province.a_branch.pk
    assert buyer.get("/api/v1/cart/").json()["count"] == 0
    assert buyer.get(f"/api/v1/checkouts/{number}/").json()["status"] == "pending_payment"

    escrow_before = ledger.escrow_by_bank()
    response = pay(buyer, number)
    assert response.status_code == 201, response.json()
    payment = response.json()
    assert (payment["status"], payment["next_step"], payment["amount"]) == (
        "succeeded", "none", "167.00")
    assert buyer.get(f"/api/v1/payments/{payment['id']}/").json()["status"] == "succeeded"
    paid = buyer.get(f"/api/v1/checkouts/{number}/").json()
    assert paid["status"] == "paid"
    # Escrow sits with each merchant's own bank, to the fen of its orders.
    assert escrow_gain(escrow_before) == {
        "bank-a": Decimal(orders["bank-a"]["total"]),
        "bank-b": Decimal(orders["bank-b"]["total"])} == {
        "bank-a": Decimal("99.00"), "bank-b": Decimal("68.00")}
    assert ledger.trial_balance() == Decimal("0.00")

    # Merchant A (bank A) ships with a waybill; the carrier delivers.
    number_a, number_b = orders["bank-a"]["number"], orders["bank-b"]["number"]
    merchant_a = api_on(province.bank_a, shop.owner_a)
    base_a = f"/api/v1/merchant/{shop.merchant_a.pk}/orders/"
    listed = merchant_a.get(base_a, {"status": "paid"}).json()
    assert [o["number"] for o in listed["results"]] == [number_a]
    assert "pickup_code" not in listed["results"][0]
    response = merchant_a.post(f"{base_a}{number_a}/ship/", {
        "carrier": "中国邮政", "tracking_number": "EMS1234567890"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "shipped"
    response = merchant_a.post(f"{base_a}{number_a}/tracking/", {
        "description": "已签收", "location": "甲县", "delivered": True}, format="json")
    assert response.json()["status"] == "delivered"
    assert [e["kind"] for e in response.json()["events"]][-2:] == ["tracking", "deliver"]

    # Merchant B (bank B) has the honey waiting at bank A's branch; bank A's staff hand it
    # over against the shopper's code (bank B's staff cannot).
    merchant_b = api_on(province.bank_b, shop.owner_b)
    response = merchant_b.post(
        f"/api/v1/merchant/{shop.merchant_b.pk}/orders/{number_b}/ready-for-pickup/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ready_for_pickup"
    assert "pickup_code" not in response.json()
    code = buyer.get(f"/api/v1/orders/{number_b}/").json()["pickup_code"]
    assert len(code) == 8
    refused = api_on(province.bank_b, province.b_manager).post(
        "/api/v1/console/pickups/verify/", {"code": code}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"]["code"]
    response = api_on(province.bank_a, province.a_manager).post(
        "/api/v1/console/pickups/verify/", {"code": code}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "picked_up"

    for order_number in (number_a, number_b):
        response = buyer.post(f"/api/v1/orders/{order_number}/confirm-receipt/")
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "completed"
    mine = buyer.get("/api/v1/orders/").json()
    assert {o["number"]: o["status"] for o in mine["results"]} == {
        number_a: "completed", number_b: "completed"}

    # Bank A's console sees both orders: one of its merchant, one its storefront referred.
    console = api_on(province.bank_a, province.a_admin)
    referred = console.get("/api/v1/console/orders/", {"scope": "referred"}).json()
    assert {number_a, number_b} <= {o["number"] for o in referred["results"]}
    by_number = console.get("/api/v1/console/orders/", {"q": number_b}).json()
    assert [o["number"] for o in by_number["results"]] == [number_b]
    assert "address" not in by_number["results"][0]


def test_refunds_through_the_api(province, me, shop, api_on):
    buyer = api_on(province.bank_a, me)
    checkout = placed(buyer, shop, (shop.sku_b, 2))  # 136.00, free delivery over 99
    escrow_before = ledger.escrow_by_bank()
    assert pay(buyer, checkout["number"]).json()["status"] == "succeeded"
    number = checkout["orders"][0]["number"]
    merchant = api_on(province.bank_b, shop.owner_b)
    base = f"/api/v1/merchant/{shop.merchant_b.pk}/"

    response = buyer.post(f"/api/v1/orders/{number}/refunds/",
                          {"amount": "36.10", "reason": "一瓶漏了"}, format="json")
    assert response.status_code == 201, response.json()
    refund_id = response.json()["id"]
    assert response.json()["order_status"] == "refund_requested"
    response = merchant.post(f"{base}refunds/{refund_id}/decide/", {"approve": False},
                             format="json")
    assert response.status_code == 400
    assert "note" in response.json()["errors"]
    assert Refund.objects.get(pk=refund_id).status == "requested"
    response = merchant.post(f"{base}refunds/{refund_id}/decide/", {"approve": True},
                             format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["order_status"]) == ("succeeded",
                                                                             "paid")
    assert escrow_gain(escrow_before) == {"bank-b": Decimal("99.90")}

    # The merchant refunds the rest on its own initiative.
    response = merchant.post(f"{base}orders/{number}/refunds/",
                             {"amount": "99.90", "reason": "缺货"}, format="json")
    assert response.status_code == 201, response.json()
    detail = buyer.get(f"/api/v1/orders/{number}/").json()
    assert (detail["status"], detail["refunded_total"], detail["refundable"]) == (
        "refunded", "136.00", "0.00")
    assert escrow_gain(escrow_before) == {}
    assert ledger.trial_balance() == Decimal("0.00")


def test_selling_rules_and_share_links(province, me, shop, api_on):
    merchant = api_on(province.bank_a, shop.owner_a)
    base = f"/api/v1/merchant/{shop.merchant_a.pk}/"
    assert merchant.get(f"{base}shipping-rule/").json()["is_default"] is True
    response = merchant.put(f"{base}shipping-rule/", {"flat_fee": "5.00",
                                                      "free_over": None}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"flat_fee": "5.00", "free_over": None, "is_default": False}
    bad = merchant.put(f"{base}shipping-rule/", {"flat_fee": "-1"}, format="json")
    assert bad.status_code == 400 and "flat_fee" in bad.json()["errors"]
    assert merchant.get(f"{base}shipping-rule/").json()["flat_fee"] == "5.00"

    now = timezone.now()
    sale = {"sku": shop.sku_a.pk, "title": "苹果秒杀", "price": "30.00",
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(), "quantity": 5,
            "per_customer_limit": 2}
    response = merchant.post(f"{base}flash-sales/", sale, format="json")
    assert response.status_code == 201, response.json()
    # Another shop's SKU is refused as a field error.
    response = merchant.post(f"{base}flash-sales/", {**sale, "sku": shop.sku_b.pk},
                             format="json")
    assert response.status_code == 400 and "sku" in response.json()["errors"]
    assert [s["title"] for s in merchant.get(f"{base}flash-sales/").json()] == ["苹果秒杀"]

    # The shopper now pays the flash price and the shop's own delivery fee.
    buyer = api_on(province.bank_a, me)
    checkout = placed(buyer, shop, (shop.sku_a, 2))
    assert (checkout["goods_total"], checkout["shipping_total"]) == ("60.00", "5.00")
    assert checkout["orders"][0]["lines"][0]["price_kind"] == "flash"

    response = buyer.post("/api/v1/share-links/", {"product": shop.sku_b.product_id},
                          format="json")
    assert response.status_code == 201, response.json()
    link = response.json()
    assert link["bank"] == "bank-a"
    assert link["url"].endswith(f"/p/{shop.sku_b.product_id}/?ref={link['code']}")
    assert buyer.post("/api/v1/share-links/", {"product": 0},
                      format="json").status_code == 400
    # Share links belong to a bank's storefront: not on the portal.
    assert api_on(None, me).post(
        "/api/v1/share-links/", {"product": shop.sku_b.product_id},
        format="json").status_code == 404


# --- bad input: a 400 with field errors, and nothing changed --------------------------------


def test_empty_cart_checkout_is_refused(province, me, shop, api_on):
    buyer = api_on(province.bank_a, me)
    buyer.delete("/api/v1/cart/")
    before = Checkout.objects.count()
    response = checkout_of(buyer)
    assert response.status_code == 400
    assert response.json()["errors"]["cart"]
    assert response.json()["message"]
    assert Checkout.objects.count() == before


def test_bad_mobile_number_changes_nothing(province, me, shop, api_on):
    buyer = api_on(province.bank_a, me)
    add(buyer, shop.sku_a, 3)
    before = Checkout.objects.count()
    response = checkout_of(buyer, {"delivery": {**DELIVERY, "recipient_phone": "12345"}})
    assert response.status_code == 400
    assert response.json()["errors"]["recipient_phone"]
    assert Checkout.objects.count() == before
    assert Sku.objects.get(pk=shop.sku_a.pk).stock == 20
    assert buyer.get("/api/v1/cart/").json()["count"] == 3  # the cart is kept


def test_bad_fulfilment_is_a_field_error(province, me, shop, api_on):
    buyer = api_on(province.bank_a, me)
    add(buyer, shop.sku_a, 1)
    for fulfilment, field in [
            ([{"merchant": shop.merchant_a.pk, "method": "drone"}], "fulfilment"),
            ([{"merchant": shop.merchant_a.pk, "method": "pickup", "branch": 0}],
             f"fulfilment.{shop.merchant_a.pk}"),
            ("nonsense", "fulfilment")]:
        response = checkout_of(buyer, {"fulfilment": fulfilment, "delivery": DELIVERY})
        assert response.status_code == 400, fulfilment
        assert field in response.json()["errors"], response.json()
    assert not Checkout.objects.filter(buyer=me).exists()


@pytest.mark.parametrize("quantity", [0, -1, "x", None, 10**6])
def test_bad_quantities_change_nothing(province, me, shop, api_on, quantity):
    buyer = api_on(province.bank_a, me)
    add(buyer, shop.sku_a, 2)
    response = add(buyer, shop.sku_a, quantity)
    assert response.status_code == 400
    assert response.json()["errors"]["quantity"]
    response = buyer.patch(f"/api/v1/cart/items/{shop.sku_a.pk}/", {"quantity": quantity},
                           format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["quantity"]
    cart = buyer.get("/api/v1/cart/").json()
    assert [(line["sku"], line["quantity"]) for line in cart["groups"][0]["lines"]] == [
        (shop.sku_a.pk, 2)]


def test_cart_lines_are_changed_and_removed(province, me, shop, api_on):
    buyer = api_on(province.bank_a, me)
    add(buyer, shop.sku_a, 2)
    add(buyer, shop.sku_b, 1)
    response = buyer.patch(f"/api/v1/cart/items/{shop.sku_a.pk}/", {"quantity": 5},
                           format="json")
    assert response.status_code == 200
    assert response.json()["count"] == 6
    assert buyer.delete(f"/api/v1/cart/items/{shop.sku_b.pk}/").json()["count"] == 5
    # A SKU not in the cart is not found; an unknown SKU cannot be added.
    assert buyer.delete(f"/api/v1/cart/items/{shop.sku_b.pk}/").status_code == 404
    response = buyer.post("/api/v1/cart/items/", {"sku": 0, "quantity": 1}, format="json")
    assert response.status_code == 400 and response.json()["errors"]["sku"]
    assert buyer.delete("/api/v1/cart/").json()["count"] == 0


def test_payment_input_errors_change_nothing(province, me, shop, api_on):
    buyer = api_on(province.bank_a, me)
    number = placed(buyer, shop)["number"]
    response = pay(buyer, number, key=False)
    assert response.status_code == 400
    assert response.json()["errors"]["idempotency_key"]
    response = pay(buyer, number, card={**GOOD, "number": "4242 4242 4242 4241"})
    assert response.status_code == 400
    assert response.json()["errors"]["number"]
    response = pay(buyer, number, card={**GOOD, "exp_month": "x"})
    assert response.status_code == 400
    assert "card" in response.json()["errors"]
    response = buyer.post(f"/api/v1/checkouts/{number}/payments/", {"card": "4242"},
                          format="json", HTTP_IDEMPOTENCY_KEY="k-" + uuid.uuid4().hex)
    assert response.status_code == 400
    checkout = Checkout.objects.get(number=number)
    assert not Payment.objects.filter(checkout=checkout).exists()
    assert checkout.status == CheckoutStatus.PENDING_PAYMENT


def test_declined_and_authentication_required_cards(province, me, shop, api_on):
    buyer = api_on(province.bank_a, me)
    number = placed(buyer, shop)["number"]
    response = pay(buyer, number, card=DECLINED)
    assert response.status_code == 201
    declined = response.json()
    assert (declined["status"], declined["next_step"]) == ("failed", "retry")
    assert declined["failure_message"]
    response = pay(buyer, number, card=NEEDS_AUTH)
    needs_auth = response.json()
    assert (needs_auth["status"], needs_auth["next_step"]) == ("requires_action",
                                                             "authenticate")
    assert needs_auth["next_url"].endswith(f"/pay/authenticate/{needs_auth['id']}/")
    assert buyer.get(f"/api/v1/checkouts/{number}/").json()["status"] == "pending_payment"

    # Giving the checkout up cancels the open intent and puts the stock back.
    response = buyer.post(f"/api/v1/checkouts/{number}/cancel/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    assert Sku.objects.get(pk=shop.sku_a.pk).stock == 20
    assert Payment.objects.get(pk=needs_auth["id"]).status == PaymentStatus.CANCELED
    assert pay(buyer, number).status_code == 400


def test_the_same_idempotency_key_returns_the_same_payment(province, me, shop, api_on):
    buyer = api_on(province.bank_a, me)
    number = placed(buyer, shop, (shop.sku_a, 1), (shop.sku_b, 1))["number"]
    key = "api-key-" + uuid.uuid4().hex
    first = pay(buyer, number, key=key)
    again = pay(buyer, number, key=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert again.json()["status"] == "succeeded"
    checkout = Checkout.objects.get(number=number)
    assert Payment.objects.filter(checkout=checkout).count() == 1
    assert LedgerTransaction.objects.filter(checkout=checkout, kind="capture").count() == 1
    assert Posting.objects.filter(order__checkout=checkout).count() == 4  # 2 orders x 2 legs
    # The gateway was asked once: one PaymentIntent carries the key (as this buyer sent it).
    intents = [i for i in stripe_client().v1.payment_intents.list(
        params={"limit": 100}).auto_paging_iter()
        if (i.to_dict().get("metadata") or {}).get("payment_key") == f"u{me.pk}:{key}"]
    assert len(intents) == 1
    # The key of this payment cannot pay another checkout (another request: 422).
    other = placed(buyer, shop)["number"]
    response = pay(buyer, other, key=key)
    assert response.status_code == 422
    assert response.json()["errors"]["idempotency_key"]
    assert not Payment.objects.filter(checkout__number=other).exists()


# --- isolation: everyone else gets 404 ------------------------------------------------------


def test_another_buyer_sees_nothing_of_mine(province, me, shop, api_on, stranger):
    buyer = api_on(province.bank_a, me)
    checkout = placed(buyer, shop)
    number, order = checkout["number"], checkout["orders"][0]["number"]
    payment_id = pay(buyer, number, card=DECLINED).json()["id"]
    other = api_on(province.bank_a, stranger)
    for url in (f"/api/v1/checkouts/{number}/", f"/api/v1/orders/{order}/",
                f"/api/v1/payments/{payment_id}/"):
        assert other.get(url).status_code == 404, url
    assert pay(other, number).status_code == 404
    assert other.post(f"/api/v1/checkouts/{number}/cancel/").status_code == 404
    assert other.post(f"/api/v1/orders/{order}/confirm-receipt/").status_code == 404
    assert other.post(f"/api/v1/orders/{order}/refunds/", {"amount": "1.00", "reason": "x"},
                      format="json").status_code == 404
    assert other.get("/api/v1/orders/").json()["total"] == 0
    assert Checkout.objects.get(number=number).status == CheckoutStatus.PENDING_PAYMENT
    assert Payment.objects.filter(checkout__number=number).count() == 1
    # Not signed in: 401.
    assert api_on(province.bank_a).get(f"/api/v1/checkouts/{number}/").status_code == 401


def test_another_shop_and_another_bank_get_404(province, me, shop, api_on):
    buyer = api_on(province.bank_a, me)
    checkout = placed(buyer, shop, (shop.sku_a, 1), (shop.sku_b, 1))
    pay(buyer, checkout["number"])
    orders = {o["merchant_bank"]: o["number"] for o in checkout["orders"]}
    order_a = orders["bank-a"]
    buyer.post(f"/api/v1/orders/{order_a}/refunds/", {"amount": "1.00", "reason": "压坏了"},
               format="json")
    refund = Refund.objects.get(order__number=order_a)

    # Merchant B's owner: not a member of shop A, on either domain.
    owner_b_on_a = api_on(province.bank_a, shop.owner_b)
    base_a = f"/api/v1/merchant/{shop.merchant_a.pk}/"
    assert owner_b_on_a.get(f"{base_a}orders/").status_code == 404
    assert owner_b_on_a.get(f"{base_a}orders/{order_a}/").status_code == 404
    assert owner_b_on_a.post(f"{base_a}orders/{order_a}/ship/", {
        "carrier": "顺丰", "tracking_number": "SF1"}, format="json").status_code == 404
    assert owner_b_on_a.get(f"{base_a}shipping-rule/").status_code == 404
    # Through its own shop, merchant B cannot reach shop A's order or refund either.
    base_b = f"/api/v1/merchant/{shop.merchant_b.pk}/"
    owner_b = api_on(province.bank_b, shop.owner_b)
    assert owner_b.get(f"{base_b}orders/{order_a}/").status_code == 404
    assert owner_b.post(f"{base_b}refunds/{refund.pk}/decide/", {"approve": True},
                        format="json").status_code == 404
    # Shop A's own owner on bank B's domain: shop A is not a shop of that bank.
    assert api_on(province.bank_b, shop.owner_a).get(
        f"{base_a}orders/").status_code == 404
    refund.refresh_from_db()
    assert refund.status == "requested"

    # Bank B's staff: order A is bank A's (its merchant, its referral, delivered).
    b_staff = api_on(province.bank_b, province.b_admin)
    assert b_staff.get(f"/api/v1/console/orders/{order_a}/").status_code == 404
    assert order_a not in {o["number"] for o in
                           b_staff.get("/api/v1/console/orders/").json()["results"]}
    assert b_staff.get(f"/api/v1/console/orders/{orders['bank-b']}/").status_code == 200
    # ... and on bank A's domain they are nobody.
    assert api_on(province.bank_a, province.b_admin).get(
        f"/api/v1/console/orders/{order_a}/").status_code == 404
    assert api_on(province.bank_a, me).get(
        "/api/v1/console/orders/").status_code == 404
    assert api_on(province.bank_a, province.a_manager).get(
        f"/api/v1/console/orders/{order_a}/").status_code == 200


def test_order_queries_are_validated(province, me, shop, api_on):
    buyer = api_on(province.bank_a, me)
    assert buyer.get("/api/v1/orders/", {"status": "nope"}).status_code == 400
    assert buyer.get("/api/v1/orders/", {"page": "x"}).status_code == 400
    console = api_on(province.bank_a, province.a_admin)
    response = console.get("/api/v1/console/orders/", {"scope": "everything"})
    assert response.status_code == 400 and "scope" in response.json()["errors"]
    assert Cart.objects.filter(user=me).count() <= 1


def test_odd_input_is_a_400_never_a_500(province, me, shop, api_on):
    buyer = api_on(province.bank_a, me)
    add(buyer, shop.sku_a, 1)
    huge = 10**20
    for url, body in [
            ("/api/v1/cart/items/", {"sku": huge, "quantity": 1}),
            ("/api/v1/cart/items/", ["not", "an", "object"]),
            ("/api/v1/checkouts/", {"fulfilment": [{"merchant": shop.merchant_a.pk,
                                                    "method": "pickup", "branch": huge}],
                                    "delivery": DELIVERY}),
            ("/api/v1/checkouts/", {"fulfilment": [{"merchant": shop.merchant_a.pk,
                                                    "method": "delivery"}] * 2,
                                    "delivery": DELIVERY}),
            ("/api/v1/checkouts/", {"delivery": "甲县"}),
            ("/api/v1/checkouts/", {"delivery": {**DELIVERY, "address": "x" * 500}})]:
        response = buyer.post(url, body, format="json")
        assert response.status_code == 400, (url, body, response.content[:200])
    assert not Checkout.objects.filter(buyer=me).exists()
    number = placed(buyer, shop)["number"]
    for card in [{**GOOD, "exp_year": huge}, {**GOOD, "exp_month": 13},
                 {**GOOD, "cvc": "12a"}, {**GOOD, "number": "４２４２"}]:
        assert pay(buyer, number, card=card).status_code == 400, card
    response = pay(buyer, number, key="k" * 81)
    assert response.status_code == 400
    assert not Payment.objects.filter(checkout__number=number).exists()
    for path in (f"/api/v1/payments/{huge}/", f"/api/v1/orders/{'9' * 200}/",
                 f"/api/v1/cart/items/{huge}/"):
        assert buyer.get(path).status_code in (404, 405), path
    console = api_on(province.bank_a, province.a_admin)
    for code in ("abc", "1" * 20, ""):
        response = console.post("/api/v1/console/pickups/verify/", {"code": code},
                                format="json")
        assert response.status_code == 400, code
    merchant = api_on(province.bank_a, shop.merchant_a.members.get().user)
    base = f"/api/v1/merchant/{shop.merchant_a.pk}/"
    for body in [{"flat_fee": "NaN"}, {"flat_fee": "1e30"}, {"flat_fee": "5", "free_over": "0"}]:
        assert merchant.put(f"{base}shipping-rule/", body, format="json").status_code == 400
    for body in [{"sku": shop.sku_a.pk, "title": "x", "price": "1", "quantity": 1,
                  "starts_at": "yesterday", "ends_at": "tomorrow"},
                 {"sku": huge, "title": "x", "price": "1", "quantity": 1,
                  "starts_at": "2030-01-01T00:00:00+08:00",
                  "ends_at": "2029-01-01T00:00:00+08:00"}]:
        assert merchant.post(f"{base}flash-sales/", body, format="json").status_code == 400
    assert merchant.get(f"{base}orders/", {"per_page": 1000}).status_code == 400


def test_on_the_portal_a_checkout_has_no_storefront(province, me, shop, api_on):
    buyer = api_on(None, me)
    checkout = placed(buyer, shop, (shop.sku_b, 1))
    assert checkout["storefront_bank"] is None
    assert checkout["orders"][0]["referrer_bank"] is None
    assert checkout["orders"][0]["is_cross_bank"] is False
    # The checkout is the shopper's on every host.
    assert api_on(province.bank_b, me).get(
        f"/api/v1/checkouts/{checkout['number']}/").status_code == 200


def test_order_lists_take_as_many_queries_for_many_orders_as_for_one(province, me, shop,
                                                                      api_on):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    buyer = api_on(province.bank_a, me)
    console = api_on(province.bank_a, province.a_admin)
    merchant = api_on(province.bank_a, shop.merchant_a.members.get().user)

    def queries(api, url) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(url).status_code == 200
        return len(captured)

    urls = [(buyer, "/api/v1/orders/"),
            (console, "/api/v1/console/orders/?scope=merchant"),
            (merchant, f"/api/v1/merchant/{shop.merchant_a.pk}/orders/")]
    placed(buyer, shop, (shop.sku_a, 1), (shop.sku_b, 1))
    one = [queries(api, url) for api, url in urls]
    for _ in range(3):
        placed(buyer, shop, (shop.sku_a, 1), (shop.sku_b, 1))
    assert [queries(api, url) for api, url in urls] == one
