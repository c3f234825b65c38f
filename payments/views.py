"""The card page of a checkout and the local stand-in for the card issuer's 3-D Secure page.

Only the checkout's buyer sees any of it (404 for everyone else). Each rendering of the card
form carries a fresh idempotency key: submitting the same form twice finds the payment the
first submit made (``payments.services.checkout_pay``) and never charges twice.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from orders.models import CheckoutStatus
from orders.selectors import checkout_of_buyer
from payments import card_entry, selectors, services
from payments.interfaces import payment_options
from payments.models import PaymentStatus


def _held_until(checkout) -> str:
    return f"{timezone.localtime(checkout.reserved_until):%H:%M}"


def _pay_page(request, checkout, *, errors=None, card=None, decline="", status=200):
    attempts = selectors.payments_of_checkout(checkout=checkout)
    waiting = next((p for p in reversed(attempts)
                    if p.status == PaymentStatus.REQUIRES_ACTION), None)
    return render(request, "payments/pay.html", {
        "checkout": checkout,
        "orders": sorted(checkout.orders.all(), key=lambda o: o.number),
        "idempotency_key": uuid.uuid4().hex,
        "errors": errors or {},
        "card": card or {},
        "decline": decline,
        "waiting": waiting,
        "held_until": _held_until(checkout),
        "expired": checkout.reserved_until <= timezone.now(),
        **card_entry.card_entry_context(),
        # Other ways to pay that outer apps offer on this host (a bank's credit).
        "other_options": payment_options(request=request, checkout=checkout),
    }, status=status)


@login_required
def pay(request, number: str):
    checkout = checkout_of_buyer(buyer=request.user, number=number)
    if checkout.status == CheckoutStatus.PAID:
        messages.info(request, _("This checkout is paid already."))
        return redirect("orders:checkout-detail", checkout.number)
    if request.method != "POST":
        return _pay_page(request, checkout)
    if checkout.status != CheckoutStatus.PENDING_PAYMENT:
        return _pay_page(request, checkout, status=400, decline=_(
            "This checkout was cancelled; place a new order."))

    shown = {"number": request.POST.get("number", ""), "exp": request.POST.get("exp", "")}
    attempt = card_entry.charge_posted_card(request, checkout=checkout, payer=request.user)
    payment = attempt.payment
    if payment is None:
        refusal = attempt.refusal
        if refusal is not None and refusal.code == "already_paid":
            messages.info(request, refusal.message)
            return redirect("orders:checkout-detail", checkout.number)
        checkout.refresh_from_db()
        return _pay_page(request, checkout, errors=attempt.errors, card=shown, status=400,
                         decline=refusal.message if refusal is not None else "")
    if payment.status == PaymentStatus.SUCCEEDED:
        messages.success(request, _("Payment received: ¥%(total)s. The shops will get to work.")
                         % {"total": checkout.total})
        return redirect("orders:checkout-detail", checkout.number)
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        return redirect("payments:authenticate", payment.pk)
    checkout.refresh_from_db()
    if payment.status == PaymentStatus.FAILED:
        decline = _("The card was declined (%(reason)s). The goods stay reserved until "
                    "%(time)s, try another card.") % {
            "reason": card_entry.decline_reason(payment), "time": _held_until(checkout)}
    else:
        decline = _("The payment did not go through. Try again.")
    return _pay_page(request, checkout, decline=decline, card={"exp": shown["exp"]},
                     status=400)


@login_required
@require_POST
def cancel(request, number: str):
    checkout = checkout_of_buyer(buyer=request.user, number=number)
    try:
        services.checkout_abandon(checkout=checkout, buyer=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Order cancelled. The goods were released."))
    return redirect("orders:checkout-detail", checkout.number)


@login_required
def authenticate(request, payment_id: int):
    """Development and tests only (the local card server): the card issuer's page asking
    the cardholder to approve the payment. With Stripe itself the issuer's page is Stripe's."""
    payment = selectors.payment_of_buyer(buyer=request.user, payment_id=payment_id)
    checkout = payment.checkout
    if payment.status == PaymentStatus.SUCCEEDED:
        return redirect("orders:checkout-detail", checkout.number)
    if payment.status != PaymentStatus.REQUIRES_ACTION:
        return redirect("payments:pay", checkout.number)
    if request.method == "POST":
        try:
            payment = card_entry.answer_issuer(request, payment=payment)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("payments:pay", checkout.number)
        if payment.status == PaymentStatus.SUCCEEDED:
            messages.success(request, _("Payment received: ¥%(total)s. The shops will get "
                                        "to work.") % {"total": checkout.total})
            return redirect("orders:checkout-detail", checkout.number)
        checkout.refresh_from_db()
        messages.error(request, _("The card was not authenticated. The goods stay reserved "
                                  "until %(time)s, try again or use another card.")
                       % {"time": _held_until(checkout)})
        return redirect("payments:pay", checkout.number)
    return card_entry.issuer_page(request, payment=payment, checkout=checkout)
