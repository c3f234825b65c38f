"""The books as equations (reconciliation), the inter-bank referral statement and a
merchant's statement."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from banks.models import Bank
from payments.models import Posting, SettlementItem, SettlementRun

from ._common import ZERO, K


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
    partner_fees_owed = -total(K.PARTNER_FEE_PAYABLE)
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
            "referral_fees_owed": fees_owed, "referral_fees_due": fees_due,
            "partner_fees_owed": partner_fees_owed}.items()},
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
