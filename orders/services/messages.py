"""Ask the shop: an order's message thread between its buyer and the shop, and the
dispute that brings the staff of the shop's bank into it.

Who writes decides the side: the order's buyer, a member of the shop, or (once a dispute
is raised) staff of the shop's bank. Anyone else gets 404, as for the order itself.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import StaffMembership
from catalog.models import MerchantMember
from core.errors import ApplicationError
from orders.models import MessageSide, Order, OrderDispute, OrderEvent, OrderMessage

MAX_BODY = 1000
MAX_MESSAGES = 200  # per order: a thread, not a chat room


def side_of(order: Order, user) -> str | None:
    """Which side of the order's thread ``user`` writes on, or None (may not see it)."""
    if not getattr(user, "is_authenticated", False):
        return None
    if order.buyer_id == user.pk:
        return MessageSide.BUYER
    if MerchantMember.objects.filter(merchant_id=order.merchant_id, user=user).exists():
        return MessageSide.SHOP
    if OrderDispute.objects.filter(order=order).exists() and StaffMembership.objects.filter(
            user=user, bank_id=order.merchant_bank_id, is_active=True).exists():
        return MessageSide.BANK
    return None


def _clean_body(body) -> str:
    body = (body if isinstance(body, str) else "").strip()
    if not body:
        raise ValidationError({"body": [_("Write a message.")]})
    if len(body) > MAX_BODY:
        raise ValidationError({"body": [_("A message is at most %(n)s characters.")
                                        % {"n": MAX_BODY}]})
    return body


@transaction.atomic
def order_message_post(*, order: Order, author, body) -> OrderMessage:
    body = _clean_body(body)
    side = side_of(order, author)
    if side is None:
        raise Http404
    order = Order.objects.select_for_update().get(pk=order.pk)  # counts under one lock
    if order.messages.count() >= MAX_MESSAGES:
        raise ApplicationError(_("This order's thread is full: call the shop or your "
                                 "bank's branch."), code="thread_full")
    return OrderMessage.objects.create(order=order, author=author, side=side, body=body)


@transaction.atomic
def order_dispute_raise(*, order: Order, actor, reason) -> OrderDispute:
    """The buyer or the shop asks the shop's bank to step in (once per order); it is on
    the order's history and the bank's staff see the thread from now on."""
    side = side_of(order, actor)
    if side not in (MessageSide.BUYER, MessageSide.SHOP):
        raise Http404
    reason = (reason if isinstance(reason, str) else "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say what the dispute is about.")]})
    if len(reason) > 300:
        raise ValidationError({"reason": [_("At most 300 characters.")]})
    order = Order.objects.select_for_update().get(pk=order.pk)
    if OrderDispute.objects.filter(order=order).exists():
        raise ApplicationError(_("A dispute is already raised on this order: the bank's "
                                 "staff are reading the thread."), code="already_disputed")
    dispute = OrderDispute.objects.create(order=order, raised_by=actor, side=side,
                                          reason=reason)
    OrderEvent.objects.create(order=order, kind="dispute", actor=actor, note=reason[:300],
                              at=timezone.now())
    return dispute
