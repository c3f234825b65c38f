"""The demo's points, sharing and branch desks: made by the real services (rules and
offers in every bank; a shared order earning its sharer points, a redemption, an order
paid partly with points, an assisted order paid and picked up at the branch), the ledger
balanced, and nothing added when loaded again."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum
from django_tenants.utils import schema_context

from accounts.services import user_ensure
from banks.services import BranchSpec, bank_onboard, staff_grant
from core import sms
from fixtures.rewards_demo import (
    ELDER_PHONE,
    FRIEND,
    OFFER_CASH,
    OFFER_FLASH,
    OFFER_SEGMENT,
    SHARER,
    load_demo_rewards,
)
from orders.models import AssistedOrder, Checkout, CheckoutStatus, Order, OrderStatus
from payments.models import DeskPayment
from payments.selectors import trial_balance
from rewards import services as rewards
from rewards.models import EarningRule, MallOffer, PointsEntry, Redemption
from tests import unique
from tests.catalog_factories import approved_merchant
from tests.orders_factories import product_with_sku

pytestmark = pytest.mark.django_db


def _bank(tag: str):
    code = f"rd{tag}{unique.tag(4)}"
    bank = bank_onboard(code=code, name=f"{code}农商行", short_name=f"{code}行",
                        region="测试市", slogan="", brand_color="#1f7a4d",
                        branches=[BranchSpec(code="hq", name="营业部", county=f"{code}县",
                                             address="人民路 1 号", phone="0771-5200001",
                                             opening_hours="08:30-17:30")]).bank
    staff = {}
    for suffix, role in (("admin", "bank_admin"), ("manager", "account_manager")):
        user, _made = user_ensure(username=f"{code}-{suffix}", password="Test@pass-2026")
        staff_grant(bank=bank, user=user, role=role)
        staff[suffix] = user
    for n, price in enumerate(("45.50", "68.00", "29.90")):
        merchant, _ = approved_merchant(bank, staff["manager"], name=f"{code}商户{n}")
        product_with_sku(merchant, name=f"{code}好物{n}", price=price, stock=400)
    return bank


def test_demo_rewards_tell_the_whole_story_through_the_services(province, monkeypatch):
    # The test's transaction never commits: the confirmation code is texted at once
    # (by the same backend) instead of after a commit; points earned on completion come
    # from the programme's sweep, which the demo runs too.
    monkeypatch.setattr("orders.assisted.send_sms_on_commit", sms.send_sms)
    banks = [_bank("a"), _bank("b")]
    users = {name: user_ensure(username=name, password=province.password,
                               display_name=name)[0] for name in (SHARER, FRIEND)}
    sharer, friend = users[SHARER], users[FRIEND]

    first = load_demo_rewards(banks=banks)
    assert first.skipped == [], first.skipped
    assert trial_balance() == 0
    for bank in banks:
        with schema_context(bank.schema_name):
            _programme, rules = rewards.programme_of(bank)
            assert rules.max_order_share == Decimal("0.50")
            assert EarningRule.objects.count() == 1
            titles = list(MallOffer.objects.values_list("title", flat=True))
            assert {t.split(" · ")[0] for t in titles} == {OFFER_FLASH, OFFER_SEGMENT,
                                                           OFFER_CASH}
            assert MallOffer.objects.get(is_flash=True).quantity == 20
            assert MallOffer.objects.get(title__startswith=OFFER_SEGMENT).segments == [
                "villager"]
            assert MallOffer.objects.get(title__startswith=OFFER_CASH).cash_price > 0

    bank = banks[0]
    shared = Order.objects.get(sharer=sharer, buyer=friend, referrer_bank=bank)
    assert shared.status == OrderStatus.COMPLETED
    with schema_context(bank.schema_name):
        earned = PointsEntry.objects.get(user_id=sharer.pk, reference=f"share:{shared.pk}")
        assert earned.points == int(shared.total)  # 1 point per yuan shared
        assert rewards.balance(user_id=sharer.pk) == earned.points
        redemption = Redemption.objects.get(user_id=friend.pk)
        assert redemption.offer.title.startswith(OFFER_SEGMENT)
        assert redemption.status == "ready" and len(redemption.pickup_code) == 8
        total = PointsEntry.objects.filter(user_id=friend.pk).aggregate(s=Sum("points"))["s"]
        assert rewards.balance(user_id=friend.pk) == total > 0
    with schema_context(banks[1].schema_name):  # the other bank's programme: nothing
        assert rewards.balance(user_id=sharer.pk) == 0

    with_points = Checkout.objects.get(buyer=friend, storefront_bank=bank, points_used__gt=0)
    assert with_points.status == CheckoutStatus.PAID
    assert with_points.cash_due == with_points.total - with_points.points_value > 0

    assisted = AssistedOrder.objects.get(branch__bank=bank, customer_phone=ELDER_PHONE)
    assert assisted.confirmed_at is not None
    desk = DeskPayment.objects.get(checkout=assisted.checkout)
    assert desk.amount == assisted.checkout.cash_due and desk.branch_id == assisted.branch_id
    assert {o.status for o in assisted.checkout.orders.all()} == {OrderStatus.COMPLETED}
    assert {o.pickup_branch_id for o in assisted.checkout.orders.all()} == {assisted.branch_id}

    again = load_demo_rewards(banks=banks)
    assert again.skipped == [] and again.counts == {"points_entries_swept": 0}
    assert Order.objects.filter(sharer=sharer).count() == 1
    assert AssistedOrder.objects.filter(customer_phone=ELDER_PHONE).count() == 1
