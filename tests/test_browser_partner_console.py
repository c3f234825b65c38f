"""The partner console in a real browser (the system Chromium on a phone-sized screen)
against the real web server: a partner's admin signs in on the portal, creates an API key
and sees it once (it is not on the page again), and finds the partner's order.

The data the web server must see is made in a module fixture, committed; at the end the
unpaid order is cancelled (its stock reservation released) and the key revoked.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from accounts.services import user_register
from orders.services import checkout_cancel
from partners.models import PartnerKey
from partners.ordering import Recipient, partner_order_place
from partners.services import key_revoke, member_add, partner_register
from tests import test_browser, unique
from tests.catalog_factories import approved_merchant
from tests.orders_factories import product_with_sku
from tests.test_browser import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

browser = test_browser.browser
phone_page = test_browser.phone_page
PHONE_WIDTH = 390


@pytest.fixture(scope="module")
def partner_world(province, django_db_blocker):
    tag = unique.tag()
    with django_db_blocker.unblock():
        merchant, _ = approved_merchant(province.bank_a, province.a_manager,
                                        name=f"甲县合作果园{tag}")
        sku = product_with_sku(merchant, name="甲县沙糖桔", price="38.00", stock=20)
        partner = partner_register(acting_user=province.fed_admin, name=f"县电商中心{tag}",
                                   kind="county_centre", contact_name="周主任",
                                   contact_phone="13800000201", fee_rate="0.0150",
                                   banks=[province.bank_a])
        admin = user_register(username=f"pc-admin-{tag}", password=province.password,
                              display_name="周主任")
        member_add(partner=partner, person=admin.username, role="admin",
                   acting_user=province.fed_admin)
        placed = partner_order_place(
            partner=partner, idempotency_key=f"browser-{tag}", customer_reference="WX-7788",
            recipient=Recipient("王五", "13800138000", "330106002", "灵隐路 8 号"),
            lines=[{"sku": sku.pk, "quantity": 2}])
    yield SimpleNamespace(partner=partner, admin=admin, order=placed.order)
    with django_db_blocker.unblock():
        checkout = placed.order.checkout
        checkout.refresh_from_db()
        if checkout.status == "pending_payment":
            checkout_cancel(checkout=checkout, reason="test over")
        for key in PartnerKey.objects.filter(partner=partner, revoked_at__isnull=True):
            key_revoke(key=key, acting_user=province.fed_admin)


def test_a_partner_admin_creates_a_key_sees_it_once_and_finds_the_orders(
        phone_page, web_server, province, partner_world):
    page = phone_page
    page.goto(web_server.url("localhost", "/accounts/login/?next=/partner/"))
    page.fill("input[name=username]", partner_world.admin.username)
    page.fill("input[name=password]", province.password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    # /partner/ leads to the one partner's overview.
    assert partner_world.partner.name in page.locator("main h2").first.inner_text()
    assert page.locator('[data-figure="orders-placed"]').inner_text() == "1"
    assert page.locator('[data-figure="awaiting-payment"]').inner_text() == "1"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    shot(page, "partner-console-overview")

    page.click("nav.oc-tabs >> text=API 密钥")
    page.wait_for_load_state()
    page.fill("#id_name", "小程序下单")
    page.check("input[name=scopes][value='orders:read']")
    page.check("input[name=scopes][value='orders:write']")
    with page.expect_navigation():
        page.click("#create-key button[type=submit]")
    secret = page.locator("[data-new-key]").inner_text().strip()
    assert secret.startswith("pk_")
    key = PartnerKey.objects.get(partner=partner_world.partner, name="小程序下单")
    assert secret.startswith(f"pk_{key.prefix}_")
    assert sorted(key.scopes) == ["orders:read", "orders:write"]
    assert page.locator(f'#key-list [data-key="{key.prefix}"]').count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    shot(page, "partner-console-new-key")
    # Shown once: the keys page again lists the key but not its secret.
    page.goto(web_server.url("localhost", f"/partner/{partner_world.partner.pk}/keys/"))
    assert secret not in page.content()
    assert page.locator("[data-new-key]").count() == 0
    assert page.locator(f'#key-list [data-key="{key.prefix}"]').count() == 1

    page.click("nav.oc-tabs >> text=订单")
    page.wait_for_load_state()
    number = partner_world.order.checkout.number
    card = page.locator(f'[data-order="{number}"]')
    assert "甲县沙糖桔" in card.inner_text() and "WX-7788" in card.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    shot(page, "partner-console-orders")
    with page.expect_navigation():
        card.click()
    assert number in page.locator("main h2").last.inner_text()
    assert "下单" in page.locator(".oc-timeline").first.inner_text()  # the order's history
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    shot(page, "partner-console-order")
