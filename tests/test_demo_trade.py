"""The demo's trade (shipping rules, flash sales, purchases in every state) is made by the
real services and payments at the local card server, and loading it twice adds nothing."""

import pytest
from django_tenants.utils import schema_context

from accounts.services import user_register
from admission.models import Dossier
from catalog.models import Merchant, MerchantStatus
from fixtures.messages_demo import load_demo_messages
from fixtures.orders_demo import ADDRESSES, load_demo_trade, settlement_account_number
from orders.models import Checkout, FlashSale, OrderDispute, OrderStatus
from payments.selectors import trial_balance
from tests.orders_factories import market, product_with_sku

pytestmark = pytest.mark.django_db


def test_demo_trade_covers_every_console_and_is_idempotent(province):
    shop = market(province, stock_a=200, stock_b=200)
    # The flash sales take one SKU per bank; the purchases need another.
    product_with_sku(shop.merchant_a, name="甲县脐橙", price="29.90", stock=100)
    product_with_sku(shop.merchant_b, name="乙县土蜂蜜", price="88.00", stock=100)
    for username in ADDRESSES:
        user_register(username=username, password=province.password)
    banks = [province.bank_a, province.bank_b]

    first = load_demo_trade(banks=banks)
    assert first.skipped == ""
    assert first.counts["checkouts"] == 4
    assert FlashSale.objects.filter(sku__product__merchant__bank__in=banks).count() == 2
    buyers = Checkout.objects.filter(buyer__username__in=ADDRESSES)
    statuses = sorted(o.status for c in buyers for o in c.orders.all())
    assert statuses == sorted([OrderStatus.SHIPPED, OrderStatus.READY_FOR_PICKUP,
                               OrderStatus.COMPLETED, OrderStatus.REFUND_REQUESTED,
                               OrderStatus.PENDING_PAYMENT])
    cross = [o for c in buyers for o in c.orders.all() if o.is_cross_bank]
    assert cross and all(o.referrer_bank_id != o.merchant_bank_id for o in cross)
    chen = buyers.get(buyer__username="buyer-chen").buyer
    assert chen.is_business_buyer
    assert trial_balance() == 0
    # Every approved merchant has a settlement account, so its payouts have a place to go.
    assert first.counts["settlement_accounts"] >= 2
    for bank in banks:
        approved = Merchant.objects.filter(bank=bank, status=MerchantStatus.APPROVED)
        with schema_context(bank.schema_name):
            dossiers = Dossier.objects.filter(merchant__in=list(approved))
            assert dossiers.count() == approved.count()
            assert not dossiers.filter(settlement_account_number="").exists()
            mine = dossiers.get(merchant__bank=bank, merchant__in=[shop.merchant_a,
                                                                    shop.merchant_b])
        assert len(mine.settlement_account_number) == 19
        assert mine.settlement_account_number == settlement_account_number(bank,
                                                                           mine.merchant)
        assert mine.settlement_account_name == mine.merchant.name

    again = load_demo_trade(banks=banks)
    assert again.counts == {"shipping_rules": 0, "flash_sales": 0,
                            "settlement_accounts": 0, "checkouts": 0}
    assert buyers.count() == 4

    # Ask the shop: one thread answered by the shop, one disputed and answered by the bank.
    threads = load_demo_messages()
    assert threads.counts == {"order_messages": 4, "disputes": 1}
    disputed = OrderDispute.objects.get(order__buyer__username="shopper-wang").order
    assert list(disputed.messages.values_list("side", flat=True)) == ["buyer", "bank"]
    assert load_demo_messages().counts == {"order_messages": 0, "disputes": 0}


def test_the_demo_days_orders_settle_in_one_run_with_a_payout_file_per_bank(province):
    """DESIGN's "done when" for settlement, on the demo's trade: one run, every bank a
    payout file, the reconciliation to the fen."""
    from django.utils import timezone

    from payments import settlement
    from payments.models import SettlementItem

    shop = market(province, stock_a=200, stock_b=200)
    product_with_sku(shop.merchant_a, name="甲县脐橙", price="29.90", stock=100)
    product_with_sku(shop.merchant_b, name="乙县土蜂蜜", price="88.00", stock=100)
    for username in ADDRESSES:
        user_register(username=username, password=province.password)
    banks = [province.bank_a, province.bank_b]
    load_demo_trade(banks=banks)
    completed = [o for c in Checkout.objects.filter(buyer__username__in=ADDRESSES)
                 for o in c.orders.all() if o.status == OrderStatus.COMPLETED]
    assert completed

    run = settlement.settlement_run_execute(
        settlement.settlement_run_start(cutoff=timezone.now()).pk)
    assert run.status == "completed"
    assert SettlementItem.objects.filter(order__in=completed, run=run).count() == \
        len(completed)
    for bank in banks:
        batch = run.batches.get(bank=bank)
        assert batch.file_name.endswith(".csv") and batch.file_content.startswith("H,")
        assert run.reconciliation[str(bank.pk)]["ok"], run.reconciliation[str(bank.pk)]
    paid = {line.merchant_id for b in run.batches.all() for line in b.lines.all()}
    assert {o.merchant_id for o in completed} <= paid
