"""The shopper's invoice pages (发票): ask for an invoice on an order (the taxpayer number
is asked for business titles only; the page works without script, the service decides),
withdraw the request, download the e-invoice PDF; "my invoices" by month and a month's
archive (a ZIP of the PDFs with a CSV summary).

Thin: writes are ``orders.services`` calls, reads ``orders.selectors_invoices`` calls
scoped to the shopper (someone else's order is a 404).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, validation_errors
from orders import selectors, services
from orders import selectors_invoices as invoices
from orders.models import InvoiceTitleKind, InvoiceType

FIELDS = ("kind", "invoice_type", "title", "taxpayer_number", "email", "address_phone",
          "bank_name", "bank_account")


def _initial(user) -> dict:
    """A business buyer starts with a business title in their business's name."""
    business = user.is_business_buyer
    return {"kind": InvoiceTitleKind.BUSINESS if business else InvoiceTitleKind.INDIVIDUAL,
            "invoice_type": InvoiceType.PLAIN,
            "title": (user.business_name if business else user.display_name) or "",
            "taxpayer_number": "", "email": user.email or "", "address_phone": "",
            "bank_name": "", "bank_account": ""}


@login_required
def invoice_request(request, number: str):
    order = selectors.order_of_buyer(buyer=request.user, number=number)
    box = invoices.invoice_box(order=order)
    errors: dict[str, list[str]] = {}
    data = _initial(request.user)
    status = 200
    if request.method == "POST":
        data = {key: request.POST.get(key, "").strip() for key in FIELDS}
        try:
            services.invoice_request(order=order, actor=request.user, **data)
        except ValidationError as exc:
            errors, status = validation_errors(exc), 400
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("orders:order", order.number)
        else:
            messages.success(request, _("Invoice requested. The shop issues it soon; you "
                                        "will find it on the order page."))
            return redirect("orders:order", order.number)
    elif not box.can_ask:
        if box.blocker:
            messages.error(request, box.blocker)
        return redirect("orders:order", order.number)
    return render(request, "orders/invoices/request.html", {
        "order": order, "box": box, "data": data, "errors": errors,
        "general_errors": [m for k, msgs in errors.items() if k not in FIELDS for m in msgs],
        "kinds": InvoiceTitleKind.choices, "types": InvoiceType.choices,
    }, status=status)


@login_required
@require_POST
def invoice_withdraw(request, number: str):
    selectors.order_of_buyer(buyer=request.user, number=number)
    invoice = invoices.invoice_of_buyer(buyer=request.user, number=number)
    try:
        services.invoice_withdraw(invoice=invoice, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invoice request withdrawn."))
    return redirect("orders:order", number)


@login_required
def invoice_pdf(request, number: str):
    return invoices.invoice_pdf_response(
        invoices.invoice_of_buyer(buyer=request.user, number=number))


def _month(request) -> tuple[str, str]:
    """(the month asked for, as YYYY-MM, or ""; the message when it is not a month)."""
    month = request.GET.get("month", "").strip()
    if not month:
        return "", ""
    try:
        invoices.parse_month(month)
    except ValidationError as exc:
        return "", " ".join(exc.messages)
    return month, ""


@login_required
def my_invoices(request):
    month, error = _month(request)
    found = (invoices.issued_in_month(buyer=request.user, month=month) if month
             else invoices.invoices_of_buyer(buyer=request.user))
    page = Paginator(found, 30).get_page(request.GET.get("page"))
    total = invoices.issued_total(buyer=request.user, month=month) if month else None
    return render(request, "orders/invoices/mine.html", {
        "page": page, "month": month, "error": error, "month_total": total,
        "this_month": timezone.localdate().strftime("%Y-%m"),
    }, status=400 if error else 200)


@login_required
def my_invoices_archive(request):
    month, error = _month(request)
    if not month:
        messages.error(request, error or _("Choose a month first."))
        return redirect("orders:my-invoices")
    return invoices.month_archive_response(buyer=request.user, month=month)
