"""The bank console's order pages, under /console/orders/ on the bank's own domain: the
orders that concern the bank (its merchants', the ones its storefront referred, the ones
collected at its branches), one order, and pickup verification at a branch.

Any staff role of the bank may use them; staff of another bank get 404, as does an order
that has nothing to do with this bank (``orders.selectors.bank_orders`` scopes them).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from banks.permissions import bank_staff_required
from core.errors import ApplicationError
from orders import selectors, services
from orders.console_forms import PickupForm
from orders.models import OrderStatus
from orders.selectors_history import order_history

SCOPES = [
    ("", _("Everything that concerns us")),
    ("merchant", _("Our merchants' orders")),
    ("referred", _("Referred by our storefront")),
    ("pickup", _("Picked up at our branches")),
]
PER_PAGE = 50


@bank_staff_required()
def order_search(request):
    q = request.GET.get("q", "").strip()[:60]
    status = request.GET.get("status", "")
    status = status if status in OrderStatus.values else ""
    scope = request.GET.get("scope", "")
    scope = scope if scope in dict(SCOPES) else ""
    orders = selectors.bank_orders(bank=request.bank, q=q, status=status, role=scope)
    totals = orders.order_by().aggregate(n=Count("pk"), total=Sum("total"),
                                         refunded=Sum("refunded_total"))
    page = Paginator(orders, PER_PAGE).get_page(request.GET.get("page"))
    keep = urlencode({k: v for k, v in (("q", q), ("status", status), ("scope", scope)) if v})
    return render(request, "orders/console/search.html", {
        "membership": request.membership, "page": page, "totals": totals,
        "q": q, "status": status, "scope": scope, "keep": keep,
        "statuses": OrderStatus.choices, "scopes": SCOPES,
    })


@bank_staff_required()
def order_detail(request, number: str):
    order = selectors.bank_order(bank=request.bank, number=number)
    return render(request, "orders/console/order_detail.html", {
        "membership": request.membership, "order": order, "lines": order.lines.all(),
        "events": order_history(order), "refunds": list(order.refunds.all()),
        "phone": selectors.order_phone_for(order, audience=selectors.STAFF),
        "roles": [label for key, label in SCOPES[1:] if _concerns(order, request.bank, key)],
        # The thread only for a dispute on one of the bank's merchants' orders.
        "thread": (selectors.order_thread(order)
                   if order.merchant_bank_id == request.bank.pk else {}),
        "my_side": "bank", "post_url": reverse("console_orders:message", args=[order.number]),
    })


@bank_staff_required()
def disputes(request):
    """Disputes raised on the bank's merchants' orders, newest first."""
    page = Paginator(selectors.disputed_orders(bank=request.bank), 30).get_page(
        request.GET.get("page"))
    return render(request, "orders/console/disputes.html", {
        "membership": request.membership, "page": page})


def _concerns(order, bank, scope: str) -> bool:
    if scope == "merchant":
        return order.merchant_bank_id == bank.pk
    if scope == "referred":
        return order.referrer_bank_id == bank.pk
    return order.pickup_branch is not None and order.pickup_branch.bank_id == bank.pk


@bank_staff_required()
@require_http_methods(["GET", "POST"])
def pickup(request):
    """Branch staff type the code the shopper shows; the goods are handed over."""
    form = PickupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            order = services.pickup_verify(bank=request.bank, code=form.cleaned_data["code"],
                                           actor=request.user)
        except ApplicationError as exc:
            form.add_error("code", exc.message)
        else:
            return redirect("console_orders:picked-up", order.number)
    return render(request, "orders/console/pickup.html", {
        "membership": request.membership, "form": form,
    }, status=400 if request.method == "POST" else 200)


@bank_staff_required()
def picked_up(request, number: str):
    """What to hand over, after the code was verified."""
    order = selectors.bank_order(bank=request.bank, number=number)
    if not _concerns(order, request.bank, "pickup") or order.status not in (
            OrderStatus.PICKED_UP, OrderStatus.COMPLETED):
        raise Http404
    return render(request, "orders/console/picked_up.html", {
        "membership": request.membership, "order": order, "lines": order.lines.all(),
    })
