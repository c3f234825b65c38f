"""Payouts: each bank's batch of what it owes its merchants, the payout file, and lines
confirmed or failed by the bank's core system."""

from __future__ import annotations

import csv
import hashlib
import io
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from admission.selectors import settlement_accounts
from banks.models import Bank
from catalog.models import Merchant
from core.errors import ApplicationError
from core.writes import recorded_by_the_row, transition
from payments.models import PayoutBatch, PayoutLine, PayoutStatus, Posting, SettlementRun
from payments.services import Leg, ledger_account, ledger_post

from ._common import ZERO, K

PAYOUT_HEADER = ["record", "batch", "line", "merchant_id", "merchant_name", "account_name",
                 "account_number", "amount", "currency", "reference"]


def payable_balances(*, bank: Bank) -> dict[int, Decimal]:
    """What the bank owes each merchant now (negative: a clawback carried forward)."""
    rows = (Posting.objects.filter(account__kind=K.MERCHANT_PAYABLE, account__bank=bank)
            .values("account__merchant_id").annotate(total=Sum("amount")))
    return {r["account__merchant_id"]: -r["total"] for r in rows}


def _settlement_accounts(bank: Bank, merchant_ids) -> dict[int, tuple[str, str]]:
    """The merchants' settlement accounts: the bank's private data, read in its schema."""
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
    transition(line, "confirm", save_fields=["updated_at"], audit=recorded_by_the_row)
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
    line.failure_reason = reason[:200]
    transition(line, "fail", save_fields=["failure_reason", "updated_at"],
               audit=recorded_by_the_row)
    return line
