"""The credit score weighs borrowing experience, not a count of loans: ten tiny pay-later
loans taken and repaid at once leave the score where it was, while a real loan that ran a
month and was repaid on time raises it. Through the real checkout, financing, card
repayment and scoring services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from lending import scoring
from lending import services as lending
from lending.models import LendingPolicy, Loan, LoanStatus, PartyKind
from tests.lending_factories import buyer, lenient_policy, scored_buyer
from tests.orders_factories import GOOD_CARD, market, pay, place, product_with_sku

pytestmark = pytest.mark.django_db


def _pay_later(province, shopper, lines, key):
    bank = province.bank_a
    checkout = place(shopper, bank, lines)
    with schema_context(bank.schema_name):
        loan = lending.checkout_finance(bank=bank, checkout=checkout, buyer=shopper).loan
    return loan


def _repay(province, shopper, loan, key):
    bank = province.bank_a
    with schema_context(bank.schema_name):
        lending.loan_repay_by_card(bank=bank, loan=loan, payer=shopper, card=GOOD_CARD,
                                   idempotency_key=key)
        loan.refresh_from_db()
        assert loan.status == LoanStatus.REPAID
    return loan


def _rescore(province, shopper):
    bank = province.bank_a
    with schema_context(bank.schema_name):
        return lending.profile_compute(bank=bank, party=PartyKind.BUYER, party_id=shopper.pk)


def _points(profile, factor: str) -> int:
    return next(f["points"] for f in profile.factors if f["factor"] == factor)


def test_tiny_loans_repaid_at_once_do_not_inflate_the_score_a_real_one_does(province):
    shop = market(province, stock_a=200)
    cheap = product_with_sku(shop.merchant_a, name="甲县小米试吃装", price="10.00", stock=100)
    lenient_policy(province.bank_a, province.a_admin)
    shopper = buyer(business=True)
    for _n in range(6):  # six wholesale purchases, 10 x 39.00 each
        pay(place(shopper, province.bank_a, [(shop.sku_a, 10)]))
    before = scored_buyer(province.bank_a, shopper)
    assert _points(before, "repayment") == 90  # no loan yet: counts half

    for n in range(10):  # a ten-yuan loan, repaid at once, ten times
        loan = _pay_later(province, shopper, [(cheap, 1)], f"tiny-{n}")
        assert loan.principal < Decimal("20")
        _repay(province, shopper, loan, f"tiny-repay-{n}")
    gamed = _rescore(province, shopper)
    # Ten orders of 10 yuan count as two orders of 50: a few points, not a tier.
    assert abs(gamed.score - before.score) <= 12, (before.score, gamed.score)
    assert _points(gamed, "repayment") == _points(before, "repayment")
    assert gamed.figures["loans_closed"] == 10 and gamed.figures["loans_counted"] == 0
    assert gamed.tier == before.tier

    # A real loan: ten boxes on pay-later, carried for a month and repaid on time.
    loan = _pay_later(province, shopper, [(shop.sku_a, 10)], "real")
    loan = _repay(province, shopper, loan, "real-repay")
    with schema_context(province.bank_a.schema_name):
        Loan.objects.filter(pk=loan.pk).update(
            disbursed_at=timezone.now() - timedelta(days=35),
            closed_at=timezone.now() - timedelta(days=5))
    real = _rescore(province, shopper)
    assert real.figures["loans_counted"] == 1
    assert _points(real, "repayment") >= _points(before, "repayment") + 20
    assert real.score >= gamed.score + 20


def test_late_or_overdue_loans_still_weigh_against_the_party():
    policy = LendingPolicy()
    base = {"tenure_days": 400, "sales_3m": "3000", "sales_prev_3m": "3000",
            "sales_6m": "6000", "sales_12m": "12000", "gross_12m": "12000",
            "refunded_12m": "0", "orders_12m": 30, "completed_12m": 30, "failed_12m": 0,
            "disputed_12m": 0, "business": True, "loans_closed": 2,
            "loans_closed_on_time": 1, "loans_overdue_now": 0, "written_off": 0,
            "loans_counted": 2, "repaid_on_time_pd": "15000", "repaid_late_pd": "0"}

    def repayment(**changes):
        card = scoring.scorecard(PartyKind.BUYER, {**base, **changes}, policy)
        return next(f for f in card.factors if f["factor"] == "repayment")

    on_time = repayment()
    late = repayment(repaid_late_pd="15000")
    overdue = repayment(loans_overdue_now=1)
    assert on_time["points"] > 90 > late["points"] > overdue["points"] == 0
    # Small orders count by their value: 30 orders worth 8 orders of FULL_ORDER_VALUE.
    card = scoring.scorecard(PartyKind.BUYER, {**base, "order_weight_12m": "8.000000"},
                             policy)
    assert next(f for f in card.factors if f["factor"] == "orders")["points"] == round(
        100 * 8 / 24)
