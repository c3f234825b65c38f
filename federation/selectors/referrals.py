"""Referral credit between banks: the fees a merchant bank pays the bank whose storefront
brought the buyer, per pair and per bank.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Q, Sum

from banks.models import Bank
from federation.models import DailyPairStat
from federation.selectors._common import ZERO, _banks_by_id, _days


@dataclass
class CreditRow:
    """Referral fees between two banks over the range: the merchant bank pays the bank
    whose storefront brought the buyer."""

    bank_a: Bank
    bank_b: Bank
    a_earned_from_b: Decimal = ZERO  # A's storefront sold B's merchants' goods
    b_earned_from_a: Decimal = ZERO
    a_orders_for_b: int = 0
    b_orders_for_a: int = 0

    @property
    def net_to_a(self) -> Decimal:
        return self.a_earned_from_b - self.b_earned_from_a

    @property
    def bank_a_code(self) -> str:
        return self.bank_a.code

    @property
    def bank_b_code(self) -> str:
        return self.bank_b.code


@dataclass
class BankCredit:
    bank: Bank
    earned: Decimal = ZERO  # as the referring storefront
    paid: Decimal = ZERO  # as the merchants' bank
    referred_orders: int = 0
    referred_gmv: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.earned - self.paid

    @property
    def bank_code(self) -> str:
        return self.bank.code


def referral_credit(*, start: datetime.date, end: datetime.date,
                    bank: Bank | None = None) -> tuple[list[CreditRow], list[BankCredit]]:
    """Referral credit between banks: per pair (both directions and the net) and per bank
    (earned as storefront, paid as merchant bank). With ``bank``: only pairs with it, and
    ``bank`` first in each pair."""
    qs = (DailyPairStat.objects.filter(_days(start, end), storefront_bank__isnull=False,
                                       merchant_bank__isnull=False)
          .exclude(storefront_bank=F("merchant_bank")))
    if bank is not None:
        qs = qs.filter(Q(storefront_bank=bank) | Q(merchant_bank=bank))
    totals = list(qs.values("storefront_bank_id", "merchant_bank_id")
                  .annotate(fees=Sum("referral_fees"), orders=Sum("orders"), gmv=Sum("gmv")))
    banks = _banks_by_id([t["storefront_bank_id"] for t in totals]
                         + [t["merchant_bank_id"] for t in totals])
    pairs: dict[tuple[int, int], CreditRow] = {}
    per_bank: dict[int, BankCredit] = {}
    for t in totals:
        s, m = t["storefront_bank_id"], t["merchant_bank_id"]
        fees, orders = t["fees"] or ZERO, t["orders"] or 0
        if bank is not None:
            a, b = (s, m) if s == bank.pk else (m, s)
        else:
            a, b = sorted((s, m), key=lambda i: banks[i].code)
        row = pairs.setdefault((a, b), CreditRow(bank_a=banks[a], bank_b=banks[b]))
        if s == a:
            row.a_earned_from_b += fees
            row.a_orders_for_b += orders
        else:
            row.b_earned_from_a += fees
            row.b_orders_for_a += orders
        earner = per_bank.setdefault(s, BankCredit(bank=banks[s]))
        earner.earned += fees
        earner.referred_orders += orders
        earner.referred_gmv += t["gmv"] or ZERO
        per_bank.setdefault(m, BankCredit(bank=banks[m])).paid += fees
    rows = sorted(pairs.values(), key=lambda r: (r.bank_a.code, r.bank_b.code))
    if bank is not None:
        per_bank = {k: v for k, v in per_bank.items() if k == bank.pk}
    return rows, sorted(per_bank.values(), key=lambda c: c.bank.code)
