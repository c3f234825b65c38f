"""Booking card money in the ledger: captures into escrow, refunds out of it (or clawed back
after settlement), and the legs of the part paid with points.

The primitives live in ``payments.ledger``, below both these services and the branch desk's
(``payments.desk``), which share them."""

from __future__ import annotations

from decimal import Decimal

from orders.models import Checkout, Order, Refund
from payments.ledger import Leg, ledger_account, ledger_post
from payments.models import AccountKind, Payment, SettlementItem


def _book_capture(checkout: Checkout, payment: Payment) -> None:
    """Paid money into escrow, per merchant, on the merchant's bank's own accounts:
    debit the bank's card clearing, credit the merchant's escrow (the part paid with
    points is the storefront bank's: see ``points_legs``)."""
    legs: list[Leg] = []
    for order in checkout.orders.order_by("pk"):
        clearing = ledger_account(kind=AccountKind.CARD_CLEARING, bank_id=order.merchant_bank_id)
        escrow = ledger_account(kind=AccountKind.ESCROW, bank_id=order.merchant_bank_id,
                                merchant_id=order.merchant_id)
        cash = order.total - order.points_value
        legs += [Leg(escrow, -order.total, order)]
        if cash:
            legs.append(Leg(clearing, cash, order))
        legs += points_legs(checkout, order, order.points_value)
    ledger_post(kind="capture", reference=payment.intent_id or payment.idempotency_key,
                legs=legs, memo=f"checkout {checkout.number}", checkout=checkout)


def points_legs(checkout: Checkout, order: Order, value: Decimal) -> list[Leg]:
    """The storefront bank pays ``value`` of the order with its customer's points (its
    expense); when the merchant is another bank's, it owes that bank for it. Negate the
    legs' amounts to reverse them (a refund in points)."""
    if not value:
        return []
    lender, bank = checkout.storefront_bank_id, order.merchant_bank_id
    legs = [Leg(ledger_account(kind=AccountKind.POINTS_EXPENSE, bank_id=lender), value, order)]
    if lender != bank:
        legs += [
            Leg(ledger_account(kind=AccountKind.INTERBANK_PAYABLE, bank_id=lender,
                               counterparty_id=bank), -value, order),
            Leg(ledger_account(kind=AccountKind.INTERBANK_RECEIVABLE, bank_id=bank,
                               counterparty_id=lender), value, order),
        ]
    return legs


def _book_refund(refund: Refund, cash_legs: list[Leg] | None = None) -> None:
    """Money back to the card (or ``cash_legs``: back at a branch desk). Before
    settlement it comes out of the merchant's escrow;
    after, it is a clawback from what the bank owes the merchant (which may go negative
    and is then carried into the next payouts)."""
    order = refund.order
    clearing = ledger_account(kind=AccountKind.CARD_CLEARING, bank_id=order.merchant_bank_id)
    settled = SettlementItem.objects.filter(order=order).exists()
    source = ledger_account(
        kind=AccountKind.MERCHANT_PAYABLE if settled else AccountKind.ESCROW,
        bank_id=order.merchant_bank_id, merchant_id=order.merchant_id)
    # Cash back to the card; the part paid with points back to the bank that paid it.
    cash = refund.amount - refund.points_amount
    legs = [Leg(source, refund.amount, order)]
    if cash_legs is not None:
        legs += cash_legs
    elif cash:
        legs.append(Leg(clearing, -cash, order))
    legs += [Leg(leg.account, -leg.amount, order) for leg in
             points_legs(order.checkout, order, refund.points_amount)]
    ledger_post(kind="clawback" if settled else "refund", reference=str(refund.pk),
                legs=legs, memo=f"refund of {order.number}", refund=refund)
