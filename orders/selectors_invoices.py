"""Reads on invoices (发票): whether an order may be invoiced and for how much, the
invoice box of an order page, a buyer's invoices by month (and the month's archive: a
ZIP of the e-invoice PDFs with a CSV summary), a merchant's requests. Always scoped: a
buyer reads the invoices of their own orders, a shop's members those of their shop;
anyone else gets 404."""

from __future__ import annotations

import datetime
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet, Sum
from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from catalog.models import Merchant
from core import uploads
from core.exports import csv_writer
from core.money import quantize_money
from orders.models import (
    INVOICE_LIVE,
    InvoiceRequest,
    InvoiceStatus,
    Order,
    OrderStatus,
)

S = OrderStatus
# Orders an invoice may be asked for: paid, and not cancelled or refunded in full. While a
# refund request is open the buyer may ask; the merchant issues once it is decided.
INVOICEABLE = (S.PAID, S.SHIPPED, S.READY_FOR_PICKUP, S.DELIVERED, S.PICKED_UP, S.COMPLETED,
               S.REFUND_REQUESTED)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def invoice_amount(order: Order) -> Decimal:
    """What an invoice of ``order`` is for, now: the order's total (goods and delivery;
    the part paid with a bank's points is included: the merchant is paid it in full) less
    what was refunded, to the fen."""
    return quantize_money(order.total - order.refunded_total)


def invoice_blocker(order: Order, *, at: datetime.datetime | None = None) -> str:
    """Why no invoice may be asked for ``order`` now ("" when one may)."""
    if order.status == S.CANCELLED:
        return _("Order %(number)s was cancelled: there is nothing to invoice.") % {
            "number": order.number}
    if order.status == S.PENDING_PAYMENT:
        return _("Order %(number)s is not paid yet: ask for an invoice once it is paid.") % {
            "number": order.number}
    if order.status not in INVOICEABLE or invoice_amount(order) <= 0:
        return _("Order %(number)s was refunded in full: there is nothing to invoice.") % {
            "number": order.number}
    days = settings.ORDER_INVOICE_REQUEST_DAYS
    at = at or timezone.now()
    if days and order.completed_at and at > order.completed_at + datetime.timedelta(days=days):
        return _("An invoice can be asked for up to %(days)d days after the order is "
                 "completed.") % {"days": days}
    return ""


def live_invoice_of(order: Order) -> InvoiceRequest | None:
    return order.invoice_requests.filter(status__in=INVOICE_LIVE).first()


@dataclass
class InvoiceBox:
    """The invoice box of an order page: the request in force (or the last one, rejected
    or withdrawn), whether the buyer may ask (again), and why not."""

    current: InvoiceRequest | None
    can_ask: bool
    blocker: str
    amount: Decimal


def invoice_box(*, order: Order) -> InvoiceBox:
    current = order.invoice_requests.order_by("-requested_at", "-id").first()
    live = current is not None and current.status in INVOICE_LIVE
    blocker = "" if live else invoice_blocker(order)
    return InvoiceBox(current=current, can_ask=not live and not blocker, blocker=blocker,
                      amount=invoice_amount(order))


# --- the buyer's ---------------------------------------------------------------------------


def invoices_of_buyer(*, buyer) -> QuerySet[InvoiceRequest]:
    return (InvoiceRequest.objects.filter(order__buyer=buyer)
            .select_related("order", "merchant").order_by("-requested_at", "-id"))


def invoice_of_buyer(*, buyer, number: str) -> InvoiceRequest:
    """The latest invoice request of the buyer's order ``number`` (404: none, or not the
    buyer's order)."""
    found = invoices_of_buyer(buyer=buyer).filter(order__number=number).first()
    if found is None:
        raise Http404
    return found


def parse_month(value: str) -> tuple[datetime.date, datetime.date]:
    """``YYYY-MM`` -> (its first day, the next month's first day); ValidationError on
    ``month`` otherwise."""
    match = _MONTH.match((value or "").strip())
    month = int(match.group(2)) if match else 0
    if not match or not 1 <= month <= 12 or int(match.group(1)) < 2000:
        raise ValidationError({"month": [_("Give a month as YYYY-MM, e.g. 2026-03.")]})
    first = datetime.date(int(match.group(1)), month, 1)
    following = (first + datetime.timedelta(days=32)).replace(day=1)
    return first, following


def issued_in_month(*, buyer, month: str) -> QuerySet[InvoiceRequest]:
    """The buyer's invoices issued (by issue date) in ``month`` (YYYY-MM)."""
    first, following = parse_month(month)
    return (invoices_of_buyer(buyer=buyer)
            .filter(status=InvoiceStatus.ISSUED, issued_on__gte=first,
                    issued_on__lt=following)
            .order_by("issued_on", "invoice_number", "id"))


def issued_total(*, buyer, month: str) -> Decimal:
    """What the buyer's invoices issued in ``month`` add up to."""
    total = issued_in_month(buyer=buyer, month=month).aggregate(t=Sum("amount"))["t"]
    return quantize_money(total or 0)


# --- the merchant's ------------------------------------------------------------------------


def invoices_of_merchant(*, merchant: Merchant, status: str = "") -> QuerySet[InvoiceRequest]:
    qs = (InvoiceRequest.objects.filter(merchant=merchant)
          .select_related("order", "order__buyer"))
    if status:
        qs = qs.filter(status=status)
    # Open requests oldest first (the queue); decided ones newest first.
    return qs.order_by("requested_at", "id") if status == InvoiceStatus.REQUESTED \
        else qs.order_by("-requested_at", "-id")


def invoice_of_merchant(*, merchant: Merchant, invoice_id: int) -> InvoiceRequest:
    found = invoices_of_merchant(merchant=merchant).filter(pk=invoice_id).first()
    if found is None:
        raise Http404
    return found


# --- files ---------------------------------------------------------------------------------


def pdf_name(invoice: InvoiceRequest) -> str:
    return f"发票-{invoice.invoice_number}-{invoice.order.number}.pdf"


def invoice_pdf_response(invoice: InvoiceRequest):
    """The issued invoice's PDF, to whoever the caller has checked may read it: served as
    a download with the uploads' sandboxing headers (404 when there is none)."""
    if invoice.status != InvoiceStatus.ISSUED or not invoice.pdf:
        raise Http404
    response = uploads.serve_file(invoice.pdf.storage, invoice.pdf.name, private=True)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=pdf_name(invoice))
    return response


def summary_header() -> list[str]:
    return [_("Invoice number"), _("Issue date"), _("Order number"), _("Shop"),
            _("Invoice title"), _("Taxpayer number"), _("Invoice type"), _("Amount (yuan)"),
            _("PDF file")]


class _Sink:
    """A write-only file for ``zipfile`` that hands its bytes to a generator (zipfile
    writes data descriptors when the file cannot seek, so nothing is held whole)."""

    def __init__(self):
        self.chunks: list[bytes] = []

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def summary_csv(invoices: list[InvoiceRequest], names: dict[int, str]) -> bytes:
    """The month's summary: one row per invoice and a total row (UTF-8 with a byte-order
    mark, so that spreadsheets read the Chinese names)."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(summary_header())
    total = Decimal("0.00")
    for inv in invoices:
        total += inv.amount
        writer.writerow([inv.invoice_number, inv.issued_on.isoformat(), inv.order.number,
                         inv.merchant.name, inv.title, inv.taxpayer_number,
                         inv.get_invoice_type_display(), f"{inv.amount:.2f}",
                         names.get(inv.pk, "")])
    writer.writerow([_("Total"), "", "", "", "", "", "", f"{quantize_money(total):.2f}", ""])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _archive_chunks(invoices: list[InvoiceRequest], month: str) -> Iterator[bytes]:
    sink = _Sink()
    names: dict[int, str] = {}
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for inv in invoices:
            if not inv.pdf:
                continue
            name = pdf_name(inv)
            try:
                handle = inv.pdf.storage.open(inv.pdf.name, "rb")
            except OSError:  # a file gone from storage: listed in the CSV without it
                continue
            names[inv.pk] = name
            with handle, archive.open(name, "w") as member:
                while chunk := handle.read(64 * 1024):
                    member.write(chunk)
                    yield sink.take()
        archive.writestr(f"发票汇总-{month}.csv", summary_csv(invoices, names))
    yield sink.take()


def month_archive_response(*, buyer, month: str) -> StreamingHttpResponse:
    """All the buyer's invoices issued in ``month`` as one ZIP, streamed: each e-invoice
    PDF the merchants uploaded and a CSV summary of every issued invoice of the month (a
    month without any gives a ZIP holding the summary's header and a zero total)."""
    invoices = list(issued_in_month(buyer=buyer, month=month))
    response = StreamingHttpResponse(_archive_chunks(invoices, month),
                                     content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"发票-{month}.zip")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
