"""A credit officer on a phone: the lending queue with the score explanation, the
application page, a decision, the loan with its audit trail (real web server, Chromium,
session-committed data). The bank's policy is changed for the data and put back."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from lending import services as lending
from lending.models import Application, ApplicationStatus, LendingPolicy
from tests import test_browser
from tests.lending_factories import scored_merchant
from tests.orders_factories import market, pay, place
from tests.test_browser import shot
from tests.test_browser_checkout import fits_the_phone, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

# The browser and the phone-sized page of tests/test_browser.py (fixtures).
browser = test_browser.browser
phone = test_browser.phone_page


@pytest.fixture(scope="module")
def waiting(province, django_db_blocker):
    bank = province.bank_a
    with django_db_blocker.unblock():
        with schema_context(bank.schema_name):
            policy = lending.policy_get()
            before = {f: getattr(policy, f) for f in (
                "tier_a_min", "tier_b_min", "tier_c_min", "auto_tiers")}
            lending.policy_update(bank=bank, actor=province.a_admin, tier_a_min=400,
                                  tier_b_min=350, tier_c_min=300, auto_tiers="")
        try:
            shop = market(province)
            checkout = place(province.shopper, bank, [(shop.sku_a, 2)])
            pay(checkout)
            scored_merchant(bank, shop.merchant_a, province.a_manager)
            with schema_context(bank.schema_name):
                app = lending.order_financing_apply(bank=bank, order=checkout.orders.get(),
                                                    actor=province.a_manager)
        finally:
            with schema_context(bank.schema_name):
                lending.policy_update(bank=bank, actor=province.a_admin, **before)
    assert app.status == ApplicationStatus.IN_REVIEW
    yield shop, app
    with django_db_blocker.unblock(), schema_context(bank.schema_name):
        assert LendingPolicy.objects.get().auto_tiers == before["auto_tiers"]


def test_an_officer_approves_from_the_queue_on_a_phone(phone, web_server, province, waiting,
                                                       django_db_blocker):
    shop, app = waiting
    page = phone
    log_in(page, web_server, province.a_credit, "/console/lending/")
    assert page.url.endswith("/console/lending/")
    card = page.locator(f"article.lc-app:has(a[href='/console/lending/applications/{app.pk}/'])")
    assert shop.merchant_a.name in card.inner_text()
    assert card.locator(".lc-factors li").count() >= 10  # every merchant factor explained
    fits_the_phone(page)
    shot(page, "lending-console-queue")
    card.locator("a.btn").click()
    page.wait_for_load_state()
    page.check("input[name=decision][value=approve]")
    page.fill("textarea[name=note]", "订单真实，额度内")
    with page.expect_navigation():
        page.click("#decide button[type=submit]")
    assert page.locator("#app-status").inner_text() == "已放款"
    fits_the_phone(page)
    shot(page, "lending-console-application")
    page.click("a.oc-mono[href*='/console/lending/loans/']")
    page.wait_for_load_state()
    assert "订单真实，额度内" in page.locator(".lc-audit").inner_text()
    fits_the_phone(page)
    shot(page, "lending-console-loan")
    with django_db_blocker.unblock(), schema_context(province.bank_a.schema_name):
        assert Application.objects.get(pk=app.pk).status == ApplicationStatus.DISBURSED
