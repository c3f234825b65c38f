"""A storefront's (or the portal's) listing: filters, sorting, the page, counts and
facets, with or without a search.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)

from banks.models import Bank
from catalog import matches, search
from catalog.models import Category, Product
from catalog.selectors._common import _cached
from catalog.selectors.searching import (
    _search,
    clean_query,
    did_you_mean,
    popular_products,
    search_plan,
)
from catalog.selectors.storefront import (
    _card_queryset,
    category_and_descendant_ids,
    visible_products,
)

SORTS = ("relevance", "price_asc", "price_desc", "newest", "sales", "rating")
PRICE_BANDS: list[tuple[str, Decimal | None, Decimal | None]] = [
    ("0-20", Decimal("0"), Decimal("20")),
    ("20-50", Decimal("20"), Decimal("50")),
    ("50-100", Decimal("50"), Decimal("100")),
    ("100-200", Decimal("100"), Decimal("200")),
    ("200-", Decimal("200"), None),
]


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
    # Best rated first; of equal averages the more reviewed; never-reviewed products last.
    "rating": ["-rating_avg", "-rating_count", "-sales_count", "-id"],
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
