"""Warehouse receipts (``WarehouseReceipt.STATES``): issued by the warehouse's bank,
transferred only here, cancelled, pledged for a loan and released as it is repaid.

A receipt covers units of one lot; the live receipts of a lot (valid, pledged or
released) never cover more units than the lot has when one is issued. Pledging takes the
receipt's units off sale (``Lot.pledged``, the SKU's ``on_hand``) in the lending
transaction that grants the loan."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from banks.services import bank_audit, register_bank_audit
from catalog.models import Merchant, MerchantStatus
from core.errors import ApplicationError
from core.writes import require, transition
from warehouses.models import (
    Lot,
    ReceiptStatus,
    ReceiptTransfer,
    WarehouseReceipt,
    WarehouseStatus,
)
from warehouses.services.stock import _lock_lot, _quantity, lot_pledge_units, lot_release_units

LIVE = (ReceiptStatus.VALID, ReceiptStatus.PLEDGED, ReceiptStatus.RELEASED)


def _number() -> str:
    return f"WR{timezone.localtime():%Y%m%d}{secrets.randbelow(10**6):06d}"


register_bank_audit(WarehouseReceipt, action={
    "pledge": "receipt_pledged", "release": "receipt_released", "cancel": "receipt_cancelled"})


def _transition(receipt: WarehouseReceipt, action: str, *, actor, note: str,
                save_fields: list[str], changes: dict | None = None) -> None:
    transition(receipt, action, actor=actor, note=note, detail=changes,
               save_fields=save_fields, message=_(
                   "This receipt cannot be %(action)s now (it is %(status)s).")
               % {"action": action, "status": receipt.get_status_display()})


def _lock(receipt: WarehouseReceipt) -> WarehouseReceipt:
    return (WarehouseReceipt.objects.select_for_update(of=("self",))
            .select_related("lot__warehouse").get(pk=receipt.pk))


@transaction.atomic
def receipt_issue(*, bank: Bank, actor, lot: Lot, quantity) -> WarehouseReceipt:
    """The bank issues a receipt for ``quantity`` units of a lot in one of its approved
    warehouses, to the lot's merchant."""
    quantity = _quantity(quantity)
    lot = _lock_lot(lot.pk)
    if lot.warehouse.bank_id != bank.pk:
        raise Http404
    if lot.warehouse.status != WarehouseStatus.APPROVED:
        raise ApplicationError(_("Receipts are issued only for goods in an approved "
                                 "warehouse."), code="warehouse_not_approved")
    covered = (WarehouseReceipt.objects.filter(lot=lot, status__in=LIVE)
               .aggregate(n=Sum("quantity"))["n"] or 0)
    if covered + quantity > lot.on_hand:
        raise ValidationError({"quantity": [
            _("The lot has %(n)d units not covered by a receipt yet.")
            % {"n": max(lot.on_hand - covered, 0)}]})
    receipt = WarehouseReceipt.objects.create(
        number=_number(), bank=bank, lot=lot, holder_id=lot.merchant_id, quantity=quantity,
        issued_by=actor, issued_at=timezone.now())
    bank_audit(bank=bank, actor=actor, action="receipt_issued", target=receipt,
               note=f"{receipt.number}: {quantity}")
    return receipt


@transaction.atomic
def receipt_transfer(*, receipt: WarehouseReceipt, actor, to_merchant_id,
                     note: str = "") -> WarehouseReceipt:
    """The holder transfers the receipt to another admitted merchant. A pledged or
    cancelled receipt is not transferable."""
    receipt = _lock(receipt)
    try:
        target = Merchant.objects.get(pk=int(str(to_merchant_id).strip()),
                                      status=MerchantStatus.APPROVED)
    except (Merchant.DoesNotExist, TypeError, ValueError):
        raise ValidationError({"to_merchant": [_("No admitted merchant with this number.")]})
    if target.pk == receipt.holder_id:
        raise ValidationError({"to_merchant": [_("The receipt is this merchant's already.")]})
    if receipt.status not in (ReceiptStatus.VALID, ReceiptStatus.RELEASED):
        raise ApplicationError(_("Only a receipt that is not pledged or cancelled can be "
                                 "transferred."), code="illegal_transition")
    before = receipt.holder_id
    ReceiptTransfer.objects.create(receipt=receipt, from_holder_id=before, to_holder=target,
                                   actor=actor, note=str(note or "").strip()[:300],
                                   at=timezone.now())
    receipt.holder = target
    receipt.save(update_fields=["holder"])
    bank_audit(bank=receipt.bank, actor=actor, action="receipt_transferred", target=receipt,
               changes={"holder": [before, target.pk]}, note=receipt.number)
    return receipt


@transaction.atomic
def receipt_cancel(*, receipt: WarehouseReceipt, actor, note: str) -> WarehouseReceipt:
    """The bank cancels a receipt that is not pledged (the goods were collected)."""
    note = str(note or "").strip()
    if not note:
        raise ValidationError({"note": [_("Say why.")]})
    receipt = _lock(receipt)
    receipt.cancelled_at = timezone.now()
    _transition(receipt, "cancel", actor=actor, note=note, save_fields=["cancelled_at"])
    return receipt


def receipt_check_pledgeable(receipt: WarehouseReceipt, *, bank: Bank) -> None:
    """Refuses (400) a receipt the bank cannot take in pledge now."""
    if receipt.bank_id != bank.pk:
        raise ApplicationError(_("A receipt is pledged to the bank that issued it."),
                               code="not_found")
    if receipt.lot.warehouse.status != WarehouseStatus.APPROVED:
        raise ApplicationError(_("The warehouse of this receipt is not approved: it cannot "
                                 "be pledged."), code="warehouse_not_approved")
    if receipt.status not in (ReceiptStatus.VALID, ReceiptStatus.RELEASED):
        raise ApplicationError(_("This receipt is pledged or cancelled."),
                               code="illegal_transition")


@transaction.atomic
def receipt_pledge(*, bank: Bank, receipt: WarehouseReceipt, actor) -> WarehouseReceipt:
    """The receipt's units are pledged to its bank (inside the caller's transaction: the
    loan's). Refused when the units are reserved for orders."""
    receipt = _lock(receipt)
    receipt_check_pledgeable(receipt, bank=bank)
    require(receipt, "pledge")
    lot_pledge_units(lot=receipt.lot, quantity=receipt.quantity, actor=actor, receipt=receipt)
    receipt.pledged = receipt.quantity
    _transition(receipt, "pledge", actor=actor, note=f"{receipt.number}: {receipt.quantity}",
                save_fields=["pledged"])
    return receipt


def receipt_release(*, receipt: WarehouseReceipt, quantity, actor,
                    note: str = "") -> WarehouseReceipt:
    """``quantity`` pledged units are released (sellable again); the receipt is
    released when none is left pledged. Releasing more than is pledged is a 400."""
    quantity = _quantity(quantity)
    with transaction.atomic():
        receipt = _lock(receipt)
        if receipt.status != ReceiptStatus.PLEDGED or quantity > receipt.pledged:
            raise ValidationError({"quantity": [_("At most %(n)d units of this receipt are "
                                                  "pledged.") % {"n": receipt.pledged}]})
        lot_release_units(lot=receipt.lot, quantity=quantity, actor=actor, receipt=receipt)
        receipt.pledged -= quantity
        changes = {"pledged": [receipt.pledged + quantity, receipt.pledged]}
        note = str(note or "").strip()[:300] or receipt.number
        if receipt.pledged == 0:
            _transition(receipt, "release", actor=actor, note=note, save_fields=["pledged"],
                        changes=changes)
        else:  # units released, the receipt still pledged
            receipt.save(update_fields=["pledged"])
            bank_audit(bank=receipt.bank, actor=actor, action="receipt_released",
                       target=receipt, changes={**changes,
                                                "status": [receipt.status, receipt.status]},
                       note=note)
    return receipt
