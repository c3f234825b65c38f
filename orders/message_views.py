"""Ask the shop on the pages: post to an order's thread and raise a dispute, for the
buyer (/orders/<number>/...), the shop (/merchant/<id>/orders/<number>/...) and the
staff of the shop's bank once a dispute is raised (/console/orders/<number>/...).
The page each comes from shows the thread (``orders/_thread.html``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from banks.permissions import bank_staff_required
from catalog.selectors import merchant_for_member
from core.errors import ApplicationError, first_message, validation_errors
from orders import selectors, services


def _run(request, action, back: str):
    try:
        action()
    except ValidationError as exc:
        messages.error(request, first_message(validation_errors(exc)))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(f"{back}#thread")


def _shop_order(request, merchant_id: int, number: str):
    merchant = merchant_for_member(user=request.user, bank=request.bank,
                                   merchant_id=merchant_id)
    return get_object_or_404(selectors.orders_of_merchant(merchant=merchant), number=number)


def _post(request, order, back: str):
    return _run(request, lambda: services.order_message_post(
        order=order, author=request.user, body=request.POST.get("body", "")), back)


def _dispute(request, order, back: str):
    return _run(request, lambda: services.order_dispute_raise(
        order=order, actor=request.user, reason=request.POST.get("reason", "")), back)


@login_required
@require_POST
def buyer_message(request, number: str):
    order = selectors.order_of_buyer(buyer=request.user, number=number)
    return _post(request, order, reverse("orders:order", args=[number]))


@login_required
@require_POST
def buyer_dispute(request, number: str):
    order = selectors.order_of_buyer(buyer=request.user, number=number)
    return _dispute(request, order, reverse("orders:order", args=[number]))


@login_required
@require_POST
def shop_message(request, merchant_id: int, number: str):
    order = _shop_order(request, merchant_id, number)
    return _post(request, order, reverse("merchant_orders:detail", args=[merchant_id, number]))


@login_required
@require_POST
def shop_dispute(request, merchant_id: int, number: str):
    order = _shop_order(request, merchant_id, number)
    return _dispute(request, order, reverse("merchant_orders:detail",
                                            args=[merchant_id, number]))


@bank_staff_required()
@require_POST
def staff_message(request, number: str):
    """Staff of the shop's bank answer in a disputed order's thread (404 before)."""
    order = selectors.bank_order(bank=request.bank, number=number)
    return _post(request, order, reverse("console_orders:detail", args=[number]))
