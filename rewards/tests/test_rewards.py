"""A bank's points through the real services and database: earned when an order
completes (buyer and sharer), spent and expired oldest first, restored unless expired,
the ledger append-only with balance = sum of entries = sum of lots; the points mall's
quantity and per-customer limit under concurrency; one bank's points invisible to another."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django_tenants.utils import schema_context

from core.errors import ApplicationError
from orders import selectors as order_selectors
from orders import services as orders
from orders.models import CheckoutStatus, Order
from payments.models import AccountKind, Posting
from payments.selectors import trial_balance
from payments.tests.test_settlement import _complete
from rewards import services as rewards
from rewards.models import (
    EarningRule,
    EntryKind,
    MallOffer,
    OfferTake,
    PointsEntry,
    PointsLot,
    Redemption,
)
from rewards.services import ledger as points_ledger
from tests import unique
from tests.lending_factories import buyer
from tests.orders_factories import market, pay, place
from tests.test_stock_concurrency import committed, run_concurrently

pytestmark = pytest.mark.django_db


def _ledger_ok(user_id: int) -> int:
    total = PointsEntry.objects.filter(user_id=user_id).aggregate(s=Sum("points"))["s"] or 0
    lots = PointsLot.objects.filter(user_id=user_id).aggregate(s=Sum("remaining"))["s"] or 0
    assert total == lots == rewards.balance(user_id=user_id)
    return total


def _grant(bank, user, points, *, on=None, ref=None):
    with schema_context(bank.schema_name):
        return points_ledger._earn(bank=bank, user_id=user.pk, points=points,
                                   reference=ref or f"test:{unique.tag(8)}", note="test",
                                   on=on)


def test_points_are_earned_once_when_the_order_completes_with_a_category_bonus(
        province, django_capture_on_commit_callbacks):
    shop = market(province)
    shopper = buyer()
    bank = province.bank_a
    with schema_context(bank.schema_name):
        # Both test products are in one category: its bonus applies to both; another
        # category's bonus and a campaign that has ended apply to neither.
        EarningRule.objects.create(name="农产品双倍", category_id=shop.sku_a.product.category_id,
                                   multiplier=Decimal("2"))
        EarningRule.objects.create(name="别的品类", category_id=-1, multiplier=Decimal("5"))
        EarningRule.objects.create(name="已结束的活动", multiplier=Decimal("3"),
                                   ends_at=timezone.now() - timedelta(days=1))
    checkout = place(shopper, bank, [(shop.sku_a, 2), (shop.sku_b, 1)])
    pay(checkout)
    with django_capture_on_commit_callbacks(execute=True):
        _complete(checkout, province.a_manager)
    with schema_context(bank.schema_name):
        # Goods only, not shipping: (apples 91.00 + honey 68.00) x 2 = 318 points.
        assert rewards.balance(user_id=shopper.pk) == 318
        for order in checkout.orders.all():  # the sweep finds nothing left to earn
            assert rewards.points_earn_for_order(bank=bank, order=order) == []
        # Other test modules may have committed completed orders of this bank, which the
        # sweep rightly credits; these orders it leaves alone.
        rewards.points_earn_sweep(bank=bank)
        assert rewards.balance(user_id=shopper.pk) == 318
        references = [f"order:{o.pk}" for o in checkout.orders.all()]
        assert PointsEntry.objects.filter(reference__in=references).count() == 2
        _ledger_ok(shopper.pk)
    with schema_context(province.bank_b.schema_name):  # bank B's programme: nothing
        assert rewards.balance(user_id=shopper.pk) == 0


def test_a_shared_link_earns_the_sharer_points_on_the_order_it_brought(province):
    shop = market(province)
    sharer, friend = buyer(), buyer()
    bank = province.bank_a
    link = orders.share_link_for(sharer=sharer, bank=bank, product=shop.sku_b.product)
    orders.referral_touch(user=friend, bank=bank, share_code=link.code)
    checkout = place(friend, bank, [(shop.sku_b, 2)])  # 136.00
    pay(checkout)
    order = checkout.orders.get()
    assert order.sharer_id == sharer.pk
    _complete(checkout, province.b_manager)
    order.refresh_from_db()
    with schema_context(bank.schema_name):
        rewards.points_earn_for_order(bank=bank, order=order)
        # 136.00 x 0.5 points per yuan shared.
        assert rewards.balance(user_id=sharer.pk) == 68
        assert rewards.balance(user_id=friend.pk) == 136


def test_spending_and_expiry_take_the_oldest_points_first_and_restoring_skips_expired(
        province):
    bank, user = province.bank_a, buyer()
    today = timezone.localdate()
    old = _grant(bank, user, 100, on=today - timedelta(days=360))   # expires in ~5 days
    new = _grant(bank, user, 50, on=today)
    with schema_context(bank.schema_name):
        with transaction.atomic():
            spent = points_ledger._spend(user_id=user.pk, points=120, reference="t-spend", note="")
        lots = {lot.earned_id: lot.remaining for lot in PointsLot.objects.filter(user_id=user.pk)}
        assert lots == {old.pk: 0, new.pk: 30}
        with pytest.raises(ApplicationError), transaction.atomic():
            points_ledger._spend(user_id=user.pk, points=31, reference="t-too-much", note="")
        # After the old lot's date, a refund gives back only what came from live lots.
        later = today + timedelta(days=30)
        with transaction.atomic():
            back = points_ledger._restore(spent=spent, points=120, reference="t-back", as_of=later)
        assert back == 20
        assert rewards.balance(user_id=user.pk) == 50
        # Expiry: nothing of the new lot expires before its date; then all of it does.
        # (Other tests' points of this bank may expire too: look at this customer's.)
        rewards.points_expire(bank=bank, as_of=later)
        assert rewards.balance(user_id=user.pk) == 50
        expires = PointsLot.objects.get(earned=new).expires_on
        assert rewards.points_expire(bank=bank, as_of=expires + timedelta(days=1)) >= 50
        assert _ledger_ok(user.pk) == 0
        kinds = list(PointsEntry.objects.filter(user_id=user.pk).order_by("at", "pk")
                     .values_list("kind", "points"))
        assert kinds == [(EntryKind.EARNED, 100), (EntryKind.EARNED, 50),
                         (EntryKind.SPENT, -120), (EntryKind.RESTORED, 20),
                         (EntryKind.EXPIRED, -50)]


def test_the_points_ledger_is_append_only_in_the_database(province):
    bank, user = province.bank_a, buyer()
    entry = _grant(bank, user, 10)
    with schema_context(bank.schema_name):
        with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
            PointsEntry.objects.filter(pk=entry.pk).update(points=1000)
        with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
            PointsEntry.objects.filter(pk=entry.pk).delete()
        assert rewards.balance(user_id=user.pk) == 10


def _offer(bank, merchant, sku, **fields):
    now = timezone.now()
    with schema_context(bank.schema_name):
        return MallOffer.objects.create(**{
            "title": "槐花蜜兑换", "merchant_id": merchant.pk, "sku_id": sku.pk,
            "points_price": 100, "quantity": 5, "per_customer_limit": 1,
            "starts_at": now - timedelta(minutes=1), "ends_at": now + timedelta(hours=1),
            **fields})


def test_mall_redemption_checks_points_segment_and_limit_and_cancels_back(province):
    shop = market(province)
    bank, user = province.bank_a, buyer()
    offer = _offer(bank, shop.merchant_a, shop.sku_a, segments=["villager"])
    _grant(bank, user, 150)
    with schema_context(bank.schema_name):
        with pytest.raises(ApplicationError) as segment:
            rewards.offer_redeem(bank=bank, offer=offer, user=user, quantity=1,
                                 branch=province.a_branch)
        assert segment.value.code == "not_eligible"
        user.segment = "villager"
        user.save(update_fields=["segment"])
        with pytest.raises(ValidationError):  # another bank's branch
            rewards.offer_redeem(bank=bank, offer=offer, user=user, quantity=1,
                                 branch=province.b_branch)
        redemption = rewards.offer_redeem(bank=bank, offer=offer, user=user, quantity=1,
                                          branch=province.a_branch)
        assert (redemption.points, redemption.status) == (100, "ready")
        assert rewards.balance(user_id=user.pk) == 50
        with pytest.raises(ApplicationError) as limit:
            rewards.offer_redeem(bank=bank, offer=offer, user=user, quantity=1,
                                 branch=province.a_branch)
        assert limit.value.code == "limit_reached"
        rewards.redemption_cancel(bank=bank, redemption=redemption, actor=user)
        offer.refresh_from_db()
        assert (offer.redeemed, rewards.balance(user_id=user.pk)) == (0, 150)
        again = rewards.offer_redeem(bank=bank, offer=offer, user=user, quantity=1,
                                     branch=province.a_branch)
        with pytest.raises(ApplicationError):
            rewards.redemption_collect(bank=bank, code="00000000", staff=province.a_manager)
        done = rewards.redemption_collect(bank=bank, code=again.pickup_code,
                                          staff=province.a_manager)
        assert done.status == "collected"
        _ledger_ok(user.pk)


@pytest.mark.concurrency
def test_a_flash_redemption_never_gives_more_than_its_quantity_or_limit(province):
    bank = province.bank_a

    def setup():
        shop = market(province)
        users = [buyer() for _ in range(12)]
        offer = _offer(bank, shop.merchant_a, shop.sku_a, quantity=5, per_customer_limit=1,
                       is_flash=True)
        for u in users:
            _grant(bank, u, 300)
        return offer, users

    offer, users = committed(setup)

    def job(user):
        def redeem():
            with schema_context(bank.schema_name):
                return rewards.offer_redeem(bank=bank, offer=offer, user=user, quantity=1,
                                            branch=province.a_branch).pk
        return redeem

    # Each of 12 customers tries twice at the same moment: 24 attempts for 5 units.
    outcomes = run_concurrently([job(u) for u in users for _ in range(2)], sessions=12)
    won = [r for ok, r in outcomes if ok]
    lost = [r for ok, r in outcomes if not ok]
    assert len(won) == 5
    assert all(isinstance(e, ApplicationError) for e in lost), lost
    with schema_context(bank.schema_name):
        offer.refresh_from_db()
        assert offer.redeemed == 5
        takes = dict(OfferTake.objects.filter(offer=offer).values_list("user_id", "quantity"))
        assert max(takes.values()) == 1 and sum(takes.values()) == 5
        assert Redemption.objects.filter(offer=offer).count() == 5
        for u in users:  # every loser kept all their points
            held = Redemption.objects.filter(offer=offer, user_id=u.pk).count()
            assert rewards.balance(user_id=u.pk) == 300 - 100 * held
            _ledger_ok(u.pk)

    def cleanup():
        with schema_context(bank.schema_name):
            Redemption.objects.filter(offer=offer).delete()
            OfferTake.objects.filter(offer=offer).delete()
            MallOffer.objects.filter(pk=offer.pk).delete()
    committed(cleanup)


def test_one_banks_points_are_not_in_another_banks_schema(province):
    user = buyer()
    _grant(province.bank_a, user, 42, ref="isolation")
    with schema_context(province.bank_b.schema_name):
        assert not PointsEntry.objects.filter(reference="isolation").exists()
        assert rewards.balance(user_id=user.pk) == 0
    with schema_context(province.bank_a.schema_name):
        assert rewards.balance(user_id=user.pk) == 42
    assert connection.schema_name == "public"


def test_points_pay_part_of_a_checkout_within_the_cap_and_come_back_cash_first(
        province, client_on, api_on):
    shop = market(province)
    bank, shopper = province.bank_a, buyer()
    _grant(bank, shopper, 10000)  # worth 100.00 at 0.01 a point
    # Apples 2 x 45.50 from bank A, honey 68.00 from bank B, each + 8.00 delivery:
    # goods 159.00, shipping 16.00.
    checkout = place(shopper, bank, [(shop.sku_a, 2), (shop.sku_b, 1)])
    assert checkout.total == Decimal("175.00")
    with schema_context(bank.schema_name):
        quote = rewards.checkout_points_quote(bank=bank, checkout=checkout, buyer=shopper)
        # At most half the goods (79.50), never the delivery fee.
        assert (quote["cap"], quote["max_points"]) == (Decimal("79.50"), 7950)
        with pytest.raises(ValidationError):
            rewards.checkout_apply_points(bank=bank, checkout=checkout, buyer=shopper,
                                          points=7951)
        rewards.checkout_apply_points(bank=bank, checkout=checkout, buyer=shopper,
                                      points=5000)
        with pytest.raises(ApplicationError):  # once; remove to change
            rewards.checkout_apply_points(bank=bank, checkout=checkout, buyer=shopper,
                                          points=1)
    checkout.refresh_from_db()
    order_a, order_b = checkout.orders.order_by("merchant__bank__code")
    # 50.00 split by goods: 91/159 -> 28.61 (2861 points), the rest 21.39 (2139 points).
    assert (order_a.points_value, order_a.points_used) == (Decimal("28.61"), 2861)
    assert (order_b.points_value, order_b.points_used) == (Decimal("21.39"), 2139)
    payment = pay(checkout)
    assert payment.amount_fen == 12500  # 175.00 - 50.00 by card
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID
    assert trial_balance() == 0
    expense = Posting.objects.filter(transaction__checkout=checkout,
                                     account__kind=AccountKind.POINTS_EXPENSE)
    assert sum(p.amount for p in expense) == Decimal("50.00")
    assert all(p.account.bank_id == bank.pk for p in expense)

    # Refund all of bank B's order (76.00): the 54.61 paid by card first, then 21.39 of
    # points.
    refund = orders.refund_request(order=order_b, actor=shopper, amount="76.00", reason="坏了")
    refund = orders.refund_decide(refund=refund, actor=province.b_manager, approve=True)
    assert (refund.cash_amount, refund.points_amount, refund.points_restored) == (
        Decimal("54.61"), Decimal("21.39"), 2139)
    assert trial_balance() == 0
    with schema_context(bank.schema_name):
        assert rewards.balance(user_id=shopper.pk) == 10000 - 5000 + 2139
        _ledger_ok(shopper.pk)

    # The order page and its API say what was paid, what came back and how, and the net.
    money = order_selectors.order_money(Order.objects.get(pk=order_b.pk))
    assert (money.total, money.paid_points_value, money.paid_money) == (
        Decimal("76.00"), Decimal("21.39"), Decimal("54.61"))
    assert (money.refunded_money, money.refunded_points_value, money.points_restored,
            money.net_money) == (Decimal("54.61"), Decimal("21.39"), 2139, Decimal("0.00"))
    page = client_on(province.bank_b, shopper).get(f"/orders/{order_b.number}/")
    summary = page.content.decode().split('id="refund-summary"')[1].split("</dl>")[0]
    assert "54.61" in summary and "21.39" in summary and "2139" in summary
    body = api_on(province.bank_b, shopper).get(f"/api/v1/orders/{order_b.number}/").json()
    assert body["money"]["refunded_points_value"] == "21.39"
    assert body["money"]["net_money"] == "0.00"


def test_a_cancelled_checkout_gives_its_points_back(province):
    shop = market(province)
    bank, shopper = province.bank_a, buyer()
    _grant(bank, shopper, 3000)
    checkout = place(shopper, bank, [(shop.sku_a, 2)])
    with schema_context(bank.schema_name):
        rewards.checkout_apply_points(bank=bank, checkout=checkout, buyer=shopper, points=2000)
        assert rewards.balance(user_id=shopper.pk) == 1000
    orders.checkout_cancel(checkout=checkout, reason="不要了", actor=shopper)
    with schema_context(bank.schema_name):
        assert rewards.balance(user_id=shopper.pk) == 3000
        _ledger_ok(shopper.pk)
        # the history names the checkout by its number, not an internal reference
        restored = PointsEntry.objects.get(user_id=shopper.pk, kind=EntryKind.RESTORED)
        assert restored.note == checkout.number
    other = place(shopper, province.bank_b, [(shop.sku_a, 1)])
    with schema_context(bank.schema_name), pytest.raises(ApplicationError):
        # Bank A's points do not pay on bank B's storefront.
        rewards.checkout_apply_points(bank=bank, checkout=other, buyer=shopper, points=10)
