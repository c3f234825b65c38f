"""Chinese search through the real storefront selector on real PostgreSQL.

A small shelf of products is made once for the module by the real services (merchant
admission, product creation, submission, listing review, which builds the search index)
inside a transaction that is rolled back when the module ends; each test then runs in its
own savepoint. Cases are a table: query -> products that must be found, products that
must not be.
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

# (name, category slug, subtitle)
SHELF_A = [
    ("香港罗汉果", "fruit", "清甜润喉 整果发货"),
    ("永福罗汉果干果", "dried", "低温烘干 原产地直发"),
    ("云南高原土豆", "veg", "沙糯口感 适合炖煮"),
    ("黄心马铃薯", "veg", "新鲜采挖 带泥发货"),
    ("西红柿", "veg", "自然成熟 酸甜多汁"),
    ("有机番茄", "veg", "有机认证 大棚种植"),
    ("烟薯25号红薯", "veg", "蒸烤皆宜 流心蜜甜"),
    ("黄金地瓜干", "dried", "无添加 软糯香甜"),
    ("高山绿茶", "tea", "明前采摘 一芽一叶"),
    ("五谷杂粮礼盒", "dried", "八种粗粮 送礼佳品"),
    ("土蜂蜜", "egg", "百花酿造 农家自产"),
    ("散养土鸡蛋", "egg", "林下散养 谷物喂养"),
    ("东北黑木耳", "mountain", "秋耳肉厚 泡发率高"),
    ("铁棍山药", "veg", "垆土种植 粉糯细腻"),
    # mentions 罗汉果 only in its subtitle (and its description, which is not indexed)
    ("清润花草茶", "tea", "罗汉果胖大海配方"),
]
SHELF_B = [  # another bank's approved merchant: found from bank A's storefront too
    ("猕猴桃", "fruit", "红心品种 软糯多汁"),
]
HIDDEN_SUSPENDED = "桂林罗汉果"   # listed, but its merchant is then suspended
HIDDEN_DELISTED = "罗汉果茶包"    # listed, then delisted

CATEGORIES = [  # (slug, name, parent slug)
    ("produce", "果蔬生鲜", None),
    ("fruit", "水果", "produce"),
    ("veg", "蔬菜", "produce"),
    ("specialty", "干货特产", None),
    ("dried", "干果零食", "specialty"),
    ("mountain", "山珍菌菇", "specialty"),
    ("tea", "茶饮冲调", None),
    ("egg", "禽蛋蜂产品", None),
]


def _approved_merchant(bank, owner, name):
    merchant = merchant_register(bank=bank, owner=owner, name=name,
                                 kind=MerchantKind.COOPERATIVE, county="甲县")
    merchant_transition(merchant=merchant, action="start_review")
    merchant_transition(merchant=merchant, action="approve")
    return merchant


def _listed(merchant, categories, name, category, subtitle="", description=""):
    product = product_create(
        merchant=merchant, name=name, category=categories[category], origin_county="甲县",
        subtitle=subtitle, description=description,
        skus=[SkuSpec(spec="500克", unit="袋", price=Decimal("19.90"), stock=100)])
    product_transition(product=product, action="submit")
    if product.status == ProductStatus.PENDING_REVIEW:
        product_transition(product=product, action="approve_listing")
    assert product.status == ProductStatus.LISTED
    return product


def _make_shelf(province):
    categories = {}
    for slug, name, parent in CATEGORIES:
        categories[slug] = Category.objects.create(
            slug=f"t-search-{slug}", name=name,
            parent=categories[parent] if parent else None)
    owner = province.shopper
    a = _approved_merchant(province.bank_a, owner, "甲县绿源农民专业合作社")
    b = _approved_merchant(province.bank_b, owner, "乙县清溪家庭农场")
    doomed = _approved_merchant(province.bank_b, owner, "乙县青峰家庭农场")
    products = {}
    for name, category, subtitle in SHELF_A:
        description = "罗汉果与胖大海" if name == "清润花草茶" else ""
        products[name] = _listed(a, categories, name, category, subtitle, description)
    for name, category, subtitle in SHELF_B:
        products[name] = _listed(b, categories, name, category, subtitle)
    products[HIDDEN_SUSPENDED] = _listed(doomed, categories, HIDDEN_SUSPENDED, "fruit")
    merchant_transition(merchant=doomed, action="suspend", reason="资质到期")
    products[HIDDEN_DELISTED] = _listed(a, categories, HIDDEN_DELISTED, "tea")
    product_transition(product=products[HIDDEN_DELISTED], action="delist")
    return SimpleNamespace(products=products, categories=categories, merchant_a=a)


@pytest.fixture(scope="module")
def shelf(province, django_db_blocker):
    """The shelf, made once, in a transaction rolled back at the end of the module (each
    test's own transaction is a savepoint inside it)."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        with transaction.atomic():
            yield _make_shelf(province)
            transaction.set_rollback(True)


def find(province, q, **kwargs) -> Listing:
    return storefront_listing(host_bank=province.bank_a,
                              lq=ListingQuery(q=q, per_page=100, **kwargs))


def names(listing: Listing) -> list[str]:
    return [p.name for p in listing.products]


LUOHANGUO = {"香港罗汉果", "永福罗汉果干果"}
HIDDEN = {HIDDEN_SUSPENDED, HIDDEN_DELISTED}
POTATO = {"云南高原土豆", "黄心马铃薯"}
TOMATO = {"西红柿", "有机番茄"}
SWEET_POTATO = {"烟薯25号红薯", "黄金地瓜干"}

# query -> (names that must be found, names that must not be)
CASES = [
    ("罗汉果", LUOHANGUO | {"清润花草茶"}, HIDDEN),
    ("汉果", LUOHANGUO, HIDDEN | {"西红柿"}),                    # a substring of a name
    ("汉", LUOHANGUO | {"清润花草茶"}, HIDDEN | {"西红柿"}),       # one character
    ("土豆", POTATO, {"铁棍山药", "散养土鸡蛋", "土蜂蜜"}),         # synonym
    ("马铃薯", POTATO, {"铁棍山药", "烟薯25号红薯"}),
    ("番茄", TOMATO, {"烟薯25号红薯", "黄金地瓜干"}),               # synonym, both ways
    ("西红柿", TOMATO, {"烟薯25号红薯", "黄金地瓜干"}),
    ("地瓜", SWEET_POTATO, POTATO | TOMATO),
    ("红薯", SWEET_POTATO, POTATO | TOMATO),
    ("山药", {"铁棍山药"}, POTATO),        # 山药 is not 山药蛋 (a name for the potato)
    ("蛋", {"散养土鸡蛋"}, POTATO),        # ... nor is 蛋
    ("奇异果", {"猕猴桃"}, LUOHANGUO),     # synonym, product of the other bank's merchant
    ("木耳", {"东北黑木耳"}, set()),
    ("鸡蛋", {"散养土鸡蛋"}, {"土蜂蜜"}),
    ("蜂蜜", {"土蜂蜜"}, {"散养土鸡蛋"}),
    ("绿茶", {"高山绿茶"}, {"清润花草茶"}),
    ("luohanguo", LUOHANGUO, HIDDEN | {"清润花草茶"}),            # pinyin
    ("luohan", LUOHANGUO, HIDDEN),                               # pinyin prefix
    ("LuoHanGuo", LUOHANGUO, HIDDEN),                            # case
    ("luo han guo", LUOHANGUO, HIDDEN),                          # syllables as words
    ("lhg", LUOHANGUO, HIDDEN | {"高山绿茶"}),                   # initials
    ("tudou", {"云南高原土豆"}, {"铁棍山药", "土蜂蜜"}),
    ("malingshu", POTATO, {"铁棍山药"}),                          # pinyin of a synonym
    ("xihongshi", TOMATO, SWEET_POTATO),
    ("mihoutao", {"猕猴桃"}, set()),
    ("25", {"烟薯25号红薯"}, SWEET_POTATO - {"烟薯25号红薯"}),   # ASCII token in a name
    ("罗汉果 干果", {"永福罗汉果干果"}, {"香港罗汉果", "清润花草茶"}),  # words AND-ed
    ("罗汉果\u3000干果", {"永福罗汉果干果"}, {"香港罗汉果"}),         # ideographic space
    ("高山 lvcha", {"高山绿茶"}, set()),                          # Chinese and pinyin
    ("罗汉果，干果", {"永福罗汉果干果"}, {"香港罗汉果"}),          # CJK punctuation
    ("榴莲", set(), None),                                        # nothing matches
    ("luohanguo 榴莲", set(), None),                              # (see the partial test)
    ("xyzxyz", set(), None),
]


@pytest.mark.parametrize(("q", "expected", "absent"), CASES, ids=[c[0] for c in CASES])
def test_search_finds_what_it_should_and_nothing_it_should_not(province, shelf, q, expected,
                                                             absent):
    listing = find(province, q)
    if absent is None and listing.partial:
        assert len(q.split()) > 1
        return   # no product has every word: the closest are shown (tests/test_search_more)
    found = names(listing)
    assert listing.total == len(found), "per_page=100 holds every hit"
    assert len(found) == len(set(found)), f"duplicates: {found}"
    assert expected <= set(found), f"{q!r}: missing {expected - set(found)}; got {found}"
    if absent is None:
        assert found == [], f"{q!r}: expected nothing, got {found}"
    else:
        wrong = absent & set(found)
        assert not wrong, f"{q!r}: should not find {wrong}; got {found}"


@pytest.mark.parametrize("q", ["  ", "\t\n", "%%", "'&|!", "!", "()", "_", "\\", ":*",
                               "'; drop table x; --", "罗汉果' OR '1'='1", "<->", "&&&",
                               "ｌｈｇ", "😀", "罗汉果" * 40])
def test_odd_queries_do_not_crash(province, shelf, q):
    listing = find(province, q)
    assert isinstance(listing, Listing)
    assert listing.total == len(listing.products)  # the storefront shows all or nothing
    assert not set(names(listing)) & HIDDEN


def test_a_name_match_ranks_above_a_subtitle_match(province, shelf):
    found = names(find(province, "罗汉果"))
    assert "清润花草茶" in found
    assert max(found.index(n) for n in LUOHANGUO) < found.index("清润花草茶"), found


def test_the_category_facet_of_a_search_adds_up_to_its_total(province, shelf):
    listing = find(province, "罗汉果")
    assert listing.total == 3
    facet = listing.facets["category"]
    assert sum(e["count"] for e in facet) == listing.total
    assert {e["name"]: e["count"] for e in facet} == {"果蔬生鲜": 1, "干货特产": 1,
                                                      "茶饮冲调": 1}
    assert sum(e["count"] for e in listing.facets["bank"]) == listing.total


def test_search_within_a_category(province, shelf):
    listing = find(province, "罗汉果", category=shelf.categories["specialty"])
    assert names(listing) == ["永福罗汉果干果"]


def test_suspended_merchant_and_delisted_product_are_not_found(province, shelf):
    for q in (HIDDEN_SUSPENDED, HIDDEN_DELISTED, "桂林", "茶包", "guilin"):
        assert not set(names(find(province, q))) & HIDDEN, q
    # ... though they carry an index, so it is the visibility filter that hides them
    for name in HIDDEN:
        shelf.products[name].refresh_from_db()
        assert shelf.products[name].search_vector


def test_an_empty_query_shows_the_whole_storefront(province, shelf):
    listing = find(province, "")
    assert set(names(listing)) >= {n for n, _c, _s in SHELF_A + SHELF_B}
    assert not set(names(listing)) & HIDDEN


# --- catalog.search.build_tsquery --------------------------------------------------------

@pytest.mark.parametrize(("q", "tsquery"), [
    # own fields (weights A, B, C: pairs as a phrase) or the whole name of a category,
    # origin or shop (weight D)
    ("罗汉果", "(('罗汉':ABC <-> '汉果':ABC) | '罗汉果':D)"),
    ("汉", "('汉':ABC | '汉':D)"),
    ("  罗汉果   干果 ",
     "((('罗汉':ABC <-> '汉果':ABC) | '罗汉果':D) & (('干果':ABC) | '干果':D))"),
    ("番茄", "((('番茄':ABC) | ('西红':ABC <-> '红柿':ABC)) | ('番茄':D | '西红柿':D))"),
    ("LHG", "('lhg':*ABC | 'lhg':D)"),
    ("luo han", "(('luo':*ABC | 'luo':D) & ('han':*ABC | 'han':D))"),
    ("罗汉果2号", "(('罗汉':ABC <-> '汉果':ABC) & '号':ABC & '2':*ABC)"),
    ("羅漢果", "(('罗汉':ABC <-> '汉果':ABC) | '罗汉果':D)"),     # traditional
])
def test_build_tsquery(q, tsquery):
    assert search.build_tsquery(q) == tsquery


@pytest.mark.parametrize("q", ["", "   ", "\u3000", "%%", "'&|!", "!", "()", "，。！", ":*",
                               "😀", None])
def test_build_tsquery_has_nothing_to_search_for(q):
    assert search.build_tsquery(q) is None


@pytest.mark.parametrize("q", ["a'b", "x\\y", "罗汉果:*", "a&b|c", "(罗汉果)", "!罗汉果",
                               "<-> <1>", "罗汉果 OR 干果", "'; drop table x; --",
                               "土豆 番茄 地瓜 木耳 鸡蛋 蜂蜜 山药 玉米 花生 小米"])
def test_build_tsquery_is_always_valid_postgresql(q):
    tsquery = search.build_tsquery(q)
    assert tsquery is not None
    with connection.cursor() as cur:
        cur.execute("SELECT %s::tsquery", [tsquery])
        assert cur.fetchone()[0]


FILTER_SETS = [{}, {"category": "specialty"}, {"category": "produce"}, {"bank": "a"},
               {"category": "produce", "bank": "b"}, {"price": "0-20"}, {"price": "50-100"},
               {"origin": "甲县", "category": "tea"}]


def _filters(province, shelf, spec: dict) -> dict:
    out = dict(spec)
    if "category" in out:
        out["category"] = shelf.categories[out["category"]]
    if "bank" in out:
        out["bank"] = (province.bank_a if out["bank"] == "a" else province.bank_b).code
    return out


@pytest.mark.parametrize("q", ["果", "罗汉果", "茶", "土豆 番茄"])
@pytest.mark.parametrize("spec", FILTER_SETS, ids=lambda s: "-".join(s) or "none")
def test_each_facet_counts_what_choosing_it_would_show(province, shelf, q, spec):
    """A facet's count is the total of the listing with that value chosen (every other
    filter kept): the page, the count and the four facets come from one statement."""
    filters = _filters(province, shelf, spec)
    listing = find(province, q, **filters)
    assert listing.total == len(listing.products)
    for kind, entries in listing.facets.items():
        for entry in entries:
            value = entry.get("slug", entry.get("value"))
            if kind == "category":
                value = Category.objects.get(slug=value)
            chosen = find(province, q, **{**filters, kind: value})
            assert chosen.total == entry["count"], (kind, value, entry)
    if "bank" not in filters:
        assert sum(e["count"] for e in listing.facets["bank"]) == listing.total
    if "price" not in filters:
        assert sum(e["count"] for e in listing.facets["price"]) == listing.total


def test_pages_of_a_search_cover_its_results_once_and_a_late_page_is_the_last(province, shelf):
    everything = names(find(province, "果"))
    assert len(everything) >= 3
    by_two = []
    for page in range(1, (len(everything) + 1) // 2 + 1):
        listing = storefront_listing(host_bank=province.bank_a,
                                     lq=ListingQuery(q="果", per_page=2, page=page))
        assert listing.page == page
        by_two += names(listing)
    assert by_two == everything
    late = storefront_listing(host_bank=province.bank_a,
                              lq=ListingQuery(q="果", per_page=2, page=999))
    assert late.page == late.pages == (len(everything) + 1) // 2
    assert names(late) == everything[(late.page - 1) * 2:]
