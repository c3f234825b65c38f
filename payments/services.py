"""Writes on payments: card payments of checkouts, webhook events, reconciliation, expiry
of unpaid checkouts, refunds at the gateway, and the double-entry ledger.

Idempotency: every call that moves money carries a key. For a payment the key is ours
(the card page renders one per attempt; the API takes the client's ``Idempotency-Key``):
the ``Payment`` row with that key is committed before the gateway is called, so a
repeated request finds it and never charges twice; the gateway gets the same key (Stripe
enforces it too; the local server does not). Ledger transactions are unique by
``(kind, reference)``, so the same movement is never booked twice.

State from the gateway: whatever tells us about a payment (the response to our call, a
webhook, the reconciliation task), we ask the gateway for the PaymentIntent as it is now
and apply that, so events arriving late, twice or out of order change nothing wrong.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from core.errors import ApplicationError, ConflictError
from core.idempotency import idempotency_check, idempotency_mismatch
from core.money import to_fen
from orders import services as order_services
from orders.models import Checkout, CheckoutStatus, Order, Refund
from payments.gateway import stripe_client
from payments.interfaces import CreditRefund, credit_refund, restore_points
from payments.ledger import Leg, ledger_account, ledger_post
from payments.models import (
    AccountKind,
    GatewayRefund,
    GatewayRefundStatus,
    Payment,
    PaymentStatus,
    WebhookEvent,
)

log = logging.getLogger(__name__)

OPEN = (PaymentStatus.CREATED, PaymentStatus.REQUIRES_ACTION)


# --- ledger --------------------------------------------------------------------------------
# The primitives live in ``payments.ledger`` (imported above), below both this module and
# the branch desk's (``payments.desk``), which share them.


def _book_capture(checkout: Checkout, payment: Payment) -> None:
    """Paid money into escrow, per merchant, on the merchant's bank's own accounts:
    debit the bank's card clearing, credit the merchant's escrow (the part paid with
    points is the storefront bank's: see ``points_legs``)."""
    legs: list[Leg] = []
    for order in checkout.orders.order_by("pk"):
        clearing = ledger_account(kind=AccountKind.CARD_CLEARING, bank_id=order.merchant_bank_id)
        escrow = ledger_account(kind=AccountKind.ESCROW, bank_id=order.merchant_bank_id,
                                merchant_id=order.merchant_id)
        cash = order.total - order.points_value
        legs += [Leg(escrow, -order.total, order)]
        if cash:
            legs.append(Leg(clearing, cash, order))
        legs += points_legs(checkout, order, order.points_value)
    ledger_post(kind="capture", reference=payment.intent_id or payment.idempotency_key,
                legs=legs, memo=f"checkout {checkout.number}", checkout=checkout)


def points_legs(checkout: Checkout, order: Order, value: Decimal) -> list[Leg]:
    """The storefront bank pays ``value`` of the order with its customer's points (its
    expense); when the merchant is another bank's, it owes that bank for it. Negate the
    legs' amounts to reverse them (a refund in points)."""
    if not value:
        return []
    lender, bank = checkout.storefront_bank_id, order.merchant_bank_id
    legs = [Leg(ledger_account(kind=AccountKind.POINTS_EXPENSE, bank_id=lender), value, order)]
    if lender != bank:
        legs += [
            Leg(ledger_account(kind=AccountKind.INTERBANK_PAYABLE, bank_id=lender,
                               counterparty_id=bank), -value, order),
            Leg(ledger_account(kind=AccountKind.INTERBANK_RECEIVABLE, bank_id=bank,
                               counterparty_id=lender), value, order),
        ]
    return legs


def _book_refund(refund: Refund, cash_legs: list[Leg] | None = None) -> None:
    """Money back to the card (or ``cash_legs``: back at a branch desk). Before
    settlement it comes out of the merchant's escrow;
    after, it is a clawback from what the bank owes the merchant (which may go negative
    and is then carried into the next payouts)."""
    from payments.models import SettlementItem

    order = refund.order
    clearing = ledger_account(kind=AccountKind.CARD_CLEARING, bank_id=order.merchant_bank_id)
    settled = SettlementItem.objects.filter(order=order).exists()
    source = ledger_account(
        kind=AccountKind.MERCHANT_PAYABLE if settled else AccountKind.ESCROW,
        bank_id=order.merchant_bank_id, merchant_id=order.merchant_id)
    # Cash back to the card; the part paid with points back to the bank that paid it.
    cash = refund.amount - refund.points_amount
    legs = [Leg(source, refund.amount, order)]
    if cash_legs is not None:
        legs += cash_legs
    elif cash:
        legs.append(Leg(clearing, -cash, order))
    legs += [Leg(leg.account, -leg.amount, order) for leg in
             points_legs(order.checkout, order, refund.points_amount)]
    ledger_post(kind="clawback" if settled else "refund", reference=str(refund.pk),
                legs=legs, memo=f"refund of {order.number}", refund=refund)


# --- card payments -------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    number: str
    exp_month: int | str
    exp_year: int | str
    cvc: str


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _clean_card(card: Card) -> dict:
    errors: dict[str, list[str]] = {}
    number = "".join(ch for ch in str(card.number or "") if not ch.isspace() and ch != "-")
    if not (number.isdigit() and 12 <= len(number) <= 19 and _luhn_ok(number)):
        errors["number"] = [_("Enter a valid card number.")]
    try:
        month, year = int(card.exp_month), int(card.exp_year)
        year = year + 2000 if year < 100 else year
        today = timezone.localdate()
        if not 1 <= month <= 12 or (year, month) < (today.year, today.month) or year > 2100:
            raise ValueError
    except (TypeError, ValueError):
        errors["exp"] = [_("Enter the card's expiry date (month and year, not in the past).")]
        month = year = 0
    cvc = str(card.cvc or "").strip()
    if not (cvc.isdigit() and len(cvc) in (3, 4)):
        errors["cvc"] = [_("Enter the 3 or 4 digit security code.")]
    if errors:
        raise ValidationError(errors)
    return {"number": number, "exp_month": month, "exp_year": year, "cvc": cvc}


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
    from orders.assisted import assert_confirmed

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
    existing = Payment.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return _replay(existing, checkout=checkout, fingerprint=fingerprint)
    card_params = _clean_card(card)
    with transaction.atomic():
        locked = Checkout.objects.select_for_update().get(pk=checkout.pk)
        _payable(locked)
        in_flight = Payment.objects.filter(checkout=locked, status=PaymentStatus.CREATED)
        same = in_flight.filter(idempotency_key=key).first()
        if same is not None:  # the same key sent twice at once: the first is committed now
            return _replay(same, checkout=checkout, fingerprint=fingerprint)
        if in_flight.exists():
            raise ConflictError(_("A payment of this checkout is in progress."),
                                code="payment_in_progress")
        try:
            with transaction.atomic():
                payment = Payment.objects.create(checkout=locked, idempotency_key=key,
                                                 fingerprint=fingerprint,
                                                 amount_fen=to_fen(locked.cash_due),
                                                 card_last4=card_params["number"][-4:])
        except IntegrityError:  # the same key, concurrently
            return _replay(Payment.objects.get(idempotency_key=key), checkout=checkout,
                           fingerprint=fingerprint)
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
            options={"idempotency_key": f"{key}:pm"})
        intent = client.v1.payment_intents.create(
            params={"amount": payment.amount_fen, "currency": payment.currency,
                    "payment_method": method.id, "confirm": True,
                    "metadata": {"checkout": checkout.number, "payment_key": key}},
            options={"idempotency_key": key})
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


def _replay(existing: Payment, *, checkout: Checkout, fingerprint: str) -> Payment:
    """A request with a key used before: the first payment if it is the same request and
    has its answer; 422 for another request, 409 while the first is in flight."""
    if existing.checkout_id != checkout.pk:
        raise idempotency_mismatch()
    idempotency_check(stored=existing.fingerprint, fingerprint=fingerprint,
                      in_flight=existing.status == PaymentStatus.CREATED)
    return existing


# What the HTTP client says when it could not connect at all (urllib3's wording).
NOT_CONNECTED = ("Failed to establish a new connection", "Connection refused")


def charge_outcome_unknown(exc: stripe.StripeError) -> bool:
    """A gateway error after which the charge may or may not have happened: the
    connection failed or the gateway failed (5xx). A refused request (4xx) charged
    nothing."""
    if isinstance(exc, stripe.APIConnectionError):
        # A connection that was never made sent nothing: nothing can have been charged.
        return not any(sign in str(exc) for sign in NOT_CONNECTED)
    status = getattr(exc, "http_status", None)
    return status is None or status >= 500


@dataclass(frozen=True)
class Charge:
    succeeded: bool
    intent_id: str
    message: str = ""
    # The gateway did not answer: the card may have been charged. Ask again later with
    # ``card_charge_find`` (same idempotency key).
    unknown: bool = False


def card_charge(*, amount: Decimal, card: Card, idempotency_key: str, description: str,
                metadata: dict[str, str] | None = None) -> Charge:
    """Charge a card once for something other than a checkout (a loan repayment, for
    example). The caller commits its own record under ``idempotency_key`` before calling,
    so a retry with the key reaches the same charge at the gateway. Cards that ask for
    authentication are not charged here (the intent is cancelled and a message returned).
    Raises ``ApplicationError`` when the gateway does not answer."""
    card_params = _clean_card(card)
    client = stripe_client()
    try:
        method = client.v1.payment_methods.create(
            params={"type": "card", "card": card_params},
            options={"idempotency_key": f"{idempotency_key}:pm"})
        intent = client.v1.payment_intents.create(
            params={"amount": to_fen(amount), "currency": "cny", "payment_method": method.id,
                    "confirm": True,
                    "metadata": {"description": description[:200], "charge_key": idempotency_key,
                                 **(metadata or {})}},
            options={"idempotency_key": idempotency_key})
    except stripe.CardError as exc:
        error = (exc.json_body or {}).get("error", {})
        intent_id = (error.get("payment_intent") or {}).get("id") or ""
        return Charge(False, intent_id, decline_message(error.get("decline_code") or exc.code))
    except stripe.StripeError as exc:
        log.warning("gateway error charging %s: %s", idempotency_key, exc)
        if charge_outcome_unknown(exc):
            return Charge(False, "", _("The card service did not answer. We are checking "
                                       "whether the card was charged; do not pay again."),
                          unknown=True)
        raise ApplicationError(_("The card service did not answer; nothing was charged. "
                                 "Try again."), code="gateway_unavailable") from exc
    return _charge_of(client, intent)


def _charge_of(client, intent) -> Charge:
    if intent.status == "succeeded":
        return Charge(True, intent.id)
    if intent.status == "requires_action":
        try:
            client.v1.payment_intents.cancel(intent.id)
        except stripe.StripeError as exc:  # it cannot be charged without authentication
            log.warning("cancelling %s: %s", intent.id, exc)
        return Charge(False, intent.id, _("This card asks for authentication, which this "
                                          "payment cannot do; use another card."))
    return Charge(False, intent.id, _("The card was declined."))


def card_charge_find(*, idempotency_key: str) -> Charge:
    """What became of a charge whose answer was lost: look for its intent at the gateway
    by our key. None found means nothing was charged. Raises ``stripe.StripeError`` when
    the gateway still does not answer."""
    client = stripe_client()
    for intent in client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter():
        if (intent.to_dict().get("metadata") or {}).get("charge_key") == idempotency_key:
            return _charge_of(client, intent)
    return Charge(False, "", _("The payment did not reach the card service; nothing was "
                               "charged."))


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


def decline_message(code: str | None) -> str:
    """Our own words for the gateway's decline codes (its messages are English only)."""
    return {
        "insufficient_funds": _("insufficient funds"),
        "expired_card": _("the card has expired"),
        "incorrect_cvc": _("the security code is wrong"),
        "invalid_cvc": _("the security code is wrong"),
        "incorrect_number": _("the card number is wrong"),
        "invalid_number": _("the card number is wrong"),
        "processing_error": _("the card service had a problem"),
        "payment_intent_authentication_failure": _("the card's bank could not verify you"),
    }.get(code or "", _("declined by the card's bank"))


GATEWAY_STATUS = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "requires_confirmation": PaymentStatus.REQUIRES_ACTION,
    "processing": PaymentStatus.CREATED,
    "requires_payment_method": PaymentStatus.FAILED,
    "failed_to_start": PaymentStatus.FAILED,
    "canceled": PaymentStatus.CANCELED,
}
# Which of our statuses may follow which: a payment never leaves a final state.
PAYMENT_TRANSITIONS = {
    PaymentStatus.CREATED: {PaymentStatus.REQUIRES_ACTION, PaymentStatus.SUCCEEDED,
                            PaymentStatus.FAILED, PaymentStatus.CANCELED},
    PaymentStatus.REQUIRES_ACTION: {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED,
                                    PaymentStatus.CANCELED},
    PaymentStatus.FAILED: set(),
    PaymentStatus.SUCCEEDED: set(),
    PaymentStatus.CANCELED: set(),
    PaymentStatus.RETURNED: set(),
}


@transaction.atomic
def _apply(payment: Payment, *, status: str, intent_id: str | None = None,
           message: str = "") -> Payment:
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    target = GATEWAY_STATUS.get(status)
    if intent_id and not payment.intent_id:
        payment.intent_id = intent_id
    if target is None or target not in PAYMENT_TRANSITIONS[payment.status]:
        payment.save()
        return payment
    if target == PaymentStatus.SUCCEEDED:
        return _succeed(payment)
    payment.status = target
    if target == PaymentStatus.FAILED:
        payment.failure_message = (message or _("The card was declined."))[:300]
    payment.save()
    return payment


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
    payment.status = PaymentStatus.SUCCEEDED
    payment.save()
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
    payment.status = PaymentStatus.RETURNED
    payment.late_refund_reference = refund.id
    payment.failure_message = {
        "duplicate payment": _("This checkout was already paid; this charge was refunded."),
    }.get(reason, _("The order was cancelled before the payment arrived; it was refunded."))
    payment.save()


# --- webhooks ------------------------------------------------------------------------------


# A signature's timestamp may be this far from our clock, either way (Stripe's default).
WEBHOOK_TOLERANCE_SECONDS = 300


def _signed_recently(signature: str) -> None:
    """The gateway's library refuses timestamps too far in the past only; one far in the
    future (a signature made to be replayed later) is refused here."""
    import time

    stamps = [part[2:] for part in (signature or "").split(",") if part.startswith("t=")]
    try:
        at = int(stamps[0])
    except (IndexError, ValueError) as exc:
        raise ValueError("no timestamp") from exc
    if at > time.time() + WEBHOOK_TOLERANCE_SECONDS:
        raise ValueError("timestamp in the future")


def webhook_receive(*, payload: bytes, signature: str) -> WebhookEvent:
    """Verify a delivery from the gateway and process it once."""
    try:
        event = stripe.Webhook.construct_event(payload, signature,
                                               settings.STRIPE_WEBHOOK_SECRET,
                                               tolerance=WEBHOOK_TOLERANCE_SECONDS)
        _signed_recently(signature)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        raise ApplicationError(_("Invalid webhook signature or payload."),
                               code="bad_signature") from exc
    data = event.to_dict() if hasattr(event, "to_dict") else dict(event)
    obj = (data.get("data") or {}).get("object") or {}
    with transaction.atomic():
        WebhookEvent.objects.bulk_create(
            [WebhookEvent(event_id=data["id"], type=data.get("type", ""),
                          object_id=str(obj.get("id", ""))[:80], payload=data, deliveries=0)],
            ignore_conflicts=True)
        record = WebhookEvent.objects.select_for_update().get(event_id=data["id"])
        record.deliveries = F("deliveries") + 1
        record.save(update_fields=["deliveries"])
        if record.processed_at is None:
            _process_event(record.type, obj, data["id"])
            record.processed_at = timezone.now()
            record.save(update_fields=["processed_at"])
    record.refresh_from_db()
    return record


def _process_event(kind: str, obj: dict, event_id: str = "") -> None:
    if kind in REFUND_EVENTS:
        refunds = ((obj.get("refunds") or {}).get("data") or []) if kind == "charge.refunded" \
            else [obj]
        for refund in refunds:
            _gateway_refund_record(refund, charge=obj if kind == "charge.refunded" else None,
                                   event_id=event_id)
        return
    if not kind.startswith("payment_intent."):
        return
    key = (obj.get("metadata") or {}).get("payment_key", "")
    payment = (Payment.objects.filter(intent_id=obj.get("id")).first()
               or (Payment.objects.filter(idempotency_key=key).first() if key else None))
    if payment is None:
        log.info("webhook %s for unknown intent %s", kind, obj.get("id"))
        return
    if not payment.intent_id:
        _apply(payment, status="processing", intent_id=obj.get("id"))
        payment.refresh_from_db()
    payment_sync(payment)


# --- refunds made at the gateway, outside the platform ------------------------------------

REFUND_EVENTS = ("charge.refunded", "refund.created", "refund.updated",
                 "charge.refund.updated")
# Our own refunds carry this in their metadata (their webhooks are not news).
PLATFORM_ORIGIN = {"origin": "platform"}


def _ours(refund: dict) -> bool:
    metadata = refund.get("metadata") or {}
    if metadata.get("origin") == "platform" or metadata.get("refund"):
        return True
    rid = refund.get("id") or ""
    return (Refund.objects.filter(gateway_reference=rid).exists()
            or Payment.objects.filter(late_refund_reference=rid).exists())


def _gateway_refund_record(refund: dict, *, charge: dict | None, event_id: str) -> None:
    """Record a refund made at the gateway outside the platform, once per refund id.
    While its orders are unsettled and can take it, it is booked as their refund (escrow
    back to card clearing, the order refunded); otherwise it is left open for the bank's
    admins to resolve (the money has left the gateway, but the platform cannot say from
    whom it should come)."""
    rid = refund.get("id") or ""
    if not rid or refund.get("status") not in (None, "succeeded") or _ours(refund):
        return
    if GatewayRefund.objects.filter(refund_id=rid).exists():
        return
    intent_id = refund.get("payment_intent") or (charge or {}).get("payment_intent") or ""
    if isinstance(intent_id, dict):
        intent_id = intent_id.get("id", "")
    amount = Decimal(int(refund.get("amount") or 0)) / 100
    payment = Payment.objects.filter(intent_id=intent_id, status=PaymentStatus.SUCCEEDED
                                     ).select_related("checkout").first() if intent_id else None
    record = GatewayRefund(refund_id=rid, intent_id=intent_id, amount=amount,
                           payment=payment, event_id=event_id, status=GatewayRefundStatus.OPEN)
    if payment is None:
        bank_code = _intent_bank_code(intent_id)
        record.bank = Bank.objects.filter(code=bank_code).first() if bank_code else None
        record.note = _("A refund at the card service of a payment that is not a checkout's "
                        "card payment (a loan repayment, a points-mall cash part, or "
                        "unknown): review it against the bank's books.")
        _save_once(record)
        log.warning("gateway refund %s of unknown intent %s left open", rid, intent_id)
        return
    orders = list(payment.checkout.orders.order_by("pk"))
    record.bank_id = orders[0].merchant_bank_id if orders else None
    plan = _allocate_gateway_refund(orders, amount)
    if plan is None:
        record.note = _("Refunded at the card service outside the platform, but its orders "
                        "are settled, refunded or being refunded already: the money has to "
                        "be recovered or the order refunded by hand.")
        _save_once(record)
        log.warning("gateway refund %s of %s left open", rid, intent_id)
        return
    record.status = GatewayRefundStatus.BOOKED
    if not _save_once(record):
        return
    reason = _("Refunded at the card service (%(id)s)") % {"id": rid}
    for order, part in plan:
        done = order_services.refund_record_external(order=order, amount=part,
                                                     reference=rid, reason=reason)
        done.cash_amount = part
        done.save(update_fields=["cash_amount"])
        _book_refund(done)
        record.refunds.add(done)


@transaction.atomic
def gateway_refund_resolve(*, record: GatewayRefund, actor, note: str) -> GatewayRefund:
    """A bank admin settled an open gateway refund outside the platform's automatic
    booking (recovered the money from the merchant, refunded the order by hand...) and
    says how."""
    record = GatewayRefund.objects.select_for_update().get(pk=record.pk)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": [_("Say how it was resolved.")]})
    if record.status != GatewayRefundStatus.OPEN:
        raise ApplicationError(_("This gateway refund is not open."), code="illegal_transition")
    record.status, record.resolved_by, record.resolved_at = (
        GatewayRefundStatus.RESOLVED, actor, timezone.now())
    record.resolution = note[:300]
    record.save()
    return record


def _save_once(record: GatewayRefund) -> bool:
    """False when another delivery (another event about the same refund) recorded it."""
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        return False
    return True


def _intent_bank_code(intent_id: str) -> str:
    """The bank a charge other than a checkout's was made for (``card_charge`` puts its
    code in the intent's metadata)."""
    if not intent_id:
        return ""
    try:
        intent = stripe_client().v1.payment_intents.retrieve(intent_id)
    except stripe.StripeError as exc:
        log.warning("looking up %s: %s", intent_id, exc)
        return ""
    return (intent.to_dict().get("metadata") or {}).get("bank", "")


def _allocate_gateway_refund(orders: list[Order], amount: Decimal
                             ) -> list[tuple[Order, Decimal]] | None:
    """Split ``amount`` over the orders' card money not refunded yet, in order; None when
    it does not fit in orders that can still be refunded before settlement."""
    from payments.models import SettlementItem

    plan, left = [], amount
    for order in orders:
        if left <= 0:
            break
        if order.status not in order_services.REFUNDABLE or \
                SettlementItem.objects.filter(order=order).exists():
            continue
        cash_back = Refund.objects.filter(order=order, status="succeeded").aggregate(
            s=Sum("cash_amount"))["s"] or Decimal("0.00")
        room = min(order.total - order.points_value - cash_back, order.refundable)
        part = min(room, left)
        if part > 0:
            plan.append((order, part))
            left -= part
    return plan if left == 0 and plan else None


# --- scheduled work ------------------------------------------------------------------------


def reconcile_payments(*, older_than_seconds: int | None = None) -> int:
    """Payments still open a while after they started: ask the gateway (a webhook may
    never have come). Returns how many changed."""
    age = settings.PAYMENTS_RECONCILE_AFTER_SECONDS if older_than_seconds is None \
        else older_than_seconds
    cutoff = timezone.now() - timedelta(seconds=age)
    changed = 0
    for payment in Payment.objects.filter(status__in=OPEN, created_at__lte=cutoff):
        before = payment.status
        try:
            payment = payment_sync(payment) if payment.intent_id else _find_intent(payment)
        except stripe.StripeError as exc:
            log.warning("reconciling %s: %s", payment.pk, exc)
            continue
        changed += payment.status != before
    return changed


def _find_intent(payment: Payment) -> Payment:
    """A payment whose intent id we never learned (the process stopped mid-call): look
    for it at the gateway by our key; none found means nothing was charged."""
    client = stripe_client()
    for intent in client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter():
        if (intent.to_dict().get("metadata") or {}).get("payment_key") == \
                payment.idempotency_key:
            return _apply_intent(payment, intent)
    return _apply(payment, status="failed_to_start",
                  message=_("The payment did not reach the card service."))


def expire_reservations(*, now=None) -> int:
    """Unpaid checkouts past their reservation: cancel their open intents at the gateway
    (one that succeeded meanwhile is taken as paid), then give the stock back."""
    now = now or timezone.now()
    expired = 0
    for checkout in Checkout.objects.filter(status=CheckoutStatus.PENDING_PAYMENT,
                                            reserved_until__lte=now):
        for payment in Payment.objects.filter(checkout=checkout, status__in=OPEN):
            try:
                payment_cancel_at_gateway(payment)
            except stripe.StripeError as exc:
                log.warning("cannot cancel %s at the gateway: %s", payment.intent_id, exc)
                break
        else:
            checkout.refresh_from_db()
            if checkout.status == CheckoutStatus.PENDING_PAYMENT:
                try:
                    order_services.checkout_cancel(checkout=checkout,
                                                   reason=_("Not paid in time"))
                    expired += 1
                except ApplicationError:
                    continue
    return expired


def checkout_abandon(*, checkout: Checkout, buyer) -> Checkout:
    """The shopper cancels an unpaid checkout: open intents are cancelled first."""
    if checkout.buyer_id != buyer.pk:
        raise ApplicationError(_("This checkout is not yours."), code="not_found")
    for payment in Payment.objects.filter(checkout=checkout, status__in=OPEN):
        payment_cancel_at_gateway(payment)
    checkout.refresh_from_db()
    if checkout.status == CheckoutStatus.PAID:
        raise ApplicationError(_("This checkout is paid already."), code="already_paid")
    return order_services.checkout_cancel(checkout=checkout, reason=_("Cancelled by the buyer"),
                                          actor=buyer)


# --- refunds (registered with orders) ------------------------------------------------------


def refund_execute(refund: Refund) -> str:
    """Return ``refund.amount`` to the buyer and book it: cash first (to the card that
    paid the checkout), then, for what was paid with points, the points (through the
    provider the points programme registers; points that expired meanwhile are not
    given back). Runs inside the caller's transaction (order and refund rows locked)."""
    order = refund.order
    cash_paid = order.total - order.points_value
    cash_back = Refund.objects.filter(order=order, status="succeeded").exclude(
        pk=refund.pk).aggregate(s=Sum("cash_amount"))["s"] or Decimal("0.00")
    refund.cash_amount = min(refund.amount, max(cash_paid - cash_back, Decimal("0.00")))
    refund.points_amount = refund.amount - refund.cash_amount
    reference = ""
    from payments.desk_cash import desk_payment_of, refund_cash_at_desk

    desk, desk_legs = desk_payment_of(order), None
    if desk is not None and refund.cash_amount:  # paid at a branch desk: cash back there
        reference, desk_legs = refund_cash_at_desk(refund, desk)
    elif refund.cash_amount and _card_payment(order) is None and (
            credit := credit_refund(refund=refund, amount=refund.cash_amount)) is not None:
        # Paid with a bank's credit: the refund reduces the loan; the money goes back to
        # the lending bank's loan principal.
        reference, desk_legs = f"loan:{credit.reference}", _credit_legs(
            order, credit, refund.cash_amount)
    elif refund.cash_amount:
        reference = _refund_card(refund, refund.cash_amount)
    if refund.points_amount:
        refund.points_restored = restore_points(order=order, value=refund.points_amount,
                                                reference=f"refund:{refund.pk}")
    _book_refund(refund, desk_legs)
    return reference or f"points:{refund.points_restored}"


def _card_payment(order: Order) -> Payment | None:
    return Payment.objects.filter(checkout_id=order.checkout_id,
                                  status=PaymentStatus.SUCCEEDED).first()


def _credit_legs(order: Order, credit: CreditRefund, amount: Decimal) -> list[Leg]:
    """The disbursement's legs for ``amount``, reversed: the lender's loan principal is
    repaid, and what the lender owed the merchant's bank for it is owed no more."""
    legs = [Leg(ledger_account(kind=AccountKind.LOAN_PRINCIPAL, bank_id=credit.lender_bank_id),
                -amount, order)]
    if order.merchant_bank_id != credit.lender_bank_id:
        legs += [
            Leg(ledger_account(kind=AccountKind.INTERBANK_PAYABLE, bank_id=credit.lender_bank_id,
                               counterparty_id=order.merchant_bank_id), amount, order),
            Leg(ledger_account(kind=AccountKind.INTERBANK_RECEIVABLE,
                               bank_id=order.merchant_bank_id,
                               counterparty_id=credit.lender_bank_id), -amount, order)]
    return legs


def _refund_card(refund: Refund, amount: Decimal) -> str:
    payment = _card_payment(refund.order)
    if payment is None or not payment.intent_id:
        raise ApplicationError(_("This order has no card payment to refund."),
                               code="no_payment")
    try:
        gateway_refund = stripe_client().v1.refunds.create(
            params={"payment_intent": payment.intent_id, "amount": to_fen(amount),
                    "metadata": {"order": refund.order.number, "refund": str(refund.pk),
                                 **PLATFORM_ORIGIN}},
            options={"idempotency_key": f"refund:{refund.pk}"})
    except stripe.StripeError as exc:
        log.warning("gateway refused refund %s: %s", refund.pk, exc)
        raise ApplicationError(_("The card service refused the refund: %(msg)s")
                               % {"msg": exc.user_message or str(exc)[:120]},
                               code="gateway_refused") from exc
    return gateway_refund.id
