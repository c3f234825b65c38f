"""Reads on lending, always inside the lending bank's schema (the connection's): a bank
only ever reads its own credit data. Lookups by id raise ``Http404`` when the row is not
the caller's (a buyer's own loans, a merchant's own loans)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from banks.audit import AuditEntry, filter_times
from lending import calc
from lending.models import (
    FINANCEABLE,
    Application,
    ApplicationStatus,
    CreditProfile,
    LendingEvent,
    Loan,
    LoanStatus,
    MarginCall,
    MerchantConsent,
    PartyKind,
    Product,
    ScheduleLine,
    ScoringRun,
    unpaid_principal,
)
from orders.models import Order
from payments.models import SettlementItem

ZERO = Decimal("0.00")
OPEN_LOANS = (LoanStatus.ACTIVE, LoanStatus.OVERDUE)


def profile_of(*, party: str, party_id: int) -> CreditProfile | None:
    key = "merchant_id" if party == PartyKind.MERCHANT else "user_id"
    return CreditProfile.objects.filter(party=party, **{key: party_id}).first()


def profile_list(*, party: str | None = None, tier: str = "") -> QuerySet[CreditProfile]:
    qs = CreditProfile.objects.all()
    if party:
        qs = qs.filter(party=party)
    if tier:
        qs = qs.filter(tier=tier)
    return qs.order_by(F("score").desc(nulls_last=True), "pk")


def scoring_run_latest() -> ScoringRun | None:
    return ScoringRun.objects.order_by("-created_at", "-pk").first()


def application_queue() -> QuerySet[Application]:
    """What waits for a credit officer: in review, then awaiting a second approval."""
    return Application.objects.filter(status__in=[
        ApplicationStatus.IN_REVIEW, ApplicationStatus.AWAITING_SECOND]).order_by("created_at")


def application_list(*, status: str = "") -> QuerySet[Application]:
    qs = Application.objects.all()
    return qs.filter(status=status) if status else qs


def application_get(*, application_id: int) -> Application:
    app = Application.objects.filter(pk=application_id).first()
    if app is None:
        raise Http404
    return app


def loan_get(*, loan_id: int) -> Loan:
    loan = Loan.objects.filter(pk=loan_id).first()
    if loan is None:
        raise Http404
    return loan


def loans_of_user(*, user_id: int) -> QuerySet[Loan]:
    return Loan.objects.filter(party=PartyKind.BUYER, user_id=user_id)


def loan_of_user(*, user_id: int, loan_id: int) -> Loan:
    loan = loans_of_user(user_id=user_id).filter(pk=loan_id).first()
    if loan is None:
        raise Http404
    return loan


def loans_of_merchant(*, merchant_id: int) -> QuerySet[Loan]:
    return Loan.objects.filter(party=PartyKind.MERCHANT, merchant_id=merchant_id)


def loan_of_merchant(*, merchant_id: int, loan_id: int) -> Loan:
    loan = loans_of_merchant(merchant_id=merchant_id).filter(pk=loan_id).first()
    if loan is None:
        raise Http404
    return loan


def applications_of_merchant(*, merchant_id: int) -> QuerySet[Application]:
    return Application.objects.filter(party=PartyKind.MERCHANT, merchant_id=merchant_id)


def financeable_orders(*, merchant_id: int, bank_id: int) -> list[dict]:
    """The merchant's paid, unsettled orders, each with its financing (if any)."""
    orders = list(Order.objects.filter(merchant_id=merchant_id, merchant_bank_id=bank_id,
                                       status__in=FINANCEABLE)
                  .exclude(pk__in=SettlementItem.objects.filter(merchant_id=merchant_id)
                           .values("order_id"))
                  .order_by("-paid_at", "-pk")[:200])
    apps = {a.order_id: a for a in Application.objects.filter(
        order_id__in=[o.pk for o in orders]).exclude(
        status__in=[ApplicationStatus.REJECTED, ApplicationStatus.CANCELLED])}
    return [{"order": o, "application": apps.get(o.pk)} for o in orders]


def schedule_of(loan: Loan) -> list[ScheduleLine]:
    return list(loan.lines.order_by("seq"))


def portfolio_summary() -> dict:
    """Outstanding principal and counts by product, status and bucket."""
    lines = ScheduleLine.objects.filter(loan__status__in=OPEN_LOANS)
    outstanding = lines.aggregate(unpaid=unpaid_principal(""))
    by_product = (lines.values("loan__product")
                  .annotate(unpaid=unpaid_principal(""),
                            loans=Count("loan", distinct=True)).order_by("loan__product"))
    by_bucket = (Loan.objects.filter(status=LoanStatus.OVERDUE).values("bucket")
                 .annotate(loans=Count("pk")).order_by("bucket"))
    by_status = dict(Loan.objects.values_list("status").annotate(n=Count("pk")))
    return {
        "outstanding": outstanding["unpaid"],
        "by_product": [{"product": r["loan__product"], "loans": r["loans"],
                        "outstanding": r["unpaid"]}
                       for r in by_product],
        "by_bucket": {r["bucket"]: r["loans"] for r in by_bucket},
        "by_status": by_status,
        "disbursed": Loan.objects.aggregate(s=Sum("principal"))["s"] or ZERO,
        "written_off": Loan.objects.filter(status=LoanStatus.WRITTEN_OFF).aggregate(
            s=Sum("principal"))["s"] or ZERO,
    }


def overdue_loans() -> QuerySet[Loan]:
    return (Loan.objects.filter(status=LoanStatus.OVERDUE)
            .annotate(unpaid=unpaid_principal()).order_by("-days_overdue", "pk"))


def loans_list(*, status: str = "", product: str = "") -> QuerySet[Loan]:
    qs = Loan.objects.all()
    if status:
        qs = qs.filter(status=status)
    if product:
        qs = qs.filter(product=product)
    return qs.annotate(unpaid=unpaid_principal())


def scoring_run_get(*, run_id: int) -> ScoringRun:
    run = ScoringRun.objects.filter(pk=run_id).first()
    if run is None:
        raise Http404
    return run


def events_of(*, application: Application) -> list:
    """The audit trail of an application and of its loan, oldest first."""
    loan = Loan.objects.filter(application=application).first()
    cond = Q(application=application) | (Q(loan=loan) if loan else Q(pk__in=[]))
    return list(LendingEvent.objects.filter(cond).order_by("at", "pk"))


def instalment_preview(*, amount: Decimal, rate: Decimal, months: int) -> list:
    """The schedule a loan of ``amount`` over ``months`` would have if lent today: the
    same rows the loan gets (``calc.equal_instalments`` from today), for the buyer to see
    every instalment's date, principal and interest before choosing."""
    return calc.equal_instalments(amount, rate, months, timezone.localdate())


def merchant_consent_live(*, merchant_id: int):
    """The merchant's live consent to credit use of its data, if any."""
    return MerchantConsent.objects.filter(merchant_id=merchant_id,
                                          withdrawn_at__isnull=True).first()


# What each audit action of an application or a loan is called on pages and exports.
ACTION_LABELS = {
    "submit": gettext_lazy("Submitted for review"),
    "auto_approve": gettext_lazy("Approved automatically"),
    "auto_reject": gettext_lazy("Rejected automatically"),
    "approve": gettext_lazy("Approved by an officer"),
    "approve_first": gettext_lazy("First approval"),
    "approve_second": gettext_lazy("Second approval"),
    "reject": gettext_lazy("Rejected"),
    "cancel": gettext_lazy("Cancelled"),
    "disburse": gettext_lazy("Disbursed"),
    "repay": gettext_lazy("Repaid in full"),
    "repay_card": gettext_lazy("Repayment by card"),
    "repay_settlement": gettext_lazy("Repayment taken at settlement"),
    "skip_settlement": gettext_lazy("Not taken at settlement: a card repayment was under way"),
    "fall_overdue": gettext_lazy("Fell overdue"),
    "cure": gettext_lazy("Arrears cleared"),
    "write_off": gettext_lazy("Written off"),
    "collateral_sale": gettext_lazy("Pledged goods put on sale"),
    "margin_call_close": gettext_lazy("Margin call closed"),
    "margin_call_cure": gettext_lazy("Margin call cured"),
}


def audit_entries(query) -> list:
    """The bank's lending decisions for its audit page (``banks.audit``): every transition
    of an application or a loan, newest first; the system's own (automatic decisions,
    overdue) have no actor."""
    from_schema = LendingEvent.objects.select_related("application", "loan")
    if query.actor_id is not None:
        from_schema = from_schema.filter(actor_id=query.actor_id)
    rows = filter_times(from_schema, query, "at")
    entries = []
    for event in rows:
        if event.loan_id:
            target = _("Loan %(number)s") % {"number": event.loan.number}
        else:
            target = _("Application #%(id)s") % {"id": event.application_id}
        entries.append(AuditEntry(at=event.at, area="lending", actor_id=event.actor_id,
                                  action=str(ACTION_LABELS.get(event.action, event.action)),
                                  target=target, note=event.note))
    return entries


def margin_calls():
    """The bank's margin calls on pledge loans, open ones first (the officers' queue)."""
    return (MarginCall.objects.select_related("loan")
            .annotate(open_first=Case(When(status="open", then=Value(0)), default=Value(1),
                                      output_field=IntegerField()))
            .order_by("open_first", "-raised_at", "-id"))


def margin_call_get(*, call_id: int):
    return get_object_or_404(MarginCall.objects.select_related("loan"), pk=call_id)


def pledge_applications(*, merchant_id: int):
    return Application.objects.filter(product=Product.PLEDGE, merchant_id=merchant_id)
