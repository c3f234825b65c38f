"""The points mall on a phone-sized screen in a real browser against the real web
server: a customer with points opens the mall, sees a flash offer with what is left,
redeems one for pickup at a branch and gets the pickup code; the page fits the phone.

The data is committed in a module fixture; at the end the offer is switched off and the
redemption cancelled and the customer's points spent (points are an append-only ledger:
nothing is deleted), so that no live points are left for tests that expire a whole
bank's lots."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import transaction
from django_tenants.utils import schema_context

from accounts.services import user_register
from rewards import services as rewards
from rewards.models import MallOffer, Redemption
from rewards.services import ledger as points_ledger
from tests import test_browser, unique
from tests.catalog_factories import approved_merchant
from tests.orders_factories import product_with_sku
from tests.rewards_factories import grant, offer
from tests.test_browser import shot
from tests.test_browser_checkout import PASSWORD, fits_the_phone, log_in, url

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

browser = test_browser.browser
phone_page = test_browser.phone_page


@pytest.fixture(scope="module")
def mall(province, django_db_blocker):
    tag = unique.tag()
    bank = province.bank_a
    with django_db_blocker.unblock():
        merchant, _ = approved_merchant(bank, province.a_manager, name=f"积分果园{tag}")
        sku = product_with_sku(merchant, name="甲县红富士苹果", price="45.50", stock=50)
        user = user_register(username=f"pts-{tag}", password=PASSWORD, display_name="孙七",
                             phone=f"137{int(tag, 16) % 10**7:07d}9"[:11])
        grant(bank, user, 1200)
        item = offer(bank, merchant, sku, title=f"红富士苹果 5 斤秒兑 {tag}", is_flash=True,
                     points_price=800, quantity=20, redeemed=0)
    yield SimpleNamespace(bank=bank, user=user, offer=item, tag=tag)
    with django_db_blocker.unblock(), schema_context(bank.schema_name):
        for r in Redemption.objects.filter(offer=item, status="ready"):
            rewards.redemption_cancel(bank=bank, redemption=r, actor=user)
        MallOffer.objects.filter(pk=item.pk).update(is_active=False)
        # No live points are left behind for tests that expire a whole bank's lots.
        left = rewards.balance(user_id=user.pk)
        if left > 0:
            with transaction.atomic():
                points_ledger._spend(user_id=user.pk, points=left, reference=f"test-end:{tag}",
                                     note="test clean-up")


def test_the_points_mall_on_a_phone(phone_page, web_server, province, mall):
    page = phone_page
    log_in(page, web_server, mall.user, next_path="/points/mall/")
    assert page.locator(f"[data-offer='{mall.offer.pk}']").is_visible()
    assert "1200" in page.inner_text(".pts-head")
    fits_the_phone(page)
    shot(page, "points-mall-phone")
    page.click(f"[data-offer='{mall.offer.pk}']")
    page.check(f"input[name=branch][value='{province.a_branch.pk}']")
    with page.expect_navigation():
        page.click("#redeem-button")
    code = page.inner_text("#pickup-code").strip()
    assert len(code) == 8 and code.isdigit()
    fits_the_phone(page)
    shot(page, "points-redemption-phone")
    page.goto(url(web_server, "/points/"))
    assert page.inner_text("#balance").strip() == "400"
