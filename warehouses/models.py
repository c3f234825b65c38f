"""Warehouses, stock by lot, and warehouse receipts (仓单).

Shared (public schema): a warehouse is registered and approved by one bank's staff, but
the goods in it are merchants' SKUs of the shared catalog, and a receipt's verification
page is public. A pledge loan (in the lending bank's schema) points at a receipt by id.

Stock rule (docs/flows.md, "Warehouses"): for a SKU kept in warehouses,
``Sku.on_hand`` = the sum over its lots of ``on_hand - pledged``; every movement changes
both in one transaction, the SKU through one conditional UPDATE that the SKU's own CHECK
(``reserved <= on_hand``) backs, so pledged units are never sold and sold units never
pledged.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from banks.models import Bank
from catalog.models import Batch, Merchant, Sku
from core.states import StateMachine


class TemperatureClass(models.TextChoices):
    AMBIENT = "ambient", _("Ambient")
    CHILLED = "chilled", _("Chilled")
    FROZEN = "frozen", _("Frozen")
    GRAIN = "grain", _("Grain store")


class WarehouseStatus(models.TextChoices):
    PENDING = "pending", _("Pending inspection")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUSPENDED = "suspended", _("Suspended")


class Warehouse(models.Model):
    """A cold store or granary run by a cooperative or a logistics partner, registered
    and inspected by one bank's staff. Only an approved warehouse's lots get receipts
    and may be pledged."""

    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    operator = models.CharField(_("operator"), max_length=100)
    address = models.CharField(_("address"), max_length=200)
    capacity = models.PositiveIntegerField(_("capacity (units)"))
    temperature_class = models.CharField(_("temperature class"), max_length=10,
                                         choices=TemperatureClass.choices)
    status = models.CharField(max_length=10, choices=WarehouseStatus.choices,
                              default=WarehouseStatus.PENDING)
    STATES = StateMachine(initial=[WarehouseStatus.PENDING], transitions={
        "approve": ([WarehouseStatus.PENDING], WarehouseStatus.APPROVED),
        "reject": ([WarehouseStatus.PENDING], WarehouseStatus.REJECTED),
        "suspend": ([WarehouseStatus.APPROVED], WarehouseStatus.SUSPENDED),
        "reinstate": ([WarehouseStatus.SUSPENDED], WarehouseStatus.APPROVED),
    })
    inspection_note = models.CharField(_("inspection note"), max_length=300, blank=True,
                                       default="")
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                      related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["bank", "status"])]

    def __str__(self) -> str:
        return self.name


class Lot(models.Model):
    """Units of one SKU (of one grade, optionally one catalog batch) in one warehouse."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="lots")
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="+")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+")
    grade = models.CharField(_("grade"), max_length=20, blank=True, default="")
    on_hand = models.IntegerField(_("on hand"), default=0)
    pledged = models.IntegerField(_("pledged"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["warehouse_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(pledged__gte=0) & Q(pledged__lte=F("on_hand")),
                                   name="warehouses_lot_pledged_within_on_hand"),
            models.UniqueConstraint(fields=["warehouse", "sku", "batch", "grade"],
                                    nulls_distinct=False, name="warehouses_lot_once"),
        ]
        indexes = [models.Index(fields=["sku", "id"]), models.Index(fields=["merchant"])]

    def __str__(self) -> str:
        return f"{self.warehouse_id}:{self.sku_id}:{self.grade}"

    @property
    def free(self) -> int:
        return self.on_hand - self.pledged


class MoveKind(models.TextChoices):
    INBOUND = "inbound", _("Inbound receipt")
    OUTBOUND = "outbound", _("Outbound")
    SHIPPED = "shipped", _("Shipped for orders")
    TRANSFER_OUT = "transfer_out", _("Transfer out")
    TRANSFER_IN = "transfer_in", _("Transfer in")
    ADJUSTMENT = "adjustment", _("Stock-take adjustment")
    PLEDGE = "pledge", _("Pledged")
    RELEASE = "release", _("Pledge released")


class StockMove(models.Model):
    """One movement of a lot. ``quantity`` is signed (units into the lot are positive);
    pledge and release move units between free and pledged (``quantity`` is the units
    pledged, positive, or released, negative) and leave ``on_hand`` as it is."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="moves")
    kind = models.CharField(max_length=12, choices=MoveKind.choices)
    quantity = models.IntegerField()
    # A stock-take: what the books said and what was counted.
    counted = models.IntegerField(null=True, blank=True)
    other_lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    receipt = models.ForeignKey("WarehouseReceipt", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="moves")
    note = models.CharField(max_length=300, blank=True, default="")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                              blank=True, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["lot", "-at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity}"


class ReceiptStatus(models.TextChoices):
    VALID = "valid", _("Valid")
    PLEDGED = "pledged", _("Pledged")
    RELEASED = "released", _("Released")
    CANCELLED = "cancelled", _("Cancelled")


class WarehouseReceipt(models.Model):
    """A warehouse receipt (仓单): title to ``quantity`` units of a lot in an approved
    warehouse, issued by the warehouse's bank to a merchant (the holder). Transferable
    only through the platform; verified by anyone through its QR code."""

    number = models.CharField(max_length=24, unique=True)
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="receipts")
    holder = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    # Units of the receipt pledged now (released proportionally as the loan is repaid).
    pledged = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=ReceiptStatus.choices,
                              default=ReceiptStatus.VALID)
    STATES = StateMachine(initial=[ReceiptStatus.VALID], transitions={
        "pledge": ([ReceiptStatus.VALID, ReceiptStatus.RELEASED], ReceiptStatus.PLEDGED),
        "release": ([ReceiptStatus.PLEDGED], ReceiptStatus.RELEASED),
        "cancel": ([ReceiptStatus.VALID, ReceiptStatus.RELEASED], ReceiptStatus.CANCELLED),
    })
    verify_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+")
    issued_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(pledged__lte=F("quantity")),
                                   name="warehouses_receipt_pledged_within_quantity"),
        ]
        indexes = [models.Index(fields=["bank", "status"]),
                   models.Index(fields=["holder", "status"])]

    def __str__(self) -> str:
        return self.number


class ReceiptTransfer(models.Model):
    """A change of a receipt's holder, made on the platform (the only way it changes)."""

    receipt = models.ForeignKey(WarehouseReceipt, on_delete=models.PROTECT,
                                related_name="transfers")
    from_holder = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    to_holder = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+")
    note = models.CharField(max_length=300, blank=True, default="")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.receipt_id}: {self.from_holder_id} -> {self.to_holder_id}"
