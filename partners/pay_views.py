"""The card page a partner's customer opens from the order's signed pay link (on the
storefront of the merchant's bank), without signing in: the partner's customers have no
account here. The charge is the shoppers' (``payments.card_entry``), with the
partner's system user, the checkout's buyer, as the payer of record."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from orders.models import CheckoutStatus
from partners.ordering import checkout_of_pay_link
from payments import card_entry
from payments import selectors as payment_selectors
from payments.models import PaymentStatus


def _page(request, checkout, *, errors=None, message="", status=200):
    return render(request, "partners/pay.html", {
        "checkout": checkout,
        "orders": sorted(checkout.orders.all(), key=lambda o: o.number),
        "idempotency_key": uuid.uuid4().hex,
        "errors": errors or {},
        "message": message,
        "expired": checkout.reserved_until <= timezone.now(),
        "cards_here": settings.PAYMENTS_SERVER_SIDE_CARDS,
        "held_until": f"{timezone.localtime(checkout.reserved_until):%H:%M}",
    }, status=status)


def pay(request, token: str):
    checkout = checkout_of_pay_link(token, bank=getattr(request, "bank", None))
    if checkout is None:
        raise Http404(_("This pay link is not valid (or has expired)."))
    if request.method != "POST" or checkout.status != CheckoutStatus.PENDING_PAYMENT:
        return _page(request, checkout)
    attempt = card_entry.charge_posted_card(request, checkout=checkout, payer=checkout.buyer)
    payment = attempt.payment
    if payment is None:
        checkout.refresh_from_db()
        refusal = attempt.refusal
        if refusal is None:
            return _page(request, checkout, errors=attempt.errors, status=400)
        return _page(request, checkout, message=refusal.message,
                     status=200 if refusal.code == "already_paid" else 400)
    checkout.refresh_from_db()
    if payment.status == PaymentStatus.SUCCEEDED:
        return _page(request, checkout)
    if payment.status == PaymentStatus.REQUIRES_ACTION:
        return redirect("partner_pay:authenticate", token, payment.pk)
    if payment.status == PaymentStatus.FAILED:
        message = _("The card was declined (%(reason)s); try another card.") % {
            "reason": card_entry.decline_reason(payment)}
    else:
        message = _("The payment did not go through. Try again.")
    return _page(request, checkout, message=message, status=400)


def authenticate(request, token: str, payment_id: int):
    """The card issuer's check (3-D Secure) of a payment made on the pay link: the same
    service and page as the shoppers' (``payments.services.payment_authenticate``); the
    signed link, not a sign-in, says whose checkout it is."""
    checkout = checkout_of_pay_link(token, bank=getattr(request, "bank", None))
    if checkout is None:
        raise Http404(_("This pay link is not valid (or has expired)."))
    payment = payment_selectors.payment_of_checkout(checkout=checkout, payment_id=payment_id)
    if payment.status != PaymentStatus.REQUIRES_ACTION:
        return redirect("partner_pay:pay", token)
    if request.method == "POST":
        try:
            payment = card_entry.answer_issuer(request, payment=payment)
        except ApplicationError as exc:
            return _page(request, checkout, message=exc.message, status=400)
        checkout.refresh_from_db()
        if payment.status == PaymentStatus.SUCCEEDED:
            return _page(request, checkout)
        return _page(request, checkout, status=400, message=_(
            "The card was not authenticated; try again or use another card."))
    return card_entry.issuer_page(request, payment=payment, checkout=checkout)
