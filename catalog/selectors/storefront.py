"""What shoppers may see (listed products of approved merchants of active banks), the
category tree, the home page's sections, a product's and a shop's pages, and batch
traceability.
"""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from banks.models import Bank
from catalog.models import Batch, Category, Merchant, MerchantStatus, Product, ProductStatus, Sku


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


def _card_queryset(qs: QuerySet[Product]) -> QuerySet[Product]:
    return qs.select_related("merchant__bank", "category")


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
