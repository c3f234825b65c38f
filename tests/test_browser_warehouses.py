"""Warehouse stock and a warehouse receipt in a real browser (the system Chromium on a
phone-sized screen) against the real web server: a merchant records an outbound of goods
from its warehouse lot (too many: the message, nothing moved), and anyone who scans the
receipt's QR code sees it verified on the portal, without its holder.

The data the web server must see is made in a module fixture through the services,
committed; the SKU is a new one of its own, so nothing other modules count changes.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests import test_browser
from tests.orders_factories import market
from tests.test_browser import shot
from warehouses.models import Lot
from warehouses.services import (
    lot_inbound,
    receipt_issue,
    warehouse_decide,
    warehouse_register,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

browser = test_browser.browser
phone_page = test_browser.phone_page


@pytest.fixture(scope="module")
def stored(province, django_db_blocker):
    with django_db_blocker.unblock():
        shop = market(province, stock_a=0)
        store = warehouse_register(bank=province.bank_a, actor=province.a_manager,
                                   name="甲县冷链仓", operator="甲县供销冷链", address="甲县工业园",
                                   capacity=500, temperature_class="chilled")
        store = warehouse_decide(warehouse=store, actor=province.a_admin, action="approve",
                                 note="温控记录齐全")
        owner = shop.merchant_a.members.get().user
        lot = lot_inbound(actor=owner, merchant=shop.merchant_a, warehouse=store,
                          sku=shop.sku_a, quantity=40, grade="一级")
        receipt = receipt_issue(bank=province.bank_a, actor=province.a_manager, lot=lot,
                                quantity=10)
    return SimpleNamespace(merchant=shop.merchant_a, owner=owner, lot=lot, receipt=receipt)


def test_a_merchant_moves_goods_out_and_a_receipt_is_verified_by_its_qr(
        phone_page, web_server, province, stored):
    page = phone_page
    url = f"/merchant/{stored.merchant.pk}/warehouses/"
    page.goto(web_server.url("bank-a.localhost", f"/accounts/login/?next={url}"))
    page.fill("input[name=username]", stored.owner.username)
    page.fill("input[name=password]", province.password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert "甲县冷链仓" in page.locator("#merchant-lots").inner_text()
    row = page.locator("tr", has=page.locator(f"input[name=lot][value='{stored.lot.pk}']"))

    row.locator("select[name=do]").select_option("outbound")
    row.locator("input[name=quantity]").fill("41")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    assert page.locator(".errorlist, .messages .error").count() >= 1
    assert Lot.objects.get(pk=stored.lot.pk).on_hand == 40

    row = page.locator("tr", has=page.locator(f"input[name=lot][value='{stored.lot.pk}']"))
    row.locator("select[name=do]").select_option("outbound")
    row.locator("input[name=quantity]").fill("5")
    row.locator("input[name=note]").fill("发往县城门店")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    assert Lot.objects.get(pk=stored.lot.pk).on_hand == 35
    assert page.evaluate("document.documentElement.scrollWidth") <= 400  # no sideways page
    shot(page, "merchant-warehouse-stock")

    page.goto(web_server.url("localhost", f"/receipts/verify/{stored.receipt.verify_token}/"))
    facts = page.locator("#receipt-verify").inner_text()
    assert stored.receipt.number in facts and "甲县冷链仓" in facts and "10" in facts
    assert stored.merchant.name not in facts  # the holder is not shown
    shot(page, "receipt-verify")
