"""Writes on payments: card payments of checkouts, webhook events, reconciliation, expiry
of unpaid checkouts, refunds at the gateway, and the double-entry ledger.

Idempotency: every call that moves money carries a key. For a payment the key is ours
(the card page renders one per attempt; the API takes the client's ``Idempotency-Key``):
the ``Payment`` row with that key is committed before the gateway is called, so a
repeated request finds it and never charges twice; the gateway gets the same key (Stripe
enforces it too; the local server does not). Ledger transactions are unique by
``(kind, reference)``, so the same movement is never booked twice.

State from the gateway: whatever tells us about a payment (the response to our call, a
webhook, the reconciliation task), we ask the gateway for the PaymentIntent as it is now
and apply that, so events arriving late, twice or out of order change nothing wrong.

One module per use case; callers import from here (``from payments import services``).
"""

from payments.ledger import Leg, ledger_account, ledger_post

from .booking import points_legs
from .charges import (
    NOT_CONNECTED,
    Card,
    Charge,
    GatewayUnavailable,
    card_charge,
    card_charge_find,
    charge_outcome_unknown,
    decline_message,
)
from .checkout_payments import (
    GATEWAY_STATUS,
    OPEN,
    checkout_assert_payable,
    checkout_pay,
    payment_authenticate,
    payment_cancel_at_gateway,
    payment_sync,
)
from .gateway_refunds import PLATFORM_ORIGIN, REFUND_EVENTS, gateway_refund_resolve
from .refunds import refund_execute
from .scheduled import checkout_abandon, expire_reservations, reconcile_payments
from .webhooks import WEBHOOK_TOLERANCE_SECONDS, webhook_receive

__all__ = [
    "GATEWAY_STATUS",
    "NOT_CONNECTED",
    "OPEN",
    "PLATFORM_ORIGIN",
    "REFUND_EVENTS",
    "WEBHOOK_TOLERANCE_SECONDS",
    "Card",
    "Charge",
    "Leg",
    "card_charge",
    "GatewayUnavailable",
    "card_charge_find",
    "charge_outcome_unknown",
    "checkout_abandon",
    "checkout_assert_payable",
    "checkout_pay",
    "decline_message",
    "expire_reservations",
    "gateway_refund_resolve",
    "ledger_account",
    "ledger_post",
    "payment_authenticate",
    "payment_cancel_at_gateway",
    "payment_sync",
    "points_legs",
    "reconcile_payments",
    "refund_execute",
    "webhook_receive",
]
