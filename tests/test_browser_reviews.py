"""A review in a real browser on a phone-sized screen: a buyer whose order was received
writes a review with stars and text from the order page and finds it on the product page,
with the product's rating.

The data the web server must see is made in a module fixture, committed; at the end the
fixture removes the review (the product's rating is recounted) and refunds the order, so
that what other test modules look at is as it was.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from accounts.services import user_register
from catalog.services import rating_refresh
from orders import services as orders
from orders.models import Order, Review
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
                                        name=f"甲县评价果园{tag}")
        sku = product_with_sku(merchant, name="甲县冰糖橙", price="39.00", stock=20)
        buyer = user_register(username=f"rv-buyer-{tag}", password=PASSWORD,
                              display_name="周八")
        checkout = place(buyer, province.bank_a, [(sku, 1)])
        pay(checkout)
        order = checkout.orders.get()
        owner = merchant.members.get().user
        orders.order_ship(order=order, actor=owner, carrier="中通快递", tracking_number="ZT9")
        orders.order_track(order=order, actor=owner, description="已签收", delivered=True)
        orders.order_confirm_receipt(order=order, actor=buyer)
    yield SimpleNamespace(merchant=merchant, sku=sku, buyer=buyer, order=order, owner=owner)
    with django_db_blocker.unblock():
        Review.objects.filter(order=order).delete()
        rating_refresh(product_id=sku.product_id, visible=Review.objects.filter(
            hidden_at__isnull=True))
        order = Order.objects.get(pk=order.pk)
        orders.refund_issue(order=order, actor=owner, amount=order.refundable,
                            reason="test clean-up")


def url(web_server, path="/"):
    return web_server.url("bank-a.localhost", path)


def fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


def test_buyer_reviews_a_received_order_and_sees_it_on_the_product_page(
        phone_page, web_server, received):
    page = phone_page
    order_path = f"/orders/{received.order.number}/"
    page.goto(url(web_server, f"/accounts/login/?next={order_path}"))
    page.fill("input[name=username]", received.buyer.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.url.endswith(order_path)

    page.click(".rv-write summary")
    page.check("input[name=stars][value='4']")
    page.fill(".rv-write textarea[name=text]", "橙子很甜，个头均匀")
    shot(page, "review-write-phone")
    fits_the_phone(page)
    with page.expect_navigation():
        page.click(".rv-write button[type=submit]")
    assert "#reviews" in page.url or page.url.endswith(order_path)
    assert "橙子很甜，个头均匀" in page.content()
    assert page.locator(".rv-write").count() == 0   # written: no second form

    page.goto(url(web_server, f"/p/{received.sku.product_id}/"))
    section = page.locator("#reviews + .rv-list")
    assert "橙子很甜，个头均匀" in section.inner_text()
    assert "周**" in section.inner_text()
    assert "4.00" in page.content()
    shot(page, "review-product-phone")
    fits_the_phone(page)
    review = Review.objects.get(order=received.order)
    assert review.stars == 4 and review.buyer_id == received.buyer.pk
