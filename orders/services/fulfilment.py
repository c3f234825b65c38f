"""Fulfilment: shipping and tracking, pickup at a branch, and receipt (confirmed by the
buyer or automatically)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from core.errors import ApplicationError
from orders.models import RECEIVED, Fulfilment, Order, OrderEvent

from .stock import _issue
from .transitions import S, _locked, _transition


def _auto_confirm_at(at: datetime) -> datetime:
    return at + timedelta(days=settings.ORDER_AUTO_CONFIRM_DAYS)


@transaction.atomic
def order_ship(*, order: Order, actor, carrier: str, tracking_number: str) -> Order:
    carrier, tracking_number = (carrier or "").strip(), (tracking_number or "").strip()
    errors = {}
    if not carrier:
        errors["carrier"] = [_("Enter the carrier.")]
    if not tracking_number or len(tracking_number) > 40:
        errors["tracking_number"] = [_("Enter the tracking number.")]
    if errors:
        raise ValidationError(errors)
    order = _locked(order)
    if order.fulfilment != Fulfilment.DELIVERY:
        raise ApplicationError(_("This order is picked up at a branch, not shipped."),
                               code="illegal_transition")
    now = timezone.now()
    order.carrier, order.tracking_number = carrier[:40], tracking_number
    order.shipped_at, order.auto_confirm_at = now, _auto_confirm_at(now)
    _transition(order, "ship", actor=actor, at=now,
                detail={"carrier": order.carrier, "tracking_number": tracking_number})
    _issue(order)
    return order


@transaction.atomic
def order_track(*, order: Order, actor, description: str, location: str = "",
                delivered: bool = False) -> OrderEvent:
    """A tracking event from the carrier (entered by the merchant or a carrier feed);
    ``delivered`` marks the parcel handed over."""
    description = (description or "").strip()
    if not description:
        raise ValidationError({"description": [_("Describe the tracking event.")]})
    order = _locked(order)
    if order.status not in (S.SHIPPED, S.DELIVERED):
        raise ApplicationError(_("Tracking events belong to shipped orders."),
                               code="illegal_transition")
    now = timezone.now()
    event = OrderEvent.objects.create(order=order, kind="tracking", actor=actor,
                                      note=description[:300],
                                      detail={"location": (location or "").strip()[:100]},
                                      at=now)
    if delivered and order.status == S.SHIPPED:
        order.received_at, order.auto_confirm_at = now, _auto_confirm_at(now)
        _transition(order, "deliver", actor=actor, at=now)
    return event


@transaction.atomic
def order_ready_for_pickup(*, order: Order, actor) -> Order:
    order = _locked(order)
    if order.fulfilment != Fulfilment.PICKUP:
        raise ApplicationError(_("This order is delivered, not picked up."),
                               code="illegal_transition")
    for _attempt in range(10):
        order.pickup_code = f"{secrets.randbelow(10**8):08d}"
        try:
            with transaction.atomic():
                _transition(order, "ready_for_pickup", actor=actor,
                            detail={"branch": order.pickup_branch_id})
        except IntegrityError:  # the code is taken: the savepoint undid the step
            order.refresh_from_db(fields=["status"])
            continue
        _issue(order)  # the goods go to the branch
        return order
    raise ApplicationError(_("Please try again."))  # pragma: no cover


@transaction.atomic
def pickup_verify(*, bank: Bank, code: str, actor) -> Order:
    """Branch staff check the shopper's pickup code and hand the goods over."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    order = (Order.objects.select_for_update()
             .filter(pickup_code=code, status=S.READY_FOR_PICKUP,
                     pickup_branch__bank=bank).first() if len(code) == 8 else None)
    if order is None:
        raise ApplicationError(_("No order awaits pickup with this code at our branches."),
                               field="code", code="not_found")
    now = timezone.now()
    order.received_at, order.auto_confirm_at = now, _auto_confirm_at(now)
    return _transition(order, "pick_up", actor=actor, at=now,
                       detail={"branch": order.pickup_branch_id})


@transaction.atomic
def order_confirm_receipt(*, order: Order, actor=None, automatic: bool = False) -> Order:
    order = _locked(order)
    now = timezone.now()
    order.completed_at = now
    order.received_at = order.received_at or now
    return _transition(order, "confirm_receipt", actor=actor, at=now,
                       note=_("Confirmed automatically") if automatic else "")


def orders_auto_confirm(*, now: datetime | None = None) -> int:
    """Confirm receipt of orders whose confirmation period has passed."""
    now = now or timezone.now()
    due = Order.objects.filter(status__in=RECEIVED, auto_confirm_at__lte=now)
    done = 0
    for order in due.only("pk").iterator(chunk_size=200):
        try:
            order_confirm_receipt(order=order, automatic=True)
            done += 1
        except ApplicationError:
            continue  # changed meanwhile (e.g. a refund request): not due any more
    return done
