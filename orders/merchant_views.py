"""The merchant console's order pages, under /merchant/<merchant_id>/orders/ on the domain
of the bank that admitted the merchant: the order list, an order with its fulfilment
actions, the printable waybill, the delivery fee and flash sales.

The merchant comes from ``merchant_for_member`` and every order from the merchant's own
orders, so a member of another shop gets 404. The actions offered are the ones
``order_allowed_actions`` allows; the services decide and their messages are shown.
"""

from __future__ import annotations

import base64
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from catalog.qr import qr_png
from catalog.selectors import merchant_for_member
from core.errors import ApplicationError
from core.forms import add_service_errors
from orders import selectors, services
from orders import selectors_returns as returns
from orders.console_forms import (
    FlashSaleForm,
    RefundDecideForm,
    RefundIssueForm,
    ShipForm,
    ShippingRuleForm,
    TrackForm,
)
from orders.models import Fulfilment, OrderStatus, RefundStatus
from orders.selectors_history import order_history
from orders.selectors_invoices import invoice_box

S = OrderStatus

# The list's tabs: (key, label, statuses); an empty tuple is every status.
TABS = [
    ("to_ship", gettext_lazy("To ship"), (S.PAID,)),
    ("pickup", gettext_lazy("Ready for pickup"), (S.READY_FOR_PICKUP,)),
    ("shipped", gettext_lazy("Shipped"), (S.SHIPPED, S.DELIVERED, S.PICKED_UP)),
    ("refund", gettext_lazy("Refund requested"), (S.REFUND_REQUESTED,)),
    ("completed", gettext_lazy("Completed"), (S.COMPLETED, S.REFUNDED)),
    ("all", gettext_lazy("All"), ()),
]

def _merchant(request, merchant_id: int):
    return merchant_for_member(user=request.user, bank=request.bank, merchant_id=merchant_id)


def _order(merchant, number: str):
    order = (selectors.orders_of_merchant(merchant=merchant).filter(number=number)
             .select_related("pickup_branch", "sharer")
             .prefetch_related("events", "refunds").first())
    if order is None:
        raise Http404
    return order


# --- list and detail -----------------------------------------------------------------------


@login_required
def order_list(request, merchant_id: int):
    merchant = _merchant(request, merchant_id)
    q = (request.GET.get("q") or "").strip()[:60]
    per_status = dict(selectors.orders_of_merchant(merchant=merchant, q=q).order_by()
                      .values_list("status").annotate(n=Count("pk")))
    tabs = [{"key": key, "label": label, "statuses": statuses,
             "count": sum(n for s, n in per_status.items() if not statuses or s in statuses)}
            for key, label, statuses in TABS]
    current = next((t for t in tabs if t["key"] == request.GET.get("tab")), None)
    if current is None:
        # Open on the tab that needs work, else on everything.
        current = next((t for t in tabs[:2] if t["count"]), tabs[-1])
    orders = selectors.orders_of_merchant(merchant=merchant, q=q)
    if current["statuses"]:
        orders = orders.filter(status__in=current["statuses"])
    page = Paginator(orders.order_by("-created_at", "-id"), 30).get_page(request.GET.get("page"))
    return render(request, "orders/merchant/order_list.html", {
        "merchant": merchant, "tabs": tabs, "tab": current, "page": page, "q": q,
    })


def _detail(request, merchant, order, *, forms=None, status=200):
    """The order page with its action forms (a bound one when it was just refused)."""
    forms = forms or {}
    allowed = services.order_allowed_actions(order)
    refunds = list(order.refunds.all())
    open_refund = next((r for r in refunds if r.status == RefundStatus.REQUESTED), None)
    contact = selectors.merchant_needs_contact(order)
    return render(request, "orders/merchant/order_detail.html", {
        "merchant": merchant, "order": order, "lines": order.lines.all(),
        "events": order_history(order), "refunds": refunds, "open_refund": open_refund,
        "phone": selectors.order_phone_for(order, audience=selectors.MERCHANT),
        "show_address": contact,
        "thread": selectors.order_thread(order), "my_side": "shop",
        "post_url": reverse("merchant_orders:message", args=[merchant.pk, order.number]),
        "dispute_url": reverse("merchant_orders:dispute", args=[merchant.pk, order.number]),
        "can_ship": "ship" in allowed,
        "can_ready": "ready_for_pickup" in allowed,
        "can_track": order.fulfilment == Fulfilment.DELIVERY
                     and order.status in (S.SHIPPED, S.DELIVERED),
        "can_decide": open_refund is not None and "reject_refund" in allowed,
        "can_refund": "request_refund" in allowed and order.refundable > 0,
        "ship_form": forms.get("ship") or ShipForm(),
        "track_form": forms.get("track") or TrackForm(),
        "refund_form": forms.get("refund") or RefundIssueForm(
            initial={"amount": order.refundable}),
        "decide_form": forms.get("decide") or RefundDecideForm(),
        "open_form": next(iter(forms), ""),
        "return_box": returns.return_box(order=order),
        "invoice_box": invoice_box(order=order),
    }, status=status)


@login_required
def order_detail(request, merchant_id: int, number: str):
    merchant = _merchant(request, merchant_id)
    return _detail(request, merchant, _order(merchant, number))


def _refused(form, exc) -> None:
    """Put a service's refusal on the form: field messages on their fields."""
    if isinstance(exc, ValidationError):
        add_service_errors(form, exc)
    else:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _action(request, merchant_id, number, *, key, form_class, run, done):
    """Validate the form, run the service; on success back to the order with ``done``,
    else the order page again with the message (HTTP 400)."""
    merchant = _merchant(request, merchant_id)
    order = _order(merchant, number)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            run(order, form.cleaned_data)
        except (ValidationError, ApplicationError) as exc:
            _refused(form, exc)
        else:
            messages.success(request, done)
            return redirect("merchant_orders:detail", merchant.pk, order.number)
    messages.error(request, _("Not done: see the message below."))
    return _detail(request, merchant, _order(merchant, number), forms={key: form},
                   status=400)


@login_required
@require_POST
def order_ship(request, merchant_id: int, number: str):
    def run(order, data):
        services.order_ship(order=order, actor=request.user, carrier=data["carrier"],
                            tracking_number=data["tracking_number"])

    return _action(request, merchant_id, number, key="ship", form_class=ShipForm, run=run,
                   done=_("Shipped: the buyer can follow the parcel now."))


@login_required
@require_POST
def order_track(request, merchant_id: int, number: str):
    def run(order, data):
        services.order_track(order=order, actor=request.user,
                             description=data["description"], location=data["location"],
                             delivered=data["delivered"])

    return _action(request, merchant_id, number, key="track", form_class=TrackForm, run=run,
                   done=_("Tracking event added."))


@login_required
@require_POST
def order_ready(request, merchant_id: int, number: str):
    merchant = _merchant(request, merchant_id)
    order = _order(merchant, number)
    try:
        services.order_ready_for_pickup(order=order, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _detail(request, merchant, _order(merchant, number), status=400)
    messages.success(request, _(
        "Ready for pickup: the pickup code has been sent to the buyer. Bring the goods to "
        "%(branch)s; the branch staff check the code when they hand them over.")
        % {"branch": order.pickup_branch.name})
    return redirect("merchant_orders:detail", merchant.pk, order.number)


@login_required
@require_POST
def refund_decide(request, merchant_id: int, number: str, refund_id: int):
    approve = request.POST.get("decision") == "approve"

    def run(order, data):
        refund = order.refunds.filter(pk=refund_id).first()
        if refund is None:
            raise Http404
        services.refund_decide(refund=refund, actor=request.user, approve=approve,
                               note=data["note"])

    done = (_("Refund approved: the money goes back to the buyer's card.") if approve
            else _("Refund refused; the buyer sees your note."))
    return _action(request, merchant_id, number, key="decide", form_class=RefundDecideForm,
                   run=run, done=done)


@login_required
@require_POST
def refund_issue(request, merchant_id: int, number: str):
    def run(order, data):
        services.refund_issue(order=order, actor=request.user, amount=data["amount"],
                              reason=data["reason"])

    return _action(request, merchant_id, number, key="refund", form_class=RefundIssueForm,
                   run=run, done=_("Refunded: the money goes back to the buyer's card."))


@login_required
def waybill(request, merchant_id: int, number: str):
    merchant = _merchant(request, merchant_id)
    order = _order(merchant, number)
    if order.fulfilment != Fulfilment.DELIVERY:
        raise Http404
    qr = (base64.b64encode(qr_png(order.tracking_number, scale=5)).decode()
          if order.tracking_number else "")
    return render(request, "orders/merchant/waybill.html", {
        "merchant": merchant, "order": order, "lines": order.lines.all(), "qr": qr,
        "printed_at": timezone.now(), "show_address": selectors.merchant_needs_contact(order),
        "phone": selectors.order_phone_for(order, audience=selectors.MERCHANT),
    })


# --- selling rules -------------------------------------------------------------------------


@login_required
def shipping_rule(request, merchant_id: int):
    merchant = _merchant(request, merchant_id)
    terms = selectors.shipping_rule_of(merchant=merchant)
    if request.method == "POST":
        form = ShippingRuleForm(request.POST)
        if form.is_valid():
            try:
                services.shipping_rule_set(merchant=merchant,
                                           flat_fee=form.cleaned_data["flat_fee"],
                                           free_over=form.cleaned_data["free_over"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Delivery fee saved."))
                return redirect("merchant_orders:shipping", merchant.pk)
    else:
        form = ShippingRuleForm(initial={"flat_fee": terms.flat_fee,
                                         "free_over": terms.free_over or ""})
    return render(request, "orders/merchant/shipping.html", {
        "merchant": merchant, "form": form, "rule": None if terms.is_default else terms,
        "default_fee": settings.ORDER_DEFAULT_SHIPPING_FEE,
        "default_free_over": settings.ORDER_DEFAULT_FREE_SHIPPING_OVER,
    }, status=400 if request.method == "POST" else 200)


@login_required
def flash_sales(request, merchant_id: int):
    merchant = _merchant(request, merchant_id)
    skus = selectors.skus_of_merchant(merchant=merchant)
    if request.method == "POST":
        form = FlashSaleForm(request.POST, skus=skus)
        if form.is_valid():
            d = form.cleaned_data
            try:
                services.flash_sale_create(
                    sku=d["sku"], title=d["title"], price=d["price"], starts_at=d["starts_at"],
                    ends_at=d["ends_at"], quantity=d["quantity"],
                    per_customer_limit=d["per_customer_limit"])
            except (ValidationError, ApplicationError) as exc:
                _refused(form, exc)
            else:
                messages.success(request, _("Flash sale set up."))
                return redirect("merchant_orders:flash-sales", merchant.pk)
    else:
        start = timezone.localtime().replace(second=0, microsecond=0) + timedelta(hours=1)
        form = FlashSaleForm(skus=skus, initial={
            "starts_at": start, "ends_at": start + timedelta(days=1),
            "per_customer_limit": 1})
    now = timezone.now()
    sales = list(selectors.flash_sales_of_merchant(merchant=merchant)[:200])
    for sale in sales:
        sale.phase = ("running" if sale.starts_at <= now < sale.ends_at
                      else "upcoming" if now < sale.starts_at else "ended")
    return render(request, "orders/merchant/flash_sales.html", {
        "merchant": merchant, "form": form, "sales": sales, "has_skus": skus.exists(),
    }, status=400 if request.method == "POST" else 200)
