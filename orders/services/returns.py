"""After-sales returns (退货退款): the buyer asks to send goods of a received order back,
the shop approves or refuses (with a note), the buyer ships them back with a waybill, and
when the shop confirms it has them the returned lines are refunded and their units go
back on the shelf.

The money goes back through the one refund path (``refund_issue``: a ``Refund`` row, the
gateway through the handler ``payments`` registers, the ledger): the return only says how
much. What is refunded is the value of the returned lines (their ``line_total`` pro rata,
split so that returning a line in several parts adds up to its total to the fen); the
delivery fee is not (the delivery was made). Every step writes an ``OrderEvent``
(``return_requested``, ``return_approved``, ``return_refused``, ``return_withdrawn``,
``return_shipped_back``, ``return_received``, ``return_refunded``, ``return_lapsed``).
Steps nobody takes in time are taken by ``returns_time_out`` (hourly, on the beat).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Sku
from catalog.services import sales_record, stock_adjust
from core import uploads
from core.errors import ApplicationError
from core.money import quantize_money
from core.writes import transition
from orders.models import (
    RETURN_OPEN,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    ReturnLine,
    ReturnPhoto,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)
from orders.selectors_returns import return_refusal, returned_quantities

from ._common import _int_or_none
from .refunds import refund_issue
from .transitions import _locked, register_in_order_history

MAX_RETURN_PHOTOS = 3


def _line_value(line: OrderLine, units: int) -> Decimal:
    return quantize_money(line.line_total * units / line.quantity)


def _event(order: Order, kind: str, ret: ReturnRequest, *, actor, note: str = "",
           at=None, **detail) -> None:
    OrderEvent.objects.create(order=order, kind=kind, actor=actor, note=(note or "")[:300],
                              detail={"return": ret.pk, **detail}, at=at or timezone.now())


register_in_order_history(ReturnRequest, detail_key="return", kinds={
    "approve": "return_approved", "refuse": "return_refused", "withdraw": "return_withdrawn",
    "ship_back": "return_shipped_back", "receive": "return_received",
    "refund": "return_refunded", "lapse": "return_lapsed"})


def _locked_return(ret: ReturnRequest) -> tuple[Order, ReturnRequest]:
    """Lock the order first, then the return (the order services lock orders first too)."""
    order = _locked(ret.order)
    ret = ReturnRequest.objects.select_for_update().get(pk=ret.pk)
    return order, ret


@transaction.atomic
def return_request(*, order: Order, actor, lines, reason: str, description: str = "",
                   photos=()) -> ReturnRequest:
    """The buyer asks to return ``lines`` ({order line id: quantity}) of a received
    order, within ORDER_RETURN_DAYS of receipt, at most what was bought less what is
    already being returned or was returned. Up to three photos (checked by the upload
    policy). Refused as a whole, changing nothing, when anything is wrong."""
    order = _locked(order)
    if order.buyer_id != getattr(actor, "pk", None):
        raise ApplicationError(_("Only the buyer can return the goods of an order."),
                               code="not_buyer")
    refusal = return_refusal(order)
    if refusal:
        raise ApplicationError(refusal, code="not_returnable")
    errors: dict[str, list[str]] = {}
    reason = (reason or "").strip()
    description = (description or "").strip()
    if reason not in ReturnReason.values:
        errors["reason"] = [_("Choose why you return the goods.")]
    elif reason == ReturnReason.OTHER and not description:
        errors["description"] = [_("Tell the shop why you return the goods.")]
    if len(description) > 300:
        errors["description"] = [_("At most 300 characters.")]
    photos = [p for p in (photos or ()) if p]
    if len(photos) > MAX_RETURN_PHOTOS:
        errors["photos"] = [_("At most %(n)d photos.") % {"n": MAX_RETURN_PHOTOS}]
    else:
        for photo in photos:
            try:
                uploads.check(photo, "image")
            except ValidationError as exc:
                errors["photos"] = exc.messages
                break
    by_id = {line.pk: line for line in order.lines.all()}
    wanted: dict[int, int] = defaultdict(int)
    line_errors: list[str] = []
    for line_id, quantity in (dict(lines or {})).items():
        line_id, quantity = _int_or_none(line_id), _int_or_none(quantity)
        if line_id not in by_id:
            line_errors.append(_("This order has no such line."))
        elif quantity is None or quantity < 0:
            line_errors.append(_("Enter a whole number of units."))
        elif quantity:
            wanted[line_id] += quantity
    if not wanted and not line_errors:
        line_errors.append(_("Choose what you return (at least one unit)."))
    done = returned_quantities(order)
    amount = Decimal("0.00")
    values: dict[int, Decimal] = {}
    for line_id, quantity in sorted(wanted.items()):
        line = by_id[line_id]
        left = line.quantity - done.get(line_id, 0)
        if quantity > left:
            line_errors.append(
                _("Only %(n)d of “%(name)s” can still be returned.")
                % {"n": max(left, 0), "name": f"{line.product_name} {line.spec}"})
            continue
        before = done.get(line_id, 0)
        values[line_id] = _line_value(line, before + quantity) - _line_value(line, before)
        amount += values[line_id]
    if line_errors:
        errors["lines"] = line_errors
    if not errors:
        pending = (ReturnRequest.objects.filter(order=order, status__in=RETURN_OPEN)
                   .aggregate(s=Sum("amount"))["s"] or Decimal("0.00"))
        if amount > order.refundable - pending:
            errors["lines"] = [_("These goods are worth ¥%(amount)s, but only ¥%(left)s of "
                                 "this order is left to refund.")
                               % {"amount": amount, "left": order.refundable - pending}]
    if errors:
        raise ValidationError(errors)
    ret = ReturnRequest.objects.create(order=order, buyer=actor, reason=reason,
                                       description=description[:300], amount=amount)
    ReturnLine.objects.bulk_create([
        ReturnLine(return_request=ret, order_line_id=line_id, quantity=quantity,
                   amount=values[line_id]) for line_id, quantity in sorted(wanted.items())])
    for photo in photos:  # checked above; stored under random names
        row = ReturnPhoto(return_request=ret)
        uploads.attach(row, "image", photo, save=False)
        row.save()
    _event(order, "return_requested", ret, actor=actor, note=description,
           reason=reason, amount=str(amount),
           lines={str(k): v for k, v in sorted(wanted.items())})
    return ret


@transaction.atomic
def return_add_photo(*, return_request: ReturnRequest, actor, image) -> ReturnPhoto:
    """One more photo of the goods (at most three), while the shop has not decided."""
    order, ret = _locked_return(return_request)
    if ret.buyer_id != getattr(actor, "pk", None):
        raise ApplicationError(_("Only the buyer can add photos."), code="not_buyer")
    if ret.status != ReturnStatus.REQUESTED:
        raise ApplicationError(_("Photos can be added until the shop decides."),
                               code="illegal_transition")
    if ret.photos.count() >= MAX_RETURN_PHOTOS:
        raise ValidationError({"image": [_("At most %(n)d photos.") % {"n": MAX_RETURN_PHOTOS}]})
    if not image:
        raise ValidationError({"image": [_("Choose a photo.")]})
    row = ReturnPhoto(return_request=ret)
    uploads.attach(row, "image", image, save=False)
    row.save()
    return row


@transaction.atomic
def return_decide(*, return_request: ReturnRequest, actor, approve: bool,
                  note: str = "") -> ReturnRequest:
    """The shop approves the return (the buyer may send the goods back) or refuses it
    (a note for the buyer is required)."""
    order, ret = _locked_return(return_request)
    note = (note or "").strip()
    if not approve and not note:
        raise ValidationError({"note": [_("Say why the return is refused.")]})
    now = timezone.now()
    ret.decided_by, ret.decided_at, ret.decision_note = actor, now, note[:300]
    if not approve:
        ret.closed_at = now
    transition(ret, "approve" if approve else "refuse", actor=actor, note=note, at=now)
    return ret


@transaction.atomic
def return_withdraw(*, return_request: ReturnRequest, actor) -> ReturnRequest:
    """The buyer takes the request back (before sending the goods)."""
    order, ret = _locked_return(return_request)
    ret.closed_at = timezone.now()
    transition(ret, "withdraw", actor=actor, at=ret.closed_at)
    return ret


@transaction.atomic
def return_ship_back(*, return_request: ReturnRequest, actor, carrier: str,
                     tracking_number: str) -> ReturnRequest:
    """The buyer has sent the goods back: the carrier and the waybill number."""
    carrier, tracking_number = (carrier or "").strip(), (tracking_number or "").strip()
    errors = {}
    if not carrier or len(carrier) > 40:
        errors["carrier"] = [_("Enter the carrier.")]
    if not tracking_number or len(tracking_number) > 40:
        errors["tracking_number"] = [_("Enter the tracking number.")]
    if errors:
        raise ValidationError(errors)
    order, ret = _locked_return(return_request)
    ret.carrier, ret.tracking_number = carrier, tracking_number
    ret.shipped_back_at = timezone.now()
    transition(ret, "ship_back", actor=actor, at=ret.shipped_back_at,
               detail={"carrier": carrier, "tracking_number": tracking_number})
    return ret


@transaction.atomic
def return_receive(*, return_request: ReturnRequest, actor,
                   automatic: bool = False) -> ReturnRequest:
    """The shop has the goods back: their units go back on the shelf (and off the
    products' sales counts) and the returned lines are refunded through the order's
    refund path, in one transaction (if the card service refuses the refund, nothing is
    done and the shop may try again). ``automatic``: the shop did not confirm within
    ORDER_RETURN_RECEIVE_DAYS of the goods being sent back."""
    order, ret = _locked_return(return_request)
    if order.status == OrderStatus.REFUND_REQUESTED:
        raise ApplicationError(_("Decide the buyer's open refund request on this order "
                                 "first."), code="refund_open")
    now = timezone.now()
    back: dict[int, int] = defaultdict(int)
    for sku_id, quantity in ret.lines.values_list("order_line__sku_id", "quantity"):
        back[sku_id] += quantity
    ret.received_at = now
    transition(ret, "receive", actor=actor, at=now, detail={
        "skus": {str(k): v for k, v in sorted(back.items())}},
        note=_("Counted as received: the shop did not confirm within %(days)d days.") % {
            "days": settings.ORDER_RETURN_RECEIVE_DAYS} if automatic else "")
    for sku_id in sorted(back):  # rows in id order, as every stock writer does
        stock_adjust(sku=Sku(pk=sku_id), delta=back[sku_id])
    sales_record(sku_quantities={sku_id: -units for sku_id, units in back.items()})
    amount = min(ret.amount, order.refundable)
    if amount > 0:
        ret.refund = refund_issue(
            order=order, actor=actor, amount=amount,
            reason=_("Return %(id)s: goods received back") % {"id": ret.pk})
        order.refresh_from_db()
    ret.closed_at = timezone.now()
    transition(ret, "refund", actor=actor, at=ret.closed_at,
               detail={"amount": str(amount), "refund": ret.refund_id})
    return ret


@transaction.atomic
def return_lapse(*, return_request: ReturnRequest) -> ReturnRequest:
    """The approved goods were not sent back within ORDER_RETURN_SHIP_DAYS: the return
    closes (its units and value no longer count, and it no longer holds the escrow)."""
    order, ret = _locked_return(return_request)
    ret.closed_at = timezone.now()
    transition(ret, "lapse", at=ret.closed_at,
               note=_("Not sent back within %(days)d days of the approval.") % {
                   "days": settings.ORDER_RETURN_SHIP_DAYS})
    return ret


def _approve_unanswered(ret: ReturnRequest) -> None:
    return_decide(return_request=ret, actor=None, approve=True, note=_(
        "Approved automatically: the shop did not answer within %(days)d days.") % {
        "days": settings.ORDER_RETURN_DECIDE_DAYS})


def returns_time_out(*, now=None) -> dict[str, int]:
    """The steps of returns nobody took in time, each in its own transaction (the beat
    runs this hourly): a request the shop leaves unanswered for ORDER_RETURN_DECIDE_DAYS
    is approved; approved goods not sent back within ORDER_RETURN_SHIP_DAYS close the
    return; goods sent back that the shop does not confirm within
    ORDER_RETURN_RECEIVE_DAYS count as received (restocked and refunded). A return that
    moved on meanwhile is left alone. Returns how many took each step."""
    now = now or timezone.now()
    # Latest step first, so that a return takes at most one step per run.
    steps = (
        ("received", ReturnStatus.SHIPPED_BACK, "shipped_back_at",
         settings.ORDER_RETURN_RECEIVE_DAYS,
         lambda ret: return_receive(return_request=ret, actor=None, automatic=True)),
        ("lapsed", ReturnStatus.APPROVED, "decided_at",
         settings.ORDER_RETURN_SHIP_DAYS, lambda ret: return_lapse(return_request=ret)),
        ("approved", ReturnStatus.REQUESTED, "created_at",
         settings.ORDER_RETURN_DECIDE_DAYS, _approve_unanswered),
    )
    done = {name: 0 for name, *_rest in steps}
    for name, status, since, days, step in steps:
        if days <= 0:
            continue
        due = ReturnRequest.objects.filter(
            status=status, **{f"{since}__lte": now - timedelta(days=days)})
        for ret in due.only("pk", "order_id").order_by("pk").iterator(chunk_size=200):
            try:
                step(ret)
            except ApplicationError:
                continue  # moved on meanwhile, or an open refund request waits first
            done[name] += 1
    return done
