"""Settlement: the services that move confirmed orders' money out of escrow.

For each completed order not yet settled, exactly once (the ``SettlementItem`` of an
order is unique), in chunks of orders (``SETTLEMENT_CHUNK``) each settled in one
transaction with bulk statements: release what is left in escrow, repay the
financing tied to the order first (the providers in ``payments.interfaces``), credit the
rest to the merchant's payable account, and book the inter-bank referral fee between the
merchant's bank and the referring bank (the banks' own money: the merchant pays no
commission). Then each bank gets a payout batch: one line per merchant owed money, moved
from payable to "in transit" and written to a payout file; lines are confirmed or failed
later, and a failed line's money goes back to payable, so the next run pays it again.

A run is resumable: killed in the middle, it is run again (same run, or a new one) and
settles what is left; a chunk is either settled entirely or not at all, and payouts are
built under a lock of the bank's row, from the payable balances, so nobody is paid twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from banks.models import Bank
from core.errors import ApplicationError
from core.money import quantize_money
from orders.models import Order, OrderStatus
from payments.interfaces import repayment_candidates, repayments_for
from payments.models import (
    AccountKind,
    LedgerAccount,
    LedgerTransaction,
    PayoutBatch,
    PayoutLine,
    PayoutStatus,
    Posting,
    RunStatus,
    SettlementItem,
    SettlementRun,
)
from payments.services import Leg, ledger_account, ledger_post

log = logging.getLogger(__name__)

ZERO = Decimal("0.00")
K = AccountKind


def referral_fee_rate() -> Decimal:
    return Decimal(str(settings.SETTLEMENT_REFERRAL_FEE_RATE))


def default_cutoff(now: datetime | None = None) -> datetime:
    """Orders completed before today's cut-off time (local) are settled."""
    now = timezone.localtime(now or timezone.now())
    hour, minute = (int(x) for x in settings.SETTLEMENT_CUTOFF.split(":"))
    cutoff = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return cutoff if cutoff <= now else cutoff - timedelta(days=1)


# --- runs ----------------------------------------------------------------------------------


def settlement_run_start(*, bank: Bank | None = None, cutoff: datetime | None = None,
                         actor=None) -> SettlementRun:
    """Create a run (the caller queues ``payments.tasks.run_settlement``). Refused while
    another run of the same scope is waiting or running, and for a cut-off in the future
    (orders completed later would be settled before they are)."""
    now = timezone.now()
    if cutoff is not None and cutoff > now:
        raise ApplicationError(_("The cut-off cannot be in the future."), field="cutoff",
                               code="cutoff_in_future")
    cutoff = cutoff or now
    try:
        with transaction.atomic():
            return SettlementRun.objects.create(bank=bank, cutoff=cutoff, started_by=actor)
    except IntegrityError:
        raise ApplicationError(_("A settlement run is already under way."),
                               code="run_in_progress") from None


RESUMABLE = (RunStatus.RUNNING, RunStatus.FAILED)


def settlement_run_resume(*, bank: Bank, run: SettlementRun) -> SettlementRun:
    """Queue again, after commit, a run of ``bank`` whose worker died or that failed: it
    continues where it stopped (settling is per order and exactly once, so running it
    twice is harmless). Refused for a run over every bank and for a run that is waiting,
    completed, or of another bank."""
    if run.bank_id != bank.pk or run.status not in RESUMABLE:
        raise ApplicationError(_("Only a stopped or failed run of our bank can be resumed."),
                               code="not_resumable")
    from payments.tasks import run_settlement

    transaction.on_commit(lambda: run_settlement.delay(run.pk))
    return run


UNDER_WAY = (RunStatus.PENDING, RunStatus.RUNNING)


def settlement_runs_daily() -> list[SettlementRun]:
    """The scheduled settlement, one run per active bank (orders completed before today's
    cut-off), to be executed in parallel. A bank whose run is still waiting or running
    (or whose worker died) gets that run back, to be queued again: a run is resumable and
    safe to execute twice at once. So does a run over every bank still under way."""
    cutoff = default_cutoff()
    runs = list(SettlementRun.objects.filter(bank__isnull=True, status__in=UNDER_WAY))
    for bank in Bank.objects.filter(is_active=True).order_by("pk"):
        try:
            runs.append(settlement_run_start(bank=bank, cutoff=cutoff))
        except ApplicationError:
            run = SettlementRun.objects.filter(bank=bank, status__in=UNDER_WAY).first()
            if run is not None:
                runs.append(run)
    return runs


def settleable_orders(run: SettlementRun):
    # NOT EXISTS rather than a LEFT JOIN: a walk along the primary key stays one, however
    # many of the orders have been settled already.
    qs = Order.objects.filter(status=OrderStatus.COMPLETED, completed_at__lte=run.cutoff).filter(
        ~Exists(SettlementItem.objects.filter(order_id=OuterRef("pk"))))
    return qs.filter(merchant_bank_id=run.bank_id) if run.bank_id else qs


def chunk_size() -> int:
    return max(1, int(settings.SETTLEMENT_CHUNK))


def settlement_run_execute(run_id: int) -> SettlementRun:
    """Settle every order of the run, chunk by chunk, then build each bank's payout
    batch. Safe to call again after a crash or on a run that failed: it continues where
    it stopped."""
    with transaction.atomic():
        run = SettlementRun.objects.select_for_update().get(pk=run_id)
        if run.status == RunStatus.COMPLETED:
            return run
        run.status = RunStatus.RUNNING
        run.started_at = run.started_at or timezone.now()
        run.error = ""
        done = run.items.count()
        run.orders_total = done + settleable_orders(run).count()
        run.orders_done = done
        run.save()
    # The ledger accounts this call has used, looked up once: an account row never changes
    # or goes away. One that a chunk's transaction created is safe to reuse too: if that
    # transaction rolls back, the error ends this call, and the cache with it.
    accounts: dict[tuple, LedgerAccount] = {}
    try:
        last: int | None = 0
        while last is not None:
            last = settle_chunk(run=run, after=last, accounts=accounts)
        banks = (Bank.objects.filter(pk=run.bank_id) if run.bank_id
                 else Bank.objects.filter(is_active=True))
        for bank in banks.order_by("pk"):
            payout_batch_build(run=run, bank=bank)
        report = {str(bank.pk): reconciliation(bank=bank, run=run) for bank in banks}
    except Exception as exc:
        SettlementRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED,
                                                       error=repr(exc)[:2000])
        raise
    flagged = [code for code, r in report.items() if not r["ok"]]
    if flagged:
        log.error("settlement run %s: reconciliation mismatches at banks %s", run.pk,
                  flagged)
    SettlementRun.objects.filter(pk=run.pk).update(
        status=RunStatus.COMPLETED, finished_at=timezone.now(), reconciliation=report,
        orders_done=run.items.count())
    run.refresh_from_db()
    return run


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


def _waterfall(order: Order, candidates) -> _Settled:
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
                "refunded_total", "referrer_bank_id", "is_cross_bank")


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
    # the locks (a fresh statement sees what it committed).
    done = set(SettlementItem.objects.filter(order_id__in=[o.pk for o in orders])
               .values_list("order_id", flat=True))
    todo = [o for o in orders if o.pk not in done and o.status == OrderStatus.COMPLETED]
    if todo:
        _settle_all(run, todo, cache)
    return orders[-1].pk


def _settle_all(run: SettlementRun, orders: list[Order], cache: dict) -> None:
    candidates = repayment_candidates(orders)
    settled = [_waterfall(order, candidates) for order in orders]
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
            memo = (f"settlement of {s.order.number}" if kind == "settle"
                    else f"referral fee of {s.order.number}")
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
    if order.status != OrderStatus.COMPLETED or SettlementItem.objects.filter(
            order=order).exists():
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


# --- payouts -------------------------------------------------------------------------------

PAYOUT_HEADER = ["record", "batch", "line", "merchant_id", "merchant_name", "account_name",
                 "account_number", "amount", "currency", "reference"]


def payable_balances(*, bank: Bank) -> dict[int, Decimal]:
    """What the bank owes each merchant now (negative: a clawback carried forward)."""
    rows = (Posting.objects.filter(account__kind=K.MERCHANT_PAYABLE, account__bank=bank)
            .values("account__merchant_id").annotate(total=Sum("amount")))
    return {r["account__merchant_id"]: -r["total"] for r in rows}


def _settlement_accounts(bank: Bank, merchant_ids) -> dict[int, tuple[str, str]]:
    """The merchants' settlement accounts: the bank's private data, read in its schema."""
    from admission.selectors import settlement_accounts

    with schema_context(bank.schema_name):
        return settlement_accounts(merchant_ids=merchant_ids)


@transaction.atomic
def payout_batch_build(*, run: SettlementRun, bank: Bank) -> PayoutBatch:
    """The bank's payout batch of this run: every merchant owed money (with a settlement
    account on file) gets one line, its payable moved to "in transit"; then the file."""
    Bank.objects.select_for_update().get(pk=bank.pk)  # one batch at a time per bank
    batch, _created = PayoutBatch.objects.get_or_create(run=run, bank=bank)
    if batch.file_name:
        return batch
    owed = {m: amount for m, amount in payable_balances(bank=bank).items() if amount > 0}
    accounts = _settlement_accounts(bank, owed)
    from catalog.models import Merchant

    names = dict(Merchant.objects.filter(pk__in=list(owed)).values_list("pk", "name"))
    line_no = 0
    for merchant_id in sorted(owed):
        account_name, account_number = accounts.get(merchant_id, ("", ""))
        if not account_number:
            continue  # held as payable until the bank records the merchant's account
        line_no += 1
        line = PayoutLine.objects.create(batch=batch, line_no=line_no, merchant_id=merchant_id,
                                         amount=owed[merchant_id],
                                         account_name=account_name or names[merchant_id],
                                         account_number=account_number)
        ledger_post(kind="payout", reference=f"line:{line.pk}", legs=[
            Leg(ledger_account(kind=K.MERCHANT_PAYABLE, bank_id=bank.pk,
                               merchant_id=merchant_id), line.amount),
            Leg(ledger_account(kind=K.PAYOUT_IN_TRANSIT, bank_id=bank.pk), -line.amount),
        ], memo=f"payout batch {batch.pk} line {line_no}")
    _write_file(batch, names)
    return batch


def _write_file(batch: PayoutBatch, names: dict[int, str]) -> None:
    """The payout file: a header, one ``D`` record per line, and a ``T`` trailer with the
    count, the total and the SHA-256 of every record before it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["H", batch.bank.code, batch.pk, batch.run_id,
                     timezone.localtime(batch.created_at).strftime("%Y-%m-%dT%H:%M:%S%z")])
    total = ZERO
    lines = list(batch.lines.order_by("line_no"))
    for line in lines:
        writer.writerow(["D", batch.pk, line.line_no, line.merchant_id,
                         names.get(line.merchant_id, ""), line.account_name,
                         line.account_number, f"{line.amount:.2f}", "CNY",
                         f"P{batch.pk}-{line.line_no}"])
        total += line.amount
    body = out.getvalue()
    checksum = hashlib.sha256(body.encode("utf-8")).hexdigest()
    out.write(f"T,{len(lines)},{total:.2f},{checksum}\n")
    batch.file_content = out.getvalue()
    batch.file_name = (f"payout-{batch.bank.code}-"
                       f"{timezone.localtime(batch.created_at):%Y%m%d}-{batch.pk}.csv")
    batch.checksum, batch.total, batch.line_count = checksum, total, len(lines)
    batch.save()


@transaction.atomic
def payout_line_confirm(*, line: PayoutLine) -> PayoutLine:
    """The bank's core system paid the line: the money leaves the bank's card clearing."""
    line = PayoutLine.objects.select_for_update().select_related("batch").get(pk=line.pk)
    if line.status != PayoutStatus.SENT:
        raise ApplicationError(_("Only a sent payout line can be confirmed."),
                               code="illegal_transition")
    bank_id = line.batch.bank_id
    ledger_post(kind="payout_confirm", reference=f"line:{line.pk}", legs=[
        Leg(ledger_account(kind=K.PAYOUT_IN_TRANSIT, bank_id=bank_id), line.amount),
        Leg(ledger_account(kind=K.CARD_CLEARING, bank_id=bank_id), -line.amount),
    ], memo=f"payout line {line.pk} confirmed")
    line.status = PayoutStatus.CONFIRMED
    line.save(update_fields=["status", "updated_at"])
    return line


@transaction.atomic
def payout_line_fail(*, line: PayoutLine, reason: str) -> PayoutLine:
    """The core system could not pay the line: the money is owed to the merchant again
    and the next run's batch pays it."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Say why the payout failed."), field="reason")
    line = PayoutLine.objects.select_for_update().select_related("batch").get(pk=line.pk)
    if line.status != PayoutStatus.SENT:
        raise ApplicationError(_("Only a sent payout line can fail."),
                               code="illegal_transition")
    bank_id = line.batch.bank_id
    ledger_post(kind="payout_fail", reference=f"line:{line.pk}", legs=[
        Leg(ledger_account(kind=K.PAYOUT_IN_TRANSIT, bank_id=bank_id), line.amount),
        Leg(ledger_account(kind=K.MERCHANT_PAYABLE, bank_id=bank_id,
                           merchant_id=line.merchant_id), -line.amount),
    ], memo=f"payout line {line.pk} failed: {reason}"[:200])
    line.status, line.failure_reason = PayoutStatus.FAILED, reason[:200]
    line.save(update_fields=["status", "failure_reason", "updated_at"])
    return line


# --- reconciliation and statements ---------------------------------------------------------


def _sum(qs) -> Decimal:
    return qs.aggregate(t=Sum("amount"))["t"] or ZERO


def reconciliation(*, bank: Bank, run: SettlementRun | None = None) -> dict:
    """The bank's books, from the ledger, as equations that must hold to the fen; a
    mismatch is reported (``ok`` false, the difference shown), never hidden."""
    # One grouped pass over the bank's postings (by account kind and transaction kind)
    # instead of a query per figure: a run per bank reconciles many banks in a day.
    totals: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for row in (Posting.objects.filter(account__bank=bank).order_by()
                .values("account__kind", "transaction__kind").annotate(t=Sum("amount"))):
        totals[(row["account__kind"], row["transaction__kind"])] += row["t"] or ZERO

    def total(account_kind: str, *txn_kinds: str) -> Decimal:
        return sum((t for (a, k), t in totals.items()
                    if a == account_kind and (not txn_kinds or k in txn_kinds)), ZERO)

    # Paid by card, or at a branch desk.
    captured = -total(K.ESCROW, "capture", "desk_capture")
    # Checkouts a bank paid for the buyer (pay later, instalments) fund escrow too.
    financed = -total(K.ESCROW, "loan_disburse")
    refunded = total(K.ESCROW, "refund")
    released = total(K.ESCROW, "settle")
    held = -total(K.ESCROW)
    credited = -total(K.MERCHANT_PAYABLE, "settle")
    # Order financing: the bank's advance is paid to the merchant through payable.
    advanced = -total(K.MERCHANT_PAYABLE, "loan_disburse")
    repaid = -_sum(Posting.objects.filter(
        transaction__kind="settle", account__kind__in=[K.LOAN_PRINCIPAL, K.LOAN_INTEREST],
        order__merchant_bank=bank))
    clawed_back = total(K.MERCHANT_PAYABLE, "clawback")
    confirmed = -total(K.CARD_CLEARING, "payout_confirm")
    in_transit = -total(K.PAYOUT_IN_TRANSIT)
    owed = -total(K.MERCHANT_PAYABLE)
    fees_owed = -total(K.REFERRAL_FEE_PAYABLE)
    fees_due = total(K.REFERRAL_FEE_RECEIVABLE)
    checks = [
        ("captured + financed − refunded = released + held", captured + financed - refunded,
         released + held),
        ("released = credited to merchants + repaid to lenders", released, credited + repaid),
        ("credited + advanced − clawed back = paid out + in transit + still owed",
         credited + advanced - clawed_back, confirmed + in_transit + owed),
    ]
    report = {
        "bank": bank.code,
        "figures": {k: str(v) for k, v in {
            "captured": captured, "financed": financed, "advanced": advanced,
            "refunded_before_settlement": refunded,
            "released": released, "held_in_escrow": held, "credited": credited,
            "repaid": repaid, "clawed_back": clawed_back, "paid_out": confirmed,
            "in_transit": in_transit, "owed_to_merchants": owed,
            "referral_fees_owed": fees_owed, "referral_fees_due": fees_due}.items()},
        "checks": [{"equation": name, "left": str(left), "right": str(right),
                    "difference": str(left - right), "ok": left == right}
                   for name, left, right in checks],
    }
    if run is not None:
        items = SettlementItem.objects.filter(run=run, bank=bank)
        totals = items.aggregate(released=Sum("released"), repaid=Sum("repaid"),
                                 credit=Sum("merchant_credit"), fees=Sum("referral_fee"))
        r_released, r_repaid, r_credit = (totals[k] or ZERO for k in
                                          ("released", "repaid", "credit"))
        report["run"] = {"orders": items.count(), "released": str(r_released),
                         "repaid": str(r_repaid), "credited": str(r_credit),
                         "referral_fees": str(totals["fees"] or ZERO)}
        report["checks"].append({
            "equation": "this run: released = credited + repaid", "left": str(r_released),
            "right": str(r_repaid + r_credit), "difference": str(r_released - r_repaid
                                                                 - r_credit),
            "ok": r_released == r_repaid + r_credit})
    report["ok"] = all(c["ok"] for c in report["checks"])
    return report


def referral_statement(*, year: int, month: int) -> list[dict]:
    """Inter-bank referral fees booked in a month: for every pair of banks, what each
    owes the other and the net, for the federation to clear."""
    start = timezone.make_aware(datetime.combine(datetime(year, month, 1).date(), time()))
    end = timezone.make_aware(datetime.combine(
        (datetime(year + month // 12, month % 12 + 1, 1)).date(), time()))
    rows = (Posting.objects.filter(account__kind=K.REFERRAL_FEE_PAYABLE,
                                   transaction__kind="referral_fee",
                                   posted_at__gte=start, posted_at__lt=end)
            .values("account__bank_id", "account__counterparty_id")
            .annotate(total=Sum("amount")))
    owed: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for r in rows:
        owed[(r["account__bank_id"], r["account__counterparty_id"])] += -r["total"]
    banks = {b.pk: b for b in Bank.objects.filter(
        pk__in={x for pair in owed for x in pair})}
    pairs = sorted({tuple(sorted(pair)) for pair in owed})
    return [{"bank_a": banks[a], "bank_b": banks[b], "a_owes_b": owed[(a, b)],
             "b_owes_a": owed[(b, a)], "net_a_to_b": owed[(a, b)] - owed[(b, a)]}
            for a, b in pairs]


def merchant_statement(*, merchant, since: datetime | None = None) -> list[Posting]:
    """The merchant's payable account movements (settlements, clawbacks, payouts)."""
    qs = (Posting.objects.filter(account__kind=K.MERCHANT_PAYABLE, account__merchant=merchant)
          .select_related("transaction", "order").order_by("posted_at", "id"))
    return list(qs.filter(posted_at__gte=since) if since else qs)

