"""The bank console's lending pages, under /console/lending/ on the bank's domain: the
credit officers' queue with each applicant's score explained, application decisions
(maker-checker), credit profiles with recomputation (one, or all as a scoring run whose
progress the page follows), the portfolio, the overdue list, a loan with its schedule,
repayments and audit trail, write-off and the bank's lending policy.

Credit data is the bank's secret: every page needs a credit officer (bank admins pass
every role check; an account manager gets 403). Write-offs and the policy are for bank
admins. Every id is looked up in this bank's own schema, so another bank's application,
loan or run simply does not exist here (404).
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from banks.models import StaffRole
from banks.permissions import bank_staff_required
from catalog.models import Merchant
from core.errors import ApplicationError
from core.forms import add_service_errors
from lending import scoring, selectors, services
from lending.console_forms import (
    DecisionForm,
    PolicyForm,
    ProfileFilterForm,
    RecomputeForm,
    WriteOffForm,
)
from lending.models import (
    ApplicationStatus,
    LoanStatus,
    PartyKind,
    Product,
    ScoringRun,
)
from lending.tasks import run_scoring
from orders.models import Order

CREDIT = StaffRole.CREDIT_OFFICER
ADMIN = StaffRole.BANK_ADMIN
PAGE = 50
ZERO = Decimal("0.00")


# --- helpers --------------------------------------------------------------------------------


def _is_admin(request) -> bool:
    return request.membership.role == ADMIN


def _name_parties(rows) -> None:
    """Attach ``party_name`` (the merchant's shop or the buyer's name) to applications,
    loans or profiles, reading the shared tables once per kind."""
    rows = list(rows)
    merchant_ids = {r.merchant_id for r in rows if r.party == PartyKind.MERCHANT}
    user_ids = {r.user_id for r in rows if r.party == PartyKind.BUYER}
    merchants = dict(Merchant.objects.filter(pk__in=merchant_ids).values_list("pk", "name"))
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=user_ids)}
    for r in rows:
        if r.party == PartyKind.MERCHANT:
            r.party_name = merchants.get(r.merchant_id, f"#{r.merchant_id}")
            r.party_id = r.merchant_id
        else:
            user = users.get(r.user_id)
            r.party_name = user.shown_name if user else f"#{r.user_id}"
            r.party_business = bool(user and user.is_business_buyer)
            r.party_id = r.user_id



STATUS_LABELS = {**dict(ApplicationStatus.choices), **dict(LoanStatus.choices),
                 ApplicationStatus.APPROVED: gettext_lazy("Approved for lending")}


def _actors(events) -> list:
    """Events with ``actor`` (the user who acted, or None for the system) and a label."""
    events = list(events)
    ids = {e.actor_id for e in events if e.actor_id}
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=ids)}
    for e in events:
        e.actor = users.get(e.actor_id)
        e.label = selectors.ACTION_LABELS.get(e.action, e.action)
        e.from_label = STATUS_LABELS.get(e.from_status, e.from_status)
        e.to_label = STATUS_LABELS.get(e.to_status, e.to_status)
    return events


def explain(profile) -> list[dict]:
    """The profile's factors in the reader's language, each with its share of its most."""
    if profile is None:
        return []
    labels = {name: label for name, _w, label in scoring.factor_table(profile.party)}
    rows = []
    for f in profile.factors or []:
        most = int(f.get("max") or 0)
        points = int(f.get("points") or 0)
        rows.append({**f, "label": labels.get(f.get("factor"), f.get("label", "")),
                     "percent": round(100 * points / most) if most else 0})
    return rows


def _party_id(obj) -> int:
    return obj.merchant_id if obj.party == PartyKind.MERCHANT else obj.user_id


def _order_numbers(rows) -> None:
    ids = {r.order_id for r in rows if r.order_id}
    numbers = dict(Order.objects.filter(pk__in=ids).values_list("pk", "number"))
    for r in rows:
        r.order_number = numbers.get(r.order_id, "")


def _due(loan, *, everything: bool) -> services.Due | None:
    """What repaying the loan today would take (the service locks the lines to work it
    out, hence the transaction; nothing is changed)."""
    if loan.status not in (LoanStatus.ACTIVE, LoanStatus.OVERDUE):
        return None
    with transaction.atomic():
        return services.loan_amount_due(loan=loan, everything=everything)


def _ctx(request, **extra) -> dict:
    return {"membership": request.membership, "is_admin": _is_admin(request),
            "queue_count": selectors.application_queue().count(), **extra}


# --- queue and applications -----------------------------------------------------------------


@bank_staff_required(CREDIT)
@require_GET
def queue(request):
    """What waits for a decision, each with the applicant's score explained."""
    apps = list(selectors.application_queue()[:100])
    _name_parties(apps)
    _order_numbers(apps)
    for app in apps:
        app.profile = selectors.profile_of(party=app.party, party_id=_party_id(app))
        app.factors = explain(app.profile)
        app.mine_first = app.first_approver_id == request.user.pk
    return render(request, "lending/console/queue.html", _ctx(
        request, apps=apps, run=selectors.scoring_run_latest(),
        summary=selectors.portfolio_summary()))


@bank_staff_required(CREDIT)
@require_GET
def applications(request):
    status = request.GET.get("status", "")
    if status not in ApplicationStatus.values:
        status = ""
    page = Paginator(selectors.application_list(status=status), PAGE).get_page(
        request.GET.get("page"))
    _name_parties(page.object_list)
    _order_numbers(page.object_list)
    return render(request, "lending/console/applications.html", _ctx(
        request, page=page, status=status, statuses=ApplicationStatus.choices))


def _application_page(request, app, *, form=None, refused: str = "", status: int = 200):
    _name_parties([app])
    _order_numbers([app])
    profile = selectors.profile_of(party=app.party, party_id=_party_id(app))
    credit = services.credit_of(party=app.party, party_id=_party_id(app))
    policy = services.policy_get()
    loan = getattr(app, "loan", None) if app.status == ApplicationStatus.DISBURSED else None
    open_ = app.status in (ApplicationStatus.IN_REVIEW, ApplicationStatus.AWAITING_SECOND)
    first_approver = None
    if app.first_approver_id:
        first_approver = get_user_model().objects.filter(pk=app.first_approver_id).first()
    needs_two = app.amount > policy.second_approval_over or app.amount > credit.available
    return render(request, "lending/console/application.html", _ctx(
        request, app=app, profile=profile, factors=explain(profile), credit=credit,
        policy=policy, loan=loan, open=open_, needs_two=needs_two,
        first_approver=first_approver,
        same_officer=app.status == ApplicationStatus.AWAITING_SECOND
        and app.first_approver_id == request.user.pk,
        events=_actors(selectors.events_of(application=app)),
        form=form or DecisionForm(), refused=refused), status=status)


@bank_staff_required(CREDIT)
@require_GET
def application_detail(request, application_id: int):
    app = selectors.application_get(application_id=application_id)
    return _application_page(request, app)


@bank_staff_required(CREDIT)
@require_POST
def application_decide(request, application_id: int):
    app = selectors.application_get(application_id=application_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _application_page(request, app, form=form, status=400)
    approve = form.cleaned_data["decision"] == "approve"
    try:
        app = services.application_decide(bank=request.bank, application=app,
                                          officer=request.user, approve=approve,
                                          note=form.cleaned_data["note"])
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _application_page(request, app, form=form, status=400)
    except ApplicationError as exc:
        return _application_page(request, selectors.application_get(
            application_id=application_id), form=form, refused=exc.message, status=400)
    text = {
        ApplicationStatus.AWAITING_SECOND: _("Approved once; a second officer must approve "
                                             "it too."),
        ApplicationStatus.DISBURSED: _("Approved; the loan is disbursed."),
        ApplicationStatus.REJECTED: _("The application is rejected."),
    }.get(app.status, _("The decision is recorded."))
    messages.success(request, text)
    return redirect("console_lending:application", app.pk)


# --- profiles and scoring runs ----------------------------------------------------------------


@bank_staff_required(CREDIT)
@require_GET
def profiles(request):
    filters = ProfileFilterForm(request.GET or None)
    party = tier = ""
    if filters.is_valid():
        party, tier = filters.cleaned_data["party"], filters.cleaned_data["tier"]
    page = Paginator(selectors.profile_list(party=party or None, tier=tier), PAGE).get_page(
        request.GET.get("page"))
    _name_parties(page.object_list)
    query = "&".join(f"{k}={v}" for k, v in (("party", party), ("tier", tier)) if v)
    run = selectors.scoring_run_latest()
    return render(request, "lending/console/profiles.html", _ctx(
        request, page=page, filters=filters, query=query, run=run,
        run_open=run is not None and run.status in (ScoringRun.Status.PENDING,
                                                    ScoringRun.Status.RUNNING)))


def _parse_party(party: str) -> str:
    if party not in PartyKind.values:
        raise Http404
    return party


@bank_staff_required(CREDIT)
@require_GET
def profile_detail(request, party: str, party_id: int):
    party = _parse_party(party)
    profile = selectors.profile_of(party=party, party_id=party_id)
    if profile is None:
        raise Http404
    _name_parties([profile])
    credit = services.credit_of(party=party, party_id=party_id)
    loans = (selectors.loans_of_merchant(merchant_id=party_id) if party == PartyKind.MERCHANT
             else selectors.loans_of_user(user_id=party_id))
    apps = (selectors.applications_of_merchant(merchant_id=party_id)
            if party == PartyKind.MERCHANT
            else selectors.application_list().filter(party=party, user_id=party_id))
    return render(request, "lending/console/profile.html", _ctx(
        request, profile=profile, factors=explain(profile), credit=credit,
        figures=sorted((profile.figures or {}).items()), loans=list(loans[:50]),
        apps=list(apps[:50])))


@bank_staff_required(CREDIT)
@require_POST
def profile_recompute(request):
    form = RecomputeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a merchant or a customer to recompute."))
        return redirect("console_lending:profiles")
    party, party_id = form.cleaned_data["party"], form.cleaned_data["party_id"]
    try:
        services.profile_compute(bank=request.bank, party=party, party_id=party_id,
                                 actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("console_lending:profiles")
    messages.success(request, _("The profile is recomputed from today's figures."))
    return redirect("console_lending:profile", party, party_id)


@bank_staff_required(CREDIT)
@require_POST
def run_start(request):
    """Recompute every profile: a scoring run, queued to the worker in this bank's schema
    (the request's connection is in it) once the run row is committed."""
    try:
        run = services.scoring_run_start(bank=request.bank, trigger="manual",
                                         actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        run = selectors.scoring_run_latest()
        return redirect("console_lending:run", run.pk) if run else redirect(
            "console_lending:profiles")
    transaction.on_commit(lambda: run_scoring.delay(run.pk))
    messages.success(request, _("Recomputation of every profile has started."))
    return redirect("console_lending:run", run.pk)


def _percent(run) -> int:
    if run.status == ScoringRun.Status.COMPLETED:
        return 100
    return int(100 * run.done / run.total) if run.total else 0


@bank_staff_required(CREDIT)
@require_GET
def run_detail(request, run_id: int):
    run = selectors.scoring_run_get(run_id=run_id)
    started_by = (get_user_model().objects.filter(pk=run.started_by_id).first()
                  if run.started_by_id else None)
    return render(request, "lending/console/run.html", _ctx(
        request, run=run, started_by=started_by, percent=_percent(run),
        under_way=run.status in (ScoringRun.Status.PENDING, ScoringRun.Status.RUNNING)))


@bank_staff_required(CREDIT)
@require_GET
def run_progress(request, run_id: int):
    """What the run page polls while the run is under way."""
    run = selectors.scoring_run_get(run_id=run_id)
    return JsonResponse({"status": run.status, "status_display": run.get_status_display(),
                         "done": run.done, "total": run.total, "percent": _percent(run)})


# --- portfolio, overdue, loans ------------------------------------------------------------------


@bank_staff_required(CREDIT)
@require_GET
def portfolio(request):
    summary = selectors.portfolio_summary()
    products = dict(Product.choices)
    statuses = dict(LoanStatus.choices)
    by_product = [{**row, "label": products.get(row["product"], row["product"])}
                  for row in summary["by_product"]]
    by_status = [{"status": s, "label": label, "loans": summary["by_status"].get(s, 0)}
                 for s, label in LoanStatus.choices]
    buckets = [{"bucket": b, "loans": summary["by_bucket"].get(b, 0)}
               for b in ("M1", "M2", "M3", "M3+")]
    most = max([r["outstanding"] for r in by_product] + [ZERO]) or Decimal(1)
    for row in by_product:
        row["percent"] = int(100 * row["outstanding"] / most)
    return render(request, "lending/console/portfolio.html", _ctx(
        request, summary=summary, by_product=by_product, by_status=by_status,
        buckets=buckets, statuses=statuses))


@bank_staff_required(CREDIT)
@require_GET
def overdue(request):
    bucket = request.GET.get("bucket", "")
    qs = selectors.overdue_loans()
    if bucket in ("M1", "M2", "M3", "M3+"):
        qs = qs.filter(bucket=bucket)
    else:
        bucket = ""
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    _name_parties(page.object_list)
    _order_numbers(page.object_list)
    total_penalty = ZERO
    for loan in page.object_list:
        loan.due = _due(loan, everything=True)
        total_penalty += loan.due.penalty if loan.due else ZERO
    return render(request, "lending/console/overdue.html", _ctx(
        request, page=page, bucket=bucket, total_penalty=total_penalty,
        buckets=["M1", "M2", "M3", "M3+"]))


@bank_staff_required(CREDIT)
@require_GET
def loans(request):
    status = request.GET.get("status", "")
    product = request.GET.get("product", "")
    status = status if status in LoanStatus.values else ""
    product = product if product in Product.values else ""
    page = Paginator(selectors.loans_list(status=status, product=product)
                     .order_by("-disbursed_at", "-pk"), PAGE).get_page(
        request.GET.get("page"))
    _name_parties(page.object_list)
    _order_numbers(page.object_list)
    query = "&".join(f"{k}={v}" for k, v in (("status", status), ("product", product)) if v)
    return render(request, "lending/console/loans.html", _ctx(
        request, page=page, status=status, product=product, query=query,
        statuses=LoanStatus.choices, products=Product.choices))


def _loan_page(request, loan, *, form=None, status: int = 200):
    _name_parties([loan])
    _order_numbers([loan])
    app = loan.application
    return render(request, "lending/console/loan.html", _ctx(
        request, loan=loan, app=app, lines=selectors.schedule_of(loan),
        repayments=list(loan.repayments.order_by("-at", "-pk")),
        events=_actors(selectors.events_of(application=app)),
        due_now=_due(loan, everything=False), payoff=_due(loan, everything=True),
        can_write_off=_is_admin(request) and loan.status == LoanStatus.OVERDUE,
        form=form or WriteOffForm()), status=status)


@bank_staff_required(CREDIT)
@require_GET
def loan_detail(request, loan_id: int):
    return _loan_page(request, selectors.loan_get(loan_id=loan_id))


@bank_staff_required(ADMIN)
@require_POST
def loan_write_off(request, loan_id: int):
    loan = selectors.loan_get(loan_id=loan_id)
    form = WriteOffForm(request.POST)
    if form.is_valid():
        try:
            services.loan_write_off(bank=request.bank, loan=loan, actor=request.user,
                                    note=form.cleaned_data["note"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Loan %(number)s is written off.")
                             % {"number": loan.number})
            return redirect("console_lending:loan", loan.pk)
    return _loan_page(request, selectors.loan_get(loan_id=loan_id), form=form, status=400)


# --- policy ---------------------------------------------------------------------------------


@bank_staff_required(CREDIT)
@require_http_methods(["GET", "POST"])
def policy(request):
    """Officers read the bank's parameters; bank admins change them."""
    current = services.policy_get()
    form = PolicyForm(instance=current)
    status = 200
    if request.method == "POST":
        if not _is_admin(request):
            raise PermissionDenied
        form = PolicyForm(request.POST, instance=current)
        if form.is_valid():
            changes = form.changes()
            if not changes:
                messages.info(request, _("Nothing was changed."))
                return redirect("console_lending:policy")
            try:
                services.policy_update(bank=request.bank, actor=request.user, **changes)
            except ValidationError as exc:
                add_service_errors(form, exc, field_map={"weights": "weights_text",
                                                         "instalment_months": "terms_text"})
            else:
                messages.success(request, _("The lending policy is saved; it applies from "
                                            "the next scoring and the next application."))
                return redirect("console_lending:policy")
        status = 400
    return render(request, "lending/console/policy.html", _ctx(
        request, form=form, policy=current,
        factors={"merchant": scoring.MERCHANT_FACTORS, "buyer": scoring.BUYER_FACTORS}),
        status=status)
