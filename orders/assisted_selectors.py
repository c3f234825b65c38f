"""Reads for the branch desk pages: a bank's assisted orders, products to order, and what
waits for pickup at its branches. Always scoped to the bank whose domain it is."""

from __future__ import annotations

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import Http404

from banks.models import Bank, Branch
from catalog.models import Sku
from catalog.selectors import visible_products
from core.masking import mask_phone
from orders.models import AssistedOrder, Fulfilment, Order, OrderStatus

WAITING = (OrderStatus.PAID, OrderStatus.READY_FOR_PICKUP)


def desk_branches(*, bank: Bank) -> QuerySet[Branch]:
    return Branch.objects.filter(bank=bank, is_pickup_point=True).order_by("code")


def desk_branch(*, bank: Bank, branch_id) -> Branch | None:
    try:
        branch_id = int(branch_id)
    except (TypeError, ValueError):
        return None
    return desk_branches(bank=bank).filter(pk=branch_id).first()


def assisted_orders(*, bank: Bank, branch: Branch | None = None) -> QuerySet[AssistedOrder]:
    qs = (AssistedOrder.objects.filter(branch__bank=bank)
          .select_related("checkout", "checkout__buyer", "branch", "staff"))
    return qs.filter(branch=branch) if branch is not None else qs


def assisted_phone(assisted: AssistedOrder) -> str:
    """The customer's mobile as the desk's staff read it, on the page and in the API."""
    return mask_phone(assisted.customer_phone)


def assisted_order(*, bank: Bank, number: str) -> AssistedOrder:
    assisted = assisted_orders(bank=bank).filter(checkout__number=number).first()
    if assisted is None:
        raise Http404
    return assisted


def desk_skus(*, bank: Bank, q: str, limit: int = 30) -> list[Sku]:
    """SKUs on sale matching ``q`` (product or shop name), the bank's own merchants
    first."""
    q = (q or "").strip()[:40]
    if not q:
        return []
    return list(
        Sku.objects.filter(product__in=visible_products(), stock__gt=0)
        .filter(Q(product__name__icontains=q) | Q(product__merchant__name__icontains=q))
        .select_related("product__merchant")
        .annotate(own=Case(When(product__merchant__bank=bank, then=Value(0)),
                           default=Value(1), output_field=IntegerField()))
        .order_by("own", "product__name", "price", "pk")[:limit])


def skus_by_ids(ids) -> list[Sku]:
    return list(Sku.objects.select_related("product__merchant").filter(pk__in=ids[:50])
                .order_by("pk"))


def waiting_orders(*, bank: Bank, branch: Branch | None = None) -> QuerySet[Order]:
    """Orders to be collected at the bank's branches: paid (the merchant is preparing
    them) or ready for pickup."""
    qs = (Order.objects.filter(fulfilment=Fulfilment.PICKUP, pickup_branch__bank=bank,
                               status__in=WAITING)
          .select_related("merchant", "buyer", "pickup_branch", "checkout")
          .order_by("-status", "paid_at", "pk"))
    return qs.filter(pickup_branch=branch) if branch is not None else qs


def desk_order(*, bank: Bank, number: str) -> Order:
    """An order collected at one of the bank's branches (for its pickup slip)."""
    order = (Order.objects.filter(number=number, fulfilment=Fulfilment.PICKUP,
                                  pickup_branch__bank=bank)
             .select_related("merchant", "buyer", "pickup_branch", "checkout").first())
    if order is None:
        raise Http404
    return order
