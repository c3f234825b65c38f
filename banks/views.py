from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from banks.audit import EXPORT_LIMIT, PAGE_LIMIT, audit_query, audit_trail, with_actor_names
from banks.forms import AuditFilterForm, CustomerGroupForm, StaffChangeForm, StaffGrantForm
from banks.models import StaffRole
from banks.permissions import bank_staff_required
from banks.selectors import (
    bank_list_active,
    bank_primary_domain,
    branch_get,
    branch_list,
    staff_list,
)
from banks.services import (
    bank_set_listing_policy,
    customer_by_phone,
    customer_set_segment,
    staff_change,
    staff_grant_by_login,
    staff_revoke,
)
from core.errors import first_message, validation_errors
from core.exports import csv_writer
from core.forms import add_service_errors


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
                            requires_review=request.POST.get("requires_listing_review") == "1",
                            requires_passing_lab_report=request.POST.get(
                                "requires_passing_lab_report") == "1")
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


@bank_staff_required(StaffRole.BANK_ADMIN)
def console_staff(request):
    """The bank's staff: grant a role to a person (by mobile number or username), change a
    role or branch, revoke. Bank admins only; every change is on the bank's audit trail."""
    bank = request.bank
    form = StaffGrantForm(request.POST or None, bank=bank)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                done = staff_grant_by_login(
                    bank=bank, person=form.cleaned_data["person"],
                    role=form.cleaned_data["role"], branch=form.cleaned_data["branch"],
                    acting_user=request.user)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("%(name)s is now %(role)s.") % {
                    "name": done.user.shown_name, "role": done.get_role_display()})
                return redirect("console:staff")
        status = 400
    rows = [(m, StaffChangeForm(initial={"role": m.role, "branch": m.branch_id}, bank=bank,
                                prefix=f"m{m.pk}"))
            for m in staff_list(bank=bank)]
    return render(request, "banks/console_staff.html", {
        "membership": request.membership, "form": form, "rows": rows,
    }, status=status)


@bank_staff_required(StaffRole.BANK_ADMIN)
@require_POST
def console_staff_change(request, membership_id: int):
    bank = request.bank
    form = StaffChangeForm(request.POST, bank=bank, prefix=f"m{membership_id}")
    try:
        if request.POST.get("revoke"):
            done = staff_revoke(bank=bank, membership_id=membership_id,
                                acting_user=request.user)
            messages.success(request, _("%(name)s no longer works for the bank here.")
                             % {"name": done.user.shown_name})
        elif form.is_valid():
            done = staff_change(bank=bank, membership_id=membership_id,
                                role=form.cleaned_data["role"],
                                branch=form.cleaned_data["branch"], acting_user=request.user)
            messages.success(request, _("Saved: %(name)s.") % {"name": done.user.shown_name})
        else:
            messages.error(request, _("Choose a role."))
    except ValidationError as exc:
        messages.error(request, first_message(validation_errors(exc)))
    return redirect("console:staff")


@bank_staff_required(StaffRole.BANK_ADMIN)
def console_audit(request):
    """Who did what at the bank: admission and loan decisions, refunds, settlement, staff
    and settings changes, filterable by area, person and days; ``?export=csv`` downloads
    what the filters select (the newest 10,000). Bank admins only."""
    form = AuditFilterForm(request.GET or None)
    entries: list = []
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        data = form.cleaned_data if form.is_bound else {}
        export = request.GET.get("export") == "csv"
        query = audit_query(bank=request.bank, area=data.get("area", ""),
                            person=data.get("person", ""),
                            since=data.get("since"), until=data.get("until"),
                            limit=EXPORT_LIMIT if export else PAGE_LIMIT)
        entries = with_actor_names(audit_trail(query))
        if export:
            return _audit_csv(request.bank, entries)
    return render(request, "banks/console_audit.html", {
        "membership": request.membership, "form": form, "entries": entries,
        "page_limit": PAGE_LIMIT, "export_query": request.GET.urlencode(),
    }, status=status)


def _audit_csv(bank, entries) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{bank.code}.csv"'
    response.write("\ufeff")  # spreadsheets read the file as UTF-8
    writer = csv_writer(response)
    writer.writerow([_("Time"), _("Area"), _("Who"), _("Action"), _("Object"), _("Note")])
    for entry, who, area in entries:
        writer.writerow([timezone.localtime(entry.at).strftime("%Y-%m-%d %H:%M:%S"), area,
                         who, entry.action, entry.target, entry.note])
    return response


@bank_staff_required()
def console_customer_group(request):
    """Any of the bank's staff record a customer's group (villager, small business owner,
    ...), which the points mall's offers and the bank's reports use. GET ?phone= shows the
    customer's current group; POST records it (audited)."""
    data = request.POST if request.method == "POST" else (request.GET or None)
    form = CustomerGroupForm(data)
    customer, status = None, 200
    if form.is_bound and form.is_valid():
        try:
            if request.method == "POST":
                customer = customer_set_segment(
                    bank=request.bank, phone=form.cleaned_data["phone"],
                    segment=form.cleaned_data["segment"], acting_user=request.user)
                messages.success(request, _("Saved: %(name)s.") % {"name": customer.shown_name})
                return redirect(f"{request.path}?phone={customer.phone}")
            customer = customer_by_phone(form.cleaned_data["phone"])
            form = CustomerGroupForm(initial={"phone": customer.phone,
                                              "segment": customer.segment})
        except ValidationError as exc:
            add_service_errors(form, exc)
            status = 400
    elif form.is_bound:
        status = 400
    if customer is None:
        del form.fields["segment"]  # first find the customer
    return render(request, "banks/console_customer_group.html", {
        "membership": request.membership, "form": form, "customer": customer,
    }, status=status)
