"""Reads for merchant members: the merchants a person runs and their products."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet
from django.shortcuts import get_object_or_404

from banks.models import Bank
from catalog.models import Merchant, MerchantMember, Product


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
