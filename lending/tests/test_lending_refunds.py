"""Refunds of orders paid with a bank's credit (instalments, pay later), through the real
order, payment and lending services and the real database: the refund reduces the loan
through the ledger (the lending bank's loan principal, and what it owed the merchant's
bank), the remaining instalments are worked out again to the fen, and a full refund
closes the loan. No card is involved."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from lending import calc
from lending import services as lending
from lending.models import Loan, LoanStatus
from orders import services as orders
from orders.models import OrderStatus, RefundStatus
from payments import selectors as ledger
from payments.models import AccountKind, LedgerTransaction, Posting
from tests.lending_factories import buyer, lenient_policy, scored_buyer
from tests.orders_factories import market, pay, place

D = Decimal
pytestmark = pytest.mark.django_db


def _balance(kind, bank_id, **more) -> Decimal:
    postings = Posting.objects.filter(account__kind=kind, account__bank_id=bank_id,
                                      **{f"account__{k}": v for k, v in more.items()})
    return sum((p.amount for p in postings), D("0.00"))


def _financed(province, *, business: bool, months: int | None):
    """A checkout of bank B's honey (136.00) on bank A's storefront, paid with bank A's
    credit."""
    shop = market(province)
    lenient_policy(province.bank_a, province.a_admin)
    shopper = buyer(business=business)
    pay(place(shopper, province.bank_a, [(shop.sku_a, 10)]))  # a trading record
    scored_buyer(province.bank_a, shopper)
    checkout = place(shopper, province.bank_a, [(shop.sku_b, 2)])
    bank = province.bank_a
    with schema_context(bank.schema_name):
        loan = lending.checkout_finance(bank=bank, checkout=checkout, buyer=shopper,
                                        months=months).loan
    order = checkout.orders.get()
    owner = shop.merchant_b.members.get().user
    return shopper, order, owner, loan


def _ledger_before(province, order):
    a, b = province.bank_a.pk, order.merchant_bank_id
    return {
        "principal": _balance(AccountKind.LOAN_PRINCIPAL, a),
        "escrow": _balance(AccountKind.ESCROW, b, merchant_id=order.merchant_id),
        "payable": _balance(AccountKind.INTERBANK_PAYABLE, a, counterparty_id=b),
        "receivable": _balance(AccountKind.INTERBANK_RECEIVABLE, b, counterparty_id=a),
    }


def _assert_moved(province, order, before, amount):
    """The refund is the disbursement reversed for ``amount``."""
    after = _ledger_before(province, order)
    assert after["principal"] - before["principal"] == -amount
    assert after["escrow"] - before["escrow"] == amount
    assert after["payable"] - before["payable"] == amount
    assert after["receivable"] - before["receivable"] == -amount
    assert ledger.trial_balance() == D("0.00")
    for txn in LedgerTransaction.objects.filter(refund__order=order):
        assert sum(p.amount for p in txn.postings.all()) == 0


def test_partial_then_full_refund_of_an_instalment_order(province):
    shopper, order, owner, loan = _financed(province, business=False, months=3)
    bank = province.bank_a
    assert order.total == D("136.00") and loan.principal == D("136.00")
    before = _ledger_before(province, order)

    # The buyer asks for part back; the shop approves.
    refund = orders.refund_request(order=order, actor=shopper, amount="36.00",
                                   reason="两瓶中一瓶破损")
    refund = orders.refund_decide(refund=refund, actor=owner, approve=True, note="同意")
    assert refund.status == RefundStatus.SUCCEEDED and refund.cash_amount == D("36.00")
    assert refund.gateway_reference == f"loan:{loan.number}"
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (OrderStatus.PAID, D("36.00"))
    _assert_moved(province, order, before, D("36.00"))
    with schema_context(bank.schema_name):
        loan = Loan.objects.get(pk=loan.pk)
        assert (loan.principal, loan.status) == (D("100.00"), LoanStatus.ACTIVE)
        # The schedule, again: equal instalments of 100.00 over the same three months.
        expected = calc.equal_instalments(D("100.00"), loan.rate, 3, loan.start_date)
        lines = list(loan.lines.order_by("seq"))
        assert [(ln.principal, ln.interest) for ln in lines] == [
            (r.principal, r.interest) for r in expected]
        assert sum(ln.principal for ln in lines) == D("100.00")
        assert lines[-1].principal == D("100.00") - sum(r.principal for r in expected[:2])
        due = lending.loan_amount_due(loan=loan, everything=True)
        assert due.principal == D("100.00")
        assert loan.events.filter(action="refund").count() == 1

    # The shop refunds the rest: the loan is closed, nothing is owed.
    before = _ledger_before(province, order)
    orders.refund_issue(order=order, actor=owner, amount=order.refundable, reason="退货")
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED and order.refundable == D("0.00")
    _assert_moved(province, order, before, D("100.00"))
    with schema_context(bank.schema_name):
        loan = Loan.objects.get(pk=loan.pk)
        assert (loan.principal, loan.status) == (D("0.00"), LoanStatus.REPAID)
        assert not loan.lines.filter(paid_at__isnull=True).exists()
        assert lending.outstanding_principal(party="buyer", party_id=shopper.pk) == 0


def test_an_instalment_refund_after_a_month_keeps_the_interest_of_the_days_used(province):
    shopper, order, owner, loan = _financed(province, business=False, months=3)
    bank = province.bank_a
    with schema_context(bank.schema_name):
        # Ten days into the first month.
        as_of = loan.start_date + timedelta(days=10)
        loan = Loan.objects.select_for_update().get(pk=loan.pk)
        lending.loan_reduce(loan=loan, amount=D("36.00"), as_of=as_of)
        rows = calc.equal_instalments(D("100.00"), loan.rate, 3, loan.start_date)
        used = calc.day_interest(D("36.00"), loan.rate, 10).quantize(D("0.01"))
        lines = list(loan.lines.order_by("seq"))
        assert lines[0].interest == rows[0].interest + used
        assert [(ln.principal, ln.interest) for ln in lines[1:]] == [
            (r.principal, r.interest) for r in rows[1:]]


def test_partial_then_full_refund_of_a_pay_later_order(province):
    shopper, order, owner, loan = _financed(province, business=True, months=None)
    bank = province.bank_a
    before = _ledger_before(province, order)
    orders.refund_issue(order=order, actor=owner, amount="50.00", reason="少发一瓶")
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (OrderStatus.PAID, D("50.00"))
    _assert_moved(province, order, before, D("50.00"))
    with schema_context(bank.schema_name):
        loan = Loan.objects.get(pk=loan.pk)
        line = loan.lines.get()
        assert (loan.principal, line.principal, loan.status) == (
            D("86.00"), D("86.00"), LoanStatus.ACTIVE)
        # Interest from now on is on 86.00 for the days to the due date.
        days = (line.due_date - timezone.localdate()).days
        assert line.interest == calc.day_interest(D("86.00"), loan.rate, days).quantize(
            D("0.01"))
        assert lending.loan_amount_due(loan=loan).principal == D("86.00")

    # The buyer asks for the rest; the shop approves: the loan is closed.
    before = _ledger_before(province, order)
    refund = orders.refund_request(order=order, actor=shopper, amount="86.00", reason="退货")
    orders.refund_decide(refund=refund, actor=owner, approve=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    _assert_moved(province, order, before, D("86.00"))
    with schema_context(bank.schema_name):
        loan = Loan.objects.get(pk=loan.pk)
        assert (loan.principal, loan.status) == (D("0.00"), LoanStatus.REPAID)
        assert loan.lines.get().paid_at is not None
