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

Modules: ``runs`` (start, resume, execute), ``chunks`` (settling orders), ``payouts``
(batches, files, lines) and ``statements`` (reconciliation, statements); callers import
from here (``from payments import settlement``).
"""

from ._common import ZERO, K
from .chunks import (
    ORDER_FIELDS,
    AccountKey,
    chunk_size,
    held_orders,
    record_holds,
    referral_fee_rate,
    settle_chunk,
    settle_order,
    settleable_orders,
)
from .payouts import (
    PAYOUT_HEADER,
    payable_balances,
    payout_batch_build,
    payout_line_confirm,
    payout_line_fail,
)
from .runs import (
    RESUMABLE,
    UNDER_WAY,
    default_cutoff,
    settlement_run_execute,
    settlement_run_resume,
    settlement_run_start,
    settlement_runs_daily,
)
from .statements import merchant_statement, reconciliation, referral_statement

__all__ = [
    "ORDER_FIELDS",
    "PAYOUT_HEADER",
    "RESUMABLE",
    "UNDER_WAY",
    "ZERO",
    "AccountKey",
    "K",
    "chunk_size",
    "held_orders",
    "record_holds",
    "default_cutoff",
    "merchant_statement",
    "payable_balances",
    "payout_batch_build",
    "payout_line_confirm",
    "payout_line_fail",
    "reconciliation",
    "referral_fee_rate",
    "referral_statement",
    "settle_chunk",
    "settle_order",
    "settleable_orders",
    "settlement_run_execute",
    "settlement_run_resume",
    "settlement_run_start",
    "settlement_runs_daily",
]
