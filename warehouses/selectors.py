"""Reads of warehouses, lots and receipts, scoped: a bank's staff see their bank's
warehouses and everything in them; a merchant sees its own lots and the receipts it
holds; anyone sees a receipt's public facts through its verification token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone

from banks.models import Bank
from catalog.models import Merchant, Sku
from core.money import quantize_money
from orders.models import OrderLine, OrderStatus
from warehouses.models import Lot, StockMove, Warehouse, WarehouseReceipt, WarehouseStatus

PRICE_DAYS = 30
NOT_SOLD = (OrderStatus.CANCELLED, OrderStatus.REFUNDED, OrderStatus.PENDING_PAYMENT)


def warehouses_for_bank(*, bank: Bank) -> QuerySet[Warehouse]:
    return Warehouse.objects.filter(bank=bank).select_related("registered_by", "decided_by")


def warehouse_for_bank(*, bank: Bank, warehouse_id: int) -> Warehouse:
    return get_object_or_404(warehouses_for_bank(bank=bank), pk=warehouse_id)


def warehouses_receiving(*, bank_id: int) -> QuerySet[Warehouse]:
    """The approved warehouses a merchant of ``bank_id`` may store goods in."""
    return Warehouse.objects.filter(bank_id=bank_id, status=WarehouseStatus.APPROVED)


def _lots() -> QuerySet[Lot]:
    return Lot.objects.select_related("warehouse", "sku__product", "batch", "merchant")


def lots_for_bank(*, bank: Bank) -> QuerySet[Lot]:
    return _lots().filter(warehouse__bank=bank)


def lot_for_bank(*, bank: Bank, lot_id: int) -> Lot:
    return get_object_or_404(lots_for_bank(bank=bank), pk=lot_id)


def lots_of_merchant(*, merchant: Merchant) -> QuerySet[Lot]:
    return _lots().filter(merchant=merchant)


def lot_of_merchant(*, merchant: Merchant, lot_id: int) -> Lot:
    return get_object_or_404(lots_of_merchant(merchant=merchant), pk=lot_id)


def moves_of_lot(*, lot: Lot) -> QuerySet[StockMove]:
    return StockMove.objects.filter(lot=lot).select_related("actor")


def _receipts() -> QuerySet[WarehouseReceipt]:
    return WarehouseReceipt.objects.select_related(
        "lot__warehouse", "lot__sku__product", "lot__batch", "holder", "bank")


def receipts_for_bank(*, bank: Bank) -> QuerySet[WarehouseReceipt]:
    return _receipts().filter(bank=bank)


def receipt_for_bank(*, bank: Bank, receipt_id: int) -> WarehouseReceipt:
    return get_object_or_404(receipts_for_bank(bank=bank), pk=receipt_id)


def receipts_of_holder(*, merchant: Merchant) -> QuerySet[WarehouseReceipt]:
    return _receipts().filter(holder=merchant)


def receipt_of_holder(*, merchant: Merchant, receipt_id: int) -> WarehouseReceipt:
    return get_object_or_404(receipts_of_holder(merchant=merchant), pk=receipt_id)


def receipt_by_id(*, receipt_id: int) -> WarehouseReceipt:
    return get_object_or_404(_receipts(), pk=receipt_id)


@dataclass(frozen=True)
class ReceiptFacts:
    """What the public verification page shows: no holder, no personal data."""

    number: str
    warehouse: str
    temperature_class: str
    product: str
    spec: str
    unit: str
    grade: str
    batch: str
    quantity: int
    status: str
    status_label: str
    issued_at: object
    bank: str


def receipt_by_token(*, token) -> WarehouseReceipt:
    return get_object_or_404(_receipts(), verify_token=token)


def receipt_verify(*, token) -> ReceiptFacts:
    receipt = receipt_by_token(token=token)
    sku = receipt.lot.sku
    return ReceiptFacts(
        number=receipt.number, warehouse=receipt.lot.warehouse.name,
        temperature_class=receipt.lot.warehouse.get_temperature_class_display(),
        product=sku.product.name, spec=sku.spec, unit=sku.unit, grade=receipt.lot.grade,
        batch=receipt.lot.batch.code if receipt.lot.batch else "",
        quantity=receipt.quantity, status=receipt.status,
        status_label=str(receipt.get_status_display()), issued_at=receipt.issued_at,
        bank=receipt.bank.name)


def unit_price(*, sku: Sku) -> Decimal:
    """What a unit of the SKU fetches on the platform now: the average price of its
    units in paid orders of the last 30 days, else its list price."""
    since = timezone.now() - timedelta(days=PRICE_DAYS)
    sold = (OrderLine.objects.filter(sku=sku, order__paid_at__gte=since)
            .exclude(order__status__in=NOT_SOLD)
            .aggregate(units=Sum("quantity"), total=Sum("line_total")))
    if sold["units"]:
        return quantize_money(sold["total"] / sold["units"])
    return sku.price


def receipt_value(*, receipt: WarehouseReceipt, quantity: int | None = None) -> Decimal:
    """The receipt's units (or ``quantity`` of them) at ``unit_price``."""
    units = receipt.quantity if quantity is None else quantity
    return quantize_money(unit_price(sku=receipt.lot.sku) * units)
