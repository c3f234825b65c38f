"""Writes on lending: consent, scoring, applications, loans and repayments.

Everything runs in the lending bank's schema; the caller passes that ``bank`` and the
services check that the connection is in its schema (pages and APIs on a bank's domain
are; tasks are queued inside it; settlement enters it explicitly).

Two state machines, with their transitions in one place each: ``APPLICATION_TRANSITIONS``
and ``LOAN_TRANSITIONS``. Every transition writes a ``LendingEvent`` saying who made it.
Money moves only through the federation's ledger (``payments.services.ledger_post``):

- order financing: the advance is lent to the merchant (loan principal / merchant
  payable: paid out with the next payout batch); settlement repays it first;
- pay later and instalments: the bank pays the checkout's escrow (loan principal /
  escrow, through inter-bank accounts when the merchant is another bank's);
- card repayments: card clearing / loan principal and interest;
- write-off: write-off expense / loan principal.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import BuyerKind, ConsentPurpose
from accounts.selectors import consenting_user_ids, has_consent
from accounts.services import consent_grant, consent_withdraw
from banks.models import Bank
from catalog.models import Merchant, MerchantStatus
from core.errors import ApplicationError
from core.idempotency import idempotency_check, idempotency_mismatch
from core.money import quantize_money
from lending import calc, scoring
from lending.models import (
    FINANCEABLE,
    Application,
    ApplicationStatus,
    CreditDataUse,
    CreditProfile,
    InterestMode,
    LendingEvent,
    LendingPolicy,
    Loan,
    LoanRepayment,
    LoanStatus,
    MerchantConsent,
    PartyKind,
    Product,
    RepaymentSource,
    ScheduleLine,
    ScoringRun,
    Tier,
    unpaid_principal,
)
from lending.selectors import OPEN_LOANS
from orders import services as order_services
from orders.models import Checkout, Order
from payments import interfaces as payment_interfaces
from payments import services as payment_services
from payments.interfaces import Repayment
from payments.models import AccountKind, SettlementItem
from payments.services import Leg, ledger_account, ledger_post

log = logging.getLogger(__name__)
ZERO = Decimal("0.00")
K = AccountKind
CHUNK = 500

# FINANCEABLE (the orders that may be financed) is in lending.models, below the selectors.

APPLICATION_TRANSITIONS: dict[str, dict[str, str]] = {
    "": {"submit": ApplicationStatus.IN_REVIEW, "auto_approve": ApplicationStatus.APPROVED,
         "auto_reject": ApplicationStatus.REJECTED},
    ApplicationStatus.IN_REVIEW: {"approve": ApplicationStatus.APPROVED,
                                  "approve_first": ApplicationStatus.AWAITING_SECOND,
                                  "reject": ApplicationStatus.REJECTED,
                                  "cancel": ApplicationStatus.CANCELLED},
    ApplicationStatus.AWAITING_SECOND: {"approve_second": ApplicationStatus.APPROVED,
                                        "reject": ApplicationStatus.REJECTED,
                                        "cancel": ApplicationStatus.CANCELLED},
    ApplicationStatus.APPROVED: {"disburse": ApplicationStatus.DISBURSED,
                                 "cancel": ApplicationStatus.CANCELLED},
    ApplicationStatus.REJECTED: {},
    ApplicationStatus.CANCELLED: {},
    ApplicationStatus.DISBURSED: {},
}

LOAN_TRANSITIONS: dict[str, dict[str, str]] = {
    LoanStatus.ACTIVE: {"repay": LoanStatus.REPAID, "fall_overdue": LoanStatus.OVERDUE},
    LoanStatus.OVERDUE: {"repay": LoanStatus.REPAID, "cure": LoanStatus.ACTIVE,
                         "write_off": LoanStatus.WRITTEN_OFF},
    LoanStatus.REPAID: {},
    LoanStatus.WRITTEN_OFF: {},
}

BUCKETS = [(30, "M1"), (60, "M2"), (90, "M3")]


def delinquency_bucket(days_overdue: int) -> str:
    if days_overdue <= 0:
        return ""
    for upto, name in BUCKETS:
        if days_overdue <= upto:
            return name
    return "M3+"


def _in_bank(bank: Bank) -> None:
    if connection.schema_name != bank.schema_name:
        raise RuntimeError(f"lending for {bank.code} must run in its schema "
                           f"(now in {connection.schema_name})")


def _today() -> date:
    return timezone.localdate()


def _event(*, action: str, actor_id: int | None, application: Application | None = None,
           loan: Loan | None = None, from_status: str = "", to_status: str = "",
           note: str = "", detail: dict | None = None) -> None:
    LendingEvent.objects.create(application=application, loan=loan, action=action,
                                from_status=from_status, to_status=to_status,
                                actor_id=actor_id, note=note[:300], detail=detail or {},
                                at=timezone.now())


def _app_transition(app: Application, action: str, *, actor_id: int | None,
                    note: str = "") -> Application:
    allowed = APPLICATION_TRANSITIONS[app.status or ""]
    if action not in allowed:
        raise ApplicationError(
            _("This application cannot be %(action)s now (it is %(status)s).")
            % {"action": action.replace("_", " "), "status": app.get_status_display()},
            code="illegal_transition")
    before, app.status = app.status, allowed[action]
    if app.status in (ApplicationStatus.APPROVED, ApplicationStatus.REJECTED):
        app.decided_at, app.decided_by_id = timezone.now(), actor_id
    app.save()
    _event(application=app, action=action, from_status=before, to_status=app.status,
           actor_id=actor_id, note=note)
    return app


def _loan_transition(loan: Loan, action: str, *, actor_id: int | None, note: str = "",
                     detail: dict | None = None) -> Loan:
    allowed = LOAN_TRANSITIONS[loan.status]
    if action not in allowed:
        raise ApplicationError(
            _("This loan cannot be %(action)s now (it is %(status)s).")
            % {"action": action.replace("_", " "), "status": loan.get_status_display()},
            code="illegal_transition")
    before, loan.status = loan.status, allowed[action]
    if loan.status in (LoanStatus.REPAID, LoanStatus.WRITTEN_OFF):
        loan.closed_at = timezone.now()
    loan.save()
    _event(loan=loan, action=action, from_status=before, to_status=loan.status,
           actor_id=actor_id, note=note, detail=detail)
    return loan


# --- policy and consent --------------------------------------------------------------------


def policy_get() -> LendingPolicy:
    policy = LendingPolicy.objects.order_by("pk").first()
    return policy or LendingPolicy.objects.create()


def policy_seed_for_bank(sender, *, bank, **kwargs) -> LendingPolicy:
    """Seed the bank's lending policy; called in the bank's schema at onboarding."""
    _in_bank(bank)
    return policy_get()


POLICY_FIELDS = {"base_score", "weights", "tier_a_min", "tier_b_min", "tier_c_min",
                 "rate_a", "rate_b", "rate_c", "penalty_multiplier", "merchant_limit_months",
                 "buyer_limit_months", "merchant_limit_cap", "buyer_limit_cap",
                 "advance_ratio", "order_financing_days", "purchase_financing_days",
                 "instalment_months", "auto_tiers", "second_approval_over"}


# Every parameter's range: wide enough for any real bank, narrow enough that no value
# turns the products into nonsense (a 0-day term, a free loan, a limit beyond the columns).
POLICY_BOUNDS = {
    "base_score": (0, 1000),
    "tier_a_min": (1, 1000), "tier_b_min": (1, 1000), "tier_c_min": (1, 1000),
    "rate_a": (Decimal("0.0001"), Decimal("0.2400")),
    "rate_b": (Decimal("0.0001"), Decimal("0.2400")),
    "rate_c": (Decimal("0.0001"), Decimal("0.2400")),
    "penalty_multiplier": (Decimal("1.00"), Decimal("3.00")),
    "merchant_limit_months": (Decimal("0.00"), Decimal("24.00")),
    "buyer_limit_months": (Decimal("0.00"), Decimal("24.00")),
    "merchant_limit_cap": (Decimal("0.00"), Decimal("10000000.00")),
    "buyer_limit_cap": (Decimal("0.00"), Decimal("1000000.00")),
    "advance_ratio": (Decimal("0.10"), Decimal("1.00")),
    "order_financing_days": (7, 365),
    "purchase_financing_days": (7, 365),
    "second_approval_over": (Decimal("0.00"), Decimal("10000000.00")),
}
WEIGHT_MAX = 500
INSTALMENT_MONTHS = (2, 36)  # an "instalment" of one month is pay later
MAX_TERMS = 6


def _policy_errors(policy: LendingPolicy, changes: dict) -> dict[str, list[str]]:
    """Every parameter within its bounds, and the parameters consistent with each other."""
    errors: dict[str, list[str]] = {}

    def add(field, message):
        errors.setdefault(field, []).append(message)

    for field, (low, high) in POLICY_BOUNDS.items():
        value = getattr(policy, field)
        if value is None or isinstance(value, bool) or not low <= value <= high:
            add(field, _("Enter a value from %(low)s to %(high)s.") % {"low": low, "high": high})
    if not errors.keys() & {"tier_a_min", "tier_b_min", "tier_c_min"} and not (
            policy.tier_a_min > policy.tier_b_min > policy.tier_c_min):
        add("tier_a_min", _("Tier thresholds must fall from A to C."))
    if not errors.keys() & {"rate_a", "rate_b", "rate_c"} and not (
            policy.rate_a <= policy.rate_b <= policy.rate_c):
        add("rate_a", _("A better tier cannot pay a higher rate: rates must rise from A to C."))
    tiers = policy.auto_tiers
    if not isinstance(tiers, str) or set(tiers) - {"A", "B", "C"} or len(set(tiers)) != len(
            tiers):
        add("auto_tiers", _("Use the letters A, B and C, each at most once."))
    terms = policy.instalment_months
    low, high = INSTALMENT_MONTHS
    if not isinstance(terms, list) or not terms or len(terms) > MAX_TERMS or any(
            isinstance(m, bool) or not isinstance(m, int) or not low <= m <= high
            for m in terms) or len(set(terms)) != len(terms):
        add("instalment_months", _("List 1 to %(n)s different terms of %(low)s to %(high)s "
                                   "months.") % {"n": MAX_TERMS, "low": low, "high": high})
    weights = policy.weights
    known = {name for party in (PartyKind.MERCHANT, PartyKind.BUYER)
             for name, _default, _label in scoring.factor_table(party)}
    if not isinstance(weights, dict) or any(
            isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= WEIGHT_MAX
            for w in weights.values()):
        add("weights", _("Weights are whole numbers from 0 to %(n)s.") % {"n": WEIGHT_MAX})
    elif set(weights) - known:
        add("weights", _("Unknown factor: %(names)s. The factors are: %(known)s.") % {
            "names": ", ".join(sorted(repr(k) for k in set(weights) - known)),
            "known": ", ".join(sorted(known))})
    elif "weights" in changes and not weights:
        add("weights", _("Give at least one factor's weight."))
    else:
        for party in (PartyKind.MERCHANT, PartyKind.BUYER):
            most = sum(int(weights.get(name, default))
                       for name, default, _label in scoring.factor_table(party))
            if most == 0:
                add("weights", _("At least one factor must count (a weight above 0)."))
                break
            if "tier_a_min" not in errors and policy.base_score + most < policy.tier_a_min:
                add("tier_a_min", _("No %(party)s could reach tier A: the best score is "
                                    "%(best)s.") % {"party": PartyKind(party).label,
                                                    "best": policy.base_score + most})
                break
    return errors


@transaction.atomic
def policy_update(*, bank: Bank, actor, **changes) -> LendingPolicy:
    """Change the bank's parameters (bank admins). Takes effect at the next scoring.
    Every value is bounded and the values must agree (tiers fall from A to C, rates rise,
    a tier A score can be reached); the page and the API both refuse otherwise."""
    _in_bank(bank)
    unknown = set(changes) - POLICY_FIELDS
    if unknown:
        raise ValidationError({f: [_("Unknown parameter.")] for f in unknown})
    policy = LendingPolicy.objects.select_for_update().get(pk=policy_get().pk)
    for field, value in changes.items():
        setattr(policy, field, value)
    errors = _policy_errors(policy, changes)
    if not errors:
        try:
            policy.full_clean()
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    policy.instalment_months = sorted(policy.instalment_months)
    policy.save()
    _event(action="policy_update", actor_id=actor.pk,
           detail={k: str(v) for k, v in changes.items()})
    return policy


def merchant_consent_grant(*, bank: Bank, merchant: Merchant, actor) -> MerchantConsent:
    _in_bank(bank)
    if merchant.bank_id != bank.pk:
        raise ApplicationError(_("Only the merchant's own bank can lend to it."),
                               code="not_found")
    live = MerchantConsent.objects.filter(merchant_id=merchant.pk,
                                          withdrawn_at__isnull=True).first()
    if live:
        return live
    try:
        with transaction.atomic():
            return MerchantConsent.objects.create(merchant_id=merchant.pk, given_by_id=actor.pk,
                                                  granted_at=timezone.now())
    except IntegrityError:
        return MerchantConsent.objects.get(merchant_id=merchant.pk, withdrawn_at__isnull=True)


def merchant_consent_withdraw(*, bank: Bank, merchant: Merchant, actor) -> int:
    _in_bank(bank)
    return MerchantConsent.objects.filter(merchant_id=merchant.pk,
                                          withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now())


@transaction.atomic
def buyer_consent_set(*, bank: Bank, user, agree: bool, source: str = "") -> CreditProfile:
    """A person agrees (or no longer agrees) that the bank uses their platform data for
    credit; either way their profile is worked out again at once (no consent: no score,
    no limit; loans already taken stay)."""
    _in_bank(bank)
    if agree:
        consent_grant(user=user, purpose=ConsentPurpose.CREDIT, bank=bank, source=source)
    else:
        consent_withdraw(user=user, purpose=ConsentPurpose.CREDIT, bank=bank)
    return profile_compute(bank=bank, party=PartyKind.BUYER, party_id=user.pk, actor=user)


@transaction.atomic
def merchant_consent_set(*, bank: Bank, merchant: Merchant, actor, agree: bool
                         ) -> CreditProfile:
    """The same for a shop, given by a member of it."""
    if agree:
        merchant_consent_grant(bank=bank, merchant=merchant, actor=actor)
    else:
        merchant_consent_withdraw(bank=bank, merchant=merchant, actor=actor)
    return profile_compute(bank=bank, party=PartyKind.MERCHANT, party_id=merchant.pk,
                           actor=actor)


def _consented(bank: Bank, party: str, party_id: int) -> bool:
    if party == PartyKind.MERCHANT:
        return MerchantConsent.objects.filter(merchant_id=party_id,
                                              withdrawn_at__isnull=True).exists()
    return has_consent(user_id=party_id, purpose=ConsentPurpose.CREDIT, bank_id=bank.pk)


# --- scoring -------------------------------------------------------------------------------


def profile_compute(*, bank: Bank, party: str, party_id: int, actor=None) -> CreditProfile:
    """Score one party now (on demand)."""
    _in_bank(bank)
    if party == PartyKind.MERCHANT:
        if not Merchant.objects.filter(pk=party_id, bank=bank).exists():
            raise ApplicationError(_("No such merchant of this bank."), code="not_found")
        figures = scoring.merchant_figures([party_id])
    else:
        figures = scoring.buyer_figures([party_id])
        if not figures:
            raise ApplicationError(_("No such customer."), code="not_found")
    consented = {party_id} if _consented(bank, party, party_id) else set()
    with transaction.atomic():
        _upsert(party, figures, consented, policy_get(), run=None,
                actor_id=getattr(actor, "pk", None), purpose="on_demand")
    key = "merchant_id" if party == PartyKind.MERCHANT else "user_id"
    return CreditProfile.objects.get(party=party, **{key: party_id})


def _upsert(party: str, figures: dict[int, dict], consented: set[int], policy: LendingPolicy,
            *, run: ScoringRun | None, actor_id: int | None, purpose: str) -> int:
    """Write the profiles of one chunk: one INSERT ... ON CONFLICT DO UPDATE (a profile
    computed at the same moment elsewhere is simply replaced)."""
    now = timezone.now()
    key = "merchant_id" if party == PartyKind.MERCHANT else "user_id"
    profiles, uses = [], []
    for pk, fig in figures.items():
        if pk in consented:
            card = scoring.scorecard(party, fig, policy)
            values = {"consented": True, "score": card.score, "tier": card.tier,
                      "limit": card.limit, "rate": card.rate, "factors": card.factors,
                      "figures": fig}
            uses.append(CreditDataUse(party=party, purpose=purpose, run=run,
                                      actor_id=actor_id, at=now, **{key: pk}))
        else:  # without consent no behaviour data is used: no score, no limit
            values = {"consented": False, "score": None, "tier": Tier.D, "limit": ZERO,
                      "rate": None, "factors": [], "figures": {}}
        profiles.append(CreditProfile(party=party, computed_at=now, **{key: pk}, **values))
    CreditProfile.objects.bulk_create(
        profiles, update_conflicts=True, unique_fields=["party", "merchant_id", "user_id"],
        update_fields=["consented", "score", "tier", "limit", "rate", "factors", "figures",
                       "computed_at"])
    CreditDataUse.objects.bulk_create(uses)
    return len(figures)


def scoring_parties(bank: Bank) -> tuple[list[int], list[int]]:
    """Who is scored: the merchants the bank admitted (approved or suspended), and the
    people who are its credit customers (consented) or were scored before."""
    merchants = list(Merchant.objects.filter(
        bank=bank, status__in=[MerchantStatus.APPROVED, MerchantStatus.SUSPENDED])
        .order_by("pk").values_list("pk", flat=True))
    buyers = consenting_user_ids(purpose=ConsentPurpose.CREDIT, bank_id=bank.pk)
    buyers |= set(CreditProfile.objects.filter(party=PartyKind.BUYER)
                  .values_list("user_id", flat=True))
    return merchants, sorted(buyers)


def scoring_run_start(*, bank: Bank, trigger: str = "nightly", actor=None) -> ScoringRun:
    """Create a run (the caller queues ``lending.tasks.run_scoring`` inside the bank's
    schema). Refused while another run of the same trigger is open."""
    _in_bank(bank)
    try:
        with transaction.atomic():
            return ScoringRun.objects.create(trigger=trigger,
                                             started_by_id=getattr(actor, "pk", None))
    except IntegrityError:
        raise ApplicationError(_("A recomputation is already under way."),
                               code="run_in_progress") from None


def scoring_run_execute(*, bank: Bank, run_id: int) -> ScoringRun:
    """Recompute every profile of the bank, a chunk per transaction, showing progress."""
    _in_bank(bank)
    run = ScoringRun.objects.get(pk=run_id)
    if run.status == ScoringRun.Status.COMPLETED:
        return run
    merchants, buyers = scoring_parties(bank)
    ScoringRun.objects.filter(pk=run.pk).update(
        status=ScoringRun.Status.RUNNING, started_at=run.started_at or timezone.now(),
        total=len(merchants) + len(buyers), done=0, error="")
    policy = policy_get()
    merchant_ok = set(MerchantConsent.objects.filter(withdrawn_at__isnull=True)
                      .values_list("merchant_id", flat=True))
    buyer_ok = consenting_user_ids(purpose=ConsentPurpose.CREDIT, bank_id=bank.pk)
    now, done = timezone.now(), 0
    try:
        for party, ids, ok, read in (
                (PartyKind.MERCHANT, merchants, merchant_ok, scoring.merchant_figures),
                (PartyKind.BUYER, buyers, buyer_ok, scoring.buyer_figures)):
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                with transaction.atomic():
                    done += _upsert(party, read(chunk, now=now), ok, policy, run=run,
                                    actor_id=run.started_by_id, purpose=f"{run.trigger}_run")
                ScoringRun.objects.filter(pk=run.pk).update(done=done)
    except Exception as exc:
        ScoringRun.objects.filter(pk=run.pk).update(status=ScoringRun.Status.FAILED,
                                                    error=repr(exc)[:2000])
        raise
    ScoringRun.objects.filter(pk=run.pk).update(status=ScoringRun.Status.COMPLETED,
                                                finished_at=timezone.now(), done=done)
    run.refresh_from_db()
    return run


# --- limits --------------------------------------------------------------------------------


def outstanding_principal(*, party: str, party_id: int) -> Decimal:
    key = "merchant_id" if party == PartyKind.MERCHANT else "user_id"
    lines = ScheduleLine.objects.filter(
        loan__party=party, loan__status__in=[LoanStatus.ACTIVE, LoanStatus.OVERDUE],
        **{f"loan__{key}": party_id}).aggregate(unpaid=unpaid_principal(""))
    # Applications approved and not yet disbursed hold their amount too.
    held = Application.objects.filter(party=party, status=ApplicationStatus.APPROVED,
                                      **{key: party_id}).aggregate(s=Sum("amount"))["s"]
    return lines["unpaid"] + (held or ZERO)


@dataclass(frozen=True)
class Credit:
    profile: CreditProfile | None
    outstanding: Decimal
    available: Decimal


def _lock_borrower(party: str, party_id: int) -> None:
    """Serialise decisions on one borrower (two checkouts or applications at once must
    not both spend the same available limit): lock the party's profile row."""
    key = "merchant_id" if party == PartyKind.MERCHANT else "user_id"
    list(CreditProfile.objects.select_for_update().filter(party=party, **{key: party_id})
         .values_list("pk", flat=True))


def credit_of(*, party: str, party_id: int) -> Credit:
    key = "merchant_id" if party == PartyKind.MERCHANT else "user_id"
    profile = CreditProfile.objects.filter(party=party, **{key: party_id}).first()
    outstanding = outstanding_principal(party=party, party_id=party_id)
    limit = profile.limit if profile and profile.consented else ZERO
    return Credit(profile, outstanding, max(limit - outstanding, ZERO))


def _profile_for_decision(credit: Credit) -> CreditProfile:
    profile = credit.profile
    if profile is None or not profile.consented:
        raise ApplicationError(_("Agree to the bank using your platform data for credit, "
                                 "then your limit is worked out."), code="no_consent")
    if profile.tier == Tier.D or profile.rate is None:
        raise ApplicationError(_("Your trading record does not yet support credit at this "
                                 "bank."), code="no_credit")
    return profile


# --- order financing (merchants) -----------------------------------------------------------


def order_financing_quote(*, bank: Bank, order: Order) -> dict:
    """What the bank would advance on this order, and at what rate."""
    _in_bank(bank)
    policy = policy_get()
    credit = credit_of(party=PartyKind.MERCHANT, party_id=order.merchant_id)
    value = order.total - order.refunded_total
    most = quantize_money(value * policy.advance_ratio)
    rate = credit.profile.rate if credit.profile and credit.profile.consented else None
    return {"order_value": value, "advance_ratio": policy.advance_ratio, "max_advance": most,
            "term_days": policy.order_financing_days, "rate": rate,
            "available": credit.available, "profile": credit.profile,
            "est_interest": quantize_money(calc.day_interest(
                most, rate, policy.order_financing_days)) if rate else None}


def _check_financeable(bank: Bank, order: Order) -> None:
    if order.merchant_bank_id != bank.pk:
        raise ApplicationError(_("Only the merchant's own bank finances its orders."),
                               code="not_found")
    if order.status not in FINANCEABLE:
        raise ApplicationError(_("Only a paid order that is not being refunded can be "
                                 "financed."), code="not_financeable")
    if SettlementItem.objects.filter(order_id=order.pk).exists():
        raise ApplicationError(_("This order is settled already."), code="not_financeable")


@transaction.atomic
def order_financing_apply(*, bank: Bank, order: Order, actor,
                          amount: Decimal | None = None) -> Application:
    """A merchant asks the bank to advance part of a paid, unsettled order. Decided at
    once when the tier allows and the limit covers it; otherwise it waits for review."""
    _in_bank(bank)
    order = Order.objects.select_for_update().get(pk=order.pk)
    _check_financeable(bank, order)
    _lock_borrower(PartyKind.MERCHANT, order.merchant_id)
    policy = policy_get()
    quote = order_financing_quote(bank=bank, order=order)
    amount = quote["max_advance"] if amount in (None, "") else quantize_money(amount)
    if amount <= 0 or amount > quote["max_advance"]:
        raise ValidationError({"amount": [
            _("Ask for up to %(most)s yuan (%(ratio)s%% of the order).")
            % {"most": quote["max_advance"], "ratio": int(policy.advance_ratio * 100)}]})
    credit = credit_of(party=PartyKind.MERCHANT, party_id=order.merchant_id)
    profile = _profile_for_decision(credit)
    if Application.objects.filter(order_id=order.pk, status__in=[
            ApplicationStatus.IN_REVIEW, ApplicationStatus.AWAITING_SECOND,
            ApplicationStatus.APPROVED, ApplicationStatus.DISBURSED]).exists():
        raise ApplicationError(_("This order is financed or being reviewed already."),
                               code="already_financed")
    app = Application(product=Product.ORDER_FINANCING, party=PartyKind.MERCHANT,
                      merchant_id=order.merchant_id, user_id=actor.pk, order_id=order.pk,
                      amount=amount, term_days=policy.order_financing_days, rate=profile.rate,
                      score=profile.score, tier=profile.tier, limit=profile.limit,
                      available=credit.available, status="")
    automatic = (profile.tier in policy.auto_tiers and amount <= credit.available
                 and amount <= policy.second_approval_over)
    if automatic:
        app.auto_decided = True
        _app_transition(app, "auto_approve", actor_id=None,
                        note=_("Within the limit and tier: approved automatically."))
        return _disburse(bank, app, actor_id=None)
    _app_transition(app, "submit", actor_id=actor.pk)
    return app


@transaction.atomic
def application_decide(*, bank: Bank, application: Application, officer, approve: bool,
                       note: str = "") -> Application:
    """A credit officer's decision. Approvals above the bank's threshold, or above the
    party's available limit, need a second, different officer (maker-checker)."""
    _in_bank(bank)
    app = Application.objects.select_for_update().get(pk=application.pk)
    _lock_borrower(app.party, app.merchant_id if app.party == PartyKind.MERCHANT
                   else app.user_id)
    note = (note or "").strip()
    if not approve:
        if not note:
            raise ValidationError({"note": [_("Say why the application is rejected.")]})
        return _app_transition(app, "reject", actor_id=officer.pk, note=note)
    policy = policy_get()
    key = "merchant_id" if app.party == PartyKind.MERCHANT else "user_id"
    credit = credit_of(party=app.party, party_id=getattr(app, key))
    needs_two = app.amount > policy.second_approval_over or app.amount > credit.available
    if app.status == ApplicationStatus.AWAITING_SECOND:
        if app.first_approver_id == officer.pk:
            raise ApplicationError(_("The second approval must come from another officer."),
                                   code="same_officer")
        _app_transition(app, "approve_second", actor_id=officer.pk, note=note)
    elif app.status == ApplicationStatus.IN_REVIEW and needs_two:
        app.first_approver_id = officer.pk
        return _app_transition(app, "approve_first", actor_id=officer.pk, note=note)
    else:
        _app_transition(app, "approve", actor_id=officer.pk, note=note)
    return _disburse(bank, app, actor_id=officer.pk)


def _loan_number(bank: Bank, loan: Loan) -> str:
    """Readable and unique across the province: L + the bank + the day + the row id (row
    ids are per bank schema)."""
    return f"L{bank.pk:03d}{timezone.localtime(loan.disbursed_at):%y%m%d}{loan.pk:07d}"


def _disburse(bank: Bank, app: Application, *, actor_id: int | None) -> Application:
    """Create the loan and move the money (inside the caller's transaction)."""
    policy = policy_get()
    start = _today()
    if app.product == Product.ORDER_FINANCING:
        order = Order.objects.select_for_update().get(pk=app.order_id)
        _check_financeable(bank, order)
        # A refund while the application waited lowers what may be advanced.
        most = order_financing_quote(bank=bank, order=order)["max_advance"]
        if app.amount > most:
            raise ApplicationError(
                _("The order is worth less than when it was applied for (refunds): at most "
                  "%(most)s yuan can be advanced now; reject this application and apply "
                  "again.") % {"most": most}, code="not_financeable")
    if app.product == Product.INSTALMENTS:
        rows = calc.equal_instalments(app.amount, app.rate, app.months, start)
        mode = InterestMode.SCHEDULED
    else:
        due = start + timedelta(days=app.term_days)
        rows = [calc.bullet(app.amount, app.rate, start, due)]
        mode = InterestMode.DAILY
    loan = Loan.objects.create(
        application=app, number=uuid.uuid4().hex[:24], product=app.product, party=app.party,
        merchant_id=app.merchant_id, user_id=app.user_id if app.party == PartyKind.BUYER
        else None, order_id=app.order_id, checkout_id=app.checkout_id, principal=app.amount,
        rate=app.rate,
        penalty_rate=(app.rate * policy.penalty_multiplier).quantize(Decimal("0.00001")),
        interest_mode=mode, start_date=start, maturity_date=rows[-1].due_date,
        disbursed_at=timezone.now())
    loan.number = _loan_number(bank, loan)
    loan.save(update_fields=["number"])
    ScheduleLine.objects.bulk_create([
        ScheduleLine(loan=loan, seq=r.seq, due_date=r.due_date, principal=r.principal,
                     interest=r.interest, accrued_to=start) for r in rows])
    _post_disbursement(bank, app, loan)
    _app_transition(app, "disburse", actor_id=actor_id)
    _event(loan=loan, action="disburse", to_status=loan.status, actor_id=actor_id,
           detail={"principal": str(loan.principal), "rate": str(loan.rate)})
    return app


def _post_disbursement(bank: Bank, app: Application, loan: Loan) -> None:
    principal = ledger_account(kind=K.LOAN_PRINCIPAL, bank_id=bank.pk)
    ref = f"{bank.pk}:{loan.number}"
    if app.product == Product.ORDER_FINANCING:
        order = Order.objects.get(pk=app.order_id)
        ledger_post(kind="loan_disburse", reference=ref, memo=f"advance on {order.number}",
                    legs=[Leg(principal, loan.principal, order),
                          Leg(ledger_account(kind=K.MERCHANT_PAYABLE, bank_id=bank.pk,
                                             merchant_id=order.merchant_id),
                              -loan.principal, order)])
        return
    checkout = Checkout.objects.get(pk=app.checkout_id)
    legs = [Leg(principal, loan.principal)]
    for order in checkout.orders.order_by("pk"):
        escrow = ledger_account(kind=K.ESCROW, bank_id=order.merchant_bank_id,
                                merchant_id=order.merchant_id)
        legs.append(Leg(escrow, -order.total, order))
        if order.merchant_bank_id != bank.pk:
            legs += [
                Leg(ledger_account(kind=K.INTERBANK_PAYABLE, bank_id=bank.pk,
                                   counterparty_id=order.merchant_bank_id), -order.total, order),
                Leg(ledger_account(kind=K.INTERBANK_RECEIVABLE, bank_id=order.merchant_bank_id,
                                   counterparty_id=bank.pk), order.total, order),
            ]
    ledger_post(kind="loan_disburse", reference=ref, legs=legs, checkout=checkout,
                memo=f"{app.get_product_display()} of checkout {checkout.number}")


# --- pay later and instalments at checkout (buyers) ----------------------------------------


def checkout_financing_options(*, bank: Bank, checkout: Checkout, buyer) -> dict:
    """What the buyer may choose at this checkout on this bank's storefront."""
    _in_bank(bank)
    policy = policy_get()
    credit = credit_of(party=PartyKind.BUYER, party_id=buyer.pk)
    profile = credit.profile
    usable = bool(profile and profile.consented and profile.tier in policy.auto_tiers
                  and profile.rate is not None and checkout.total <= credit.available
                  and checkout.total <= policy.second_approval_over)
    business = buyer.buyer_kind == BuyerKind.BUSINESS
    options = {"credit": credit, "consented": bool(profile and profile.consented),
               "pay_later": None, "instalments": []}
    if not usable:
        return options
    if business:
        days = policy.purchase_financing_days
        options["pay_later"] = {"days": days, "rate": profile.rate,
                                "due": _today() + timedelta(days=days),
                                "interest": quantize_money(calc.day_interest(
                                    checkout.total, profile.rate, days))}
    else:
        for months in policy.terms:
            rows = calc.equal_instalments(checkout.total, profile.rate, months, _today())
            options["instalments"].append({
                "months": months, "rate": profile.rate, "first": rows[0].amount,
                "payment": calc.level_payment(checkout.total, profile.rate, months),
                "interest": sum((r.interest for r in rows), ZERO)})
    return options


@transaction.atomic
def checkout_finance(*, bank: Bank, checkout: Checkout, buyer, months: int | None = None,
                     ) -> Application:
    """Pay a checkout with the bank's credit: pay later (business buyers, ``months``
    None) or equal instalments over ``months`` (individual buyers). Decided at once, only
    within the buyer's available limit and an automatically approved tier."""
    _in_bank(bank)
    checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
    if checkout.buyer_id != buyer.pk:
        raise ApplicationError(_("This checkout is not yours."), code="not_found")
    if checkout.storefront_bank_id != bank.pk:
        raise ApplicationError(_("Credit is offered at checkout on the bank's own "
                                 "storefront."), code="not_found")
    payment_services.checkout_assert_payable(checkout)
    if checkout.points_value:
        raise ApplicationError(_("Points are applied to this checkout; credit pays whole "
                                 "checkouts only. Remove the points or pay by card."),
                               code="not_eligible")
    _lock_borrower(PartyKind.BUYER, buyer.pk)
    policy = policy_get()
    business = buyer.buyer_kind == BuyerKind.BUSINESS
    if months is None and not business:
        raise ApplicationError(_("Pay later is for registered business buyers; choose "
                                 "instalments."), code="not_eligible")
    if months is not None and business:
        raise ApplicationError(_("Business buyers use pay later, not instalments."),
                               code="not_eligible")
    if months is not None and months not in policy.terms:
        raise ValidationError({"months": [_("Choose one of %(terms)s months.")
                                          % {"terms": ", ".join(map(str, policy.terms))}]})
    credit = credit_of(party=PartyKind.BUYER, party_id=buyer.pk)
    profile = _profile_for_decision(credit)
    if profile.tier not in policy.auto_tiers:
        raise ApplicationError(_("Credit at checkout is not available for your tier; pay by "
                                 "card."), code="not_eligible")
    if checkout.total > credit.available or checkout.total > policy.second_approval_over:
        raise ApplicationError(
            _("This checkout (%(total)s yuan) is more than your available credit "
              "(%(available)s yuan); pay by card.")
            % {"total": checkout.total, "available": credit.available},
            code="over_limit")
    app = Application(
        product=Product.INSTALMENTS if months else Product.PURCHASE_FINANCING,
        party=PartyKind.BUYER, user_id=buyer.pk, checkout_id=checkout.pk,
        amount=checkout.total, months=months,
        term_days=None if months else policy.purchase_financing_days, rate=profile.rate,
        score=profile.score, tier=profile.tier, limit=profile.limit,
        available=credit.available, status="", auto_decided=True)
    _app_transition(app, "auto_approve", actor_id=None,
                    note=_("Within the limit and tier: approved automatically."))
    _disburse(bank, app, actor_id=buyer.pk)
    order_services.checkout_mark_paid(checkout=checkout)
    return app


# --- accrual, repayment --------------------------------------------------------------------


def _unpaid_principal(line: ScheduleLine) -> Decimal:
    return line.unpaid_principal


def _accrue_line(loan: Loan, line: ScheduleLine, as_of: date) -> None:
    """Accrue exact interest (DAILY loans, until the due date) and penalty interest (after
    it) on the line's unpaid principal, from ``accrued_to`` to ``as_of``."""
    start = line.accrued_to
    if as_of <= start:
        return
    unpaid = _unpaid_principal(line)
    if loan.interest_mode == InterestMode.DAILY:
        regular_end = min(as_of, line.due_date)
        if regular_end > start:
            line.interest_accrued += calc.day_interest(unpaid, loan.rate,
                                                       (regular_end - start).days)
    penalty_start = max(start, line.due_date)
    if as_of > penalty_start:
        line.penalty_accrued += calc.day_interest(unpaid, loan.penalty_rate,
                                                  (as_of - penalty_start).days)
    line.accrued_to = as_of


def _interest_due(loan: Loan, line: ScheduleLine, as_of: date | None = None) -> Decimal:
    """Interest owed on the line. An instalment whose period has not begun by ``as_of``
    (paid off early) owes none: interest is for the months the money was used."""
    if loan.interest_mode == InterestMode.DAILY:
        owed = quantize_money(line.interest_accrued)
    elif as_of is not None and calc.add_months(loan.start_date, line.seq - 1) > as_of:
        owed = min(line.interest, line.interest_paid)
    else:
        owed = line.interest
    return max(owed - line.interest_paid, ZERO)


def _penalty_due(line: ScheduleLine) -> Decimal:
    return max(quantize_money(line.penalty_accrued) - line.penalty_paid, ZERO)


@dataclass(frozen=True)
class Due:
    principal: Decimal
    interest: Decimal
    penalty: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.penalty


def _accrual_date(loan: Loan, as_of: date) -> date:
    # A DAILY loan repaid on the day it was lent pays one day's interest.
    if loan.interest_mode == InterestMode.DAILY and as_of <= loan.start_date:
        return loan.start_date + timedelta(days=1)
    return as_of


def _lines_to_pay(loan: Loan, as_of: date, *, everything: bool,
                  lock: bool = False) -> list[ScheduleLine]:
    """DAILY loans are paid off whole (early repayment pays the days used); instalment
    loans pay what is due by ``as_of`` plus the next instalment, or ``everything``."""
    qs = loan.lines.order_by("seq")
    lines = [ln for ln in (qs.select_for_update() if lock else qs)
             if _unpaid_principal(ln) > 0 or ln.paid_at is None]
    if loan.interest_mode == InterestMode.DAILY or everything:
        return lines
    due = [ln for ln in lines if ln.due_date <= as_of]
    upcoming = [ln for ln in lines if ln.due_date > as_of][:1]
    return due + upcoming


def loan_due_now(*, loan: Loan):
    """What repaying the loan today would take: (the next or overdue instalments, the
    whole loan), or (None, None) for a closed loan. Brings the accrual up to date under
    a short transaction (it locks the lines); nothing else changes."""
    if loan.status not in OPEN_LOANS:
        return None, None
    with transaction.atomic():
        return (loan_amount_due(loan=loan), loan_amount_due(loan=loan, everything=True))


def loan_amount_due(*, loan: Loan, as_of: date | None = None, everything: bool = False) -> Due:
    """What a repayment today would take (without changing anything)."""
    as_of = as_of or _today()
    principal = interest = penalty = ZERO
    for line in _lines_to_pay(loan, as_of, everything=everything):
        _accrue_line(loan, line, _accrual_date(loan, as_of))
        principal += _unpaid_principal(line)
        interest += _interest_due(loan, line, as_of)
        penalty += _penalty_due(line)
    return Due(principal, interest, penalty)


def _allocate(loan: Loan, amount: Decimal, as_of: date, *, everything: bool) -> Due:
    """Apply ``amount`` to the loan: per instalment, oldest first, penalty then interest
    then principal. Saves the lines; returns what was taken of each."""
    left = amount
    took_p = took_i = took_pen = ZERO
    now = timezone.now()
    for line in _lines_to_pay(loan, as_of, everything=everything, lock=True):
        _accrue_line(loan, line, _accrual_date(loan, as_of))
        pen = min(left, _penalty_due(line))
        left -= pen
        interest = min(left, _interest_due(loan, line, as_of))
        left -= interest
        principal = min(left, _unpaid_principal(line))
        left -= principal
        line.penalty_paid += pen
        line.interest_paid += interest
        line.principal_paid += principal
        if (_unpaid_principal(line) == 0 and _interest_due(loan, line, as_of) == 0
                and _penalty_due(line) == 0):
            line.paid_at = now
        line.save()
        took_p, took_i, took_pen = took_p + principal, took_i + interest, took_pen + pen
    return Due(took_p, took_i, took_pen)


def _after_repayment(loan: Loan, *, actor_id: int | None, as_of: date) -> None:
    if not loan.lines.filter(paid_at__isnull=True).exists():
        _loan_transition(loan, "repay", actor_id=actor_id)
    elif loan.status == LoanStatus.OVERDUE and not loan.lines.filter(
            paid_at__isnull=True, due_date__lt=as_of).exists():
        loan.days_overdue, loan.bucket = 0, ""
        _loan_transition(loan, "cure", actor_id=actor_id)


def financed_orders_among(orders: list[Order]) -> set[int]:
    """Of a chunk of orders being settled, those with open order financing: one query
    per merchant bank (each bank's loans are in its own schema). Settlement asks
    ``repayments_at_settlement`` about these orders only."""
    from django_tenants.utils import schema_context

    by_bank: dict[int, list[int]] = {}
    for order in orders:
        by_bank.setdefault(order.merchant_bank_id, []).append(order.pk)
    found: set[int] = set()
    schemas = dict(Bank.objects.filter(pk__in=list(by_bank)).values_list("pk", "schema_name"))
    for bank_id, ids in by_bank.items():
        with schema_context(schemas[bank_id]):
            found.update(Loan.objects.filter(
                order_id__in=ids, product=Product.ORDER_FINANCING,
                status__in=[LoanStatus.ACTIVE, LoanStatus.OVERDUE]).values_list(
                "order_id", flat=True))
    return found


def repayments_at_settlement(order: Order, available: Decimal) -> list[Repayment]:
    """The repayment provider settlement calls (registered in ``LendingConfig.ready``):
    an order financed by the merchant's bank repays its loan first, as far as the order's
    released escrow reaches. Runs inside the settlement's transaction and enters the
    lending bank's schema explicitly."""
    from django_tenants.utils import schema_context

    bank = Bank.objects.get(pk=order.merchant_bank_id)
    with schema_context(bank.schema_name):
        loan = (Loan.objects.select_for_update()
                .filter(order_id=order.pk, product=Product.ORDER_FINANCING,
                        status__in=[LoanStatus.ACTIVE, LoanStatus.OVERDUE]).first())
        if loan is None:
            return []
        as_of = _today()
        due = loan_amount_due(loan=loan, as_of=as_of)
        amount = min(due.total, available)
        if amount <= 0:
            return []
        took = _allocate(loan, amount, as_of, everything=True)
        LoanRepayment.objects.create(
            loan=loan, source=RepaymentSource.SETTLEMENT,
            idempotency_key=f"settle:{bank.pk}:{order.pk}:{loan.pk}", amount=amount,
            principal=took.principal, interest=took.interest, penalty=took.penalty,
            reference=f"order:{order.pk}", at=timezone.now())
        _event(loan=loan, action="repay_settlement", actor_id=None,
               detail={"order": order.number, "amount": str(amount)})
        _after_repayment(loan, actor_id=None, as_of=as_of)
        return [Repayment(lender_bank_id=bank.pk, principal=took.principal,
                          interest=took.interest + took.penalty, reference=loan.number)]


# --- refunds of orders paid with credit ------------------------------------------------------


def loan_reduce_for_refund(*, refund, amount: Decimal) -> payment_interfaces.CreditRefund | None:
    """The credit refund handler (registered in ``LendingConfig.ready``): an order of a
    checkout paid with this platform's pay later or instalments is refunded by reducing
    the loan, not through a card. Runs inside the refund's transaction and enters the
    lending bank's (the storefront's) schema explicitly. None when no loan paid it."""
    from django_tenants.utils import schema_context

    checkout = refund.order.checkout
    bank = Bank.objects.get(pk=checkout.storefront_bank_id)
    with schema_context(bank.schema_name):
        loan = Loan.objects.select_for_update().filter(
            checkout_id=checkout.pk, party=PartyKind.BUYER).first()
        if loan is None:
            return None
        if loan.status not in (LoanStatus.ACTIVE, LoanStatus.OVERDUE):
            raise ApplicationError(_("The loan that paid this order is closed; the bank "
                                     "refunds it by other means."), code="loan_closed")
        if loan.repayments.filter(status="pending").exists():
            raise ApplicationError(_("A repayment of the loan that paid this order is in "
                                     "progress; try again in a few minutes."),
                                   code="payment_in_progress")
        loan_reduce(loan=loan, amount=amount, note=f"refund {refund.pk} of "
                    f"{refund.order.number}")
        return payment_interfaces.CreditRefund(lender_bank_id=bank.pk, reference=loan.number)


def loan_reduce(*, loan: Loan, amount: Decimal, note: str = "", as_of: date | None = None
                ) -> Loan:
    """Take ``amount`` off the loan's unpaid principal (the goods it paid for were
    refunded). Interest is for the days used: a pay-later loan has accrued it up to
    today and goes on accruing on the smaller principal; an instalment loan keeps, for the
    current month, the interest on the new balance plus the refunded amount's interest for
    the days since the month began, and its remaining instalments are worked out again as
    equal instalments of the new balance over the same months (the last takes what is
    left). Nothing left to pay closes the loan. The caller holds the loan's row lock and
    books the money (the loan principal account of the bank) in the same transaction."""
    as_of = as_of or _today()
    lines = [ln for ln in loan.lines.select_for_update().order_by("seq")
             if _unpaid_principal(ln) > 0]
    balance = sum((_unpaid_principal(ln) for ln in lines), ZERO)
    if amount <= 0 or amount > balance:
        raise ApplicationError(
            _("This refund (%(amount)s yuan) is more than what is left of the loan that "
              "paid the order (%(left)s yuan); the bank refunds the difference by other "
              "means.") % {"amount": amount, "left": balance}, code="refund_exceeds_loan")
    left = balance - amount
    if loan.interest_mode == InterestMode.DAILY:
        for line in lines:  # one: a bullet loan
            _accrue_line(loan, line, as_of)
            line.principal -= amount
            line.interest = quantize_money(line.interest_accrued + calc.day_interest(
                left, loan.rate, (line.due_date - as_of).days))
            line.save()
    else:
        first = lines[0]
        begun = calc.add_months(loan.start_date, first.seq - 1)
        days_used = max((as_of - begun).days, 0)
        used = quantize_money(calc.day_interest(amount, loan.rate, days_used))
        rows = calc.equal_instalments(left, loan.rate, len(lines), begun) if left else []
        for index, line in enumerate(lines):
            row = rows[index] if rows else None
            line.principal = line.principal_paid + (row.principal if row else ZERO)
            interest = (row.interest if row else ZERO) + (used if index == 0 else ZERO)
            line.interest = max(interest, line.interest_paid)
            line.save()
    now = timezone.now()
    for line in loan.lines.filter(paid_at__isnull=True):
        if (_unpaid_principal(line) == 0 and _interest_due(loan, line, as_of) == 0
                and _penalty_due(line) == 0):
            line.paid_at = now
            line.save(update_fields=["paid_at"])
    loan.principal -= amount
    loan.save(update_fields=["principal"])
    _event(loan=loan, action="refund", actor_id=None, note=note[:300],
           detail={"amount": str(amount), "principal_left": str(left)})
    _after_repayment(loan, actor_id=None, as_of=as_of)
    return loan


def loan_repay_by_card(*, bank: Bank, loan: Loan, payer, card: payment_services.Card,
                       idempotency_key: str, everything: bool = False,
                       fingerprint: str = "") -> LoanRepayment:
    """The borrower repays by card: overdue instalments and the next one (or the whole
    loan). The repayment row is committed before the gateway is called."""
    _in_bank(bank)
    key = (idempotency_key or "").strip()
    if not key or len(key) > 60:
        raise ValidationError({"idempotency_key": [_("A payment needs an idempotency key.")]})
    existing = LoanRepayment.objects.filter(idempotency_key=f"card:{key}").first()
    if existing is not None:
        return _repayment_replay(existing, loan=loan, fingerprint=fingerprint)
    with transaction.atomic():
        loan = Loan.objects.select_for_update().get(pk=loan.pk)
        if loan.user_id != payer.pk:
            raise ApplicationError(_("This loan is not yours."), code="not_found")
        if loan.status not in (LoanStatus.ACTIVE, LoanStatus.OVERDUE):
            raise ApplicationError(_("This loan is closed."), code="illegal_transition")
        if loan.repayments.filter(status="pending").exists():
            raise ApplicationError(_("A repayment of this loan is in progress."),
                                   code="payment_in_progress")
        due = loan_amount_due(loan=loan, everything=everything)
        if due.total <= 0:
            raise ApplicationError(_("Nothing of this loan is due now."), code="nothing_due")
        try:
            with transaction.atomic():
                repayment = LoanRepayment.objects.create(
                    loan=loan, source=RepaymentSource.CARD, idempotency_key=f"card:{key}",
                    fingerprint=fingerprint, amount=due.total, status="pending",
                    actor_id=payer.pk, at=timezone.now())
        except IntegrityError:  # the same key, concurrently (for another loan)
            existing = LoanRepayment.objects.get(idempotency_key=f"card:{key}")
            return _repayment_replay(existing, loan=loan, fingerprint=fingerprint)
    try:
        charge = payment_services.card_charge(
            amount=repayment.amount, card=card, idempotency_key=_charge_key(bank, repayment),
            description=f"repayment of loan {loan.number}",
            metadata={"loan": loan.number, "bank": bank.code})
    except ValidationError:
        # The card details were refused before the gateway was called: nothing was
        # charged, so nothing is kept (and the loan is not left "in progress").
        LoanRepayment.objects.filter(pk=repayment.pk, status="pending").delete()
        raise
    except ApplicationError:  # the gateway refused the request: nothing was charged
        LoanRepayment.objects.filter(pk=repayment.pk).update(
            status="failed", message=_("The card service did not answer."))
        raise
    return _settle_card_repayment(bank, repayment, charge)


def _repayment_replay(existing: LoanRepayment, *, loan: Loan,
                      fingerprint: str) -> LoanRepayment:
    """A request with a key used before: the first repayment if it is the same request
    and has its answer; 422 for another request, 409 while the first is in flight."""
    if existing.loan_id != loan.pk:
        raise idempotency_mismatch()
    idempotency_check(stored=existing.fingerprint, fingerprint=fingerprint,
                      in_flight=existing.status == "pending")
    return existing


def _charge_key(bank: Bank, repayment: LoanRepayment) -> str:
    return f"loan-repay:{bank.pk}:{repayment.pk}"


def _settle_card_repayment(bank: Bank, repayment: LoanRepayment, charge) -> LoanRepayment:
    """Apply the gateway's answer to a pending card repayment, once."""
    with transaction.atomic():
        repayment = LoanRepayment.objects.select_for_update().get(pk=repayment.pk)
        if repayment.status != "pending":
            return repayment
        if charge.unknown:  # stays pending: ``loan_repayments_reconcile`` finds out
            repayment.message = charge.message[:300]
            repayment.save(update_fields=["message"])
            return repayment
        repayment.reference = charge.intent_id
        if not charge.succeeded:
            repayment.status, repayment.message = "failed", charge.message[:300]
            repayment.save()
            return repayment
        # The loan cannot have closed meanwhile: a pending repayment blocks other
        # repayments and write-off, and a buyer's loan is not repaid at settlement.
        loan = Loan.objects.select_for_update().get(pk=repayment.loan_id)
        as_of = _today()
        # Oldest first over the whole loan: the amount (quoted as due, or as everything)
        # is used up by exactly the lines it was quoted for.
        took = _allocate(loan, repayment.amount, as_of, everything=True)
        if took.total != repayment.amount:  # cannot happen (see above); never hidden
            log.error("repayment %s of %s: charged %s, applied %s", repayment.pk, loan.number,
                      repayment.amount, took.total)
        repayment.principal, repayment.interest, repayment.penalty = (
            took.principal, took.interest, took.penalty + repayment.amount - took.total)
        repayment.status = "succeeded"
        repayment.save()
        legs = [Leg(ledger_account(kind=K.CARD_CLEARING, bank_id=bank.pk), repayment.amount)]
        if repayment.principal:
            legs.append(Leg(ledger_account(kind=K.LOAN_PRINCIPAL, bank_id=bank.pk),
                            -repayment.principal))
        if repayment.interest + repayment.penalty:
            legs.append(Leg(ledger_account(kind=K.LOAN_INTEREST, bank_id=bank.pk),
                            -(repayment.interest + repayment.penalty)))
        ledger_post(kind="loan_repay", reference=f"{bank.pk}:{repayment.idempotency_key}",
                    legs=legs, memo=f"repayment of {loan.number}")
        _event(loan=loan, action="repay_card", actor_id=repayment.actor_id,
               detail={"amount": str(repayment.amount), "intent": charge.intent_id})
        _after_repayment(loan, actor_id=repayment.actor_id, as_of=as_of)
    return repayment


def loan_repayments_reconcile(*, bank: Bank, older_than_seconds: int = 300) -> int:
    """Card repayments still pending a while after they started (the gateway's answer was
    lost, or the process stopped): ask the gateway what happened and apply it."""
    import stripe

    _in_bank(bank)
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    changed = 0
    for repayment in LoanRepayment.objects.filter(status="pending", source=RepaymentSource.CARD,
                                                  at__lte=cutoff):
        try:
            charge = payment_services.card_charge_find(
                idempotency_key=_charge_key(bank, repayment))
        except stripe.StripeError as exc:
            log.warning("reconciling repayment %s: %s", repayment.pk, exc)
            continue
        changed += _settle_card_repayment(bank, repayment, charge).status != "pending"
    return changed


def loans_age(*, bank: Bank, as_of: date | None = None) -> int:
    """The daily task: accrue penalty interest on every overdue instalment and move loans
    through the delinquency buckets (M1 1-30 days, M2 31-60, M3 61-90, M3+ beyond).
    Running it twice on a day changes nothing (accrual is exact, up to ``as_of``)."""
    _in_bank(bank)
    as_of = as_of or _today()
    changed = 0
    overdue_ids = (ScheduleLine.objects.filter(
        loan__status__in=[LoanStatus.ACTIVE, LoanStatus.OVERDUE], paid_at__isnull=True,
        due_date__lt=as_of).values_list("loan_id", flat=True).distinct())
    for loan_id in sorted(set(overdue_ids)):
        with transaction.atomic():
            loan = Loan.objects.select_for_update().get(pk=loan_id)
            oldest = None
            for line in loan.lines.select_for_update().filter(paid_at__isnull=True):
                _accrue_line(loan, line, as_of)
                line.save(update_fields=["interest_accrued", "penalty_accrued", "accrued_to"])
                if line.due_date < as_of and (oldest is None or line.due_date < oldest):
                    oldest = line.due_date
            days = (as_of - oldest).days if oldest else 0
            loan.days_overdue, loan.bucket = days, delinquency_bucket(days)
            loan.max_days_overdue = max(loan.max_days_overdue, days)
            if loan.status == LoanStatus.ACTIVE:
                _loan_transition(loan, "fall_overdue", actor_id=None,
                                 note=_("Instalment due %(date)s not paid.") % {"date": oldest})
            else:
                loan.save(update_fields=["days_overdue", "bucket", "max_days_overdue"])
            changed += 1
    return changed


@transaction.atomic
def loan_write_off(*, bank: Bank, loan: Loan, actor, note: str) -> Loan:
    """A bank admin writes off an overdue loan: the unpaid principal becomes a loss."""
    _in_bank(bank)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": [_("Say why the loan is written off.")]})
    loan = Loan.objects.select_for_update().get(pk=loan.pk)
    if loan.repayments.filter(status="pending").exists():
        raise ApplicationError(_("A repayment of this loan is in progress; wait for it."),
                               code="payment_in_progress")
    unpaid = sum((_unpaid_principal(ln) for ln in loan.lines.all()), ZERO)
    _loan_transition(loan, "write_off", actor_id=actor.pk, note=note,
                     detail={"principal": str(unpaid)})
    if unpaid > 0:
        ledger_post(kind="loan_write_off", reference=f"{bank.pk}:{loan.number}",
                    memo=f"write-off of {loan.number}", legs=[
                        Leg(ledger_account(kind=K.LOAN_WRITE_OFF, bank_id=bank.pk), unpaid),
                        Leg(ledger_account(kind=K.LOAN_PRINCIPAL, bank_id=bank.pk), -unpaid)])
    return loan

