"""Reads on payments and the ledger."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Q, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy

from banks.audit import AuditEntry, filter_times
from banks.models import Bank
from core.idempotency import idempotency_find, key_owner
from orders.models import OrderHold
from payments.models import (
    AccountKind,
    GatewayRefund,
    Payment,
    PayoutBatch,
    PayoutLine,
    Posting,
    RunStatus,
    SettlementHold,
    SettlementItem,
    SettlementRun,
)


def escrow_by_bank() -> dict[int, Decimal]:
    """Money held in escrow per merchant's bank (credit balances shown positive)."""
    rows = (Posting.objects.filter(account__kind=AccountKind.ESCROW)
            .values("account__bank_id").annotate(total=Sum("amount")))
    return {row["account__bank_id"]: -row["total"] for row in rows}


def escrow_by_merchant(*, bank: Bank) -> dict[int, Decimal]:
    rows = (Posting.objects.filter(account__kind=AccountKind.ESCROW, account__bank=bank)
            .values("account__merchant_id").annotate(total=Sum("amount")))
    return {row["account__merchant_id"]: -row["total"] for row in rows}


def trial_balance() -> Decimal:
    """The sum of every posting: zero in a sound ledger."""
    return Posting.objects.aggregate(total=Sum("amount"))["total"] or Decimal("0.00")


def payments_of_checkout(*, checkout) -> list[Payment]:
    return list(Payment.objects.filter(checkout=checkout).order_by("created_at", "id"))


def payment_of_buyer(*, buyer, payment_id) -> Payment:
    """A payment of one of the buyer's checkouts, or 404 (whoever else asks)."""
    payment = (Payment.objects.select_related("checkout")
               .filter(pk=payment_id, checkout__buyer=buyer).first())
    if payment is None:
        raise Http404
    return payment


def payment_of_checkout(*, checkout, payment_id) -> Payment:
    """A payment of ``checkout``, or 404 (a pay link reaches its own checkout's only)."""
    payment = Payment.objects.filter(pk=payment_id, checkout=checkout).first()
    if payment is None:
        raise Http404
    return payment


def payment_by_key(*, buyer, idempotency_key: str) -> Payment | None:
    """The payment ``buyer``'s idempotency key made, if any (to answer a replay)."""
    earlier = idempotency_find(scope=Payment.KEY_SCOPE, owner=key_owner(user=buyer),
                               key=idempotency_key)
    if earlier is None or earlier.target_id is None:
        return None
    return Payment.objects.filter(pk=earlier.target_id).first()


# --- settlement: every id from a request goes through one of these, scoped to a bank or a
# merchant (another bank's run, batch, line or merchant is 404) -------------------------------


def bank_gateway_refunds(*, bank: Bank, status: str = ""):
    """Refunds made at the card gateway outside the platform that concern the bank (its
    merchants' orders, or its own charges), newest first."""
    rows = GatewayRefund.objects.filter(bank=bank).select_related("payment__checkout")
    return rows.filter(status=status) if status else rows


def bank_gateway_refund(*, bank: Bank, refund_id: int):
    """One of them, or 404 (also another bank's)."""
    row = bank_gateway_refunds(bank=bank).filter(pk=refund_id).first()
    if row is None:
        raise Http404
    return row


def bank_settlement_runs(*, bank: Bank):
    """The runs that concern the bank: its own and the runs over every bank."""
    return (SettlementRun.objects.filter(Q(bank=bank) | Q(bank__isnull=True))
            .select_related("bank", "started_by").order_by("-created_at", "-id"))


def bank_settlement_run(*, bank: Bank, run_id):
    return get_object_or_404(bank_settlement_runs(bank=bank), pk=run_id)


def run_holds(*, run, bank: Bank) -> list:
    """The orders of ``bank``'s merchants the run did not settle because their money is
    held, each with ``reason_display`` (the hold's label)."""
    rows = list(SettlementHold.objects.filter(run=run, order__merchant_bank=bank)
                .select_related("order__merchant").order_by("order_id"))
    labels = dict(OrderHold.choices)
    for row in rows:
        row.reason_display = str(labels.get(row.reason, row.reason))  # type: ignore[attr-defined]
    return rows


def bank_payout_batch(*, bank: Bank, batch_id):
    return get_object_or_404(PayoutBatch.objects.select_related("run", "bank"), bank=bank,
                             pk=batch_id)


def bank_payout_line(*, bank: Bank, line_id):
    return get_object_or_404(PayoutLine.objects.select_related("batch", "merchant"),
                             batch__bank=bank, pk=line_id)


def run_batch_of_bank(*, run, bank: Bank):
    """The bank's payout batch of the run (None until the run has built it)."""
    return run.batches.filter(bank=bank).first()


def merchant_settlement_items(*, merchant):
    return (SettlementItem.objects.filter(merchant=merchant).select_related("order", "run")
            .order_by("-created_at", "-id"))


def merchant_payout_lines(*, merchant):
    return (PayoutLine.objects.filter(merchant=merchant).select_related("batch")
            .order_by("-batch__created_at", "-id"))


# --- a merchant's statement and the payout file, as pages and API show them ----------------

STATEMENT_KINDS = {
    "settle": gettext_lazy("Order settled"),
    "clawback": gettext_lazy("Refund after settlement"),
    "payout": gettext_lazy("Payout sent"),
    "payout_fail": gettext_lazy("Payout failed, owed again"),
    "loan_disburse": gettext_lazy("Order financing advance"),
    "loan_repay": gettext_lazy("Financing repaid"),
}


def statement_rows(postings) -> list[dict]:
    """The merchant's payable movements, newest first, with the balance after each (what
    the bank owes the merchant: a settlement adds, a payout or clawback takes away)."""
    balance = Decimal("0.00")
    rows = []
    for p in postings:
        amount = -p.amount
        balance += amount
        rows.append({"at": p.posted_at, "kind": p.transaction.kind,
                     "label": STATEMENT_KINDS.get(p.transaction.kind,
                                                  gettext_lazy("Other movement")),
                     "order": p.order, "memo": p.transaction.memo, "amount": amount,
                     "abs": abs(amount), "balance": balance, "balance_abs": abs(balance)})
    rows.reverse()
    return rows


def payout_file_response(batch) -> HttpResponse:
    """The payout file as stored, for download (the console page and the API)."""
    response = HttpResponse(batch.file_content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{batch.file_name}"'
    return response


def federation_settlement_day(*, day) -> dict:
    """Every settlement run started on ``day`` (local date), every bank's, with the day's
    progress: what the federation console and its API show."""
    under_way = (RunStatus.PENDING, RunStatus.RUNNING)
    runs = list(SettlementRun.objects.filter(created_at__date=day).select_related("bank")
                .order_by("bank__code", "created_at", "id"))
    done = sum(r.orders_done for r in runs)
    total = sum(r.orders_total for r in runs)
    statuses = {r.status for r in runs}
    status: str
    if statuses & set(under_way):
        status = RunStatus.RUNNING if RunStatus.RUNNING in statuses else RunStatus.PENDING
    elif RunStatus.FAILED in statuses:
        status = RunStatus.FAILED
    else:
        status = RunStatus.COMPLETED if runs else ""
    return {"day": day, "runs": runs, "status": status, "orders_done": done,
            "orders_total": total, "percent": int(100 * done / total) if total else
            (100 if runs and status == RunStatus.COMPLETED else 0),
            "runs_total": len(runs),
            "runs_completed": sum(r.status == RunStatus.COMPLETED for r in runs),
            "runs_failed": sum(r.status == RunStatus.FAILED for r in runs),
            "mismatches": sorted({r.bank.code if r.bank else "*" for r in runs
                                  if any(not x.get("ok", True)
                                         for x in (r.reconciliation or {}).values())})}


def audit_entries(query) -> list:
    """Settlement actions of the bank's staff for its audit page (``banks.audit``): runs
    they started, and gateway refunds they resolved by hand."""
    runs = SettlementRun.objects.filter(bank=query.bank, started_by__isnull=False)
    resolved = GatewayRefund.objects.filter(bank=query.bank, resolved_by__isnull=False)
    if query.actor_id is not None:
        runs = runs.filter(started_by_id=query.actor_id)
        resolved = resolved.filter(resolved_by_id=query.actor_id)
    entries = [AuditEntry(at=run.created_at, area="settlement",
                          actor_id=run.started_by_id, action=str(_AUDIT_RUN),
                          target=str(_AUDIT_RUN_TARGET) % {
                              "id": run.pk, "cutoff": run.cutoff.strftime("%Y-%m-%d %H:%M")},
                          note=run.get_status_display())
               for run in filter_times(runs, query, "created_at")]
    entries += [AuditEntry(at=r.resolved_at, area="settlement",
                           actor_id=r.resolved_by_id, action=str(_AUDIT_REFUND_RESOLVED),
                           target=r.refund_id, note=r.resolution)
                for r in filter_times(resolved, query, "resolved_at")]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:query.limit]


_AUDIT_RUN = gettext_lazy("Settlement run started")
_AUDIT_RUN_TARGET = gettext_lazy("Run #%(id)s, cut-off %(cutoff)s")
_AUDIT_REFUND_RESOLVED = gettext_lazy("Card service refund resolved")
