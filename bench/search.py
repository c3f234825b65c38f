"""Search benchmark: our Chinese search (catalog.search tokens in a GIN-indexed tsvector,
queried through the real storefront selector) against plain substring scans, measured in
one run over a generated catalog of 100,000 listed products.

Approaches, each timed per query (page of 24 rows + total count, as a listing page needs):

  ours          storefront_listing(host_bank=None, lq=ListingQuery(q=q, per_page=24),
                                   with_facets=False)
  ours+facets   the same with with_facets=True (the four facet queries too)
  ilike_name    Product.objects.filter(status="listed", name__icontains=q)
                .order_by("-sales_count")[:24] and its count: the ILIKE '%q%' scan
  icontains_text  the same on search_text (search_text__icontains), as Django writes it:
                UPPER(search_text) LIKE UPPER('%q%') -- which the trigram index cannot serve
  ilike_text_trgm  search_text ILIKE '%q%' written by hand, which the trigram GIN index
                catalog_product_text_trgm can serve

Then the storefront listing without a query: storefront_listing(host_bank=bank,
lq=ListingQuery(), with_facets=True) calls/s (and without facets) against a bare queryset
returning the same 24 rows.

It runs on the embedded PostgreSQL in a throw-away database, ``bench_search``, which it
drops and recreates at the start and drops again at the end (``--keep-db`` keeps it).
Dev data (database ``platform``) is never touched.

    .venv/bin/python bench/search.py                       # 100,000 products, ~10 min
    .venv/bin/python bench/search.py --products 10000 --reps 5 --seconds 2   # quick

Results: a table on stdout and the raw numbers in bench/out/search.json. The listing
cache (counts and facets, CATALOG_LISTING_CACHE_SECONDS) uses a private Redis that the
script starts on a free port and stops; cases say whether the cache is off or warm.
No timing is asserted; this only measures.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

REPO = common.REPO
BENCH_DB = "bench_search"
common.use_bench_database(BENCH_DB)  # before Django reads its settings

OUT = REPO / "bench" / "out" / "search.json"
# Recorded with the machine; a changed tracked file under CODE_PATHS marks the run "+changes".
PG_SETTINGS = (
    "shared_buffers",
    "work_mem",
    "effective_cache_size",
    "jit",
    "max_parallel_workers_per_gather",
)
CODE_PATHS = ("catalog", "config")

# --- the generated catalog ---------------------------------------------------------------

# (place, province, county)
PLACES = [
    ("永福", "广西", "永福县"),
    ("桂林", "广西", "临桂区"),
    ("云南", "云南", "会泽县"),
    ("五常", "黑龙江", "五常市"),
    ("赣南", "江西", "信丰县"),
    ("烟台", "山东", "栖霞市"),
    ("洛川", "陕西", "洛川县"),
    ("安溪", "福建", "安溪县"),
    ("武夷山", "福建", "武夷山市"),
    ("东北", "吉林", "汪清县"),
    ("焦作", "河南", "温县"),
    ("宁夏", "宁夏", "中宁县"),
    ("新疆", "新疆", "若羌县"),
    ("沂蒙", "山东", "沂南县"),
    ("恩施", "湖北", "恩施市"),
    ("丽水", "浙江", "遂昌县"),
    ("黄山", "安徽", "歙县"),
    ("周至", "陕西", "周至县"),
    ("蒲江", "四川", "蒲江县"),
    ("琯溪", "福建", "平和县"),
    ("海南", "海南", "澄迈县"),
    ("山西", "山西", "沁县"),
    ("内蒙古", "内蒙古", "赤峰市"),
    ("甘肃", "甘肃", "定西市"),
    ("贵州", "贵州", "威宁县"),
    ("湘西", "湖南", "古丈县"),
    ("信阳", "河南", "浉河区"),
    ("舟山", "浙江", "岱山县"),
    ("长白山", "吉林", "抚松县"),
    ("大别山", "安徽", "金寨县"),
    # a county whose name holds a produce word (茶 must not bring all of it)
    ("茶陵", "湖南", "茶陵县"),
]
VARIETIES = [
    "高山",
    "有机",
    "农家",
    "散养",
    "精选",
    "特级",
    "野生",
    "新鲜",
    "富硒",
    "生态",
    "头茬",
    "古法",
    "手工",
    "原生态",
    "老品种",
    "当季",
    "绿色",
    "无公害",
    "山地",
    "土",
]
# (produce, category slug)
PRODUCE = [
    ("罗汉果", "dried"),
    ("土豆", "veg"),
    ("马铃薯", "veg"),
    ("洋芋", "veg"),
    ("红薯", "veg"),
    ("地瓜干", "dried"),
    ("番茄", "veg"),
    ("西红柿", "veg"),
    ("猕猴桃", "fruit"),
    ("苹果", "fruit"),
    ("脐橙", "fruit"),
    ("蜜柚", "fruit"),
    ("大米", "grain"),
    ("小米", "grain"),
    ("玉米", "grain"),
    ("杂粮", "grain"),
    ("绿茶", "tea"),
    ("红茶", "tea"),
    ("白茶", "tea"),
    ("铁观音", "tea"),
    ("蜂蜜", "egg"),
    ("土鸡蛋", "egg"),
    ("鸭蛋", "egg"),
    ("黑木耳", "mushroom"),
    ("香菇", "mushroom"),
    ("山药", "veg"),
    ("花生", "dried"),
    ("核桃", "dried"),
    ("红枣", "dried"),
    ("枸杞", "dried"),
    ("茶油", "oil"),
    ("菜籽油", "oil"),
    ("腊肉", "meat"),
    ("土鸡", "meat"),
    ("牛肉干", "meat"),
    ("荔枝", "fruit"),
    ("芒果", "fruit"),
    ("菠萝", "fruit"),
    ("板栗", "dried"),
    ("黄花菜", "veg"),
    ("酥梨", "applepear"),      # pears, filed under 苹果梨 (苹果 must not bring them)
]
SPECS = [
    "礼盒",
    "5斤装",
    "500克",
    "家庭装",
    "整箱",
    "10斤装",
    "特大果",
    "袋装",
    "2.5kg",
    "精品装",
    "试吃装",
    "250g罐装",
    "",
    "",
]
SUBTITLES = [
    "产地直发 新鲜到家",
    "农户自种 坏果包赔",
    "助农扶贫 支持乡村",
    "当季采摘 顺丰冷链",
    "地理标志产品",
    "送礼佳品 包装精美",
    "无添加 放心吃",
    "合作社统一品控",
]
CATEGORIES = [  # (slug, name, parent slug)
    ("produce", "果蔬生鲜", None),
    ("fruit", "水果", "produce"),
    ("applepear", "苹果梨", "produce"),
    ("veg", "蔬菜", "produce"),
    ("grain", "粮油米面", None),
    ("oil", "食用油", "grain"),
    ("specialty", "干货特产", None),
    ("dried", "坚果干果", "specialty"),
    ("mushroom", "山珍菌菇", "specialty"),
    ("meat", "肉禽腊味", "specialty"),
    ("tea", "茶叶", None),
    ("egg", "禽蛋蜂产品", None),
]
MERCHANT_WORDS = ["绿源", "丰收", "金穗", "青山", "清溪", "云岭", "田园", "乡味", "禾丰", "山里人",
                  # shops named after a produce they are known for, selling everything
                  "罗汉果", "土豆哥", "茶香"]
MERCHANT_KINDS = [
    ("农民专业合作社", "cooperative"),
    ("家庭农场", "family_farm"),
    ("生态农业有限公司", "enterprise"),
    ("特产店", "individual"),
]

# What a query means, to judge precision: a product is relevant when its name holds one of
# these words (or, for a place, its origin is there).
POTATO = ("土豆", "马铃薯", "洋芋")
TOMATO = ("番茄", "西红柿")
SWEET_POTATO = ("红薯", "地瓜")


def in_name(*words):
    return lambda p: any(w in p["name"] for w in words)


def all_in_name(*groups):
    return lambda p: all(any(w in p["name"] for w in g) for g in groups)


def from_place(place):
    return lambda p: p["name"].startswith(place) or place in p["origin"]


# (query, kind, relevant(product) or None for "nothing should be found")
QUERIES = [
    ("罗汉果", "word", in_name("罗汉果")),
    ("猕猴桃", "word", in_name("猕猴桃")),
    ("大米", "word", in_name("大米")),
    ("蜂蜜", "word", in_name("蜂蜜")),
    ("黑木耳", "word", in_name("黑木耳")),
    ("铁观音", "word", in_name("铁观音")),
    ("汉果", "substring", in_name("罗汉果")),
    ("猴桃", "substring", in_name("猕猴桃")),
    ("茶", "1 char", in_name("茶")),
    ("米", "1 char", in_name("米")),
    ("薯", "1 char", in_name("薯")),
    ("土豆", "synonym", in_name(*POTATO)),
    ("西红柿", "synonym", in_name(*TOMATO)),
    ("地瓜", "synonym", in_name(*SWEET_POTATO)),
    ("奇异果", "synonym", in_name("猕猴桃")),
    ("罗汉果 礼盒", "2 words", all_in_name(("罗汉果",), ("礼盒",))),
    ("永福 罗汉果", "2 words", lambda p: "罗汉果" in p["name"] and from_place("永福")(p)),
    ("有机 大米 5斤装", "3 words", all_in_name(("有机",), ("大米",), ("5斤装",))),
    ("武夷山 红茶", "2 words", lambda p: "红茶" in p["name"] and from_place("武夷山")(p)),
    ("luohanguo", "pinyin", in_name("罗汉果")),
    ("mihoutao", "pinyin", in_name("猕猴桃")),
    ("tudou", "pinyin", in_name(*POTATO)),
    ("luohan", "pinyin prefix", in_name("罗汉果")),
    ("lhg", "initials", in_name("罗汉果")),
    ("mht", "initials", in_name("猕猴桃")),
    ("五常", "place", from_place("五常")),
    ("永福县", "place", from_place("永福")),
    ("羅漢果", "traditional", in_name("罗汉果")),
    ("ＬＵＯＨＡＮＧＵＯ", "full width", in_name("罗汉果")),
    ("罗汉国", "typo", in_name("罗汉果")),
    ("luohanguu", "typo", in_name("罗汉果")),
    ("mihoutoa", "typo", in_name("猕猴桃")),
    ("罗汉果 榴莲", "partial", in_name("罗汉果")),
    ("苹果", "word", in_name("苹果")),
    ("榴莲", "no hit", None),
    ("三文鱼", "no hit", None),
    ("xyzq", "no hit", None),
    ("500克", "ascii+cjk", in_name("500克")),
]
KINDS = list(dict.fromkeys(kind for _q, kind, _r in QUERIES))
# What a shopper has typed so far, for the suggestions
PREFIXES = ["罗", "罗汉", "luo", "luoh", "tud", "mh", "茶", "苹果", "大", "五常", "hong", "xyz"]


# --- database set-up and clean-up ------------------------------------------------------


def start_redis():
    """A private Redis for the listing cache (never the dev one), on a free port; set
    REDIS_URL before the settings are read."""
    from config import embedded

    port = embedded.free_port()
    redis = embedded.redis_process(port, REPO / "bench" / "out" / "search-redis.log").start()
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    return redis


# --- data ----------------------------------------------------------------------------------


def generate(n_products: int, n_merchants: int, seed: int = 20260) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    from banks.services import bank_onboard
    from catalog import search
    from catalog.models import Category, Merchant, MerchantStatus, Product, ProductStatus
    from catalog.services import product_reindex
    from catalog.services.search_index import _search_document

    rng = random.Random(seed)
    timings = {}
    start = time.perf_counter()
    bank = bank_onboard(code="bench", name="基准测试农商行").bank
    timings["bank_onboard_s"] = time.perf_counter() - start

    start = time.perf_counter()
    categories: dict[str, Category] = {}
    for position, (slug, name, parent) in enumerate(CATEGORIES):
        categories[slug] = Category.objects.create(
            slug=slug, name=name, position=position, parent=categories[parent] if parent else None
        )
    names = [
        f"{place}{word}{kind}"
        for place, _p, _c in PLACES
        for word in MERCHANT_WORDS
        for kind, _k in MERCHANT_KINDS
    ]
    rng.shuffle(names)
    now = timezone.now()
    merchants = Merchant.objects.bulk_create(
        Merchant(
            bank=bank,
            name=name,
            county=next(c for p, _pr, c in PLACES if name.startswith(p)),
            kind=dict(MERCHANT_KINDS)[next(k for k, _v in MERCHANT_KINDS if name.endswith(k))],
            status=MerchantStatus.APPROVED,
            status_changed_at=now,
        )
        for name in names[:n_merchants]
    )
    merchant_place = {
        m.pk: next(pl for pl in PLACES if m.name.startswith(pl[0])) for m in merchants
    }
    timings["merchants_categories_s"] = time.perf_counter() - start

    start = time.perf_counter()
    chunk = 5000
    made = 0
    while made < n_products:
        rows = []
        for _ in range(min(chunk, n_products - made)):
            merchant = rng.choice(merchants)
            # most products come from the merchant's own place
            place = merchant_place[merchant.pk] if rng.random() < 0.8 else rng.choice(PLACES)
            produce, category = rng.choice(PRODUCE)
            parts = [
                place[0] if rng.random() < 0.7 else "",
                rng.choice(VARIETIES) if rng.random() < 0.6 else "",
                produce,
                rng.choice(SPECS),
            ]
            rows.append(
                Product(
                    merchant=merchant,
                    category=categories[category],
                    name="".join(parts),
                    subtitle=rng.choice(SUBTITLES),
                    origin_province=place[1],
                    origin_county=place[2],
                    status=ProductStatus.LISTED,
                    sales_count=min(int(rng.paretovariate(1.2) * 10) - 10, 1_000_000),
                    price_from=Decimal(rng.randrange(390, 39900)) / 100,
                    listed_at=now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365)),
                )
            )
        Product.objects.bulk_create(rows, batch_size=chunk)
        made += len(rows)
    timings["bulk_create_s"] = time.perf_counter() - start

    ids = list(Product.objects.order_by("id").values_list("id", flat=True))
    # How much of the indexing is Python (catalog.search tokens, pypinyin) alone.
    sample = list(
        Product.objects.filter(pk__in=ids[:5000])
        .select_related("category__parent", "merchant")
        .prefetch_related("skus")
    )
    start = time.perf_counter()
    for p in sample:
        search.document_vector(_search_document(p))
    timings["tokens_only_per_s"] = len(sample) / (time.perf_counter() - start)

    # The search index, by the real service, in chunks of 2,000 (one transaction each,
    # as product_transition runs it inside its own).
    start = time.perf_counter()
    for i in range(0, len(ids), 2000):
        with transaction.atomic():
            product_reindex(product_ids=ids[i : i + 2000])
    timings["reindex_s"] = time.perf_counter() - start
    timings["reindex_per_s"] = len(ids) / timings["reindex_s"]

    start = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE catalog_product")
        cur.execute("VACUUM ANALYZE catalog_suggestkey")   # as search_reindex does
        cur.execute("ANALYZE")
        cur.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('catalog_product')), "
            "pg_size_pretty(pg_relation_size('catalog_product_search_gin')), "
            "pg_size_pretty(pg_relation_size('catalog_product_text_trgm'))"
        )
        sizes = cur.fetchone()
    timings["analyze_s"] = time.perf_counter() - start
    return {
        "bank": bank,
        "products": len(ids),
        "merchants": len(merchants),
        "timings": timings,
        "sizes": {"catalog_product_total": sizes[0], "search_gin": sizes[1], "text_trgm": sizes[2]},
    }


def kept_data() -> dict:
    """What ``generate`` returned, for a database kept by an earlier run."""
    from banks.models import Bank
    from catalog.models import Merchant, Product

    return {"bank": Bank.objects.order_by("id").first(), "products": Product.objects.count(),
            "merchants": Merchant.objects.count(), "timings": {}, "sizes": {}, "reused": True}


# --- approaches ------------------------------------------------------------------------------


def listing_cache(seconds: int) -> None:
    """Counts and facets of a listing are cached (CATALOG_LISTING_CACHE_SECONDS, read by
    the selector on each call). 0 = every call computes them, as on a cache miss."""
    from django.conf import settings

    settings.CATALOG_LISTING_CACHE_SECONDS = seconds


def approaches() -> dict:
    from django.db.models import Count, Q

    from catalog.models import Product
    from catalog.selectors import PRICE_BANDS, ListingQuery, storefront_listing

    def ours(q):
        listing_cache(0)
        listing = storefront_listing(
            host_bank=None, lq=ListingQuery(q=q, per_page=24), with_facets=False
        )
        return listing.total

    def ours_facets(q):
        listing_cache(0)
        listing = storefront_listing(
            host_bank=None, lq=ListingQuery(q=q, per_page=24), with_facets=True
        )
        return listing.total

    def ours_facets_cached(q):
        # the same query again within the cache's lifetime: count and facets from Redis
        listing_cache(3600)
        listing = storefront_listing(
            host_bank=None, lq=ListingQuery(q=q, per_page=24), with_facets=True
        )
        return listing.total

    def page_and_count(qs):
        list(qs.order_by("-sales_count", "-id")[:24])
        return qs.count()

    def ilike_name(q):
        return page_and_count(Product.objects.filter(status="listed", name__icontains=q))

    def icontains_text(q):
        return page_and_count(Product.objects.filter(status="listed", search_text__icontains=q))

    def ilike_name_facets(q):
        # the baseline with the same four facet counts the storefront shows
        base = Product.objects.filter(status="listed", name__icontains=q)
        total = page_and_count(base)
        facet_base = base.order_by()
        list(facet_base.values("category__parent__slug", "category__slug")
             .annotate(n=Count("id")))
        list(facet_base.values("origin_county").annotate(n=Count("id"))
             .order_by("-n", "origin_county")[:12])
        list(facet_base.values("merchant__bank__code").annotate(n=Count("id")).order_by("-n"))
        facet_base.aggregate(**{
            key: Count("id", filter=Q(price_from__gte=low) & (Q(price_from__lt=high)
                                                              if high is not None else Q()))
            for key, low, high in PRICE_BANDS})
        return total

    def ilike_text_trgm(q):
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return page_and_count(
            Product.objects.filter(status="listed").extra(
                where=["catalog_product.search_text ILIKE %s"], params=[pattern]
            )
        )

    return {
        "ours": ours,
        "ours+facets": ours_facets,
        "ours+facets cached": ours_facets_cached,
        "ilike_name": ilike_name,
        "ilike_name+facets": ilike_name_facets,
        "icontains_text": icontains_text,
        "ilike_text_trgm": ilike_text_trgm,
    }


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def bench_queries(reps: int) -> dict:
    cases = approaches()
    hits = {q: {name: fn(q) for name, fn in cases.items()} for q, _k, _r in QUERIES}  # warm-up
    samples = {name: {q: [] for q, _k, _r in QUERIES} for name in cases}
    wall = dict.fromkeys(cases, 0.0)
    started = time.perf_counter()
    for rep in range(reps):  # interleaved, so that background noise hits all alike
        if rep:
            print(
                f"  repetition {rep + 1}/{reps} ({time.perf_counter() - started:.0f} s)", flush=True
            )
        gc.collect()
        for q, _kind, _r in QUERIES:
            for name, fn in cases.items():
                start = time.perf_counter()
                fn(q)
                elapsed = time.perf_counter() - start
                samples[name][q].append(elapsed * 1000)
                wall[name] += elapsed
    summary = {}
    for name in cases:
        every = [x for q, _k, _r in QUERIES for x in samples[name][q]]
        summary[name] = {
            "p50_ms": pct(every, 0.5),
            "p95_ms": pct(every, 0.95),
            "mean_ms": statistics.fmean(every),
            "max_ms": max(every),
            "queries_per_s": len(every) / wall[name],
            "samples": len(every),
        }
    base = summary["ilike_name"]
    for name in cases:
        s = summary[name]
        s["ratio_p50_vs_ilike_name"] = s["p50_ms"] / base["p50_ms"]
        s["ratio_p95_vs_ilike_name"] = s["p95_ms"] / base["p95_ms"]
        s["ratio_qps_vs_ilike_name"] = s["queries_per_s"] / base["queries_per_s"]
    per_query = [
        {
            "q": q,
            "kind": kind,
            "hits": hits[q],
            "median_ms": {n: statistics.median(samples[n][q]) for n in cases},
            "p95_ms": {n: pct(samples[n][q], 0.95) for n in cases},
        }
        for q, kind, _r in QUERIES
    ]
    only_ours = [r["q"] for r in per_query if r["hits"]["ours"] and not r["hits"]["ilike_name"]]
    more_ours = [r["q"] for r in per_query if r["hits"]["ours"] > r["hits"]["ilike_name"] > 0]
    fewer_ours = [r["q"] for r in per_query if r["hits"]["ours"] < r["hits"]["ilike_name"]]
    by_kind = {
        kind: {
            name: pct([x for q, k, _r in QUERIES if k == kind for x in samples[name][q]], 0.95)
            for name in cases
        }
        for kind in KINDS
    }
    return {
        "reps": reps,
        "summary": summary,
        "p95_ms_by_kind": by_kind,
        "per_query": per_query,
        "recall": {
            "found_only_by_ours": only_ours,
            "ours_finds_more": more_ours,
            "ours_finds_fewer": fewer_ours,
        },
        "samples_ms": samples,
    }


def precision_at_10() -> dict:
    """Share of the first 10 results that are relevant (see QUERIES), per query and per
    kind, ours against ILIKE on the name (by sales); a query that should find nothing
    scores 1 when nothing is shown on its page."""
    from catalog.models import Product
    from catalog.selectors import ListingQuery, storefront_listing

    listing_cache(0)

    def score(rows, relevant):
        if relevant is None:
            return 1.0 if not rows else 0.0
        if not rows:
            return 0.0
        return sum(1 for r in rows if relevant(r)) / len(rows)

    per_query = []
    for q, kind, relevant in QUERIES:
        listing = storefront_listing(host_bank=None, lq=ListingQuery(q=q, per_page=10),
                                     with_facets=False)
        # a partial result says so on the page: its rows are offered as the closest
        ours = [{"name": p.name, "origin": p.origin_province + p.origin_county}
                for p in listing.products]
        ilike = [{"name": n, "origin": pr + c} for n, pr, c in
                 Product.objects.filter(status="listed", name__icontains=q)
                 .order_by("-sales_count", "-id")
                 .values_list("name", "origin_province", "origin_county")[:10]]
        any_field = [{"name": n, "origin": pr + c} for n, pr, c in
                     Product.objects.filter(status="listed", search_text__icontains=q)
                     .order_by("-sales_count", "-id")
                     .values_list("name", "origin_province", "origin_county")[:10]]
        per_query.append({"q": q, "kind": kind, "ours": score(ours, relevant),
                          "ilike_name": score(ilike, relevant),
                          "ilike_any_field": score(any_field, relevant),
                          "partial": listing.partial,
                          "did_you_mean": listing.did_you_mean,
                          "ours_top3": [r["name"] for r in ours[:3]]})
    names = ("ours", "ilike_name", "ilike_any_field")
    by_kind = {
        kind: {name: statistics.fmean(r[name] for r in per_query if r["kind"] == kind)
               for name in names}
        for kind in KINDS
    }
    return {"per_query": per_query, "by_kind": by_kind,
            "mean": {name: statistics.fmean(r[name] for r in per_query) for name in names}}


def bench_suggestions(reps: int) -> dict:
    """GET /api/v1/catalog/suggest/'s selector for what a shopper has typed so far, cache
    off (every call computes), against the ILIKE-prefix of product names it replaces."""
    from catalog.models import Product
    from catalog.selectors import search_suggestions

    listing_cache(0)

    def ilike_prefix(q):
        return list(Product.objects.filter(status="listed", name__icontains=q)
                    .order_by("-sales_count").values_list("name", flat=True)[:8])

    cases = {"suggest": lambda q: search_suggestions(q), "ilike_name_8": ilike_prefix}
    shown = {q: [s["text"] for s in search_suggestions(q)] for q in PREFIXES}
    samples = {name: [] for name in cases}
    for _ in range(reps):
        for q in PREFIXES:
            for name, fn in cases.items():
                start = time.perf_counter()
                fn(q)
                samples[name].append((time.perf_counter() - start) * 1000)
    return {
        "prefixes": PREFIXES,
        "shown": shown,
        "summary": {name: {"p50_ms": pct(v, 0.5), "p95_ms": pct(v, 0.95),
                           "samples": len(v)} for name, v in samples.items()},
    }


def explain_plans() -> dict:
    """The plan of each approach for a few queries (EXPLAIN ANALYZE of the count)."""
    from django.db import connection

    from catalog import search

    plans = {}
    with connection.cursor() as cur:
        for q in ("罗汉果", "茶", "luohanguo"):
            tsq = search.build_tsquery(q)
            entry = {}
            for name, sql, params in [
                (
                    "ours",
                    "SELECT count(*) FROM catalog_product WHERE status = 'listed' "
                    "AND search_vector @@ %s::tsquery",
                    [tsq],
                ),
                (
                    "ilike_name",
                    "SELECT count(*) FROM catalog_product WHERE status = 'listed' "
                    "AND UPPER(name::text) LIKE UPPER(%s)",
                    [f"%{q}%"],
                ),
                (
                    "ilike_text_trgm",
                    "SELECT count(*) FROM catalog_product WHERE "
                    "status = 'listed' AND search_text ILIKE %s",
                    [f"%{q}%"],
                ),
            ]:
                cur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, params)
                entry[name] = [row[0] for row in cur.fetchall()]
            plans[q] = entry
        cur.execute("SELECT show_trgm(%s), show_trgm(%s)", ["香港罗汉果", "luohanguo"])
        trgm = cur.fetchone()
        cur.execute(
            "SELECT datcollate, datctype FROM pg_database WHERE datname = current_database()"
        )
        collate, ctype = cur.fetchone()
    return {
        "plans": plans,
        "show_trgm": {"香港罗汉果": trgm[0], "luohanguo": trgm[1]},
        "datcollate": collate,
        "datctype": ctype,
    }


def statement_breakdown(bank) -> dict:
    """Each SQL statement a selector call issues, with its server-side execution time and
    plan (EXPLAIN ANALYZE of the captured statement), to see where the time goes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.selectors import ListingQuery, storefront_listing

    calls = {
        "search 罗汉果 + facets (portal)": lambda: storefront_listing(
            host_bank=None, lq=ListingQuery(q="罗汉果", per_page=24), with_facets=True
        ),
        "search 茶 + facets (portal)": lambda: storefront_listing(
            host_bank=None, lq=ListingQuery(q="茶", per_page=24), with_facets=True
        ),
        "listing, no query + facets (bank)": lambda: storefront_listing(
            host_bank=bank, lq=ListingQuery(), with_facets=True
        ),
    }
    result = {}
    listing_cache(0)
    for label, fn in calls.items():
        with CaptureQueriesContext(connection) as ctx:
            fn()
        statements = []
        with connection.cursor() as cur:
            for captured in ctx.captured_queries:
                sql = captured["sql"]
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue  # django-tenants' SET search_path
                cur.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql)  # no params: no %-escaping
                plan = [row[0] for row in cur.fetchall()]
                ms = next(
                    (
                        float(line.split(":")[1].split()[0])
                        for line in plan
                        if line.startswith("Execution Time")
                    ),
                    None,
                )
                statements.append({"sql": sql, "execution_ms": ms, "plan": plan})
        result[label] = {
            "total_execution_ms": sum(s["execution_ms"] or 0 for s in statements),
            "statements": statements,
        }
    return result


# --- storefront listing throughput ----------------------------------------------------------


def bench_listing(bank, seconds: float) -> dict:
    from catalog.models import Product
    from catalog.selectors import ListingQuery, storefront_listing

    def listing(host, facets, cache_seconds):
        def run():
            listing_cache(cache_seconds)
            return storefront_listing(host_bank=host, lq=ListingQuery(), with_facets=facets)

        return run

    cases = {
        "bank+facets, no cache": listing(bank, True, 0),
        "bank, no facets, no cache": listing(bank, False, 0),
        "bank+facets, cache warm": listing(bank, True, 3600),
        "portal+facets, no cache": listing(None, True, 0),
        "portal, no facets, no cache": listing(None, False, 0),
        "bare_queryset_24": lambda: list(
            Product.objects.filter(status="listed").order_by("-sales_count", "-id")[:24]
        ),
    }
    first = cases["bank, no facets, no cache"]()
    bare = cases["bare_queryset_24"]()
    same_rows = [p.pk for p in first.products] == [p.pk for p in bare]
    for fn in cases.values():  # warm-up
        fn()
    result = {}
    for name, fn in cases.items():
        gc.collect()
        latencies = []
        start = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            fn()
            latencies.append((time.perf_counter() - t0) * 1000)
            if time.perf_counter() - start >= seconds and len(latencies) >= 10:
                break
        total = time.perf_counter() - start
        result[name] = {
            "calls": len(latencies),
            "seconds": total,
            "calls_per_s": len(latencies) / total,
            "p50_ms": pct(latencies, 0.5),
            "p95_ms": pct(latencies, 0.95),
        }
    base = result["bare_queryset_24"]["calls_per_s"]
    for entry in result.values():
        entry["ratio_vs_bare"] = entry["calls_per_s"] / base
    return {
        "seconds_per_case": seconds,
        "same_24_rows_as_bare": same_rows,
        "listing_total": first.total,
        "cases": result,
    }


# --- report --------------------------------------------------------------------------------

LABELS = {
    "ours": "ours (tsvector, no facets)",
    "ours+facets": "ours + facets",
    "ours+facets cached": "ours + facets, cache warm",
    "ilike_name": "ILIKE name (baseline)",
    "ilike_name+facets": "ILIKE name + facets",
    "icontains_text": "icontains search_text",
    "ilike_text_trgm": "ILIKE search_text (trgm)",
}


def print_report(result: dict) -> None:
    m, d = result["machine"], result["data"]
    print()
    print(
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), Python {m['python']}, "
        f"Django {m['django']}, {m['postgresql']['version'].split(' on ')[0]}, "
        f"commit {m['git_commit'][:7]}{'+changes' if m['git_dirty'] else ''}; "
        f"load average at start {m['loadavg_at_start'][0]:.2f}, "
        f"at end {m['loadavg_at_end'][0]:.2f}"
    )
    t = d["timings"]
    if d.get("reused"):
        print(f"Data: {d['products']:,} products, {d['merchants']} merchants, kept by an "
              "earlier run (--reuse-db: no generation figures)")
    else:
        print(
            f"Data: {d['products']:,} listed products, {d['merchants']} merchants; bulk_create "
            f"{t['bulk_create_s']:.1f} s, product_reindex {t['reindex_s']:.1f} s "
            f"({t['reindex_per_s']:,.0f}/s; tokens alone {t['tokens_only_per_s']:,.0f}/s), "
            f"ANALYZE {t['analyze_s']:.1f} s;\n      table "
            f"{d['sizes']['catalog_product_total']}, tsvector GIN {d['sizes']['search_gin']}, "
            f"trigram GIN {d['sizes']['text_trgm']}"
        )

    s = result["queries"]
    print(
        f"\n1. Search, {len(QUERIES)} queries x {s['reps']} repetitions, page of 24 + count "
        f"(ms; ratios against the ILIKE-on-name baseline)"
    )
    print(f"   {'approach':30}{'p50':>8}{'p95':>8}{'mean':>8}{'q/s':>8}{'p50 x':>8}{'p95 x':>8}")
    for name, label in LABELS.items():
        v = s["summary"][name]
        print(
            f"   {label:30}{v['p50_ms']:>8.1f}{v['p95_ms']:>8.1f}{v['mean_ms']:>8.1f}"
            f"{v['queries_per_s']:>8.1f}{v['ratio_p50_vs_ilike_name']:>8.2f}"
            f"{v['ratio_p95_vs_ilike_name']:>8.2f}"
        )
    print(
        "\n   per query: hits (ours / ILIKE name / ILIKE search_text) and median ms "
        "(ours, ours+facets, ours+facets cached, ILIKE name, icontains text, "
        "ILIKE text trgm)"
    )
    for r in s["per_query"]:
        h, md = r["hits"], r["median_ms"]
        print(
            f"   {r['q']:<14}{r['kind']:<14}{h['ours']:>6} /{h['ilike_name']:>6} /"
            f"{h['ilike_text_trgm']:>6}   " + "".join(f"{md[n]:>8.1f}" for n in LABELS)
        )
    rec = s["recall"]
    print(f"\n   found only by ours: {', '.join(rec['found_only_by_ours']) or '-'}")
    print(f"   ours finds more:    {', '.join(rec['ours_finds_more']) or '-'}")
    print(f"   ours finds fewer:   {', '.join(rec['ours_finds_fewer']) or '-'}")

    print("\n   p95 ms by kind of query: ours + facets / ILIKE name + facets (same run)")
    for kind, v in s["p95_ms_by_kind"].items():
        print(f"   {kind:<14}{v['ours+facets']:>8.1f} /{v['ilike_name+facets']:>8.1f}")
    prec = result["precision"]
    print(f"\n   precision at 10 by kind: ours / ILIKE name / ILIKE any field (mean "
          f"{prec['mean']['ours']:.2f} / {prec['mean']['ilike_name']:.2f} / "
          f"{prec['mean']['ilike_any_field']:.2f})")
    for kind, v in prec["by_kind"].items():
        print(f"   {kind:<14}{v['ours']:>6.2f} /{v['ilike_name']:>6.2f} /"
              f"{v['ilike_any_field']:>6.2f}")
    sug = result["suggestions"]["summary"]
    print(f"\n   suggestions ({len(PREFIXES)} prefixes): p50 {sug['suggest']['p50_ms']:.1f} ms,"
          f" p95 {sug['suggest']['p95_ms']:.1f} ms (ILIKE name top 8: p95 "
          f"{sug['ilike_name_8']['p95_ms']:.1f} ms)")

    listing = result["listing"]
    print(
        f"\n2. Storefront listing without a query ({listing['listing_total']:,} products; "
        f"~{listing['seconds_per_case']:.0f} s per case; same 24 rows as the bare "
        f"queryset: {listing['same_24_rows_as_bare']})"
    )
    print(f"   {'case':32}{'calls/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'x bare':>9}")
    for name, v in listing["cases"].items():
        print(
            f"   {name:32}{v['calls_per_s']:>10.1f}{v['p50_ms']:>9.2f}{v['p95_ms']:>9.2f}"
            f"{v['ratio_vs_bare']:>9.4f}"
        )
    e = result["explain"]
    print("\n3. Server-side execution time of each statement (EXPLAIN ANALYZE, ms)")
    for label, entry in e["statements"].items():
        parts = ", ".join(f"{st['execution_ms']:.1f}" for st in entry["statements"])
        print(f"   {label:36}{entry['total_execution_ms']:>8.1f} = {parts}")
    print(
        f"\nDatabase collation {e['datcollate']}, ctype {e['datctype']}; show_trgm('香港罗汉果')"
        f" = {e['show_trgm']['香港罗汉果']}"
    )
    print(f"Raw numbers: {OUT.relative_to(REPO)}  (total run {result['run_seconds']:.0f} s)")


def print_search_kinds(result: dict) -> None:
    """The search summary and p95 per kind only (``--only-search``)."""
    s = result["queries"]
    for name, label in LABELS.items():
        v = s["summary"][name]
        print(f"   {label:30} p50 {v['p50_ms']:>8.1f}  p95 {v['p95_ms']:>8.1f}")
    print("   p95 ms by kind: ours + facets / ILIKE name + facets (ratio)")
    for kind, v in s["p95_ms_by_kind"].items():
        print(f"   {kind:<14}{v['ours+facets']:>8.1f} /{v['ilike_name+facets']:>8.1f}"
              f"  1/{v['ilike_name+facets'] / v['ours+facets']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--merchants", type=int, default=200)
    parser.add_argument("--reps", type=int, default=20, help="timed repetitions per query")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="seconds per storefront-listing throughput case"
    )
    parser.add_argument(
        "--keep-db", action="store_true", help=f"keep the {BENCH_DB} database at the end"
    )
    parser.add_argument(
        "--reuse-db", action="store_true",
        help=f"measure the {BENCH_DB} database kept by an earlier --keep-db run (same "
             "--products and --merchants), without generating it again")
    parser.add_argument(
        "--only-search", action="store_true",
        help="the search figures only (no precision, suggestions, plans or listing)")
    args = parser.parse_args()
    if args.merchants > len(PLACES) * len(MERCHANT_WORDS) * len(MERCHANT_KINDS):
        parser.error("too many merchants for the generated names")

    run_start = time.perf_counter()
    (REPO / "bench" / "out").mkdir(parents=True, exist_ok=True)
    redis = start_redis()
    try:
        if not args.reuse_db:
            print(f"Recreating database {BENCH_DB} on the embedded PostgreSQL ...", flush=True)
            common.recreate_database(BENCH_DB)
    except BaseException:
        redis.stop()
        raise

    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    try:
        cache.clear()
        start = time.perf_counter()
        if not args.reuse_db:
            call_command("migrate_schemas", interactive=False, verbosity=0,
                         stdout=io.StringIO())
            print(f"  migrated in {time.perf_counter() - start:.1f} s", flush=True)
        result = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": common.machine_info(pg_settings=PG_SETTINGS, code_paths=CODE_PATHS),
            "args": vars(args),
        }
        if args.reuse_db:
            data = kept_data()
            print(f"Reusing {data['products']:,} products of {BENCH_DB}", flush=True)
        else:
            print(f"Generating {args.products:,} products ...", flush=True)
            data = generate(args.products, args.merchants)
            t = data["timings"]
            print(
                f"  bulk_create {t['bulk_create_s']:.1f} s, reindex {t['reindex_s']:.1f} s "
                f"({t['reindex_per_s']:,.0f} products/s)",
                flush=True,
            )
        bank = data.pop("bank")
        result["data"] = data
        print(f"1. search: {len(QUERIES)} queries x {args.reps} ...", flush=True)
        result["queries"] = bench_queries(args.reps)
        if args.only_search:
            print_search_kinds(result)
            return
        print("   precision at 10, suggestions ...", flush=True)
        result["precision"] = precision_at_10()
        result["suggestions"] = bench_suggestions(max(3, args.reps // 2))
        result["explain"] = explain_plans()
        result["explain"]["statements"] = statement_breakdown(bank)
        print("2. storefront listing throughput ...", flush=True)
        result["listing"] = bench_listing(bank, args.seconds)
        result["run_seconds"] = time.perf_counter() - run_start
        result["machine"]["loadavg_at_end"] = os.getloadavg()
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print_report(result)
    finally:
        redis.stop()
        if args.keep_db:
            print(f"\nKept database {BENCH_DB}.")
        else:
            common.drop_database(BENCH_DB)
            print(f"\nDropped database {BENCH_DB}.")


if __name__ == "__main__":
    main()
