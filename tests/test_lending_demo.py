"""The demo's lending: made by the real services on a trading history, with limits that
come from that history, loans in every state, and nothing added when loaded again."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.services import user_register
from banks.services import BranchSpec, bank_onboard, staff_grant
from fixtures.lending_demo import HISTORY_BUYERS, HISTORY_DAYS, load_demo_lending
from fixtures.orders_demo import ADDRESSES
from lending.models import (
    Application,
    ApplicationStatus,
    CreditProfile,
    Loan,
    LoanStatus,
    PartyKind,
    Product,
    ScoringRun,
)
from orders.models import Order, OrderStatus
from payments.selectors import trial_balance
from tests import unique
from tests.catalog_factories import approved_merchant
from tests.orders_factories import product_with_sku

pytestmark = pytest.mark.django_db


def _bank(tag: str):
    code = f"ld{tag}{unique.tag(4)}"
    bank = bank_onboard(code=code, name=f"{code}农商行", short_name=f"{code}行",
                        region="测试市", slogan="", brand_color="#1f7a4d",
                        branches=[BranchSpec(code="hq", name="营业部", county=f"{code}县",
                                             address="人民路 1 号", phone="0771-5200001",
                                             opening_hours="08:30-17:30")]).bank
    staff = {}
    for suffix, role in (("admin", "bank_admin"), ("manager", "account_manager"),
                         ("credit", "credit_officer"), ("credit2", "credit_officer")):
        user = user_register(username=f"{code}-{suffix}", password="Test@pass-2026")
        staff_grant(bank=bank, user=user, role=role)
        staff[suffix] = user
    for n, price in enumerate(("45.50", "68.00", "29.90", "120.00")):
        merchant, _ = approved_merchant(bank, staff["manager"], name=f"{code}商户{n}")
        product_with_sku(merchant, name=f"{code}好物{n}", price=price, stock=400)
    return bank


def test_demo_lending_gives_limits_from_the_history_and_loans_in_every_state(province):
    banks = [_bank("a"), _bank("b")]
    for username in ADDRESSES:
        user_register(username=username, password=province.password,
                      buyer_kind="business" if username == "buyer-chen" else "individual",
                      business_name="陈记农资商行" if username == "buyer-chen" else "")

    chen_id = User.objects.get(username="buyer-chen").pk
    first = load_demo_lending(banks=banks, password=province.password)
    assert first.skipped == "", first.skipped
    assert first.counts["history_checkouts"] == len(HISTORY_DAYS) * (len(banks) + 3)
    assert first.counts["history_buyers"] == len(HISTORY_BUYERS)
    assert trial_balance() == 0
    # The history is back-dated over the last year and completed.
    history = Order.objects.filter(buyer__username__in=[u for u, _n, _p in HISTORY_BUYERS],
                                   merchant__bank__in=banks, status=OrderStatus.COMPLETED)
    assert history.count() >= len(HISTORY_DAYS) * len(banks)
    oldest = min(history.values_list("paid_at", flat=True))
    assert (timezone.now() - oldest).days >= max(HISTORY_DAYS) - 1

    for bank in banks:
        with schema_context(bank.schema_name):
            assert ScoringRun.objects.get().status == ScoringRun.Status.COMPLETED
            flagship = CreditProfile.objects.filter(party=PartyKind.MERCHANT,
                                                    consented=True).order_by("merchant_id")[0]
            assert flagship.tier in "AB" and flagship.limit > 0
            # The merchant that did not consent has no score and no limit.
            assert CreditProfile.objects.filter(party=PartyKind.MERCHANT, consented=False,
                                                score__isnull=True, limit=0).count() == 1
            chen = CreditProfile.objects.get(party=PartyKind.BUYER, user_id=chen_id)
            assert chen.tier in "AB" and chen.limit > Decimal("0")
            statuses = set(Application.objects.values_list("status", flat=True))
            assert {ApplicationStatus.DISBURSED, ApplicationStatus.IN_REVIEW,
                    ApplicationStatus.AWAITING_SECOND} <= statuses
            loans = Loan.objects.all()
            assert set(loans.values_list("status", flat=True)) == {
                LoanStatus.ACTIVE, LoanStatus.OVERDUE, LoanStatus.REPAID,
                LoanStatus.WRITTEN_OFF}
            # Every kind but pledge loans, which the warehouse demo makes (its own test).
            assert set(loans.values_list("product", flat=True)) == \
                set(Product.values) - {Product.PLEDGE}
            overdue = loans.get(status=LoanStatus.OVERDUE)
            # 42 days after it was lent: the first instalment (a month later) is overdue.
            assert overdue.bucket == "M1" and 10 <= overdue.days_overdue <= 14
            assert overdue.lines.get(seq=1).penalty_accrued > 0
            financed = loans.get(product=Product.ORDER_FINANCING)
            assert financed.status == LoanStatus.ACTIVE
            assert Order.objects.get(pk=financed.order_id).status == OrderStatus.SHIPPED

    again = load_demo_lending(banks=banks, password=province.password)
    assert again.counts == {"history_buyers": 0}
