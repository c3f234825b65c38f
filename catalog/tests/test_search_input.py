"""What a shopper types reaches the search safely: LIKE wildcards in a query are
punctuation (they never reach a LIKE pattern), and full-width letters and digits search as
their ASCII forms.

A few products are made once for the module by the real services, in a transaction rolled
back when the module ends (the same pattern as catalog/tests/test_search.py).
"""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection, transaction

from catalog import search
from catalog.models import Category, MerchantKind, ProductStatus
from catalog.selectors import Listing, ListingQuery, storefront_listing
from catalog.services import (
    SkuSpec,
    merchant_register,
    merchant_transition,
    product_create,
    product_transition,
)

pytestmark = pytest.mark.django_db

NAMES = ["香港罗汉果", "100%纯蜂蜜", "1000克东北大米", "烟薯25号红薯"]


def _make_shelf(province):
    category = Category.objects.create(slug="t-input-produce", name="果蔬生鲜")
    merchant = merchant_register(
        bank=province.bank_a,
        owner=province.shopper,
        name="甲县输入测试合作社",
        kind=MerchantKind.COOPERATIVE,
        county="甲县",
    )
    merchant_transition(merchant=merchant, action="start_review")
    merchant_transition(merchant=merchant, action="approve")
    for name in NAMES:
        product = product_create(
            merchant=merchant,
            name=name,
            category=category,
            origin_county="甲县",
            skus=[SkuSpec(spec="500克", unit="袋", price=Decimal("19.90"), stock=100)],
        )
        product_transition(product=product, action="submit")
        if product.status == ProductStatus.PENDING_REVIEW:
            product_transition(product=product, action="approve_listing")
        assert product.status == ProductStatus.LISTED
    return SimpleNamespace(names=NAMES)


@pytest.fixture(scope="module")
def shelf(province, django_db_blocker):
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        with transaction.atomic():
            yield _make_shelf(province)
            transaction.set_rollback(True)


def find(province, q) -> Listing:
    return storefront_listing(host_bank=province.bank_a, lq=ListingQuery(q=q, per_page=100))


# --- LIKE wildcards ------------------------------------------------------------------------


@pytest.mark.parametrize("q", ["%", "_", "%%", "%_%", "\\", "\\%"])
def test_a_wildcard_alone_matches_nothing(province, shelf, q):
    listing = find(province, q)
    assert listing.total == 0
    assert listing.products == []


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("罗_果", "香港罗汉果"),  # _ would match 汉
        ("罗%果", "香港罗汉果"),  # % would match 汉
        ("罗\\汉", "香港罗汉果"),  # \ would escape 汉 and match 罗汉
    ],
)
def test_a_wildcard_in_a_query_does_not_earn_the_name_boost(province, shelf, q, found):
    # Wildcards are punctuation to the search (dropped), so the words are found by their
    # characters (罗 & 果); the tier for "the name contains the whole query" must not apply,
    # since no name contains the query literally.
    listing = find(province, q)
    tiers = {p.name: p.tier for p in listing.products}
    assert found in tiers
    assert tiers[found] < 4, tiers


def test_a_percent_sign_is_punctuation(province, shelf):
    # "100%" searches as "100": both names hold the token 100 (a prefix of 1000), and the
    # percent sign reaches no LIKE pattern
    listing = find(province, "100%")
    assert {p.name for p in listing.products} == {"100%纯蜂蜜", "1000克东北大米"}
    assert search.normalize_query("100%") == "100"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("罗汉果", "%罗汉果%"),
        ("100%", "%100\\%%"),
        ("a_b", "%a\\_b%"),
        ("x\\y", "%x\\\\y%"),
    ],
)
def test_like_contains(text, pattern):
    assert search.like_contains(text) == pattern


@pytest.mark.parametrize("q", ["\x00", "abc\x00", "罗汉\x00果"])
def test_a_nul_in_a_query_is_a_separator_not_an_error(province, shelf, q):
    expected = find(province, q.replace("\x00", " "))
    assert [p.name for p in find(province, q).products] == [p.name for p in expected.products]


# --- full-width input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("full", "half"),
    [
        ("ＡＢＣ", "ABC"),
        ("ｌｈｇ", "lhg"),
        ("ｌｕｏ　ｈａｎ", "luo han"),  # with an ideographic space
        ("２５", "25"),
        ("罗汉果２号", "罗汉果2号"),
    ],
)
def test_a_full_width_query_gives_the_same_tsquery_as_its_half_width_form(full, half):
    assert search.build_tsquery(half) is not None
    assert search.build_tsquery(full) == search.build_tsquery(half)


@pytest.mark.parametrize(
    ("full", "half", "expected"),
    [
        ("２５", "25", "烟薯25号红薯"),
        ("ｌｕｏｈａｎｇｕｏ", "luohanguo", "香港罗汉果"),
    ],
)
def test_a_full_width_query_finds_what_its_half_width_form_finds(
    province, shelf, full, half, expected
):
    found = [p.name for p in find(province, full).products]
    assert expected in found
    assert found == [p.name for p in find(province, half).products]
