
import datetime
import io
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.audit import FEDERATION_ACTIONS
from banks.permissions import federation_admin_required
from banks.selectors import (
    bank_list_active,
    federation_admin_get,
    federation_admins,
    federation_events,
)
from banks.services import (
    bank_onboard,
    federation_admin_grant_by_login,
    federation_admin_revoke,
)
from core.errors import first_message, validation_errors
from core.exports import csv_writer
from core.forms import add_service_errors
from federation.forms import BranchRowFormSet, OnboardBankForm, PersonForm
from payments.forms import parse_month
from payments.selectors import federation_settlement_day
from payments.settlement import referral_statement


@federation_admin_required
def console_home(request):
    return render(request, "federation/console_home.html", {"banks": bank_list_active()})


@federation_admin_required
def bank_onboard_page(request):
    """Onboard a bank: its details, its branches as rows of a table (three empty rows;
    onboarding again adds more) and its first admin."""
    form = OnboardBankForm(request.POST or None)
    rows = BranchRowFormSet(request.POST or None, prefix="branches")
    if request.method == "POST" and form.is_valid() and rows.is_valid():
        branches = [spec for row in rows.forms if (spec := row.spec()) is not None]
        try:
            result = bank_onboard(acting_user=request.user, branches=branches,
                                  **form.cleaned_data)
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
            if result.first_admin is not None:
                messages.success(request, _("%(name)s is the bank's admin.")
                                 % {"name": result.first_admin.shown_name})
            return redirect("federation:home")
    status = 400 if request.method == "POST" else 200
    return render(request, "federation/bank_onboard.html", {"form": form, "rows": rows},
                  status=status)


@federation_admin_required
def referral_statement_page(request):
    """The month's inter-bank referral fees per pair of banks, to clear; ``?month=YYYY-MM``
    (default: this month), ``&format=csv`` to download."""
    raw = request.GET.get("month", "")
    today = timezone.localdate()
    month = parse_month(raw) if raw else (today.year, today.month)
    if month is None:
        return render(request, "federation/referral_statement.html", {
            "month": raw[:7], "error": _("Choose a month as YYYY-MM."), "rows": []},
            status=400)
    rows = referral_statement(year=month[0], month=month[1])
    label = f"{month[0]:04d}-{month[1]:02d}"
    if request.GET.get("format") == "csv":
        return referral_statement_csv(rows, label)
    return render(request, "federation/referral_statement.html", {
        "month": label, "rows": [dict(r, net_abs=abs(r["net_a_to_b"])) for r in rows],
        "total": sum((r["a_owes_b"] + r["b_owes_a"] for r in rows), Decimal("0.00")),
    })


def referral_statement_csv(rows, label: str) -> HttpResponse:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["month", "bank_a", "bank_b", "a_owes_b", "b_owes_a", "net_a_to_b"])
    for r in rows:
        writer.writerow([label, r["bank_a"].code, r["bank_b"].code, f"{r['a_owes_b']:.2f}",
                         f"{r['b_owes_a']:.2f}", f"{r['net_a_to_b']:.2f}"])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="referral-statement-{label}.csv"'
    return response


def parse_day(raw: str):
    """``YYYY-MM-DD`` as a date, or None."""
    try:
        return datetime.date.fromisoformat((raw or "").strip())
    except ValueError:
        return None


def _settlement_day(request):
    """The day asked (``?day=YYYY-MM-DD``, default today) and its runs, or None."""
    raw = request.GET.get("day", "")
    day = parse_day(raw) if raw else timezone.localdate()
    return (raw[:10], None) if day is None else (day.isoformat(),
                                                 federation_settlement_day(day=day))


@federation_admin_required
def settlement_day_page(request):
    """Every bank's settlement runs of a day and their progress (the daily settlement
    runs one task per bank, in parallel)."""
    label, data = _settlement_day(request)
    if data is None:
        return render(request, "federation/settlement_day.html", {
            "day": label, "error": _("Choose a day as YYYY-MM-DD.")}, status=400)
    return render(request, "federation/settlement_day.html", {
        "day": label, "data": data,
        "under_way": data["status"] in ("pending", "running")})


@federation_admin_required
def settlement_day_progress(request):
    """What the page polls while the day's runs are under way."""
    label, data = _settlement_day(request)
    if data is None:
        return JsonResponse({"day": [_("Choose a day as YYYY-MM-DD.")]}, status=400)
    return JsonResponse({k: data[k] for k in (
        "status", "orders_done", "orders_total", "percent", "runs_total", "runs_completed",
        "runs_failed")} | {"day": label})


@federation_admin_required
def federation_admins_page(request):
    """The federation's admins: grant the role to a person (by mobile number or username)
    or take it back; the last admin stays. Every change is on the federation's trail."""
    form = PersonForm(request.POST or None)
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("revoke"):
                gone = federation_admin_revoke(
                    user=federation_admin_get(user_id=request.POST["revoke"]),
                    acting_user=request.user)
                messages.success(request, _("%(name)s is no longer a federation admin.")
                                 % {"name": gone.shown_name})
                return redirect("federation:admins")
            if form.is_valid():
                made = federation_admin_grant_by_login(person=form.cleaned_data["person"],
                                                       acting_user=request.user)
                messages.success(request, _("%(name)s is a federation admin.")
                                 % {"name": made.shown_name})
                return redirect("federation:admins")
        except ValidationError as exc:
            if request.POST.get("revoke"):
                messages.error(request, first_message(validation_errors(exc)))
                return redirect("federation:admins")
            add_service_errors(form, exc, {"user": "person"})
        status = 400
    return render(request, "federation/admins.html", {
        "form": form, "admins": federation_admins(), "events": federation_events(),
        "actions": FEDERATION_ACTIONS,
    }, status=status)
