"""收藏: what a shopper keeps (only what is still on sale is shown)."""

from __future__ import annotations

from catalog.models import Favourite, Merchant, Product
from catalog.selectors.storefront import visible_merchants, visible_products


def favourite_products(*, user) -> list[Product]:
    kept = Favourite.objects.filter(user=user, product__isnull=False)
    order = {pk: n for n, pk in enumerate(kept.values_list("product_id", flat=True))}
    rows = visible_products().filter(pk__in=list(order)).select_related(
        "merchant__bank", "category")
    return sorted(rows, key=lambda p: order[p.pk])


def favourite_shops(*, user) -> list[Merchant]:
    kept = Favourite.objects.filter(user=user, merchant__isnull=False)
    order = {pk: n for n, pk in enumerate(kept.values_list("merchant_id", flat=True))}
    rows = visible_merchants().filter(pk__in=list(order)).select_related("bank")
    return sorted(rows, key=lambda m: order[m.pk])


def is_favourite(*, user, product_id: int | None = None,
                 merchant_id: int | None = None) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return Favourite.objects.filter(user=user, product_id=product_id,
                                    merchant_id=merchant_id).exists()
