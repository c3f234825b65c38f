"""Refunds of orders (registered with ``orders``): cash back to the card, the branch desk or
the lending bank, points back to the customer, and the booking."""

from __future__ import annotations

import logging
from decimal import Decimal

import stripe
from django.db.models import Sum
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from core.money import to_fen
from orders.models import Order, Refund
from payments.desk_cash import desk_payment_of, refund_cash_at_desk
from payments.gateway import stripe_client
from payments.interfaces import CreditRefund, credit_refund, restore_points
from payments.ledger import Leg, ledger_account
from payments.models import AccountKind, Payment, PaymentStatus

from .booking import _book_refund
from .gateway_refunds import PLATFORM_ORIGIN

log = logging.getLogger(__name__)


def refund_execute(refund: Refund) -> str:
    """Return ``refund.amount`` to the buyer and book it: cash first (to the card that
    paid the checkout), then, for what was paid with points, the points (through the
    provider the points programme registers; points that expired meanwhile are not
    given back). Runs inside the caller's transaction (order and refund rows locked)."""
    order = refund.order
    cash_paid = order.total - order.points_value
    cash_back = Refund.objects.filter(order=order, status="succeeded").exclude(
        pk=refund.pk).aggregate(s=Sum("cash_amount"))["s"] or Decimal("0.00")
    refund.cash_amount = min(refund.amount, max(cash_paid - cash_back, Decimal("0.00")))
    refund.points_amount = refund.amount - refund.cash_amount
    reference = ""
    desk, desk_legs = desk_payment_of(order), None
    if desk is not None and refund.cash_amount:  # paid at a branch desk: cash back there
        reference, desk_legs = refund_cash_at_desk(refund, desk)
    elif refund.cash_amount and _card_payment(order) is None and (
            credit := credit_refund(refund=refund, amount=refund.cash_amount)) is not None:
        # Paid with a bank's credit: the refund reduces the loan; the money goes back to
        # the lending bank's loan principal.
        reference, desk_legs = f"loan:{credit.reference}", _credit_legs(
            order, credit, refund.cash_amount)
    elif refund.cash_amount:
        reference = _refund_card(refund, refund.cash_amount)
    if refund.points_amount:
        refund.points_restored = restore_points(order=order, value=refund.points_amount,
                                                reference=f"refund:{refund.pk}")
    _book_refund(refund, desk_legs)
    return reference or f"points:{refund.points_restored}"


def _card_payment(order: Order) -> Payment | None:
    return Payment.objects.filter(checkout_id=order.checkout_id,
                                  status=PaymentStatus.SUCCEEDED).first()


def _credit_legs(order: Order, credit: CreditRefund, amount: Decimal) -> list[Leg]:
    """The disbursement's legs for ``amount``, reversed: the lender's loan principal is
    repaid, and what the lender owed the merchant's bank for it is owed no more."""
    legs = [Leg(ledger_account(kind=AccountKind.LOAN_PRINCIPAL, bank_id=credit.lender_bank_id),
                -amount, order)]
    if order.merchant_bank_id != credit.lender_bank_id:
        legs += [
            Leg(ledger_account(kind=AccountKind.INTERBANK_PAYABLE, bank_id=credit.lender_bank_id,
                               counterparty_id=order.merchant_bank_id), amount, order),
            Leg(ledger_account(kind=AccountKind.INTERBANK_RECEIVABLE,
                               bank_id=order.merchant_bank_id,
                               counterparty_id=credit.lender_bank_id), -amount, order)]
    return legs


def _refund_card(refund: Refund, amount: Decimal) -> str:
    payment = _card_payment(refund.order)
    if payment is None or not payment.intent_id:
        raise ApplicationError(_("This order has no card payment to refund."),
                               code="no_payment")
    try:
        gateway_refund = stripe_client().v1.refunds.create(
            params={"payment_intent": payment.intent_id, "amount": to_fen(amount),
                    "metadata": {"order": refund.order.number, "refund": str(refund.pk),
                                 **PLATFORM_ORIGIN}},
            options={"idempotency_key": f"refund:{refund.pk}"})
    except stripe.StripeError as exc:
        log.warning("gateway refused refund %s: %s", refund.pk, exc)
        raise ApplicationError(_("The card service refused the refund: %(msg)s")
                               % {"msg": exc.user_message or str(exc)[:120]},
                               code="gateway_refused") from exc
    return gateway_refund.id
