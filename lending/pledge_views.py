"""Pledge loan pages: the merchant's (/merchant/<id>/financing/pledges/: the receipts it
may pledge to this bank, with what the bank would lend, and its pledge applications) and
the credit officers' margin calls (/console/lending/margin-calls/). Officers decide pledge
applications in the usual application queue. Writes call ``lending.services``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from banks.models import StaffRole
from banks.permissions import bank_staff_required
from catalog.selectors import merchant_for_member
from core.errors import ApplicationError
from lending import selectors, services
from warehouses import selectors as warehouse_selectors
from warehouses.models import ReceiptStatus


def _errors(exc: Exception) -> list[str]:
    if isinstance(exc, ApplicationError):
        return [exc.message]
    if hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(getattr(exc, "messages", [str(exc)]))


def _pledges_page(request, merchant, *, errors=(), status: int = 200):
    bank = request.bank
    receipts = (warehouse_selectors.receipts_of_holder(merchant=merchant)
                .filter(bank=bank, status__in=[ReceiptStatus.VALID, ReceiptStatus.RELEASED]))
    rows = [{"receipt": r, "quote": services.pledge_quote(bank=bank, receipt=r)}
            for r in receipts[:100]]
    return render(request, "lending/merchant/pledges.html", {
        "merchant": merchant, "rows": rows, "errors": list(errors),
        "applications": list(selectors.pledge_applications(merchant_id=merchant.pk)[:100]),
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def merchant_pledges(request, merchant_id: int):
    merchant = merchant_for_member(user=request.user, bank=request.bank,
                                   merchant_id=merchant_id)
    if request.method == "GET":
        return _pledges_page(request, merchant)
    text = str(request.POST.get("receipt", "")).strip()
    receipt = None
    if text.isdigit() and len(text) < 19:
        receipt = (warehouse_selectors.receipts_of_holder(merchant=merchant)
                   .filter(pk=int(text)).first())
    if receipt is None:
        return _pledges_page(request, merchant, errors=[_("Choose a receipt you hold.")],
                             status=400)
    try:
        services.pledge_apply(bank=request.bank, receipt=receipt, actor=request.user,
                              amount=request.POST.get("amount") or None)
    except (ValidationError, ApplicationError, ArithmeticError) as exc:
        errors = ([_("Enter an amount in yuan.")] if isinstance(exc, ArithmeticError)
                  else _errors(exc))
        return _pledges_page(request, merchant, errors=errors, status=400)
    messages.success(request, _("Your pledge loan application is with the bank's credit "
                                "officers."))
    return redirect("merchant_lending:pledges", merchant.pk)


@bank_staff_required(StaffRole.CREDIT_OFFICER, StaffRole.BANK_ADMIN)
@require_http_methods(["GET", "POST"])
def console_margin_calls(request):
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        text = str(request.POST.get("call", "")).strip()
        sell = request.POST.get("do") == "sell"
        try:
            if not text.isdigit() or len(text) > 18:
                raise ValidationError({"call": [_("Choose a margin call.")]})
            call = selectors.margin_call_get(call_id=int(text))
            if sell:
                services.pledge_collateral_sale(bank=request.bank, loan=call.loan,
                                                actor=request.user,
                                                note=request.POST.get("note", ""))
            else:
                services.margin_call_close(bank=request.bank, call=call,
                                           officer=request.user,
                                           note=request.POST.get("note", ""))
        except (ValidationError, ApplicationError) as exc:
            errors, status = _errors(exc), 400
        else:
            messages.success(request, _("The pledged goods are on sale; their orders repay "
                                        "the loan first.") if sell
                             else _("The margin call is closed."))
            return redirect("console_lending:margin-calls")
    return render(request, "lending/console/margin_calls.html", {
        "calls": list(selectors.margin_calls()[:200]), "errors": errors}, status=status)
