"""Search in a real browser on a phone-sized screen: suggestions as you type (an ARIA
combobox), the empty result page, and the federation's synonym console."""

from __future__ import annotations

import uuid

import pytest

from tests import test_browser
from tests.catalog_factories import approved_merchant, listed_product
from tests.test_browser import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

browser = test_browser.browser
page = test_browser.page
phone_page = test_browser.phone_page


@pytest.fixture(scope="module")
def produce(province, django_db_blocker):
    """Committed products (the web server is another process)."""
    tag = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock():
        merchant, _ = approved_merchant(province.bank_a, province.a_manager,
                                        name=f"甲县山楂合作社{tag}")
        return {name: listed_product(merchant, name=name)
                for name in ("兴隆山楂片", "兴隆山楂糕", "刺梨果干")}


def test_suggestions_as_you_type_on_a_phone(phone_page, web_server, province, produce):
    page = phone_page
    page.goto(web_server.url("bank-a.localhost"))
    box = page.locator("form.topsearch input[name=q]")
    assert box.get_attribute("role") == "combobox"
    assert box.get_attribute("aria-expanded") == "false"
    assert page.locator("label[for=site-q]").count() == 1
    box.click()
    box.type("shanzha", delay=40)                    # pinyin, as typed on a phone
    listbox = page.locator("#site-q-list")
    listbox.wait_for(state="visible")
    options = page.locator("#site-q-list [role=option]")
    texts = options.all_inner_texts()
    assert any("兴隆山楂片" in t for t in texts), texts
    assert box.get_attribute("aria-expanded") == "true"
    # the list fits the phone's screen and the page does not scroll sideways
    boxed = listbox.bounding_box()
    assert boxed["x"] >= 0 and boxed["x"] + boxed["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "search-suggest-phone")
    # the keyboard walks the list (aria-activedescendant) and Enter searches the choice
    box.press("ArrowDown")
    first = options.first
    assert first.get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == first.get_attribute("id")
    chosen = first.get_attribute("data-text")
    with page.expect_navigation():
        box.press("Enter")
    assert "/search/" in page.url
    assert chosen in page.content()
    # a tap on a suggestion searches it too
    box = page.locator("form.topsearch input[name=q]")
    box.fill("")
    box.type("刺梨", delay=40)
    page.locator("#site-q-list [role=option]").first.wait_for(state="visible")
    with page.expect_navigation():
        page.locator("#site-q-list [role=option]", has_text="刺梨果干").first.tap()
    assert "刺梨果干" in page.content()


def test_the_empty_page_on_a_phone_offers_a_correction_and_popular_products(
        phone_page, web_server, province, produce):
    page = phone_page
    page.goto(web_server.url("bank-a.localhost", "/search/?q=xinglongshanzhxx"))
    content = page.content()
    assert page.locator(".card.empty[role=status]").count() == 1
    assert page.locator(".products.popular .pcard").count() > 0
    link = page.locator(".did-you-mean a")
    assert link.count() == 1
    shot(page, "search-empty-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    with page.expect_navigation():
        link.tap()
    assert "兴隆山楂" in page.content(), content[:200]
    # the search box says how long a query may be
    assert page.locator("form.topsearch input[name=q]").get_attribute("maxlength") == "60"


def test_federation_admin_adds_a_synonym_group_and_sees_what_it_reaches(
        page, web_server, province, produce):
    tag = uuid.uuid4().hex[:4]
    word = f"红果{tag}"  # a made-up regional name; unique to this run
    page.goto(web_server.url("localhost", "/accounts/login/?next=/federation/search/"))
    page.fill("input[name=username]", "t-fed-admin")
    page.fill("input[name=password]", province.password)
    page.click("main button[type=submit]")
    page.wait_for_url("**/federation/search/")
    page.fill("#synonym-add input[name=words]", f"山楂, {word}")
    with page.expect_navigation():
        page.click("#synonym-add button[type=submit]")
    assert f"山楂 = {word}" in page.locator("#synonym-groups").inner_text()
    page.fill("#reach-term", word)
    with page.expect_navigation():
        page.click("#synonym-reach button[type=submit]")
    reach = page.locator("#reach-result").inner_text()
    assert "兴隆山楂片" in reach and "兴隆山楂糕" in reach
    shot(page, "search-synonyms")
    # a shopper's search uses the new word at once
    page.goto(web_server.url("bank-a.localhost", f"/search/?q={word}"))
    assert page.locator(".products:not(.popular) .pcard", has_text="兴隆山楂片").count() == 1
    # removing the group takes it away again
    page.goto(web_server.url("localhost", "/federation/search/"))
    row = page.locator("#synonym-groups tr", has_text=word)
    with page.expect_navigation():
        row.locator("button").click()
    assert word not in page.locator("#synonym-groups").inner_text()
    page.goto(web_server.url("bank-a.localhost", f"/search/?q={word}"))
    assert page.locator(".card.empty").count() == 1          # (popular products below)
    assert page.locator(".products:not(.popular) .pcard").count() == 0
