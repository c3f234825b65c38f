"""Ask the shop: an order's thread between its buyer and the shop, on the pages and the
API; a dispute brings the staff of the shop's bank in (and nobody else); everyone else
gets 404 and changes nothing."""

from __future__ import annotations

import pytest

from orders.models import OrderDispute, OrderEvent, OrderMessage
from payments.models import PaymentStatus
from tests.orders_factories import market, pay, place

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(province):
    shop = market(province)
    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 1)])
    assert pay(checkout).status == PaymentStatus.SUCCEEDED
    placed = checkout.orders.get()
    placed.member = placed.merchant.members.get().user
    placed.other_member = shop.merchant_b.members.get().user
    return placed


def _bodies(order):
    return list(OrderMessage.objects.filter(order=order).values_list("side", "body"))


def test_the_buyer_and_the_shop_talk_on_the_pages(province, client_on, order):
    buyer = client_on(province.bank_a, province.shopper)
    assert buyer.post(f"/orders/{order.number}/messages/",
                      {"body": "请问什么时候发货？"}).status_code == 302
    shop = client_on(order.merchant_bank, order.member)
    page = shop.get(f"/merchant/{order.merchant_id}/orders/{order.number}/").content.decode()
    assert "请问什么时候发货？" in page and 'id="thread"' in page
    assert shop.post(f"/merchant/{order.merchant_id}/orders/{order.number}/messages/",
                     {"body": "明天上午发出。"}).status_code == 302
    assert _bodies(order) == [("buyer", "请问什么时候发货？"), ("shop", "明天上午发出。")]
    assert "明天上午发出。" in buyer.get(f"/orders/{order.number}/").content.decode()
    # an empty message changes nothing
    buyer.post(f"/orders/{order.number}/messages/", {"body": "   "})
    assert len(_bodies(order)) == 2


def test_nobody_else_reads_or_writes_and_the_bank_only_after_a_dispute(
        province, api_on, order):
    url = f"/api/v1/orders/{order.number}/messages/"
    assert api_on(province.bank_a, province.shopper).post(
        url, {"body": "在吗？"}, format="json").status_code == 201
    # another shopper, another shop's member: 404 on every way in
    assert api_on(province.bank_a, province.a_admin).get(url).status_code == 404
    assert api_on(order.merchant_bank, order.other_member).get(
        f"/api/v1/merchant/{order.merchant_id}/orders/{order.number}/messages/"
    ).status_code == 404
    console_url = f"/api/v1/console/orders/{order.number}/messages/"
    staff = api_on(order.merchant_bank, province.a_manager)
    assert staff.get(console_url).status_code == 404  # no dispute yet
    assert staff.post(console_url, {"body": "我们来看看"}, format="json").status_code == 404
    assert len(_bodies(order)) == 1

    # the buyer raises a dispute (once); the shop's bank's staff read and answer
    api = api_on(province.bank_a, province.shopper)
    assert api.post(f"/api/v1/orders/{order.number}/dispute/", {"reason": ""},
                    format="json").status_code == 400
    raised = api.post(f"/api/v1/orders/{order.number}/dispute/", {"reason": "一直不发货"},
                      format="json")
    assert raised.status_code == 201 and raised.json()["dispute"]["side"] == "buyer"
    assert api.post(f"/api/v1/orders/{order.number}/dispute/", {"reason": "再次"},
                    format="json").status_code == 400
    assert OrderDispute.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order, kind="dispute",
                                     actor=province.shopper).exists()
    thread = staff.get(console_url).json()
    assert [m["body"] for m in thread["messages"]] == ["在吗？"]
    assert staff.post(console_url, {"body": "已联系商家，今天发货。"},
                      format="json").status_code == 201
    assert _bodies(order)[-1] == ("bank", "已联系商家，今天发货。")
    # staff of another bank still see nothing
    other_bank = province.bank_b if order.merchant_bank_id == province.bank_a.pk \
        else province.bank_a
    other_staff = province.b_manager if other_bank == province.bank_b else province.a_manager
    assert api_on(other_bank, other_staff).get(console_url).status_code == 404


def test_the_console_lists_disputes_and_shows_the_thread(province, client_on, api_on, order):
    api_on(order.merchant_bank, order.member).post(
        f"/api/v1/merchant/{order.merchant_id}/orders/{order.number}/dispute/",
        {"reason": "买家地址无法送达"}, format="json")
    staff = client_on(order.merchant_bank, province.a_manager
                      if order.merchant_bank_id == province.bank_a.pk else province.b_manager)
    listing = staff.get("/console/orders/disputes/").content.decode()
    assert order.number in listing and "买家地址无法送达" in listing
    detail = staff.get(f"/console/orders/{order.number}/").content.decode()
    assert 'id="thread"' in detail
    assert staff.post(f"/console/orders/{order.number}/messages/",
                      {"body": "请买家补充地址"}).status_code == 302
    assert _bodies(order)[-1] == ("bank", "请买家补充地址")
