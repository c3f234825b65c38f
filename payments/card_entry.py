"""What every page that takes a card for a checkout does, once: read the posted card,
charge it through ``payments.services.checkout_pay``, take the issuer's answer through
``payments.services.payment_authenticate``, and show the local issuer's page.

The shoppers' card page (``payments.views``), the branch desk (``payments.desk_views``)
and a partner's pay link (``partners.pay_views``) use these; each page only decides
where to go next and what to say. Pages of loans and the points mall show the same test
cards (``card_entry_context``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.errors import ApplicationError, validation_errors
from payments import services
from payments.forms import split_expiry
from payments.models import Payment

TEST_CARDS = [
    ("4242 4242 4242 4242", "succeeds"),
    ("4000 0000 0000 0341", "declined"),
    ("4000 0027 6000 3184", "authentication"),
]


def card_entry_context() -> dict:
    """What every page that takes a card shows: the local server's test cards, and
    whether cards may be typed on our pages at all."""
    return {"test_cards": TEST_CARDS if settings.STRIPE_API_BASE else [],
            "cards_here": settings.PAYMENTS_SERVER_SIDE_CARDS}


@dataclass(frozen=True)
class CardAttempt:
    """One submit of a card form: the payment it made or found, or why none was made
    (``errors`` for input the service refused field by field, ``refusal`` for a rule)."""

    payment: Payment | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    refusal: ApplicationError | None = None

    def field_errors(self) -> dict[str, list[str]]:
        """Why no payment was made, as a form's errors (a rule's refusal under its field,
        or the form as a whole)."""
        if self.refusal is None:
            return self.errors
        return {self.refusal.field or "non_field_errors": [self.refusal.message]}


def charge_posted_card(request, *, checkout, payer) -> CardAttempt:
    """Charge the card posted in ``request`` (fields number, exp, cvc, idempotency_key)
    for ``checkout``; the same key finds the payment an earlier submit made."""
    month, year = split_expiry(request.POST.get("exp", ""))
    card = services.Card(request.POST.get("number", ""), month, year,
                         request.POST.get("cvc", ""))
    try:
        payment = services.checkout_pay(
            checkout=checkout, buyer=payer, card=card,
            idempotency_key=request.POST.get("idempotency_key", ""))
    except ValidationError as exc:
        return CardAttempt(errors=validation_errors(exc))
    except ApplicationError as exc:
        return CardAttempt(refusal=exc)
    return CardAttempt(payment=payment)


def decline_reason(payment: Payment) -> str:
    """The gateway's reason for a declined card, as a clause for a sentence."""
    return (payment.failure_message or "").rstrip(".") or _("no reason given")


def answer_issuer(request, *, payment: Payment) -> Payment:
    """The cardholder's answer on the issuer's page (approve or refuse) for a payment
    waiting for it; raises ``ApplicationError`` when the payment cannot take one."""
    return services.payment_authenticate(
        payment=payment, success=request.POST.get("result") == "approve")


def issuer_page(request, *, payment: Payment, checkout):
    """The local stand-in for the card issuer's 3-D Secure page (with Stripe itself the
    issuer's page is Stripe's)."""
    return render(request, "payments/authenticate.html", {
        "payment": payment, "checkout": checkout, "amount": checkout.total,
        "local": bool(settings.STRIPE_API_BASE)})
