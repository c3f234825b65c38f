"""Refunds of orders paid with credit: the loan is reduced instead of a card refund."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from banks.models import Bank
from core.errors import ApplicationError
from core.money import quantize_money
from lending import calc
from lending.models import InterestMode, Loan, LoanStatus, PartyKind, RepaymentStatus
from lending.services._common import ZERO, _event, _today
from lending.services.loans import _accrue_line, _interest_due, _penalty_due, _unpaid_principal
from lending.services.repayments import _after_repayment
from payments import interfaces as payment_interfaces


def loan_reduce_for_refund(*, refund, amount: Decimal) -> payment_interfaces.CreditRefund | None:
    """The credit refund handler (registered in ``LendingConfig.ready``): an order of a
    checkout paid with this platform's pay later or instalments is refunded by reducing
    the loan, not through a card. Runs inside the refund's transaction and enters the
    lending bank's (the storefront's) schema explicitly. None when no loan paid it."""
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
        if loan.repayments.filter(status=RepaymentStatus.PENDING).exists():
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
