"""Marking products as changed for those who follow the catalog's changes (the partners'
change feed walks ``Product.updated_at``).

A product's own save touches it (``Product.save``). Changes made elsewhere that alter what
a follower sees of it call ``products_touch``: the merchant's shelf count, the merchant's
status, which banks a partner may sell. Sales (stock taken by checkouts) do not, so that
a checkout never writes the product row; followers get the stock band from the next
export or the next change of the product.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from catalog.models import Product


def products_touch(*, product_ids: Iterable[int] = (), merchant_ids: Iterable[int] = (),
                   bank_ids: Iterable[int] = ()) -> int:
    """Set ``updated_at`` of the products named, of the merchants named and of the banks'
    merchants to now (one statement each); how many products were touched."""
    now = timezone.now()
    touched = 0
    if ids := list(product_ids):
        touched += Product.objects.filter(pk__in=ids).update(updated_at=now)
    if ids := list(merchant_ids):
        touched += Product.objects.filter(merchant_id__in=ids).update(updated_at=now)
    if ids := list(bank_ids):
        touched += Product.objects.filter(merchant__bank_id__in=ids).update(updated_at=now)
    return touched
