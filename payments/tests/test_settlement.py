"""Settlement through the real services, database and card server: escrow released per
order exactly once, referral fees between banks, payout batches and files, failed lines
paid again by the next run, clawbacks carried forward, reconciliation to the fen."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone
from django_tenants.utils import schema_context

from admission.models import Dossier
from admission.services import dossier_set_settlement_account
from orders import services as orders
from orders.models import OrderStatus
from payments import settlement
from payments.models import AccountKind, PayoutStatus, Posting, SettlementItem
from tests.orders_factories import market, pay, place

pytestmark = pytest.mark.django_db


def _complete(checkout, actor):
    for order in checkout.orders.all():
        if order.fulfilment == "delivery":
            orders.order_ship(order=order, actor=actor, carrier="顺丰速运",
                              tracking_number=f"SF{order.pk:010d}")
        else:
            orders.order_ready_for_pickup(order=order, actor=actor)
            order.refresh_from_db()
            orders.pickup_verify(bank=order.pickup_branch.bank, code=order.pickup_code,
                                 actor=actor)
        orders.order_confirm_receipt(order=order, actor=checkout.buyer)


def _account(bank, merchant, number):
    with schema_context(bank.schema_name):
        dossier = Dossier.objects.get(merchant=merchant)
        dossier_set_settlement_account(dossier=dossier, actor=None,
                                       account_name=merchant.name, account_number=number)


@pytest.fixture
def settled_world(province):
    shop = market(province)
    _account(province.bank_a, shop.merchant_a, "6230000000000000011")
    _account(province.bank_b, shop.merchant_b, "6231000000000000022")
    # On bank A's storefront: 2 x 45.50 (+8.00 delivery) from A, 1 x 68.00 from B.
    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 2), (shop.sku_b, 1)])
    pay(checkout)
    _complete(checkout, province.a_manager)
    return shop, checkout


def _run(bank=None):
    run = settlement.settlement_run_start(bank=bank, cutoff=timezone.now())
    return settlement.settlement_run_execute(run.pk)


def test_a_run_releases_escrow_credits_merchants_and_books_referral_fees(province,
                                                                          settled_world):
    shop, checkout = settled_world
    run = _run()
    items = {i.order.merchant_id: i for i in SettlementItem.objects.filter(
        order__checkout=checkout)}
    a, b = items[shop.merchant_a.pk], items[shop.merchant_b.pk]
    assert (a.released, a.merchant_credit, a.referral_fee) == (
        Decimal("99.00"), Decimal("99.00"), Decimal("0.00"))
    # Bank B's merchant sold through bank A's storefront (68.00 + 8.00 delivery): bank B
    # owes bank A 1 % of the 76.00 settled; the merchant is credited all of it.
    assert (b.released, b.merchant_credit, b.referral_fee, b.referrer_bank) == (
        Decimal("76.00"), Decimal("76.00"), Decimal("0.76"), province.bank_a)
    assert all(r["ok"] for r in run.reconciliation.values()), run.reconciliation

    # Payout files: one line per merchant, checksum over the records before the trailer.
    batch_b = run.batches.get(bank=province.bank_b)
    line = batch_b.lines.get(merchant=shop.merchant_b)
    assert line.amount == Decimal("76.00") and line.status == PayoutStatus.SENT
    content = batch_b.file_content.splitlines(keepends=True)
    assert content[-1].startswith(f"T,{batch_b.line_count},{batch_b.total:.2f},")
    assert hashlib.sha256("".join(content[:-1]).encode()).hexdigest() == batch_b.checksum
    assert "6231000000000000022" in batch_b.file_content

    # Running again pays no one twice and settles nothing twice.
    again = _run()
    assert not SettlementItem.objects.filter(run=again).exists()
    assert not again.batches.get(bank=province.bank_b).lines.exists()
    statement = settlement.referral_statement(year=timezone.localdate().year,
                                              month=timezone.localdate().month)
    pair = next(r for r in statement if {r["bank_a"], r["bank_b"]} == {province.bank_a,
                                                                        province.bank_b})
    owed_by_b = pair["a_owes_b"] if pair["bank_a"] == province.bank_b else pair["b_owes_a"]
    assert owed_by_b >= Decimal("0.76")


def test_a_failed_payout_is_paid_by_the_next_run_and_a_confirmed_one_leaves_clearing(
        province, settled_world):
    shop, _checkout = settled_world
    run = _run(province.bank_b)
    line = run.batches.get().lines.get(merchant=shop.merchant_b)
    settlement.payout_line_fail(line=line, reason="账户冻结")
    assert settlement.payable_balances(bank=province.bank_b)[shop.merchant_b.pk] == \
        Decimal("76.00")
    retry = _run(province.bank_b).batches.get().lines.get(merchant=shop.merchant_b)
    assert retry.amount == Decimal("76.00")
    settlement.payout_line_confirm(line=retry)
    report = settlement.reconciliation(bank=province.bank_b)
    assert report["ok"], report
    assert settlement.payable_balances(bank=province.bank_b)[shop.merchant_b.pk] == 0


def test_a_refund_after_settlement_is_clawed_back_and_carried_forward(province,
                                                                      settled_world):
    shop, checkout = settled_world
    run = _run(province.bank_b)
    settlement.payout_line_confirm(line=run.batches.get().lines.get())
    order_b = checkout.orders.get(merchant=shop.merchant_b)
    refund = orders.refund_request(order=order_b, actor=province.shopper, amount="20.00",
                                   reason="品质问题")
    orders.refund_decide(refund=refund, actor=province.b_manager, approve=True)
    order_b.refresh_from_db()
    assert order_b.status == OrderStatus.COMPLETED
    clawback = Posting.objects.filter(transaction__kind="clawback", order=order_b,
                                      account__kind=AccountKind.MERCHANT_PAYABLE)
    assert clawback.aggregate(t=Sum("amount"))["t"] == Decimal("20.00")
    # The merchant now owes 20.00: no payout line, the balance carried, books balanced.
    assert settlement.payable_balances(bank=province.bank_b)[shop.merchant_b.pk] == \
        Decimal("-20.00")
    assert not _run(province.bank_b).batches.get().lines.exists()
    assert settlement.reconciliation(bank=province.bank_b)["ok"]


def test_two_runs_of_the_same_scope_cannot_be_under_way_at_once(province):
    from core.errors import ApplicationError

    settlement.settlement_run_start(bank=province.bank_a)
    with pytest.raises(ApplicationError) as err:
        settlement.settlement_run_start(bank=province.bank_a)
    assert err.value.code == "run_in_progress"
