"""A recall in a real browser (the system Chromium on a phone-sized screen) against the
real web server: a bank admin recalls a batch its buyers paid for, the recall lists the
order held, the batch's public trace page warns in red, and closing it with "refund all"
refunds the buyer through the ledger.

The data the web server must see is made in a module fixture, committed; the closing
refunds the order, so escrow balances other test modules look at are as they were.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from accounts.services import user_register
from catalog.services import batch_create
from orders.models import OrderStatus
from recalls.models import Recall, RecallStatus
from tests import test_browser, unique
from tests.catalog_factories import approved_merchant
from tests.orders_factories import pay, place, product_with_sku
from tests.test_browser import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

browser = test_browser.browser
phone_page = test_browser.phone_page

REASON = "抽检发现农药残留超标"


@pytest.fixture(scope="module")
def sold_batch(province, django_db_blocker):
    tag = unique.tag()
    with django_db_blocker.unblock():
        merchant, _ = approved_merchant(province.bank_a, province.a_manager,
                                        name=f"甲县召回果园{tag}")
        sku = product_with_sku(merchant, name="甲县脆桃", price="32.00", stock=20)
        batch = batch_create(product=sku.product, code=f"RB-{tag}",
                             harvest_date=timezone.localdate() - timedelta(days=20),
                             farm="甲县桃园")
        buyer = user_register(username=f"rc-buyer-{tag}", password="Test@pass-2026")
        checkout = place(buyer, province.bank_a, [(sku, 2)])
        pay(checkout)
        order = checkout.orders.get()
    return SimpleNamespace(batch=batch, order=order)


def test_a_bank_admin_recalls_a_batch_and_refunds_its_buyers(phone_page, web_server,
                                                             province, sold_batch):
    page = phone_page
    page.goto(web_server.url("bank-a.localhost", "/accounts/login/?next=/console/recalls/"))
    page.fill("input[name=username]", province.a_admin.username)
    page.fill("input[name=password]", province.password)
    with page.expect_navigation():
        page.click("main button[type=submit]")

    # Nothing chosen: the page says so and nothing is recalled.
    page.fill("#id_reason", REASON)
    with page.expect_navigation():
        page.click("#recall-open button[type=submit]")
    assert page.locator("#recall-open .errorlist").count() == 1
    assert not Recall.objects.filter(reason=REASON).exists()

    page.select_option("#id_batches", str(sold_batch.batch.pk))
    page.fill("#id_reason", REASON)
    with page.expect_navigation():
        page.click("#recall-open button[type=submit]")
    recall = Recall.objects.get(reason=REASON)
    assert (recall.status, recall.orders_held) == (RecallStatus.OPEN, 1)
    row = page.locator("#recall-list tr", has_text=recall.number)
    assert REASON in row.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 400  # no sideways page
    shot(page, "console-recall-open")

    page.goto(web_server.url("bank-a.localhost", f"/trace/{sold_batch.batch.trace_token}/"))
    assert page.locator("#batch-recalled").is_visible()
    shot(page, "trace-recalled")

    page.goto(web_server.url("bank-a.localhost", "/console/recalls/"))
    row = page.locator("#recall-list tr", has_text=recall.number)
    row.locator("select[name=resolution]").select_option("refund_all")
    row.locator("input[name=note]").fill("全部退款")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    recall.refresh_from_db()
    assert (recall.status, recall.resolution) == (RecallStatus.CLOSED, "refund_all")
    order = sold_batch.order
    order.refresh_from_db()
    assert (order.status, order.refunded_total, order.held_reason) == (
        OrderStatus.REFUNDED, order.total, "")
