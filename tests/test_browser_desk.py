"""The branch desk in a real browser (the system Chromium on a phone-sized screen) against
the real web server: a staff member of bank A places an assisted order for a villager at
the branch, types the code the customer reads out, takes the payment at the desk and
sees the order in the branch's waiting list and its pickup slip.

Data the web server sees is committed; at the end the paid orders are refunded in full
(cash back at the desk) so no escrow is left behind.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from orders import services as orders
from orders.models import AssistedOrder, CheckoutStatus, Order
from payments import services as payments
from payments.models import DeskPayment
from tests import test_browser, unique
from tests.catalog_factories import approved_merchant
from tests.orders_factories import product_with_sku
from tests.test_browser import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

browser = test_browser.browser
phone_page = test_browser.phone_page
PASSWORD = "Test@pass-2026"
PHONE_WIDTH = 390


@pytest.fixture(scope="module")
def desk_store(province, django_db_blocker):
    tag = unique.tag()
    with django_db_blocker.unblock():
        m_a, _ = approved_merchant(province.bank_a, province.a_manager, name=f"甲县柜台果园{tag}")
        sku = product_with_sku(m_a, name=f"甲县冬枣{tag}", price="32.00", stock=30)
    phone = "137" + f"{int(tag, 16) % 10**8:08d}"
    yield SimpleNamespace(tag=tag, merchant=m_a, sku=sku, phone=phone)
    with django_db_blocker.unblock():
        for a in AssistedOrder.objects.filter(customer_phone=phone):
            if a.checkout.status == CheckoutStatus.PENDING_PAYMENT:
                orders.checkout_cancel(checkout=a.checkout, reason="test clean-up")
        for order in Order.objects.filter(checkout__assisted__customer_phone=phone,
                                          status__in=orders.REFUNDABLE):
            orders.refund_issue(order=order, actor=province.a_manager,
                                amount=order.refundable, reason="test clean-up")
    assert payments  # the refunds above go through payments' handler


def _url(web_server, path):
    return web_server.url("bank-a.localhost", path)


def test_assisted_order_at_the_desk_on_a_phone(phone_page, web_server, province, desk_store,
                                              django_db_blocker, settings):
    page = phone_page
    page.goto(_url(web_server, "/accounts/login/?next=/console/desk/"))
    page.fill("input[name=username]", province.a_manager.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert "网点柜台" in page.content()
    shot(page, "desk-home-phone")

    with page.expect_navigation():
        page.click("#new-order")
    page.fill("#customer_phone", desk_store.phone)
    page.fill("#customer_name", "李奶奶")
    page.fill("#desk-q", desk_store.tag)
    with page.expect_navigation():
        page.click("#desk-search")
    shot(page, "desk-search-phone")
    page.fill(f"#qty_{desk_store.sku.pk}", "2")
    shot(page, "desk-new-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    with page.expect_navigation():
        page.click("#place-button")
    assert "确认码已发送" in page.content()

    # The web server's SMS backend is the console one: the text is in its log.
    with django_db_blocker.unblock():
        a = AssistedOrder.objects.get(customer_phone=desk_store.phone)
        assert a.checkout.buyer.display_name == "李奶奶"
    log = (Path(os.environ.get("PLATFORM_TEST_TMP", "/tmp")) / "web.log").read_text()
    texts = [line for line in log.splitlines()
             if f"SMS to {desk_store.phone}" in line and a.checkout.number in line]
    code = re.search(r"\b(\d{6})\b", texts[-1].split(":", 1)[1]).group(1)
    shot(page, "desk-confirm-phone")
    page.fill("input[name=code]", code)
    with page.expect_navigation():
        page.click("#confirm-box button[type=submit]")
    assert "客户已确认" in page.content()
    with page.expect_navigation():
        page.click("#take-payment")
    page.fill("#receipt_number", "GT-0001")
    shot(page, "desk-pay-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    with page.expect_navigation():
        page.click("#desk-form button[type=submit]")
    assert "已在柜台收款" in page.content()
    with django_db_blocker.unblock():
        assert DeskPayment.objects.get(checkout=a.checkout).amount == a.checkout.total
        number = a.checkout.orders.get().number

    page.goto(_url(web_server, f"/console/desk/waiting/?branch={a.branch_id}"))
    assert number in page.content()
    shot(page, "desk-waiting-phone")
    page.goto(_url(web_server, f"/console/desk/slip/{number}/"))
    assert "提货单" in page.content() and "李奶奶" in page.content()
    shot(page, "desk-slip-phone")
