"""Card payments of checkouts: charged once per idempotency key, authenticated, synced with
the gateway's PaymentIntent, and applied through the payment's transitions (a success
marks the checkout paid and books it into escrow)."""

from __future__ import annotations

import logging

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError, ConflictError
from core.idempotency import (
    idempotency_check,
    idempotency_find,
    idempotency_mismatch,
    idempotency_record,
    key_owner,
)
from core.models import IdempotencyKey
from core.money import to_fen
from core.writes import lock, recorded_by_the_row, transition
from orders import services as order_services
from orders.assisted import assert_confirmed
from orders.models import Checkout, CheckoutStatus
from payments.gateway import stripe_client
from payments.models import Payment, PaymentStatus

from .booking import _book_capture
from .charges import Card, _clean_card, charge_outcome_unknown, decline_message
from .gateway_refunds import PLATFORM_ORIGIN

log = logging.getLogger(__name__)

OPEN = (PaymentStatus.CREATED, PaymentStatus.REQUIRES_ACTION)
SCOPE = Payment.KEY_SCOPE


def checkout_assert_payable(checkout: Checkout) -> None:
    """Raise unless the (locked) checkout can be paid now, by card or otherwise."""
    _payable(checkout)
    if Payment.objects.filter(checkout=checkout, status__in=OPEN).exists():
        raise ApplicationError(_("A card payment of this checkout is in progress; finish or "
                                 "cancel it first."), code="payment_in_progress")


def _payable(checkout: Checkout) -> None:
    if checkout.status == CheckoutStatus.PAID:
        raise ApplicationError(_("This checkout is paid already."), code="already_paid")
    if checkout.status != CheckoutStatus.PENDING_PAYMENT:
        raise ApplicationError(_("This checkout was cancelled; place a new order."),
                               code="cancelled")
    if checkout.reserved_until <= timezone.now():
        raise ApplicationError(_("The time to pay has run out; place the order again."),
                               code="expired")
    assert_confirmed(checkout)  # an assisted order is paid once its customer confirmed it


def checkout_pay(*, checkout: Checkout, buyer, card: Card, idempotency_key: str,
                 fingerprint: str = "") -> Payment:
    """Charge the buyer's card for the whole checkout (one PaymentIntent).

    Returns the Payment: succeeded (orders are paid), requires_action (the bank wants
    authentication; the stock stays reserved), or failed (declined; the stock stays
    reserved until the checkout expires, so another card may be tried).
    """
    key = (idempotency_key or "").strip()
    if not key or len(key) > 80:
        raise ValidationError({"idempotency_key": [_("A payment needs an idempotency key.")]})
    if checkout.buyer_id != buyer.pk:
        raise ApplicationError(_("This checkout is not yours."), code="not_found")
    owner = key_owner(user=buyer)
    earlier = idempotency_find(scope=SCOPE, owner=owner, key=key)
    if earlier is not None:
        return _replay(earlier, checkout=checkout, fingerprint=fingerprint)
    card_params = _clean_card(card)
    try:
        with transaction.atomic():
            locked = Checkout.objects.select_for_update().get(pk=checkout.pk)
            # The same key sent twice at once: the first is committed now.
            earlier = idempotency_find(scope=SCOPE, owner=owner, key=key)
            if earlier is not None:
                return _replay(earlier, checkout=checkout, fingerprint=fingerprint)
            _payable(locked)
            if Payment.objects.filter(checkout=locked, status=PaymentStatus.CREATED).exists():
                raise ConflictError(_("A payment of this checkout is in progress."),
                                    code="payment_in_progress")
            # The gateway's key: the client's, as this buyer sent it.
            payment = Payment.objects.create(checkout=locked,
                                             idempotency_key=f"u{buyer.pk}:{key}",
                                             amount_fen=to_fen(locked.cash_due),
                                             card_last4=card_params["number"][-4:])
            idempotency_record(scope=SCOPE, owner=owner, key=key, fingerprint=fingerprint,
                               target_id=payment.pk)
    except IntegrityError:  # the same key, at the same moment, for another checkout
        earlier = idempotency_find(scope=SCOPE, owner=owner, key=key)
        if earlier is None:
            raise
        return _replay(earlier, checkout=checkout, fingerprint=fingerprint)
    # Committed before the gateway is called: a retry with this key finds the row.
    _cancel_other_open_intents(payment)
    if Checkout.objects.filter(pk=checkout.pk, status=CheckoutStatus.PAID).exists():
        # An earlier attempt's authentication completed meanwhile: nothing more to charge.
        _apply(payment, status="canceled")
        raise ApplicationError(_("This checkout is paid already."), code="already_paid")
    client = stripe_client()
    try:
        method = client.v1.payment_methods.create(
            params={"type": "card", "card": card_params},
            options={"idempotency_key": f"{payment.idempotency_key}:pm"})
        intent = client.v1.payment_intents.create(
            params={"amount": payment.amount_fen, "currency": payment.currency,
                    "payment_method": method.id, "confirm": True,
                    "metadata": {"checkout": checkout.number,
                                 "payment_key": payment.idempotency_key}},
            options={"idempotency_key": payment.idempotency_key})
    except stripe.CardError as exc:
        intent_id = ((exc.json_body or {}).get("error", {}).get("payment_intent") or {}).get("id")
        error = (exc.json_body or {}).get("error", {})
        return _apply(payment, status="requires_payment_method", intent_id=intent_id,
                      message=decline_message(error.get("decline_code") or exc.code))
    except stripe.StripeError as exc:
        log.warning("gateway error paying %s: %s", checkout.number, exc)
        if not charge_outcome_unknown(exc):
            _apply(payment, status="failed_to_start",
                   message=_("The card service refused the request; nothing was charged."))
            raise ApplicationError(_("The card service did not answer; nothing was charged. "
                                     "Try again."), code="gateway_unavailable") from exc
        # The request may have reached the gateway and charged the card: the payment stays
        # open and reconciliation (``reconcile_payments``) finds out what happened.
        raise ApplicationError(_("The card service did not answer. We are checking whether "
                                 "the card was charged; do not pay again — this page shows "
                                 "the result within a few minutes."),
                               code="gateway_unavailable") from exc
    return _apply_intent(payment, intent)


def _replay(earlier: IdempotencyKey, *, checkout: Checkout, fingerprint: str) -> Payment:
    """A request with a key used before: the first payment if it is the same request and
    has its answer; 422 for another request, 409 while the first is in flight."""
    existing = Payment.objects.get(pk=earlier.target_id)
    if existing.checkout_id != checkout.pk:
        raise idempotency_mismatch()
    idempotency_check(stored=earlier.fingerprint, fingerprint=fingerprint,
                      in_flight=existing.status == PaymentStatus.CREATED)
    return existing


def _cancel_other_open_intents(payment: Payment) -> None:
    """A new attempt cancels earlier ones still waiting for authentication, so that one
    checkout can never be charged twice."""
    for other in Payment.objects.filter(checkout_id=payment.checkout_id,
                                        status=PaymentStatus.REQUIRES_ACTION).exclude(
            pk=payment.pk):
        payment_cancel_at_gateway(other)


def payment_cancel_at_gateway(payment: Payment) -> Payment:
    if not payment.intent_id:
        return _apply(payment, status="canceled")
    client = stripe_client()
    try:
        intent = client.v1.payment_intents.cancel(payment.intent_id)
    except stripe.InvalidRequestError:
        # Not cancellable: it finished meanwhile. Take it as it is.
        intent = client.v1.payment_intents.retrieve(payment.intent_id)
    return _apply_intent(payment, intent)


def payment_authenticate(*, payment: Payment, success: bool) -> Payment:
    """Development and tests only: the local server's stand-in for the bank's 3-D Secure
    page. With Stripe itself, the shopper authenticates on Stripe's page (next_action)."""
    if not settings.STRIPE_API_BASE:
        raise ApplicationError(_("Authentication happens on the card issuer's page."))
    if payment.status != PaymentStatus.REQUIRES_ACTION or not payment.intent_id:
        raise ApplicationError(_("This payment needs no authentication."),
                               code="illegal_transition")
    client = stripe_client()
    intent = client.v1.payment_intents.retrieve(payment.intent_id)
    try:
        client.raw_request("post", f"/v1/payment_intents/{payment.intent_id}/_authenticate",
                           success="true" if success else "false",
                           client_secret=intent.client_secret)
    except stripe.StripeError as exc:
        log.info("authentication of %s: %s", payment.intent_id, exc)
    return payment_sync(payment)


def payment_sync(payment: Payment) -> Payment:
    """Ask the gateway how the payment stands now and apply it."""
    if not payment.intent_id:
        return payment
    intent = stripe_client().v1.payment_intents.retrieve(payment.intent_id)
    return _apply_intent(payment, intent)


def _apply_intent(payment: Payment, intent) -> Payment:
    data = intent.to_dict() if hasattr(intent, "to_dict") else dict(intent)
    error = data.get("last_payment_error") or {}
    return _apply(payment, status=data.get("status", ""), intent_id=data.get("id"),
                  message=decline_message(error.get("decline_code") or error.get("code"))
                  if error else "")


GATEWAY_STATUS = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "requires_confirmation": PaymentStatus.REQUIRES_ACTION,
    "processing": PaymentStatus.CREATED,
    "requires_payment_method": PaymentStatus.FAILED,
    "failed_to_start": PaymentStatus.FAILED,
    "canceled": PaymentStatus.CANCELED,
}


@transaction.atomic
def _apply(payment: Payment, *, status: str, intent_id: str | None = None,
           message: str = "") -> Payment:
    payment = lock(payment)
    target = GATEWAY_STATUS.get(status)
    if intent_id and not payment.intent_id:
        payment.intent_id = intent_id
    # Payment.STATES: what may follow what; a payment never leaves a final state.
    if target is None or target not in Payment.STATES.successors(payment.status):
        payment.save()
        return payment
    if target == PaymentStatus.SUCCEEDED:
        return _succeed(payment)
    if target == PaymentStatus.FAILED:
        payment.failure_message = (message or _("The card was declined."))[:300]
    transition(payment, _ACTIONS[target], audit=recorded_by_the_row)
    return payment


# The action of Payment.STATES that leads to each status the gateway reports.
_ACTIONS = {PaymentStatus.REQUIRES_ACTION: "require_action", PaymentStatus.FAILED: "fail",
            PaymentStatus.CANCELED: "cancel"}


def _succeed(payment: Payment) -> Payment:
    """The money is ours: mark the checkout paid and book it into escrow, once. Money for
    a checkout that was cancelled meanwhile, or that another attempt already paid, goes
    straight back to the card."""
    checkout = Checkout.objects.select_for_update().get(pk=payment.checkout_id)
    paid_by_other = Payment.objects.filter(checkout=checkout,
                                           status=PaymentStatus.SUCCEEDED).exclude(
        pk=payment.pk).exists()
    # Paid otherwise meanwhile (another card payment, or financing from a bank).
    paid_by_other = paid_by_other or checkout.status == CheckoutStatus.PAID
    if checkout.status == CheckoutStatus.CANCELLED or paid_by_other:
        reason = "duplicate payment" if paid_by_other else "checkout cancelled before payment"
        _refund_whole_payment(payment, reason=reason)
        return payment
    transition(payment, "succeed", audit=recorded_by_the_row)
    order_services.checkout_mark_paid(checkout=checkout)
    _book_capture(checkout, payment)
    return payment


def _refund_whole_payment(payment: Payment, *, reason: str) -> None:
    refund = stripe_client().v1.refunds.create(
        params={"payment_intent": payment.intent_id,
                "metadata": {"reason": reason, **PLATFORM_ORIGIN}},
        options={"idempotency_key": f"returned:{payment.pk}"})
    log.warning("returned payment %s (%s)", payment.intent_id, reason)
    # No escrow was booked for it, so no postings move; the payment records the refund.
    payment.late_refund_reference = refund.id
    payment.failure_message = {
        "duplicate payment": _("This checkout was already paid; this charge was refunded."),
    }.get(reason, _("The order was cancelled before the payment arrived; it was refunded."))
    transition(payment, "return", audit=recorded_by_the_row)
