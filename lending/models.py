"""Lending: a bank's credit profiles, financing applications, loans and repayments.

Every table here lives in the bank's own schema: no bank can read another's credit data.
Rows point at shared rows (merchants, users, orders, checkouts) by id; see the Citus
table in docs/operations.md.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from core.states import StateMachine
from orders.models import OrderStatus

MONEY = {"max_digits": 14, "decimal_places": 2}
RATE = {"max_digits": 7, "decimal_places": 5}
# Interest while it accrues, kept exact (rounded to the fen when it falls due).
EXACT = {"max_digits": 24, "decimal_places": 12}

# Orders that may be financed: paid, not settled, not being refunded.
FINANCEABLE = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.READY_FOR_PICKUP,
               OrderStatus.DELIVERED, OrderStatus.PICKED_UP, OrderStatus.COMPLETED)


class Tier(models.TextChoices):
    A = "A", _("A (prime)")
    B = "B", _("B (good)")
    C = "C", _("C (fair)")
    D = "D", _("D (no credit)")


class PartyKind(models.TextChoices):
    MERCHANT = "merchant", _("Merchant")
    BUYER = "buyer", _("Buyer")


def default_terms() -> list[int]:
    return [3, 6, 12]


class LendingPolicy(models.Model):
    """The bank's lending parameters: one row in each bank's schema, seeded at onboarding
    with the defaults below and changed by the bank's admins."""

    # Scorecard: a base, plus each factor's weight (its most points). Tiers by score.
    base_score = models.PositiveIntegerField(_("base score"), default=300)
    weights = models.JSONField(_("factor weights"), default=dict, blank=True)
    tier_a_min = models.PositiveIntegerField(_("lowest score of tier A"), default=750)
    tier_b_min = models.PositiveIntegerField(_("lowest score of tier B"), default=650)
    tier_c_min = models.PositiveIntegerField(_("lowest score of tier C"), default=550)
    # Annual rates by tier; penalty interest is the loan's rate times the multiplier.
    rate_a = models.DecimalField(_("annual rate, tier A"), **RATE, default=Decimal("0.0435"),
                                 validators=[MinValueValidator(Decimal("0"))])
    rate_b = models.DecimalField(_("annual rate, tier B"), **RATE, default=Decimal("0.0600"),
                                 validators=[MinValueValidator(Decimal("0"))])
    rate_c = models.DecimalField(_("annual rate, tier C"), **RATE, default=Decimal("0.0850"),
                                 validators=[MinValueValidator(Decimal("0"))])
    penalty_multiplier = models.DecimalField(_("penalty rate multiplier"), max_digits=4,
                                             decimal_places=2, default=Decimal("1.50"),
                                             validators=[MinValueValidator(Decimal("1"))])
    # Limits: months of average sales (merchants) or purchases (buyers), by tier share.
    merchant_limit_months = models.DecimalField(_("merchant limit, months of sales"),
                                                max_digits=5, decimal_places=2,
                                                default=Decimal("2.00"),
                                                validators=[MinValueValidator(Decimal("0"))])
    buyer_limit_months = models.DecimalField(_("buyer limit, months of purchases"),
                                             max_digits=5, decimal_places=2,
                                             default=Decimal("3.00"),
                                             validators=[MinValueValidator(Decimal("0"))])
    merchant_limit_cap = models.DecimalField(_("largest merchant limit"), **MONEY,
                                             default=Decimal("500000.00"),
                                             validators=[MinValueValidator(Decimal("0"))])
    buyer_limit_cap = models.DecimalField(_("largest buyer limit"), **MONEY,
                                          default=Decimal("50000.00"),
                                          validators=[MinValueValidator(Decimal("0"))])
    # Products.
    advance_ratio = models.DecimalField(
        _("share of an order advanced"), max_digits=4, decimal_places=2,
        default=Decimal("0.80"),
        validators=[MinValueValidator(Decimal("0.10")), MaxValueValidator(Decimal("1.00"))])
    order_financing_days = models.PositiveIntegerField(_("order financing term (days)"),
                                                       default=60)
    purchase_financing_days = models.PositiveIntegerField(
        _("purchase financing term (days)"), default=30)
    instalment_months = models.JSONField(_("instalment terms (months)"),
                                         default=default_terms, blank=True)
    # Decisions: within the limit, these tiers are approved automatically; above the
    # threshold a reviewed application needs a second officer's approval.
    auto_tiers = models.CharField(_("tiers approved automatically"), max_length=4,
                                  default="AB", blank=True)
    second_approval_over = models.DecimalField(_("second approval above"), **MONEY,
                                               default=Decimal("50000.00"),
                                               validators=[MinValueValidator(Decimal("0"))])
    # Warehouse receipt pledges: lent up to ``pledge_ltv`` of the goods' value at the
    # platform's recent prices; a margin call when the unpaid principal rises above
    # ``pledge_margin_ratio`` of their value now; repaid in equal monthly instalments.
    pledge_ltv = models.DecimalField(_("pledge loan-to-value"), max_digits=4,
                                     decimal_places=2, default=Decimal("0.60"))
    pledge_margin_ratio = models.DecimalField(_("pledge maintenance ratio"), max_digits=4,
                                              decimal_places=2, default=Decimal("0.75"))
    pledge_months = models.PositiveIntegerField(_("pledge loan term (months)"), default=6)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "lending policy"

    def rate_for(self, tier: str) -> Decimal | None:
        return {"A": self.rate_a, "B": self.rate_b, "C": self.rate_c}.get(tier)

    @property
    def terms(self) -> list[int]:
        return sorted(int(m) for m in (self.instalment_months or [3, 6, 12]))


class MerchantConsent(models.Model):
    """A merchant's consent that its bank uses its platform data for credit, given by a
    member of the merchant. (A person's own consent is ``accounts.Consent``.)"""

    merchant_id = models.BigIntegerField()
    given_by_id = models.BigIntegerField()
    granted_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["merchant_id"], condition=Q(withdrawn_at__isnull=True),
            name="lending_one_live_merchant_consent")]

    def __str__(self) -> str:
        return f"merchant {self.merchant_id} consent"


class CreditProfile(models.Model):
    """A party's latest score, tier, limit and rate, with each factor's contribution."""

    party = models.CharField(max_length=10, choices=PartyKind.choices)
    merchant_id = models.BigIntegerField(null=True, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    consented = models.BooleanField(default=False)
    score = models.PositiveIntegerField(null=True, blank=True)
    tier = models.CharField(max_length=1, choices=Tier.choices, default=Tier.D)
    limit = models.DecimalField(**MONEY, default=Decimal("0.00"))
    rate = models.DecimalField(**RATE, null=True, blank=True)
    # [{"factor", "value", "points", "max", "note"}...] and the raw figures.
    factors = models.JSONField(default=list, blank=True)
    figures = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-score", "id"]
        constraints = [
            # One profile per party (merchant_id or user_id is empty); NULLS NOT
            # DISTINCT lets the nightly run write a chunk with one INSERT ... ON CONFLICT.
            models.UniqueConstraint(fields=["party", "merchant_id", "user_id"],
                                    nulls_distinct=False, name="lending_profile_party"),
        ]

    def __str__(self) -> str:
        return f"{self.party} {self.merchant_id or self.user_id}: {self.score} {self.tier}"


class ScoringRun(models.Model):
    """One recomputation of every profile (nightly, or started by an officer)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # A failed or interrupted run starts again where it is (each chunk is idempotent).
    STATES = StateMachine(initial=[Status.PENDING], transitions={
        "start": ([Status.PENDING, Status.RUNNING, Status.FAILED], Status.RUNNING),
        "complete": ([Status.RUNNING], Status.COMPLETED),
        "fail": ([Status.RUNNING], Status.FAILED),
    })
    trigger = models.CharField(max_length=10, default="nightly")
    started_by_id = models.BigIntegerField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(
            fields=["trigger"], condition=Q(status__in=["pending", "running"]),
            name="lending_one_open_run_per_trigger")]

    def __str__(self) -> str:
        return f"scoring run {self.pk} ({self.status})"


class CreditDataUse(models.Model):
    """Each use of a person's or merchant's platform behaviour data for credit."""

    party = models.CharField(max_length=10, choices=PartyKind.choices)
    merchant_id = models.BigIntegerField(null=True, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    purpose = models.CharField(max_length=40)
    run = models.ForeignKey(ScoringRun, on_delete=models.SET_NULL, null=True, blank=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.purpose} {self.merchant_id or self.user_id}"


class Product(models.TextChoices):
    ORDER_FINANCING = "order", _("Order financing")
    PURCHASE_FINANCING = "purchase", _("Pay later")
    INSTALMENTS = "instalments", _("Instalments")
    PLEDGE = "pledge", _("Warehouse receipt pledge")


class ApplicationStatus(models.TextChoices):
    IN_REVIEW = "in_review", _("In review")
    AWAITING_SECOND = "awaiting_second", _("Awaiting second approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")
    DISBURSED = "disbursed", _("Disbursed")


class Application(models.Model):
    product = models.CharField(max_length=12, choices=Product.choices)
    party = models.CharField(max_length=10, choices=PartyKind.choices)
    merchant_id = models.BigIntegerField(null=True, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)  # the buyer, or who applied
    order_id = models.BigIntegerField(null=True, blank=True)
    checkout_id = models.BigIntegerField(null=True, blank=True)
    receipt_id = models.BigIntegerField(null=True, blank=True)  # warehouses.WarehouseReceipt
    amount = models.DecimalField(**MONEY)
    months = models.PositiveSmallIntegerField(null=True, blank=True)
    term_days = models.PositiveIntegerField(null=True, blank=True)
    rate = models.DecimalField(**RATE)
    # What the decision was made on.
    score = models.PositiveIntegerField(null=True, blank=True)
    tier = models.CharField(max_length=1, choices=Tier.choices)
    limit = models.DecimalField(**MONEY)
    available = models.DecimalField(**MONEY)
    status = models.CharField(max_length=16, choices=ApplicationStatus.choices)
    # A new application (no status yet) is submitted, or decided at once by the policy.
    STATES = StateMachine(initial=[""], transitions={
        "submit": ([""], ApplicationStatus.IN_REVIEW),
        "auto_approve": ([""], ApplicationStatus.APPROVED),
        "auto_reject": ([""], ApplicationStatus.REJECTED),
        "approve": ([ApplicationStatus.IN_REVIEW], ApplicationStatus.APPROVED),
        "approve_first": ([ApplicationStatus.IN_REVIEW], ApplicationStatus.AWAITING_SECOND),
        "approve_second": ([ApplicationStatus.AWAITING_SECOND], ApplicationStatus.APPROVED),
        "reject": ([ApplicationStatus.IN_REVIEW, ApplicationStatus.AWAITING_SECOND],
                   ApplicationStatus.REJECTED),
        "cancel": ([ApplicationStatus.IN_REVIEW, ApplicationStatus.AWAITING_SECOND,
                    ApplicationStatus.APPROVED], ApplicationStatus.CANCELLED),
        "disburse": ([ApplicationStatus.APPROVED], ApplicationStatus.DISBURSED),
    })
    auto_decided = models.BooleanField(default=False)
    first_approver_id = models.BigIntegerField(null=True, blank=True)
    decided_by_id = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # An order is financed at most once (open or granted applications).
            models.UniqueConstraint(
                fields=["order_id"],
                condition=Q(order_id__isnull=False, status__in=[
                    "in_review", "awaiting_second", "approved", "disbursed"]),
                name="lending_one_live_application_per_order"),
            models.UniqueConstraint(
                fields=["checkout_id"],
                condition=Q(checkout_id__isnull=False, status="disbursed"),
                name="lending_one_loan_per_checkout"),
            models.UniqueConstraint(
                fields=["receipt_id"],
                condition=Q(receipt_id__isnull=False, status__in=[
                    "in_review", "awaiting_second", "approved"]),
                name="lending_one_open_application_per_receipt"),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.product} application {self.pk}"


class LoanStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    OVERDUE = "overdue", _("Overdue")
    REPAID = "repaid", _("Repaid")
    WRITTEN_OFF = "written_off", _("Written off")


class InterestMode(models.TextChoices):
    DAILY = "daily", _("Interest for the days used")
    SCHEDULED = "scheduled", _("Equal instalments")


class Loan(models.Model):
    application = models.OneToOneField(Application, on_delete=models.PROTECT,
                                       related_name="loan")
    number = models.CharField(max_length=24, unique=True)
    product = models.CharField(max_length=12, choices=Product.choices)
    party = models.CharField(max_length=10, choices=PartyKind.choices)
    merchant_id = models.BigIntegerField(null=True, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    order_id = models.BigIntegerField(null=True, blank=True)
    checkout_id = models.BigIntegerField(null=True, blank=True)
    receipt_id = models.BigIntegerField(null=True, blank=True)  # warehouses.WarehouseReceipt
    # A defaulted pledge loan: from then on the pledged goods sell on the platform and
    # settlement repays the loan first from every order of them (see services.pledges).
    collateral_sale_at = models.DateTimeField(null=True, blank=True)
    principal = models.DecimalField(**MONEY)
    rate = models.DecimalField(**RATE)
    penalty_rate = models.DecimalField(**RATE)
    interest_mode = models.CharField(max_length=10, choices=InterestMode.choices)
    status = models.CharField(max_length=12, choices=LoanStatus.choices,
                              default=LoanStatus.ACTIVE)
    STATES = StateMachine(initial=[LoanStatus.ACTIVE], transitions={
        "repay": ([LoanStatus.ACTIVE, LoanStatus.OVERDUE], LoanStatus.REPAID),
        "fall_overdue": ([LoanStatus.ACTIVE], LoanStatus.OVERDUE),
        "cure": ([LoanStatus.OVERDUE], LoanStatus.ACTIVE),
        "write_off": ([LoanStatus.OVERDUE], LoanStatus.WRITTEN_OFF),
    })
    start_date = models.DateField()
    maturity_date = models.DateField()
    days_overdue = models.PositiveIntegerField(default=0)
    max_days_overdue = models.PositiveIntegerField(default=0)  # for repayment history
    bucket = models.CharField(max_length=4, blank=True, default="")
    disbursed_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-disbursed_at", "-id"]
        indexes = [models.Index(fields=["status", "maturity_date"]),
                   models.Index(fields=["order_id"])]

    def __str__(self) -> str:
        return self.number

    @property
    def unpaid_principal(self) -> Decimal:
        """The principal still owed over the loan's lines (prefetch ``lines`` for many)."""
        return sum((line.unpaid_principal for line in self.lines.all()), Decimal("0.00"))


def unpaid_principal(lines: str = "lines__"):
    """The principal still owed, as an aggregate expression over schedule lines reached by
    ``lines`` (``"lines__"`` from a loan, ``""`` on ``ScheduleLine`` itself): zero where
    there are none. The one definition the selectors, services, pages and API use."""
    return Coalesce(Sum(f"{lines}principal") - Sum(f"{lines}principal_paid"),
                    Value(Decimal("0.00")), output_field=DecimalField(**MONEY))


class ScheduleLine(models.Model):
    """One instalment of a loan (a bullet loan has one). Interest of a DAILY loan and all
    penalty interest accrue exactly (``*_accrued``) up to ``accrued_to``."""

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="lines")
    seq = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    principal = models.DecimalField(**MONEY)
    interest = models.DecimalField(**MONEY)  # scheduled (or, DAILY, for the full term)
    interest_accrued = models.DecimalField(**EXACT, default=Decimal(0))
    penalty_accrued = models.DecimalField(**EXACT, default=Decimal(0))
    accrued_to = models.DateField()
    principal_paid = models.DecimalField(**MONEY, default=Decimal("0.00"))
    interest_paid = models.DecimalField(**MONEY, default=Decimal("0.00"))
    penalty_paid = models.DecimalField(**MONEY, default=Decimal("0.00"))
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["loan_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "seq"], name="lending_line_seq"),
            models.CheckConstraint(condition=Q(principal_paid__lte=models.F("principal")),
                                   name="lending_line_principal_not_overpaid"),
        ]

    def __str__(self) -> str:
        return f"{self.loan_id}#{self.seq}"

    @property
    def unpaid_principal(self) -> Decimal:
        return self.principal - self.principal_paid


class RepaymentSource(models.TextChoices):
    SETTLEMENT = "settlement", _("Taken at settlement")
    CARD = "card", _("Card")


class RepaymentStatus(models.TextChoices):
    PENDING = "pending", _("In progress")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class LoanRepayment(models.Model):
    KEY_SCOPE = "loan_repay"  # of the borrowers' keys in the idempotency store

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="repayments")
    source = models.CharField(max_length=12, choices=RepaymentSource.choices)
    # Ours, unique: "card:u<payer>:<the client's key>" (the client's key and its request
    # are in the idempotency store, core.idempotency), "settle:..." at settlement.
    idempotency_key = models.CharField(max_length=80, unique=True)
    amount = models.DecimalField(**MONEY)
    principal = models.DecimalField(**MONEY, default=Decimal("0.00"))
    interest = models.DecimalField(**MONEY, default=Decimal("0.00"))
    penalty = models.DecimalField(**MONEY, default=Decimal("0.00"))
    # pending: a card charge under way
    status = models.CharField(max_length=10, choices=RepaymentStatus.choices,
                              default=RepaymentStatus.SUCCEEDED)
    # Settlement and desk repayments are recorded as succeeded; a card repayment is
    # pending until the card service answers.
    STATES = StateMachine(initial=[RepaymentStatus.PENDING, RepaymentStatus.SUCCEEDED],
                          transitions={
        "succeed": ([RepaymentStatus.PENDING], RepaymentStatus.SUCCEEDED),
        "fail": ([RepaymentStatus.PENDING], RepaymentStatus.FAILED),
    })
    reference = models.CharField(max_length=80, blank=True, default="")
    message = models.CharField(max_length=300, blank=True, default="")
    actor_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.idempotency_key


class MarginCallStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CURED = "cured", _("Cured")
    CLOSED = "closed", _("Closed")


class MarginCall(models.Model):
    """The goods pledged for a loan are worth too little for what is owed: raised by the
    periodic check into the credit officers' queue; cured when the value or repayments
    bring the ratio back, or closed by an officer with a note."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="margin_calls")
    value = models.DecimalField(**MONEY)  # of the pledged units when raised
    unpaid = models.DecimalField(**MONEY)
    unit_price = models.DecimalField(**MONEY)
    status = models.CharField(max_length=8, choices=MarginCallStatus.choices,
                              default=MarginCallStatus.OPEN)
    STATES = StateMachine(initial=[MarginCallStatus.OPEN], transitions={
        "cure": ([MarginCallStatus.OPEN], MarginCallStatus.CURED),
        "close": ([MarginCallStatus.OPEN], MarginCallStatus.CLOSED),
    })
    note = models.CharField(max_length=300, blank=True, default="")
    closed_by_id = models.BigIntegerField(null=True, blank=True)
    raised_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [models.UniqueConstraint(
            fields=["loan"], condition=Q(status="open"), name="lending_one_open_margin_call")]

    def __str__(self) -> str:
        return f"margin call {self.pk} on {self.loan_id}"


class LendingEvent(models.Model):
    """The audit trail: every transition of an application or a loan, and who made it."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, null=True,
                                    blank=True, related_name="events")
    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="events")
    action = models.CharField(max_length=30)
    from_status = models.CharField(max_length=16, blank=True, default="")
    to_status = models.CharField(max_length=16, blank=True, default="")
    actor_id = models.BigIntegerField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.action


def actor_user(actor_id: int | None):
    """The shared user behind an ``*_id`` column (for pages)."""
    if actor_id is None:
        return None
    return get_user_model().objects.filter(pk=actor_id).first()

