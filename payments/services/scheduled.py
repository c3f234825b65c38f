"""Scheduled work on payments: open payments reconciled with the gateway, unpaid checkouts
expired; and the shopper giving up an unpaid checkout."""

from __future__ import annotations

import logging
from datetime import timedelta

import stripe
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from orders import services as order_services
from orders.models import Checkout, CheckoutStatus
from payments.gateway import stripe_client
from payments.models import Payment

from .checkout_payments import OPEN, _apply, _apply_intent, payment_cancel_at_gateway, payment_sync

log = logging.getLogger(__name__)


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
