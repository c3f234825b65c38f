"""A return in a real browser (the system Chromium on a phone-sized screen) against the
real web server: a buyer opens a received order, asks to return one box with a reason and
a photo, and sees the return's progress on the order page; a wrong quantity shows its
message on the page and writes nothing.

The data the web server must see is made in a module fixture, committed; at the end the
return is withdrawn and the order refunded, so that escrow balances and reservations other
test modules look at are as they were.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from PIL import Image

from accounts.services import user_register
from orders import services as orders
from orders.models import ReturnRequest, ReturnStatus
from tests import test_browser, unique
from tests.catalog_factories import approved_merchant
from tests.orders_factories import pay, place, product_with_sku
from tests.test_browser import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

browser = test_browser.browser
phone_page = test_browser.phone_page

PASSWORD = "Test@pass-2026"
PHONE_WIDTH = 390


@pytest.fixture(scope="module")
def received(province, django_db_blocker):
    tag = unique.tag()
    with django_db_blocker.unblock():
        merchant, _ = approved_merchant(province.bank_a, province.a_manager,
                                        name=f"甲县退货果园{tag}")
        sku = product_with_sku(merchant, name="甲县红富士苹果", price="45.50", stock=20)
        seller = merchant.members.get().user
        buyer = user_register(username=f"br-buyer-{tag}", password=PASSWORD,
                              display_name="孙八")
        checkout = place(buyer, province.bank_a, [(sku, 2)])
        pay(checkout)
        order = checkout.orders.get()
        orders.order_ship(order=order, actor=seller, carrier="顺丰速运",
                          tracking_number=f"SF{order.pk:010d}")
        orders.order_track(order=order, actor=seller, description="已签收", delivered=True)
        orders.order_confirm_receipt(order=order, actor=buyer)
    yield SimpleNamespace(order=order, buyer=buyer, seller=seller)
    with django_db_blocker.unblock():
        for ret in ReturnRequest.objects.filter(order=order, status__in=(
                ReturnStatus.REQUESTED, ReturnStatus.APPROVED)):
            orders.return_withdraw(return_request=ret, actor=buyer)
        order.refresh_from_db()
        if order.refundable:
            orders.refund_issue(order=order, actor=seller, amount=order.refundable,
                                reason="test clean-up")


def fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def test_the_buyer_asks_for_a_return_on_a_phone(phone_page, web_server, received):
    page = phone_page
    order = received.order
    line = order.lines.get()
    page.goto(web_server.url("bank-a.localhost",
                             f"/accounts/login/?next=/orders/{order.number}/"))
    page.fill("input[name=username]", received.buyer.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.url.endswith(f"/orders/{order.number}/")

    page.click("#return-form summary")
    assert page.locator(f"#id_qty_{line.pk}").is_visible()
    fits_the_phone(page)
    # More than bought: the page says so and nothing is written.
    page.fill(f"#id_qty_{line.pk}", "3")
    page.evaluate(f"document.getElementById('id_qty_{line.pk}').removeAttribute('max')")
    page.select_option("#id_return_reason", "damaged")
    with page.expect_navigation():
        page.click("#return-form button[type=submit]")
    assert page.locator("#return-form .errorlist").is_visible()  # "only 2 can be returned"
    assert not ReturnRequest.objects.filter(order=order).exists()

    page.fill(f"#id_qty_{line.pk}", "1")
    page.select_option("#id_return_reason", "damaged")
    page.fill("#id_return_description", "一箱压坏了")
    page.set_input_files("#id_return_photos", files=[
        {"name": "box.jpg", "mimeType": "image/jpeg", "buffer": jpeg_bytes()}])
    shot(page, "return-form-phone")
    with page.expect_navigation():
        page.click("#return-form button[type=submit]")
    ret = ReturnRequest.objects.get(order=order)
    assert (ret.status, str(ret.amount), ret.photos.count()) == ("requested", "45.50", 1)
    box = page.locator(f"[data-return='{ret.pk}']")
    assert box.locator(".s-return-requested").is_visible()
    assert "一箱压坏了" in box.inner_text()
    assert box.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    shot(page, "return-requested-phone")
    fits_the_phone(page)
