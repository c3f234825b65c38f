"""Paying at a branch's on-site payment desk, and cash refunds of what was paid there.

Staff of the bank that runs the branch take the money (cash or the branch's own terminal)
and record the receipt number. Ledger (kind ``desk_capture``), per order of the checkout:
the branch's bank holds the cash (``BRANCH_CASH``, an asset); the merchant's escrow at its
own bank is credited with the order's total; when the merchant is another bank's, the
branch's bank owes that bank the cash (``INTERBANK_PAYABLE`` / ``INTERBANK_RECEIVABLE``),
like the points the storefront bank pays (``points_legs``, booked alongside). A refund
of a desk-paid order gives the cash back at the desk and reverses those legs.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Branch
from banks.selectors import membership_for
from core.errors import ApplicationError
from orders import services as order_services
from orders.models import Checkout, Fulfilment, Order, Refund
from payments.models import AccountKind, DeskPayment
from payments.services import (
    Leg,
    checkout_assert_payable,
    ledger_account,
    ledger_post,
    points_legs,
)


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


def checkout_pay_at_desk(*, checkout: Checkout, staff, branch: Branch,
                         receipt_number: str) -> DeskPayment:
    """The customer pays the checkout's cash due at ``branch``'s desk. Only staff of the
    branch's bank, only for a checkout whose goods are all picked up at that bank's
    branches (and, for an assisted order, once the customer confirmed it)."""
    receipt_number = (receipt_number or "").strip()
    if not receipt_number or len(receipt_number) > 40:
        raise ValidationError({"receipt_number": [
            _("Enter the desk receipt number (up to 40 characters).")]})
    if membership_for(user=staff, bank=branch.bank) is None:
        raise ApplicationError(_("No such checkout at our branches."), code="not_found")
    with transaction.atomic():
        locked = Checkout.objects.select_for_update().get(pk=checkout.pk)
        orders = list(locked.orders.select_related("pickup_branch").order_by("pk"))
        if not orders or any(o.fulfilment != Fulfilment.PICKUP
                             or o.pickup_branch.bank_id != branch.bank_id for o in orders):
            raise ApplicationError(_("Only orders picked up at our branches can be paid at "
                                     "the desk."), code="not_found")
        checkout_assert_payable(locked)
        payment = DeskPayment.objects.create(checkout=locked, branch=branch, staff=staff,
                                             amount=locked.cash_due,
                                             receipt_number=receipt_number,
                                             at=timezone.now())
        order_services.checkout_mark_paid(checkout=locked)
        legs: list[Leg] = []
        for order in orders:
            escrow = ledger_account(kind=AccountKind.ESCROW, bank_id=order.merchant_bank_id,
                                    merchant_id=order.merchant_id)
            legs.append(Leg(escrow, -order.total, order))
            legs += cash_legs(branch.bank_id, order, order.total - order.points_value)
            legs += points_legs(locked, order, order.points_value)
        ledger_post(kind="desk_capture", reference=str(payment.pk), legs=legs,
                    memo=f"checkout {locked.number} at {branch.code}", checkout=locked)
    return payment


def desk_payment_of(order: Order) -> DeskPayment | None:
    return (DeskPayment.objects.select_related("branch")
            .filter(checkout_id=order.checkout_id).first())


def refund_cash_at_desk(refund: Refund, desk: DeskPayment) -> tuple[str, list[Leg]]:
    """The refund's cash part is handed back at the desk that took it: the reference and
    the cash legs for the refund's ledger transaction."""
    legs = [Leg(leg.account, -leg.amount, leg.order)
            for leg in cash_legs(desk.branch.bank_id, refund.order, refund.cash_amount)]
    return f"desk:{desk.branch.code}:{desk.receipt_number}", legs
