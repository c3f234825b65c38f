"""Payments and the federation's clearing: card payments at the gateway, incoming webhook
events, and the double-entry ledger.

Ledger rules (DESIGN §5), enforced by the database as well as the services (see the
migration ``0002_ledger_guards``): postings are never updated or deleted, and the postings
of one transaction sum to zero (checked at commit). Each bank has its own accounts: money
is never pooled across banks.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from banks.models import Bank
from catalog.models import Merchant
from orders.models import MONEY, Checkout, Order, Refund


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("Created")
    REQUIRES_ACTION = "requires_action", _("Needs authentication")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Cancelled")
    # Charged, then refunded at once: the checkout was cancelled or already paid.
    RETURNED = "returned", _("Refunded automatically")


class Payment(models.Model):
    """One attempt to pay a checkout by card (a PaymentIntent at the gateway). The
    idempotency key is ours: a repeated request with the same key returns this row
    instead of charging again; the gateway gets the same key."""

    checkout = models.ForeignKey(Checkout, on_delete=models.PROTECT, related_name="payments")
    idempotency_key = models.CharField(max_length=80, unique=True)
    amount_fen = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3, default="cny")
    intent_id = models.CharField(max_length=80, unique=True, null=True, blank=True)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices,
                              default=PaymentStatus.CREATED)
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


class AccountKind(models.TextChoices):
    # Money the card gateway has collected for the bank and not yet paid out (asset).
    CARD_CLEARING = "card_clearing", _("Card clearing")
    # Buyers' money held for a merchant until the order is settled (liability).
    ESCROW = "escrow", _("Escrow")


class LedgerAccount(models.Model):
    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="+")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["bank_id", "kind", "merchant_id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "bank", "merchant"],
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

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="payments_posting_nonzero"),
        ]
        indexes = [models.Index(fields=["account", "id"])]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.amount}"
