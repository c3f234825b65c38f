"""Warehouse receipt pledge loans through the real services, database, ledger and card
server: the loan-to-value from the platform's prices, officers' approval pledging the
units in the loan's transaction (refused when they are sold), repayments releasing units
in proportion, margin calls when the price falls, and bad input refused unchanged."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import schema_context

from catalog.models import Sku
from core.errors import ApplicationError
from lending import services as lending
from lending.models import (
    Application,
    ApplicationStatus,
    LendingEvent,
    Loan,
    LoanStatus,
    MarginCall,
    MarginCallStatus,
)
from lending.tasks import margin_check_bank
from payments import settlement
from payments.models import Posting, SettlementItem
from payments.tests.test_settlement import _complete
from tests.orders_factories import GOOD_CARD, market, pay, place
from warehouses import services as wh
from warehouses.models import Lot, ReceiptStatus

D = Decimal
pytestmark = pytest.mark.django_db


def owner(merchant):
    return merchant.members.get().user


@pytest.fixture
def pledgeable(province):
    """Merchant A's apples (list price 45.50): 50 units in an approved warehouse of bank
    A, a receipt for 30 of them."""
    shop = market(province, stock_a=0)
    store = wh.warehouse_register(bank=province.bank_a, actor=province.a_manager,
                                  name="甲县冷库", operator="合作社", address="甲县",
                                  capacity=1000, temperature_class="chilled")
    store = wh.warehouse_decide(warehouse=store, actor=province.a_admin, action="approve")
    lot = wh.lot_inbound(actor=owner(shop.merchant_a), merchant=shop.merchant_a,
                         warehouse=store, sku=shop.sku_a, quantity=50, grade="一级")
    receipt = wh.receipt_issue(bank=province.bank_a, actor=province.a_manager, lot=lot,
                               quantity=30)
    return shop, lot, receipt


def test_a_pledge_loan_pledges_on_approval_and_releases_as_it_is_repaid(province, pledgeable):
    shop, lot, receipt = pledgeable
    bank, member = province.bank_a, owner(shop.merchant_a)
    with schema_context(bank.schema_name):
        quote = lending.pledge_quote(bank=bank, receipt=receipt)
        # No sale in 30 days: the list price. 30 x 45.50 = 1365.00, 60 % = 819.00
        assert (quote["unit_price"], quote["value"], quote["max_amount"]) == (
            D("45.50"), D("1365.00"), D("819.00"))
        with pytest.raises(ValidationError):
            lending.pledge_apply(bank=bank, receipt=receipt, actor=member, amount="819.01")
        with pytest.raises(ApplicationError):  # not the holder
            lending.pledge_apply(bank=bank, receipt=receipt, actor=province.shopper)
        app = lending.pledge_apply(bank=bank, receipt=receipt, actor=member)
        assert (app.status, app.amount, app.months) == (ApplicationStatus.IN_REVIEW,
                                                        D("819.00"), 6)
        with pytest.raises(ApplicationError):
            lending.pledge_apply(bank=bank, receipt=receipt, actor=member)
        # Nothing is pledged until an officer approves.
        assert Lot.objects.get(pk=lot.pk).pledged == 0
        app = lending.application_decide(bank=bank, application=app, officer=province.a_credit,
                                         approve=True, note="货值核实")
        assert app.status == ApplicationStatus.DISBURSED
        loan = Loan.objects.get(application=app)
        assert (loan.receipt_id, loan.lines.count()) == (receipt.pk, 6)
    receipt.refresh_from_db()
    assert (receipt.status, receipt.pledged) == (ReceiptStatus.PLEDGED, 30)
    assert (Lot.objects.get(pk=lot.pk).pledged, Sku.objects.get(pk=shop.sku_a.pk).stock) == (
        30, 20)
    booked = Posting.objects.filter(transaction__kind="loan_disburse",
                                    transaction__reference=f"{bank.pk}:{loan.number}")
    assert booked.count() == 2 and sum(p.amount for p in booked) == 0

    # The first instalment repays a sixth of the principal less its interest share; the
    # units still pledged cover the unpaid share, rounded up: 30 x 683.xx / 819 -> 26.
    with schema_context(bank.schema_name):
        lending.loan_repay_by_card(bank=bank, loan=loan, payer=member, card=GOOD_CARD,
                                   idempotency_key="pledge-repay-1")
        first = loan.lines.get(seq=1)
        unpaid = D("819.00") - first.principal
    assert first.paid_at is not None and D("682.50") < unpaid < D("709.80")  # 26/30 of 819
    receipt.refresh_from_db()
    assert (receipt.status, receipt.pledged) == (ReceiptStatus.PLEDGED, 26)
    assert Sku.objects.get(pk=shop.sku_a.pk).stock == 24
    # The price falls: 26 units at 20.00 = 520.00, of which 75 % cover less than unpaid.
    Sku.objects.filter(pk=shop.sku_a.pk).update(price=D("20.00"))
    with schema_context(bank.schema_name):
        assert lending.pledge_margin_check(bank=bank) == 1
        assert margin_check_bank() == 0  # the daily task: one open call per loan
        call = MarginCall.objects.get(loan=loan)
        assert (call.status, call.value, call.unpaid) == ("open", D("520.00"), unpaid)
    Sku.objects.filter(pk=shop.sku_a.pk).update(price=D("45.50"))
    with schema_context(bank.schema_name):
        lending.pledge_margin_check(bank=bank)
        call.refresh_from_db()
        assert call.status == MarginCallStatus.CURED
        # The cure is on the loan's audit trail, by the platform.
        assert list(LendingEvent.objects.filter(loan=loan, action__startswith="margin_call")
                    .values_list("action", "from_status", "to_status", "actor_id")) == [
            ("margin_call_cure", "open", "cured", None)]
        lending.loan_repay_by_card(bank=bank, loan=loan, payer=member, card=GOOD_CARD,
                                   idempotency_key="pledge-repay-2", everything=True)
        loan.refresh_from_db()
        assert loan.status == LoanStatus.REPAID
    receipt.refresh_from_db()
    assert (receipt.status, receipt.pledged) == (ReceiptStatus.RELEASED, 0)
    assert Sku.objects.get(pk=shop.sku_a.pk).stock == 50


def test_approval_is_refused_when_the_units_were_sold_meanwhile(province, pledgeable):
    shop, lot, receipt = pledgeable
    bank = province.bank_a
    with schema_context(bank.schema_name):
        app = lending.pledge_apply(bank=bank, receipt=receipt, actor=owner(shop.merchant_a))
    pay(place(province.shopper, bank, [(shop.sku_a, 25)]))  # 25 of 50 sold
    with schema_context(bank.schema_name):
        with pytest.raises(ApplicationError) as exc:
            lending.application_decide(bank=bank, application=app, officer=province.a_credit,
                                       approve=True)
        assert exc.value.code == "reserved"
        assert Application.objects.get(pk=app.pk).status == ApplicationStatus.IN_REVIEW
        assert not Loan.objects.filter(application_id=app.pk).exists()
    receipt.refresh_from_db()
    assert (receipt.status, Lot.objects.get(pk=lot.pk).pledged) == (ReceiptStatus.VALID, 0)
    assert Sku.objects.get(pk=shop.sku_a.pk).stock == 25


def test_an_unapproved_warehouse_or_another_bank_cannot_take_the_pledge(province, pledgeable):
    shop, lot, receipt = pledgeable
    member = owner(shop.merchant_a)
    with schema_context(province.bank_b.schema_name), pytest.raises(ApplicationError):
        lending.pledge_apply(bank=province.bank_b, receipt=receipt, actor=member)
    wh.warehouse_decide(warehouse=lot.warehouse, actor=province.a_admin, action="suspend",
                        note="温控失灵")
    with schema_context(province.bank_a.schema_name):
        with pytest.raises(ApplicationError) as exc:
            lending.pledge_apply(bank=province.bank_a, receipt=receipt, actor=member)
        assert exc.value.code == "warehouse_not_approved"
        assert not Application.objects.filter(receipt_id=receipt.pk).exists()


def test_on_default_the_goods_sell_and_settlement_repays_the_loan_first(province,
                                                                       pledgeable):


    shop, lot, receipt = pledgeable
    bank, member = province.bank_a, owner(shop.merchant_a)
    with schema_context(bank.schema_name):
        app = lending.pledge_apply(bank=bank, receipt=receipt, actor=member, amount="300.00")
        app = lending.application_decide(bank=bank, application=app,
                                         officer=province.a_credit, approve=True)
        loan = Loan.objects.get(application=app)
        with pytest.raises(ApplicationError):  # not in default
            lending.pledge_collateral_sale(bank=bank, loan=loan, actor=province.a_credit,
                                           note="逾期")
        first = loan.lines.get(seq=1)
        lending.loans_age(bank=bank, as_of=first.due_date + timedelta(days=10))
        loan.refresh_from_db()
        assert loan.status == LoanStatus.OVERDUE
        with pytest.raises(ValidationError):
            lending.pledge_collateral_sale(bank=bank, loan=loan, actor=province.a_credit,
                                           note="")
        lending.pledge_collateral_sale(bank=bank, loan=loan, actor=province.a_credit,
                                       note="逾期未还，处置质押物")
        with pytest.raises(ApplicationError):  # once
            lending.pledge_collateral_sale(bank=bank, loan=loan, actor=province.a_credit,
                                           note="再次")
    receipt.refresh_from_db()
    assert (receipt.status, receipt.pledged) == (ReceiptStatus.RELEASED, 0)
    assert Sku.objects.get(pk=shop.sku_a.pk).stock == 50
    # 10 units sold (455.00): settlement pays the loan (300.00 and interest) first.
    checkout = place(province.shopper, bank, [(shop.sku_a, 10)])
    pay(checkout)
    _complete(checkout, member)
    settlement.settlement_run_execute(
        settlement.settlement_run_start(bank=bank, cutoff=timezone.now()).pk)
    item = SettlementItem.objects.get(order=checkout.orders.get())
    assert item.released == D("455.00") and item.repaid > D("300.00")
    assert item.merchant_credit == item.released - item.repaid
    with schema_context(bank.schema_name):
        loan.refresh_from_db()
        assert loan.status == LoanStatus.REPAID
        assert loan.events.filter(action="collateral_sale").exists()
