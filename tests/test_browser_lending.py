"""Pay later in a real browser (the system Chromium on a phone-sized screen) against the
real web server, the test database and the local card server: a business buyer with a
trading record at bank A sees the credit bank A worked out, buys on bank A's storefront,
chooses "pay later" on the card page, lands on the loan with its due date, and repays it
by test card.

The data the web server must see is made in a module fixture and committed; at the end the
fixture puts bank A's lending policy back and refunds the card-paid history order.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from lending import services as lending
from lending.models import Loan, LoanStatus
from orders import services as orders
from orders.models import Checkout, CheckoutStatus, Order
from payments import services as payments
from payments import settlement
from payments.tests.test_settlement import _account, _complete
from tests import test_browser, unique
from tests.catalog_factories import approved_merchant
from tests.lending_factories import PASSWORD, buyer, scored_buyer
from tests.orders_factories import pay, place, product_with_sku
from tests.test_browser import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

browser = test_browser.browser
phone_page = test_browser.phone_page

PHONE_WIDTH = 390
LENIENT = {"tier_a_min": 400, "tier_b_min": 350, "tier_c_min": 300}


@pytest.fixture(scope="module")
def store(province, django_db_blocker):
    tag = unique.tag()
    bank = province.bank_a
    with django_db_blocker.unblock():
        with schema_context(bank.schema_name):
            policy = lending.policy_get()
            before = {k: getattr(policy, k) for k in LENIENT}
            lending.policy_update(bank=bank, actor=province.a_admin, **LENIENT)
        merchant, _ = approved_merchant(bank, province.a_manager, name=f"甲县青山茶园{tag}")
        sku = product_with_sku(merchant, name="甲县高山绿茶", price="45.50", stock=50,
                               tiers=[(10, Decimal("39.00"))])
        shopper = buyer(business=True)
        history = place(shopper, bank, [(sku, 10)])  # 10 x 39.00 wholesale = 390.00
        pay(history)
        scored_buyer(bank, shopper)  # tier A, limit 390 x 3 months -> 1,100
    yield SimpleNamespace(merchant=merchant, sku=sku, buyer=shopper, history=history)
    with django_db_blocker.unblock():
        with schema_context(bank.schema_name):
            lending.policy_update(bank=bank, actor=province.a_admin, **before)
        for checkout in Checkout.objects.filter(buyer=shopper,
                                                status=CheckoutStatus.PENDING_PAYMENT):
            payments.checkout_abandon(checkout=checkout, buyer=shopper)
        for order in Order.objects.filter(checkout=history, status__in=orders.REFUNDABLE):
            orders.refund_issue(order=order, actor=province.a_manager,
                                amount=order.refundable, reason="test clean-up")
        # A checkout paid with credit has no card payment to refund: its orders are
        # delivered and settled instead, so no escrow is left behind for other modules.
        paid = list(Checkout.objects.filter(buyer=shopper, status=CheckoutStatus.PAID)
                    .exclude(pk=history.pk))
        if paid:
            _account(bank, merchant, "6230000000000000777")
            for checkout in paid:
                _complete(checkout, province.a_manager)
            settlement.settlement_run_execute(settlement.settlement_run_start(
                bank=bank, cutoff=timezone.now()).pk)


def url(web_server, path="/"):
    return web_server.url("bank-a.localhost", path)


def fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


def test_a_business_buyer_pays_later_at_checkout_and_repays(phone_page, web_server, province,
                                                           store):
    page = phone_page
    page.goto(url(web_server, "/accounts/login/?next=/credit/"))
    page.fill("input[name=username]", store.buyer.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.url.endswith("/credit/")
    assert page.locator("#available").inner_text() == "¥1100.00"
    assert page.locator(".factors tr").count() == 8  # 7 factors and the score
    shot(page, "credit-phone")
    fits_the_phone(page)

    # Buy one box on bank A's storefront.
    page.goto(url(web_server, f"/p/{store.sku.product_id}/"))
    with page.expect_navigation():
        page.click("button[value=buy]")
    assert page.url.endswith("/checkout/")
    page.fill("#id_recipient_name", "陈老板")
    page.fill("#id_recipient_phone", "13800138000")
    page.fill("#id_address", "甲县人民路 18 号")
    with page.expect_navigation():
        page.click("button:has-text('提交订单')")
    assert "/pay/" in page.url
    checkout = Checkout.objects.filter(buyer=store.buyer).order_by("-pk").first()
    assert checkout.total == Decimal("53.50")  # 45.50 + 8.00 delivery

    # The card page offers bank A's pay later.
    option = page.locator("#other-options a")
    assert option.count() == 1
    shot(page, "pay-with-credit-option-phone")
    fits_the_phone(page)
    with page.expect_navigation():
        option.click()
    assert page.url.endswith(f"/credit/checkout/{checkout.number}/")
    due = timezone.localdate() + timezone.timedelta(days=30)
    assert due.isoformat() in page.content()
    shot(page, "pay-later-phone")
    fits_the_phone(page)
    with page.expect_navigation():
        page.click("#finance-button")
    assert "/credit/loans/" in page.url
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID
    with schema_context(province.bank_a.schema_name):
        loan = Loan.objects.get(checkout_id=checkout.pk)
    assert (loan.principal, loan.maturity_date) == (Decimal("53.50"), due)
    assert loan.number in page.content() and due.isoformat() in page.content()
    # Repaid the same day: one day's interest, 53.50 x 4.35 % / 360 = 0.0065 -> 0.01.
    assert page.locator("#due-now").inner_text() == "¥53.51"
    shot(page, "loan-phone")
    fits_the_phone(page)

    page.click(".testcard[data-number='4242 4242 4242 4242']")
    with page.expect_navigation():
        page.click("#repay-button")
    assert page.url.endswith(f"/credit/loans/{loan.pk}/")
    assert page.locator(".messages li.success").count() == 1
    assert page.locator("#repay-button").count() == 0  # nothing left to repay
    shot(page, "loan-repaid-phone")
    with schema_context(province.bank_a.schema_name):
        loan.refresh_from_db()
        assert loan.status == LoanStatus.REPAID
