"""Warehouse pages: the bank console's (/console/warehouses/: register and decide
warehouses, the lots in them, issue and cancel receipts), the merchant's
(/merchant/<id>/warehouses/: its lots and their movements, the receipts it holds) and
the public verification page of a receipt (every host; its QR code points at the
portal's). Every write calls ``warehouses.services``; a refused step shows its message
with a 400 and changes nothing."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from banks.models import StaffRole
from banks.permissions import bank_staff_required
from catalog.models import Batch, Sku
from catalog.qr import qr_png, qr_svg
from catalog.selectors import merchant_for_member
from core.errors import ApplicationError
from warehouses import selectors, services
from warehouses.models import TemperatureClass, Warehouse

STAFF = (StaffRole.BANK_ADMIN, StaffRole.ACCOUNT_MANAGER)


def _messages(exc: Exception) -> list[str]:
    if isinstance(exc, ApplicationError):
        return [exc.message]
    if hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(getattr(exc, "messages", [str(exc)]))


def _verify_url(request, receipt) -> str:
    """The portal's verification page (the portal's host, this request's scheme/port)."""
    path = reverse("warehouse-receipt-verify", args=[receipt.verify_token])
    domains = getattr(settings, "PORTAL_DOMAINS", [])
    if not domains:
        return request.build_absolute_uri(path)
    port = request.get_port()
    default = (request.scheme == "https" and port == "443") or (
        request.scheme == "http" and port == "80")
    return f"{request.scheme}://{domains[0]}{'' if default else ':' + port}{path}"


# --- public --------------------------------------------------------------------------------


def verify(request, token):
    return render(request, "warehouses/verify.html",
                  {"facts": selectors.receipt_verify(token=token)})


def verify_qr(request, token, fmt: str):
    receipt = selectors.receipt_by_token(token=token)
    url = _verify_url(request, receipt)
    if fmt == "svg":
        return HttpResponse(qr_svg(url), content_type="image/svg+xml")
    return HttpResponse(qr_png(url), content_type="image/png")


# --- bank console --------------------------------------------------------------------------


def _console_page(request, *, errors=(), status: int = 200):
    bank = request.bank
    return render(request, "warehouses/console.html", {
        "warehouses": list(selectors.warehouses_for_bank(bank=bank)[:500]),
        "lots": list(selectors.lots_for_bank(bank=bank).order_by("-id")[:500]),
        "receipts": list(selectors.receipts_for_bank(bank=bank)[:500]),
        "temperature_classes": TemperatureClass.choices, "errors": list(errors),
        "data": request.POST if request.method == "POST" else {},
        "actions": {w.pk: Warehouse.STATES.allowed(w.status) for w in
                    selectors.warehouses_for_bank(bank=bank)[:500]},
    }, status=status)


@bank_staff_required(*STAFF)
@require_http_methods(["GET", "POST"])
def console_warehouses(request):
    if request.method == "GET":
        return _console_page(request)
    post, bank, actor = request.POST, request.bank, request.user
    what = post.get("do", "")
    try:
        if what == "register":
            services.warehouse_register(
                bank=bank, actor=actor, name=post.get("name", ""),
                operator=post.get("operator", ""), address=post.get("address", ""),
                capacity=post.get("capacity", ""),
                temperature_class=post.get("temperature_class", ""))
            messages.success(request, _("The warehouse is registered; it waits for an "
                                        "inspection."))
        elif what == "decide":
            warehouse = selectors.warehouse_for_bank(
                bank=bank, warehouse_id=_id(post.get("warehouse")))
            services.warehouse_decide(warehouse=warehouse, actor=actor,
                                      action=post.get("action", ""), note=post.get("note", ""))
            messages.success(request, _("Done."))
        elif what == "issue":
            lot = selectors.lot_for_bank(bank=bank, lot_id=_id(post.get("lot")))
            receipt = services.receipt_issue(bank=bank, actor=actor, lot=lot,
                                             quantity=post.get("quantity", ""))
            messages.success(request, _("Receipt %(number)s is issued.")
                             % {"number": receipt.number})
        elif what == "cancel":
            receipt = selectors.receipt_for_bank(bank=bank, receipt_id=_id(post.get("receipt")))
            services.receipt_cancel(receipt=receipt, actor=actor, note=post.get("note", ""))
            messages.success(request, _("Receipt %(number)s is cancelled.")
                             % {"number": receipt.number})
        else:
            return _console_page(request, errors=[_("Unknown action.")], status=400)
    except (ValidationError, ApplicationError) as exc:
        return _console_page(request, errors=_messages(exc), status=400)
    return redirect("console_warehouses:list")


def _id(value) -> int:
    text = str(value or "").strip()
    if not text.isdigit() or len(text) > 18:
        raise ValidationError({"id": [_("Choose one from the list.")]})
    return int(text)


# --- merchant ------------------------------------------------------------------------------


def _merchant_page(request, merchant, *, errors=(), status: int = 200):
    receipts = list(selectors.receipts_of_holder(merchant=merchant)[:500])
    return render(request, "warehouses/merchant.html", {
        "merchant": merchant, "errors": list(errors),
        "lots": list(selectors.lots_of_merchant(merchant=merchant)[:500]),
        "receipts": receipts,
        "qr": {r.pk: reverse("warehouse-receipt-qr", args=[r.verify_token, "svg"])
               for r in receipts},
        "warehouses": list(selectors.warehouses_receiving(bank_id=merchant.bank_id)),
        "skus": list(Sku.objects.filter(product__merchant=merchant)
                     .select_related("product").order_by("product__name", "pk")[:500]),
        "batches": list(Batch.objects.filter(product__merchant=merchant)
                        .select_related("product")[:500]),
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def merchant_stock(request, merchant_id: int):
    merchant = merchant_for_member(user=request.user, bank=request.bank,
                                   merchant_id=merchant_id)
    if request.method == "GET":
        return _merchant_page(request, merchant)
    post, actor = request.POST, request.user
    what = post.get("do", "")
    try:
        if what == "inbound":
            warehouse = get_object_or_404(Warehouse.objects.filter(bank_id=merchant.bank_id),
                                          pk=_id(post.get("warehouse")))
            sku = get_object_or_404(Sku.objects.filter(product__merchant=merchant),
                                    pk=_id(post.get("sku")))
            batch = (get_object_or_404(Batch.objects.filter(product__merchant=merchant),
                                       pk=_id(post.get("batch"))) if post.get("batch") else None)
            services.lot_inbound(actor=actor, merchant=merchant, warehouse=warehouse, sku=sku,
                                 quantity=post.get("quantity", ""), grade=post.get("grade", ""),
                                 batch=batch, note=post.get("note", ""))
        elif what in ("outbound", "stocktake", "transfer"):
            lot = selectors.lot_of_merchant(merchant=merchant, lot_id=_id(post.get("lot")))
            if what == "outbound":
                services.lot_outbound(actor=actor, lot=lot, quantity=post.get("quantity", ""),
                                      note=post.get("note", ""))
            elif what == "stocktake":
                services.lot_stocktake(actor=actor, lot=lot, counted=post.get("counted", ""),
                                       note=post.get("note", ""))
            else:
                target = get_object_or_404(Warehouse.objects.filter(bank_id=merchant.bank_id),
                                           pk=_id(post.get("to_warehouse")))
                services.lot_transfer(actor=actor, lot=lot, to_warehouse=target,
                                      quantity=post.get("quantity", ""),
                                      note=post.get("note", ""))
        elif what == "transfer_receipt":
            receipt = selectors.receipt_of_holder(merchant=merchant,
                                                  receipt_id=_id(post.get("receipt")))
            services.receipt_transfer(receipt=receipt, actor=actor,
                                      to_merchant_id=post.get("to_merchant", ""),
                                      note=post.get("note", ""))
        else:
            return _merchant_page(request, merchant, errors=[_("Unknown action.")], status=400)
    except (ValidationError, ApplicationError) as exc:
        return _merchant_page(request, merchant, errors=_messages(exc), status=400)
    messages.success(request, _("Done."))
    return redirect("merchant_warehouses:stock", merchant.pk)
