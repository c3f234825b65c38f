"""The shopper's buying pages through the Django test client, the real database and the
local Stripe-compatible server: cart (anonymous, merged at login), checkout, the card page
and the authentication stand-in, orders, share links and referral attribution."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import BuyerKind
from accounts.services import user_register
from orders import services as orders
from orders.middleware import TOUCHES
from orders.models import (
    Cart,
    CartItem,
    Checkout,
    CheckoutStatus,
    Fulfilment,
    Order,
    OrderStatus,
    ReferralTouch,
    Refund,
    ShareLink,
)
from orders.views import CART_TOKEN
from payments.models import Payment, PaymentStatus
from tests import unique
from tests.orders_factories import AUTH_CARD, market, pay, place

pytestmark = pytest.mark.django_db

GOOD = {"number": "4242 4242 4242 4242", "exp": "12/34", "cvc": "123"}
DECLINED = {"number": "4000 0000 0000 0341", "exp": "12/34", "cvc": "123"}
AUTH = {"number": "4000 0027 6000 3184", "exp": "12/34", "cvc": "123"}
ADDRESS = {"recipient_name": "张三", "recipient_phone": "13700000001",
           "address": "甲县人民路 18 号 3 单元"}


@pytest.fixture
def shop(province):
    return market(province)


def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def new_user(name: str | None = None, **extra):
    return user_register(username=name or f"u-{unique.tag(8)}",
                         password="Test@pass-2026", **extra)


def login(client, user) -> None:
    """Log in through the real login form (the user_logged_in receiver runs)."""
    response = client.post("/accounts/login/", {"username": user.username,
                                                "password": "Test@pass-2026"})
    assert response.status_code == 302, response.content.decode()[:500]


def html(response) -> str:
    return response.content.decode()


def key_of(page: str) -> str:
    return re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', page).group(1)


def place_via_page(client, shop, lines, **post):
    for sku, qty in lines:
        assert client.post("/cart/add/", {"sku": sku.pk, "quantity": qty}).status_code == 302
    data = {**ADDRESS, **post}
    response = client.post("/checkout/", data)
    assert response.status_code == 302, html(response)[:3000]
    number = response["Location"].rstrip("/").rsplit("/", 1)[1]
    assert response["Location"] == f"/pay/{number}/"
    return Checkout.objects.get(number=number)


def pay_via_page(client, checkout, card):
    page = client.get(f"/pay/{checkout.number}/")
    assert page.status_code == 200
    return client.post(f"/pay/{checkout.number}/", {**card, "idempotency_key": key_of(html(page))})


# --- cart ----------------------------------------------------------------------------------


def test_anonymous_cart_merges_into_the_account_at_login(province, client_on, shop):
    buyer = new_user()
    mine = orders.cart_get_or_create(user=buyer)
    orders.cart_add(cart=mine, sku_id=shop.sku_a.pk, quantity=1)
    client = english(client_on(province.bank_a))
    response = client.post("/cart/add/", {"sku": shop.sku_a.pk, "quantity": 2,
                                          "next": f"/p/{shop.sku_a.product_id}/"})
    assert response.status_code == 302
    assert response["Location"] == f"/p/{shop.sku_a.product_id}/"
    client.post("/cart/add/", {"sku": shop.sku_b.pk, "quantity": 1})
    token = client.session[CART_TOKEN]
    anonymous = Cart.objects.get(token=token)
    assert anonymous.user is None and anonymous.items.count() == 2
    page = html(client.get("/cart/"))
    assert "甲县苹果" in page and "乙县槐花蜜" in page
    assert shop.merchant_a.name in page and shop.merchant_b.name in page
    assert "甲农商行" in page and "乙农商行" in page  # each shop's bank
    assert '<span class="cartbadge">3</span>' in page

    login(client, buyer)
    assert not Cart.objects.filter(pk=anonymous.pk).exists()
    quantities = dict(CartItem.objects.filter(cart__user=buyer).values_list("sku_id", "quantity"))
    assert quantities == {shop.sku_a.pk: 3, shop.sku_b.pk: 1}
    assert CART_TOKEN not in client.session
    assert '<span class="cartbadge">4</span>' in html(client.get("/cart/"))


def test_cart_quantities_change_and_bad_input_gives_a_message(province, client_on, shop):
    client = english(client_on(province.bank_a, new_user()))
    client.post("/cart/add/", {"sku": shop.sku_a.pk, "quantity": 2})
    client.post("/cart/update/", {"sku": shop.sku_a.pk, "quantity": 5})
    item = CartItem.objects.get(sku=shop.sku_a)
    assert item.quantity == 5
    for bad in ({"sku": shop.sku_a.pk, "quantity": "lots"},
                {"sku": shop.sku_a.pk, "quantity": "-3"},
                {"sku": "x", "quantity": "1"}):
        response = client.post("/cart/update/", bad, follow=True)
        assert response.status_code == 200
        assert 'class="error"' in html(response)
    item.refresh_from_db()
    assert item.quantity == 5
    # adding something that is not for sale, or nonsense, is a message, not a 500
    for bad in ({"sku": "999999999", "quantity": 1}, {"sku": "abc"},
                {"sku": shop.sku_a.pk, "quantity": "0"}):
        response = client.post("/cart/add/", bad, follow=True)
        assert response.status_code == 200 and 'class="error"' in html(response)
    client.post("/cart/update/", {"sku": shop.sku_a.pk, "quantity": 0})
    assert not CartItem.objects.filter(sku=shop.sku_a).exists()
    assert "Your cart is empty." in html(client.get("/cart/"))


def test_cart_shows_flash_sale_and_wholesale_badges(province, client_on, shop):
    now = timezone.now()
    orders.flash_sale_create(sku=shop.sku_b, title="蜂蜜秒杀", price="50.00",
                             starts_at=now - timedelta(minutes=1),
                             ends_at=now + timedelta(hours=1), quantity=5)
    business = new_user(buyer_kind=BuyerKind.BUSINESS, business_name="甲县食堂")
    client = english(client_on(province.bank_a, business))
    client.post("/cart/add/", {"sku": shop.sku_a.pk, "quantity": 10})
    client.post("/cart/add/", {"sku": shop.sku_b.pk, "quantity": 1})
    page = html(client.get("/cart/"))
    assert "¥39.00" in page and "Wholesale price" in page  # tier from 10 boxes
    assert "¥50.00" in page and "Flash sale" in page
    assert "<s class=\"meta\">¥68.00</s>" in page


def test_buy_now_goes_to_checkout_and_anonymous_checkout_asks_to_log_in(province, client_on,
                                                                        shop):
    client = client_on(province.bank_a)
    response = client.post("/cart/add/", {"sku": shop.sku_a.pk, "quantity": 1,
                                          "action": "buy"})
    assert response["Location"] == "/checkout/"
    response = client.get("/checkout/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_top_bar_counts_the_cart_in_one_query(province, client_on, shop):
    buyer = new_user()
    client = client_on(province.bank_a, buyer)
    client.get("/orders/")  # the first page records the storefront visit
    with CaptureQueriesContext(connection) as empty:
        client.get("/orders/")
    orders.cart_add(cart=orders.cart_get_or_create(user=buyer), sku_id=shop.sku_a.pk,
                    quantity=2)
    with CaptureQueriesContext(connection) as full:
        page = html(client.get("/orders/"))
    assert '<span class="cartbadge">2</span>' in page
    counting = [q for q in full.captured_queries if "orders_cartitem" in q["sql"]]
    assert len(counting) == 1
    def statements(ctx):  # a SET search_path depends on the connection's past, not the page
        return [q for q in ctx.captured_queries if not q["sql"].startswith("SET search_path")]

    assert len(statements(full)) == len(statements(empty))


# --- checkout ------------------------------------------------------------------------------


def test_checkout_page_lists_pickup_branches_with_hours(province, client_on, shop):
    client = english(client_on(province.bank_a, new_user()))
    client.post("/cart/add/", {"sku": shop.sku_b.pk, "quantity": 1})
    page = html(client.get("/checkout/"))
    # bank B's merchant on bank A's storefront: the branches of both banks
    for branch in (province.a_branch, province.b_branch):
        assert branch.name in page and branch.address in page
    assert "周一至周日 08:30-17:30" in page
    assert f'name="method_{shop.merchant_b.pk}"' in page


def test_checkout_validation_errors_change_nothing(province, client_on, shop):
    client = english(client_on(province.bank_a, new_user()))
    client.post("/cart/add/", {"sku": shop.sku_a.pk, "quantity": 2})
    before = (Checkout.objects.count(), Order.objects.count())

    bad_mobile = client.post("/checkout/", {**ADDRESS, "recipient_phone": "12345"})
    assert bad_mobile.status_code == 400
    assert "Enter a valid mainland China mobile number" in html(bad_mobile)
    assert 'value="12345"' in html(bad_mobile)  # what the shopper typed stays

    no_branch = client.post("/checkout/", {**ADDRESS, f"method_{shop.merchant_a.pk}": "pickup"})
    assert no_branch.status_code == 400
    assert f"Choose a pickup branch for {shop.merchant_a.name}." in html(no_branch)

    weird = client.post("/checkout/", {**ADDRESS, f"method_{shop.merchant_a.pk}": "drone",
                                       f"branch_{shop.merchant_a.pk}": "x"})
    assert weird.status_code == 400 and "Choose delivery or branch pickup." in html(weird)

    assert (Checkout.objects.count(), Order.objects.count()) == before
    shop.sku_a.refresh_from_db()
    assert shop.sku_a.stock == 20
    assert CartItem.objects.filter(sku=shop.sku_a).get().quantity == 2


def test_pickup_at_a_branch_of_an_unrelated_bank_is_refused(province, client_on, shop):
    # bank A's merchant on bank A's storefront: bank B has nothing to do with it
    client = english(client_on(province.bank_a, new_user()))
    client.post("/cart/add/", {"sku": shop.sku_a.pk, "quantity": 1})
    response = client.post("/checkout/", {f"method_{shop.merchant_a.pk}": "pickup",
                                          f"branch_{shop.merchant_a.pk}": province.b_branch.pk})
    assert response.status_code == 400
    assert f"Choose a pickup branch for {shop.merchant_a.name}." in html(response)
    assert not Checkout.objects.filter(orders__merchant=shop.merchant_a).exists()
    assert province.b_branch.name not in html(response)  # not even offered


def test_checkout_with_delivery_and_pickup_reserves_and_redirects_to_pay(province, client_on,
                                                                        shop):
    buyer = new_user()
    client = english(client_on(province.bank_a, buyer))
    checkout = place_via_page(
        client, shop, [(shop.sku_a, 2), (shop.sku_b, 1)],
        **{f"method_{shop.merchant_b.pk}": "pickup",
           f"branch_{shop.merchant_b.pk}": province.a_branch.pk})
    assert checkout.buyer == buyer and checkout.storefront_bank == province.bank_a
    assert checkout.total == Decimal("167.00")  # 91 + 8 delivery + 68 picked up
    order_b = checkout.orders.get(merchant=shop.merchant_b)
    assert (order_b.fulfilment, order_b.pickup_branch) == (Fulfilment.PICKUP, province.a_branch)
    shop.sku_a.refresh_from_db()
    assert shop.sku_a.stock == 18
    assert not CartItem.objects.filter(cart__user=buyer).exists()
    page = html(client.get(f"/pay/{checkout.number}/"))
    assert "¥167.00" in page and "Your goods are held until" in page
    assert "4242 4242 4242 4242" in page  # the local server's test cards


# --- paying --------------------------------------------------------------------------------


def test_declined_card_shows_the_message_and_keeps_the_goods_reserved(province, client_on,
                                                                     shop):
    buyer = new_user()
    client = english(client_on(province.bank_a, buyer))
    checkout = place_via_page(client, shop, [(shop.sku_a, 3)])
    response = pay_via_page(client, checkout, DECLINED)
    assert response.status_code == 400
    held = f"{timezone.localtime(checkout.reserved_until):%H:%M}"
    assert "The card was declined" in html(response)
    assert f"The goods stay reserved until {held}, try another card." in html(response)
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PENDING_PAYMENT
    shop.sku_a.refresh_from_db()
    assert shop.sku_a.stock == 17
    assert Payment.objects.get(checkout=checkout).status == PaymentStatus.FAILED
    # the page speaks Chinese by default
    client.defaults.pop("HTTP_ACCEPT_LANGUAGE")
    again = pay_via_page(client, checkout, DECLINED)
    assert f"商品为您保留至 {held}" in html(again)
    # then another card works
    paid = pay_via_page(client, checkout, GOOD)
    assert paid.status_code == 302 and paid["Location"] == f"/checkouts/{checkout.number}/"
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID


def test_paying_with_4242_pays_the_checkout_and_the_order_shows_it(province, client_on, shop):
    buyer = new_user()
    client = english(client_on(province.bank_a, buyer))
    checkout = place_via_page(client, shop, [(shop.sku_a, 1), (shop.sku_b, 1)])
    response = pay_via_page(client, checkout, GOOD)
    assert response.status_code == 302
    assert response["Location"] == f"/checkouts/{checkout.number}/"
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID
    page = html(client.get(response["Location"]))
    assert "Payment received" in page and "Paid" in page
    for order in checkout.orders.all():
        assert order.number in page
        detail = html(client.get(f"/orders/{order.number}/"))
        assert "Paid" in detail and order.merchant.name in detail
    listing = html(client.get("/orders/"))
    assert all(o.merchant.name in listing for o in checkout.orders.all())
    # the pay page of a paid checkout goes to the checkout
    assert client.get(f"/pay/{checkout.number}/")["Location"] == f"/checkouts/{checkout.number}/"


def test_a_double_submit_of_the_card_form_charges_once(province, client_on, shop):
    client = english(client_on(province.bank_a, new_user()))
    checkout = place_via_page(client, shop, [(shop.sku_a, 1)])
    key = key_of(html(client.get(f"/pay/{checkout.number}/")))
    first = client.post(f"/pay/{checkout.number}/", {**GOOD, "idempotency_key": key})
    second = client.post(f"/pay/{checkout.number}/", {**GOOD, "idempotency_key": key})
    assert first.status_code == second.status_code == 302
    assert Payment.objects.filter(checkout=checkout).count() == 1
    # each rendering carries a fresh key
    other = client_on(province.bank_a, checkout.buyer)
    checkout2 = place(checkout.buyer, province.bank_a, [(shop.sku_b, 1)])
    keys = {key_of(html(other.get(f"/pay/{checkout2.number}/"))) for _ in range(3)}
    assert len(keys) == 3


def test_bad_card_input_is_a_400_with_field_messages(province, client_on, shop):
    client = english(client_on(province.bank_a, new_user()))
    checkout = place_via_page(client, shop, [(shop.sku_a, 1)])
    page = client.get(f"/pay/{checkout.number}/")
    response = client.post(f"/pay/{checkout.number}/", {
        "number": "1234", "exp": "13/99x", "cvc": "1", "idempotency_key": key_of(html(page))})
    assert response.status_code == 400
    text = html(response)
    assert "Enter a valid card number." in text and "Enter the 3 or 4 digit security code." in text
    assert "Enter the card&#x27;s expiry date" in text
    assert not Payment.objects.filter(checkout=checkout).exists()
    missing_key = client.post(f"/pay/{checkout.number}/", {**GOOD, "idempotency_key": ""})
    assert missing_key.status_code == 400
    assert not Payment.objects.filter(checkout=checkout).exists()


def test_authentication_card_approved_on_the_stand_in_page(province, client_on, shop):
    client = english(client_on(province.bank_a, new_user()))
    checkout = place_via_page(client, shop, [(shop.sku_b, 1)])
    response = pay_via_page(client, checkout, AUTH)
    payment = Payment.objects.get(checkout=checkout)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert response["Location"] == f"/pay/authenticate/{payment.pk}/"
    page = html(client.get(response["Location"]))
    assert "¥76.00" in page and "3184" in page  # 68.00 + 8.00 delivery
    # the pay page offers to continue
    assert f"/pay/authenticate/{payment.pk}/" in html(client.get(f"/pay/{checkout.number}/"))
    done = client.post(response["Location"], {"result": "approve"})
    assert done["Location"] == f"/checkouts/{checkout.number}/"
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID


def test_authentication_failed_keeps_the_goods_reserved(province, client_on, shop):
    client = english(client_on(province.bank_a, new_user()))
    checkout = place_via_page(client, shop, [(shop.sku_b, 2)])
    response = pay_via_page(client, checkout, AUTH)
    failed = client.post(response["Location"], {"result": "fail"}, follow=True)
    assert failed.redirect_chain[-1][0] == f"/pay/{checkout.number}/"
    assert "was not authenticated" in html(failed)
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PENDING_PAYMENT
    shop.sku_b.refresh_from_db()
    assert shop.sku_b.stock == 18
    # the stand-in page of a finished payment just leads back to the pay page
    assert client.get(response["Location"])["Location"] == f"/pay/{checkout.number}/"


def test_cancel_this_order_releases_the_goods(province, client_on, shop):
    client = english(client_on(province.bank_a, new_user()))
    checkout = place_via_page(client, shop, [(shop.sku_a, 4)])
    response = client.post(f"/pay/{checkout.number}/cancel/", follow=True)
    assert "Order cancelled" in html(response)
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.CANCELLED
    shop.sku_a.refresh_from_db()
    assert shop.sku_a.stock == 20
    # a cancelled checkout has no card form, and paying it anyway is refused
    page = html(client.get(f"/pay/{checkout.number}/"))
    assert 'name="idempotency_key"' not in page and "Cancelled" in page
    refused = client.post(f"/pay/{checkout.number}/", {**GOOD, "idempotency_key": "k1"})
    assert refused.status_code == 400 and "place a new order" in html(refused)
    assert not Payment.objects.filter(checkout=checkout).exists()


def test_other_buyers_get_404_everywhere(province, client_on, shop):
    owner = new_user()
    checkout = place(owner, province.bank_a, [(shop.sku_a, 1)])
    payment = pay(checkout, card=AUTH_CARD)
    order = checkout.orders.get()
    stranger = client_on(province.bank_a, new_user())
    for path in (f"/orders/{order.number}/", f"/checkouts/{checkout.number}/",
                 f"/pay/{checkout.number}/", f"/pay/authenticate/{payment.pk}/"):
        assert stranger.get(path).status_code == 404, path
    for path, data in ((f"/pay/{checkout.number}/", {**GOOD, "idempotency_key": "k"}),
                       (f"/pay/{checkout.number}/cancel/", {}),
                       (f"/pay/authenticate/{payment.pk}/", {"result": "approve"}),
                       (f"/orders/{order.number}/confirm/", {}),
                       (f"/orders/{order.number}/refund/", {"amount": "1", "reason": "x"})):
        assert stranger.post(path, data).status_code == 404, path
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PENDING_PAYMENT
    assert Payment.objects.filter(checkout=checkout).count() == 1
    # staff of the merchant's bank are shoppers here too: no special access
    assert client_on(province.bank_a, province.a_admin).get(
        f"/orders/{order.number}/").status_code == 404


# --- after paying: pickup code, receipt, refunds --------------------------------------------


def test_order_detail_shows_pickup_code_timeline_and_buyer_actions(province, client_on, shop):
    buyer = new_user()
    client = english(client_on(province.bank_a, buyer))
    checkout = place(buyer, province.bank_a, [(shop.sku_a, 1), (shop.sku_b, 1)],
                     fulfilment={shop.merchant_b.pk: orders.FulfilmentChoice(
                         Fulfilment.PICKUP, province.a_branch.pk)})
    pay(checkout)
    order_a = checkout.orders.get(merchant=shop.merchant_a)
    order_b = checkout.orders.get(merchant=shop.merchant_b)
    orders.order_ship(order=order_a, actor=province.a_manager, carrier="中国邮政",
                      tracking_number="EMS1234567890")
    orders.order_track(order=order_a, actor=province.a_manager, description="到达甲县营业部",
                       location="甲县")
    orders.order_ready_for_pickup(order=order_b, actor=province.b_manager)
    order_b.refresh_from_db()

    page = html(client.get(f"/orders/{order_b.number}/"))
    code = order_b.pickup_code
    assert f"{code[:4]} {code[4:]}" in page
    assert 'src="data:image/svg+xml;base64,' in page
    assert province.a_branch.name in page and "08:30-17:30" in page
    assert "Ready for pickup" in page

    page = html(client.get(f"/orders/{order_a.number}/"))
    assert "EMS1234567890" in page and "中国邮政" in page
    assert "到达甲县营业部" in page and "(甲县)" in page  # tracking event in the timeline
    assert "Confirm receipt" in page and "Request a refund" in page

    bad = client.post(f"/orders/{order_a.number}/refund/", {"amount": "999", "reason": ""})
    assert bad.status_code == 400
    assert "Say why you want a refund." in html(bad)
    bad = client.post(f"/orders/{order_a.number}/refund/", {"amount": "abc", "reason": "坏果"})
    assert bad.status_code == 400 and "Enter an amount" in html(bad)
    assert not Refund.objects.filter(order=order_a).exists()
    ok = client.post(f"/orders/{order_a.number}/refund/", {"amount": "10", "reason": "有坏果"})
    assert ok.status_code == 302
    refund = Refund.objects.get(order=order_a)
    assert refund.amount == Decimal("10.00") and refund.requested_by == buyer
    order_a.refresh_from_db()
    assert order_a.status == OrderStatus.REFUND_REQUESTED
    # a confirmation the state machine refuses is a message, not a 500
    refused = client.post(f"/orders/{order_a.number}/confirm/", follow=True)
    assert "cannot be" in html(refused)
    orders.refund_decide(refund=refund, actor=province.a_manager, approve=False, note="完好")
    done = client.post(f"/orders/{order_a.number}/confirm/", follow=True)
    assert "Receipt confirmed" in html(done)
    order_a.refresh_from_db()
    assert order_a.status == OrderStatus.COMPLETED


# --- share links and referral attribution --------------------------------------------------


def test_share_button_and_link_with_qr(province, client_on, shop):
    product_b = shop.sku_b.product
    sharer = new_user()
    assert "Share with friends" not in html(english(client_on(province.bank_a)).get(
        f"/p/{product_b.pk}/"))  # anonymous: no share button
    assert "Share with friends" not in html(english(client_on(None, sharer)).get(
        f"/p/{product_b.pk}/"))  # the portal is no bank's storefront
    client = english(client_on(province.bank_a, sharer))
    assert "Share with friends" in html(client.get(f"/p/{product_b.pk}/"))
    response = client.post("/share/", {"product": product_b.pk})
    assert response.status_code == 200
    link = ShareLink.objects.get(sharer=sharer)
    assert (link.bank, link.product) == (province.bank_a, product_b)
    assert f"http://bank-a.localhost/p/{product_b.pk}/?ref={link.code}" in html(response)
    assert 'src="data:image/svg+xml;base64,' in html(response)
    assert client.post("/share/", {"product": product_b.pk}).status_code == 200
    assert ShareLink.objects.filter(sharer=sharer).count() == 1
    assert client.post("/share/", {"product": "x"}).status_code == 404
    assert client_on(None, sharer).post("/share/", {"product": product_b.pk}).status_code == 404


def _shared_link(province, client_on, product):
    sharer = new_user()
    client_on(province.bank_a, sharer).post("/share/", {"product": product.pk})
    return sharer, ShareLink.objects.get(sharer=sharer)


def test_a_share_link_credits_the_sharers_bank_and_the_sharer(province, client_on, shop):
    sharer, link = _shared_link(province, client_on, shop.sku_b.product)
    friend = new_user()
    client = english(client_on(province.bank_a))
    visit = client.get(f"/p/{shop.sku_b.product_id}/?ref={link.code}")
    assert visit.status_code == 200
    touch = ReferralTouch.objects.get(pk=client.session[TOUCHES][-1])
    assert (touch.user, touch.bank, touch.sharer, touch.share_link) == (
        None, province.bank_a, sharer, link)
    client.post("/cart/add/", {"sku": shop.sku_b.pk, "quantity": 1})
    login(client, friend)
    touch.refresh_from_db()
    assert touch.user == friend
    checkout = place_via_page(client, shop, [])
    order = checkout.orders.get()
    assert order.merchant_bank == province.bank_b
    assert (order.referrer_bank, order.sharer, order.is_cross_bank) == (
        province.bank_a, sharer, True)


def test_a_share_link_opened_on_bank_b_then_bought_on_bank_b_credits_bank_a(
        province, client_on, shop):
    sharer, link = _shared_link(province, client_on, shop.sku_b.product)
    friend = new_user()
    client = english(client_on(province.bank_b))
    client.get(f"/p/{shop.sku_b.product_id}/?ref={link.code}")
    login(client, friend)
    client.get("/")  # browsing on: within the half hour, no new touch
    assert ReferralTouch.objects.filter(user=friend).count() == 1
    checkout = place_via_page(client, shop, [(shop.sku_b, 1)])
    assert checkout.storefront_bank == province.bank_b
    order = checkout.orders.get()
    assert (order.referrer_bank, order.sharer, order.is_cross_bank) == (
        province.bank_a, sharer, True)


def test_referral_touches_are_recorded_sparingly(province, client_on, shop):
    client = client_on(province.bank_a)
    product = shop.sku_a.product_id
    # a visitor without a session (a first request, a crawler) gets none made for a touch
    before = ReferralTouch.objects.count()
    client.get(f"/p/{product}/")
    assert ReferralTouch.objects.count() == before and TOUCHES not in client.session
    client.post("/cart/add/", {"sku": shop.sku_a.pk})  # now they have a session
    client.get(f"/p/{product}/")
    assert len(client.session[TOUCHES]) == 1
    with CaptureQueriesContext(connection) as queries:
        client.get("/")
        client.get(f"/p/{product}/")
    assert not [q for q in queries.captured_queries if "orders_referraltouch" in q["sql"]]
    assert len(client.session[TOUCHES]) == 1
    # not recorded: other paths, POSTs, errors, the portal
    client.get("/api/v1/catalog/products/")
    client.get("/p/999999999/")
    client.post("/cart/add/", {"sku": shop.sku_a.pk})
    assert len(client.session[TOUCHES]) == 1
    portal = client_on(None)
    portal.get("/")
    assert TOUCHES not in portal.session
    # a share code is always recorded; an unknown one counts for the storefront itself
    client.get(f"/p/{product}/?ref=nonsense")
    assert len(client.session[TOUCHES]) == 2
    last = ReferralTouch.objects.get(pk=client.session[TOUCHES][-1])
    assert (last.bank, last.sharer) == (province.bank_a, None)
    # half an hour later, a plain visit is recorded again
    session = client.session
    bank_id, at = session["referral_touched_at"]
    session["referral_touched_at"] = [bank_id, at - 31 * 60]
    session.save()
    client.get("/")
    assert len(client.session[TOUCHES]) == 3
    # the session keeps only the last 20
    for _ in range(25):
        client.get(f"/p/{product}/?ref=x")
    assert len(client.session[TOUCHES]) == 20


def test_a_logged_in_shoppers_touch_is_theirs(province, client_on, shop):
    buyer = new_user()
    client = client_on(province.bank_b, buyer)
    client.get("/")
    assert ReferralTouch.objects.get(user=buyer).bank == province.bank_b


# --- the product page ----------------------------------------------------------------------


def test_product_page_sku_picker_flash_sale_and_wholesale_tiers(province, client_on, shop):
    now = timezone.now()
    orders.flash_sale_create(sku=shop.sku_a, title="苹果限时抢", price="30.00",
                             starts_at=now - timedelta(minutes=5),
                             ends_at=now + timedelta(hours=2), quantity=8,
                             per_customer_limit=2)
    buyer = new_user()
    checkout = place(buyer, province.bank_a, [(shop.sku_a, 2)])  # takes 2 of the 8
    assert checkout.goods_total == Decimal("60.00")
    url = f"/p/{shop.sku_a.product_id}/"
    page = html(english(client_on(province.bank_a)).get(url))
    assert f'name="sku" value="{shop.sku_a.pk}"' in page
    assert "苹果限时抢" in page and "¥30.00" in page and "6 left" in page
    assert "limit 2 per customer" in page
    assert "Add to cart" in page and "Buy now" in page
    assert "≥10箱 ¥39.00" not in page  # tiers are for business buyers
    business = new_user(buyer_kind=BuyerKind.BUSINESS, business_name="甲县超市")
    page = html(english(client_on(province.bank_a, business)).get(url))
    assert "≥10箱 ¥39.00" in page and "≥50箱 ¥35.00" in page
    zh = html(client_on(province.bank_a).get(url))
    assert "加入购物车" in zh and "立即购买" in zh


def test_sold_out_specification_cannot_be_chosen(province, client_on):
    shop = market(province, stock_a=0)
    page = html(english(client_on(province.bank_a)).get(f"/p/{shop.sku_a.product_id}/"))
    assert re.search(rf'value="{shop.sku_a.pk}"[^>]*disabled', page)
    assert "Sold out" in page
