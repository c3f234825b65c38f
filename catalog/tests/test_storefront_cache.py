"""Storefront product grids from cache (catalog.page_cache), on the real Redis.

The home, category and shop pages keep their catalog part per host, language and catalog
version: a second visit reads no product rows; any write that changes what a storefront
shows (a product listed, delisted or repriced, a merchant suspended) is on the next page
at once; one bank's grid (its "Our bank" tags, its own merchants first) never shows on
another bank's domain; the personal parts (the signed-in header) are never shared.
"""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from banks.middleware import clear_host_cache
from catalog.models import Product
from catalog.services import (
    SkuSpec,
    merchant_transition,
    product_transition,
    sku_add,
)
from tests import unique
from tests.catalog_factories import approved_merchant, listed_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached(settings):
    settings.STOREFRONT_CACHE_SECONDS = 300


@pytest.fixture
def commits(django_capture_on_commit_callbacks):
    """Writes in a test's transaction run their after-commit effects (the new catalog
    version) as they would when committed."""
    def run(write):
        with django_capture_on_commit_callbacks(execute=True):
            return write()
    return run


@pytest.fixture
def shops(province, commits):
    a, _ = approved_merchant(province.bank_a, province.a_credit, name=f"甲缓存园{unique.tag()}")
    b, _ = approved_merchant(province.bank_b, province.b_admin, name=f"乙缓存园{unique.tag()}")
    return a, b


def product_rows_read(client, path) -> tuple[int, str]:
    clear_host_cache()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    rows = [q for q in ctx.captured_queries if 'FROM "catalog_product"' in q["sql"]]
    return len(rows), response.content.decode()


def without_tokens(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


PAGES = ["/", "/c/fruit/", "/c/fruit/?sort=price_asc&page=1"]


@pytest.mark.parametrize("path", PAGES)
def test_a_second_visit_reads_no_product_rows(province, client_on, shops, cached, commits,
                                              path):
    commits(lambda: listed_product(shops[0], name=f"缓存罗汉果{unique.tag()}"))
    client = client_on(province.bank_a)
    first, html = product_rows_read(client, path)
    again, html_again = product_rows_read(client, path)
    assert first > 0 and again == 0
    # the same page, but for the CSRF token of its forms (rendered on every request)
    assert without_tokens(html_again) == without_tokens(html)


def test_the_shop_page_grid_is_cached_too(province, client_on, shops, cached, commits):
    commits(lambda: listed_product(shops[0], name=f"缓存店铺果{unique.tag()}"))
    client = client_on(province.bank_a)
    path = f"/shop/{shops[0].pk}/"
    first, _ = product_rows_read(client, path)
    again, _ = product_rows_read(client, path)
    assert first > 0 and again == 0


def test_listing_delisting_and_a_new_price_show_at_once(province, client_on, shops, cached,
                                                         commits):
    client = client_on(province.bank_a)
    name = f"新上架罗汉果{unique.tag()}"
    pages = ("/c/fruit/?sort=newest", f"/shop/{shops[0].pk}/")
    for path in pages:   # cached before the product exists
        assert name not in client.get(path).content.decode()
    product = commits(lambda: listed_product(shops[0], name=name, price="39.90"))
    for path in pages:
        assert name in client.get(path).content.decode(), path

    # a cheaper SKU: the card's "from" price drops
    commits(lambda: sku_add(product=product, spec=SkuSpec(
        spec="尝鲜装", unit="袋", price=Decimal("12.30"), stock=5)))
    assert "¥12.30" in client.get(f"/shop/{shops[0].pk}/").content.decode()

    commits(lambda: product_transition(product=Product.objects.get(pk=product.pk),
                                       action="delist", reason="下架测试"))
    for path in pages:
        assert name not in client.get(path).content.decode(), path


def test_a_suspended_merchants_goods_leave_every_cached_grid(province, client_on, shops,
                                                             cached, commits):
    name = f"将被暂停的果{unique.tag()}"
    commits(lambda: listed_product(shops[1], name=name))
    newest = "/c/fruit/?sort=newest"
    for bank in (province.bank_a, province.bank_b):
        assert name in client_on(bank).get(newest).content.decode()
    commits(lambda: merchant_transition(merchant=shops[1], action="suspend",
                                        reason="抽检不合格"))
    for bank in (province.bank_a, province.bank_b):
        assert name not in client_on(bank).get(newest).content.decode()


def test_each_bank_and_language_has_its_own_grid(province, client_on, shops, cached, commits):
    name = f"甲行自营果{unique.tag()}"
    commits(lambda: listed_product(shops[0], name=name))
    newest = "/c/fruit/?sort=newest"
    a_html = client_on(province.bank_a).get(newest).content.decode()
    b_html = client_on(province.bank_b).get(newest).content.decode()
    # the same card, tagged "our bank" on bank A's storefront only
    assert f'<span class="tag home">本行</span>{name}' in a_html
    assert name in b_html and f"本行</span>{name}" not in b_html
    english = client_on(province.bank_a).get(newest, HTTP_ACCEPT_LANGUAGE="en")
    assert f'<span class="tag home">Our bank</span>{name}' in english.content.decode()
    assert "Our bank" not in client_on(province.bank_a).get(newest).content.decode()


def test_the_signed_in_header_is_never_shared(province, client_on, shops, cached, commits):
    commits(lambda: listed_product(shops[0], name=f"登录缓存果{unique.tag()}"))
    anonymous = client_on(province.bank_a)
    anonymous.get("/")   # fills the cache
    signed_in = client_on(province.bank_a)
    signed_in.force_login(province.shopper)
    my_orders = 'href="/orders/'
    assert my_orders in signed_in.get("/").content.decode()
    assert my_orders not in anonymous.get("/").content.decode()
