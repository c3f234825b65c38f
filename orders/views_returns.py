"""Shopper pages of after-sales returns: the return form and each return's progress sit in
the order page's return box; these views take its posts (ask for a return, send the goods
back with a waybill, withdraw) and serve the return's photos to the buyer."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core import uploads
from core.errors import ApplicationError, validation_errors
from orders import selectors, services
from orders import selectors_returns as returns
from orders.views import _order_page


def _again(request, order, *, key: str, errors: dict, data: dict, return_id=None):
    """The order page again, with the refused form's messages and input (HTTP 400)."""
    request.return_form = {"key": key, "errors": errors, "data": data, "id": return_id}
    order.refresh_from_db()
    return _order_page(request, order, status=400)


@login_required
@require_POST
def return_create(request, number: str):
    order = selectors.order_of_buyer(buyer=request.user, number=number)
    lines = {}
    for line in order.lines.all():
        raw = request.POST.get(f"qty_{line.pk}", "").strip()
        if raw:
            lines[line.pk] = raw
    data = {"reason": request.POST.get("reason", ""),
            "description": request.POST.get("description", "").strip(), "lines": lines}
    try:
        services.return_request(order=order, actor=request.user, lines=lines,
                                reason=data["reason"], description=data["description"],
                                photos=request.FILES.getlist("photos"))
    except ValidationError as exc:
        return _again(request, order, key="create", errors=validation_errors(exc), data=data)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("orders:order", order.number)
    messages.success(request, _("Return requested. The shop will answer soon."))
    return redirect("orders:order", order.number)


@login_required
@require_POST
def return_ship_back(request, number: str, return_id: int):
    ret = returns.return_of_buyer(buyer=request.user, number=number, return_id=return_id)
    data = {"carrier": request.POST.get("carrier", ""),
            "tracking_number": request.POST.get("tracking_number", "")}
    try:
        services.return_ship_back(return_request=ret, actor=request.user, **data)
    except ValidationError as exc:
        return _again(request, ret.order, key="ship_back", errors=validation_errors(exc),
                      data=data, return_id=ret.pk)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("orders:order", number)
    messages.success(request, _("Thank you: the shop refunds you when the goods arrive."))
    return redirect("orders:order", number)


@login_required
@require_POST
def return_withdraw(request, number: str, return_id: int):
    ret = returns.return_of_buyer(buyer=request.user, number=number, return_id=return_id)
    try:
        services.return_withdraw(return_request=ret, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Return withdrawn."))
    return redirect("orders:order", number)


@login_required
def return_photo(request, number: str, return_id: int, photo_id: int):
    ret = returns.return_of_buyer(buyer=request.user, number=number, return_id=return_id)
    photo = returns.photo_of_return(ret=ret, photo_id=photo_id)
    return uploads.serve_file(photo.image.storage, photo.image.name, private=True)
