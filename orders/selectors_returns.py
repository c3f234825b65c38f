"""Reads of after-sales returns, always scoped: the buyer sees the returns of their own
orders, a shop's members those of the shop's orders; anyone else gets 404. The order
pages' return box (what may be returned, how far each return is) comes from here."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import Http404
from django.utils import timezone

from catalog.models import Merchant
from orders.models import (
    Order,
    OrderLine,
    ReturnPhoto,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)
from orders.services.returns import return_deadline, return_refusal, returned_quantities

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
