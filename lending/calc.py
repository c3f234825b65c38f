"""The arithmetic of lending: dates, interest, schedules. Pure functions, no database.

Conventions (the bank's usual ones, written down in docs/flows.md, "Lending"):

- Annual rates; a day's interest is ``rate / 360`` (the day-count basis of Chinese banks'
  loans, 日利率 = 年利率 / 360), a month's is ``rate / 12``.
- Day-rate interest and penalty interest are kept exact while they accrue and rounded
  half-up to the fen once, when they fall due: so the result never depends on how often
  the daily task ran.
- Equal instalments (等额本息): the instalment ``A r (1+r)^n / ((1+r)^n - 1)`` is rounded
  half-up to the fen; each month's interest is the balance times ``r``, rounded half-up;
  the principal part is the instalment less that interest; the last instalment takes the
  whole remaining balance (so principal sums to the loan exactly) plus its own interest.
- Monthly due dates keep the day of the month of the start date, or the month's last day
  when the month is shorter (31 January -> 28 or 29 February -> 31 March).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from core.money import quantize_money

DAYS_IN_YEAR = Decimal(360)
MONTHS_IN_YEAR = Decimal(12)
ZERO = Decimal("0.00")


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, or the last day of a shorter month."""
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def day_interest(principal: Decimal, annual_rate: Decimal, days: int) -> Decimal:
    """Exact (unrounded) interest on ``principal`` for ``days`` days."""
    if days <= 0 or principal <= 0:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 40
        return Decimal(principal) * Decimal(annual_rate) * days / DAYS_IN_YEAR


@dataclass(frozen=True)
class Instalment:
    seq: int
    due_date: date
    principal: Decimal
    interest: Decimal

    @property
    def amount(self) -> Decimal:
        return self.principal + self.interest


def level_payment(amount: Decimal, annual_rate: Decimal, months: int) -> Decimal:
    """The rounded equal monthly payment (等额本息)."""
    amount = Decimal(amount)
    if months <= 0:
        raise ValueError("months must be positive")
    with localcontext() as ctx:
        ctx.prec = 40
        r = Decimal(annual_rate) / MONTHS_IN_YEAR
        if r == 0:
            return quantize_money(amount / months)
        growth = (1 + r) ** months
        return quantize_money(amount * r * growth / (growth - 1))


def equal_instalments(amount: Decimal, annual_rate: Decimal, months: int,
                      start: date) -> list[Instalment]:
    """The schedule of an equal-instalment loan of ``amount`` disbursed on ``start``."""
    amount = quantize_money(amount)
    payment = level_payment(amount, annual_rate, months)
    r = Decimal(annual_rate) / MONTHS_IN_YEAR
    balance = amount
    rows: list[Instalment] = []
    for seq in range(1, months + 1):
        interest = quantize_money(balance * r)
        principal = balance if seq == months else min(balance, max(payment - interest, ZERO))
        rows.append(Instalment(seq, add_months(start, seq), principal, interest))
        balance -= principal
    return rows


def bullet(amount: Decimal, annual_rate: Decimal, start: date, due: date) -> Instalment:
    """A one-payment loan (order and purchase financing): the interest shown is for the
    whole term; what is charged is for the days actually used (see ``day_interest``)."""
    amount = quantize_money(amount)
    return Instalment(1, due, amount,
                      quantize_money(day_interest(amount, annual_rate, (due - start).days)))
