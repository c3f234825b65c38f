from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from banks.permissions import federation_admin_required
from banks.selectors import bank_list_active
from banks.services import bank_onboard
from core.forms import add_service_errors
from federation.forms import OnboardBankForm


@federation_admin_required
def console_home(request):
    return render(request, "federation/console_home.html", {"banks": bank_list_active()})


@federation_admin_required
def bank_onboard_page(request):
    form = OnboardBankForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = bank_onboard(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if result.created:
                messages.success(request, _("%(bank)s has joined the platform.")
                                 % {"bank": result.bank.name})
            else:
                messages.info(request, _("%(bank)s was already on the platform; missing "
                                         "domains and branches were added.")
                              % {"bank": result.bank.name})
            return redirect("federation:home")
    status = 400 if request.method == "POST" else 200
    return render(request, "federation/bank_onboard.html", {"form": form}, status=status)
