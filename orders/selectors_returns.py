"""Reads of after-sales returns, always scoped: the buyer sees the returns of their own
orders, a shop's members those of the shop's orders; anyone else gets 404. The order
pages' return box (what may be returned, how far each return is) comes from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Merchant
from orders.models import (
    RETURN_COUNTED,
    Order,
    OrderLine,
    OrderStatus,
    ReturnLine,
    ReturnPhoto,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)

# The goods reached the buyer: delivered, picked up, or receipt confirmed.
RETURNABLE = (OrderStatus.DELIVERED, OrderStatus.PICKED_UP, OrderStatus.COMPLETED)


def return_deadline(order: Order):
    """The last moment the buyer may ask for a return, or None (not received yet)."""
    if order.received_at is None:
        return None
    return order.received_at + timedelta(days=settings.ORDER_RETURN_DAYS)


def returned_quantities(order: Order) -> dict[int, int]:
    """Per order line: units in returns that are open or refunded."""
    rows = (ReturnLine.objects.filter(return_request__order=order,
                                      return_request__status__in=RETURN_COUNTED)
            .values("order_line_id").annotate(q=Sum("quantity")))
    return {row["order_line_id"]: row["q"] for row in rows}


def return_refusal(order: Order, *, now=None) -> str:
    """Why the buyer cannot ask for a return of this order now ("" = they can)."""
    now = now or timezone.now()
    if order.status not in RETURNABLE or order.received_at is None:
        return _("Goods can be returned once they have reached you.")
    if settings.ORDER_RETURN_DAYS <= 0 or now > return_deadline(order):
        return _("Returns are accepted within %(days)d days after receipt; that time is "
                 "over.") % {"days": settings.ORDER_RETURN_DAYS}
    return ""


_RELATED = ("order", "order__merchant", "refund")


def _with_details(qs):
    return qs.select_related(*_RELATED).prefetch_related("lines__order_line", "photos")


def returns_of_order(*, order: Order):
    return _with_details(ReturnRequest.objects.filter(order=order))


def return_of_buyer(*, buyer, number: str, return_id: int) -> ReturnRequest:
    ret = _with_details(ReturnRequest.objects.filter(
        pk=return_id, order__number=number, order__buyer=buyer)).first()
    if ret is None:
        raise Http404
    return ret


def returns_of_merchant(*, merchant: Merchant, status: str = ""):
    qs = _with_details(ReturnRequest.objects.filter(order__merchant=merchant)).select_related(
        "order__buyer")
    return qs.filter(status=status) if status else qs


def return_of_merchant(*, merchant: Merchant, return_id: int) -> ReturnRequest:
    ret = returns_of_merchant(merchant=merchant).filter(pk=return_id).first()
    if ret is None:
        raise Http404
    return ret


def photo_of_return(*, ret: ReturnRequest, photo_id: int) -> ReturnPhoto:
    photo = ret.photos.filter(pk=photo_id).exclude(image="").first()
    if photo is None:
        raise Http404
    return photo


@dataclass
class ReturnableLine:
    line: OrderLine
    left: int


@dataclass
class ReturnBox:
    """What the order page shows about returns, for the buyer or the shop."""

    returns: list[ReturnRequest]
    can_return: bool = False
    refusal: str = ""
    deadline: object = None
    lines: list[ReturnableLine] = field(default_factory=list)
    open_count: int = 0


def return_box(*, order: Order) -> ReturnBox:
    returns = list(returns_of_order(order=order))
    done = returned_quantities(order)
    lines = [ReturnableLine(line=line, left=line.quantity - done.get(line.pk, 0))
             for line in order.lines.all()]
    lines = [x for x in lines if x.left > 0]
    refusal = return_refusal(order, now=timezone.now())
    open_count = sum(1 for r in returns if r.status in (
        ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.SHIPPED_BACK))
    return ReturnBox(returns=returns, can_return=not refusal and bool(lines),
                     refusal=refusal, deadline=return_deadline(order), lines=lines,
                     open_count=open_count)


def order_page_context(request, order: Order) -> dict:
    """The return box of the buyer's order page (and the form just refused, if any)."""
    form = getattr(request, "return_form", None) or {}
    return {"return_box": return_box(order=order), "return_reasons": ReturnReason.choices,
            "return_form": {"key": form.get("key", ""), "errors": form.get("errors", {}),
                            "data": form.get("data", {}), "id": form.get("id")}}
