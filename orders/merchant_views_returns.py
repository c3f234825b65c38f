"""The merchant console's returns, under /merchant/<merchant_id>/returns/: the list by
stage, with approve / refuse (a note is required to refuse) and "goods received", which
refunds the returned lines and puts their units back on the shelf. The merchant comes from
``merchant_for_member`` and every return from the merchant's own, so a member of another
shop gets 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from catalog.selectors import merchant_for_member
from core import uploads
from core.errors import ApplicationError
from orders import selectors_returns as returns
from orders import services
from orders.models import ReturnStatus

R = ReturnStatus
TABS = [
    ("decide", gettext_lazy("To decide"), (R.REQUESTED,)),
    ("coming", gettext_lazy("On the way back"), (R.APPROVED, R.SHIPPED_BACK, R.RECEIVED)),
    ("closed", gettext_lazy("Closed"), (R.REFUNDED, R.REFUSED, R.WITHDRAWN, R.LAPSED)),
    ("all", gettext_lazy("All"), ()),
]


def _merchant(request, merchant_id: int):
    return merchant_for_member(user=request.user, bank=request.bank, merchant_id=merchant_id)


def _list(request, merchant, *, errors=None, status=200):
    per_status = dict(returns.returns_of_merchant(merchant=merchant).order_by()
                      .values_list("status").annotate(n=Count("pk")))
    tabs = [{"key": key, "label": label,
             "count": sum(n for s, n in per_status.items() if not statuses or s in statuses),
             "statuses": statuses} for key, label, statuses in TABS]
    current = next((t for t in tabs if t["key"] == request.GET.get("tab")), None)
    if current is None:
        current = next((t for t in tabs[:2] if t["count"]), tabs[-1])
    qs = returns.returns_of_merchant(merchant=merchant)
    if current["statuses"]:
        qs = qs.filter(status__in=current["statuses"])
    page = Paginator(qs.order_by("-created_at", "-id"), 30).get_page(request.GET.get("page"))
    return TemplateResponse(request, "orders/returns/merchant_list.html", {
        "merchant": merchant, "tabs": tabs, "tab": current, "page": page,
        "errors": errors or {},
    }, status=status)


@login_required
def return_list(request, merchant_id: int):
    return _list(request, _merchant(request, merchant_id))


def _after(request, merchant, ret, run, done):
    try:
        run()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _list(request, merchant, errors={ret.pk: exc.messages}, status=400)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _list(request, merchant, errors={ret.pk: [exc.message]}, status=400)
    messages.success(request, done)
    return redirect("merchant_returns:list", merchant.pk)


@login_required
@require_POST
def return_decide(request, merchant_id: int, return_id: int):
    merchant = _merchant(request, merchant_id)
    ret = returns.return_of_merchant(merchant=merchant, return_id=return_id)
    approve = request.POST.get("decision") == "approve"

    def run():
        services.return_decide(return_request=ret, actor=request.user, approve=approve,
                               note=request.POST.get("note", ""))

    done = (_("Return approved: the buyer sends the goods back.") if approve
            else _("Return refused; the buyer sees your note."))
    return _after(request, merchant, ret, run, done)


@login_required
@require_POST
def return_receive(request, merchant_id: int, return_id: int):
    merchant = _merchant(request, merchant_id)
    ret = returns.return_of_merchant(merchant=merchant, return_id=return_id)

    def run():
        services.return_receive(return_request=ret, actor=request.user)

    return _after(request, merchant, ret, run,
                  _("Goods received: back on your shelf, and the buyer is refunded."))


@login_required
def return_photo(request, merchant_id: int, return_id: int, photo_id: int):
    merchant = _merchant(request, merchant_id)
    ret = returns.return_of_merchant(merchant=merchant, return_id=return_id)
    photo = returns.photo_of_return(ret=ret, photo_id=photo_id)
    return uploads.serve_file(photo.image.storage, photo.image.name, private=True)
