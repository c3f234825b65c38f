"""Refunds: requested by the buyer, decided or issued by the merchant, or recorded from
the card gateway."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.money import quantize_money
from core.writes import Change, lock, require, transition
from orders.interfaces import refund_handler
from orders.models import REFUNDABLE, Order, Refund, RefundStatus

from .stock import _unreserve
from .transitions import S, _locked, _transition


def _refund_amount(order: Order, amount) -> Decimal:
    try:
        amount = quantize_money(amount)
        if not amount.is_finite():  # "NaN" quantizes to NaN, which no comparison takes
            raise ValueError
    except Exception:
        raise ValidationError({"amount": [_("Enter an amount in yuan.")]}) from None
    if amount <= 0 or amount > order.refundable:
        raise ValidationError({"amount": [
            _("Enter an amount from 0.01 to %(max)s.") % {"max": order.refundable}]})
    return amount


def _in_the_order_history(change: Change) -> None:
    """A refund's decision is a step of its order: the order's transition in the same
    transaction (reject_refund, refund_full, refund_partial) records it, with the refund's
    id, in the order's history."""


@transaction.atomic
def refund_request(*, order: Order, actor, amount, reason: str) -> Refund:
    order = _locked(order)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why you want a refund.")]})
    if order.status not in REFUNDABLE:
        _transition(order, "request_refund")  # raises the clear illegal-transition error
    amount = _refund_amount(order, amount)
    refund = Refund.objects.create(order=order, amount=amount, reason=reason[:300],
                                   requested_by=actor)
    _transition(order, "request_refund", actor=actor, note=reason,
                detail={"refund": refund.pk, "amount": str(amount)})
    return refund


@transaction.atomic
def refund_decide(*, refund: Refund, actor, approve: bool, note: str = "") -> Refund:
    """The merchant approves (money goes back through the gateway and the ledger) or
    rejects a refund request; the order moves on accordingly."""
    order = _locked(refund.order)
    refund = lock(refund)
    decided = _("This refund was already decided.")
    require(refund, "approve", message=decided)
    note = (note or "").strip()
    now = timezone.now()
    refund.decided_by, refund.decided_at, refund.decision_note = actor, now, note[:300]
    if not approve:
        if not note:
            raise ValidationError({"note": [_("Say why the refund is refused.")]})
        transition(refund, "reject", actor=actor, note=note, audit=_in_the_order_history,
                   message=decided)
        _transition(order, "reject_refund", actor=actor, note=note,
                    detail={"refund": refund.pk})
        return refund
    if refund.amount > order.refundable:
        raise ValidationError({"amount": [_("The refund exceeds what is left to refund.")]})
    refund.gateway_reference = refund_handler()(refund)
    transition(refund, "approve", actor=actor, note=note, audit=_in_the_order_history,
               message=decided)
    order.refunded_total += refund.amount
    full = order.refunded_total == order.total
    if full and order.status_before_refund == S.PAID:
        # Refunded before its goods left: they are still on the shelf, available again.
        _unreserve(order)
    _transition(order, "refund_full" if full else "refund_partial", actor=actor, note=note,
                detail={"refund": refund.pk, "amount": str(refund.amount)})
    return refund


@transaction.atomic
def refund_record_external(*, order: Order, amount: Decimal, reference: str,
                           reason: str) -> Refund:
    """A refund the card gateway made outside the platform: recorded on the order as it
    happened (no gateway call here; the caller books it). The order goes through the
    refund transitions like any refund, with no actor."""
    order = _locked(order)
    amount = _refund_amount(order, amount)
    if order.status not in REFUNDABLE:
        _transition(order, "request_refund")  # raises the clear illegal-transition error
    now = timezone.now()
    refund = Refund.objects.create(order=order, amount=amount, reason=reason[:300],
                                   status=RefundStatus.SUCCEEDED, gateway_reference=reference,
                                   decided_at=now, decision_note=reason[:300])
    _transition(order, "request_refund", note=reason, at=now,
                detail={"refund": refund.pk, "amount": str(amount)})
    order.refunded_total += amount
    full = order.refunded_total == order.total
    if full and order.status_before_refund == S.PAID:
        _unreserve(order)  # never shipped: back on sale, as in refund_decide
    _transition(order, "refund_full" if full else "refund_partial", note=reason, at=now,
                detail={"refund": refund.pk, "amount": str(amount), "gateway": reference})
    return refund


@transaction.atomic
def refund_issue(*, order: Order, actor, amount, reason: str) -> Refund:
    """The merchant refunds on its own initiative (e.g. a missing item)."""
    refund = refund_request(order=order, actor=actor, amount=amount, reason=reason)
    return refund_decide(refund=refund, actor=actor, approve=True, note=reason)
