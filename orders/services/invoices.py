"""Invoices (发票): the buyer asks for one on a paid order (or withdraws the request); the
merchant issues it (the number and date the tax system gave, and the e-invoice PDF if
there is one) or rejects the request with a reason. Each step locks the order, moves the
request through ``InvoiceRequest.STATES`` and writes an ``OrderEvent``
(``invoice_requested``, ``invoice_withdrawn``, ``invoice_issued``, ``invoice_rejected``).
"""

from __future__ import annotations

import datetime
import re

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from core.uploads import attach
from core.validators import validate_uscc
from core.writes import require, transition
from orders.models import (
    InvoiceRequest,
    InvoiceTitleKind,
    InvoiceType,
    Order,
    OrderEvent,
    OrderStatus,
)
from orders.selectors_invoices import invoice_amount, invoice_blocker, live_invoice_of

from .transitions import _locked, register_in_order_history

# The number of an e-invoice: 8 digits (an electronic plain or special invoice, printed
# beside its 10- or 12-digit invoice code) or 20 digits (a fully digital e-invoice, 数电票,
# which has no separate code).
INVOICE_NUMBER = re.compile(r"^(\d{8}|\d{20})$")


def _event(order: Order, kind: str, *, actor, invoice: InvoiceRequest, note: str = "",
           **detail) -> None:
    OrderEvent.objects.create(order=order, kind=kind, actor=actor, note=note[:300],
                              detail={"invoice": invoice.pk, **detail}, at=timezone.now())


def _clean_request(*, kind: str, invoice_type: str, title: str, taxpayer_number: str,
                   email: str, address_phone: str, bank_name: str,
                   bank_account: str) -> dict:
    """The request's fields, trimmed and checked; every wrong field at once."""
    errors: dict[str, list[str]] = {}
    data = {
        "kind": (kind or "").strip(),
        "invoice_type": (invoice_type or InvoiceType.PLAIN).strip(),
        "title": (title or "").strip(),
        "taxpayer_number": (taxpayer_number or "").strip().upper(),
        "email": (email or "").strip(),
        "address_phone": (address_phone or "").strip(),
        "bank_name": (bank_name or "").strip(),
        "bank_account": (bank_account or "").strip().replace(" ", ""),
    }
    if data["kind"] not in InvoiceTitleKind.values:
        errors["kind"] = [_("Choose whether the invoice is for an individual or a business.")]
    if data["invoice_type"] not in InvoiceType.values:
        errors["invoice_type"] = [_("Choose a plain or a special VAT invoice.")]
    elif (data["invoice_type"] == InvoiceType.SPECIAL
          and data["kind"] != InvoiceTitleKind.BUSINESS):
        errors["invoice_type"] = [_("A special VAT invoice is issued to businesses only.")]
    if not data["title"]:
        errors["title"] = [_("Enter the invoice title: your name, or the business's full "
                             "name.")]
    elif len(data["title"]) > 100:
        errors["title"] = [_("The invoice title has at most 100 characters.")]
    if data["kind"] == InvoiceTitleKind.BUSINESS:
        if not data["taxpayer_number"]:
            errors["taxpayer_number"] = [_("A business invoice needs the business's taxpayer "
                                           "number (unified social credit code).")]
        else:
            try:
                validate_uscc(data["taxpayer_number"])
            except ValidationError as exc:
                errors["taxpayer_number"] = exc.messages
    else:
        # An individual's invoice carries no taxpayer number nor company details.
        data.update(taxpayer_number="", address_phone="", bank_name="", bank_account="")
    if data["email"]:
        try:
            EmailValidator()(data["email"])
        except ValidationError:
            errors["email"] = [_("Enter a valid email address, or leave it empty.")]
    limits = {"address_phone": 200, "bank_name": 100, "bank_account": 40, "email": 254}
    for name, limit in limits.items():
        if len(data[name]) > limit and name not in errors:
            errors[name] = [_("At most %(n)d characters.") % {"n": limit}]
    if data["bank_account"] and not data["bank_account"].isdigit():
        errors["bank_account"] = [_("A bank account number has digits only.")]
    if errors:
        raise ValidationError(errors)
    return data


@transaction.atomic
def invoice_request(*, order: Order, actor, kind: str, title: str,
                    invoice_type: str = InvoiceType.PLAIN, taxpayer_number: str = "",
                    email: str = "", address_phone: str = "", bank_name: str = "",
                    bank_account: str = "") -> InvoiceRequest:
    """The buyer asks for an invoice on their paid order (one request in force per order:
    a rejected or withdrawn one may be asked again)."""
    order = _locked(order)
    if actor is None or actor.pk != order.buyer_id:
        raise ApplicationError(_("Only the buyer may ask for an invoice on an order."),
                               code="not_buyer")
    blocker = invoice_blocker(order)
    if blocker:
        raise ApplicationError(blocker, code="not_invoiceable")
    data = _clean_request(kind=kind, invoice_type=invoice_type, title=title,
                          taxpayer_number=taxpayer_number, email=email,
                          address_phone=address_phone, bank_name=bank_name,
                          bank_account=bank_account)
    if live_invoice_of(order) is not None:
        raise ApplicationError(_("An invoice was already asked for on this order."),
                               code="invoice_exists")
    invoice = InvoiceRequest.objects.create(order=order, merchant_id=order.merchant_id,
                                            requested_by=actor, requested_at=timezone.now(),
                                            **data)
    _event(order, "invoice_requested", actor=actor, invoice=invoice,
           note=invoice.get_invoice_type_display(), invoice_kind=invoice.kind,
           invoice_type=invoice.invoice_type)
    return invoice


def _locked_invoice(invoice: InvoiceRequest) -> tuple[Order, InvoiceRequest]:
    # Order first, then the request: every invoice write locks in this order.
    order = _locked(invoice.order)
    return order, InvoiceRequest.objects.select_for_update().get(pk=invoice.pk)


def _refusal(invoice: InvoiceRequest) -> str:
    return (_("This invoice request is “%(status)s”: it cannot be changed now.")
            % {"status": invoice.get_status_display()})


def _move(invoice: InvoiceRequest, action: str, *, actor, note: str = "",
          detail: dict | None = None) -> None:
    invoice.decided_by, invoice.decided_at = actor, timezone.now()
    transition(invoice, action, actor=actor, note=note, detail=detail,
               at=invoice.decided_at, message=_refusal(invoice))


register_in_order_history(InvoiceRequest, detail_key="invoice", kinds={
    "withdraw": "invoice_withdrawn", "issue": "invoice_issued", "reject": "invoice_rejected"})


@transaction.atomic
def invoice_withdraw(*, invoice: InvoiceRequest, actor) -> InvoiceRequest:
    """The buyer takes back a request the merchant has not answered yet."""
    order, invoice = _locked_invoice(invoice)
    if actor is None or actor.pk != order.buyer_id:
        raise ApplicationError(_("Only the buyer may withdraw the request."), code="not_buyer")
    _move(invoice, "withdraw", actor=actor)
    return invoice


def _issue_date(value, order: Order) -> datetime.date:
    if isinstance(value, datetime.datetime):
        value = timezone.localdate(value)
    elif not isinstance(value, datetime.date):
        try:
            value = datetime.date.fromisoformat(str(value or "").strip())
        except ValueError:
            raise ValidationError({"issued_on": [
                _("Enter the issue date as YYYY-MM-DD.")]}) from None
    if value > timezone.localdate():
        raise ValidationError({"issued_on": [_("The issue date cannot be in the future.")]})
    paid_on = timezone.localdate(order.paid_at) if order.paid_at else None
    if paid_on and value < paid_on:
        raise ValidationError({"issued_on": [
            _("The issue date cannot be before the order was paid (%(date)s).")
            % {"date": paid_on.isoformat()}]})
    return value


@transaction.atomic
def invoice_issue(*, invoice: InvoiceRequest, actor, invoice_number: str, issued_on,
                  pdf=None) -> InvoiceRequest:
    """The merchant records the invoice it issued: its number and date, and the e-invoice
    PDF if it has one (checked by its content: a PDF, at most 5 MB). The amount is the
    order's total less refunds at this moment; while a refund request is open the
    invoice waits for its decision."""
    order, invoice = _locked_invoice(invoice)
    require(invoice, "issue", message=_refusal(invoice))
    if order.status == OrderStatus.REFUND_REQUESTED:
        raise ApplicationError(_("A refund request on this order is open: decide it first, "
                                 "as it changes the invoice's amount."), code="refund_open")
    blocker = invoice_blocker(order, at=invoice.requested_at)
    if blocker:
        raise ApplicationError(blocker + " " + _("Reject the request instead."),
                               code="not_invoiceable")
    errors: dict[str, list[str]] = {}
    number = re.sub(r"\s", "", str(invoice_number or ""))
    if not INVOICE_NUMBER.match(number):
        errors["invoice_number"] = [_("An invoice number has 8 digits, or 20 for a fully "
                                      "digital e-invoice.")]
    elif InvoiceRequest.objects.filter(merchant_id=invoice.merchant_id,
                                       invoice_number=number).exists():
        errors["invoice_number"] = [_("This invoice number is already recorded for another "
                                      "order.")]
    try:
        issued = _issue_date(issued_on, order)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    invoice.invoice_number, invoice.issued_on = number, issued
    invoice.amount = invoice_amount(order)
    if pdf:
        attach(invoice, "pdf", pdf, save=False)  # ValidationError on "pdf": nothing saved
    _move(invoice, "issue", actor=actor, note=number, detail={
        "number": number, "amount": str(invoice.amount), "issued_on": issued.isoformat(),
        "pdf": bool(invoice.pdf)})
    return invoice


@transaction.atomic
def invoice_reject(*, invoice: InvoiceRequest, actor, reason: str) -> InvoiceRequest:
    """The merchant refuses the request and says why; the buyer may ask again."""
    order, invoice = _locked_invoice(invoice)
    require(invoice, "reject", message=_refusal(invoice))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the invoice is not issued.")]})
    invoice.reject_reason = reason[:300]
    _move(invoice, "reject", actor=actor, note=reason)
    return invoice
