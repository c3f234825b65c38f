"""Recall pages: the bank console's (/console/recalls/, its merchants' batches) and the
federation's (/federation/recalls/, every batch). Both open and close through
``recalls.services``; a refused step shows its message and changes nothing."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from banks.models import StaffRole
from banks.permissions import bank_staff_required, federation_admin_required
from core.errors import ApplicationError
from recalls import selectors, services
from recalls.models import RecallResolution, RecallStatus

STAFF = (StaffRole.BANK_ADMIN, StaffRole.ACCOUNT_MANAGER)


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(exc.messages)


def _page(request, *, bank, recalls, here: str, errors=(), data=None, status: int = 200):
    return render(request, "recalls/recalls.html", {
        "recalls": list(recalls[:200]),
        "batches": list(selectors.batches_for_bank(bank=bank)[:500]),
        "errors": list(errors), "data": data or {}, "here": here,
        "membership": getattr(request, "membership", None),
        "resolutions": RecallResolution.choices, "open_status": RecallStatus.OPEN,
        "is_federation": bank is None,
    }, status=status)


def _open(request, *, bank, here: str, recalls):
    try:
        recall = services.recall_open(actor=request.user, bank=bank,
                                      batch_ids=request.POST.getlist("batches"),
                                      reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        return _page(request, bank=bank, recalls=recalls, here=here, errors=_errors(exc),
                     data=request.POST, status=400)
    messages.success(request, _("Recall %(number)s is open: %(n)d orders held.")
                     % {"number": recall.number, "n": recall.orders_held})
    return redirect(here)


def _close(request, *, recall, here: str):
    try:
        services.recall_close(recall=recall, actor=request.user,
                              resolution=request.POST.get("resolution", ""),
                              note=request.POST.get("note", ""))
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
        return redirect(here)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(here)
    messages.success(request, _("Recall %(number)s is closed.") % {"number": recall.number})
    return redirect(here)


@bank_staff_required(*STAFF)
@require_http_methods(["GET", "POST"])
def console_recalls(request):
    recalls = selectors.recalls_for_bank(bank=request.bank)
    here = request.path
    if request.method == "POST":
        return _open(request, bank=request.bank, here=here, recalls=recalls)
    return _page(request, bank=request.bank, recalls=recalls, here=here)


@bank_staff_required(*STAFF)
@require_POST
def console_recall_close(request, recall_id: int):
    recall = selectors.recall_closable_by_bank(bank=request.bank, recall_id=recall_id)
    return _close(request, recall=recall, here="/console/recalls/")


@federation_admin_required
@require_http_methods(["GET", "POST"])
def federation_recalls(request):
    recalls = selectors.recalls_all()
    here = request.path
    if request.method == "POST":
        return _open(request, bank=None, here=here, recalls=recalls)
    return _page(request, bank=None, recalls=recalls, here=here)


@federation_admin_required
@require_POST
def federation_recall_close(request, recall_id: int):
    recall = selectors.recall_get(recall_id=recall_id)
    return _close(request, recall=recall, here="/federation/recalls/")
