"""Ratings on the catalog: the count, star total and average of a product's and its shop's
visible reviews, shown on cards, product and shop pages and sorted on by "rating".

The reviews themselves belong to the buying side (``orders``), which the catalog does not
know: the caller hands over its visible reviews as a queryset of rows with a ``stars``
integer and a ``product`` foreign key, inside its own transaction, after its write. The
figures are recounted from those rows (one aggregate each), never incremented, with the
product's and then the shop's row locked first: a second review written at the same time
waits for the lock and then counts the first, so the figures stay exact.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Count, QuerySet, Sum

from catalog.models import Merchant, Product
from catalog.page_cache import catalog_changed

CENT = Decimal("0.01")


def rating_average(count: int, total: int) -> Decimal:
    """The average of ``count`` ratings summing to ``total``, to 0.01 (0 for none)."""
    if not count:
        return Decimal("0.00")
    return (Decimal(total) / Decimal(count)).quantize(CENT, rounding=ROUND_HALF_UP)


def _figures(rows: QuerySet) -> dict:
    found = rows.order_by().aggregate(n=Count("pk"), total=Sum("stars"))
    count, total = found["n"] or 0, found["total"] or 0
    return {"rating_count": count, "rating_total": total,
            "rating_avg": rating_average(count, total)}


@transaction.atomic
def rating_refresh(*, product_id: int, visible: QuerySet) -> None:
    """Recount the ratings of product ``product_id`` and of its shop from ``visible`` (all
    visible reviews: rows with ``stars`` and ``product``). The storefront's cached pages
    change once the caller's transaction commits."""
    merchant_id = (Product.objects.select_for_update(of=("self",)).filter(pk=product_id)
                   .values_list("merchant_id", flat=True).first())
    if merchant_id is None:
        return
    list(Merchant.objects.select_for_update().filter(pk=merchant_id).values_list("pk"))
    Product.objects.filter(pk=product_id).update(
        **_figures(visible.filter(product_id=product_id)))
    Merchant.objects.filter(pk=merchant_id).update(
        **_figures(visible.filter(product__merchant_id=merchant_id)))
    catalog_changed()
