"""The inbox in a real browser on a phone-sized screen: the unread badge in the top bar
counts, the inbox lists the events, opening one marks it read and follows its link.

The data the web server must see is committed in a module fixture (and removed after).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from accounts.services import user_register
from notifications import services
from notifications.models import Kind, Notification
from tests import test_browser, unique
from tests.test_browser import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

browser = test_browser.browser
phone_page = test_browser.phone_page

PASSWORD = "Test@pass-2026"
PHONE_WIDTH = 390


@pytest.fixture(scope="module")
def inbox(province, django_db_blocker):
    tag = unique.tag()
    with django_db_blocker.unblock():
        user = user_register(username=f"nt-buyer-{tag}", password=PASSWORD,
                             display_name="李四")
        shipped, = services.notify(
            recipients=[user], kind=Kind.ORDER_SHIPPED, dedupe_key=f"browser:{tag}:1",
            compose=lambda: ("订单已发货", "甲县红星果园 已发出订单 O1：顺丰 SF1234567890。"),
            link="/orders/", bank=province.bank_a)
        ready, = services.notify(
            recipients=[user], kind=Kind.PICKUP_READY, dedupe_key=f"browser:{tag}:2",
            compose=lambda: ("可以取货了", "订单 O2 已到 甲农商行营业部，取货码 12345678。"),
            link="/orders/", bank=province.bank_a)
    yield SimpleNamespace(user=user, shipped=shipped, ready=ready)
    with django_db_blocker.unblock():
        Notification.objects.filter(user=user).delete()


def url(web_server, path="/"):
    return web_server.url("bank-a.localhost", path)


def test_badge_inbox_and_opening_one(phone_page, web_server, province, inbox):
    page = phone_page
    page.goto(url(web_server, "/accounts/login/?next=/"))
    page.fill("input[name=username]", inbox.user.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.locator(".inboxbadge").inner_text() == "2"

    with page.expect_navigation():
        page.click("a.inboxlink")
    assert page.url.endswith("/notifications/")
    rows = page.locator(".notice-row")
    assert rows.count() == 2 and page.locator(".notice-row.unread").count() == 2
    # newest first
    assert "可以取货了" in rows.nth(0).inner_text()
    assert "取货码 12345678" in rows.nth(0).inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    shot(page, "inbox-phone")

    with page.expect_navigation():
        rows.nth(0).click()
    assert page.url.endswith("/orders/")
    assert page.locator(".inboxbadge").inner_text() == "1"
    inbox.ready.refresh_from_db()
    assert inbox.ready.read_at is not None

    page.goto(url(web_server, "/notifications/"))
    assert page.locator(".notice-row.unread").count() == 1
    assert "订单已发货" in page.locator(".notice-row.unread").inner_text()
    with page.expect_navigation():
        page.click(".inbox-readall button")
    assert page.locator(".notice-row.unread").count() == 0
    assert page.locator(".inboxbadge").count() == 0
