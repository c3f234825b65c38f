from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from banks.models import StaffRole
from banks.permissions import bank_staff_required
from banks.selectors import (
    bank_list_active,
    bank_primary_domain,
    branch_get,
    branch_list,
    staff_list,
)
from banks.services import bank_set_listing_policy


def _storefront_url(request, domain: str | None) -> str | None:
    if not domain:
        return None
    port = request.get_port()
    default = "443" if request.is_secure() else "80"
    suffix = "" if port == default else f":{port}"
    return f"{request.scheme}://{domain}{suffix}/"


def portal_banks(request) -> list[dict]:
    """Every member bank with a link to its storefront, for the portal's home page."""
    return [
        {"bank": bank, "url": _storefront_url(request, bank_primary_domain(bank)),
         "branches": list(bank.branches.all())}
        for bank in bank_list_active()
    ]


@bank_staff_required()
def console_home(request):
    bank = request.bank
    return render(request, "banks/console_home.html", {
        "membership": request.membership,
        "branches": branch_list(bank=bank),
        "staff": staff_list(bank=bank),
    })


@bank_staff_required(StaffRole.BANK_ADMIN)
@require_POST
def console_policy(request):
    bank_set_listing_policy(bank=request.bank, acting_user=request.user,
                            requires_review=request.POST.get("requires_listing_review") == "1")
    messages.success(request, _("Policy saved."))
    return redirect("console:home")


@bank_staff_required()
def console_branch(request, branch_id: int):
    branch = branch_get(bank=request.bank, branch_id=branch_id)
    return render(request, "banks/console_branch.html", {
        "membership": request.membership,
        "branch": branch,
        "staff": staff_list(bank=request.bank).filter(branch=branch),
    })
