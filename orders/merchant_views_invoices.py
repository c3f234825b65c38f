"""The merchant console's invoice pages, under /merchant/<merchant_id>/invoices/ on the
domain of the bank that admitted the merchant: the requests to answer (and those
answered), one request with the forms to issue it (number, date, e-invoice PDF) or
reject it with a reason, and the PDF.

The merchant comes from ``merchant_for_member`` and every request from the merchant's own,
so a member of another shop gets 404; the services decide and their messages are shown.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from catalog.selectors import merchant_for_member
from core.errors import ApplicationError
from core.forms import add_service_errors
from core.uploads import UploadFormField
from orders import selectors_invoices as invoices
from orders import services
from orders.models import InvoiceStatus

TABS = [
    ("requested", gettext_lazy("To issue"), InvoiceStatus.REQUESTED),
    ("issued", gettext_lazy("Issued"), InvoiceStatus.ISSUED),
    ("rejected", gettext_lazy("Rejected"), InvoiceStatus.REJECTED),
    ("all", gettext_lazy("All"), ""),
]


class IssueForm(forms.Form):
    invoice_number = forms.CharField(
        label=gettext_lazy("Invoice number"), max_length=30,
        help_text=gettext_lazy("8 digits, or 20 for a fully digital e-invoice."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off",
                                      "spellcheck": "false"}))
    issued_on = forms.DateField(label=gettext_lazy("Issue date"),
                                widget=forms.DateInput(attrs={"type": "date"},
                                                       format="%Y-%m-%d"))
    pdf = UploadFormField(label=gettext_lazy("E-invoice PDF (optional)"), policy="invoice",
                          required=False)


class RejectForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Why the invoice is not issued"),
                             max_length=300, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))


def _merchant(request, merchant_id: int):
    return merchant_for_member(user=request.user, bank=request.bank, merchant_id=merchant_id)


@login_required
def invoice_list(request, merchant_id: int):
    merchant = _merchant(request, merchant_id)
    per_status = dict(invoices.invoices_of_merchant(merchant=merchant).order_by()
                      .values_list("status").annotate(n=Count("pk")))
    tabs = [{"key": key, "label": label, "status": status,
             "count": per_status.get(status, 0) if status else sum(per_status.values())}
            for key, label, status in TABS]
    current = next((t for t in tabs if t["key"] == request.GET.get("tab")), tabs[0])
    found = invoices.invoices_of_merchant(merchant=merchant, status=current["status"])
    page = Paginator(found, 30).get_page(request.GET.get("page"))
    return render(request, "orders/invoices/merchant_list.html", {
        "merchant": merchant, "tabs": tabs, "tab": current, "page": page})


def _detail(request, merchant, invoice, *, issue_form=None, reject_form=None, status=200):
    order = invoice.order
    return render(request, "orders/invoices/merchant_detail.html", {
        "merchant": merchant, "invoice": invoice, "order": order,
        "amount": invoices.invoice_amount(order),
        "refund_open": order.status == "refund_requested",
        "issue_form": issue_form or IssueForm(initial={"issued_on": timezone.localdate()}),
        "reject_form": reject_form or RejectForm(),
        "open_form": "reject" if reject_form is not None else "",
    }, status=status)


@login_required
def invoice_detail(request, merchant_id: int, invoice_id: int):
    merchant = _merchant(request, merchant_id)
    return _detail(request, merchant,
                   invoices.invoice_of_merchant(merchant=merchant, invoice_id=invoice_id))


def _refused(form, exc) -> None:
    if isinstance(exc, ValidationError):
        add_service_errors(form, exc)
    else:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@login_required
@require_POST
def invoice_issue(request, merchant_id: int, invoice_id: int):
    merchant = _merchant(request, merchant_id)
    invoice = invoices.invoice_of_merchant(merchant=merchant, invoice_id=invoice_id)
    form = IssueForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.invoice_issue(invoice=invoice, actor=request.user,
                                   invoice_number=form.cleaned_data["invoice_number"],
                                   issued_on=form.cleaned_data["issued_on"],
                                   pdf=form.cleaned_data["pdf"])
        except (ValidationError, ApplicationError) as exc:
            _refused(form, exc)
        else:
            messages.success(request, _("Invoice issued: the buyer sees it on the order."))
            return redirect("merchant_invoices:detail", merchant.pk, invoice.pk)
    messages.error(request, _("Not done: see the message below."))
    invoice = invoices.invoice_of_merchant(merchant=merchant, invoice_id=invoice_id)
    return _detail(request, merchant, invoice, issue_form=form, status=400)


@login_required
@require_POST
def invoice_reject(request, merchant_id: int, invoice_id: int):
    merchant = _merchant(request, merchant_id)
    invoice = invoices.invoice_of_merchant(merchant=merchant, invoice_id=invoice_id)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            services.invoice_reject(invoice=invoice, actor=request.user,
                                    reason=form.cleaned_data["reason"])
        except (ValidationError, ApplicationError) as exc:
            _refused(form, exc)
        else:
            messages.success(request, _("Request rejected; the buyer sees your reason."))
            return redirect("merchant_invoices:list", merchant.pk)
    messages.error(request, _("Not done: see the message below."))
    invoice = invoices.invoice_of_merchant(merchant=merchant, invoice_id=invoice_id)
    return _detail(request, merchant, invoice, reject_form=form, status=400)


@login_required
def invoice_pdf(request, merchant_id: int, invoice_id: int):
    merchant = _merchant(request, merchant_id)
    return invoices.invoice_pdf_response(
        invoices.invoice_of_merchant(merchant=merchant, invoice_id=invoice_id))
