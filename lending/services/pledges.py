"""Warehouse receipt pledge loans (仓单质押): a merchant pledges a receipt it holds to the
bank that issued it. The application is always reviewed by credit officers (the
maker-checker of ``application_decide``); on approval the receipt's units are pledged
(``warehouses.services.receipt_pledge``: ``Lot.pledged`` up, the SKU's sellable units
down, refused when they are reserved for orders) in the transaction that creates the loan.
The loan is repaid in equal monthly instalments; each repayment releases pledged units in
proportion to the principal repaid (rounded so that what stays pledged never covers less
than the unpaid share). A periodic check per bank raises margin calls when the unpaid
principal exceeds the bank's maintenance ratio of the pledged units' value now.

On default (an overdue loan), the bank puts the pledged goods on sale
(``pledge_collateral_sale``): their units are released, sellable in the merchant's shop,
and from then on settlement repays the loan first from every order of that SKU paid after
the sale began (``pledge_sale_orders`` and ``pledge_loan_selling``, called by the
repayment provider in ``repayments``), as it does for order financing.
"""

from __future__ import annotations

import math
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from catalog.models import MerchantMember
from core.errors import ApplicationError
from core.money import quantize_money
from core.writes import lock, transition
from lending.models import (
    Application,
    ApplicationStatus,
    Loan,
    LoanStatus,
    MarginCall,
    MarginCallStatus,
    PartyKind,
    Product,
    actor_user,
    unpaid_principal,
)
from lending.services._common import _app_transition, _event, _in_bank
from lending.services.credit import _lock_borrower, credit_of
from lending.services.policy import policy_get
from orders.models import Order, OrderLine
from warehouses import selectors as warehouse_selectors
from warehouses import services as warehouse_services
from warehouses.models import WarehouseReceipt
from warehouses.services.receipts import receipt_check_pledgeable

OPEN_STATUSES = (ApplicationStatus.IN_REVIEW, ApplicationStatus.AWAITING_SECOND,
                 ApplicationStatus.APPROVED)


def pledge_quote(*, bank: Bank, receipt: WarehouseReceipt) -> dict:
    """What the bank would lend on the receipt: its units at the platform's recent
    price, times the bank's loan-to-value ratio."""
    _in_bank(bank)
    policy = policy_get()
    price = warehouse_selectors.unit_price(sku=receipt.lot.sku)
    value = quantize_money(price * receipt.quantity)
    credit = credit_of(party=PartyKind.MERCHANT, party_id=receipt.holder_id)
    profile = credit.profile
    rate = profile.rate if profile and profile.consented and profile.rate else policy.rate_c
    return {"unit_price": price, "quantity": receipt.quantity, "value": value,
            "ltv": policy.pledge_ltv, "max_amount": quantize_money(value * policy.pledge_ltv),
            "months": policy.pledge_months, "rate": rate,
            "margin_ratio": policy.pledge_margin_ratio}


@transaction.atomic
def pledge_apply(*, bank: Bank, receipt: WarehouseReceipt, actor,
                 amount: Decimal | None = None) -> Application:
    """A member of the receipt's holder applies for a loan on it; it waits for review."""
    _in_bank(bank)
    receipt = (WarehouseReceipt.objects.select_for_update(of=("self",))
               .select_related("lot__warehouse", "lot__sku").get(pk=receipt.pk))
    if not MerchantMember.objects.filter(merchant_id=receipt.holder_id, user=actor).exists():
        raise ApplicationError(_("Only the receipt's holder pledges it."), code="not_found")
    receipt_check_pledgeable(receipt, bank=bank)
    _lock_borrower(PartyKind.MERCHANT, receipt.holder_id)
    if Application.objects.filter(receipt_id=receipt.pk, status__in=OPEN_STATUSES).exists():
        raise ApplicationError(_("A loan on this receipt is being reviewed already."),
                               code="already_financed")
    quote = pledge_quote(bank=bank, receipt=receipt)
    amount = quote["max_amount"] if amount in (None, "") else quantize_money(amount)
    if amount <= 0 or amount > quote["max_amount"]:
        raise ValidationError({"amount": [
            _("Ask for up to %(most)s yuan (%(ratio)s%% of the goods' value).")
            % {"most": quote["max_amount"], "ratio": int(quote["ltv"] * 100)}]})
    credit = credit_of(party=PartyKind.MERCHANT, party_id=receipt.holder_id)
    profile = credit.profile
    app = Application(product=Product.PLEDGE, party=PartyKind.MERCHANT,
                      merchant_id=receipt.holder_id, user_id=actor.pk, receipt_id=receipt.pk,
                      amount=amount, months=quote["months"], rate=quote["rate"],
                      score=profile.score if profile else None,
                      tier=profile.tier if profile else "D",
                      limit=profile.limit if profile else Decimal("0.00"),
                      available=credit.available, status="")

    _app_transition(app, "submit", actor_id=actor.pk,
                    note=_("Receipt %(number)s, %(n)d units worth %(value)s yuan.")
                    % {"number": receipt.number, "n": receipt.quantity,
                       "value": quote["value"]})
    return app


def pledge_on_disburse(*, bank: Bank, app: Application, actor_id: int | None) -> None:
    """Inside the disbursing transaction: the value is checked again at today's price and
    the receipt's units are pledged (refused, and the loan not made, when the units are
    reserved for orders or the warehouse is no longer approved)."""
    receipt = WarehouseReceipt.objects.select_related("lot__sku").get(pk=app.receipt_id)
    most = pledge_quote(bank=bank, receipt=receipt)["max_amount"]
    if app.amount > most:
        raise ApplicationError(
            _("The goods are worth less than when the loan was applied for: at most "
              "%(most)s yuan can be lent now; reject this application and apply again.")
            % {"most": most}, code="not_financeable")
    warehouse_services.receipt_pledge(bank=bank, receipt=receipt, actor=_user(actor_id))


def _user(user_id: int | None):
    return actor_user(user_id)


def pledge_release_repaid(*, loan: Loan, actor_id: int | None) -> int:
    """After a repayment: release the pledged units the repaid principal frees. Returns
    how many were released."""
    if loan.product != Product.PLEDGE or not loan.receipt_id:
        return 0
    receipt = WarehouseReceipt.objects.get(pk=loan.receipt_id)
    unpaid = loan.lines.aggregate(n=unpaid_principal(""))["n"]
    keep = 0 if unpaid <= 0 else math.ceil(receipt.quantity * unpaid / loan.principal)
    release = receipt.pledged - min(keep, receipt.pledged)
    if release > 0:
        warehouse_services.receipt_release(receipt=receipt, quantity=release,
                                           actor=_user(actor_id),
                                           note=_("Loan %(number)s repaid in part")
                                           % {"number": loan.number})
    return release


def pledge_margin_check(*, bank: Bank) -> int:
    """The periodic check (per bank): a margin call for each open pledge loan whose
    unpaid principal is above the maintenance ratio of its pledged units' value now;
    an open call is cured when the ratio is back. Returns the calls raised."""
    _in_bank(bank)
    policy = policy_get()
    raised = 0
    loans = Loan.objects.filter(product=Product.PLEDGE,
                                status__in=[LoanStatus.ACTIVE, LoanStatus.OVERDUE])
    for loan in loans.order_by("pk"):
        with transaction.atomic():
            loan = Loan.objects.select_for_update().get(pk=loan.pk)
            receipt = WarehouseReceipt.objects.select_related("lot__sku").get(pk=loan.receipt_id)
            price = warehouse_selectors.unit_price(sku=receipt.lot.sku)
            value = quantize_money(price * receipt.pledged)
            unpaid = loan.lines.aggregate(n=unpaid_principal(""))["n"]
            short = unpaid > value * policy.pledge_margin_ratio
            call = (MarginCall.objects.select_for_update()
                    .filter(loan=loan, status=MarginCallStatus.OPEN).first())
            if short and call is None:
                MarginCall.objects.create(loan=loan, value=value, unpaid=unpaid,
                                          unit_price=price, raised_at=timezone.now())
                raised += 1
            elif not short and call is not None:
                _call_transition(call, "cure", actor_id=None,
                                 note=_("The pledged goods cover the loan again."))
    return raised


def _call_transition(call: MarginCall, action: str, *, actor_id: int | None,
                     note: str) -> MarginCall:
    call.note, call.closed_by_id, call.closed_at = note[:300], actor_id, timezone.now()
    transition(call, action, actor_id=actor_id, note=note, at=call.closed_at,
               message=_("This margin call is closed already."))
    return call


@transaction.atomic
def margin_call_close(*, bank: Bank, call: MarginCall, officer, note: str) -> MarginCall:
    """A credit officer closes a margin call with what was agreed (more goods pledged,
    a repayment, a sale)."""
    _in_bank(bank)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": [_("Say how the margin call was settled.")]})
    return _call_transition(lock(call), "close", actor_id=officer.pk, note=note)


OPEN_LOANS = (LoanStatus.ACTIVE, LoanStatus.OVERDUE)


@transaction.atomic
def pledge_collateral_sale(*, bank: Bank, loan: Loan, actor, note: str) -> Loan:
    """The borrower defaulted: the bank sells the pledged goods through the platform.
    Their units are released (sellable in the merchant's shop) and settlement repays the
    loan first from every order of them paid from now on. Only an overdue pledge loan,
    once."""
    _in_bank(bank)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": [_("Say why the goods are sold.")]})
    loan = Loan.objects.select_for_update().get(pk=loan.pk)
    if (loan.product != Product.PLEDGE or loan.status != LoanStatus.OVERDUE
            or loan.collateral_sale_at is not None):
        raise ApplicationError(_("Only an overdue pledge loan's goods are sold, and once."),
                               code="illegal_transition")
    receipt = WarehouseReceipt.objects.get(pk=loan.receipt_id)
    units = receipt.pledged
    if units:
        warehouse_services.receipt_release(
            receipt=receipt, quantity=units, actor=actor,
            note=_("Loan %(number)s in default: the goods are sold, the proceeds repay it "
                   "first") % {"number": loan.number})
    loan.collateral_sale_at = timezone.now()
    loan.save(update_fields=["collateral_sale_at"])
    _event(loan=loan, action="collateral_sale", actor_id=actor.pk, note=note,
           detail={"receipt": receipt.number, "units": units})
    return loan


def _selling() -> list[tuple[Loan, int]]:
    """The open pledge loans whose goods are on sale, with their SKU (in the bank's
    schema)."""
    loans = list(Loan.objects.filter(product=Product.PLEDGE, status__in=OPEN_LOANS,
                                     collateral_sale_at__isnull=False).order_by("pk"))
    skus = dict(WarehouseReceipt.objects.filter(pk__in=[ln.receipt_id for ln in loans])
                .values_list("pk", "lot__sku_id"))
    return [(ln, skus[ln.receipt_id]) for ln in loans if ln.receipt_id in skus]


def pledge_sale_orders(order_ids: list[int]) -> set[int]:
    """Of these orders (in the bank's schema), those whose proceeds repay a pledge loan
    on sale: an order of the loan's merchant with a line of its SKU, paid after the sale
    began."""
    found: set[int] = set()
    for loan, sku_id in _selling():
        found.update(OrderLine.objects.filter(
            order_id__in=order_ids, sku_id=sku_id, order__merchant_id=loan.merchant_id,
            order__paid_at__gte=loan.collateral_sale_at).values_list("order_id", flat=True))
    return found


def pledge_loan_selling(order: Order) -> Loan | None:
    """The pledge loan on sale (locked) that ``order``'s proceeds repay first, if any."""
    for loan, sku_id in _selling():
        if (loan.merchant_id == order.merchant_id and order.paid_at is not None
                and order.paid_at >= loan.collateral_sale_at
                and OrderLine.objects.filter(order=order, sku_id=sku_id).exists()):
            return Loan.objects.select_for_update().get(pk=loan.pk)
    return None
