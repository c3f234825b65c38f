"""Webhooks to partner platforms: what happens to a partner's order is POSTed, signed, to
the endpoints it registered.

An ``orders.OrderEvent`` of a partner's checkout (paid, shipped, ready for pickup,
delivered, refunded, cancelled) becomes one ``PartnerWebhookEvent`` (``evt_...``) after
the order's transaction commits, and one ``PartnerWebhookDelivery`` per active endpoint
subscribed to its type; a Celery task makes each attempt. Nothing here may break or hold
up the order: the receiver only schedules work after the commit, and its errors are
logged.

Signature: header ``Platform-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" under the endpoint's secret>``. A delivery not answered 2xx within
PARTNER_WEBHOOK_TIMEOUT is tried again after each of PARTNER_WEBHOOK_RETRY_DELAYS (1 min
to 12 h), then given up (``failed``; a replay may still send it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from functools import partial
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.writes import recorded_by_the_row, transition
from orders.models import Order
from partners.models import (
    DeliveryStatus,
    Partner,
    PartnerOrder,
    PartnerWebhookAttempt,
    PartnerWebhookDelivery,
    PartnerWebhookEndpoint,
    PartnerWebhookEvent,
    WebhookEventType,
)
from partners.selectors_orders import partner_order_data

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Platform-Signature"
MAX_ENDPOINTS = 10
# The order events partners hear of, by the order's transition.
EVENT_OF_ACTION = {
    "pay": WebhookEventType.ORDER_PAID,
    "ship": WebhookEventType.ORDER_SHIPPED,
    "ready_for_pickup": WebhookEventType.ORDER_READY_FOR_PICKUP,
    "deliver": WebhookEventType.ORDER_DELIVERED,
    "pick_up": WebhookEventType.ORDER_DELIVERED,
    "refund_full": WebhookEventType.ORDER_REFUNDED,
    "refund_partial": WebhookEventType.ORDER_REFUNDED,
    "cancel": WebhookEventType.ORDER_CANCELLED,
}
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def sign(secret: str, body: bytes, at: int) -> str:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


# --- endpoints ----------------------------------------------------------------------------


def _clean_endpoint(url: str, events) -> tuple[str, list[str]]:
    errors: dict[str, list[str]] = {}
    url = (url or "").strip()
    try:
        URLValidator(schemes=["https", "http"])(url)
        parts = urlsplit(url)
        if parts.scheme != "https" and parts.hostname not in LOCAL_HOSTS:
            raise ValidationError("http")
    except ValidationError:
        errors["url"] = [_("Give an https address (http only for localhost).")]
    events = list(dict.fromkeys(events or ()))
    if not events:
        errors["events"] = [_("Subscribe to at least one event.")]
    elif unknown := [e for e in events if e not in WebhookEventType.values]:
        errors["events"] = [_("Unknown event: %(events)s.") % {"events": ", ".join(
            map(str, unknown))}]
    if errors:
        raise ValidationError(errors)
    return url, events


@transaction.atomic
def endpoint_create(*, partner: Partner, url: str, events) -> PartnerWebhookEndpoint:
    """A new endpoint; its ``secret`` is shown in the answer to this call only."""
    url, events = _clean_endpoint(url, events)
    Partner.objects.select_for_update().filter(pk=partner.pk).first()
    if PartnerWebhookEndpoint.objects.filter(partner=partner).count() >= MAX_ENDPOINTS:
        raise ValidationError({"url": [_("At most %(n)d endpoints per partner.")
                                       % {"n": MAX_ENDPOINTS}]})
    return PartnerWebhookEndpoint.objects.create(
        partner=partner, url=url, events=events, secret=f"whsec_{secrets.token_hex(24)}")


@transaction.atomic
def endpoint_update(*, endpoint: PartnerWebhookEndpoint, url: str | None = None,
                    events=None, is_active: bool | None = None) -> PartnerWebhookEndpoint:
    locked = PartnerWebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    url, events = _clean_endpoint(locked.url if url is None else url,
                                  locked.events if events is None else events)
    locked.url, locked.events = url, events
    if is_active is not None:
        locked.is_active = bool(is_active)
    locked.save(update_fields=["url", "events", "is_active"])
    return locked


def endpoint_delete(*, endpoint: PartnerWebhookEndpoint) -> None:
    endpoint.delete()


# --- events -------------------------------------------------------------------------------


def order_event_saved(sender, instance, created: bool, **kwargs) -> None:
    """``post_save`` of ``orders.OrderEvent``: after the commit, the webhook event of a
    partner's order. Never raises."""
    try:
        if not created or instance.kind not in EVENT_OF_ACTION:
            return
        transaction.on_commit(partial(_safely, event_record, instance.pk, instance.order_id,
                                      instance.kind), robust=True)
    except Exception:
        log.exception("partner webhook of order event %s not scheduled", instance.pk)


def _safely(fn, *args) -> None:
    try:
        fn(*args)
    except Exception:
        log.exception("partner webhook %s%r failed", fn.__name__, args)


def event_record(order_event_id: int, order_id: int, action: str
                 ) -> PartnerWebhookEvent | None:
    """The webhook event of an order event of a partner's checkout (once, however often
    it is called), its deliveries, and their first attempts queued."""
    partner_order = (PartnerOrder.objects.select_related("partner", "checkout")
                     .filter(checkout__orders__pk=order_id).first())
    if partner_order is None:
        return None
    kind = EVENT_OF_ACTION[action]
    endpoints = [e for e in PartnerWebhookEndpoint.objects.filter(
        partner=partner_order.partner, is_active=True) if kind in e.events]
    payload_order = partner_order_data(partner_order)
    event_id = f"evt_{uuid.uuid4().hex}"
    now = timezone.now()
    number = Order.objects.values_list("number", flat=True).get(pk=order_id)
    payload = {"id": event_id, "type": kind, "created": int(now.timestamp()),
               "data": {"order_number": number, "checkout": payload_order}}
    try:
        with transaction.atomic():
            event = PartnerWebhookEvent.objects.create(
                id=event_id, partner=partner_order.partner, type=kind,
                source=f"order-event:{order_event_id}", payload=payload, created_at=now)
            deliveries = PartnerWebhookDelivery.objects.bulk_create([
                PartnerWebhookDelivery(event=event, endpoint=e, next_attempt_at=now)
                for e in endpoints])
    except IntegrityError:  # recorded already
        return PartnerWebhookEvent.objects.filter(
            source=f"order-event:{order_event_id}").first()
    for delivery in deliveries:
        _queue(delivery.pk)
    return event


def _queue(delivery_id: int) -> None:
    from partners.tasks import deliver_webhook  # late: the tasks import this module

    try:
        deliver_webhook.delay(delivery_id)
    except Exception:  # noqa: BLE001 - the sweep (deliver_due) sends it later
        log.warning("webhook delivery %s not queued", delivery_id, exc_info=True)


# --- deliveries ---------------------------------------------------------------------------


def _post(url: str, body: bytes, headers: dict) -> int:
    # Only https (or http to localhost) addresses are accepted for endpoints.
    request = urllib.request.Request(url, data=body, headers=headers,  # noqa: S310
                                     method="POST")
    timeout = settings.PARTNER_WEBHOOK_TIMEOUT
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def delivery_attempt(*, delivery_id: int, replay: bool = False) -> PartnerWebhookDelivery:
    """POST the delivery's event once and log the attempt. Not 2xx: tried again after the
    next retry delay, or given up (``failed``) after the last. A delivery done already
    is not sent again unless ``replay``."""
    if not replay:
        # Claimed by one worker at a time, and only when due: a queued first attempt and
        # the sweep of due deliveries never send it twice.
        now = timezone.now()
        claimed = PartnerWebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now,
        ).update(next_attempt_at=now + timedelta(
            seconds=settings.PARTNER_WEBHOOK_TIMEOUT + 60))
        if not claimed:
            return PartnerWebhookDelivery.objects.get(pk=delivery_id)
    delivery = (PartnerWebhookDelivery.objects.select_related("event", "endpoint")
                .get(pk=delivery_id))
    endpoint = delivery.endpoint
    body = json.dumps(delivery.event.payload, ensure_ascii=False,
                      separators=(",", ":")).encode()
    at = int(time.time())
    headers = {"Content-Type": "application/json; charset=utf-8",
               "User-Agent": "ProvincePlatform-Webhooks/1",
               SIGNATURE_HEADER: sign(endpoint.secret, body, at)}
    status_code, error = None, ""
    started = time.monotonic()
    try:
        status_code = _post(endpoint.url, body, headers)
    except Exception as exc:  # noqa: BLE001 - any failure to reach them is a failed attempt
        error = f"{type(exc).__name__}: {exc}"[:300]
    duration = int((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    if not ok and not error:
        error = f"HTTP {status_code}"
    with transaction.atomic():
        delivery = PartnerWebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        PartnerWebhookAttempt.objects.create(delivery=delivery, status_code=status_code,
                                             duration_ms=duration, error=error,
                                             replay=replay)
        delivery.attempts += 1
        delivery.last_status_code, delivery.last_error = status_code, error
        action = None
        if ok:
            if delivery.status != DeliveryStatus.SUCCEEDED:
                action = "succeed"
            delivery.delivered_at, delivery.next_attempt_at = timezone.now(), None
        elif delivery.status == DeliveryStatus.PENDING and not replay:
            delays = settings.PARTNER_WEBHOOK_RETRY_DELAYS
            failures = delivery.attempt_log.filter(replay=False).count()
            if failures <= len(delays):
                delivery.next_attempt_at = timezone.now() + timedelta(
                    seconds=delays[failures - 1])
            else:
                action, delivery.next_attempt_at = "give_up", None
        if action is None:
            delivery.save()
        else:
            transition(delivery, action, audit=recorded_by_the_row)
    return delivery


def delivery_replay(*, delivery: PartnerWebhookDelivery) -> PartnerWebhookDelivery:
    """Send the delivery's event again now, whatever became of it (the partner lost it,
    or its endpoint was down for a day)."""
    return delivery_attempt(delivery_id=delivery.pk, replay=True)


def deliveries_due(*, limit: int = 500) -> list[int]:
    """Pending deliveries whose time has come (a queued attempt that was lost)."""
    return list(PartnerWebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
