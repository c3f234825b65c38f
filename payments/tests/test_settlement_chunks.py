"""Settlement in chunks gives exactly what settling order by order gave.

The same generated books (bank A's and bank B's merchants, cross-bank orders with
referral fees, refunds before settlement, financing repaid first, clawbacks carried
forward, orders not due) are settled twice, inside the test's transaction: first order
by order with ``settle_order`` (one ``ledger_post`` per movement, the way runs settled
before ``settle_chunk``), rolled back, then by ``settlement_run_execute`` in chunks. The
ids and clock that end up in a payout file are set to the same values before each, so
the payout files must be equal byte for byte, and so must the settlement items, the
ledger's sum per account and transaction kind, and the reconciliation.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django_tenants.utils import schema_context

from admission.models import Dossier
from admission.services import dossier_set_settlement_account
from banks.models import Bank
from orders.models import Checkout, CheckoutStatus, Fulfilment, Order, OrderStatus
from payments import interfaces, settlement
from payments.models import AccountKind, Posting, SettlementItem, SettlementRun
from payments.services import Leg, ledger_account, ledger_post
from tests import unique
from tests.catalog_factories import approved_merchant

pytestmark = pytest.mark.django_db

K = AccountKind
ZERO = Decimal("0.00")


class Financing:
    """A stand-in repayment provider: the financing of the orders made here (principal,
    interest), asked about through ``candidates`` like lending's provider."""

    def __init__(self):
        self.due: dict[int, tuple[Decimal, Decimal]] = {}
        self.asked: list[int] = []

    def candidates(self, orders):
        return {o.pk for o in orders if o.pk in self.due}

    def __call__(self, order, available):
        self.asked.append(order.pk)
        principal, interest = self.due.get(order.pk, (ZERO, ZERO))
        principal = min(principal, available)
        interest = min(interest, available - principal)
        if principal + interest <= 0:
            return []
        return [interfaces.Repayment(lender_bank_id=order.merchant_bank_id,
                                     principal=principal, interest=interest,
                                     reference=f"loan-of-{order.number}")]


@pytest.fixture
def financing():
    provider = Financing()
    interfaces.register_repayment_provider(provider, candidates=provider.candidates)
    yield provider
    interfaces._providers.remove(provider)
    interfaces._candidates.pop(provider, None)


def _books(province, financing, n=240, seed=7) -> SimpleNamespace:
    rnd = random.Random(seed)
    tag = unique.tag()
    merchants = []
    pairs = [(province.bank_a, province.a_manager), (province.bank_b, province.b_manager)]
    for bank, staff in pairs * 2:
        merchant, _dossier = approved_merchant(bank, staff, name=f"分块结算{tag}{len(merchants)}")
        merchants.append(merchant)
    # Three of the four have a settlement account (the fourth's money stays payable).
    for merchant in merchants[:3]:
        with schema_context(merchant.bank.schema_name):
            dossier_set_settlement_account(
                dossier=Dossier.objects.get(merchant=merchant), actor=None,
                account_name=merchant.name, account_number=f"62{merchant.pk:012d}")
    buyer = province.shopper
    done = timezone.now() - timedelta(hours=2)
    specs = []
    for _i in range(n):
        merchant = merchants[rnd.randrange(4)]
        storefront = rnd.choice([province.bank_a, province.bank_b])
        goods = Decimal(rnd.randrange(100, 40000)) / 100
        shipping = rnd.choice([ZERO, Decimal("8.00")])
        status = OrderStatus.COMPLETED if rnd.random() < 0.9 else OrderStatus.SHIPPED
        completed = done if rnd.random() < 0.95 else timezone.now() + timedelta(hours=1)
        refunded = (quantize(goods * Decimal(rnd.choice(["0.1", "0.5", "1"])))
                    if rnd.random() < 0.1 else ZERO)
        specs.append((merchant, storefront, goods, shipping, status, completed, refunded))
    checkouts = Checkout.objects.bulk_create([Checkout(
        number=f"Q{tag}{i:05d}", buyer=buyer, storefront_bank=sf, status=CheckoutStatus.PAID,
        goods_total=g, shipping_total=s, total=g + s, reserved_until=done, paid_at=done)
        for i, (_m, sf, g, s, _st, _c, _r) in enumerate(specs)])
    made = Order.objects.bulk_create([Order(
        checkout=c, number=f"{c.number}-1", buyer=buyer, merchant=m,
        merchant_bank_id=m.bank_id, referrer_bank=sf, is_cross_bank=m.bank_id != sf.pk,
        status=st, fulfilment=Fulfilment.DELIVERY, recipient_name="张三",
        recipient_phone="13700000001", address="甲县人民路 18 号", goods_total=g,
        shipping_fee=s, total=g + s, refunded_total=r, paid_at=done, shipped_at=done,
        received_at=done if st == OrderStatus.COMPLETED else None,
        completed_at=at if st == OrderStatus.COMPLETED else None)
        for c, (m, sf, g, s, st, at, r) in zip(checkouts, specs, strict=True)])
    for order in made:
        bank = order.merchant_bank_id
        clearing = ledger_account(kind=K.CARD_CLEARING, bank_id=bank)
        escrow = ledger_account(kind=K.ESCROW, bank_id=bank, merchant_id=order.merchant_id)
        ledger_post(kind="capture", reference=f"chunks-{order.pk}",
                    legs=[Leg(clearing, order.total, order), Leg(escrow, -order.total, order)])
        if order.refunded_total:
            ledger_post(kind="refund", reference=f"chunks-{order.pk}", legs=[
                Leg(escrow, order.refunded_total, order),
                Leg(clearing, -order.refunded_total, order)])
        if rnd.random() < 0.2:  # financed: principal, interest, sometimes more than released
            principal = quantize(order.total * Decimal(rnd.choice(["0.3", "0.8", "1.5"])))
            financing.due[order.pk] = (principal, Decimal(rnd.randrange(0, 900)) / 100)
    # An earlier clawback: merchant 1 owes its bank 30.00 before this run.
    m = merchants[1]
    ledger_post(kind="clawback", reference=f"chunks-{tag}", legs=[
        Leg(ledger_account(kind=K.MERCHANT_PAYABLE, bank_id=m.bank_id, merchant_id=m.pk),
            Decimal("30.00")),
        Leg(ledger_account(kind=K.CARD_CLEARING, bank_id=m.bank_id), Decimal("-30.00"))])
    return SimpleNamespace(merchants=merchants, orders=made)


def quantize(amount: Decimal) -> Decimal:
    from core.money import quantize_money

    return quantize_money(amount)


def _settle_order_by_order(run: SettlementRun) -> None:
    """The run as it was executed before chunks: one order per transaction."""
    accounts: dict = {}
    for order_id in list(settlement.settleable_orders(run).order_by("pk")
                         .values_list("pk", flat=True)):
        settlement.settle_order(run=run, order_id=order_id, accounts=accounts)
    banks = Bank.objects.filter(is_active=True).order_by("pk")
    for bank in banks:
        settlement.payout_batch_build(run=run, bank=bank)
    report = {str(bank.pk): settlement.reconciliation(bank=bank, run=run) for bank in banks}
    SettlementRun.objects.filter(pk=run.pk).update(status="completed", reconciliation=report,
                                                   orders_done=run.items.count())


def _outcome(run_id: int) -> dict:
    run = SettlementRun.objects.get(pk=run_id)
    ledger = defaultdict(lambda: ZERO)
    for row in (Posting.objects.values("account__kind", "account__bank_id",
                                       "account__merchant_id", "account__counterparty_id",
                                       "transaction__kind").annotate(t=Sum("amount"))):
        ledger[tuple(row[k] for k in ("account__kind", "account__bank_id",
                                      "account__merchant_id", "account__counterparty_id",
                                      "transaction__kind"))] += row["t"]
    return {
        "run": (run.pk, run.status, run.orders_done, run.reconciliation),
        "files": [(b.bank_id, b.pk, b.file_name, b.file_content, b.checksum, b.total,
                   b.line_count) for b in run.batches.order_by("bank_id")],
        "items": sorted(SettlementItem.objects.filter(run=run).values_list(
            "order_id", "merchant_id", "bank_id", "released", "repaid", "merchant_credit",
            "referral_fee", "referrer_bank_id")),
        "ledger": dict(ledger),
        "transactions": sorted(Posting.objects.filter(transaction__reference__startswith="order:")
                               .values_list("transaction__kind", "transaction__reference",
                                            "transaction__memo", "account__kind", "amount",
                                            "order_id")),
    }


def _sequence_values() -> dict[str, int]:
    with connection.cursor() as cur:
        values = {}
        for table in ("payments_settlementrun", "payments_payoutbatch"):
            cur.execute("SELECT COALESCE(MAX(id), 0) + 1000 FROM " + table)
            values[table] = cur.fetchone()[0]
        return values


def _reset_sequences(values: dict[str, int]) -> None:
    with connection.cursor() as cur:
        for table, value in values.items():
            cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, value])


def test_chunks_settle_exactly_as_order_by_order_did(province, financing, settings,
                                                     monkeypatch):
    settings.SETTLEMENT_CHUNK = 37  # several chunks, the last one short
    books = _books(province, financing)
    moment = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: moment)
    sequences = _sequence_values()
    due_before = dict(financing.due)

    with transaction.atomic():
        _reset_sequences(sequences)
        run = settlement.settlement_run_start(cutoff=moment)
        _settle_order_by_order(run)
        before = _outcome(run.pk)
        transaction.set_rollback(True)
    asked_before, financing.asked = financing.asked, []

    _reset_sequences(sequences)
    run = settlement.settlement_run_start(cutoff=moment)
    run = settlement.settlement_run_execute(run.pk)
    after = _outcome(run.pk)

    assert financing.due == due_before
    due = set(Order.objects.filter(pk__in=[o.pk for o in books.orders],
                                   status=OrderStatus.COMPLETED, completed_at__lte=moment)
              .values_list("pk", flat=True))
    mine = {i[0] for i in after["items"]} & {o.pk for o in books.orders}
    assert mine == due and len(due) > 150
    assert any(i[4] > 0 for i in after["items"]) and any(i[6] > 0 for i in after["items"])
    # Order by order, the provider was asked about every order; in chunks, only about the
    # financed ones (its candidates), in the same order.
    assert len(asked_before) > 2 * len(financing.asked) > 0
    assert financing.asked == [pk for pk in asked_before if pk in financing.due]
    assert after["files"] and [f[3] for f in after["files"]] == [f[3] for f in before["files"]]
    assert after["files"] == before["files"]
    assert after["items"] == before["items"]
    assert after["ledger"] == before["ledger"]
    assert after["transactions"] == before["transactions"]
    assert after["run"] == before["run"]
    assert all(r["ok"] for r in run.reconciliation.values()), run.reconciliation
    # The merchant that had been clawed back is paid what it earned less the 30.00.
    owed = settlement.payable_balances(bank=books.merchants[1].bank)
    assert owed.get(books.merchants[1].pk, ZERO) == ZERO


def test_a_chunk_counts_its_orders_in_its_own_transaction(province, financing, settings):
    settings.SETTLEMENT_CHUNK = 1000
    books = _books(province, financing, n=60, seed=11)
    run = settlement.settlement_run_start(cutoff=timezone.now())
    ids = sorted(o.pk for o in books.orders)
    last = settlement.settle_chunk(run=run, after=ids[0] - 1, size=10)
    run.refresh_from_db()
    assert run.orders_done == run.items.count() == SettlementItem.objects.filter(
        run=run).count()
    assert run.orders_done == 10 and last in ids
    # A chunk whose waterfall cannot be booked leaves nothing behind, count included.

    def greedy(order, available):
        return [interfaces.Repayment(order.merchant_bank_id, available + 1, ZERO, "x")]

    interfaces.register_repayment_provider(greedy)
    try:
        with pytest.raises(Exception, match="exceed its escrow"):
            settlement.settle_chunk(run=run, after=last, size=10)
    finally:
        interfaces._providers.remove(greedy)
    run.refresh_from_db()
    assert run.orders_done == run.items.count()
    assert not SettlementItem.objects.filter(order_id__gt=last, run=run).exists()
