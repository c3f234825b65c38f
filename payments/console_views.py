"""The bank console's settlement pages, under /console/settlement/ on the bank's domain:
the runs that concern the bank (its own and the runs over every bank), starting a run,
a run with its progress, this bank's reconciliation and payout batch (lines confirmed or
failed, the payout file), and a merchant's statement and settlement account.

Any staff role may look; a bank admin starts runs; a bank admin or credit officer marks
payout lines; a bank admin or account manager records a settlement account. Every id goes
through a selector scoped to this bank: another bank's run, batch, line or merchant is 404.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from admission.selectors import dossier_for_bank, dossier_of_merchant, settlement_accounts
from admission.services import dossier_set_settlement_account
from banks.models import StaffRole
from banks.permissions import bank_staff_required
from catalog.models import MerchantStatus
from catalog.selectors import bank_merchant, bank_merchants
from core.errors import ApplicationError
from core.forms import add_service_errors
from payments import selectors, settlement
from payments.forms import PayoutFailForm, RunStartForm, SettlementAccountForm
from payments.models import PayoutStatus, RunStatus
from payments.statement_pages import statement_context
from payments.tasks import run_settlement

ADMIN = StaffRole.BANK_ADMIN
PAYOUT_ROLES = (StaffRole.CREDIT_OFFICER,)  # and bank admins
ACCOUNT_ROLES = (StaffRole.ACCOUNT_MANAGER,)  # and bank admins

def can(membership, roles: tuple[str, ...]) -> bool:
    return membership.role == ADMIN or membership.role in roles


# --- runs --------------------------------------------------------------------------------


def _home(request, *, form=None, refused: str = "", status: int = 200):
    bank = request.bank
    runs = Paginator(selectors.bank_settlement_runs(bank=bank), 20).get_page(
        request.GET.get("page"))
    balances = settlement.payable_balances(bank=bank)
    merchants = list(bank_merchants(bank=bank).filter(
        Q(status=MerchantStatus.APPROVED) | Q(pk__in=list(balances))))
    accounts = _accounts([m.pk for m in merchants])
    rows = sorted(({"merchant": m, "balance": balances.get(m.pk, Decimal("0.00")),
                    "account": accounts.get(m.pk, "")} for m in merchants),
                  key=lambda r: (-r["balance"], r["merchant"].name))
    active = next((r for r in runs if r.status in (RunStatus.PENDING, RunStatus.RUNNING)),
                  None)
    return render(request, "payments/console/home.html", {
        "membership": request.membership, "runs": runs, "merchants": rows,
        "form": form or RunStartForm(), "can_start": can(request.membership, ()),
        "refused": refused, "active": active,
    }, status=status)


def _accounts(merchant_ids) -> dict[int, str]:
    """The settlement account on file per merchant, masked (the request runs in this
    bank's schema, where the dossiers are)."""
    return {merchant_id: f"****{number[-4:]}" for merchant_id, (_name, number)
            in settlement_accounts(merchant_ids=merchant_ids).items()}


@bank_staff_required()
@require_GET
def settlement_home(request):
    return _home(request)


@bank_staff_required(ADMIN)
@require_POST
def run_start(request):
    form = RunStartForm(request.POST)
    if not form.is_valid():
        return _home(request, form=form, status=400)
    try:
        run = settlement.settlement_run_start(bank=request.bank,
                                              cutoff=form.cleaned_data.get("cutoff"),
                                              actor=request.user)
    except ApplicationError as exc:
        if exc.field in form.fields:
            form.add_error(exc.field, exc.message)
            return _home(request, form=form, status=400)
        return _home(request, form=form, refused=exc.message, status=400)
    transaction.on_commit(lambda: run_settlement.delay(run.pk))
    messages.success(request, _("The settlement run has started."))
    return redirect("console_settlement:run", run.pk)


def _run_page(request, run, *, fail_forms=None, status: int = 200):
    bank = request.bank
    batch = selectors.run_batch_of_bank(run=run, bank=bank)
    lines = list(batch.lines.select_related("merchant")) if batch else []
    fail_forms = fail_forms or {}
    for line in lines:
        line.fail_form = fail_forms.get(line.pk) or PayoutFailForm(prefix=f"l{line.pk}")
    # A verdict on the books belongs to a finished run: while it waits or runs (or after it
    # stopped) the ledger is between two states and a "mismatch" would be a false alarm.
    report = (label_checks(settlement.reconciliation(bank=bank, run=run))
              if run.status == RunStatus.COMPLETED else None)
    return render(request, "payments/console/run_detail.html", {
        "membership": request.membership, "run": run, "batch": batch, "lines": lines,
        "report": report, "figures": _figures(report) if report else [],
        "under_way": run.status in (RunStatus.PENDING, RunStatus.RUNNING),
        "percent": _percent(run),
        "holds": selectors.run_holds(run=run, bank=bank),
        "can_mark": can(request.membership, PAYOUT_ROLES),
        "sent": PayoutStatus.SENT,
    }, status=status)


FIGURE_LABELS = {
    "captured": gettext_lazy("Captured"),
    "refunded_before_settlement": gettext_lazy("Refunded before settlement"),
    "released": gettext_lazy("Released from escrow"),
    "held_in_escrow": gettext_lazy("Still held in escrow"),
    "credited": gettext_lazy("Credited to merchants"),
    "repaid": gettext_lazy("Repaid to lenders"),
    "clawed_back": gettext_lazy("Clawed back"),
    "financed": gettext_lazy("Paid by bank financing"),
    "advanced": gettext_lazy("Advanced on orders"),
    "paid_out": gettext_lazy("Paid out (confirmed)"),
    "in_transit": gettext_lazy("Payouts in transit"),
    "owed_to_merchants": gettext_lazy("Still owed to merchants"),
    "referral_fees_owed": gettext_lazy("Referral fees we owe"),
    "referral_fees_due": gettext_lazy("Referral fees due to us"),
    "partner_fees_owed": gettext_lazy("Partner platform fees we owe"),
}


EQUATIONS = {
    "captured + financed − refunded = released + held":
        gettext_lazy("captured + financed − refunded = released + still held"),
    "released = credited to merchants + repaid to lenders":
        gettext_lazy("released = credited to merchants + repaid to lenders"),
    "credited + advanced − clawed back = paid out + in transit + still owed":
        gettext_lazy("credited + advanced − clawed back = paid out + in transit + still owed"),
    "this run: released = credited + repaid":
        gettext_lazy("this run: released = credited + repaid"),
}


def label_checks(report: dict) -> dict:
    """The report's equations in the reader's language (the report itself stays as the
    service made it)."""
    for check in report["checks"]:
        check["label"] = EQUATIONS.get(check["equation"], check["equation"])
    return report


def _figures(report: dict) -> list[tuple[str, str]]:
    return [(FIGURE_LABELS.get(k, k), v) for k, v in report["figures"].items()]


def _percent(run) -> int:
    if run.status == RunStatus.COMPLETED:
        return 100
    return int(100 * run.orders_done / run.orders_total) if run.orders_total else 0


@bank_staff_required()
@require_GET
def run_detail(request, run_id: int):
    run = selectors.bank_settlement_run(bank=request.bank, run_id=run_id)
    return _run_page(request, run)


@bank_staff_required(ADMIN)
@require_POST
def run_resume(request, run_id: int):
    """Queue a run again whose worker died or that failed (``settlement_run_resume``)."""
    run = selectors.bank_settlement_run(bank=request.bank, run_id=run_id)
    try:
        settlement.settlement_run_resume(bank=request.bank, run=run)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("console_settlement:run", run.pk)
    messages.success(request, _("The run was queued again; it continues where it stopped."))
    return redirect("console_settlement:run", run.pk)


@bank_staff_required()
@require_GET
def run_progress(request, run_id: int):
    """What the run page polls while the run is under way."""
    run = selectors.bank_settlement_run(bank=request.bank, run_id=run_id)
    return JsonResponse({"status": run.status, "status_display": run.get_status_display(),
                         "orders_done": run.orders_done, "orders_total": run.orders_total,
                         "percent": _percent(run)})


@bank_staff_required(*PAYOUT_ROLES)
@require_POST
def line_confirm(request, line_id: int):
    line = selectors.bank_payout_line(bank=request.bank, line_id=line_id)
    try:
        settlement.payout_line_confirm(line=line)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _run_page(request, line.batch.run, status=400)
    messages.success(request, _("Line %(no)s is confirmed as paid.") % {"no": line.line_no})
    return redirect("console_settlement:run", line.batch.run_id)


@bank_staff_required(*PAYOUT_ROLES)
@require_POST
def line_fail(request, line_id: int):
    line = selectors.bank_payout_line(bank=request.bank, line_id=line_id)
    form = PayoutFailForm(request.POST, prefix=f"l{line.pk}")
    if form.is_valid():
        try:
            settlement.payout_line_fail(line=line, reason=form.cleaned_data["reason"])
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Line %(no)s is marked failed; the next run pays it "
                                        "again.") % {"no": line.line_no})
            return redirect("console_settlement:run", line.batch.run_id)
    return _run_page(request, line.batch.run, fail_forms={line.pk: form}, status=400)


@bank_staff_required()
@require_GET
def batch_file(request, batch_id: int):
    batch = selectors.bank_payout_batch(bank=request.bank, batch_id=batch_id)
    return selectors.payout_file_response(batch)




# --- merchants ---------------------------------------------------------------------------


def _statement_page(request, merchant, *, form=None, status: int = 200):
    dossier = dossier_of_merchant(merchant_id=merchant.pk)
    statement = statement_context(request, merchant)
    if isinstance(statement, HttpResponse):
        return statement
    number = dossier.settlement_account_number if dossier else ""
    return render(request, "payments/console/merchant_statement.html", {
        "membership": request.membership, "merchant": merchant, **statement,
        "balance": settlement.payable_balances(bank=request.bank).get(merchant.pk,
                                                                      Decimal("0.00")),
        "lines": list(selectors.merchant_payout_lines(merchant=merchant)[:20]),
        "dossier": dossier,
        "account": f"****{number[-4:]}" if number else "",
        "form": form or SettlementAccountForm(initial={
            "account_name": (dossier.settlement_account_name if dossier else "")
            or merchant.name}),
        "can_edit": dossier is not None and can(request.membership, ACCOUNT_ROLES),
    }, status=status)


@bank_staff_required()
@require_GET
def merchant_statement(request, merchant_id: int):
    merchant = bank_merchant(bank=request.bank, merchant_id=merchant_id)
    return _statement_page(request, merchant)


@bank_staff_required(*ACCOUNT_ROLES)
@require_POST
def merchant_account(request, merchant_id: int):
    merchant, dossier = dossier_for_bank(bank=request.bank, merchant_id=merchant_id)
    form = SettlementAccountForm(request.POST)
    if form.is_valid():
        try:
            dossier_set_settlement_account(dossier=dossier, actor=request.user,
                                           **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The settlement account is recorded."))
            return redirect("console_settlement:merchant", merchant.pk)
    return _statement_page(request, merchant, form=form, status=400)
