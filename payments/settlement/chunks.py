"""Settling orders: each completed order's waterfall (escrow released, financing repaid
first, the rest to the merchant, the referral fee between the banks, the fee of the
partner platform that sold it), booked for a chunk
of orders in one transaction with bulk statements; and ``settle_order``, the order-by-order
reference its results are compared with."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Sum

from core.errors import ApplicationError
from core.money import quantize_money
from orders.models import RETURN_OPEN, Order, OrderStatus, ReturnRequest
from payments.interfaces import partner_fee_rates, repayment_candidates, repayments_for
from payments.models import (
    LedgerAccount,
    LedgerTransaction,
    Posting,
    SettlementHold,
    SettlementItem,
    SettlementRun,
)
from payments.services import Leg, ledger_account, ledger_post

from ._common import ZERO, K


def referral_fee_rate() -> Decimal:
    return Decimal(str(settings.SETTLEMENT_REFERRAL_FEE_RATE))


def settleable_orders(run: SettlementRun):
    # NOT EXISTS rather than a LEFT JOIN: a walk along the primary key stays one, however
    # many of the orders have been settled already.
    return _due_orders(run).filter(held_reason="")


def held_orders(run: SettlementRun):
    """The run's orders that would be settled but for a hold on their money (a recall):
    recorded in the run's holds with the reason, settled by a run after the hold is
    lifted."""
    return _due_orders(run).exclude(held_reason="")


def _due_orders(run: SettlementRun):
    qs = Order.objects.filter(status=OrderStatus.COMPLETED, completed_at__lte=run.cutoff).filter(
        ~Exists(SettlementItem.objects.filter(order_id=OuterRef("pk"))),
        ~Exists(_open_returns(OuterRef("pk"))))
    return qs.filter(merchant_bank_id=run.bank_id) if run.bank_id else qs


def _open_returns(order_id):
    """A return the shop has not closed holds the order's escrow (its refund comes out of
    it); the order is settled by the first run after the return is closed. ``order_id``:
    an id, an OuterRef, or a list of ids."""
    key = "order_id__in" if isinstance(order_id, list) else "order_id"
    return ReturnRequest.objects.filter(**{key: order_id}, status__in=RETURN_OPEN)


def partner_fee(order: Order, released: Decimal, rate: Decimal | None) -> Decimal:
    """The partner platform's fee on an order it sold: its rate of the goods total, of no
    more than what the order keeps after refunds (a refunded order earns no fee)."""
    if not rate or released <= 0:
        return ZERO
    return quantize_money(min(order.goods_total, released) * rate)


def _partner_fee_legs(bank_id: int, fee: Decimal) -> list[tuple[AccountKey, Decimal]]:
    # The merchant's bank pays the partner, as it pays a referring bank: not the merchant.
    return [((K.PARTNER_FEE_EXPENSE, bank_id, None, None), fee),
            ((K.PARTNER_FEE_PAYABLE, bank_id, None, None), -fee)]


MEMOS = {"settle": "settlement of {}", "referral_fee": "referral fee of {}",
         "partner_fee": "partner fee of {}"}


def record_holds(run: SettlementRun) -> int:
    """Write the run's holds (one per held order, with its reason) in one INSERT ...
    SELECT; run again, it adds only what is new."""
    sql, params = held_orders(run).values("pk", "held_reason").query.sql_with_params()
    table = SettlementHold._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (run_id, order_id, reason, created_at) "  # noqa: S608
            f"SELECT %s, h.id, h.reason, now() FROM ({sql}) AS h(id, reason) "
            "ON CONFLICT DO NOTHING", [run.pk, *params])
        return cursor.rowcount


def chunk_size() -> int:
    return max(1, int(settings.SETTLEMENT_CHUNK))


AccountKey = tuple[str, int, int | None, int | None]  # kind, bank, merchant, counterparty


@dataclass
class _Settled:
    """One order's waterfall: its item and the ledger transactions that go with it."""

    order: Order
    released: Decimal
    repaid: Decimal
    credit: Decimal
    fee: Decimal
    # (kind, legs as (account key, amount)), in the order they are booked.
    txns: list[tuple[str, list[tuple[AccountKey, Decimal]]]] = field(default_factory=list)


def _waterfall(order: Order, candidates, rates: dict[int, Decimal] | None = None
               ) -> _Settled:
    """What settling the order moves: escrow released, financing repaid first (through
    the repayment providers), the rest to the merchant, and the referral fee between the
    banks. Amounts only; nothing is written here except what a provider writes."""
    bank_id, merchant_id = order.merchant_bank_id, order.merchant_id
    released = order.total - order.refunded_total
    repaid = ZERO
    out = _Settled(order=order, released=released, repaid=ZERO, credit=ZERO, fee=ZERO)
    if released > 0:
        legs: list[tuple[AccountKey, Decimal]] = [
            ((K.ESCROW, bank_id, merchant_id, None), released)]
        for repayment in repayments_for(order, released, candidates):
            for kind, amount in ((K.LOAN_PRINCIPAL, repayment.principal),
                                 (K.LOAN_INTEREST, repayment.interest)):
                amount = quantize_money(amount)
                if amount > 0:
                    legs.append(((kind, repayment.lender_bank_id, None, None), -amount))
                    repaid += amount
        if repaid > released:
            raise ApplicationError(f"repayments of order {order.number} exceed its escrow")
        if released - repaid > 0:
            legs.append(((K.MERCHANT_PAYABLE, bank_id, merchant_id, None), -(released - repaid)))
        out.txns.append(("settle", legs))
    out.repaid, out.credit = repaid, released - repaid
    referrer = order.referrer_bank_id
    if order.is_cross_bank and referrer and released > 0:
        fee = quantize_money(released * referral_fee_rate())
        if fee > 0:
            out.fee = fee
            out.txns.append(("referral_fee", [
                ((K.REFERRAL_FEE_EXPENSE, bank_id, None, None), fee),
                ((K.REFERRAL_FEE_PAYABLE, bank_id, None, referrer), -fee),
                ((K.REFERRAL_FEE_RECEIVABLE, referrer, None, bank_id), fee),
                ((K.REFERRAL_FEE_INCOME, referrer, None, None), -fee),
            ]))
    partner = partner_fee(order, released, (rates or {}).get(order.pk))
    if partner > 0:
        out.txns.append(("partner_fee", _partner_fee_legs(bank_id, partner)))
    return out


def _accounts_for(keys: set[AccountKey], cache: dict) -> None:
    """Put every account of ``keys`` in ``cache``, created if missing: one query for the
    ones not cached yet (and an insert and a second query if some do not exist)."""
    missing = [k for k in keys if k not in cache]
    for attempt in range(2):
        if not missing:
            return
        match = Q()
        for kind, bank, merchant, counterparty in missing:
            match |= Q(kind=kind, bank_id=bank, merchant_id=merchant,
                       counterparty_id=counterparty)
        for account in LedgerAccount.objects.filter(match):
            cache[(account.kind, account.bank_id, account.merchant_id,
                   account.counterparty_id)] = account
        missing = [k for k in missing if k not in cache]
        if missing and attempt == 0:
            LedgerAccount.objects.bulk_create(
                [LedgerAccount(kind=k, bank_id=b, merchant_id=m, counterparty_id=c)
                 for k, b, m, c in missing], ignore_conflicts=True)
    if missing:
        raise RuntimeError(f"ledger accounts could not be created: {missing}")


ORDER_FIELDS = ("id", "number", "status", "merchant_id", "merchant_bank_id", "total",
                "goods_total", "refunded_total", "referrer_bank_id", "is_cross_bank",
                "checkout_id", "held_reason")


@transaction.atomic
def settle_chunk(*, run: SettlementRun, after: int, size: int | None = None,
                 accounts: dict | None = None) -> int | None:
    """Settle the run's next orders (at most ``size``, by id after ``after``) in one
    transaction, entirely or not at all; returns the last id looked at, None when no
    order is left. Each order is locked and settled once: its ``SettlementItem`` (unique)
    is written here with its ledger transactions and the run's progress."""
    cache = {} if accounts is None else accounts
    orders = list(settleable_orders(run).filter(pk__gt=after).order_by("pk")
                  .select_for_update().only(*ORDER_FIELDS)[:size or chunk_size()])
    if not orders:
        return None
    # Locked now; another run may have settled some of them while this one waited for
    # the locks, or a return opened on them (a fresh statement sees what it committed).
    done = set(SettlementItem.objects.filter(order_id__in=[o.pk for o in orders])
               .values_list("order_id", flat=True))
    done |= set(_open_returns([o.pk for o in orders]).values_list("order_id", flat=True))
    todo = [o for o in orders if o.pk not in done and o.status == OrderStatus.COMPLETED
            and not o.held_reason]
    if todo:
        _settle_all(run, todo, cache)
    return orders[-1].pk


def _settle_all(run: SettlementRun, orders: list[Order], cache: dict) -> None:
    candidates = repayment_candidates(orders)
    rates = partner_fee_rates(orders)
    settled = [_waterfall(order, candidates, rates) for order in orders]
    _accounts_for({key for s in settled for _kind, legs in s.txns for key, _a in legs}, cache)
    txns: list[LedgerTransaction] = []
    legs_of: list[tuple[Order, list[tuple[AccountKey, Decimal]]]] = []
    for s in settled:
        for kind, legs in s.txns:
            legs = [(key, quantize_money(amount)) for key, amount in legs]
            if len(legs) < 2 or any(amount == 0 for _k, amount in legs):
                raise ValueError("a ledger transaction has two or more non-zero postings")
            if sum(amount for _k, amount in legs) != 0:
                raise ValueError(f"postings of {kind}:order:{s.order.pk} do not sum to zero")
            memo = MEMOS[kind].format(s.order.number)
            txns.append(LedgerTransaction(kind=kind, reference=f"order:{s.order.pk}",
                                          memo=memo[:200]))
            legs_of.append((s.order, legs))
    txns = LedgerTransaction.objects.bulk_create(txns)
    Posting.objects.bulk_create([
        Posting(transaction=txn, account=cache[key], amount=amount, order_id=order.pk)
        for txn, (order, legs) in zip(txns, legs_of, strict=True) for key, amount in legs])
    SettlementItem.objects.bulk_create([SettlementItem(
        run=run, order_id=s.order.pk, merchant_id=s.order.merchant_id,
        bank_id=s.order.merchant_bank_id, released=s.released, repaid=s.repaid,
        merchant_credit=s.credit, referral_fee=s.fee,
        referrer_bank_id=s.order.referrer_bank_id if s.fee > 0 else None) for s in settled])
    # Every transaction of the chunk balances, checked before the commit (the database's
    # deferred trigger checks it again at the commit).
    if txns:
        unbalanced = (Posting.objects.filter(transaction_id__gte=min(t.pk for t in txns),
                                             transaction_id__lte=max(t.pk for t in txns))
                      .values("transaction_id").annotate(t=Sum("amount")).exclude(t=0)
                      .values_list("transaction_id", flat=True)[:1])
        if list(unbalanced):
            raise ValueError(f"ledger transaction {unbalanced[0]} does not balance")
    # The run's progress is counted in the transaction that settles the chunk: whatever
    # happens to the process later, the counter shows exactly what is committed.
    SettlementRun.objects.filter(pk=run.pk).update(orders_done=F("orders_done") + len(settled))


@transaction.atomic
def settle_order(*, run: SettlementRun, order_id: int,
                 accounts: dict[tuple, LedgerAccount] | None = None) -> SettlementItem | None:
    """Settle one order entirely, or not at all (None: not settleable any more), with a
    ``ledger_post`` per movement: the way orders were settled before ``settle_chunk``,
    kept as the reference its results are compared with. ``accounts``: a cache of
    ledger accounts the caller keeps across orders."""
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status != OrderStatus.COMPLETED or order.held_reason or SettlementItem.objects.filter(
            order=order).exists() or _open_returns(order.pk).exists():
        return None
    cache = {} if accounts is None else accounts

    def account(kind: str, bank: int, merchant: int | None = None,
                counterparty: int | None = None) -> LedgerAccount:
        key = (kind, bank, merchant, counterparty)
        if key not in cache:
            cache[key] = (_counterparty_account(kind, bank, counterparty) if counterparty
                          else ledger_account(kind=kind, bank_id=bank, merchant_id=merchant))
        return cache[key]

    bank_id, merchant_id = order.merchant_bank_id, order.merchant_id
    released = order.total - order.refunded_total
    repaid = ZERO
    legs: list[Leg] = []
    if released > 0:
        legs.append(Leg(account(K.ESCROW, bank_id, merchant_id), released, order))
        for repayment in repayments_for(order, released):
            for kind, amount in ((K.LOAN_PRINCIPAL, repayment.principal),
                                 (K.LOAN_INTEREST, repayment.interest)):
                amount = quantize_money(amount)
                if amount > 0:
                    legs.append(Leg(account(kind, repayment.lender_bank_id), -amount, order))
                    repaid += amount
        if repaid > released:
            raise ApplicationError(f"repayments of order {order.number} exceed its escrow")
        credit = released - repaid
        if credit > 0:
            legs.append(Leg(account(K.MERCHANT_PAYABLE, bank_id, merchant_id), -credit,
                            order))
        ledger_post(kind="settle", reference=f"order:{order.pk}", legs=legs,
                    memo=f"settlement of {order.number}")
    credit = released - repaid
    fee = ZERO
    referrer = order.referrer_bank_id
    if order.is_cross_bank and referrer and released > 0:
        fee = quantize_money(released * referral_fee_rate())
        if fee > 0:
            ledger_post(kind="referral_fee", reference=f"order:{order.pk}", legs=[
                Leg(account(K.REFERRAL_FEE_EXPENSE, bank_id), fee, order),
                Leg(account(K.REFERRAL_FEE_PAYABLE, bank_id, None, referrer), -fee, order),
                Leg(account(K.REFERRAL_FEE_RECEIVABLE, referrer, None, bank_id), fee, order),
                Leg(account(K.REFERRAL_FEE_INCOME, referrer), -fee, order),
            ], memo=f"referral fee of {order.number}")
    partner = partner_fee(order, released, partner_fee_rates([order]).get(order.pk))
    if partner > 0:
        ledger_post(kind="partner_fee", reference=f"order:{order.pk}", legs=[
            Leg(account(*key), amount, order)
            for key, amount in _partner_fee_legs(bank_id, partner)],
            memo=MEMOS["partner_fee"].format(order.number))
    item = SettlementItem.objects.create(
        run=run, order=order, merchant_id=merchant_id, bank_id=bank_id, released=released,
        repaid=repaid, merchant_credit=credit, referral_fee=fee,
        referrer_bank_id=referrer if fee > 0 else None)
    # The run's progress is counted in the transaction that settles the order: whatever
    # happens to the process later, the counter shows exactly what is committed.
    SettlementRun.objects.filter(pk=run.pk).update(orders_done=F("orders_done") + 1)
    return item


def _counterparty_account(kind: str, bank_id: int, counterparty_id: int) -> LedgerAccount:
    account = LedgerAccount.objects.filter(kind=kind, bank_id=bank_id, merchant=None,
                                           counterparty_id=counterparty_id).first()
    if account is None:
        LedgerAccount.objects.bulk_create(
            [LedgerAccount(kind=kind, bank_id=bank_id, counterparty_id=counterparty_id)],
            ignore_conflicts=True)
        account = LedgerAccount.objects.get(kind=kind, bank_id=bank_id, merchant=None,
                                            counterparty_id=counterparty_id)
    return account
