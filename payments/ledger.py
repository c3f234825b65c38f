"""The double-entry ledger's primitives: an account looked up (or made) once, and one
balanced transaction of two or more postings, booked exactly once per ``(kind,
reference)``. Every money movement of the platform goes through ``ledger_post`` (also
reachable as ``payments.services.ledger_post``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction

from core.money import quantize_money
from orders.models import Checkout, Order, Refund
from payments.models import LedgerAccount, LedgerTransaction, Posting


def ledger_account(*, kind: str, bank_id: int, merchant_id: int | None = None,
                   counterparty_id: int | None = None) -> LedgerAccount:
    key = {"kind": kind, "bank_id": bank_id, "merchant_id": merchant_id,
           "counterparty_id": counterparty_id}
    account = LedgerAccount.objects.filter(**key).first()
    if account is not None:
        return account
    LedgerAccount.objects.bulk_create([LedgerAccount(**key)], ignore_conflicts=True)
    return LedgerAccount.objects.get(**key)


@dataclass(frozen=True)
class Leg:
    account: LedgerAccount
    amount: Decimal  # > 0 debit, < 0 credit
    order: Order | None = None


@transaction.atomic
def ledger_post(*, kind: str, reference: str, legs: list[Leg], memo: str = "",
                checkout: Checkout | None = None,
                refund: Refund | None = None) -> LedgerTransaction | None:
    """Book one money movement; None if ``(kind, reference)`` is booked already."""
    legs = [Leg(leg.account, quantize_money(leg.amount), leg.order) for leg in legs]
    if len(legs) < 2 or any(leg.amount == 0 for leg in legs):
        raise ValueError("a ledger transaction has two or more non-zero postings")
    if sum(leg.amount for leg in legs) != 0:
        raise ValueError(f"postings of {kind}:{reference} do not sum to zero")
    try:
        with transaction.atomic():
            txn = LedgerTransaction.objects.create(kind=kind, reference=reference,
                                                   memo=memo[:200], checkout=checkout,
                                                   refund=refund)
    except IntegrityError:
        if LedgerTransaction.objects.filter(kind=kind, reference=reference).exists():
            return None
        raise
    Posting.objects.bulk_create([Posting(transaction=txn, account=leg.account,
                                         amount=leg.amount, order=leg.order)
                                 for leg in legs])
    return txn
