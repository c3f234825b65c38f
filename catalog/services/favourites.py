"""收藏: shoppers keep products and shops to come back to."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from catalog.models import Favourite
from catalog.selectors.storefront import visible_merchants, visible_products

FAVOURITES_LIMIT = 500


def favourite_set(*, user, on: bool, product_id: int | None = None,
                  merchant_id: int | None = None) -> bool:
    """Keep (``on``) or drop a product or a shop (exactly one of the two); idempotent.
    Only what a shopper may see can be kept: anything else is ``DoesNotExist`` (a 404).
    Returns whether it is kept now."""
    if (product_id is None) == (merchant_id is None):
        raise ValueError("a product or a shop, one of the two")
    if product_id is not None:
        target = {"product": visible_products().get(pk=product_id)} if on else \
            {"product_id": product_id}
    else:
        target = {"merchant": visible_merchants().get(pk=merchant_id)} if on else \
            {"merchant_id": merchant_id}
    if not on:
        Favourite.objects.filter(user=user, **target).delete()
        return False
    if Favourite.objects.filter(user=user).count() >= FAVOURITES_LIMIT:
        Favourite.objects.filter(user=user).order_by("created_at", "id").first().delete()
    try:
        with transaction.atomic():
            Favourite.objects.get_or_create(user=user, **target)
    except IntegrityError:  # the same tap twice at once: kept once
        pass
    return True
