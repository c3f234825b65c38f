"""Loans and their state machine (``Loan.STATES``): accrual, what is due, daily
ageing through the delinquency buckets, and write-off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from banks.models import Bank
from core.errors import ApplicationError
from core.money import quantize_money
from lending import calc
from lending.models import InterestMode, Loan, LoanStatus, RepaymentStatus, ScheduleLine
from lending.selectors import OPEN_LOANS
from lending.services._common import ZERO, K, _in_bank, _loan_transition, _today
from payments.services import Leg, ledger_account, ledger_post

BUCKETS = [(30, "M1"), (60, "M2"), (90, "M3")]


def delinquency_bucket(days_overdue: int) -> str:
    if days_overdue <= 0:
        return ""
    for upto, name in BUCKETS:
        if days_overdue <= upto:
            return name
    return "M3+"


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
    if loan.repayments.filter(status=RepaymentStatus.PENDING).exists():
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
