"""Reads on the catalog. Shoppers see only listed products of approved merchants of active
banks; a storefront shows its own bank's merchants and curated picks first."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Length
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from banks.models import Bank
from catalog import matches, page_cache, search
from catalog.models import (
    Batch,
    Category,
    Merchant,
    MerchantMember,
    MerchantStatus,
    Product,
    ProductStatus,
    Sku,
    SynonymGroup,
)

SORTS = ("relevance", "price_asc", "price_desc", "newest", "sales")
PRICE_BANDS: list[tuple[str, Decimal | None, Decimal | None]] = [
    ("0-20", Decimal("0"), Decimal("20")),
    ("20-50", Decimal("20"), Decimal("50")),
    ("50-100", Decimal("50"), Decimal("100")),
    ("100-200", Decimal("100"), Decimal("200")),
    ("200-", Decimal("200"), None),
]


def visible_products() -> QuerySet[Product]:
    return Product.objects.filter(status=ProductStatus.LISTED,
                                  merchant__status=MerchantStatus.APPROVED,
                                  merchant__bank__is_active=True)


def visible_merchants() -> QuerySet[Merchant]:
    return Merchant.objects.filter(status=MerchantStatus.APPROVED, bank__is_active=True)


def category_tree() -> list[Category]:
    roots = list(Category.objects.filter(parent__isnull=True)
                 .prefetch_related(Prefetch("children",
                                            queryset=Category.objects.order_by("position"))))
    return roots


def category_and_descendant_ids(category: Category) -> list[int]:
    ids = [category.pk]
    frontier = [category.pk]
    while frontier:
        frontier = list(Category.objects.filter(parent_id__in=frontier)
                        .values_list("pk", flat=True))
        ids.extend(frontier)
    return ids


@dataclass
class ListingQuery:
    q: str = ""
    category: Category | None = None
    origin: str = ""           # county of origin
    price: str = ""            # a PRICE_BANDS key
    bank: str = ""             # merchant's bank code
    sort: str = "relevance"
    page: int = 1
    per_page: int = 24


@dataclass
class Listing:
    products: list[Product]
    total: int
    page: int
    pages: int
    facets: dict[str, list[dict]] = field(default_factory=dict)
    query: ListingQuery | None = None
    partial: bool = False          # no product matched every word: the closest are shown
    did_you_mean: str = ""         # a corrected query that finds something
    popular: list[Product] = field(default_factory=list)   # for an empty result


def _card_queryset(qs: QuerySet[Product]) -> QuerySet[Product]:
    return qs.select_related("merchant__bank", "category")


def _conditions(lq: ListingQuery) -> dict[str, Q]:
    """The listing's filters, by name (a facet counts with every filter but its own)."""
    conditions: dict[str, Q] = {}
    if lq.category is not None:
        conditions["category"] = Q(category_id__in=category_and_descendant_ids(lq.category))
    if lq.origin:
        conditions["origin"] = Q(origin_county=lq.origin)
    if lq.bank:
        conditions["bank"] = Q(merchant__bank__code=lq.bank)
    if lq.price:
        band = next((b for b in PRICE_BANDS if b[0] == lq.price), None)
        if band is not None:
            conditions["price"] = Q(price_from__gte=band[1])
            if band[2] is not None:
                conditions["price"] &= Q(price_from__lt=band[2])
    return conditions


def _filtered(lq: ListingQuery, *, exclude: str = "") -> QuerySet[Product]:
    qs = visible_products()
    for name, condition in _conditions(lq).items():
        if name != exclude:
            qs = qs.filter(condition)
    return qs


# --- search (the technique is described in catalog.search) ----------------------------------

SYNONYMS_CACHE_SECONDS = 60
# The dictionary's cache key: services clear it when the dictionary changes.
SYNONYMS_CACHE_KEY = "catalog:synonyms:v1"


@lru_cache(maxsize=8)
def _synonym_index(groups: tuple[tuple[str, ...], ...]) -> dict[str, tuple[str, ...]]:
    return search.synonym_index(groups)


def synonym_groups() -> list[SynonymGroup]:
    return list(SynonymGroup.objects.order_by("id"))


def synonyms() -> dict[str, tuple[str, ...]]:
    """The federation's synonym dictionary (word -> its group), read from the table and
    cached for SYNONYMS_CACHE_SECONDS; a change in the console clears the cache."""
    groups = None
    with contextlib.suppress(Exception):
        groups = caches["shared"].get(SYNONYMS_CACHE_KEY)
    if groups is None:
        groups = tuple(tuple(words) for words in
                       SynonymGroup.objects.order_by("id").values_list("words", flat=True))
        with contextlib.suppress(Exception):
            caches["shared"].set(SYNONYMS_CACHE_KEY, groups, SYNONYMS_CACHE_SECONDS)
    return _synonym_index(tuple(tuple(g) for g in groups))


def typo_terms(word: str, *, limit: int = 5) -> list[str]:
    """Indexed pinyin terms one edit away from ``word`` (or whose start is)."""
    with connection.cursor() as cur:
        # pg_trgm: similar as a whole, or similar to a part (its start); two index scans
        # (written with OR, the planner scans the whole vocabulary: 30 times slower)
        cur.execute("SELECT term FROM (SELECT term FROM catalog_searchterm WHERE term %% %s "
                    "UNION SELECT term FROM catalog_searchterm WHERE term %%> %s) t "
                    "ORDER BY similarity(term, %s) DESC, term LIMIT 50", [word, word, word])
        candidates = [row[0] for row in cur.fetchall()]
    found = []
    for term in candidates:
        if term.startswith(word):
            continue   # already an exact (prefix) match
        if (search.edit_distance_at_most_one(word, term)
                or search.edit_distance_at_most_one(word, term[:len(word)])):
            found.append(term)
    return found[:limit]


def _any_visible_match(tsquery: str) -> bool:
    """Whether a visible product matches ``tsquery``. The matches are read from the GIN
    index first (a materialized CTE): written as EXISTS, the planner walks the listing
    index in order and tests every product's vector when nothing matches (100 ms at
    100,000 products instead of 1)."""
    sql = ("WITH m AS MATERIALIZED (SELECT merchant_id FROM catalog_product "
           "WHERE search_vector @@ %s::tsquery AND status = %s) "
           "SELECT EXISTS (SELECT 1 FROM m JOIN catalog_merchant me ON me.id = m.merchant_id "
           "JOIN banks_bank b ON b.id = me.bank_id WHERE me.status = %s AND b.is_active)")
    with connection.cursor() as cur:
        cur.execute(sql, [tsquery, ProductStatus.LISTED, MerchantStatus.APPROVED])
        return cur.fetchone()[0]


def _finds_anything(tsquery: str) -> bool:
    def compute():
        return _any_visible_match(tsquery)

    key = "catalog:finds:" + hashlib.sha1(tsquery.encode()).hexdigest()  # noqa: S324
    return _cached(key, compute)


def search_plan(q: str) -> search.QueryPlan | None:
    return search.build_plan(q, synonyms=synonyms(), typo_terms=typo_terms,
                             finds_anything=_finds_anything)


def _search(qs: QuerySet[Product], plan: search.QueryPlan, *,
            partial: bool = False) -> QuerySet[Product]:
    """Products matching the plan, annotated with ``tier`` (see catalog.search) and
    ``rank``. Partial: products matching any word, tier = how many words they match."""
    if partial:
        any_word = "(" + " | ".join(plan.word_queries) + ")"
        qs = qs.extra(where=["catalog_product.search_vector @@ %s::tsquery"], params=[any_word])
        # how many words it matches (the queries are parameters, never in the SQL text)
        tier = sum((Case(When(_matches(q), then=Value(1)), default=Value(0),
                         output_field=IntegerField()) for q in plan.word_queries),
                   Value(0, output_field=IntegerField()))
    else:
        qs = qs.extra(where=["catalog_product.search_vector @@ %s::tsquery"], params=[plan.match])
        tier = RawSQL(
            "CASE WHEN lower(catalog_product.name) = %s OR lower(catalog_product.name_en) = %s"
            " THEN 5"
            " WHEN catalog_product.search_vector @@ %s::tsquery"
            "  AND lower(catalog_product.name) LIKE %s THEN 4"
            " WHEN catalog_product.search_vector @@ %s::tsquery THEN 3"
            " WHEN catalog_product.search_vector @@ %s::tsquery THEN 2"
            " WHEN catalog_product.search_vector @@ %s::tsquery THEN 1 ELSE 0 END",
            [plan.text, plan.text, plan.name, search.like_contains(plan.text), plan.name,
             plan.own, plan.exact], output_field=IntegerField())
    return qs.annotate(tier=tier, rank=RawSQL(
        "ts_rank(catalog_product.search_vector, %s::tsquery)", [plan.match]))


def _matches(tsquery: str) -> Q:
    return Q(ExpressionWrapper(RawSQL("catalog_product.search_vector @@ %s::tsquery",
                                      [tsquery]), output_field=BooleanField()))


def popular_products(*, host_bank: Bank | None, limit: int = 8) -> list[Product]:
    """What to show on an empty result page: best sellers, the host bank's first."""
    qs = _card_queryset(visible_products())
    own = []
    if host_bank is not None:
        own = list(qs.filter(merchant__bank=host_bank).order_by("-sales_count", "-id")
                   [:limit // 2])
    rest = list(qs.exclude(pk__in=[p.pk for p in own]).order_by("-sales_count", "-id")
                [:limit - len(own)])
    return own + rest


def did_you_mean(plan: search.QueryPlan) -> str:
    """A corrected query that finds something, or "": each word that finds nothing on its
    own is replaced by the indexed term closest to its pinyin."""
    corrected, changed = [], False
    for word, word_query in zip(plan.words, plan.word_queries, strict=True):
        if _any_visible_match(word_query):
            corrected.append(word)
            continue
        key = search.full_pinyin(word) if search.CJK.fullmatch(word) else word
        with connection.cursor() as cur:
            cur.execute("SELECT term, display FROM catalog_searchterm WHERE term %% %s "
                        "ORDER BY similarity(term, %s) DESC, length(term), term LIMIT 5",
                        [key, key])
            rows = cur.fetchall()
        # near in spelling and in length (榴莲 liulian is not 粮 liang)
        near = [display for term, display in rows
                if min(len(term), len(key)) / max(len(term), len(key)) >= 0.75
                and display != word]
        if near:
            corrected.append(near[0])
            changed = True
        else:
            corrected.append(word)
    if not changed:
        return ""
    text = " ".join(corrected)
    fixed = search_plan(text)
    if fixed is None or not _any_visible_match(fixed.match):
        return ""
    return text


def search_suggestions(q: str, *, limit: int = 8) -> list[dict]:
    """Completions of what a shopper is typing (characters or pinyin): category names,
    dictionary words and names of products it finds, best first."""
    text = search.normalize_query(clean_query(q))
    if not text:
        return []

    def compute():
        out: list[dict] = []
        compact = text.replace(" ", "")
        for cat in Category.objects.order_by("position", "slug"):
            names = [cat.name, cat.name_en, *search.split_aliases(cat.aliases)]
            keys = [search.normalize_text(n).replace(" ", "") for n in names if n]
            keys += [search.full_pinyin(k) for k in keys if search.CJK.search(k)]
            if any(k.startswith(compact) for k in keys):
                out.append({"text": cat.name, "kind": "category", "slug": cat.slug})
        for word in synonyms():
            if word.startswith(compact) or (search.CJK.fullmatch(word) and len(compact) >= 2
                                            and search.full_pinyin(word).startswith(compact)):
                out.append({"text": word, "kind": "term"})
        plan = search.build_plan(text, synonyms=synonyms())
        if plan is not None:
            # names that start with what is typed first, short ones first (罗汉果 before
            # 长白山当季罗汉果整箱), then best sellers
            starts = RawSQL("lower(catalog_product.name) LIKE %s",
                            [search.like_contains(text)[1:]], output_field=BooleanField())
            names = (_search(visible_products(), plan).filter(tier__gte=1)
                     .annotate(starts=starts, length=Length("name"))
                     .order_by("-tier", "-starts", "length", "-sales_count", "-id")
                     .values_list("name", flat=True)[:limit * 4])
            out += [{"text": n, "kind": "product"} for n in names]
        seen, unique = set(), []
        for item in out:
            if item["text"] not in seen:
                seen.add(item["text"])
                unique.append(item)
        return unique[:limit]

    key = "catalog:suggest:" + hashlib.sha1(text.encode()).hexdigest()  # noqa: S324
    return _cached(key, compute)


def storefront_listing(*, host_bank: Bank | None, lq: ListingQuery,
                       with_facets: bool = True) -> Listing:
    """A page of products for a storefront (host_bank) or the portal (None).

    Default order on a bank's storefront: that bank's merchants' products first (curated
    picks, then best sellers), then the rest of the province by sales. It is read as two
    index-backed queries (the bank's part, then the province's) rather than one sort of
    the whole catalog by a computed "is it ours" column, which would sort every row.

    A search is ordered by relevance tier, the host bank's merchants first within a tier
    (see catalog.search). When nothing matches every word of a query of several words, the
    products matching the most words are shown instead (``Listing.partial``); when nothing
    at all is found, ``did_you_mean`` and ``popular`` fill the page.
    """
    plan = search_plan(lq.q) if lq.q else None
    per_page = max(1, min(lq.per_page, 100))
    if plan is not None:
        return _search_listing(host_bank=host_bank, lq=lq, plan=plan, per_page=per_page,
                               with_facets=with_facets)
    qs = _filtered(lq)
    if lq.q:
        qs = qs.none()   # a query of nothing but punctuation finds nothing
    if lq.sort in ORDERINGS or lq.q or host_bank is None:
        qs = qs.order_by(*ORDERINGS.get(lq.sort, ["-sales_count", "-id"]))
        total = _cached_count(lq, "all", qs)
        page, pages = _page_of(lq.page, total, per_page)
        products = list(_card_queryset(qs)[(page - 1) * per_page: page * per_page])
    else:
        own = qs.filter(merchant__bank_id=host_bank.pk).order_by(
            "-is_featured", "-sales_count", "-id")
        rest = qs.exclude(merchant__bank_id=host_bank.pk).order_by("-sales_count", "-id")
        own_total = _cached_count(lq, f"own-{host_bank.pk}", own)
        total = own_total + _cached_count(lq, f"rest-{host_bank.pk}", rest)
        page, pages = _page_of(lq.page, total, per_page)
        start, end = (page - 1) * per_page, page * per_page
        products = []
        if start < own_total:
            products += list(_card_queryset(own)[start:min(end, own_total)])
        if end > own_total:
            products += list(_card_queryset(rest)[max(0, start - own_total):end - own_total])
    listing = Listing(products=products, total=total, page=page, pages=pages, query=lq)
    if lq.q and total == 0:
        listing.popular = popular_products(host_bank=host_bank)
    if with_facets:
        listing.facets = _cached_facets(lq)
    return listing


ORDERINGS = {
    "price_asc": ["price_from", "-id"],
    "price_desc": ["-price_from", "-id"],
    "newest": ["-listed_at", "-id"],
    "sales": ["-sales_count", "-id"],
}
RELEVANCE = ["-tier", "-home", "-rank", "-sales_count", "-id"]


def _search_listing(*, host_bank: Bank | None, lq: ListingQuery, plan: search.QueryPlan,
                    per_page: int, with_facets: bool) -> Listing:
    """A search's page, count and facets, read in one statement over its matches
    (catalog.matches); when nothing matches every word of a query of several words, the
    products matching the most words instead."""
    conditions = _conditions(lq)
    home = Value(0, output_field=IntegerField())
    if host_bank is not None:
        home = Case(When(merchant__bank_id=host_bank.pk, then=Value(1)),
                    default=Value(0), output_field=IntegerField())
    flags = {f"f_{name}": ExpressionWrapper(condition, output_field=BooleanField())
             for name, condition in conditions.items()}

    def one_pass(partial: bool) -> matches.Pass:
        hits = (_search(visible_products(), plan, partial=partial)
                .annotate(home=home, bank_id=F("merchant__bank_id"), **flags)
                .order_by().values(*matches.COLUMNS, *flags))
        return matches.page_count_facets(
            hits, flags=list(conditions), order=ORDERINGS.get(lq.sort, RELEVANCE),
            page=lq.page, per_page=per_page,
            price_bands=PRICE_BANDS if with_facets else None)

    partial = False
    found = one_pass(False)
    if found.total == 0 and len(plan.words) > 1:
        partial = True
        found = one_pass(True)
    by_id = _card_queryset(Product.objects.filter(pk__in=found.ids)).in_bulk()
    for pk, tier in zip(found.ids, found.tiers, strict=True):
        if pk in by_id:
            by_id[pk].tier = tier
    listing = Listing(products=[by_id[pk] for pk in found.ids if pk in by_id],
                      total=found.total, page=found.page, pages=found.pages, query=lq,
                      partial=partial, facets=found.facets)
    if partial or found.total == 0:
        listing.did_you_mean = _cached(_filters_key(lq, "dym", plan), lambda: did_you_mean(plan))
    if found.total == 0:
        listing.popular = popular_products(host_bank=host_bank)
    return listing


def _page_of(requested: int, total: int, per_page: int) -> tuple[int, int]:
    pages = max(1, (total + per_page - 1) // per_page)
    return max(1, min(requested, pages)), pages


def _filters_key(lq: ListingQuery, part: str, plan: search.QueryPlan | None = None) -> str:
    # A search is keyed by its tsquery, which holds the synonyms: a change to the
    # dictionary is a new key (no stale counts for a word just added).
    raw = "|".join([part, plan.match if plan is not None else lq.q,
                    str(lq.category.pk if lq.category else ""), lq.origin, lq.price, lq.bank])
    return "catalog:listing:" + hashlib.sha1(raw.encode()).hexdigest()  # noqa: S324


def _cached(key: str, compute):
    """Counting a whole catalog is the costly part of a listing; counts and facets may lag
    the catalog by CATALOG_LISTING_CACHE_SECONDS. Without the cache (Redis down) the
    page is slower, not broken."""
    seconds = settings.CATALOG_LISTING_CACHE_SECONDS
    if not seconds:
        return compute()
    return page_cache.cached(key, seconds, compute)


def _cached_count(lq: ListingQuery, part: str, qs: QuerySet[Product]) -> int:
    return _cached(_filters_key(lq, "count-" + part), qs.count)


def _cached_facets(lq: ListingQuery) -> dict[str, list[dict]]:
    return _cached(_filters_key(lq, "facets"), lambda: _facets(lq))


def _facet_base(lq: ListingQuery, exclude: str) -> QuerySet[Product]:
    qs = _filtered(lq, exclude=exclude)
    if lq.q:
        qs = qs.none()
    return qs.order_by()


def _facets(lq: ListingQuery) -> dict[str, list[dict]]:
    """The facets of a listing without a search (a search's come from catalog.matches)."""
    categories = (_facet_base(lq, "category").values("category__parent__slug",
                                                   "category__parent__name",
                                                   "category__slug", "category__name")
                  .annotate(n=Count("id")))
    by_root: dict[str, dict] = {}
    for row in categories:
        slug = row["category__parent__slug"] or row["category__slug"]
        name = row["category__parent__name"] or row["category__name"]
        entry = by_root.setdefault(slug, {"slug": slug, "name": name, "count": 0})
        entry["count"] += row["n"]
    origins = (_facet_base(lq, "origin").values("origin_county")
               .annotate(n=Count("id")).order_by("-n", "origin_county")[:12])
    banks = (_facet_base(lq, "bank")
             .values("merchant__bank__code", "merchant__bank__short_name",
                     "merchant__bank__name")
             .annotate(n=Count("id")).order_by("-n"))
    price_base = _facet_base(lq, "price")
    aggregates = {}
    for key, low, high in PRICE_BANDS:
        cond = Q(price_from__gte=low)
        if high is not None:
            cond &= Q(price_from__lt=high)
        aggregates[key] = Count("id", filter=cond)
    price_counts = price_base.aggregate(**aggregates)
    return {
        "category": sorted(by_root.values(), key=lambda e: -e["count"]),
        "origin": [{"value": r["origin_county"], "count": r["n"]} for r in origins],
        "bank": [{"value": r["merchant__bank__code"],
                  "name": r["merchant__bank__short_name"] or r["merchant__bank__name"],
                  "count": r["n"]} for r in banks],
        "price": [{"value": key, "count": price_counts[key]} for key, _l, _h in PRICE_BANDS
                  if price_counts[key]],
    }


def clean_query(q) -> str:
    """The shopper's query, stripped; a query longer than the search box allows is refused
    with a message (ValidationError on ``q``), never cut silently."""
    try:
        return search.check_query_length(q if isinstance(q, str) else "")
    except search.QueryTooLong:
        raise ValidationError({"q": [
            _("Search words are limited to %(n)d characters; shorten the query.")
            % {"n": search.max_query_length()}]}) from None


def parse_listing_query(params, *, category: Category | None = None) -> ListingQuery:
    def to_int(value, default):
        try:
            return max(1, int(value))
        except (TypeError, ValueError):
            return default

    sort = params.get("sort") or "relevance"
    price = params.get("price") or ""
    return ListingQuery(
        q=clean_query(params.get("q")),
        category=category,
        origin=(params.get("origin") or "").strip()[:60],
        price=price if any(b[0] == price for b in PRICE_BANDS) else "",
        bank=(params.get("bank") or "").strip()[:30],
        sort=sort if sort in SORTS else "relevance",
        page=to_int(params.get("page"), 1),
        per_page=min(to_int(params.get("per_page"), 24), 100),
    )


def storefront_home(*, host_bank: Bank | None, limit: int = 12) -> dict:
    """Home page sections: the host bank's own picks and merchants, then the province."""
    base = _card_queryset(visible_products())
    sections: dict[str, list] = {}
    if host_bank is not None:
        own = base.filter(merchant__bank=host_bank)
        sections["own"] = list(own.order_by("-is_featured", "-sales_count", "-id")[:limit])
        sections["own_merchants"] = list(
            visible_merchants().filter(bank=host_bank)
            .annotate(n=Count("products", filter=Q(products__status=ProductStatus.LISTED)))
            .order_by("-is_featured", "-n", "name")[:8])
        sections["province"] = list(base.exclude(merchant__bank=host_bank)
                                    .order_by("-sales_count", "-id")[:limit])
    else:
        sections["own"] = []
        sections["own_merchants"] = list(
            visible_merchants().select_related("bank").order_by("-is_featured", "name")[:8])
        sections["province"] = list(base.order_by("-is_featured", "-sales_count",
                                                  "-id")[:limit * 2])
    sections["newest"] = list(base.order_by("-listed_at", "-id")[:limit])
    return sections


def product_detail(*, product_id: int) -> Product:
    """A visible product with its SKUs, tiers and batches; 404 otherwise."""
    qs = (visible_products().select_related("merchant__bank", "category__parent")
          .prefetch_related(Prefetch("skus", queryset=Sku.objects.prefetch_related("tiers")),
                            Prefetch("batches", queryset=Batch.objects.order_by(
                                "-harvest_date", "-id"))))
    return get_object_or_404(qs, pk=product_id)


def current_batch(product: Product) -> Batch | None:
    batches = list(product.batches.all())
    return batches[0] if batches else None


def merchant_shop(*, merchant_id: int) -> Merchant:
    return get_object_or_404(visible_merchants().select_related("bank"), pk=merchant_id)


def merchant_products(*, merchant: Merchant) -> QuerySet[Product]:
    return _card_queryset(visible_products().filter(merchant=merchant)).order_by(
        "-is_featured", "-sales_count", "-id")


def batch_for_trace(*, token) -> Batch:
    """The public traceability record of a batch (whatever the product's status now:
    packaging printed earlier must keep working)."""
    return get_object_or_404(
        Batch.objects.select_related("product__merchant__bank", "product__category"),
        trace_token=token)


# --- merchant members -----------------------------------------------------------------------

def merchants_of_member(*, user, bank: Bank | None = None) -> QuerySet[Merchant]:
    if not getattr(user, "is_authenticated", False):
        return Merchant.objects.none()
    qs = Merchant.objects.filter(Exists(MerchantMember.objects.filter(
        merchant=OuterRef("pk"), user=user)))
    if bank is not None:
        qs = qs.filter(bank=bank)
    return qs.select_related("bank")


def merchant_for_member(*, user, bank: Bank, merchant_id: int) -> Merchant:
    """A merchant this person runs, of the bank whose domain this is; 404 otherwise."""
    return get_object_or_404(merchants_of_member(user=user, bank=bank), pk=merchant_id)


def product_for_member(*, merchant: Merchant, product_id: int) -> Product:
    return get_object_or_404(
        Product.objects.filter(merchant=merchant).select_related("category")
        .prefetch_related("skus__tiers", "batches"), pk=product_id)


def products_of_merchant(*, merchant: Merchant) -> QuerySet[Product]:
    return (Product.objects.filter(merchant=merchant).select_related("category")
            .prefetch_related("skus").order_by("-id"))


# --- bank staff ------------------------------------------------------------------------------

def bank_merchants(*, bank: Bank, status: str | None = None) -> QuerySet[Merchant]:
    qs = Merchant.objects.filter(bank=bank)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-status_changed_at", "-created_at")


def bank_merchant(*, bank: Bank, merchant_id: int) -> Merchant:
    """A merchant of this bank, or 404 (also when it belongs to another bank)."""
    return get_object_or_404(Merchant.objects.select_related("bank"), bank=bank,
                             pk=merchant_id)


def listing_review_queue(*, bank: Bank) -> QuerySet[Product]:
    return (Product.objects.filter(merchant__bank=bank, status=ProductStatus.PENDING_REVIEW)
            .select_related("merchant", "category").prefetch_related("skus")
            .order_by("id"))


def bank_product(*, bank: Bank, product_id: int) -> Product:
    return get_object_or_404(Product.objects.select_related("merchant"),
                             merchant__bank=bank, pk=product_id)


def parse_price(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError):
        return None
