"""Sharing in a real browser on a phone-sized screen (the system Chromium against the
real web server): a shopper shares a shop from its page, sees the QR code and the poster
(a real PNG the browser decodes), and finds the link on "my shares"; nothing is wider
than the phone. Screenshots go to the test screenshots folder."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.services import user_register
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
def shop(province, django_db_blocker):
    tag = unique.tag()
    with django_db_blocker.unblock():
        merchant, _ = approved_merchant(province.bank_a, province.a_manager,
                                        name=f"甲县分享果园{tag}")
        product_with_sku(merchant, name="甲县沃柑", price="39.90", stock=30)
        sharer = user_register(username=f"sh-{tag}", password=PASSWORD, display_name="分享人")
    return merchant, sharer


def test_a_shopper_shares_a_shop_with_a_poster_on_a_phone(phone_page, web_server, shop):
    merchant, sharer = shop
    page = phone_page
    host = "bank-a.localhost"
    page.goto(web_server.url(host, f"/accounts/login/?next=/shop/{merchant.pk}/"))
    page.fill("input[name=username]", sharer.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"**/shop/{merchant.pk}/")
    with page.expect_navigation():
        page.click("form.shopshare button")
    assert page.locator("h1").inner_text() == "分享给好友"
    url = page.locator("#share-url").input_value()
    assert f"/shop/{merchant.pk}/?ref=" in url
    poster = page.locator("img.shareposter")
    poster.scroll_into_view_if_needed()
    # (not wait_for_function: its string predicate is an eval, which the pages' CSP refuses)
    expect(poster).to_have_js_property("complete", True)
    assert page.evaluate("document.querySelector('img.shareposter').naturalWidth") == 750
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    shot(page, "share-shop-phone")

    page.goto(web_server.url(host, "/share/mine/"))
    assert page.locator("h1").inner_text() == "我的分享"
    assert page.locator(".sharerow input").input_value() == url
    assert merchant.name in page.locator(".sharerow-head").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    shot(page, "my-shares-phone")
