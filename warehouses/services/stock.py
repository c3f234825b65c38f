"""Lot movements. Each one writes a ``StockMove`` and, when the units free to sell
(``on_hand - pledged``) change, moves the SKU's ``on_hand`` by the same figure through
``catalog.services.stock_from_warehouse`` (one conditional UPDATE, refused when it would
take units reserved for checkouts), in the same transaction. The SKU row is locked first,
then the lots (see the package's note)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Batch, Merchant, MerchantStatus, Sku
from catalog.services import stock_from_warehouse
from core.errors import ApplicationError
from warehouses.models import Lot, MoveKind, StockMove, Warehouse, WarehouseStatus

MAX_UNITS = 10**8


def _quantity(value, field: str = "quantity", *, zero: bool = False) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = -1
    if not (0 if zero else 1) <= number <= MAX_UNITS:
        raise ValidationError({field: [_("Enter a whole number of units above 0.") if not zero
                                       else _("Enter a whole number of units, 0 or more.")]})
    return number


def _lock_sku(sku_id: int) -> Sku:
    return Sku.objects.select_for_update().select_related("product").get(pk=sku_id)


def _lock_lot(lot_id: int) -> Lot:
    return Lot.objects.select_for_update().select_related("warehouse").get(pk=lot_id)


def _move(lot: Lot, kind: str, quantity: int, *, actor, note: str = "", **extra) -> StockMove:
    return StockMove.objects.create(lot=lot, kind=kind, quantity=quantity, actor=actor,
                                    note=str(note or "").strip()[:300], at=timezone.now(),
                                    **extra)


def _sku_follows(sku_id: int, delta: int) -> None:
    if delta and not stock_from_warehouse(sku_id=sku_id, delta=delta):
        raise ApplicationError(
            _("Those units are reserved for orders not sent yet: ship or cancel the orders "
              "first."), field="quantity", code="reserved")


def _check_receiving(warehouse: Warehouse, merchant: Merchant) -> None:
    if warehouse.bank_id != merchant.bank_id:
        raise Http404
    if warehouse.status != WarehouseStatus.APPROVED:
        raise ApplicationError(_("Only an approved warehouse takes goods in."),
                               field="warehouse", code="warehouse_not_approved")


@transaction.atomic
def lot_inbound(*, actor, merchant: Merchant, warehouse: Warehouse, sku: Sku, quantity,
                grade: str = "", batch: Batch | None = None, note: str = "") -> Lot:
    """Goods received into a warehouse (入库): into the lot of that SKU, batch and grade
    (created on its first receipt). The SKU is kept in warehouses from then on."""
    quantity = _quantity(quantity)
    if merchant.status != MerchantStatus.APPROVED:
        raise ApplicationError(_("Only an admitted merchant stores goods."), code="merchant")
    sku = _lock_sku(sku.pk)
    if sku.product.merchant_id != merchant.pk:
        raise Http404
    if batch is not None and batch.product_id != sku.product_id:
        raise ValidationError({"batch": [_("This batch is of another product.")]})
    _check_receiving(warehouse, merchant)
    grade = str(grade or "").strip()[:20]
    Lot.objects.bulk_create([Lot(warehouse=warehouse, sku=sku, merchant=merchant,
                                 batch=batch, grade=grade)], ignore_conflicts=True)
    lot = Lot.objects.select_for_update().get(warehouse=warehouse, sku=sku, batch=batch,
                                              grade=grade)
    _sku_follows(sku.pk, quantity)
    Lot.objects.filter(pk=lot.pk).update(on_hand=F("on_hand") + quantity)
    lot.refresh_from_db()
    _move(lot, MoveKind.INBOUND, quantity, actor=actor, note=note)
    return lot


@transaction.atomic
def lot_outbound(*, actor, lot: Lot, quantity, note: str = "") -> Lot:
    """Goods leave the warehouse other than for a platform order (出库). Pledged units
    never leave; units reserved for orders leave by shipping those orders."""
    quantity = _quantity(quantity)
    _lock_sku(lot.sku_id)
    lot = _lock_lot(lot.pk)
    if quantity > lot.free:
        raise ApplicationError(
            _("Only %(n)d units of this lot are not pledged: pledged goods cannot leave the "
              "warehouse until the pledge is released.") % {"n": lot.free},
            field="quantity", code="pledged")
    _sku_follows(lot.sku_id, -quantity)
    Lot.objects.filter(pk=lot.pk).update(on_hand=F("on_hand") - quantity)
    lot.refresh_from_db()
    _move(lot, MoveKind.OUTBOUND, -quantity, actor=actor, note=note)
    return lot


@transaction.atomic
def lot_transfer(*, actor, lot: Lot, to_warehouse: Warehouse, quantity,
                 note: str = "") -> Lot:
    """Free units move to another approved warehouse of the same bank (into the lot of
    the same SKU, batch and grade there). The SKU's figures do not change."""
    quantity = _quantity(quantity)
    _lock_sku(lot.sku_id)
    source = Lot.objects.select_related("merchant").get(pk=lot.pk)
    if to_warehouse.pk == source.warehouse_id:
        raise ValidationError({"to_warehouse": [_("Choose another warehouse.")]})
    _check_receiving(to_warehouse, source.merchant)
    Lot.objects.bulk_create([Lot(warehouse=to_warehouse, sku_id=source.sku_id,
                                 merchant_id=source.merchant_id, batch_id=source.batch_id,
                                 grade=source.grade)], ignore_conflicts=True)
    target_id = Lot.objects.get(Q(batch_id=source.batch_id), warehouse=to_warehouse,
                                sku_id=source.sku_id, grade=source.grade).pk
    locked = {row.pk: row for row in Lot.objects.select_for_update()
              .filter(pk__in=[source.pk, target_id]).order_by("pk")}
    source, target = locked[source.pk], locked[target_id]
    if quantity > source.free:
        raise ApplicationError(_("Only %(n)d units of this lot are free to move (pledged "
                                 "units stay).") % {"n": source.free},
                               field="quantity", code="pledged")
    Lot.objects.filter(pk=source.pk).update(on_hand=F("on_hand") - quantity)
    Lot.objects.filter(pk=target.pk).update(on_hand=F("on_hand") + quantity)
    _move(source, MoveKind.TRANSFER_OUT, -quantity, actor=actor, note=note, other_lot=target)
    _move(target, MoveKind.TRANSFER_IN, quantity, actor=actor, note=note, other_lot=source)
    target.refresh_from_db()
    return target


@transaction.atomic
def lot_stocktake(*, actor, lot: Lot, counted, note: str) -> Lot:
    """A stock-take: the lot's count becomes what was counted; the difference is
    recorded with the note. A count below the pledged units is refused (the bank must
    be told, not the books quietly changed)."""
    counted = _quantity(counted, "counted", zero=True)
    note = str(note or "").strip()
    if not note:
        raise ValidationError({"note": [_("Say what the stock-take found.")]})
    _lock_sku(lot.sku_id)
    lot = _lock_lot(lot.pk)
    if counted < lot.pledged:
        raise ApplicationError(
            _("%(n)d units of this lot are pledged: a count below them must be reported to "
              "the bank, not booked.") % {"n": lot.pledged}, field="counted", code="pledged")
    difference = counted - lot.on_hand
    _sku_follows(lot.sku_id, difference)
    Lot.objects.filter(pk=lot.pk).update(on_hand=counted)
    lot.refresh_from_db()
    _move(lot, MoveKind.ADJUSTMENT, difference, actor=actor, note=note, counted=counted)
    return lot


def lots_issue_shipped(sku_quantities: dict[int, int]) -> None:
    """The hook ``catalog.services.stock_issue`` calls when goods of orders leave: the
    units come off the SKU's lots, oldest lot first, from units not pledged (there are
    enough: the SKU's ``on_hand`` is their sum and covered the reservation). The SKU's
    row is already locked by the caller's UPDATE."""
    for sku_id in sorted(sku_quantities):
        left = sku_quantities[sku_id]
        for lot in Lot.objects.select_for_update().filter(sku_id=sku_id).order_by("pk"):
            take = min(left, lot.free)
            if take <= 0:
                continue
            Lot.objects.filter(pk=lot.pk).update(on_hand=F("on_hand") - take)
            _move(lot, MoveKind.SHIPPED, -take, actor=None, note=_("Shipped for orders"))
            left -= take
            if not left:
                break
        if left:
            raise ApplicationError(_("The warehouses hold too few units of this product "
                                     "for the order."), code="out_of_stock")


def lot_pledge_units(*, lot: Lot, quantity: int, actor, receipt) -> None:
    """``quantity`` free units of the lot become pledged; the SKU's sellable units fall
    by as many, refused (nothing changed) when they are reserved for orders."""
    _lock_sku(lot.sku_id)
    _sku_follows(lot.sku_id, -quantity)
    if not Lot.objects.filter(pk=lot.pk, on_hand__gte=F("pledged") + quantity).update(
            pledged=F("pledged") + quantity):
        raise ApplicationError(_("The lot has fewer free units than the receipt pledges."),
                               code="pledged")
    _move(lot, MoveKind.PLEDGE, quantity, actor=actor, receipt=receipt)


def lot_release_units(*, lot: Lot, quantity: int, actor, receipt) -> None:
    """``quantity`` pledged units are free (and sellable) again."""
    _lock_sku(lot.sku_id)
    if not Lot.objects.filter(pk=lot.pk, pledged__gte=quantity).update(
            pledged=F("pledged") - quantity):
        raise ApplicationError(_("Fewer units are pledged than that."), field="quantity",
                               code="over_release")
    _sku_follows(lot.sku_id, quantity)
    _move(lot, MoveKind.RELEASE, -quantity, actor=actor, receipt=receipt)
