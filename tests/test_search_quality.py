"""What a shopper gets from the search, on a catalogue made to trap it: shop, county and
category names share characters with other products' names (a county 茶陵县, a shop
乙县清溪茶园 selling honey, a co-operative named after 罗汉果 selling passion fruit, a
category 苹果梨 holding pears, a farm 土豆哥家庭农场 selling tomatoes).

Kinds of behaviour, each on its own: precision (the first page of a product-word query
holds only products that are that word), names of categories, origins and shops typed as
a whole, weights and ranking, query normalisation and its length limit, typos and
homophones, partial matches, "did you mean" and popular products, suggestions, the
synonym dictionary in the federation console, and searches that found nothing.
"""

from __future__ import annotations

import datetime
import io
import json
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.utils import timezone

from catalog import search
from catalog.models import Category, MerchantKind, ProductStatus, SuggestKey
from catalog.selectors import Listing, ListingQuery, search_suggestions, storefront_listing
from catalog.services import (
    SkuSpec,
    merchant_register,
    merchant_transition,
    product_create,
    product_transition,
)

pytestmark = pytest.mark.django_db

CATEGORIES = [  # slug, name, parent, English name, aliases
    ("fruit", "时令水果", None, "Fruit", ""),
    ("applepear", "苹果梨", "fruit", "Apples and pears", ""),
    ("citrus", "柑橘杂果", "fruit", "", ""),
    ("tea", "茶叶", None, "Tea", "茗茶"),
    ("veg", "蔬菜", None, "Vegetables", ""),
    ("grain", "粮油副食", None, "", ""),
]
MERCHANTS = {  # key: (bank, shop name, county)
    "luohan": ("a", "罗汉果种植专业合作社", "甲县"),
    "potato_farm": ("a", "土豆哥家庭农场", "甲县"),
    "chaling": ("b", "乙县丰收家庭农场", "茶陵县"),
    "tea_garden": ("b", "乙县清溪茶园", "乙县"),
}
# name, category, merchant, origin county, extra fields
PRODUCTS = [
    ("永福罗汉果", "citrus", "luohan", "甲县", {}),
    ("百香果", "citrus", "luohan", "甲县", {}),
    ("清润花草茶", "tea", "luohan", "甲县", {"subtitle": "罗汉果胖大海配方"}),
    ("高山绿茶", "tea", "luohan", "甲县", {"spec": "礼盒装"}),
    ("祁门红茶礼盒", "tea", "luohan", "甲县", {}),
    ("新鲜李子", "citrus", "luohan", "甲县", {}),
    ("香水梨子", "applepear", "luohan", "甲县", {}),
    ("茶叶蛋", "grain", "potato_farm", "甲县", {}),
    ("有机西红柿", "veg", "potato_farm", "甲县", {}),
    ("旱黄瓜", "veg", "potato_farm", "甲县", {}),
    ("烟台苹果", "applepear", "potato_farm", "甲县", {}),
    ("云南小土豆", "veg", "potato_farm", "甲县", {}),
    ("优质大米", "grain", "chaling", "茶陵县",
     {"name_en": "Premium rice", "aliases": "硒米, 富硒米"}),
    ("茶陵紫薯", "veg", "chaling", "茶陵县", {}),   # a name that starts with its county
    ("红茶", "tea", "chaling", "乙县", {}),
    ("砀山酥梨", "applepear", "chaling", "乙县", {}),
    ("红富士苹果", "applepear", "chaling", "乙县", {}),
    ("黄心土豆", "veg", "chaling", "乙县", {}),
    ("野生蜂蜜", "grain", "tea_garden", "乙县", {}),
]


def _make(province):
    categories = {}
    for slug, name, parent, name_en, aliases in CATEGORIES:
        categories[slug] = Category.objects.create(
            slug=f"t-q-{slug}", name=name, name_en=name_en, aliases=aliases,
            parent=categories[parent] if parent else None)
    merchants = {}
    for key, (bank, name, county) in MERCHANTS.items():
        merchant = merchant_register(bank=getattr(province, f"bank_{bank}"),
                                     owner=province.shopper, name=name,
                                     kind=MerchantKind.COOPERATIVE, county=county)
        merchant_transition(merchant=merchant, action="start_review")
        merchant_transition(merchant=merchant, action="approve")
        merchants[key] = merchant
    products = {}
    for name, cat, merchant, county, extra in PRODUCTS:
        extra = dict(extra)
        spec = extra.pop("spec", "500克")
        product = product_create(
            merchant=merchants[merchant], name=name, category=categories[cat],
            origin_county=county,
            skus=[SkuSpec(spec=spec, unit="袋", price=Decimal("19.90"), stock=10)], **extra)
        product_transition(product=product, action="submit")
        if product.status == ProductStatus.PENDING_REVIEW:
            product_transition(product=product, action="approve_listing")
        products[name] = product
    return SimpleNamespace(products=products, categories=categories, merchants=merchants)


@pytest.fixture(scope="module")
def shelf(province, django_db_blocker):
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        with transaction.atomic():
            yield _make(province)
            transaction.set_rollback(True)


def find(province, q, *, bank="a", **kwargs) -> Listing:
    host = getattr(province, f"bank_{bank}") if bank else None
    return storefront_listing(host_bank=host, lq=ListingQuery(q=q, per_page=24, **kwargs))


SHELF = {p[0] for p in PRODUCTS}


def names(listing: Listing) -> list[str]:
    """The names found from this module's shelf, in order (other test modules may have
    committed products of their own)."""
    return [p.name for p in listing.products if p.name in SHELF]


def others(listing: Listing) -> list[str]:
    return [p.name for p in listing.products if p.name not in SHELF]


# --- 1. precision: the first page of a product word holds only that product ------------

PRECISION = [
    # 茶: not the county 茶陵县's rice, not the honey of 乙县清溪茶园 (茶陵紫薯 has the
    # character in its name, as part of its county's: it comes last, see below)
    ("茶", {"高山绿茶", "红茶", "祁门红茶礼盒", "清润花草茶", "茶叶蛋", "茶陵紫薯"}),
    # 罗汉果: not the passion fruit of the co-operative named after it (the tea mentions
    # it in its subtitle)
    ("罗汉果", {"永福罗汉果", "清润花草茶"}),
    # 苹果: not the pears filed under the category 苹果梨
    ("苹果", {"烟台苹果", "红富士苹果"}),
    # 土豆: not the tomatoes and cucumbers of 土豆哥家庭农场
    ("土豆", {"云南小土豆", "黄心土豆"}),
    ("梨", {"香水梨子", "砀山酥梨"}),
    # a word that finds products as typed is taken as meant: 梨子 is not 李子 (both lizi)
    ("梨子", {"香水梨子"}),
    ("蜂蜜", {"野生蜂蜜"}),
]


@pytest.mark.parametrize(("q", "expected"), PRECISION, ids=[c[0] for c in PRECISION])
def test_the_first_page_of_a_product_word_holds_only_matching_products(province, shelf, q,
                                                                      expected):
    for bank in ("a", "b", None):
        listing = find(province, q, bank=bank)
        assert set(names(listing)) == expected, (bank, names(listing))
        assert all(q in name for name in others(listing)), others(listing)
        assert listing.total == len(expected) + len(others(listing))
        assert not listing.partial


WHOLE_NAMES = [
    ("茶陵县", {"优质大米", "茶陵紫薯"}),                     # a county, as a whole
    ("茶陵", {"优质大米", "茶陵紫薯"}),                       # ... without 县
    ("苹果梨", {"香水梨子", "烟台苹果", "砀山酥梨", "红富士苹果"}),  # a category
    ("土豆哥家庭农场", {"茶叶蛋", "有机西红柿", "旱黄瓜", "烟台苹果", "云南小土豆"}),  # a shop
    ("tea", {"高山绿茶", "红茶", "祁门红茶礼盒", "清润花草茶"}),  # a category's English name
    ("茗茶", {"高山绿茶", "红茶", "祁门红茶礼盒", "清润花草茶"}),  # ... and its alias
    ("茶陵 紫薯", {"茶陵紫薯"}),                              # with a product word
]


@pytest.mark.parametrize(("q", "expected"), WHOLE_NAMES, ids=[c[0] for c in WHOLE_NAMES])
def test_a_category_origin_or_shop_named_as_a_whole_selects_its_products(province, shelf, q,
                                                                        expected):
    assert set(names(find(province, q))) == expected


def test_a_county_named_in_a_product_name_ranks_below_the_produce(province, shelf):
    # 茶陵紫薯 is a sweet potato from 茶陵县: its 茶 is the county's, not the produce's
    assert names(find(province, "茶"))[-1] == "茶陵紫薯"
    assert names(find(province, "紫薯")) == ["茶陵紫薯"]


def test_own_fields_rank_above_a_category_named_as_a_whole(province, shelf):
    found = names(find(province, "茶叶"))
    # 茶叶蛋 has the word in its name; the tea category's products only by its name
    assert found[0] == "茶叶蛋"
    assert set(found[1:]) == {"高山绿茶", "红茶", "祁门红茶礼盒", "清润花草茶"}


# --- weights and ranking --------------------------------------------------------------------

def _rank(vector_literal: str, tsquery: str) -> float:
    with connection.cursor() as cur:
        cur.execute("SELECT ts_rank(%s::tsvector, %s::tsquery)", [vector_literal, tsquery])
        return cur.fetchone()[0]


def test_weights_reach_the_vector_and_the_score(province, shelf):
    in_name = search.document_vector(search.Document(name="罗汉果"))
    in_alias = search.document_vector(search.Document(name="干果", aliases=["罗汉果"]))
    assert _rank(in_name, "'罗汉' <-> '汉果'") > _rank(in_alias, "'罗汉' <-> '汉果'") > 0
    # ... and in what is stored
    with connection.cursor() as cur:
        cur.execute("SELECT name, search_vector::text, ts_rank(search_vector, "
                    "'罗汉 <-> 汉果'::tsquery) FROM catalog_product WHERE id IN (%s, %s)",
                    [shelf.products["永福罗汉果"].pk, shelf.products["清润花草茶"].pk])
        rows = {name: (text, rank) for name, text, rank in cur.fetchall()}
    assert re.search(r"'罗汉':\d+A", rows["永福罗汉果"][0])
    assert re.search(r"'罗汉':\d+C", rows["清润花草茶"][0])      # a subtitle
    assert re.search(r"'茶陵县':\d+(\s|$)", rows["清润花草茶"][0]) is None
    assert rows["永福罗汉果"][1] > rows["清润花草茶"][1]


def test_host_banks_products_first_among_equally_relevant(province, shelf):
    assert names(find(province, "苹果", bank="a")) == ["烟台苹果", "红富士苹果"]
    assert names(find(province, "苹果", bank="b")) == ["红富士苹果", "烟台苹果"]
    assert names(find(province, "土豆", bank="a")) == ["云南小土豆", "黄心土豆"]
    assert names(find(province, "土豆", bank="b")) == ["黄心土豆", "云南小土豆"]


def test_an_exact_name_ranks_first_even_over_the_host_bank(province, shelf):
    # 红茶 is bank B's; on bank A's storefront it still comes before A's 祁门红茶礼盒
    assert names(find(province, "红茶", bank="a"))[:2] == ["红茶", "祁门红茶礼盒"]


def test_a_name_match_ranks_above_a_subtitle_match(province, shelf):
    assert names(find(province, "罗汉果")) == ["永福罗汉果", "清润花草茶"]


def test_specification_aliases_and_english_name_are_searched(province, shelf):
    assert names(find(province, "礼盒装")) == ["高山绿茶"]           # SKU specification
    assert names(find(province, "硒米")) == ["优质大米"]             # alias
    assert names(find(province, "premium")) == ["优质大米"]          # English name
    assert names(find(province, "Premium Rice")) == ["优质大米"]


# --- 2. normalisation and the length limit --------------------------------------------------

@pytest.mark.parametrize("q", ["羅漢果", "ＬＵＯＨＡＮＧＵＯ", "罗汉果！！", "「罗汉果」",
                               "  Luo  Han  Guo ", "LuoHanGuo", "罗汉果\u3000"])
def test_every_spelling_of_a_query_finds_the_same(province, shelf, q):
    assert set(names(find(province, q))) >= {"永福罗汉果"}
    assert "百香果" not in names(find(province, q))


def test_normalize_query():
    assert search.normalize_query("  羅漢果，ＬＨＧ！ Ab\tC ") == "罗汉果 lhg ab c"
    assert search.normalize_query("蘋果\x00梨") == "苹果 梨"


def test_a_too_long_query_is_refused_with_a_message_everywhere(province, shelf, client_on,
                                                                api_on, settings):
    too_long = "罗" * (settings.SEARCH_MAX_QUERY_LENGTH + 1)
    page = client_on(province.bank_a).get("/search/", {"q": too_long})
    assert page.status_code == 400
    text = page.content.decode()
    assert str(settings.SEARCH_MAX_QUERY_LENGTH) in text and 'role="alert"' in text
    api = api_on(province.bank_a).get("/api/v1/catalog/products/", {"q": too_long})
    assert api.status_code == 400 and "60" in api.json()["errors"]["q"][0]
    suggest = api_on(province.bank_a).get("/api/v1/catalog/suggest/", {"q": too_long})
    assert suggest.status_code == 400 and "q" in suggest.json()["errors"]
    ok = client_on(province.bank_a).get("/search/", {"q": "罗" * 60})
    assert ok.status_code == 200
    assert f'maxlength="{settings.SEARCH_MAX_QUERY_LENGTH}"' in ok.content.decode()


# --- 3. typos ------------------------------------------------------------------------------

@pytest.mark.parametrize(("q", "expected"), [
    ("罗汉国", "永福罗汉果"),      # a character of the same sound
    ("永福罗汗果", "永福罗汉果"),
    ("luohanguu", "永福罗汉果"),   # a letter wrong
    ("luohnaguo", "永福罗汉果"),   # two letters swapped
    ("luohango", "永福罗汉果"),    # a letter missing
    ("hongfushii", "红富士苹果"),  # a letter extra
])
def test_typos_find_the_product(province, shelf, q, expected):
    found = names(find(province, q))
    assert found and found[0] == expected, found


def test_edit_distance():
    assert search.edit_distance_at_most_one("luohanguo", "luohanguu")
    assert search.edit_distance_at_most_one("luohnaguo", "luohanguo")
    assert search.edit_distance_at_most_one("luohango", "luohanguo")
    assert not search.edit_distance_at_most_one("luohxnguoo", "luohanguo")


# --- 5. never a dead end -------------------------------------------------------------------

def test_no_product_with_every_word_shows_the_closest_and_says_so(province, shelf,
                                                                  client_on):
    listing = find(province, "罗汉果 榴莲")
    assert listing.partial and names(listing)[:1] == ["永福罗汉果"]
    listing = find(province, "红茶 礼盒 榴莲")
    assert listing.partial and names(listing)[0] == "祁门红茶礼盒"   # two words of three
    page = client_on(province.bank_a).get("/search/", {"q": "罗汉果 榴莲"}).content.decode()
    assert "No product matches every word" in page or "没有商品包含所有关键词" in page
    assert "永福罗汉果" in page


def test_an_empty_page_offers_a_correction_and_popular_products(province, shelf, client_on):
    listing = find(province, "luohxnguoo")
    assert listing.total == 0
    assert listing.did_you_mean == "罗汉果"
    assert listing.popular
    # no correction is better than a far one (榴莲, liulian, is not 梨子 lizi or 粮 liang)
    assert find(province, "榴莲").did_you_mean == ""
    page = client_on(province.bank_a).get("/search/", {"q": "luohxnguoo"}).content.decode()
    assert "?q=%E7%BD%97%E6%B1%89%E6%9E%9C" in page          # the corrected query's link
    assert 'class="products popular"' in page


def test_suggestions_as_you_type(province, shelf, api_on):
    def texts(q):
        response = api_on(province.bank_a).get("/api/v1/catalog/suggest/", {"q": q})
        assert response.status_code == 200
        return [s["text"] for s in response.json()["suggestions"]]

    assert "永福罗汉果" in texts("罗汉")
    assert "永福罗汉果" in texts("luoh")                # a pinyin prefix
    assert "永福罗汉果" in texts("羅漢")                # traditional characters
    assert "土豆" in texts("tud")                       # a dictionary word by its pinyin
    assert "苹果梨" in texts("苹果")                    # a category
    assert texts("") == [] and texts("！！") == []
    assert len(search_suggestions("果")) <= 8
    assert "永福罗汉果" in texts("yflh")                # initials
    assert "永福罗汉果" in texts("汉果")                # further in the name
    # the keys the reindex wrote, read by prefix from a B-tree
    keys = set(SuggestKey.objects.filter(product=shelf.products["永福罗汉果"])
               .values_list("key", flat=True))
    assert {"永福罗汉果", "yongfuluohanguo", "yflhg"} <= keys


def test_a_product_no_longer_listed_is_not_suggested(province, shelf):
    fruit = shelf.products["永福罗汉果"]
    assert "永福罗汉果" in [s["text"] for s in search_suggestions("永福罗")]
    product_transition(product=fruit, action="delist", reason="下架")
    assert "永福罗汉果" not in [s["text"] for s in search_suggestions("yongfu")]


# --- 4. the synonym dictionary in the federation console -----------------------------------

def test_federation_admins_edit_the_synonym_dictionary(province, shelf, client_on,
                                                        django_capture_on_commit_callbacks):
    assert find(province, "鸡蛋果").total == 0
    console = client_on(None, province.fed_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post("/federation/search/", {"action": "add",
                                                        "words": "百香果，鸡蛋果"})
    assert response.status_code == 302
    assert names(find(province, "鸡蛋果")) == ["百香果"]       # at once, no restart
    page = console.get("/federation/search/", {"term": "鸡蛋果"}).content.decode()
    assert "百香果 = 鸡蛋果" in page and f"/p/{shelf.products['百香果'].pk}/" in page
    # a word already in a group is refused, with the group named
    refused = console.post("/federation/search/", {"action": "add", "words": "土豆 地蛋"})
    assert refused.status_code == 400 and "土豆 = 马铃薯" in refused.content.decode()
    from catalog.models import SynonymGroup

    group = SynonymGroup.objects.get(words__contains=["鸡蛋果"])
    with django_capture_on_commit_callbacks(execute=True):
        console.post("/federation/search/", {"action": "delete", "group": group.pk})
    assert find(province, "鸡蛋果").total == 0
    # shoppers and bank staff have no such page
    assert client_on(None, province.shopper).get("/federation/search/").status_code == 404


def test_the_dictionary_is_seeded_from_the_original_groups(province, shelf):
    from catalog.models import SynonymGroup

    seeded = {tuple(g) for g in SynonymGroup.objects.values_list("words", flat=True)}
    assert set(search.SYNONYM_GROUPS) <= seeded


# --- 6. what people could not find --------------------------------------------------------

@pytest.fixture
def buffer():
    from federation import recorder, services

    recorder.reset_client()
    redis = recorder.client()
    redis.delete(recorder.BUFFER_KEY, services.INFLIGHT_KEY, services.LOCK_KEY)
    yield redis
    redis.delete(recorder.BUFFER_KEY, services.INFLIGHT_KEY, services.LOCK_KEY)
    recorder.reset_client()


def test_searches_that_found_nothing_are_listed_for_the_federation_and_the_bank(
        province, shelf, buffer, client_on):
    from federation import recorder
    from federation.models import Event
    from federation.services import events_flush

    shopper_a, shopper_b = client_on(province.bank_a), client_on(province.bank_b)
    for _ in range(2):
        shopper_a.get("/search/", {"q": "榴莲"})
    shopper_a.get("/search/", {"q": "罗汉果 榴莲"})       # partial: not found as typed
    shopper_a.get("/search/", {"q": "罗汉果"})
    shopper_b.get("/search/", {"q": "山竹"})
    lines = [json.loads(line) for line in buffer.lrange(recorder.BUFFER_KEY, 0, -1)]
    assert [(e["query"], e["results"]) for e in lines if e["kind"] == "search"] == [
        ("榴莲", 0), ("榴莲", 0), ("罗汉果 榴莲", 0), ("罗汉果", 2), ("山竹", 0)]
    events_flush()
    assert Event.objects.filter(kind="search", results=0).count() == 4
    today = timezone.localdate()
    page = client_on(None, province.fed_admin).get("/federation/search/").content.decode()
    table = page[page.index('id="unfound-queries"'):]
    assert table.index("榴莲") < table.index("山竹")         # most searched first
    assert "罗汉果 榴莲" in table
    staff_a = client_on(province.bank_a, province.a_admin)
    own = staff_a.get("/console/traffic/searches/")
    assert own.status_code == 200
    own_table = own.content.decode()[own.content.decode().index('id="unfound-queries"'):]
    assert "榴莲" in own_table and "山竹" not in own_table   # only its own storefront
    assert today.strftime("%Y-%m-%d") in own_table
    assert client_on(province.bank_b, province.a_admin).get(
        "/console/traffic/searches/").status_code in (403, 404)


def test_unfound_selector_leaves_out_searches_without_a_count(province):
    from federation.models import Event
    from federation.selectors import searches_without_results

    now = timezone.now()
    day = timezone.localdate()
    Event.objects.create(kind="search", at=now, day=day, query="旧记录", results=None)
    Event.objects.create(kind="search", at=now, day=day, query="新记录", results=0)
    found = [u.query for u in searches_without_results(
        start=day - datetime.timedelta(days=1), end=day)]
    assert "新记录" in found and "旧记录" not in found


def test_merchant_api_takes_english_name_and_aliases_and_they_are_found(province, shelf,
                                                                        api_on):
    from catalog.models import MerchantMember

    merchant = shelf.merchants["luohan"]
    MerchantMember.objects.get_or_create(merchant=merchant, user=province.shopper)
    api = api_on(province.bank_a, province.shopper)
    url = f"/api/v1/merchant/{merchant.pk}/products/"
    created = api.post(url, {
        "name": "沙田柚", "name_en": "Shatian pomelo", "aliases": "文旦柚、蜜柚",
        "category": shelf.categories["citrus"].slug, "origin_county": "甲县",
        "skus": [{"spec": "2个装", "unit": "箱", "price": "39.00", "stock": 5}]},
        format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["name_en"], body["aliases"]) == ("Shatian pomelo", "文旦柚, 蜜柚")
    product_id = body["id"]
    assert api.post(f"{url}{product_id}/actions/", {"action": "submit"},
                     format="json").status_code == 200
    from catalog.models import Product

    if Product.objects.get(pk=product_id).status != ProductStatus.LISTED:
        product_transition(product=Product.objects.get(pk=product_id),
                           action="approve_listing")
    assert "沙田柚" in names_all(find(province, "pomelo"))
    assert "沙田柚" in names_all(find(province, "蜜柚"))
    form = api_on(province.bank_a).get(f"/api/v1/catalog/products/{product_id}/").json()
    assert form["name_en"] == "Shatian pomelo"


def names_all(listing: Listing) -> list[str]:
    return [p.name for p in listing.products]


def test_the_merchant_product_form_has_english_name_and_aliases(province, shelf,
                                                                client_on):
    from catalog.models import MerchantMember

    merchant = shelf.merchants["luohan"]
    MerchantMember.objects.get_or_create(merchant=merchant, user=province.shopper)
    html = client_on(province.bank_a, province.shopper).get(
        f"/merchant/{merchant.pk}/products/new/").content.decode()
    assert 'name="name_en"' in html and 'name="aliases"' in html


def test_search_reindex_command_rebuilds_vectors(province, shelf):
    from django.core.management import call_command

    from catalog.models import Product

    product = shelf.products["永福罗汉果"]
    Product.objects.filter(pk=product.pk).update(search_vector=None)
    out = io.StringIO()
    call_command("search_reindex", "--batch", "7", stdout=out)
    assert out.getvalue().startswith("reindexed ")
    assert names(find(province, "永福罗汉果"))[0] == "永福罗汉果"
