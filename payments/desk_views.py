"""Taking the payment of an assisted order at the branch desk (bank console,
/console/desk/pay/<number>/): cash or the branch's terminal, recorded with its receipt
number, or the customer's card keyed in at the desk."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from banks.permissions import bank_staff_required
from core.errors import ApplicationError, validation_errors
from orders.assisted_selectors import assisted_order
from orders.models import CheckoutStatus
from payments import card_entry, desk, services
from payments.models import PaymentStatus


@bank_staff_required()
@require_http_methods(["GET", "POST"])
def desk_pay(request, number: str):
    assisted = assisted_order(bank=request.bank, number=number)
    checkout = assisted.checkout
    if checkout.status != CheckoutStatus.PENDING_PAYMENT:
        return redirect("console_desk:detail", number)
    errors: dict[str, list[str]] = {}
    method = request.POST.get("method", "")
    if request.method == "POST":
        try:
            if method == "desk":
                desk.checkout_pay_at_desk(checkout=checkout, staff=request.user,
                                          branch=assisted.branch,
                                          receipt_number=request.POST.get("receipt_number", ""))
                messages.success(request, _("Paid at the desk: ¥%(amount)s.")
                                 % {"amount": checkout.cash_due})
                return redirect("console_desk:detail", number)
            if method == "card":
                attempt = card_entry.charge_posted_card(request, checkout=checkout,
                                                        payer=checkout.buyer)
                payment = attempt.payment
                if payment is None:
                    errors = attempt.field_errors()
                elif payment.status == PaymentStatus.SUCCEEDED:
                    messages.success(request, _("Paid by card: ¥%(amount)s.")
                                     % {"amount": checkout.cash_due})
                    return redirect("console_desk:detail", number)
                elif payment.status == PaymentStatus.REQUIRES_ACTION:
                    services.payment_cancel_at_gateway(payment)
                    errors = {"card": [_("This card asks for authentication, which the desk "
                                         "cannot do; use another card or pay at the desk.")]}
                else:
                    errors = {"card": [payment.failure_message or _("The card was declined.")]}
            else:
                errors = {"method": [_("Choose how the customer pays.")]}
        except ValidationError as exc:
            errors = validation_errors(exc)
        except ApplicationError as exc:
            errors = {exc.field or "non_field_errors": [exc.message]}
        checkout.refresh_from_db()
        if checkout.status == CheckoutStatus.PAID:
            return redirect("console_desk:detail", number)
    return render(request, "payments/desk/pay.html", {
        "membership": request.membership, "assisted": assisted, "checkout": checkout,
        "errors": errors, "method": method, "idempotency_key": uuid.uuid4().hex,
        "receipt_number": request.POST.get("receipt_number", "")[:40],
    }, status=400 if errors else 200)
