"""Reads on payments and the ledger."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from banks.models import Bank
from payments.models import AccountKind, Payment, Posting


def escrow_by_bank() -> dict[int, Decimal]:
    """Money held in escrow per merchant's bank (credit balances shown positive)."""
    rows = (Posting.objects.filter(account__kind=AccountKind.ESCROW)
            .values("account__bank_id").annotate(total=Sum("amount")))
    return {row["account__bank_id"]: -row["total"] for row in rows}


def escrow_by_merchant(*, bank: Bank) -> dict[int, Decimal]:
    rows = (Posting.objects.filter(account__kind=AccountKind.ESCROW, account__bank=bank)
            .values("account__merchant_id").annotate(total=Sum("amount")))
    return {row["account__merchant_id"]: -row["total"] for row in rows}


def trial_balance() -> Decimal:
    """The sum of every posting: zero in a sound ledger."""
    return Posting.objects.aggregate(total=Sum("amount"))["total"] or Decimal("0.00")


def payments_of_checkout(*, checkout) -> list[Payment]:
    return list(Payment.objects.filter(checkout=checkout).order_by("created_at", "id"))


def payment_of_buyer(*, buyer, payment_id) -> Payment:
    """A payment of one of the buyer's checkouts, or 404 (whoever else asks)."""
    from django.http import Http404

    payment = (Payment.objects.select_related("checkout")
               .filter(pk=payment_id, checkout__buyer=buyer).first())
    if payment is None:
        raise Http404
    return payment


def payment_by_key(*, idempotency_key: str) -> Payment | None:
    """The payment a client's idempotency key made, if any (to answer a replay)."""
    return Payment.objects.filter(idempotency_key=idempotency_key).first()
