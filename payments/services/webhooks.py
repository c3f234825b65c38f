"""The gateway's webhook deliveries: verified, recorded once, processed once."""

from __future__ import annotations

import logging
import time

import stripe
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from payments.models import Payment, WebhookEvent

from .checkout_payments import _apply, payment_sync
from .gateway_refunds import REFUND_EVENTS, _gateway_refund_record

log = logging.getLogger(__name__)


WEBHOOK_TOLERANCE_SECONDS = 300


def _signed_recently(signature: str) -> None:
    """The gateway's library refuses timestamps too far in the past only; one far in the
    future (a signature made to be replayed later) is refused here."""
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
