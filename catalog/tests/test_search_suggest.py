"""Suggestions as you type, read from keys at every boundary of a name (a character, a
word, a pinyin syllable): typing the middle of a name finds it even when many other names
begin with what is typed; the host bank's products come first, then best sellers."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from catalog import search
from catalog.models import Category, MerchantKind, ProductStatus, SuggestKey
from catalog.search import suggest
from catalog.selectors import search_suggestions, searching
from catalog.services import (
    SkuSpec,
    merchant_register,
    merchant_transition,
    product_create,
    product_transition,
    sales_record,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def oranges(province):
    category = Category.objects.create(slug="t-sg-citrus", name="柑橘")
    shops = {}
    for bank in ("a", "b"):
        shop = merchant_register(bank=getattr(province, f"bank_{bank}"), owner=province.shopper,
                                 name=f"脐橙{bank}号合作社", kind=MerchantKind.COOPERATIVE,
                                 county="赣县")
        merchant_transition(merchant=shop, action="start_review")
        merchant_transition(merchant=shop, action="approve")
        shops[bank] = shop

    def make(name, bank, sold):
        product = product_create(
            merchant=shops[bank], name=name, category=category, origin_county="赣县",
            skus=[SkuSpec(spec="5斤", unit="箱", price=Decimal("39.90"), stock=100)])
        product_transition(product=product, action="submit")
        if product.status == ProductStatus.PENDING_REVIEW:
            product_transition(product=product, action="approve_listing")
        if sold:
            sales_record(sku_quantities={product.skus.get().pk: sold})
        return product

    # nine names begin with 脐橙 (more than a page of suggestions), two have it further in
    plain = [make(f"脐橙礼盒{n}号", "a", 5) for n in range(1, 10)]
    return SimpleNamespace(plain=plain, gannan=make("赣南脐橙", "a", 50),
                           xunwu=make("寻乌脐橙", "b", 1), shops=shops)


def texts(q, bank=None):
    return [s["text"] for s in search_suggestions(q, host_bank=bank)
            if s["kind"] == "product"]


def test_the_middle_of_a_name_finds_it(province, oranges):
    assert "赣南脐橙" in texts("脐橙")
    assert texts("脐橙")[0] == "赣南脐橙"       # the best seller first
    assert "赣南脐橙" in texts("南脐")           # from any character on


def test_the_pinyin_of_the_middle_finds_it(province, oranges):
    assert texts("qicheng")[0] == "赣南脐橙"
    assert texts("nanqi") == ["赣南脐橙"]
    assert "赣南脐橙" in texts("qc")             # initials from a syllable on


def test_the_host_banks_products_first(province, oranges):
    assert texts("脐橙", province.bank_b)[0] == "寻乌脐橙"
    assert texts("脐橙", province.bank_a)[0] == "赣南脐橙"
    assert "寻乌脐橙" not in texts("脐橙", province.bank_a)[:8]   # sold least, not ours


def test_the_storefront_api_puts_its_banks_products_first(province, oranges, api_on):
    response = api_on(province.bank_b).get("/api/v1/catalog/suggest/", {"q": "qicheng"})
    assert response.status_code == 200
    products = [s["text"] for s in response.json()["suggestions"] if s["kind"] == "product"]
    assert products[0] == "寻乌脐橙"


def test_sales_move_a_name_up(province, oranges):
    late = oranges.plain[-1]
    assert texts("脐橙")[0] == "赣南脐橙"
    sales_record(sku_quantities={late.skus.get().pk: 100})
    assert texts("脐橙")[0] == late.name
    assert set(SuggestKey.objects.filter(product=late).values_list("sales_count", flat=True)) \
        == {105}


def test_keys_start_at_every_boundary():
    keys = suggest.product_keys("赣南脐橙", "Navel orange", "橙子")
    assert {"赣南脐橙", "南脐橙", "脐橙", "橙", "gannanqicheng", "nanqicheng", "qicheng",
            "gnqc", "nqc", "qc", "navelorange", "orange", "橙子", "chengzi"} <= set(keys)
    assert keys["赣南脐橙"] and keys["navelorange"] and not keys["脐橙"]
    assert suggest.typed_key("l") == ""          # one Latin letter is not looked up
    assert suggest.typed_key("脐") == "脐" and suggest.typed_key("Qi Cheng") == "qicheng"


def test_whether_a_word_finds_anything_looks_past_the_first_matches(province, oranges,
                                                                    monkeypatch):
    # (a word that finds nothing gets typo alternatives: the quick test reads only the
    # first matches, and all of them only when none of those is visible)
    monkeypatch.setattr(searching, "QUICK_MATCHES", 1)
    word = search.build_tsquery("脐橙")
    assert searching._any_visible_match(word)
    merchant_transition(merchant=oranges.shops["a"], action="suspend", reason="整改")
    assert searching._any_visible_match(word)             # 寻乌脐橙, the last one made
    product_transition(product=oranges.xunwu, action="delist", reason="下架")
    assert not searching._any_visible_match(word)
