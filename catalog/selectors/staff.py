"""Reads for bank staff: the bank's merchants, the listing review queue, a product."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from banks.models import Bank
from catalog.models import Merchant, Product, ProductStatus


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
