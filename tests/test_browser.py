"""Pages in a real browser: the system Chromium driven by Playwright against the real
web server (gunicorn) on the test database.

Without Chromium these tests skip with a message saying how to install it, unless
BROWSER_TESTS_REQUIRED=1 (as in CI), which turns a missing browser into a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

SHOTS = Path(os.environ.get("PLATFORM_TEST_TMP", "/tmp")) / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


def chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    # Per module: Playwright's sync API runs one instance per thread at a time, and other
    # browser test modules import this fixture (each module gets its own browser, the
    # previous module's is closed first).
    executable = chromium_path()
    if executable is None:
        message = ("Chromium is not installed: on Debian/Ubuntu run "
                   "`apt-get install chromium` (or set CHROMIUM_PATH).")
        if os.environ.get("BROWSER_TESTS_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API runs an event loop in this thread; the ORM calls these tests
    # make around it are ordinary synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_portal_lists_banks_and_leads_to_a_storefront(page, web_server, province):
    page.goto(web_server.url("localhost"))
    assert "甲县农村商业银行" in page.content()
    shot(page, "portal")
    page.click("text=甲县农村商业银行 >> xpath=.. >> a.btn")
    page.wait_for_load_state()
    assert page.url.startswith(f"http://bank-a.localhost:{web_server.port}/")
    assert page.locator("h1").inner_text() == "甲县农村商业银行"
    branch_names = page.locator(".branch h3").all_inner_texts()
    assert sorted(branch_names) == sorted(["甲农商行营业部", "甲县城东支行"])
    shot(page, "storefront-bank-a")


def test_each_storefront_shows_its_own_bank(page, web_server, province):
    page.goto(web_server.url("bank-b.localhost"))
    assert page.locator("h1").inner_text() == "乙县农村商业银行"
    assert page.locator(".branch h3").all_inner_texts() == ["乙农商行营业部"]


def test_unknown_host_shows_a_404_page(page, web_server, province):
    response = page.goto(web_server.url("no-such-bank.localhost"))
    assert response.status == 404
    assert "no-such-bank.localhost" in page.content()
    shot(page, "unknown-host")


def test_shopper_logs_in_and_sees_the_profile_on_a_phone(phone_page, web_server, province):
    page = phone_page
    page.goto(web_server.url("bank-a.localhost", "/accounts/login/"))
    page.fill("input[name=username]", "t-shopper")
    page.fill("input[name=password]", province.password)
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/profile/")
    assert page.locator("input[name=display_name]").input_value() == "张三"
    shot(page, "profile-phone")
    # the layout fits the phone's width: no horizontal scrolling
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


def test_staff_console_and_language_switch(page, web_server, province):
    page.goto(web_server.url("bank-a.localhost", "/accounts/login/?next=/console/"))
    page.fill("input[name=username]", "t-a-admin")
    page.fill("input[name=password]", province.password)
    page.click("main button[type=submit]")
    page.wait_for_url("**/console/")
    assert "甲县城东支行" in page.content()
    shot(page, "console-zh")
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")
    assert "Bank console" in page.content()
    shot(page, "console-en")


def test_staff_of_one_bank_get_404_on_another_banks_console(page, web_server, province):
    # the same account logs in on bank B's storefront, then asks for B's console
    page.goto(web_server.url("bank-b.localhost", "/accounts/login/?next=/console/"))
    page.fill("input[name=username]", "t-a-admin")
    page.fill("input[name=password]", province.password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.url.endswith("/console/")
    response = page.goto(web_server.url("bank-b.localhost", "/console/"))
    assert response.status == 404
    assert "乙县城东" not in page.content() and "乙农商行营业部" not in page.content()


@pytest.fixture(scope="session")
def bank_b_produce(province, django_db_blocker):
    """A listed product of a bank-B merchant with a batch, committed so that the web
    server sees it."""
    import datetime

    from catalog.services import batch_create
    from tests.catalog_factories import approved_merchant, listed_product

    with django_db_blocker.unblock():
        merchant, _dossier = approved_merchant(province.bank_b, province.b_admin,
                                               name="乙县山珍合作社")
        product = listed_product(merchant, name="乙县野生猴头菇", price="68.00",
                                 subtitle="林下仿野生 · 当季鲜采")
        batch = batch_create(product=product, code="HTG-2026-03",
                             harvest_date=datetime.date(2026, 3, 18), farm="乙县松林基地",
                             plot="南坡 2 号林地",
                             inputs=[{"kind": "fertiliser", "name": "松木屑菌棒",
                                      "date": "2026-01-10", "amount": "每棚 800 棒"}],
                             lab_report="农残及重金属检测合格（报告编号 YX-2026-0318）")
    return product, batch


def test_shopper_searches_on_bank_a_and_traces_a_bank_b_product(page, web_server, province,
                                                                 bank_b_produce):
    product, batch = bank_b_produce
    page.goto(web_server.url("bank-a.localhost"))
    page.fill("form.topsearch input[name=q]", "猴头菇")
    with page.expect_navigation():
        page.press("form.topsearch input[name=q]", "Enter")
    assert "/search/" in page.url
    shot(page, "search-results")
    with page.expect_navigation():
        page.click("a.pcard:has-text('乙县野生猴头菇')")
    assert page.url.endswith(f"/p/{product.pk}/")
    assert "乙县山珍合作社" in page.content() and "乙县农村商业银行" in page.content()
    shot(page, "product")
    with page.expect_navigation():
        page.click(f"a[href='/trace/{batch.trace_token}/']")
    assert "乙县松林基地" in page.content() and "松木屑菌棒" in page.content()
    shot(page, "trace")
    qr = page.locator("img[src$='qr.svg']")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")


def test_pinyin_search_on_a_phone(phone_page, web_server, province, bank_b_produce):
    page = phone_page
    page.goto(web_server.url("bank-a.localhost", "/search/?q=houtougu"))
    assert "乙县野生猴头菇" in page.content()
    shot(page, "search-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
