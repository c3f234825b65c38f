"""Lending through the real services, database, ledger and card server: worked examples
of the arithmetic, order financing repaid first at settlement, pay later and instalments
at checkout, limits and maker-checker, overdue ageing and write-off."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import schema_context

from core.errors import ApplicationError
from lending import calc
from lending import services as lending
from lending.models import (
    ApplicationStatus,
    Loan,
    LoanRepayment,
    LoanStatus,
    PartyKind,
    RepaymentSource,
    RepaymentStatus,
    ScheduleLine,
)
from orders.models import CheckoutStatus, OrderStatus
from payments import settlement
from payments.models import AccountKind, Posting, SettlementItem
from payments.services import charges as payment_charges
from payments.services import checkout_payments
from payments.tests.test_settlement import _account, _complete
from tests.lending_factories import buyer, lenient_policy, scored_buyer, scored_merchant
from tests.orders_factories import GOOD_CARD, market, pay, place

D = Decimal
pytestmark = pytest.mark.django_db


# --- the arithmetic, against examples worked by hand ---------------------------------------


def test_due_dates_keep_the_day_or_take_the_month_end_including_leap_years():
    assert calc.add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert calc.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert calc.add_months(date(2024, 1, 31), 2) == date(2024, 3, 31)
    assert calc.add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert calc.add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)
    assert calc.add_months(date(2024, 12, 15), 1) == date(2025, 1, 15)


def test_day_interest_is_rate_over_360_per_day():
    # 10,000 at 4.35 % for 30 days: 10000 x 0.0435 x 30 / 360 = 36.25
    assert calc.day_interest(D("10000"), D("0.0435"), 30) == D("36.25")
    # Penalty: 1,000 overdue at 6 % x 1.5 = 9 % for 10 days = 2.50
    assert calc.day_interest(D("1000"), D("0.09"), 10) == D("2.5")
    assert calc.day_interest(D("1000"), D("0.09"), 0) == 0


def test_equal_instalments_worked_example_from_31_january_of_a_leap_year():
    # 10,000 at 12 % a year over 3 months: r = 1 %; payment = 10000 r 1.01^3 / (1.01^3 - 1)
    # = 3400.2211... -> 3400.22.  Month 1: interest 100.00, principal 3300.22, balance
    # 6699.78.  Month 2: interest 66.9978 -> 67.00, principal 3333.22, balance 3366.56.
    # Month 3 takes the balance: principal 3366.56, interest 33.6656 -> 33.67 = 3400.23.
    rows = calc.equal_instalments(D("10000"), D("0.12"), 3, date(2024, 1, 31))
    assert [(r.due_date, r.principal, r.interest) for r in rows] == [
        (date(2024, 2, 29), D("3300.22"), D("100.00")),
        (date(2024, 3, 31), D("3333.22"), D("67.00")),
        (date(2024, 4, 30), D("3366.56"), D("33.67")),
    ]
    assert sum(r.principal for r in rows) == D("10000.00")
    assert [r.amount for r in rows] == [D("3400.22"), D("3400.22"), D("3400.23")]


def test_equal_instalments_at_zero_rate_and_odd_amounts_balance_to_the_fen():
    rows = calc.equal_instalments(D("100.00"), D("0"), 3, date(2025, 3, 31))
    assert [r.principal for r in rows] == [D("33.33"), D("33.33"), D("33.34")]
    assert [r.due_date for r in rows] == [date(2025, 4, 30), date(2025, 5, 31),
                                          date(2025, 6, 30)]
    for amount, months in ((D("999.99"), 12), (D("1.00"), 6), (D("12345.67"), 6)):
        rows = calc.equal_instalments(amount, D("0.085"), months, date(2025, 1, 31))
        assert sum(r.principal for r in rows) == amount
        assert all(r.principal >= 0 and r.interest >= 0 for r in rows)


# --- order financing, repaid first at settlement -------------------------------------------


@pytest.fixture
def financed(province, db):
    shop = market(province)
    _account(province.bank_b, shop.merchant_b, "6231000000000000099")
    lenient_policy(province.bank_b, province.b_admin)
    # 2 x 68.00 (delivery free above 99) from bank B's merchant, bought on bank A's storefront.
    checkout = place(province.shopper, province.bank_a, [(shop.sku_b, 2)])
    pay(checkout)
    order = checkout.orders.get()
    profile = scored_merchant(province.bank_b, shop.merchant_b, province.b_manager)
    return shop, checkout, order, profile


def test_a_merchant_finances_an_order_and_settlement_repays_the_bank_first(province,
                                                                           financed):
    shop, checkout, order, profile = financed
    assert order.total == D("136.00")
    # Limit from the trading record: 136.00 of sales in its first month x 2 months,
    # tier A (100 %), in whole hundreds -> 200.
    assert (profile.tier, profile.limit) == ("A", D("200.00"))
    bank = province.bank_b
    with schema_context(bank.schema_name):
        app = lending.order_financing_apply(bank=bank, order=order, actor=province.b_manager)
        assert (app.status, app.auto_decided, app.amount) == (
            ApplicationStatus.DISBURSED, True, D("108.80"))  # 80 % of 136.00
        loan = Loan.objects.get(application=app)
        assert loan.principal == D("108.80") and loan.rate == D("0.04350")
        with pytest.raises(ApplicationError):  # never twice
            lending.order_financing_apply(bank=bank, order=order, actor=province.b_manager)
        credit = lending.credit_of(party=PartyKind.MERCHANT, party_id=shop.merchant_b.pk)
        assert (credit.outstanding, credit.available) == (D("108.80"), D("91.20"))
    # The advance is owed to the merchant at once (paid out with the next payout).
    advance = Posting.objects.get(transaction__kind="loan_disburse",
                                  account__kind=AccountKind.MERCHANT_PAYABLE,
                                  account__merchant=shop.merchant_b)
    assert advance.amount == D("-108.80")

    _complete(checkout, province.b_manager)
    run = settlement.settlement_run_execute(
        settlement.settlement_run_start(bank=bank, cutoff=timezone.now()).pk)
    item = SettlementItem.objects.get(order=order)
    # Settled the day it was lent: one day's interest, 108.80 x 0.0435 / 360 = 0.0131 ->
    # 0.01.  The bank takes 108.81, the merchant is credited the rest.
    assert (item.released, item.repaid, item.merchant_credit) == (
        D("136.00"), D("108.81"), D("27.19"))
    assert run.reconciliation[str(bank.pk)]["ok"], run.reconciliation
    with schema_context(bank.schema_name):
        loan.refresh_from_db()
        assert loan.status == LoanStatus.REPAID
        repayment = loan.repayments.get()
        assert (repayment.principal, repayment.interest) == (D("108.80"), D("0.01"))
        assert loan.events.filter(action="repay").exists()
    # In all, the merchant is owed the order less the interest: 108.80 + 27.19.
    payable = sum(p.amount for p in Posting.objects.filter(
        account__kind=AccountKind.MERCHANT_PAYABLE, account__merchant=shop.merchant_b,
        order=order))
    assert payable == D("-135.99")


def test_a_shop_repays_its_loan_by_card_and_settlement_then_takes_nothing(province, financed,
                                                                         api_on, client_on):
    shop, checkout, order, _profile = financed
    bank = province.bank_b
    member = shop.merchant_b.members.get().user
    with schema_context(bank.schema_name):
        app = lending.order_financing_apply(bank=bank, order=order, actor=member)
        loan = Loan.objects.get(application=app)
    url = f"/api/v1/merchant/{shop.merchant_b.pk}/financing/loans/{loan.pk}/repayments/"
    card = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    # not a member of the shop, or on another bank's domain: 404, nothing charged
    assert api_on(bank, province.shopper).post(
        url, {"card": card}, format="json", HTTP_IDEMPOTENCY_KEY="shop-repay-x").status_code \
        == 404
    assert api_on(province.bank_a, member).post(
        url, {"card": card}, format="json", HTTP_IDEMPOTENCY_KEY="shop-repay-y").status_code \
        == 404
    paid = api_on(bank, member).post(url, {"card": card, "everything": True}, format="json",
                                     HTTP_IDEMPOTENCY_KEY="shop-repay-1")
    assert paid.status_code == 201, paid.content
    body = paid.json()
    assert body["status"] == "succeeded" and D(body["amount"]) >= D("108.80")
    with schema_context(bank.schema_name):
        loan.refresh_from_db()
        assert loan.status == LoanStatus.REPAID
        assert loan.events.filter(action="repay_card", actor_id=member.pk).exists()
    booked = Posting.objects.filter(transaction__kind="loan_repay",
                                    transaction__reference=f"{bank.pk}:card:u{member.pk}:shop-repay-1")
    assert booked.count() == 3 and sum(p.amount for p in booked) == 0
    # the same key again: the same repayment, nothing charged twice
    again = api_on(bank, member).post(url, {"card": card, "everything": True}, format="json",
                                      HTTP_IDEMPOTENCY_KEY="shop-repay-1")
    assert again.status_code == 200 and again.json()["id"] == body["id"]

    # settlement no longer takes anything for the loan: the shop is credited the order
    _complete(checkout, province.b_manager)
    settlement.settlement_run_execute(
        settlement.settlement_run_start(bank=bank, cutoff=timezone.now()).pk)
    item = SettlementItem.objects.get(order=order)
    assert (item.released, item.repaid, item.merchant_credit) == (
        D("136.00"), D("0.00"), D("136.00"))
    # the shop's loan page offers no card form for a repaid loan
    page = client_on(bank, member).get(
        f"/merchant/{shop.merchant_b.pk}/financing/loans/{loan.pk}/").content.decode()
    assert "repay-button" not in page


def test_settlement_leaves_a_loan_whose_card_repayment_is_under_way(province, financed):
    shop, checkout, order, _profile = financed
    bank = province.bank_b
    member = shop.merchant_b.members.get().user
    with schema_context(bank.schema_name):
        app = lending.order_financing_apply(bank=bank, order=order, actor=member)
        loan = Loan.objects.get(application=app)
        LoanRepayment.objects.create(loan=loan, source=RepaymentSource.CARD,
                                     idempotency_key="card:under-way", amount=D("108.81"),
                                     status=RepaymentStatus.PENDING, actor_id=member.pk,
                                     at=timezone.now())
    assert lending.repayments_at_settlement(order, D("136.00")) == []
    with schema_context(bank.schema_name):
        loan.refresh_from_db()
        assert loan.status == LoanStatus.ACTIVE
        assert loan.events.filter(action="skip_settlement").exists()
        assert not loan.repayments.filter(source=RepaymentSource.SETTLEMENT).exists()


def test_review_above_the_limit_needs_two_different_officers(province, financed):
    shop, _checkout, order, _profile = financed
    bank = province.bank_b
    with schema_context(bank.schema_name):
        lending.policy_update(bank=bank, actor=province.b_admin, auto_tiers="")
        app = lending.order_financing_apply(bank=bank, order=order, actor=province.b_manager)
        assert app.status == ApplicationStatus.IN_REVIEW
        with pytest.raises(ValidationError):  # a rejection says why
            lending.application_decide(bank=bank, application=app,
                                       officer=province.b_manager, approve=False)
        # 108.80 is within the 200 limit: one officer suffices ...
        lending.policy_update(bank=bank, actor=province.b_admin,
                              second_approval_over=D("100.00"))
        # ... unless it is above the bank's threshold.
        app = lending.application_decide(bank=bank, application=app,
                                         officer=province.b_manager, approve=True)
        assert app.status == ApplicationStatus.AWAITING_SECOND
        with pytest.raises(ApplicationError) as same:
            lending.application_decide(bank=bank, application=app,
                                       officer=province.b_manager, approve=True)
        assert same.value.code == "same_officer"
        assert not Loan.objects.filter(application=app).exists()
        app = lending.application_decide(bank=bank, application=app,
                                         officer=province.b_admin, approve=True)
        assert app.status == ApplicationStatus.DISBURSED
        actions = list(app.events.values_list("action", "actor_id"))
        assert actions == [("submit", province.b_manager.pk),
                           ("approve_first", province.b_manager.pk),
                           ("approve_second", province.b_admin.pk),
                           ("disburse", province.b_admin.pk)]


def test_another_bank_cannot_finance_the_order_and_has_no_trace_of_it(province, financed):
    _shop, _checkout, order, _profile = financed
    with schema_context(province.bank_a.schema_name), pytest.raises(ApplicationError):
        lending.order_financing_apply(bank=province.bank_a, order=order,
                                      actor=province.a_manager)
    with schema_context(province.bank_b.schema_name):
        lending.order_financing_apply(bank=province.bank_b, order=order,
                                      actor=province.b_manager)
    with schema_context(province.bank_a.schema_name):
        assert not Loan.objects.filter(order_id=order.pk).exists()
    with schema_context(province.bank_b.schema_name):
        assert Loan.objects.filter(order_id=order.pk).exists()


# --- pay later and instalments at checkout -------------------------------------------------


def _history(province, shopper, shop, qty=3):
    """A paid purchase, so the buyer has a trading record."""
    checkout = place(shopper, province.bank_a, [(shop.sku_a, qty)])
    pay(checkout)
    return checkout


def test_a_business_buyer_pays_later_within_the_limit_across_banks(province):
    shop = market(province)
    lenient_policy(province.bank_a, province.a_admin)
    shopper = buyer(business=True)
    _history(province, shopper, shop, qty=10)  # 10 x 39.00 wholesale = 390.00
    profile = scored_buyer(province.bank_a, shopper)
    # 390.00 in the first month x 3 months x tier A -> 1,170 -> 1,100.
    assert (profile.tier, profile.limit) == ("A", D("1100.00"))
    checkout = place(shopper, province.bank_a, [(shop.sku_b, 2)])  # bank B's merchant
    bank = province.bank_a
    with schema_context(bank.schema_name):
        options = lending.checkout_financing_options(bank=bank, checkout=checkout,
                                                     buyer=shopper)
        assert options["pay_later"]["days"] == 30 and not options["instalments"]
        app = lending.checkout_finance(bank=bank, checkout=checkout, buyer=shopper)
        loan = app.loan
        assert (loan.principal, loan.maturity_date) == (
            D("136.00"), timezone.localdate() + timedelta(days=30))
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID
    assert checkout.orders.get().status == OrderStatus.PAID
    # Bank A paid bank B's merchant's escrow and owes bank B for it.
    legs = {(p.account.kind, p.account.bank_id): p.amount for p in Posting.objects.filter(
        transaction__kind="loan_disburse", transaction__checkout=checkout)}
    assert legs == {
        (AccountKind.LOAN_PRINCIPAL, bank.pk): D("136.00"),
        (AccountKind.ESCROW, province.bank_b.pk): D("-136.00"),
        (AccountKind.INTERBANK_PAYABLE, bank.pk): D("-136.00"),
        (AccountKind.INTERBANK_RECEIVABLE, province.bank_b.pk): D("136.00"),
    }
    # Repaid by card the same day: one day's interest, 136 x 0.0435 / 360 = 0.0164 -> 0.02.
    with schema_context(bank.schema_name):
        repayment = lending.loan_repay_by_card(bank=bank, loan=loan, payer=shopper,
                                               card=GOOD_CARD, idempotency_key="r1")
        assert (repayment.status, repayment.amount, repayment.interest) == (
            "succeeded", D("136.02"), D("0.02"))
        again = lending.loan_repay_by_card(bank=bank, loan=loan, payer=shopper,
                                           card=GOOD_CARD, idempotency_key="r1")
        assert again.pk == repayment.pk
        loan.refresh_from_db()
        assert loan.status == LoanStatus.REPAID
    assert settlement.reconciliation(bank=province.bank_b)["ok"]


def test_credit_at_checkout_is_refused_over_the_limit_without_consent_or_twice(province):
    shop = market(province)
    lenient_policy(province.bank_a, province.a_admin)
    shopper = buyer()
    _history(province, shopper, shop, qty=1)  # 45.50 + 8.00 = 53.50 -> limit 100
    checkout = place(shopper, province.bank_a, [(shop.sku_b, 2)])
    bank = province.bank_a
    with schema_context(bank.schema_name):
        with pytest.raises(ApplicationError) as no_consent:
            lending.checkout_finance(bank=bank, checkout=checkout, buyer=shopper, months=3)
        assert no_consent.value.code == "no_consent"
    scored_buyer(bank, shopper)
    with schema_context(bank.schema_name):
        with pytest.raises(ApplicationError) as over:
            lending.checkout_finance(bank=bank, checkout=checkout, buyer=shopper, months=3)
        assert over.value.code == "over_limit"
        assert not Loan.objects.filter(user_id=shopper.pk).exists()
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PENDING_PAYMENT


def test_instalments_schedule_ageing_penalty_and_write_off(province):
    shop = market(province)
    lenient_policy(province.bank_a, province.a_admin)
    shopper = buyer()
    _history(province, shopper, shop, qty=8)  # 8 x 45.50 = 364.00 -> limit 1,000
    scored_buyer(province.bank_a, shopper)
    checkout = place(shopper, province.bank_a, [(shop.sku_a, 2)])  # 99.00
    bank = province.bank_a
    with schema_context(bank.schema_name):
        app = lending.checkout_finance(bank=bank, checkout=checkout, buyer=shopper, months=3)
        loan = app.loan
        lines = list(loan.lines.order_by("seq"))
        expected = calc.equal_instalments(D("99.00"), D("0.0435"), 3, loan.start_date)
        assert [(ln.principal, ln.interest) for ln in lines] == [
            (r.principal, r.interest) for r in expected]
        assert sum(ln.principal for ln in lines) == D("99.00")
        # 40 days after the first due date nothing was paid: overdue, bucket M2, penalty
        # on the first instalment's principal at 4.35 % x 1.5 for 40 days (exact, then
        # rounded once), the second (due 30-ish days later) for its own days.
        as_of = lines[0].due_date + timedelta(days=40)
        # (Other tests' loans of this bank may age too: count at least this one.)
        assert lending.loans_age(bank=bank, as_of=as_of) >= 1
        assert lending.loans_age(bank=bank, as_of=as_of) >= 1  # twice a day: same figures
        loan.refresh_from_db()
        assert (loan.status, loan.days_overdue, loan.bucket) == (LoanStatus.OVERDUE, 40, "M2")
        first = ScheduleLine.objects.get(loan=loan, seq=1)
        penalty = calc.day_interest(first.principal, D("0.0435") * D("1.5"), 40)
        assert first.penalty_accrued == penalty
        with pytest.raises(ValidationError):  # a write-off says why
            lending.loan_write_off(bank=bank, loan=Loan.objects.get(pk=loan.pk),
                                   actor=province.a_admin, note="")
    with schema_context(bank.schema_name):
        lending.loan_write_off(bank=bank, loan=loan, actor=province.a_admin,
                               note="借款人失联")
        loan.refresh_from_db()
        assert loan.status == LoanStatus.WRITTEN_OFF
    write_off = Posting.objects.get(transaction__kind="loan_write_off",
                                    account__kind=AccountKind.LOAN_WRITE_OFF,
                                    account__bank=bank, transaction__reference__endswith=
                                    loan.number)
    assert write_off.amount == D("99.00")


# --- lost gateway answers and concurrent decisions -----------------------------------------


class _LostAnswer:
    """The card gateway as seen through a connection that drops after the request was
    sent: the charge happens, the answer never arrives (outside the platform, so it is
    simulated around the real client)."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    @property
    def v1(self):
        outer = self

        class V1:
            def __getattr__(self, name):
                return getattr(outer._client.v1, name)

            @property
            def payment_intents(self):
                real = outer._client.v1.payment_intents

                class Intents:
                    def __getattr__(self, name):
                        return getattr(real, name)

                    def create(self, *args, **kwargs):
                        import stripe

                        real.create(*args, **kwargs)
                        raise stripe.APIConnectionError("connection reset by peer")
                return Intents()
        return V1()


def test_a_repayment_whose_answer_was_lost_stays_pending_and_reconciliation_books_it(
        province, monkeypatch):
    from payments.gateway import stripe_client

    shop = market(province)
    lenient_policy(province.bank_a, province.a_admin)
    shopper = buyer(business=True)
    _history(province, shopper, shop, qty=10)
    scored_buyer(province.bank_a, shopper)
    checkout = place(shopper, province.bank_a, [(shop.sku_b, 2)])
    bank = province.bank_a
    with schema_context(bank.schema_name):
        loan = lending.checkout_finance(bank=bank, checkout=checkout, buyer=shopper).loan
        monkeypatch.setattr(payment_charges, "stripe_client",
                            lambda: _LostAnswer(stripe_client()))
        pending = lending.loan_repay_by_card(bank=bank, loan=loan, payer=shopper,
                                             card=GOOD_CARD, idempotency_key="lost-1")
        assert pending.status == "pending"
        with pytest.raises(ApplicationError):  # nobody pays twice meanwhile
            lending.loan_repay_by_card(bank=bank, loan=loan, payer=shopper, card=GOOD_CARD,
                                       idempotency_key="lost-2")
        with pytest.raises(ApplicationError):  # nor writes it off
            lending.loan_write_off(bank=bank, loan=loan, actor=province.a_admin, note="x")
        monkeypatch.undo()
        assert lending.loan_repayments_reconcile(bank=bank, older_than_seconds=0) == 1
        pending.refresh_from_db()
        loan.refresh_from_db()
        assert (pending.status, pending.amount, loan.status) == (
            "succeeded", D("136.02"), LoanStatus.REPAID)
        assert lending.loan_repayments_reconcile(bank=bank, older_than_seconds=0) == 0
    booked = Posting.objects.filter(transaction__kind="loan_repay",
                                    transaction__reference=f"{bank.pk}:card:u{shopper.pk}:lost-1")
    assert sum(p.amount for p in booked) == 0 and booked.count() == 3


def test_a_lost_answer_to_a_checkout_payment_is_found_by_reconciliation(province,
                                                                        monkeypatch):
    from payments import services as payment_services
    from payments.gateway import stripe_client
    from payments.models import PaymentStatus

    shop = market(province)
    checkout = place(province.shopper, province.bank_a, [(shop.sku_b, 1)])
    monkeypatch.setattr(checkout_payments, "stripe_client",
                        lambda: _LostAnswer(stripe_client()))
    with pytest.raises(ApplicationError) as lost:
        pay(checkout, key="lost-checkout-1")
    assert lost.value.code == "gateway_unavailable"
    payment = checkout.payments.get()
    assert payment.status == PaymentStatus.CREATED  # open, not failed: it may be charged
    monkeypatch.undo()
    payment_services.reconcile_payments(older_than_seconds=0)
    payment.refresh_from_db()
    checkout.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert checkout.status == CheckoutStatus.PAID


@pytest.mark.concurrency
def test_two_checkouts_at_once_cannot_spend_the_same_limit_twice(province):
    from tests.test_stock_concurrency import committed, run_concurrently

    bank = province.bank_a

    def setup():
        shop = market(province, stock_b=50)
        lenient_policy(bank, province.a_admin)
        shopper = buyer()
        _history(province, shopper, shop, qty=8)  # limit 1,000
        scored_buyer(bank, shopper)
        # Two checkouts of 8 x 68.00 = 544.00, each over half the limit.
        first = place(shopper, bank, [(shop.sku_b, 8)])
        second = place(shopper, bank, [(shop.sku_b, 8)])
        return shopper, first, second

    shopper, first, second = committed(setup)
    assert first.total + second.total > D("1000.00") >= first.total

    def finance(checkout):
        def job():
            with schema_context(bank.schema_name):
                return lending.checkout_finance(bank=bank, checkout=checkout, buyer=shopper,
                                                months=3).pk
        return job

    outcomes = run_concurrently([finance(first), finance(second)], sessions=2)
    assert sorted(ok for ok, _ in outcomes) == [False, True], outcomes
    failure = next(r for ok, r in outcomes if not ok)
    assert isinstance(failure, ApplicationError) and failure.code == "over_limit"
    with schema_context(bank.schema_name):
        credit = lending.credit_of(party=PartyKind.BUYER, party_id=shopper.pk)
        assert credit.outstanding <= credit.profile.limit


    def clean_up():  # the checkout left unpaid gives its stock back (tests count expiries)
        from orders.models import Checkout
        from payments import services as payments

        for checkout in Checkout.objects.filter(pk__in=[first.pk, second.pk],
                                                status=CheckoutStatus.PENDING_PAYMENT):
            payments.checkout_abandon(checkout=checkout, buyer=shopper)
    committed(clean_up)
