"""Refunds made at the gateway outside the platform: booked as the orders' refunds while they
can take them, otherwise left open for the bank's admins to resolve."""

from __future__ import annotations

import logging
from decimal import Decimal

import stripe
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from banks.services import register_bank_audit
from core.writes import lock, transition
from orders import services as order_services
from orders.models import Order, Refund
from payments.gateway import stripe_client
from payments.models import (
    GatewayRefund,
    GatewayRefundStatus,
    Payment,
    PaymentStatus,
    SettlementItem,
)

from .booking import _book_refund

log = logging.getLogger(__name__)


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
    found = {"refund_id": rid, "intent_id": intent_id, "amount": amount, "payment": payment,
             "event_id": event_id}
    if payment is None:
        bank_code = _intent_bank_code(intent_id)
        record = GatewayRefund(**found, status=GatewayRefundStatus.OPEN)
        record.bank = Bank.objects.filter(code=bank_code).first() if bank_code else None
        record.note = _("A refund at the card service of a payment that is not a checkout's "
                        "card payment (a loan repayment, a points-mall cash part, or "
                        "unknown): review it against the bank's books.")
        _save_once(record)
        log.warning("gateway refund %s of unknown intent %s left open", rid, intent_id)
        return
    orders = list(payment.checkout.orders.order_by("pk"))
    plan = _allocate_gateway_refund(orders, amount)
    # Open: left for the bank's admins; booked: taken as the orders' refund below.
    record = GatewayRefund(**found, status=GatewayRefundStatus.OPEN if plan is None
                           else GatewayRefundStatus.BOOKED,
                           bank_id=orders[0].merchant_bank_id if orders else None)
    if plan is None:
        record.note = _("Refunded at the card service outside the platform, but its orders "
                        "are settled, refunded or being refunded already: the money has to "
                        "be recovered or the order refunded by hand.")
        _save_once(record)
        log.warning("gateway refund %s of %s left open", rid, intent_id)
        return
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
    record = lock(record)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": [_("Say how it was resolved.")]})
    record.resolved_by, record.resolved_at = actor, timezone.now()
    record.resolution = note[:300]
    transition(record, "resolve", actor=actor, note=note, at=record.resolved_at,
               message=_("This gateway refund is not open."))
    return record


# A bank admin's resolution, on the bank's trail (the federation's for a refund of no bank).
register_bank_audit(GatewayRefund, action={"resolve": "gateway_refund_resolved"})


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
