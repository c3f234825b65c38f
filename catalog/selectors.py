"""Reads on the catalog. Shoppers see only listed products of approved merchants of active
banks; a storefront shows its own bank's merchants and curated picks first."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.cache import cache
from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.shortcuts import get_object_or_404

from banks.models import Bank
from catalog import search
from catalog.models import (
    Batch,
    Category,
    Merchant,
    MerchantMember,
    MerchantStatus,
    Product,
    ProductStatus,
    Sku,
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


def _card_queryset(qs: QuerySet[Product]) -> QuerySet[Product]:
    return qs.select_related("merchant__bank", "category")


def _filtered(lq: ListingQuery, *, exclude: str = "") -> QuerySet[Product]:
    qs = visible_products()
    if lq.category is not None and exclude != "category":
        qs = qs.filter(category_id__in=category_and_descendant_ids(lq.category))
    if lq.origin and exclude != "origin":
        qs = qs.filter(origin_county=lq.origin)
    if lq.bank and exclude != "bank":
        qs = qs.filter(merchant__bank__code=lq.bank)
    if lq.price and exclude != "price":
        band = next((b for b in PRICE_BANDS if b[0] == lq.price), None)
        if band is not None:
            qs = qs.filter(price_from__gte=band[1])
            if band[2] is not None:
                qs = qs.filter(price_from__lt=band[2])
    return qs


def _search(qs: QuerySet[Product], q: str) -> tuple[QuerySet[Product], bool]:
    tsquery = search.build_tsquery(q)
    if tsquery is None:
        return qs, False
    qs = qs.extra(where=["catalog_product.search_vector @@ %s::tsquery"], params=[tsquery])
    qs = qs.annotate(rank=RawSQL(
        "ts_rank(catalog_product.search_vector, %s::tsquery) "
        "+ CASE WHEN catalog_product.name LIKE %s THEN 1.0 ELSE 0 END",
        [tsquery, search.like_contains(search.normalize_query(q))]))
    return qs, True


def storefront_listing(*, host_bank: Bank | None, lq: ListingQuery,
                       with_facets: bool = True) -> Listing:
    """A page of products for a storefront (host_bank) or the portal (None).

    Default order on a bank's storefront: that bank's merchants' products first (curated
    picks, then best sellers), then the rest of the province by sales. It is read as two
    index-backed queries (the bank's part, then the province's) rather than one sort of
    the whole catalog by a computed "is it ours" column, which would sort every row.
    """
    qs = _filtered(lq)
    searched = False
    if lq.q:
        qs, searched = _search(qs, lq.q)
        if not searched:
            qs = qs.none()
    per_page = max(1, min(lq.per_page, 100))
    orderings = {
        "price_asc": ["price_from", "-id"],
        "price_desc": ["-price_from", "-id"],
        "newest": ["-listed_at", "-id"],
        "sales": ["-sales_count", "-id"],
    }
    if lq.sort in orderings or searched or host_bank is None:
        if lq.sort in orderings:
            qs = qs.order_by(*orderings[lq.sort])
        elif searched:
            home = Value(0, output_field=IntegerField())
            if host_bank is not None:
                home = Case(When(merchant__bank_id=host_bank.pk, then=Value(1)),
                            default=Value(0), output_field=IntegerField())
            qs = qs.annotate(home=home).order_by("-rank", "-home", "-sales_count", "-id")
        else:
            qs = qs.order_by("-sales_count", "-id")
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
    if with_facets:
        listing.facets = _cached_facets(lq)
    return listing


def _page_of(requested: int, total: int, per_page: int) -> tuple[int, int]:
    pages = max(1, (total + per_page - 1) // per_page)
    return max(1, min(requested, pages)), pages


def _filters_key(lq: ListingQuery, part: str) -> str:
    raw = "|".join([part, lq.q, str(lq.category.pk if lq.category else ""), lq.origin,
                    lq.price, lq.bank])
    return "catalog:listing:" + hashlib.sha1(raw.encode()).hexdigest()  # noqa: S324


def _cached(key: str, compute):
    """Counting a whole catalog is the costly part of a listing; counts and facets may lag
    the catalog by CATALOG_LISTING_CACHE_SECONDS. Without the cache (Redis down) the
    page is slower, not broken."""
    seconds = settings.CATALOG_LISTING_CACHE_SECONDS
    if not seconds:
        return compute()
    try:
        value = cache.get(key)
    except Exception:  # noqa: BLE001 - the cache is an optimisation only
        return compute()
    if value is None:
        value = compute()
        with contextlib.suppress(Exception):
            cache.set(key, value, seconds)
    return value


def _cached_count(lq: ListingQuery, part: str, qs: QuerySet[Product]) -> int:
    return _cached(_filters_key(lq, "count-" + part), qs.count)


def _cached_facets(lq: ListingQuery) -> dict[str, list[dict]]:
    return _cached(_filters_key(lq, "facets"), lambda: _facets(lq))


def _facet_base(lq: ListingQuery, exclude: str) -> QuerySet[Product]:
    qs = _filtered(lq, exclude=exclude)
    if lq.q:
        qs, searched = _search(qs, lq.q)
        if not searched:
            qs = qs.none()
    return qs.order_by()


def _facets(lq: ListingQuery) -> dict[str, list[dict]]:
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
    origins = (_facet_base(lq, "origin").values("origin_county").annotate(n=Count("id"))
               .order_by("-n", "origin_county")[:12])
    banks = (_facet_base(lq, "bank").values("merchant__bank__code", "merchant__bank__short_name",
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


# The longest search the storefront runs, in characters: the search box says so
# (maxlength) and a longer one is refused with a message instead of being run.
SEARCH_MAX_CHARS = 60


def search_too_long(params) -> bool:
    return len((params.get("q") or "").strip()) > SEARCH_MAX_CHARS


def parse_listing_query(params, *, category: Category | None = None) -> ListingQuery:
    def to_int(value, default):
        try:
            return max(1, int(value))
        except (TypeError, ValueError):
            return default

    sort = params.get("sort") or "relevance"
    price = params.get("price") or ""
    return ListingQuery(
        q=(params.get("q") or "").strip()[:SEARCH_MAX_CHARS],
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
