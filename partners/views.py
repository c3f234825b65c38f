"""The federation console's partner platforms page: list, register, suspend, reactivate,
close. The rules are the services'; this page parses and shows."""

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from banks.permissions import federation_admin_required
from core.errors import ApplicationError, first_message, validation_errors
from core.forms import add_service_errors
from partners.forms import MemberForm, PartnerForm
from partners.selectors import (
    member_get,
    members_of,
    partner_events,
    partner_get,
    partner_list,
)
from partners.selectors_orders import parse_month, partners_fees_of_month
from partners.services import (
    member_add,
    member_remove,
    partner_close,
    partner_reactivate,
    partner_register,
    partner_suspend,
)

ACTIONS = {"suspend": partner_suspend, "reactivate": partner_reactivate,
           "close": partner_close}


@federation_admin_required
def partners_page(request):
    return _partners_page(request)


def _partners_page(request, member_form=None):
    form = PartnerForm(request.POST if request.method == "POST" and member_form is None
                       else None)
    if request.method == "POST" and member_form is None and form.is_valid():
        try:
            partner = partner_register(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("%(name)s is registered.") % {"name": partner.name})
            return redirect("partners:list")
    try:
        year, month = parse_month(request.GET.get("month", ""))
    except ValidationError:
        today = timezone.localdate()
        year, month = today.year, today.month
    fees = partners_fees_of_month(year=year, month=month)
    partners = list(partner_list())
    for partner in partners:
        partner.actions = partner.STATES.allowed(partner.status)
        partner.month_fees = fees.get(partner.pk, Decimal("0.00"))
    return render(request, "partners/partners.html", {
        "form": form, "partners": partners, "events": partner_events(),
        "month": f"{year:04d}-{month:02d}", "members": members_of(),
        "member_form": member_form or MemberForm(),
    }, status=400 if request.method == "POST" else 200)


@require_POST
@federation_admin_required
def member_add_page(request):
    """Give a person a place in a partner's console (the partner's own people)."""
    form = MemberForm(request.POST)
    if form.is_valid():
        try:
            member = member_add(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("%(person)s is in the console of %(partner)s.")
                             % {"person": member.user.shown_name,
                                "partner": member.partner.name})
            return redirect("partners:list")
    return _partners_page(request, member_form=form)


@require_POST
@federation_admin_required
def member_remove_page(request, member_id: int):
    member = member_get(member_id=member_id)
    member_remove(member=member, acting_user=request.user)
    messages.success(request, _("%(person)s left the console of %(partner)s.")
                     % {"person": member.user.shown_name, "partner": member.partner.name})
    return redirect("partners:list")


@require_POST
@federation_admin_required
def partner_action(request, partner_id: int, action: str):
    partner = partner_get(partner_id=partner_id)
    service = ACTIONS.get(action)
    if service is None:
        messages.error(request, _("Unknown action."))
        return redirect("partners:list")
    try:
        service(partner=partner, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, first_message(validation_errors(exc)))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s is now %(status)s.")
                         % {"name": partner.name, "status": partner.get_status_display()})
    return redirect("partners:list")
