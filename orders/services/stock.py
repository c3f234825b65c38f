"""Stock and flash-sale quantity of checkouts: reserved, given back, issued.

Stock is reserved by raising ``Sku.reserved`` with a conditional UPDATE (available
``stock = on_hand - reserved >= q``) inside the checkout's transaction and given back when
the checkout is cancelled or expires. A paid order's units stay reserved (and on the
merchant's shelf) until the goods leave: shipped, or handed to the pickup branch; then they
come off both ``on_hand`` and ``reserved``. Rows are locked in one global order (flash-sale
takes, flash sales, SKUs, each by id) so concurrent checkouts cannot deadlock. The
database's CHECK constraints (``0 <= reserved <= on_hand``, ``sold <= quantity``) are the
last guard.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.services import stock_hold_many, stock_issue, stock_unhold
from core.errors import ApplicationError
from orders import flash
from orders.models import Checkout, FlashSale, FlashSaleTake, Order, OrderLine


def _reserve(buyer, wanted, sales: dict[int, FlashSale] | None = None) -> None:
    """Reserve stock (and flash-sale quantity) for ``wanted`` = [(sku, qty, quote)] or
    raise without having reserved anything (the caller's transaction rolls back). The
    flash units were admitted in Redis; if the database refuses them, Redis's copy of
    the sale was wrong: it is dropped, to be rebuilt from the database."""
    now = timezone.now()
    flash_qty: dict[int, int] = defaultdict(int)
    flash_sales: dict[int, FlashSale] = {}
    sku_qty: dict[int, int] = defaultdict(int)
    names: dict[int, str] = {}
    for sku, quantity, quote in wanted:
        sku_qty[sku.pk] += quantity
        names[sku.pk] = f"{sku.product.name} {sku.spec}"
        if quote.flash_sale is not None and quote.flash_units:
            flash_qty[quote.flash_sale.pk] += quote.flash_units
            flash_sales[quote.flash_sale.pk] = quote.flash_sale
    for flash_id in sorted(flash_qty):
        sale, quantity = flash_sales[flash_id], flash_qty[flash_id]
        FlashSaleTake.objects.bulk_create([FlashSaleTake(flash_sale=sale, user=buyer)],
                                          ignore_conflicts=True)
        took = FlashSaleTake.objects.filter(
            flash_sale=sale, user=buyer,
            quantity__lte=sale.per_customer_limit - quantity).update(
            quantity=F("quantity") + quantity)
        if not took:
            flash.forget(flash_id)
            raise ApplicationError(
                _("“%(title)s” is limited to %(n)d per customer.")
                % {"title": sale.title, "n": sale.per_customer_limit},
                field="cart", code="flash_limit")
    for flash_id in sorted(flash_qty):
        sale, quantity = flash_sales[flash_id], flash_qty[flash_id]
        sold = FlashSale.objects.filter(
            pk=flash_id, starts_at__lte=now, ends_at__gt=now,
            sold__lte=F("quantity") - quantity).update(sold=F("sold") + quantity)
        if not sold:
            flash.forget(flash_id)
            raise ApplicationError(_("“%(title)s” is sold out.") % {"title": sale.title},
                                   field="cart", code="sold_out")
    short = stock_hold_many(sku_quantities=sku_qty)
    if short:
        raise ApplicationError(_("Not enough stock of %(name)s.") % {"name": names[short[0]]},
                               field="cart", code="out_of_stock")


def _release(checkout: Checkout) -> None:
    lines = OrderLine.objects.filter(order__checkout=checkout)
    sku_qty: dict[int, int] = defaultdict(int)
    flash_qty: dict[int, int] = defaultdict(int)
    for line in lines:
        sku_qty[line.sku_id] += line.quantity
        if line.flash_sale_id:
            flash_qty[line.flash_sale_id] += line.quantity
    for flash_id in sorted(flash_qty):
        FlashSaleTake.objects.filter(flash_sale_id=flash_id, user_id=checkout.buyer_id).update(
            quantity=F("quantity") - flash_qty[flash_id])
    for flash_id in sorted(flash_qty):
        FlashSale.objects.filter(pk=flash_id).update(sold=F("sold") - flash_qty[flash_id])
        transaction.on_commit(lambda f=flash_id, q=flash_qty[flash_id]: flash.release(
            sale_id=f, user_id=checkout.buyer_id, quantity=q))
    stock_unhold(sku_quantities=sku_qty)


def _issue(order: Order) -> None:
    """The order's goods leave the merchant: its reserved units come off the shelf."""
    sku_qty: dict[int, int] = defaultdict(int)
    for sku_id, quantity in order.lines.values_list("sku_id", "quantity"):
        sku_qty[sku_id] += quantity
    stock_issue(sku_quantities=sku_qty)


def _unreserve(order: Order) -> None:
    """A paid order refunded in full before its goods left: they never left the shelf, so
    its reserved units are simply available again (called once: the order's "refund_full"
    leads to a final status)."""
    sku_qty: dict[int, int] = defaultdict(int)
    for sku_id, quantity in order.lines.values_list("sku_id", "quantity"):
        sku_qty[sku_id] += quantity
    stock_unhold(sku_quantities=sku_qty)
