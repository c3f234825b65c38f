"""Writes on a bank's points programme: earning, spending, expiry, restoring, and the
points mall. Everything runs in the bank's own schema (its customers' points are its
business alone); the caller passes the ``bank`` and the services check the schema.

The ledger: every change is a ``PointsEntry`` (append-only; the database refuses updates
and deletes) and earned points sit in ``PointsLot`` rows that spending and expiry draw
down, oldest expiry first. A customer's balance is the sum of their entries and always
equals the sum of their lots' ``remaining`` (rewards/tests/test_rewards.py checks both).

One module per use case: ``programme`` (seeding, rates and rules, earning rules),
``ledger`` (balance, lots, expiry, spending, restoring), ``earning`` (points of completed
orders), ``mall`` (offers, redeeming, pickup), ``mall_cash`` (the cash part by card) and
``checkout`` (points as part payment). Callers import from this package.
"""

from rewards.services._common import FIRST_YEAR, LAST_YEAR
from rewards.services.checkout import (
    checkout_apply_points,
    checkout_points_quote,
    checkout_remove_points,
    points_back_on_cancel,
    points_back_on_refund,
)
from rewards.services.earning import order_points, points_earn_for_order, points_earn_sweep
from rewards.services.ledger import balance, points_expire
from rewards.services.mall import (
    OFFER_BOUNDS,
    OFFER_FIELDS,
    offer_available_to,
    offer_redeem,
    offer_save,
    redemption_cancel,
    redemption_collect,
)
from rewards.services.mall_cash import redemption_pay_cash, redemption_payments_reconcile
from rewards.services.programme import (
    PROGRAMME_FIELDS,
    RULES_FIELDS,
    earning_rule_save,
    programme_of,
    programme_seed_for_bank,
    programme_update,
)

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "OFFER_BOUNDS",
    "OFFER_FIELDS",
    "PROGRAMME_FIELDS",
    "RULES_FIELDS",
    "balance",
    "checkout_apply_points",
    "checkout_points_quote",
    "checkout_remove_points",
    "earning_rule_save",
    "offer_available_to",
    "offer_redeem",
    "offer_save",
    "order_points",
    "points_back_on_cancel",
    "points_back_on_refund",
    "points_earn_for_order",
    "points_earn_sweep",
    "points_expire",
    "programme_of",
    "programme_seed_for_bank",
    "programme_update",
    "redemption_cancel",
    "redemption_collect",
    "redemption_pay_cash",
    "redemption_payments_reconcile",
]
