"""Writes on lending: consent, scoring, applications, loans and repayments.

Everything runs in the lending bank's schema; the caller passes that ``bank`` and the
services check that the connection is in its schema (pages and APIs on a bank's domain
are; tasks are queued inside it; settlement enters it explicitly).

Two state machines, declared on their models (``Application.STATES``, ``Loan.STATES``)
and applied by ``_common._app_transition`` and ``_common._loan_transition`` through
``core.writes.transition``. Every transition writes a ``LendingEvent`` saying who made it.
Money moves only through the federation's ledger (``payments.services.ledger_post``):
order financing is lent to the merchant and repaid first at settlement; pay later and
instalments pay the checkout's escrow; card repayments and write-offs close the loan
principal.

One module per use case: ``policy``, ``consent``, ``scoring`` (profiles and runs),
``credit`` (limits), ``applications`` (order financing, decisions, disbursement),
``checkout`` (pay later and instalments), ``loans`` (accrual, ageing, write-off),
``repayments`` (settlement and card), ``refunds`` and ``pledges`` (warehouse receipt
pledge loans and their margin calls). Callers import from this package.
"""

from lending.services.applications import (
    application_decide,
    order_financing_apply,
    order_financing_quote,
)
from lending.services.checkout import checkout_finance, checkout_financing_options
from lending.services.consent import (
    buyer_consent_set,
    merchant_consent_grant,
    merchant_consent_set,
    merchant_consent_withdraw,
)
from lending.services.credit import Credit, credit_of, outstanding_principal
from lending.services.loans import (
    BUCKETS,
    Due,
    delinquency_bucket,
    loan_amount_due,
    loan_due_now,
    loan_write_off,
    loans_age,
)
from lending.services.pledges import (
    margin_call_close,
    pledge_apply,
    pledge_collateral_sale,
    pledge_margin_check,
    pledge_quote,
)
from lending.services.policy import (
    INSTALMENT_MONTHS,
    MAX_TERMS,
    POLICY_BOUNDS,
    POLICY_FIELDS,
    WEIGHT_MAX,
    policy_get,
    policy_seed_for_bank,
    policy_update,
)
from lending.services.refunds import loan_reduce, loan_reduce_for_refund
from lending.services.repayments import (
    financed_orders_among,
    loan_repay_by_card,
    loan_repayments_reconcile,
    repayments_at_settlement,
)
from lending.services.scoring import (
    CHUNK,
    profile_compute,
    scoring_parties,
    scoring_run_execute,
    scoring_run_start,
)

__all__ = [
    "BUCKETS",
    "CHUNK",
    "INSTALMENT_MONTHS",
    "MAX_TERMS",
    "POLICY_BOUNDS",
    "POLICY_FIELDS",
    "WEIGHT_MAX",
    "Credit",
    "Due",
    "application_decide",
    "buyer_consent_set",
    "checkout_finance",
    "checkout_financing_options",
    "credit_of",
    "delinquency_bucket",
    "financed_orders_among",
    "loan_amount_due",
    "loan_due_now",
    "loan_reduce",
    "loan_reduce_for_refund",
    "loan_repay_by_card",
    "loan_repayments_reconcile",
    "loan_write_off",
    "loans_age",
    "margin_call_close",
    "merchant_consent_grant",
    "merchant_consent_set",
    "merchant_consent_withdraw",
    "order_financing_apply",
    "order_financing_quote",
    "outstanding_principal",
    "pledge_apply",
    "pledge_collateral_sale",
    "pledge_margin_check",
    "pledge_quote",
    "policy_get",
    "policy_seed_for_bank",
    "policy_update",
    "profile_compute",
    "repayments_at_settlement",
    "scoring_parties",
    "scoring_run_execute",
    "scoring_run_start",
]
