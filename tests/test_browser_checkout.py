"""The whole checkout in a real browser (the system Chromium on a phone-sized screen)
against the real web server, the test database and the local card server: a shopper on
bank A's storefront buys a bank-A and a bank-B product in one checkout (one delivered, one
picked up at a branch), pays with a test card and lands on the paid checkout; a card that
needs authentication is approved on the issuer's stand-in page.

The data the web server must see is made in a module fixture, committed; at the end the
fixture gives every unpaid checkout up and refunds every paid order, so that escrow
balances and reservations other test modules look at are as they were.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from accounts.services import user_register
from orders import services as orders
from orders.models import Checkout, CheckoutStatus, Fulfilment, Order, OrderStatus
from payments import services as payments
from payments.models import PaymentStatus
from tests import test_browser, unique
from tests.catalog_factories import approved_merchant
from tests.orders_factories import pay, place, product_with_sku
from tests.test_browser import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

# The browser and the phone-sized page of tests/test_browser.py (fixtures).
browser = test_browser.browser
phone_page = test_browser.phone_page

PASSWORD = "Test@pass-2026"
PHONE_WIDTH = 390


@pytest.fixture(scope="module")
def store(province, django_db_blocker):
    tag = unique.tag()
    with django_db_blocker.unblock():
        m_a, _ = approved_merchant(province.bank_a, province.a_manager,
                                   name=f"甲县红星果园{tag}")
        m_b, _ = approved_merchant(province.bank_b, province.b_manager,
                                   name=f"乙县百花蜂场{tag}")
        sku_a = product_with_sku(m_a, name="甲县红富士苹果", price="45.50", stock=50)
        sku_b = product_with_sku(m_b, name="乙县槐花蜜", price="68.00", stock=50)

        def shopper(prefix, display_name, n):
            return user_register(username=f"{prefix}-{tag}", password=PASSWORD,
                                 display_name=display_name,
                                 phone=f"139{int(tag, 16) % 10**7:07d}{n}"[:11])

        buyer = shopper("bc-buyer", "李四", 1)
        auth_buyer = shopper("bc-auth", "王五", 2)
        viewer = shopper("bc-viewer", "赵六", 3)
        book_buyer = shopper("bc-book", "钱七", 4)
        # the viewer already bought: a pickup order waiting at bank A's branch
        checkout = place(viewer, province.bank_a, [(sku_a, 1), (sku_b, 1)],
                         fulfilment={m_b.pk: orders.FulfilmentChoice(Fulfilment.PICKUP,
                                                                     province.a_branch.pk)})
        pay(checkout)
        pickup_order = checkout.orders.get(merchant=m_b)
        orders.order_ready_for_pickup(order=pickup_order, actor=province.b_manager)
        pickup_order.refresh_from_db()
    yield SimpleNamespace(tag=tag, merchant_a=m_a, merchant_b=m_b, sku_a=sku_a, sku_b=sku_b,
                          buyer=buyer, auth_buyer=auth_buyer, viewer=viewer,
                          book_buyer=book_buyer, pickup_order=pickup_order)
    with django_db_blocker.unblock():
        _give_back(province, [buyer, auth_buyer, viewer, book_buyer], {m_a.pk: province.a_manager,
                                                           m_b.pk: province.b_manager})


def _give_back(province, buyers, members) -> None:
    """Unpaid checkouts are given up, paid orders refunded in full: the module leaves no
    reservation and no escrow behind."""
    for checkout in Checkout.objects.filter(buyer__in=buyers):
        if checkout.status == CheckoutStatus.PENDING_PAYMENT:
            payments.checkout_abandon(checkout=checkout, buyer=checkout.buyer)
    for order in Order.objects.filter(buyer__in=buyers, status__in=orders.REFUNDABLE):
        orders.refund_issue(order=order, actor=members[order.merchant_id],
                            amount=order.refundable, reason="test clean-up")


def url(web_server, path="/"):
    return web_server.url("bank-a.localhost", path)


def fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


def log_in(page, web_server, user, next_path="/"):
    page.goto(url(web_server, f"/accounts/login/?next={next_path}"))
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")


def fill_address(page) -> None:
    page.fill("#id_recipient_name", "李四")
    page.fill("#id_recipient_phone", "13800138000")
    page.fill("#id_address", "甲县人民路 18 号 3 单元 501")


def test_buy_from_two_banks_pick_up_one_and_pay_by_card(phone_page, web_server, province,
                                                        store):
    page = phone_page
    # Anonymous: put both products in the cart from their pages.
    page.goto(url(web_server, f"/p/{store.sku_a.product_id}/"))
    assert "加入购物车" in page.content() and "立即购买" in page.content()
    shot(page, "product-phone")
    fits_the_phone(page)
    with page.expect_navigation():
        page.click("button[value=cart]")
    assert "已将 甲县红富士苹果 5斤装 加入购物车" in page.content()
    page.goto(url(web_server, f"/p/{store.sku_b.product_id}/"))
    page.fill("input[name=quantity]", "2")
    with page.expect_navigation():
        page.click("button[value=cart]")
    assert page.locator(".cartbadge").inner_text() == "3"

    page.goto(url(web_server, "/cart/"))
    assert page.locator(".shopgroup").count() == 2
    assert store.merchant_a.name in page.content() and store.merchant_b.name in page.content()
    assert "甲农商行" in page.content() and "乙农商行" in page.content()
    shot(page, "cart-phone")
    fits_the_phone(page)

    # Checking out asks to log in; the anonymous cart comes along.
    with page.expect_navigation():
        page.click(".paybar a.cta")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", store.buyer.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.url.endswith("/checkout/")
    assert page.locator(".shopgroup").count() == 2

    fill_address(page)
    mb = store.merchant_b.pk
    page.check(f"input[name=method_{mb}][value=pickup]")
    branch = page.locator(f"input[name=branch_{mb}][value='{province.a_branch.pk}']")
    assert branch.is_visible()  # the branches show once pickup is chosen
    branch.check()
    # delivery for A only: 45.50 + 8.00 + 2 x 68.00 = 189.50
    assert page.locator("#grand-total").inner_text() == "189.50"
    shot(page, "checkout-phone")
    fits_the_phone(page)
    with page.expect_navigation():
        page.click("button:has-text('提交订单')")
    assert "/pay/" in page.url
    checkout = Checkout.objects.get(buyer=store.buyer)
    assert checkout.total == Decimal("189.50")
    assert "¥189.50" in page.content() and "商品为您保留至" in page.content()
    shot(page, "pay-phone")
    fits_the_phone(page)

    page.click(".testcard[data-number='4242 4242 4242 4242']")
    assert page.input_value("#id_number") == "4242 4242 4242 4242"
    with page.expect_navigation():
        page.click("#pay-button")
    assert page.url.endswith(f"/checkouts/{checkout.number}/")
    assert "支付成功" in page.content() and "已支付" in page.content()
    shot(page, "paid-phone")
    fits_the_phone(page)

    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID
    order_a = checkout.orders.get(merchant=store.merchant_a)
    order_b = checkout.orders.get(merchant=store.merchant_b)
    assert (order_a.fulfilment, order_a.recipient_phone) == (Fulfilment.DELIVERY, "13800138000")
    assert (order_b.fulfilment, order_b.pickup_branch_id) == (Fulfilment.PICKUP,
                                                             province.a_branch.pk)
    assert order_b.referrer_bank == province.bank_a and order_b.is_cross_bank
    assert order_a.status == order_b.status == OrderStatus.PAID

    with page.expect_navigation():
        page.click(f"a[href='/orders/{order_b.number}/']")
    assert province.a_branch.name in page.content()
    shot(page, "order-pickup-preparing-phone")


def test_card_needing_authentication_is_approved_on_the_issuers_page(phone_page, web_server,
                                                                     store):
    page = phone_page
    log_in(page, web_server, store.auth_buyer, f"/p/{store.sku_a.product_id}/")
    with page.expect_navigation():
        page.click("button[value=buy]")
    assert page.url.endswith("/checkout/")
    fill_address(page)
    with page.expect_navigation():
        page.click("button:has-text('提交订单')")
    page.fill("#id_number", "4000 0027 6000 3184")
    page.fill("#id_exp", "12/34")
    page.fill("#id_cvc", "123")
    with page.expect_navigation():
        page.click("#pay-button")
    assert "/pay/authenticate/" in page.url
    assert "3184" in page.content()
    shot(page, "authenticate-phone")
    fits_the_phone(page)
    with page.expect_navigation():
        page.click("button:has-text('确认支付')")
    checkout = Checkout.objects.get(buyer=store.auth_buyer)
    assert page.url.endswith(f"/checkouts/{checkout.number}/")
    assert checkout.status == CheckoutStatus.PAID
    assert checkout.payments.get().status == PaymentStatus.SUCCEEDED


def test_the_pickup_code_on_a_phone(phone_page, web_server, store):
    page = phone_page
    order = store.pickup_order
    log_in(page, web_server, store.viewer, f"/orders/{order.number}/")
    assert page.url.endswith(f"/orders/{order.number}/")
    digits = page.locator(".pickupcode .digits").inner_text()
    assert digits.replace(" ", "") == order.pickup_code
    qr = page.locator(".pickupcode img")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    shot(page, "order-pickup-code-phone")
    fits_the_phone(page)
    page.goto(url(web_server, "/orders/"))
    assert page.locator(".ordercard").count() == 2
    shot(page, "orders-phone")
    fits_the_phone(page)


def test_an_address_saved_in_the_book_is_chosen_at_checkout(phone_page, web_server, store):
    page = phone_page
    log_in(page, web_server, store.book_buyer, "/accounts/addresses/new/")
    assert page.url.endswith("/accounts/addresses/new/")
    page.fill("#id_recipient_name", "钱七")
    page.fill("#id_recipient_phone", "13800138007")
    # Each level's choices arrive when the level above is chosen.
    assert page.locator("#id_city").is_hidden()
    for select, code in (("#id_province", "33"), ("#id_city", "3301"),
                         ("#id_county", "330106"), ("#id_township", "330106002")):
        page.wait_for_selector(f"{select} option[value='{code}']", state="attached")
        page.select_option(select, code)
    page.fill("#id_detail", "灵隐路 8 号")
    shot(page, "address-form-phone")
    fits_the_phone(page)
    with page.expect_navigation():
        page.click("#address-save")
    assert page.url.endswith("/accounts/addresses/")
    assert "浙江省杭州市西湖区北山街道 灵隐路 8 号" in page.content()
    assert "默认" in page.content()
    shot(page, "address-book-phone")
    fits_the_phone(page)

    page.goto(url(web_server, f"/p/{store.sku_a.product_id}/"))
    with page.expect_navigation():
        page.click("button[value=buy]")
    assert page.url.endswith("/checkout/")
    saved = page.locator(".addrbook input[name=address_id]").first
    assert saved.is_checked()
    assert page.locator("#id_address").is_hidden()   # the typed fields are not needed
    shot(page, "checkout-address-book-phone")
    fits_the_phone(page)
    with page.expect_navigation():
        page.click("button:has-text('提交订单')")
    assert "/pay/" in page.url
    order = Order.objects.get(buyer=store.book_buyer)
    assert (order.recipient_name, order.recipient_phone, order.address) == (
        "钱七", "13800138007", "浙江省杭州市西湖区北山街道灵隐路 8 号")
