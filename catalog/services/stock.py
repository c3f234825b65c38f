"""Stock: the merchant's shelf count and adjustments, the buying side's reservations, and
sales counts.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Subquery, Value
from django.db.models.functions import Greatest
from django.utils.translation import gettext as _

from catalog.models import Product, Sku, SuggestKey
from catalog.services.changes import products_touch
from core.errors import ApplicationError


def _not_in_warehouse(sku: Sku) -> None:
    if Sku.objects.filter(pk=sku.pk, in_warehouse=True).exists():
        raise ValidationError({"on_hand": [_(
            "This specification is kept in warehouses: its stock follows the warehouses' "
            "receipts, dispatches and stock-takes.")]})


@transaction.atomic
def stock_set(*, sku: Sku, on_hand: int) -> Sku:
    """The merchant counts its shelf: ``on_hand`` becomes the figure counted. Units held
    for orders whose goods have not left are on the shelf too, so a count below them is
    refused (and changes nothing): those orders must be sent or cancelled first."""
    if on_hand is None or int(on_hand) < 0:
        raise ValidationError({"on_hand": [_("Stock cannot be negative.")]})
    on_hand = int(on_hand)
    _not_in_warehouse(sku)
    # One statement: a reservation committed meanwhile is either seen here or waits.
    if not Sku.objects.filter(pk=sku.pk, reserved__lte=on_hand).update(on_hand=on_hand):
        reserved = Sku.objects.filter(pk=sku.pk).values_list("reserved", flat=True).first()
        raise ValidationError({"on_hand": [_(
            "%(n)d units are reserved for orders not sent yet and are still on your shelf: "
            "count at least %(n)d, or wait until those orders are sent or cancelled."
        ) % {"n": reserved or 0}]})
    sku.refresh_from_db(fields=["on_hand", "reserved", "stock"])
    products_touch(product_ids=[sku.product_id])
    return sku


@transaction.atomic
def stock_adjust(*, sku: Sku, delta: int) -> Sku:
    """Add units to the shelf or take them off; taking units that are not available
    (on the shelf and not reserved) is refused. A SKU kept in warehouses is left as it
    is: returned goods come back into a warehouse by an inbound receipt."""
    if Sku.objects.filter(pk=sku.pk, in_warehouse=True).exists():
        sku.refresh_from_db(fields=["on_hand", "reserved", "stock"])
        return sku
    updated = (Sku.objects.filter(pk=sku.pk, stock__gte=-min(delta, 0))
               .update(on_hand=F("on_hand") + delta))
    if not updated:
        raise ApplicationError(_("Not enough stock."), field="stock", code="out_of_stock")
    sku.refresh_from_db(fields=["on_hand", "reserved", "stock"])
    products_touch(product_ids=[sku.product_id])
    return sku


# Reservations. The buying side (orders) holds units when a checkout is placed, gives them
# back when it is cancelled or expires, and issues them when the goods leave the merchant
# (shipped, or handed to the pickup branch). Callers run inside their own transaction and
# pass SKUs in id order, so that concurrent callers lock rows in one order.


def stock_hold(*, sku_id: int, quantity: int) -> bool:
    """Hold ``quantity`` available units; False (and nothing held) if there are fewer."""
    return bool(Sku.objects.filter(pk=sku_id, stock__gte=quantity).update(
        reserved=F("reserved") + quantity))


def stock_hold_many(*, sku_quantities: dict[int, int]) -> list[int]:
    """Hold the units of every SKU in one statement, or none: the ids of the SKUs short of
    stock ([] = all held). The rows are locked in id order first (a MATERIALIZED CTE with
    FOR UPDATE), so concurrent checkouts of several SKUs cannot deadlock; the conditional
    UPDATE then counts the rows it could change. If some are short, the caller's
    transaction must roll back (the others were held)."""
    if not sku_quantities:
        return []
    ids = sorted(sku_quantities)
    table = Sku._meta.db_table
    values = ", ".join(["(%s::bigint, %s::integer)"] * len(ids))
    params: list = [ids]
    for sku_id in ids:
        params += [sku_id, sku_quantities[sku_id]]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH locked AS MATERIALIZED (SELECT id FROM {table} "  # noqa: S608
            f"WHERE id = ANY(%s) ORDER BY id FOR UPDATE) "
            f"UPDATE {table} s SET reserved = s.reserved + v.q "
            f"FROM (VALUES {values}) AS v(id, q), locked "
            f"WHERE s.id = v.id AND locked.id = s.id AND s.on_hand - s.reserved >= v.q "
            f"RETURNING s.id", params)
        held = {row[0] for row in cursor.fetchall()}
    return [sku_id for sku_id in ids if sku_id not in held]


def stock_unhold(*, sku_quantities: dict[int, int]) -> None:
    """Held units are no longer wanted (checkout cancelled or expired): available again."""
    for sku_id in sorted(sku_quantities):
        Sku.objects.filter(pk=sku_id).update(reserved=F("reserved") - sku_quantities[sku_id])


def stock_issue(*, sku_quantities: dict[int, int]) -> None:
    """Held units leave the shelf: off both the shelf and the reservation. Units of a SKU
    kept in warehouses leave its lots too (the hook the ``warehouses`` app registers), in
    the same transaction."""
    for sku_id in sorted(sku_quantities):
        quantity = sku_quantities[sku_id]
        Sku.objects.filter(pk=sku_id).update(on_hand=F("on_hand") - quantity,
                                             reserved=F("reserved") - quantity)
    if _issue_hooks:
        kept = set(Sku.objects.filter(pk__in=list(sku_quantities), in_warehouse=True)
                   .values_list("pk", flat=True))
        if kept:
            for hook in _issue_hooks:
                hook({k: v for k, v in sku_quantities.items() if k in kept})


# issue_hook({sku_id: quantity}) for SKUs kept in warehouses; registered by the app that
# keeps the lots (catalog knows nothing of it).
_issue_hooks: list = []


def register_stock_issue_hook(hook) -> None:
    if hook not in _issue_hooks:
        _issue_hooks.append(hook)


def stock_from_warehouse(*, sku_id: int, delta: int) -> bool:
    """The warehouses' units of a SKU not pledged changed by ``delta``: its ``on_hand``
    follows in one conditional UPDATE that refuses (False, nothing changed) to fall below
    the units reserved for checkouts and unsent orders. Marks the SKU as kept in
    warehouses: its first movement replaces the shelf count with the warehouses' figure
    (``delta`` is then the whole of it). The caller runs inside the transaction of the
    movement; a concurrent first movement waits on the row and takes the second branch."""
    if Sku.objects.filter(pk=sku_id, in_warehouse=False, reserved__lte=delta).update(
            on_hand=delta, in_warehouse=True):
        return True
    return bool(Sku.objects.filter(pk=sku_id, in_warehouse=True,
                                   reserved__lte=F("on_hand") + delta)
                .update(on_hand=F("on_hand") + delta))


def sales_record(*, sku_quantities: dict[int, int]) -> None:
    """Paid orders count towards their products' sales (the storefront's "sales" sort);
    returned units are taken off again (negative quantities; never below zero)."""
    per_product: dict[int, int] = {}
    for product_id, sku_id in Sku.objects.filter(pk__in=list(sku_quantities)).values_list(
            "product_id", "pk"):
        per_product[product_id] = per_product.get(product_id, 0) + sku_quantities[sku_id]
    for product_id in sorted(per_product):
        Product.objects.filter(pk=product_id).update(
            sales_count=Greatest(F("sales_count") + per_product[product_id], Value(0)))
        # suggestions rank by sales from their own copy (catalog.SuggestKey)
        SuggestKey.objects.filter(product_id=product_id).update(
            sales_count=Subquery(Product.objects.filter(pk=product_id).values("sales_count")[:1]))
