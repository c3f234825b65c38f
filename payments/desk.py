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

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Branch
from banks.selectors import membership_for
from core.errors import ApplicationError
from orders import services as order_services
from orders.models import Checkout, Fulfilment
from payments.desk_cash import cash_legs
from payments.ledger import Leg, ledger_account, ledger_post
from payments.models import AccountKind, DeskPayment
from payments.services import checkout_assert_payable, points_legs


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


