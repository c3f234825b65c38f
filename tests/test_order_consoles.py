"""The order pages of the merchant console and the bank console, through the Django test
client on the banks' domains, with orders placed and paid by the real services against
the local Stripe-compatible server."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.services import user_register
from orders import selectors
from orders import services as orders
from orders.models import (
    FlashSale,
    Fulfilment,
    OrderStatus,
    Refund,
    RefundStatus,
    ShippingRule,
)
from payments import selectors as ledger
from payments.models import PaymentStatus
from tests import unique
from tests.catalog_factories import approved_merchant
from tests.orders_factories import market, pay, place

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(province):
    return market(province)


def owner(merchant):
    return merchant.members.get().user


def paid(buyer, bank, lines, **kwargs):
    checkout = place(buyer, bank, lines, **kwargs)
    assert pay(checkout).status == PaymentStatus.SUCCEEDED
    return list(checkout.orders.order_by("merchant__bank__code"))


def new_buyer(phone=None):
    return user_register(username=f"buyer-{unique.tag(8)}", password="Test@pass-2026",
                         phone=phone or "")


def page(response) -> str:
    return response.content.decode()


def url(order, tail=""):
    return f"/merchant/{order.merchant_id}/orders/{order.number}/{tail}"


# --- the merchant console ------------------------------------------------------------------


def test_merchant_ships_with_a_waybill_and_the_buyer_sees_it(province, shop, client_on):
    (order,) = paid(province.shopper, province.bank_a, [(shop.sku_a, 2)])
    client = client_on(province.bank_a, owner(shop.merchant_a))

    listing = client.get(f"/merchant/{shop.merchant_a.pk}/orders/?tab=to_ship")
    assert listing.status_code == 200
    assert order.number in page(listing)
    to_ship = next(t for t in listing.context["tabs"] if t["key"] == "to_ship")
    assert to_ship["count"] == 1
    assert order.number not in page(client.get(
        f"/merchant/{shop.merchant_a.pk}/orders/?tab=completed"))

    detail = client.get(url(order))
    assert detail.status_code == 200
    assert detail.context["can_ship"] and not detail.context["can_ready"]
    assert "13700000001" in page(detail)  # the recipient's phone, needed to deliver

    response = client.post(url(order, "ship/"),
                           {"carrier": "顺丰速运", "tracking_number": " SF1234567890 "})
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.carrier, order.tracking_number) == (
        OrderStatus.SHIPPED, "顺丰速运", "SF1234567890")
    mine = selectors.order_of_buyer(buyer=province.shopper, number=order.number)
    assert (mine.status, mine.carrier, mine.tracking_number) == (
        OrderStatus.SHIPPED, "顺丰速运", "SF1234567890")
    assert order.number in page(client.get(
        f"/merchant/{shop.merchant_a.pk}/orders/?tab=shipped"))

    waybill = client.get(url(order, "waybill/"))
    assert waybill.status_code == 200
    html = page(waybill)
    for text in ("SF1234567890", "顺丰速运", "张三", "13700000001", "甲县人民路 18 号",
                 shop.merchant_a.name, order.number, "甲县苹果", "@media print"):
        assert text in html, text
    assert 'src="data:image/png;base64,' in html

    response = client.post(url(order, "track/"), {"description": "已签收", "location": "甲县",
                                                  "delivered": "on"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    detail = page(client.get(url(order)))
    assert "已签收" in detail and "甲县" in detail


def test_a_merchant_finds_an_order_by_number_phone_or_tracking_number(province, shop,
                                                                      client_on, api_on):
    buyer = new_buyer(phone=unique.mobile("139"))
    first, = paid(buyer, province.bank_a, [(shop.sku_a, 1)])
    second, = paid(province.shopper, province.bank_a, [(shop.sku_a, 1)])
    orders.order_ship(order=second, actor=owner(shop.merchant_a), carrier="顺丰速运",
                      tracking_number="SF5550001112")
    client = client_on(province.bank_a, owner(shop.merchant_a))
    base = f"/merchant/{shop.merchant_a.pk}/orders/"

    def found(q, tab="all"):
        response = client.get(base, {"q": q, "tab": tab})
        assert response.status_code == 200
        return {o.number for o in response.context["page"]}

    assert found(first.number) == {first.number}
    assert found(first.number[-6:]) == {first.number}
    assert found(buyer.phone) == {first.number}
    assert found("SF5550001112") == {second.number}
    assert found("no-such-order") == set()
    # another shop's order is never found, even by its exact number
    other_base = f"/merchant/{shop.merchant_b.pk}/orders/"
    other = client_on(shop.merchant_b.bank, owner(shop.merchant_b))
    response = other.get(other_base, {"q": first.number, "tab": "all"})
    assert list(response.context["page"]) == []

    api = api_on(province.bank_a, owner(shop.merchant_a))
    body = api.get(f"/api/v1/merchant/{shop.merchant_a.pk}/orders/",
                   {"q": "SF5550001112"}).json()
    assert [o["number"] for o in body["results"]] == [second.number]


def test_a_member_of_another_shop_gets_404(province, shop, client_on):
    (order,) = paid(province.shopper, province.bank_a, [(shop.sku_a, 1)])
    other, _ = approved_merchant(province.bank_a, province.a_manager)
    stranger = client_on(province.bank_a, owner(other))
    for path in (url(order), url(order, "waybill/"),
                 f"/merchant/{shop.merchant_a.pk}/orders/",
                 f"/merchant/{other.pk}/orders/{order.number}/",
                 f"/merchant/{other.pk}/orders/{order.number}/waybill/"):
        assert stranger.get(path).status_code == 404, path
    assert stranger.post(url(order, "ship/"), {"carrier": "中通快递",
                                               "tracking_number": "ZT1"}).status_code == 404
    assert stranger.post(f"/merchant/{other.pk}/orders/{order.number}/ship/", {
        "carrier": "中通快递", "tracking_number": "ZT1"}).status_code == 404
    # the shop's own owner, but on another bank's domain
    assert client_on(province.bank_b, owner(shop.merchant_a)).get(url(order)).status_code == 404
    # anonymous: to the login page
    assert client_on(province.bank_a).get(url(order)).status_code == 302
    order.refresh_from_db()
    assert (order.status, order.tracking_number) == (OrderStatus.PAID, "")


def test_ready_for_pickup_tells_the_merchant_the_code_went_to_the_buyer(
        province, shop, client_on):
    pickup = orders.FulfilmentChoice(Fulfilment.PICKUP, province.a_branch.pk)
    (_a, order) = paid(province.shopper, province.bank_a, [(shop.sku_a, 1), (shop.sku_b, 1)],
                       fulfilment={shop.merchant_b.pk: pickup})
    client = client_on(province.bank_b, owner(shop.merchant_b))
    assert client.get(url(order, "waybill/")).status_code == 404  # nothing is shipped
    response = client.post(url(order, "ready/"), follow=True)
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_PICKUP and len(order.pickup_code) == 8
    html = page(response)
    assert province.a_branch.name in html
    assert any("code has been sent to the buyer" in str(m) or "取货码已发送给买家" in str(m)
               for m in response.context["messages"])
    assert order.pickup_code not in html
    assert order.pickup_code not in page(client.get(url(order)))
    # twice is refused with a message, not a 500
    again = client.post(url(order, "ready/"))
    assert again.status_code == 400


def test_bad_tracking_number_refund_amount_and_flash_price_change_nothing(
        province, shop, client_on):
    (order,) = paid(province.shopper, province.bank_a, [(shop.sku_a, 1)])
    client = client_on(province.bank_a, owner(shop.merchant_a))

    response = client.post(url(order, "ship/"), {"carrier": "中国邮政", "tracking_number": "  "})
    assert response.status_code == 400
    errors = response.context["ship_form"].errors["tracking_number"]
    assert errors and errors[0] in page(response)
    response = client.post(url(order, "ship/"), {"carrier": "某某快递", "tracking_number": "X1"})
    assert response.status_code == 400 and response.context["ship_form"].errors["carrier"]
    order.refresh_from_db()
    assert (order.status, order.carrier, order.tracking_number) == (OrderStatus.PAID, "", "")

    before = ledger.escrow_by_bank()[province.bank_a.pk]
    for amount in ("53.51", "1e9", "abc", "-1", "", "NaN"):
        response = client.post(url(order, "refund/"), {"amount": amount, "reason": "少发一箱"})
        assert response.status_code == 400, amount
        assert response.context["refund_form"].errors["amount"], amount
    assert order.total == Decimal("53.50")
    assert client.post(url(order, "refund/"), {"amount": "5", "reason": ""}).status_code == 400
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (OrderStatus.PAID, Decimal("0.00"))
    assert not Refund.objects.filter(order=order).exists()
    assert ledger.escrow_by_bank()[province.bank_a.pk] == before

    start = timezone.localtime() + timedelta(hours=1)
    sale = {"sku": shop.sku_a.pk, "title": "苹果秒杀", "price": "45.50",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "quantity": "5", "per_customer_limit": "1"}
    flash = f"/merchant/{shop.merchant_a.pk}/orders/flash-sales/"
    for change, field in (({"price": "99"}, "price"), ({"price": "45.50"}, "price"),
                          ({"quantity": "999"}, "quantity"),
                          ({"ends_at": sale["starts_at"]}, "ends_at"),
                          ({"sku": shop.sku_b.pk}, "sku"),  # another shop's specification
                          ({"starts_at": "tomorrow"}, "starts_at")):
        response = client.post(flash, {**sale, **change})
        assert response.status_code == 400, change
        assert response.context["form"].errors.get(field), (change, response.context["form"].errors)
    assert not FlashSale.objects.filter(sku__in=[shop.sku_a, shop.sku_b]).exists()

    shipping = f"/merchant/{shop.merchant_a.pk}/orders/shipping/"
    for data in ({"flat_fee": "-1"}, {"flat_fee": "abc"}, {"flat_fee": "5", "free_over": "0"},
                 {"flat_fee": "5", "free_over": "1e30"}):
        assert client.post(shipping, data).status_code == 400, data
    assert not ShippingRule.objects.filter(merchant=shop.merchant_a).exists()


def test_flash_sale_and_delivery_fee_pages(province, shop, client_on):
    client = client_on(province.bank_a, owner(shop.merchant_a))
    flash = f"/merchant/{shop.merchant_a.pk}/orders/flash-sales/"
    assert client.get(flash).status_code == 200
    start = timezone.localtime() + timedelta(hours=1)
    response = client.post(flash, {
        "sku": shop.sku_a.pk, "title": "苹果秒杀", "price": "29.90",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "quantity": "5", "per_customer_limit": "2"})
    assert response.status_code == 302, response.context and response.context["form"].errors
    sale = FlashSale.objects.get(sku=shop.sku_a)
    assert (sale.price, sale.quantity, sale.per_customer_limit) == (Decimal("29.90"), 5, 2)
    assert abs(sale.starts_at - start.replace(second=0, microsecond=0)) < timedelta(seconds=1)
    assert "苹果秒杀" in page(client.get(flash))

    shipping = f"/merchant/{shop.merchant_a.pk}/orders/shipping/"
    assert client.post(shipping, {"flat_fee": "6", "free_over": "88"}).status_code == 302
    assert selectors.shipping_fee(merchant=shop.merchant_a, goods_total=Decimal("50")) == 6
    assert selectors.shipping_fee(merchant=shop.merchant_a, goods_total=Decimal("88")) == 0
    # the shop page links to the order pages
    html = page(client.get(f"/merchant/{shop.merchant_a.pk}/"))
    assert f"/merchant/{shop.merchant_a.pk}/orders/" in html and "flash-sales/" in html


def test_refund_reject_and_approve_through_the_pages(province, shop, client_on):
    (order,) = paid(province.shopper, province.bank_a, [(shop.sku_a, 2)])  # 91.00 + 8.00
    client = client_on(province.bank_a, owner(shop.merchant_a))
    escrow = ledger.escrow_by_bank()[province.bank_a.pk]

    refund = orders.refund_request(order=order, actor=province.shopper, amount="45.50",
                                   reason="一箱坏了")
    detail = client.get(url(order))
    assert detail.context["can_decide"] and "一箱坏了" in page(detail)
    assert order.number in page(client.get(
        f"/merchant/{shop.merchant_a.pk}/orders/?tab=refund"))
    decide = url(order, f"refunds/{refund.pk}/")
    # refusing needs a note
    response = client.post(decide, {"decision": "reject", "note": ""})
    assert response.status_code == 400 and response.context["decide_form"].errors["note"]
    refund.refresh_from_db()
    assert refund.status == RefundStatus.REQUESTED
    assert client.post(decide, {"decision": "reject", "note": "照片看不出损坏"}).status_code == 302
    order.refresh_from_db()
    refund.refresh_from_db()
    assert (order.status, refund.status) == (OrderStatus.PAID, RefundStatus.REJECTED)
    assert ledger.escrow_by_bank()[province.bank_a.pk] == escrow
    # deciding again is refused with the message
    assert client.post(decide, {"decision": "approve"}).status_code == 400

    refund = orders.refund_request(order=order, actor=province.shopper, amount="45.50",
                                   reason="一箱坏了，补了照片")
    response = client.post(url(order, f"refunds/{refund.pk}/"), {"decision": "approve"})
    assert response.status_code == 302
    order.refresh_from_db()
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.gateway_reference
    assert (order.status, order.refunded_total) == (OrderStatus.PAID, Decimal("45.50"))
    assert ledger.escrow_by_bank()[province.bank_a.pk] == escrow - Decimal("45.50")
    assert ledger.trial_balance() == Decimal("0.00")

    # the merchant refunds the rest on its own: the order is refunded in full
    response = client.post(url(order, "refund/"), {"amount": "53.50", "reason": "缺货"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (OrderStatus.REFUNDED, Decimal("99.00"))
    assert ledger.escrow_by_bank()[province.bank_a.pk] == escrow - Decimal("99.00")
    detail = client.get(url(order))
    assert not detail.context["can_refund"]
    assert "137****0001" in page(detail) and "13700000001" not in page(detail)
    waybill = page(client.get(url(order, "waybill/")))
    assert "137****0001" in waybill and "13700000001" not in waybill
    assert "甲县人民路" not in waybill


# --- the bank console ----------------------------------------------------------------------


def test_bank_console_search_is_scoped_to_the_bank(province, shop, client_on):
    # bank A's shopper buys from both shops on bank A's storefront (B's is cross-bank)
    order_a, order_b = paid(province.shopper, province.bank_a,
                            [(shop.sku_a, 1), (shop.sku_b, 1)])
    orders.order_ship(order=order_a, actor=province.a_manager, carrier="中通快递",
                      tracking_number="ZT7788")
    # someone else buys B's honey on B's storefront: nothing to do with bank A
    stranger = new_buyer()
    (order_bb,) = paid(stranger, province.bank_b, [(shop.sku_b, 1)])
    assert (order_bb.merchant_bank, order_bb.referrer_bank) == (province.bank_b,
                                                                province.bank_b)

    a_staff = client_on(province.bank_a, province.a_credit)
    response = a_staff.get("/console/orders/")
    assert response.status_code == 200
    html = page(response)
    assert order_a.number in html and order_b.number in html
    assert order_bb.number not in html
    assert response.context["totals"]["n"] == response.context["page"].paginator.count
    assert a_staff.get(f"/console/orders/{order_bb.number}/").status_code == 404
    assert not a_staff.get(f"/console/orders/?q={order_bb.number}").context["page"]
    assert a_staff.get(f"/console/orders/{order_b.number}/").status_code == 200

    found = page(a_staff.get("/console/orders/?q=ZT7788"))
    assert order_a.number in found and order_b.number not in found
    referred = a_staff.get("/console/orders/?scope=referred&status=paid")
    numbers = [o.number for o in referred.context["page"]]
    assert order_b.number in numbers and order_a.number not in numbers  # a is shipped
    ours = [o.number for o in a_staff.get("/console/orders/?scope=merchant").context["page"]]
    assert order_a.number in ours and order_b.number not in ours
    assert "跨行" in page(referred) or "Cross-bank" in page(referred)
    # nonsense filters are ignored, not a 500
    assert a_staff.get("/console/orders/?status=nope&scope=nope&page=x").status_code == 200

    b_staff = client_on(province.bank_b, province.b_manager)
    assert b_staff.get(f"/console/orders/{order_a.number}/").status_code == 404
    assert b_staff.get(f"/console/orders/{order_b.number}/").status_code == 200
    assert b_staff.get(f"/console/orders/{order_bb.number}/").status_code == 200
    # bank B's staff on bank A's domain, and a shopper: 404
    assert client_on(province.bank_a, province.b_manager).get(
        "/console/orders/").status_code == 404
    assert client_on(province.bank_a, province.shopper).get(
        f"/console/orders/{order_a.number}/").status_code == 404


def test_pickup_verification_at_the_right_bank(province, shop, client_on):
    pickup = orders.FulfilmentChoice(Fulfilment.PICKUP, province.a_branch.pk)
    (_a, order) = paid(province.shopper, province.bank_a, [(shop.sku_a, 1), (shop.sku_b, 3)],
                       fulfilment={shop.merchant_b.pk: pickup})
    orders.order_ready_for_pickup(order=order, actor=owner(shop.merchant_b))
    order.refresh_from_db()
    code = order.pickup_code

    a_staff = client_on(province.bank_a, province.a_manager)
    assert a_staff.get("/console/orders/pickup/").status_code == 200
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    for bad in (wrong, "", "1234", "abcdefgh"):
        response = a_staff.post("/console/orders/pickup/", {"code": bad})
        assert response.status_code == 400, bad
        assert response.context["form"].errors["code"], bad
    html = page(a_staff.post("/console/orders/pickup/", {"code": wrong}))
    assert ("No order awaits pickup with this code" in html) or ("取货码" in html)
    # the right code at the wrong bank
    response = client_on(province.bank_b, province.b_manager).post(
        "/console/orders/pickup/", {"code": code})
    assert response.status_code == 400
    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_PICKUP
    # the hand-over page of an order not picked up yet does not exist
    assert a_staff.get(f"/console/orders/pickup/{order.number}/").status_code == 404

    response = a_staff.post("/console/orders/pickup/", {"code": f"{code[:4]} {code[4:]}"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.PICKED_UP and order.received_at is not None
    done = a_staff.get(response["Location"])
    assert done.status_code == 200
    html = page(done)
    assert "乙县槐花蜜" in html and "× 3" in html and order.number in html
    # the same code again: nothing waits any more
    assert a_staff.post("/console/orders/pickup/", {"code": code}).status_code == 400
    assert client_on(province.bank_b, province.b_manager).get(
        f"/console/orders/pickup/{order.number}/").status_code == 404
