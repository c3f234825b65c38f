"""Search in the consoles: what shoppers could not find (the federation's and a bank's
own storefront), and the synonym dictionary that federation admins edit."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from banks.permissions import bank_staff_required, federation_admin_required
from catalog import selectors as catalog_selectors
from catalog import services as catalog_services
from catalog.models import SynonymGroup
from core.errors import first_message, validation_errors
from core.forms import add_service_errors
from federation import selectors
from federation.forms import SynonymGroupForm
from federation.traffic_views import _base, _range_or_error


def _reach(term: str) -> dict:
    """Which products a term reaches, as the portal's search finds them."""
    if not term:
        return {}
    try:
        lq = catalog_selectors.parse_listing_query({"q": term, "per_page": 20})
    except ValidationError as exc:
        return {"term": term, "error": first_message(validation_errors(exc))}
    listing = catalog_selectors.storefront_listing(host_bank=None, lq=lq, with_facets=False)
    return {"term": term, "listing": listing,
            "group": catalog_selectors.synonyms().get(term.strip(), ())}


@federation_admin_required
def federation_search(request):
    form = SynonymGroupForm(request.POST if request.POST.get("action") == "add" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "delete":
            group = get_object_or_404(SynonymGroup, pk=request.POST.get("group") or 0)
            catalog_services.synonym_group_delete(group=group)
            messages.success(request, _("Removed the group %(g)s.") % {"g": group})
            return redirect("federation:search")
        if action == "add" and form.is_valid():
            try:
                group = catalog_services.synonym_group_create(words=form.cleaned_data["words"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Added the group %(g)s; searches use it now.")
                                 % {"g": group})
                return redirect("federation:search")
    start, end, errors = _range_or_error(request)
    context = {**_base(start, end, errors), "form": form,
               "groups": catalog_selectors.synonym_groups(),
               "unfound": selectors.searches_without_results(start=start, end=end),
               "reach": _reach(request.GET.get("term", "").strip())}
    status = 400 if errors or (request.method == "POST") else 200
    return render(request, "federation/search.html", context, status=status)


@bank_staff_required()
def bank_searches(request):
    start, end, errors = _range_or_error(request)
    context = {**_base(start, end, errors), "membership": request.membership,
               "unfound": selectors.searches_without_results(start=start, end=end,
                                                             bank=request.bank)}
    return render(request, "federation/bank_searches.html", context,
                  status=400 if errors else 200)
