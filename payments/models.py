"""Payments and the federation's clearing: card payments at the gateway, incoming webhook
events, and the double-entry ledger.

Ledger rules (DESIGN §5), enforced by the database as well as the services (see the
migration ``0002_ledger_guards``): postings are never updated or deleted, and the postings
of one transaction sum to zero (checked at commit). Each bank has its own accounts: money
is never pooled across banks.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from banks.models import Bank
from catalog.models import Merchant
from core.states import StateMachine
from orders.models import MONEY, Checkout, Order, Refund


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("Created")
    REQUIRES_ACTION = "requires_action", _("Needs authentication")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Cancelled")
    # Charged, then refunded at once: the checkout was cancelled or already paid.
    RETURNED = "returned", _("Refunded automatically")


# A payment the card service has not finished with.
_OPEN = (PaymentStatus.CREATED, PaymentStatus.REQUIRES_ACTION)


class Payment(models.Model):
    """One attempt to pay a checkout by card (a PaymentIntent at the gateway). The
    idempotency key is ours: a repeated request with the same key returns this row
    instead of charging again; the gateway gets the same key."""

    KEY_SCOPE = "checkout_pay"  # of the client's keys in the idempotency store

    checkout = models.ForeignKey(Checkout, on_delete=models.PROTECT, related_name="payments")
    # The gateway's key: the client's key as its buyer sent it ("u<buyer>:<key>"; the
    # client's key and its request are in the idempotency store, core.idempotency).
    idempotency_key = models.CharField(max_length=100, unique=True)
    amount_fen = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3, default="cny")
    intent_id = models.CharField(max_length=80, unique=True, null=True, blank=True)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices,
                              default=PaymentStatus.CREATED)
    # Moved by the card service's answers and webhooks; a final status never changes. A
    # charge that arrives for a checkout cancelled or paid otherwise is returned at once.
    STATES = StateMachine(initial=[PaymentStatus.CREATED], transitions={
        "require_action": ([PaymentStatus.CREATED], PaymentStatus.REQUIRES_ACTION),
        "succeed": (_OPEN, PaymentStatus.SUCCEEDED),
        "fail": (_OPEN, PaymentStatus.FAILED),
        "cancel": (_OPEN, PaymentStatus.CANCELED),
        "return": (_OPEN, PaymentStatus.RETURNED),
    })
    card_last4 = models.CharField(max_length=4, blank=True, default="")
    failure_message = models.CharField(max_length=300, blank=True, default="")
    # The gateway's refund of a RETURNED payment.
    late_refund_reference = models.CharField(max_length=80, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A checkout is paid at most once.
            models.UniqueConstraint(fields=["checkout"], condition=Q(status="succeeded"),
                                    name="payments_one_success_per_checkout"),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return self.intent_id or self.idempotency_key


class WebhookEvent(models.Model):
    """A verified event from the gateway; processed once however often it is delivered."""

    event_id = models.CharField(max_length=80, unique=True)
    type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=80, blank=True, default="")
    payload = models.JSONField()
    deliveries = models.PositiveIntegerField(default=1)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return self.event_id


class GatewayRefundStatus(models.TextChoices):
    # Recorded as a refund of the order(s) and booked (escrow / card clearing).
    BOOKED = "booked", _("Booked as a refund of the order")
    # Not booked: a bank admin has to resolve it (see docs/flows.md, "Card payments and webhooks").
    OPEN = "open", _("Needs review")
    RESOLVED = "resolved", _("Resolved")


class GatewayRefund(models.Model):
    """A refund made at the card gateway outside the platform (in its dashboard, by its
    support), learned from a webhook. Recorded once per gateway refund id, however often
    and in whatever form (``charge.refunded``, ``refund.created``, ...) it is delivered."""

    refund_id = models.CharField(max_length=80, unique=True)
    intent_id = models.CharField(max_length=80, blank=True, default="")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    status = models.CharField(max_length=10, choices=GatewayRefundStatus.choices)
    STATES = StateMachine(initial=[GatewayRefundStatus.OPEN, GatewayRefundStatus.BOOKED],
                          transitions={
        "resolve": ([GatewayRefundStatus.OPEN], GatewayRefundStatus.RESOLVED),
    })
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    # The bank whose admins see it (the merchant's bank; null: the federation's).
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+")
    # The order refunds it was recorded as (booked ones).
    refunds = models.ManyToManyField(Refund, blank=True, related_name="+")
    note = models.CharField(max_length=300, blank=True, default="")
    event_id = models.CharField(max_length=80, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True,
                                    blank=True, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["bank", "status"])]

    def __str__(self) -> str:
        return self.refund_id


class AccountKind(models.TextChoices):
    # Money the card gateway has collected for the bank and not yet paid out (asset).
    CARD_CLEARING = "card_clearing", _("Card clearing")
    # Buyers' money held for a merchant until the order is settled (liability).
    ESCROW = "escrow", _("Escrow")
    # Settled money the bank owes the merchant until it is paid out; negative after a
    # clawback larger than what was owed (carried to the next payout) (liability).
    MERCHANT_PAYABLE = "merchant_payable", _("Merchant payable")
    # Payouts sent to the bank's core system and not yet confirmed (liability).
    PAYOUT_IN_TRANSIT = "payout_in_transit", _("Payouts in transit")
    # Financing repaid at settlement: principal back to the lending bank (asset) ...
    LOAN_PRINCIPAL = "loan_principal", _("Loan principal")
    # ... and its interest (income).
    LOAN_INTEREST = "loan_interest", _("Loan interest income")
    # Referral fees: the merchant's bank's expense and what it owes the referring bank ...
    REFERRAL_FEE_EXPENSE = "referral_fee_expense", _("Referral fee expense")
    REFERRAL_FEE_PAYABLE = "referral_fee_payable", _("Referral fees payable")
    # ... and the referring bank's claim and income.
    REFERRAL_FEE_RECEIVABLE = "referral_fee_receivable", _("Referral fees receivable")
    REFERRAL_FEE_INCOME = "referral_fee_income", _("Referral fee income")
    # Loans the bank wrote off (expense): the principal no longer expected back.
    LOAN_WRITE_OFF = "loan_write_off", _("Loan write-offs")
    # Between two banks (counterparty): a lending bank paying a merchant's escrow at
    # another bank owes that bank (payable), which holds the claim (receivable) until the
    # banks settle between themselves.
    INTERBANK_PAYABLE = "interbank_payable", _("Due to other banks")
    INTERBANK_RECEIVABLE = "interbank_receivable", _("Due from other banks")
    # The cash part of points-mall redemptions (the bank's income).
    POINTS_MALL_INCOME = "points_mall_income", _("Points mall cash income")
    # Points a bank's customers paid with at checkout: the bank's marketing expense.
    POINTS_EXPENSE = "points_expense", _("Points redeemed at checkout")
    # Partner platforms' fees on the orders they sold: the merchant's bank's expense and
    # what it owes the partners (the merchant pays no commission).
    PARTNER_FEE_EXPENSE = "partner_fee_expense", _("Partner fee expense")
    PARTNER_FEE_PAYABLE = "partner_fee_payable", _("Partner fees payable")
    # Cash taken at a branch's on-site payment desk, not yet banked (asset).
    BRANCH_CASH = "branch_cash", _("Branch desk cash")


class LedgerAccount(models.Model):
    """An account of one bank, for one purpose, optionally for one merchant of that bank
    or one counterparty bank (referral fees between two banks)."""

    kind = models.CharField(max_length=30, choices=AccountKind.choices)
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="+")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")
    counterparty = models.ForeignKey(Bank, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["bank_id", "kind", "merchant_id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "bank", "merchant", "counterparty"],
                                    name="payments_account_unique",
                                    nulls_distinct=False),
        ]

    def __str__(self) -> str:
        suffix = f"/{self.merchant_id}" if self.merchant_id else ""
        return f"{self.kind}@{self.bank_id}{suffix}"


class LedgerTransaction(models.Model):
    """A money movement: two or more postings summing to zero. ``(kind, reference)`` is
    unique, so the same movement is never booked twice."""

    kind = models.CharField(max_length=30)
    reference = models.CharField(max_length=100)
    memo = models.CharField(max_length=200, blank=True, default="")
    checkout = models.ForeignKey(Checkout, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")
    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="payments_txn_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.reference}"


class Posting(models.Model):
    """One leg of a transaction: ``amount`` > 0 debits the account, < 0 credits it."""

    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT,
                                    related_name="postings")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT,
                                related_name="postings")
    amount = models.DecimalField(**MONEY)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+")
    # The transaction's time, copied here so that a balance at any moment is one
    # index-only scan of (account, posted_at) including the amount.
    posted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="payments_posting_nonzero"),
        ]
        indexes = [
            models.Index(fields=["account", "posted_at"], include=["amount"],
                         name="payments_posting_balance"),
            models.Index(fields=["order"], name="payments_posting_order"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.amount}"


# --- settlement ---------------------------------------------------------------------------


class RunStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")


class SettlementRun(models.Model):
    """One settlement of every order of ``bank``'s merchants (all banks when null)
    completed before ``cutoff`` and not settled yet. Resumable: orders are settled in
    chunks, each in one transaction, exactly once (``SettlementItem.order`` is unique)."""

    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+")
    cutoff = models.DateTimeField()
    status = models.CharField(max_length=12, choices=RunStatus.choices,
                              default=RunStatus.PENDING)
    # A failed or interrupted run resumes where it stopped.
    STATES = StateMachine(initial=[RunStatus.PENDING], transitions={
        "start": ([RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED], RunStatus.RUNNING),
        "complete": ([RunStatus.RUNNING], RunStatus.COMPLETED),
        "fail": ([RunStatus.RUNNING], RunStatus.FAILED),
    })
    started_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+")
    orders_total = models.PositiveIntegerField(default=0)
    orders_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    # Per bank: the reconciliation made when the run completed, mismatches flagged.
    reconciliation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Two runs of the same scope cannot be under way at once.
            models.UniqueConstraint(fields=["bank"], condition=Q(status__in=["pending",
                                                                              "running"]),
                                    name="payments_one_active_run", nulls_distinct=False),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"


class SettlementItem(models.Model):
    """An order settled: its escrow released, financing repaid, referral fee booked, the
    rest credited to the merchant. One per order, ever."""

    run = models.ForeignKey(SettlementRun, on_delete=models.PROTECT, related_name="items")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="settlement")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="+")
    released = models.DecimalField(**MONEY)
    repaid = models.DecimalField(**MONEY, default=0)
    merchant_credit = models.DecimalField(**MONEY)
    referral_fee = models.DecimalField(**MONEY, default=0)
    referrer_bank = models.ForeignKey(Bank, on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(released=F("repaid") + F("merchant_credit")),
                                   name="payments_item_released_split"),
        ]

    def __str__(self) -> str:
        return f"settled {self.order_id}"


class SettlementHold(models.Model):
    """An order a run did not settle because its money is held (``Order.held_reason``):
    the run's record of why; the order is settled by the first run after the hold is
    lifted."""

    run = models.ForeignKey(SettlementRun, on_delete=models.CASCADE, related_name="holds")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "order"], name="payments_hold_once_per_run"),
        ]

    def __str__(self) -> str:
        return f"held {self.order_id} ({self.reason})"


class PayoutBatch(models.Model):
    """A bank's payouts of one run: one line per merchant, written as a payout file."""

    run = models.ForeignKey(SettlementRun, on_delete=models.PROTECT, related_name="batches")
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="+")
    total = models.DecimalField(**MONEY, default=0)
    line_count = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=120, blank=True, default="")
    file_content = models.TextField(blank=True, default="")
    checksum = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "bank"], name="payments_batch_once"),
        ]

    def __str__(self) -> str:
        return self.file_name or f"batch {self.pk}"


class PayoutStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    CONFIRMED = "confirmed", _("Confirmed")
    FAILED = "failed", _("Failed")


class PayoutLine(models.Model):
    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="lines")
    line_no = models.PositiveIntegerField()
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)
    account_name = models.CharField(max_length=100)
    account_number = models.CharField(max_length=40)
    status = models.CharField(max_length=12, choices=PayoutStatus.choices,
                              default=PayoutStatus.SENT)
    STATES = StateMachine(initial=[PayoutStatus.SENT], transitions={
        "confirm": ([PayoutStatus.SENT], PayoutStatus.CONFIRMED),
        "fail": ([PayoutStatus.SENT], PayoutStatus.FAILED),
    })
    failure_reason = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["batch_id", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "line_no"], name="payments_line_no"),
            models.UniqueConstraint(fields=["batch", "merchant"], name="payments_line_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_line_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.line_no}"


class DeskPayment(models.Model):
    """A checkout paid at a branch's on-site payment desk (cash or the branch's own
    terminal), recorded by the staff member who took it. One per checkout."""

    checkout = models.OneToOneField(Checkout, on_delete=models.PROTECT,
                                    related_name="desk_payment")
    branch = models.ForeignKey("banks.Branch", on_delete=models.PROTECT, related_name="+")
    staff = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    receipt_number = models.CharField(max_length=40)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"desk payment of {self.checkout_id}"
