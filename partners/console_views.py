"""The partner console on the portal (/partner/): a partner platform's own people, signed
in with ordinary accounts, see their usage, orders, webhooks and statements; its admins
manage keys and webhook endpoints. Viewers only read (a change is 403); anyone who is
not the partner's member gets 404 for everything of it. The rules are the services' and
selectors' the partner API calls; these pages parse and show."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, first_message, validation_errors
from core.exports import csv_writer
from core.forms import add_service_errors
from orders.models import CheckoutStatus, OrderStatus
from orders.selectors_history import order_history
from partners.forms import EndpointForm, KeyForm, RotateForm
from partners.models import MemberRole
from partners.selectors import key_get, key_list, memberships_of, partner_for_member
from partners.selectors_orders import (
    deliveries_of,
    delivery_get,
    endpoint_get,
    endpoints_of,
    parse_month,
    partner_order_data,
    partner_order_get,
    partner_orders,
    partner_overview,
    partner_statement,
    payment_url,
)
from partners.services import key_create, key_revoke, key_rotate
from partners.webhooks import delivery_replay, endpoint_create, endpoint_update

ORDERS_PAGE = 50


def partner_member_required(admin: bool = False):
    """Page decorator: the partner of the URL's ``partner_id`` whose member the person is
    (``request.partner``, ``request.partner_member``); 404 on a bank's domain and to
    anyone not its member; with ``admin``, 403 to a viewer."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, partner_id: int, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if getattr(request, "bank", None) is not None:
                raise Http404
            request.partner, request.partner_member = partner_for_member(
                user=request.user, partner_id=partner_id, admin=admin)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _render(request, template: str, context: dict, status: int = 200):
    member = request.partner_member
    return render(request, template, {
        "partner": request.partner, "member": member,
        "can_change": member.role == MemberRole.ADMIN, **context}, status=status)


def _month(request) -> tuple[int, int]:
    try:
        return parse_month(request.GET.get("month", ""))
    except ValidationError:
        today = timezone.localdate()
        return today.year, today.month


ORDER_STATUS = dict(OrderStatus.choices)
CHECKOUT_STATUS = dict(CheckoutStatus.choices)


def _labelled(data: dict) -> dict:
    """The API's view of an order with its statuses in words, for the pages."""
    data["status_label"] = CHECKOUT_STATUS.get(data["status"], data["status"])
    for order in data["orders"]:
        order["status_label"] = ORDER_STATUS.get(order["status"], order["status"])
    return data


def console_entry(request):
    """/partner/: the person's partner console (the list when there are several)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if getattr(request, "bank", None) is not None:
        raise Http404
    memberships = memberships_of(user=request.user)
    if not memberships:
        raise Http404
    if len(memberships) == 1:
        return redirect("partner_console:overview", partner_id=memberships[0].partner_id)
    return render(request, "partners/console/choose.html", {"memberships": memberships})


@partner_member_required()
def overview(request):
    return _render(request, "partners/console/overview.html", {
        "tab": "overview", "overview": partner_overview(partner=request.partner)})


# --- keys -----------------------------------------------------------------------------------


def _keys_page(request, *, form=None, rotate_form=None, new=None, status=200):
    now = timezone.now()
    keys = list(key_list(partner=request.partner))
    for key in keys:
        key.usable = key.revoked_at is None and (key.expires_at is None
                                                 or key.expires_at > now)
    return _render(request, "partners/console/keys.html", {
        "tab": "keys", "keys": keys,
        "form": form or KeyForm(), "rotate_form": rotate_form or RotateForm(),
        "new": new, "now": now}, status=status)


@partner_member_required()
def keys(request):
    if request.method != "POST":
        return _keys_page(request)
    if request.partner_member.role != MemberRole.ADMIN:
        raise PermissionDenied
    form = KeyForm(request.POST)
    if form.is_valid():
        try:
            new = key_create(partner=request.partner, name=form.cleaned_data["name"],
                             scopes=form.cleaned_data["scopes"], acting_user=request.user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            # The whole key is on this answer only: no redirect, nothing kept.
            return _keys_page(request, new=new)
    return _keys_page(request, form=form, status=400)


@require_POST
@partner_member_required(admin=True)
def key_rotate_page(request, key_id: int):
    key = key_get(key_id=key_id, partner=request.partner)
    form = RotateForm(request.POST)
    if form.is_valid():
        try:
            new = key_rotate(key=key, acting_user=request.user,
                             overlap_hours=form.cleaned_data["overlap_hours"])
        except ValidationError as exc:
            messages.error(request, first_message(validation_errors(exc)))
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            return _keys_page(request, new=new)
    else:
        messages.error(request, first_message(form.errors))
    return _keys_page(request, status=400)


@require_POST
@partner_member_required(admin=True)
def key_revoke_page(request, key_id: int):
    key = key_revoke(key=key_get(key_id=key_id, partner=request.partner),
                     acting_user=request.user)
    messages.success(request, _("The key %(prefix)s is revoked.") % {"prefix": key.prefix})
    return redirect("partner_console:keys", partner_id=request.partner.pk)


# --- orders ---------------------------------------------------------------------------------


@partner_member_required()
def orders(request):
    status = request.GET.get("status", "")
    if status not in OrderStatus.values:
        status = ""
    try:
        cursor = int(request.GET.get("cursor", "") or 0) or None
    except ValueError:
        cursor = None
    page, next_cursor = partner_orders(partner=request.partner, cursor=cursor,
                                       limit=ORDERS_PAGE, status=status)
    return _render(request, "partners/console/orders.html", {
        "tab": "orders", "orders": [_labelled(partner_order_data(po)) for po in page],
        "next_cursor": next_cursor, "status": status, "statuses": OrderStatus.choices})


@partner_member_required()
def order_detail(request, number: str):
    po = partner_order_get(partner=request.partner, number=number)
    data = _labelled(partner_order_data(po, payment_url=payment_url(request, po)))
    histories = {o.number: order_history(o) for o in po.checkout.orders.all()}
    for order in data["orders"]:
        order["history"] = histories.get(order["number"], [])
    return _render(request, "partners/console/order_detail.html", {
        "tab": "orders", "order": data, "checkout": po.checkout})


# --- webhooks -------------------------------------------------------------------------------


def _webhooks_page(request, *, form=None, secret_of=None, status=200):
    endpoint_id = request.GET.get("endpoint", "")
    endpoint_id = int(endpoint_id) if endpoint_id.isdigit() else None
    return _render(request, "partners/console/webhooks.html", {
        "tab": "webhooks", "endpoints": endpoints_of(partner=request.partner),
        "deliveries": deliveries_of(partner=request.partner, endpoint_id=endpoint_id,
                                    limit=50),
        "form": form or EndpointForm(), "new_endpoint": secret_of,
        "endpoint_filter": endpoint_id}, status=status)


@partner_member_required()
def webhooks(request):
    if request.method != "POST":
        return _webhooks_page(request)
    if request.partner_member.role != MemberRole.ADMIN:
        raise PermissionDenied
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint = endpoint_create(partner=request.partner, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            # The signing secret is on this answer only.
            return _webhooks_page(request, secret_of=endpoint)
    return _webhooks_page(request, form=form, status=400)


@require_POST
@partner_member_required(admin=True)
def endpoint_active(request, endpoint_id: int):
    endpoint = endpoint_get(partner=request.partner, endpoint_id=endpoint_id)
    active = request.POST.get("active") == "1"
    try:
        endpoint_update(endpoint=endpoint, is_active=active)
    except ValidationError as exc:
        messages.error(request, first_message(validation_errors(exc)))
    else:
        messages.success(request, (_("The endpoint is enabled.") if active
                                   else _("The endpoint is disabled.")))
    return redirect("partner_console:webhooks", partner_id=request.partner.pk)


@require_POST
@partner_member_required(admin=True)
def delivery_replay_page(request, delivery_id: int):
    delivery = delivery_replay(delivery=delivery_get(partner=request.partner,
                                                     delivery_id=delivery_id))
    if delivery.status == "succeeded":
        messages.success(request, _("Sent again: your endpoint answered %(code)s.")
                         % {"code": delivery.last_status_code})
    else:
        messages.error(request, _("Sent again, without success: %(error)s.")
                       % {"error": delivery.last_error})
    return redirect("partner_console:webhooks", partner_id=request.partner.pk)


# --- statements -----------------------------------------------------------------------------


@partner_member_required()
def statements(request):
    year, month = _month(request)
    statement = partner_statement(partner=request.partner, year=year, month=month)
    return _render(request, "partners/console/statements.html", {
        "tab": "statements", "statement": statement})


@partner_member_required()
def statement_csv(request):
    year, month = _month(request)
    st = partner_statement(partner=request.partner, year=year, month=month)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="partner-{request.partner.pk}-statement-{st.month}.csv"')
    response.write("\ufeff")  # so that spreadsheet programs read the Chinese right
    writer = csv_writer(response)
    writer.writerow(["order", "checkout", "customer_reference", "settled_at",
                     "goods_total", "fee"])
    for line in st.lines:
        writer.writerow([line.order, line.checkout, line.customer_reference,
                         timezone.localtime(line.settled_at).isoformat(),
                         line.goods_total, line.fee])
    writer.writerow(["total", "", "", "", st.goods_total, st.fees])
    return response

