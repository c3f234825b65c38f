"""The address book's pages: list, add, edit, make default, delete. The division pickers
are four selects filled level by level (by the page's script from GET
/api/v1/divisions/, or by the server when the form comes back)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.models import Address
from core.errors import validation_errors

LEVELS = (("province", gettext_lazy("Province")), ("city", gettext_lazy("City")),
          ("county", gettext_lazy("County or district")),
          ("township", gettext_lazy("Township or street")))


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return candidate
    return ""


def pickers(codes: list[str]) -> list[dict]:
    """The four division selects for a chosen path (province first): each level's
    options are the divisions under the level chosen above it; a code that does not sit
    under the one above it is dropped, with everything below it."""
    rows, parent, reachable = [], "", True
    for (name, label), code in zip(LEVELS, [*codes, "", "", "", ""][:4], strict=True):
        options = selectors.division_children(parent=parent) if reachable else []
        chosen = code if code and any(o.code == code for o in options) else ""
        rows.append({"name": name, "label": label, "options": options, "chosen": chosen})
        reachable, parent = bool(chosen), chosen
    return rows


def _posted_division(request) -> tuple[str, list[str]]:
    codes = [request.POST.get(name, "").strip() for name, _label in LEVELS]
    rows = pickers(codes)
    chosen = [row["chosen"] for row in rows if row["chosen"]]
    return (chosen[-1] if chosen else ""), [row["chosen"] for row in rows]


def _form_page(request, entry: Address | None, *, values: dict, codes: list[str],
               errors: dict | None = None):
    return render(request, "accounts/address_form.html", {
        "entry": entry, "values": values, "pickers": pickers(codes), "errors": errors or {},
        "next": _next_url(request)}, status=400 if errors else 200)


@login_required
def address_book(request):
    return render(request, "accounts/addresses.html", {
        "entries": selectors.addresses_of(user=request.user),
        "limit": services.ADDRESS_BOOK_LIMIT})


def _save(request, entry: Address | None):
    division, codes = _posted_division(request)
    values = {key: request.POST.get(key, "").strip()
              for key in ("recipient_name", "recipient_phone", "detail")}
    values["is_default"] = request.POST.get("is_default") == "on"
    if request.POST.get("refresh"):   # without script: show the next level's choices
        return _form_page(request, entry, values=values, codes=codes)
    spec = services.AddressSpec(division=division, **values)
    try:
        if entry is None:
            services.address_create(user=request.user, spec=spec)
        else:
            services.address_update(user=request.user, address_id=entry.pk, spec=spec)
    except ValidationError as exc:
        return _form_page(request, entry, values=values, codes=codes,
                          errors=validation_errors(exc))
    messages.success(request, _("Address saved."))
    return redirect(_next_url(request) or "accounts:addresses")


@login_required
def address_new(request):
    if request.method == "POST":
        return _save(request, None)
    values = {"recipient_name": request.user.display_name,
              "recipient_phone": request.user.phone, "detail": "", "is_default": False}
    return _form_page(request, None, values=values, codes=[])


def _own(request, address_id: int) -> Address:
    try:
        return selectors.address_of(user=request.user, address_id=address_id)
    except Address.DoesNotExist:
        raise Http404 from None


@login_required
def address_edit(request, address_id: int):
    entry = _own(request, address_id)
    if request.method == "POST":
        return _save(request, entry)
    values = {"recipient_name": entry.recipient_name,
              "recipient_phone": entry.recipient_phone, "detail": entry.detail,
              "is_default": entry.is_default}
    return _form_page(request, entry, values=values, codes=[d.code for d in entry.path])


@login_required
@require_POST
def address_default(request, address_id: int):
    try:
        services.address_set_default(user=request.user, address_id=address_id)
    except Address.DoesNotExist:
        raise Http404 from None
    messages.success(request, _("Default address changed."))
    return redirect(_next_url(request) or "accounts:addresses")


@login_required
@require_POST
def address_delete(request, address_id: int):
    try:
        services.address_delete(user=request.user, address_id=address_id)
    except Address.DoesNotExist:
        raise Http404 from None
    messages.success(request, _("Address deleted."))
    return redirect("accounts:addresses")
