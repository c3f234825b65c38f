"""Settlement survives a crash and a race, with real worker processes.

A worker of our own (on a queue of its own, so the session's shared worker is untouched)
runs a settlement run over a few hundred committed orders and is killed with SIGKILL in
the middle; no order is half-settled; a fresh worker runs the same run again and it
completes, every order settled exactly once and nobody paid twice. Then two runs of
overlapping scopes (all banks and bank A), one of them executed twice at once, race in
three worker processes: still each order once and payouts equal to what was credited.

The data is committed (the workers are other processes) and belongs to merchants made
here; the ledger is append-only, so nothing is deleted afterwards: every order of these
merchants ends settled and paid out, and the checks look at these merchants only.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db.models import Count, Sum
from django.utils import timezone
from django_tenants.utils import schema_context

from admission.models import Dossier
from admission.services import dossier_set_settlement_account
from orders import services as orders
from orders.models import Checkout, CheckoutStatus, Fulfilment, Order, OrderLine, OrderStatus
from payments import settlement
from payments.models import (
    AccountKind,
    LedgerTransaction,
    PayoutLine,
    Posting,
    RunStatus,
    SettlementItem,
    SettlementRun,
)
from payments.services import Leg, ledger_account, ledger_post
from payments.tasks import run_settlement
from tests import unique
from tests.catalog_factories import approved_merchant
from tests.orders_factories import pay, place, product_with_sku

pytestmark = [pytest.mark.django_db, pytest.mark.worker]

K = AccountKind
ZERO = Decimal("0.00")
QUEUE = f"settlement-crash-{os.getpid()}"


# --- workers of our own ------------------------------------------------------------------


def _start_worker(concurrency: int = 1):
    from config.celery import app
    from config.embedded import ManagedProcess
    from conftest import TEST_TMP, _child_env

    name = f"crash-{unique.tag()}"
    worker = ManagedProcess(
        name=name,
        args=[sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
              "--concurrency", str(concurrency), "--queues", QUEUE, "--without-mingle",
              "--without-gossip", "--hostname", f"{name}@%h"],
        env=_child_env(), log_path=TEST_TMP / f"{name}.log").start(wait=False)
    node = f"{name}@{socket.gethostname()}"
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[node], timeout=0.5):
        if not worker.alive() or time.monotonic() > deadline:
            log = (TEST_TMP / f"{name}.log").read_text(errors="replace")[-3000:]
            worker.stop()
            pytest.fail(f"the settlement worker did not start:\n{log}")
    return worker


def _kill(worker) -> None:
    """kill -9 the worker: its main process and its pool's children, no clean-up."""
    os.killpg(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait(10)


def _wait_for_backends_to_go(django_db_blocker, seconds=10) -> None:
    """The killed worker's database sessions end when the server notices the socket
    closed; until then they may hold the row locks of the order being settled."""
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cur:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND state = 'idle in transaction'")
            if not cur.fetchone()[0]:
                return
            time.sleep(0.1)


# --- committed books ---------------------------------------------------------------------


def _set_account(merchant, number):
    with schema_context(merchant.bank.schema_name):
        dossier_set_settlement_account(dossier=Dossier.objects.get(merchant=merchant),
                                       actor=None, account_name=merchant.name,
                                       account_number=number)


def _complete(checkout, actor):
    for order in checkout.orders.all():
        if order.fulfilment == Fulfilment.DELIVERY:
            orders.order_ship(order=order, actor=actor, carrier="顺丰速运",
                              tracking_number=f"SF{order.pk:010d}")
        else:
            orders.order_ready_for_pickup(order=order, actor=actor)
            order.refresh_from_db()
            orders.pickup_verify(bank=order.pickup_branch.bank, code=order.pickup_code,
                                 actor=actor)
        orders.order_confirm_receipt(order=order, actor=checkout.buyer)


def _books(province, *, bulk: int) -> SimpleNamespace:
    """Merchants of bank A and bank B with settlement accounts, a few checkouts bought,
    paid by card and received through the real services, and ``bulk`` more completed
    orders written directly (their escrow captured by real ledger postings), all on bank
    A's storefront, so bank B's orders owe bank A a referral fee."""
    from accounts.services import user_register

    tag = unique.tag()
    pairs = [approved_merchant(bank, staff, name=f"{label}{tag}")
             for bank, staff, label in ((province.bank_a, province.a_manager, "结算甲一"),
                                        (province.bank_a, province.a_manager, "结算甲二"),
                                        (province.bank_b, province.b_manager, "结算乙一"),
                                        (province.bank_b, province.b_manager, "结算乙二"))]
    merchants = [m for m, _d in pairs]
    skus = [product_with_sku(m, name="结算测试米", price="30.10", stock=1000) for m in merchants]
    for n, merchant in enumerate(merchants):
        _set_account(merchant, f"62{merchant.bank_id:03d}{merchant.pk:010d}{n:04d}")
    buyer = user_register(username=f"crash-buyer-{tag}", password=province.password)

    for lines in ([(skus[0], 2), (skus[2], 1)], [(skus[1], 3), (skus[3], 2)]):
        checkout = place(buyer, province.bank_a, lines, fulfilment={
            merchants[2].pk: orders.FulfilmentChoice(Fulfilment.PICKUP, province.a_branch.pk)})
        pay(checkout)
        _complete(checkout, province.a_manager)

    now = timezone.now()
    done = now - timedelta(hours=1)
    from django.db import transaction

    with transaction.atomic():
        checkouts = []
        specs = []
        for i in range(bulk):
            merchant, sku = merchants[i % len(merchants)], skus[i % len(skus)]
            goods = Decimal(f"{10 + (i * 7) % 90}.{(i * 13) % 100:02d}")
            shipping = Decimal("8.00") if i % 3 else ZERO
            specs.append((merchant, sku, goods, shipping))
            checkouts.append(Checkout(
                number=f"X{tag}{i:05d}", buyer=buyer, storefront_bank=province.bank_a,
                status=CheckoutStatus.PAID, goods_total=goods, shipping_total=shipping,
                total=goods + shipping, reserved_until=done, paid_at=done))
        checkouts = Checkout.objects.bulk_create(checkouts)
        made = Order.objects.bulk_create([Order(
            checkout=c, number=f"{c.number}-1", buyer=buyer, merchant=m,
            merchant_bank_id=m.bank_id, referrer_bank=province.bank_a,
            is_cross_bank=m.bank_id != province.bank_a.pk, status=OrderStatus.COMPLETED,
            fulfilment=Fulfilment.DELIVERY, recipient_name="张三",
            recipient_phone="13700000001", address="甲县人民路 18 号", goods_total=g,
            shipping_fee=s, total=g + s, paid_at=done, shipped_at=done, received_at=done,
            completed_at=done) for c, (m, _sku, g, s) in zip(checkouts, specs, strict=True)])
        OrderLine.objects.bulk_create([OrderLine(
            order=o, sku=sku, product_name="结算测试米", spec="5斤装", unit="箱", quantity=1,
            unit_price=g, line_total=g) for o, (_m, sku, g, _s) in zip(made, specs,
                                                                        strict=True)])
        for start in range(0, len(made), 50):
            legs = []
            for order in made[start:start + 50]:
                legs += [Leg(ledger_account(kind=K.CARD_CLEARING, bank_id=order.merchant_bank_id),
                             order.total, order),
                         Leg(ledger_account(kind=K.ESCROW, bank_id=order.merchant_bank_id,
                                            merchant_id=order.merchant_id), -order.total, order)]
            ledger_post(kind="capture", reference=f"bulk-{tag}-{start}", legs=legs,
                        memo="orders written in bulk for the settlement crash test")
    mine = Order.objects.filter(merchant__in=merchants)
    assert mine.filter(status=OrderStatus.COMPLETED).count() == bulk + 4
    return SimpleNamespace(merchants=merchants, orders=mine, total=mine.count())


# --- what must hold ----------------------------------------------------------------------


def _settled_ids(books) -> set[int]:
    return set(SettlementItem.objects.filter(order__in=books.orders)
               .values_list("order_id", flat=True))


def _assert_nothing_half_settled(books) -> set[int]:
    """Every settled order has its item, its escrow release and (cross-bank) its referral
    fee; no order has any of them without the others, and none has two."""
    items = _settled_ids(books)
    settle_refs = list(LedgerTransaction.objects.filter(
        kind="settle", postings__order__in=books.orders).values_list(
        "reference", flat=True).distinct())
    assert len(settle_refs) == len(set(settle_refs))
    assert {int(r.split(":")[1]) for r in settle_refs} == items
    cross = set(books.orders.filter(is_cross_bank=True).values_list("pk", flat=True))
    fee_refs = {int(r.split(":")[1]) for r in LedgerTransaction.objects.filter(
        kind="referral_fee", postings__order__in=books.orders).values_list(
        "reference", flat=True)}
    assert fee_refs == items & cross
    for item in SettlementItem.objects.filter(order__in=books.orders):
        released = Posting.objects.filter(order=item.order_id, transaction__kind="settle",
                                          account__kind=K.ESCROW).aggregate(t=Sum("amount"))
        assert released["t"] == item.released
    # Whatever is not settled still sits whole in escrow.
    for merchant in books.merchants:
        unsettled = books.orders.filter(merchant=merchant).exclude(pk__in=items)
        held = -(Posting.objects.filter(account__kind=K.ESCROW, account__merchant=merchant)
                 .aggregate(t=Sum("amount"))["t"] or ZERO)
        assert held == (unsettled.aggregate(t=Sum("total"))["t"] or ZERO)
    return items


def _assert_settled_once_and_paid_once(books, province) -> None:
    assert _assert_nothing_half_settled(books) == set(books.orders.values_list("pk", flat=True))
    assert not (SettlementItem.objects.filter(order__in=books.orders).values("order")
                .annotate(n=Count("pk")).filter(n__gt=1).exists())
    for merchant in books.merchants:
        credited = SettlementItem.objects.filter(merchant=merchant).aggregate(
            t=Sum("merchant_credit"))["t"]
        lines = PayoutLine.objects.filter(merchant=merchant)
        assert credited > 0
        assert lines.aggregate(t=Sum("amount"))["t"] == credited, merchant
        assert settlement.payable_balances(bank=merchant.bank).get(merchant.pk) == ZERO
        assert -(Posting.objects.filter(account__kind=K.MERCHANT_PAYABLE,
                                        account__merchant=merchant,
                                        transaction__kind="settle")
                 .aggregate(t=Sum("amount"))["t"]) == credited
    for bank in (province.bank_a, province.bank_b):
        report = settlement.reconciliation(bank=bank)
        assert report["ok"], report


def _finish(run_id: int, timeout: int = 180) -> SettlementRun:
    result = run_settlement.apply_async(args=[run_id], queue=QUEUE)
    outcome = result.get(timeout=timeout)
    assert outcome["status"] == RunStatus.COMPLETED
    return SettlementRun.objects.get(pk=run_id)


# --- the scenarios (module fixtures: committed, before any test transaction) -------------


@pytest.fixture(scope="module")
def crash(province, django_db_blocker):
    """Kill the worker in the middle of a run, look at the books, run it again."""
    with django_db_blocker.unblock():
        books = _books(province, bulk=400)
        worker = _start_worker()
        try:
            run = settlement.settlement_run_start(cutoff=timezone.now())
            run_settlement.apply_async(args=[run.pk], queue=QUEUE)
            deadline = time.monotonic() + 120
            while len(_settled_ids(books)) < 25:
                assert time.monotonic() < deadline, "the worker settled nothing"
                assert worker.alive()
                time.sleep(0.01)
            _kill(worker)
        finally:
            worker.stop()
        _wait_for_backends_to_go(django_db_blocker)
        run.refresh_from_db()
        after_kill = SimpleNamespace(settled=_assert_nothing_half_settled(books),
                                     status=run.status, batches=run.batches.count(),
                                     orders_done=run.orders_done, items=run.items.count())

        fresh = _start_worker()
        try:
            resumed = _finish(run.pk)
            lines = PayoutLine.objects.filter(merchant__in=books.merchants).count()
            # Run again, the same run or a new one: nothing more is settled or paid.
            _finish(run.pk)
            again = _finish(settlement.settlement_run_start(cutoff=timezone.now()).pk)
        finally:
            fresh.stop()
        return SimpleNamespace(books=books, after_kill=after_kill, run=resumed, again=again,
                               lines=lines)


@pytest.fixture(scope="module")
def race(province, django_db_blocker, crash):
    """Bank A's run and the all-banks run (twice) at once, in three worker processes."""
    with django_db_blocker.unblock():
        books = _books(province, bulk=200)
        run_all = settlement.settlement_run_start(cutoff=timezone.now())
        run_a = settlement.settlement_run_start(bank=province.bank_a, cutoff=timezone.now())
        worker = _start_worker(concurrency=3)
        try:
            results = [run_settlement.apply_async(args=[run_id], queue=QUEUE)
                       for run_id in (run_all.pk, run_a.pk, run_all.pk)]
            outcomes = [r.get(timeout=180) for r in results]
        finally:
            worker.stop()
        return SimpleNamespace(books=books, run_all=run_all, run_a=run_a, outcomes=outcomes)


# --- the tests ---------------------------------------------------------------------------


def test_a_worker_killed_mid_run_leaves_no_order_half_settled(crash):
    after = crash.after_kill
    assert 25 <= len(after.settled) < crash.books.total, "the run finished before the kill"
    assert after.status == RunStatus.RUNNING  # nobody was left to say otherwise
    assert after.batches == 0
    # The progress shown is what was committed: each order counted with its settlement.
    assert after.orders_done == after.items >= 25


def test_the_killed_run_run_again_completes_settling_each_order_once_paying_once(
        crash, province):
    run = crash.run
    assert run.status == RunStatus.COMPLETED
    assert all(r["ok"] for r in run.reconciliation.values()), run.reconciliation
    # The items made before the kill and after it are of the same run, one per order.
    assert SettlementItem.objects.filter(order__in=crash.books.orders, run=run).count() == \
        crash.books.total
    assert run.orders_done == run.items.count()
    _assert_settled_once_and_paid_once(crash.books, province)
    assert crash.again.items.count() == 0
    assert PayoutLine.objects.filter(merchant__in=crash.books.merchants).count() == \
        crash.lines == len(crash.books.merchants)


def test_runs_racing_in_several_workers_settle_each_order_once_and_pay_once(race,
                                                                           province):
    assert [o["status"] for o in race.outcomes] == [RunStatus.COMPLETED] * 3
    _assert_settled_once_and_paid_once(race.books, province)
    runs = set(SettlementItem.objects.filter(order__in=race.books.orders)
               .values_list("run_id", flat=True))
    assert runs <= {race.run_all.pk, race.run_a.pk}
    # Bank B's orders can only have been settled by the all-banks run.
    assert not SettlementItem.objects.filter(order__in=race.books.orders, run=race.run_a,
                                             bank=province.bank_b).exists()
