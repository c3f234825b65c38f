"""The branch desk pages of the bank console, under /console/desk/ on the bank's domain:
assisted orders (find the customer by mobile, search products, quantities; the customer
confirms with the code texted to them), the branch's waiting list of pickups, and a
printable pickup slip. Paying at the desk is ``payments.desk_views``.

Any staff role of the bank may use them; staff of another bank get 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from banks.permissions import bank_staff_required
from core.errors import ApplicationError, first_message, validation_errors
from core.http import client_address
from orders import assisted as services
from orders import assisted_selectors as selectors
from orders import selectors as order_selectors
from orders.models import CheckoutStatus


def _branch_of(request, value=None):
    """The branch asked for, else the staff member's own, else the bank's first."""
    branches = selectors.desk_branches(bank=request.bank)
    chosen = selectors.desk_branch(bank=request.bank, branch_id=value) if value else None
    if chosen is None and request.membership.branch_id:
        chosen = branches.filter(pk=request.membership.branch_id).first()
    return chosen or branches.first(), branches


@bank_staff_required()
def desk_home(request):
    branch, branches = _branch_of(request, request.GET.get("branch"))
    recent = list(selectors.assisted_orders(bank=request.bank, branch=branch)[:30])
    for assisted in recent:
        assisted.phone = selectors.assisted_phone(assisted)
    return render(request, "orders/desk/home.html", {
        "membership": request.membership, "branch": branch, "branches": branches,
        "recent": recent, "waiting_count": selectors.waiting_orders(
            bank=request.bank, branch=branch).count(),
    })


@bank_staff_required()
@require_http_methods(["GET", "POST"])
def desk_new(request):
    data = request.POST if request.method == "POST" else request.GET
    branch, branches = _branch_of(request, data.get("branch"))
    q = data.get("q", "").strip()[:40]
    skus = selectors.desk_skus(bank=request.bank, q=q)
    chosen = {}
    for key, value in data.items():
        if key.startswith("qty_") and value.strip() not in ("", "0"):
            chosen[key[4:]] = value.strip()
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and "place" in request.POST:
        try:
            assisted = services.assisted_checkout_start(
                staff=request.user, bank=request.bank,
                branch_id=branch.pk if branch else None,
                customer_phone=data.get("customer_phone", ""),
                customer_name=data.get("customer_name", ""),
                lines=list(chosen.items()))
        except ValidationError as exc:
            errors = validation_errors(exc)
        except ApplicationError as exc:
            errors = {exc.field or "non_field_errors": [exc.message]}
        else:
            messages.success(request, _("Order placed. A confirmation code was sent to the "
                                        "customer's phone."))
            return redirect("console_desk:detail", assisted.checkout.number)
    # The chosen products stay on the page even when a new search shows others.
    shown = {str(s.pk) for s in skus}
    if chosen:
        skus = selectors.skus_by_ids([k for k in chosen if k.isdigit() and k not in shown]) \
            + skus
    return render(request, "orders/desk/new.html", {
        "membership": request.membership, "branch": branch, "branches": branches,
        "q": q, "skus": skus, "chosen": chosen, "errors": errors,
        "message": first_message(errors) if errors else "",
        "customer_phone": data.get("customer_phone", "")[:20],
        "customer_name": data.get("customer_name", "")[:60],
    }, status=400 if errors else 200)


@bank_staff_required()
def desk_detail(request, number: str):
    assisted = selectors.assisted_order(bank=request.bank, number=number)
    return _detail_page(request, assisted)


def _detail_page(request, assisted, *, errors=None, status=200):
    checkout = assisted.checkout
    return render(request, "orders/desk/detail.html", {
        "membership": request.membership, "assisted": assisted, "checkout": checkout,
        "orders": checkout.orders.select_related("merchant", "pickup_branch")
        .prefetch_related("lines").order_by("pk"),
        "phone": selectors.assisted_phone(assisted),
        "pending": checkout.status == CheckoutStatus.PENDING_PAYMENT,
        "errors": errors or {},
    }, status=status)


@bank_staff_required()
@require_POST
def desk_action(request, number: str, action: str):
    assisted = selectors.assisted_order(bank=request.bank, number=number)
    args = {"assisted": assisted, "bank": request.bank, "staff": request.user}
    try:
        if action == "confirm":
            services.assisted_confirm(**args, code=request.POST.get("code", ""),
                                      client_address=client_address(request))
            messages.success(request, _("Confirmed by the customer. Take the payment."))
        elif action == "resend":
            services.assisted_code_resend(**args)
            messages.success(request, _("A new code was sent to the customer's phone."))
        elif action == "cancel":
            services.assisted_cancel(**args)
            messages.success(request, _("The order was cancelled; the goods are back in stock."))
        else:
            return redirect("console_desk:detail", number)
    except ApplicationError as exc:
        assisted.refresh_from_db()
        return _detail_page(request, assisted, errors={exc.field or "action": [exc.message]},
                            status=exc.status_code)
    return redirect("console_desk:detail", number)


@bank_staff_required()
def desk_waiting(request):
    branch, branches = _branch_of(request, request.GET.get("branch"))
    orders = selectors.waiting_orders(bank=request.bank, branch=branch).prefetch_related(
        "lines")[:200]
    return render(request, "orders/desk/waiting.html", {
        "membership": request.membership, "branch": branch, "branches": branches,
        "orders": orders,
    })


@bank_staff_required()
def desk_slip(request, number: str):
    order = selectors.desk_order(bank=request.bank, number=number)
    return render(request, "orders/desk/slip.html", {
        "membership": request.membership, "order": order, "lines": order.lines.all(),
        "phone": order_selectors.order_phone_for(order, audience=order_selectors.STAFF),
    })
