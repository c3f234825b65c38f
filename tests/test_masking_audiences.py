"""A page and its API show each audience the same contact details, masked by the one rule
in ``core.masking`` through the selectors' read views: the merchant sees the recipient's
phone in full only while the order still needs delivering, a bank's staff never do."""

from __future__ import annotations

import pytest

from core.masking import mask_phone
from orders import services as orders
from payments.models import PaymentStatus
from tests.orders_factories import market, pay, place

pytestmark = pytest.mark.django_db

PHONE = "13700000001"  # the recipient's, in tests.orders_factories.ADDRESS
MASKED = "137****0001"


def test_mask_phone_keeps_three_and_four_digits():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("") == "" and mask_phone("12345") == "12345"


@pytest.fixture
def delivered_order(province):
    shop = market(province)
    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 1)])
    assert pay(checkout).status == PaymentStatus.SUCCEEDED
    order = checkout.orders.get()
    return shop, order


def _complete(order, actor):
    orders.order_ship(order=order, actor=actor, carrier="中通快递", tracking_number="ZT1")
    orders.order_track(order=order, actor=actor, description="已签收", delivered=True)
    orders.order_confirm_receipt(order=order, actor=order.buyer)
    order.refresh_from_db()


@pytest.mark.parametrize(("audience", "stage", "expected"), [
    ("merchant", "paid", PHONE),
    ("merchant", "completed", MASKED),
    ("bank_staff", "paid", MASKED),
    ("bank_staff", "completed", MASKED),
])
def test_page_and_api_show_the_same_phone(province, delivered_order, client_on, api_on,
                                          audience, stage, expected):
    shop, order = delivered_order
    owner = shop.merchant_a.members.get().user
    if stage == "completed":
        _complete(order, owner)
    if audience == "merchant":
        page = client_on(province.bank_a, owner).get(
            f"/merchant/{shop.merchant_a.pk}/orders/{order.number}/")
        api = api_on(province.bank_a, owner)
        base = f"/api/v1/merchant/{shop.merchant_a.pk}/orders/"
    else:
        page = client_on(province.bank_a, province.a_manager).get(
            f"/console/orders/{order.number}/")
        api = api_on(province.bank_a, province.a_manager)
        base = "/api/v1/console/orders/"
    assert page.status_code == 200
    assert page.context["phone"] == expected
    detail = api.get(f"{base}{order.number}/")
    assert detail.status_code == 200
    assert detail.json()["recipient_phone"] == expected
    listed = api.get(base, {"q": order.number} if audience == "bank_staff" else {}).json()
    (row,) = [o for o in listed["results"] if o["number"] == order.number]
    assert row["recipient_phone"] == expected
    if expected == MASKED:
        assert PHONE not in page.content.decode() and PHONE not in detail.content.decode()


def test_the_buyer_sees_their_own_phone(province, delivered_order, api_on):
    _shop, order = delivered_order
    body = api_on(province.bank_a, province.shopper).get(f"/api/v1/orders/{order.number}/")
    assert body.json()["recipient_phone"] == PHONE


@pytest.mark.parametrize("audience", ["buyer", "merchant", "bank_staff"])
def test_page_and_api_tell_the_same_history_under_the_same_labels(
        province, delivered_order, client_on, api_on, audience):
    shop, order = delivered_order
    owner = shop.merchant_a.members.get().user
    _complete(order, owner)
    page_url, api_url, person = {
        "buyer": (f"/orders/{order.number}/", f"/api/v1/orders/{order.number}/",
                  province.shopper),
        "merchant": (f"/merchant/{shop.merchant_a.pk}/orders/{order.number}/",
                     f"/api/v1/merchant/{shop.merchant_a.pk}/orders/{order.number}/", owner),
        "bank_staff": (f"/console/orders/{order.number}/",
                       f"/api/v1/console/orders/{order.number}/", province.a_manager),
    }[audience]
    page = client_on(province.bank_a, person).get(page_url)
    events = api_on(province.bank_a, person).get(api_url).json()["events"]
    kinds = [e["kind"] for e in events]
    assert kinds[:2] == ["placed", "pay"] and "confirm_receipt" in kinds
    shown = [(e.kind, e.label) for e in page.context["events"]]
    assert shown == [(e["kind"], e["label"]) for e in events]
    html = page.content.decode()
    for label in {e["label"] for e in events}:
        assert label in html
    assert "已签收" in html and "中通快递 ZT1" in html
