"""Cash at a branch desk in the ledger: what a desk took in, and giving it back there.
Below both ``payments.services`` (a refund of a checkout paid at a desk goes back in cash)
and ``payments.desk`` (paying at the desk), which import it."""

from __future__ import annotations

from decimal import Decimal

from orders.models import Order, Refund
from payments.ledger import Leg, ledger_account
from payments.models import AccountKind, DeskPayment


def cash_legs(branch_bank_id: int, order: Order, cash: Decimal) -> list[Leg]:
    """``cash`` of ``order`` taken in at a desk of ``branch_bank_id`` (negate to give it
    back): the branch's cash against the merchant's bank (inter-bank when they differ).
    The escrow leg is the caller's."""
    if not cash:
        return []
    merchant_bank = order.merchant_bank_id
    legs = [Leg(ledger_account(kind=AccountKind.BRANCH_CASH, bank_id=branch_bank_id), cash,
                order)]
    if branch_bank_id != merchant_bank:
        legs += [
            Leg(ledger_account(kind=AccountKind.INTERBANK_PAYABLE, bank_id=branch_bank_id,
                               counterparty_id=merchant_bank), -cash, order),
            Leg(ledger_account(kind=AccountKind.INTERBANK_RECEIVABLE, bank_id=merchant_bank,
                               counterparty_id=branch_bank_id), cash, order),
        ]
    return legs


def desk_payment_of(order: Order) -> DeskPayment | None:
    return (DeskPayment.objects.select_related("branch")
            .filter(checkout_id=order.checkout_id).first())


def refund_cash_at_desk(refund: Refund, desk: DeskPayment) -> tuple[str, list[Leg]]:
    """The refund's cash part is handed back at the desk that took it: the reference and
    the cash legs for the refund's ledger transaction."""
    legs = [Leg(leg.account, -leg.amount, leg.order)
            for leg in cash_legs(desk.branch.bank_id, refund.order, refund.cash_amount)]
    return f"desk:{desk.branch.code}:{desk.receipt_number}", legs
