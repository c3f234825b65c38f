"""Financing applications and their state machine (``Application.STATES``):
order financing for merchants, officers' decisions (maker-checker), and disbursement
(the loan created and the money moved)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from core.errors import ApplicationError
from core.money import quantize_money
from lending import calc
from lending.models import (
    FINANCEABLE,
    Application,
    ApplicationStatus,
    InterestMode,
    Loan,
    PartyKind,
    Product,
    ScheduleLine,
)
from lending.services._common import K, _app_transition, _event, _in_bank, _today
from lending.services.credit import _lock_borrower, _profile_for_decision, credit_of
from lending.services.pledges import pledge_on_disburse
from lending.services.policy import policy_get
from orders.models import Checkout, Order
from payments.models import SettlementItem
from payments.services import Leg, ledger_account, ledger_post

# FINANCEABLE (the orders that may be financed) is in lending.models, below the selectors.

def order_financing_quote(*, bank: Bank, order: Order) -> dict:
    """What the bank would advance on this order, and at what rate."""
    _in_bank(bank)
    policy = policy_get()
    credit = credit_of(party=PartyKind.MERCHANT, party_id=order.merchant_id)
    value = order.total - order.refunded_total
    most = quantize_money(value * policy.advance_ratio)
    rate = credit.profile.rate if credit.profile and credit.profile.consented else None
    return {"order_value": value, "advance_ratio": policy.advance_ratio, "max_advance": most,
            "term_days": policy.order_financing_days, "rate": rate,
            "available": credit.available, "profile": credit.profile,
            "est_interest": quantize_money(calc.day_interest(
                most, rate, policy.order_financing_days)) if rate else None}


def _check_financeable(bank: Bank, order: Order) -> None:
    if order.merchant_bank_id != bank.pk:
        raise ApplicationError(_("Only the merchant's own bank finances its orders."),
                               code="not_found")
    if order.status not in FINANCEABLE:
        raise ApplicationError(_("Only a paid order that is not being refunded can be "
                                 "financed."), code="not_financeable")
    if SettlementItem.objects.filter(order_id=order.pk).exists():
        raise ApplicationError(_("This order is settled already."), code="not_financeable")


@transaction.atomic
def order_financing_apply(*, bank: Bank, order: Order, actor,
                          amount: Decimal | None = None) -> Application:
    """A merchant asks the bank to advance part of a paid, unsettled order. Decided at
    once when the tier allows and the limit covers it; otherwise it waits for review."""
    _in_bank(bank)
    order = Order.objects.select_for_update().get(pk=order.pk)
    _check_financeable(bank, order)
    _lock_borrower(PartyKind.MERCHANT, order.merchant_id)
    policy = policy_get()
    quote = order_financing_quote(bank=bank, order=order)
    amount = quote["max_advance"] if amount in (None, "") else quantize_money(amount)
    if amount <= 0 or amount > quote["max_advance"]:
        raise ValidationError({"amount": [
            _("Ask for up to %(most)s yuan (%(ratio)s%% of the order).")
            % {"most": quote["max_advance"], "ratio": int(policy.advance_ratio * 100)}]})
    credit = credit_of(party=PartyKind.MERCHANT, party_id=order.merchant_id)
    profile = _profile_for_decision(credit)
    if Application.objects.filter(order_id=order.pk, status__in=[
            ApplicationStatus.IN_REVIEW, ApplicationStatus.AWAITING_SECOND,
            ApplicationStatus.APPROVED, ApplicationStatus.DISBURSED]).exists():
        raise ApplicationError(_("This order is financed or being reviewed already."),
                               code="already_financed")
    app = Application(product=Product.ORDER_FINANCING, party=PartyKind.MERCHANT,
                      merchant_id=order.merchant_id, user_id=actor.pk, order_id=order.pk,
                      amount=amount, term_days=policy.order_financing_days, rate=profile.rate,
                      score=profile.score, tier=profile.tier, limit=profile.limit,
                      available=credit.available, status="")
    automatic = (profile.tier in policy.auto_tiers and amount <= credit.available
                 and amount <= policy.second_approval_over)
    if automatic:
        app.auto_decided = True
        _app_transition(app, "auto_approve", actor_id=None,
                        note=_("Within the limit and tier: approved automatically."))
        return _disburse(bank, app, actor_id=None)
    _app_transition(app, "submit", actor_id=actor.pk)
    return app


@transaction.atomic
def application_decide(*, bank: Bank, application: Application, officer, approve: bool,
                       note: str = "") -> Application:
    """A credit officer's decision. Approvals above the bank's threshold, or above the
    party's available limit, need a second, different officer (maker-checker)."""
    _in_bank(bank)
    app = Application.objects.select_for_update().get(pk=application.pk)
    _lock_borrower(app.party, app.merchant_id if app.party == PartyKind.MERCHANT
                   else app.user_id)
    note = (note or "").strip()
    if not approve:
        if not note:
            raise ValidationError({"note": [_("Say why the application is rejected.")]})
        return _app_transition(app, "reject", actor_id=officer.pk, note=note)
    policy = policy_get()
    key = "merchant_id" if app.party == PartyKind.MERCHANT else "user_id"
    credit = credit_of(party=app.party, party_id=getattr(app, key))
    # A pledge loan is secured by the goods: the unsecured limit does not bound it.
    needs_two = app.amount > policy.second_approval_over or (
        app.product != Product.PLEDGE and app.amount > credit.available)
    if app.status == ApplicationStatus.AWAITING_SECOND:
        if app.first_approver_id == officer.pk:
            raise ApplicationError(_("The second approval must come from another officer."),
                                   code="same_officer")
        _app_transition(app, "approve_second", actor_id=officer.pk, note=note)
    elif app.status == ApplicationStatus.IN_REVIEW and needs_two:
        app.first_approver_id = officer.pk
        return _app_transition(app, "approve_first", actor_id=officer.pk, note=note)
    else:
        _app_transition(app, "approve", actor_id=officer.pk, note=note)
    return _disburse(bank, app, actor_id=officer.pk)


def _loan_number(bank: Bank, loan: Loan) -> str:
    """Readable and unique across the province: L + the bank + the day + the row id (row
    ids are per bank schema)."""
    return f"L{bank.pk:03d}{timezone.localtime(loan.disbursed_at):%y%m%d}{loan.pk:07d}"


def _disburse(bank: Bank, app: Application, *, actor_id: int | None) -> Application:
    """Create the loan and move the money (inside the caller's transaction)."""
    policy = policy_get()
    start = _today()
    if app.product == Product.ORDER_FINANCING:
        order = Order.objects.select_for_update().get(pk=app.order_id)
        _check_financeable(bank, order)
        # A refund while the application waited lowers what may be advanced.
        most = order_financing_quote(bank=bank, order=order)["max_advance"]
        if app.amount > most:
            raise ApplicationError(
                _("The order is worth less than when it was applied for (refunds): at most "
                  "%(most)s yuan can be advanced now; reject this application and apply "
                  "again.") % {"most": most}, code="not_financeable")
    if app.product == Product.PLEDGE:
        pledge_on_disburse(bank=bank, app=app, actor_id=actor_id)
    if app.product in (Product.INSTALMENTS, Product.PLEDGE):
        rows = calc.equal_instalments(app.amount, app.rate, app.months, start)
        mode = InterestMode.SCHEDULED
    else:
        due = start + timedelta(days=app.term_days)
        rows = [calc.bullet(app.amount, app.rate, start, due)]
        mode = InterestMode.DAILY
    loan = Loan.objects.create(
        application=app, number=uuid.uuid4().hex[:24], product=app.product, party=app.party,
        merchant_id=app.merchant_id, user_id=app.user_id if app.party == PartyKind.BUYER
        else None, order_id=app.order_id, checkout_id=app.checkout_id,
        receipt_id=app.receipt_id, principal=app.amount,
        rate=app.rate,
        penalty_rate=(app.rate * policy.penalty_multiplier).quantize(Decimal("0.00001")),
        interest_mode=mode, start_date=start, maturity_date=rows[-1].due_date,
        disbursed_at=timezone.now())
    loan.number = _loan_number(bank, loan)
    loan.save(update_fields=["number"])
    ScheduleLine.objects.bulk_create([
        ScheduleLine(loan=loan, seq=r.seq, due_date=r.due_date, principal=r.principal,
                     interest=r.interest, accrued_to=start) for r in rows])
    _post_disbursement(bank, app, loan)
    _app_transition(app, "disburse", actor_id=actor_id)
    _event(loan=loan, action="disburse", to_status=loan.status, actor_id=actor_id,
           detail={"principal": str(loan.principal), "rate": str(loan.rate)})
    return app


def _post_disbursement(bank: Bank, app: Application, loan: Loan) -> None:
    principal = ledger_account(kind=K.LOAN_PRINCIPAL, bank_id=bank.pk)
    ref = f"{bank.pk}:{loan.number}"
    if app.product == Product.PLEDGE:
        ledger_post(kind="loan_disburse", reference=ref, memo=f"pledge loan {loan.number}",
                    legs=[Leg(principal, loan.principal),
                          Leg(ledger_account(kind=K.MERCHANT_PAYABLE, bank_id=bank.pk,
                                             merchant_id=app.merchant_id), -loan.principal)])
        return
    if app.product == Product.ORDER_FINANCING:
        order = Order.objects.get(pk=app.order_id)
        ledger_post(kind="loan_disburse", reference=ref, memo=f"advance on {order.number}",
                    legs=[Leg(principal, loan.principal, order),
                          Leg(ledger_account(kind=K.MERCHANT_PAYABLE, bank_id=bank.pk,
                                             merchant_id=order.merchant_id),
                              -loan.principal, order)])
        return
    checkout = Checkout.objects.get(pk=app.checkout_id)
    legs = [Leg(principal, loan.principal)]
    for order in checkout.orders.order_by("pk"):
        escrow = ledger_account(kind=K.ESCROW, bank_id=order.merchant_bank_id,
                                merchant_id=order.merchant_id)
        legs.append(Leg(escrow, -order.total, order))
        if order.merchant_bank_id != bank.pk:
            legs += [
                Leg(ledger_account(kind=K.INTERBANK_PAYABLE, bank_id=bank.pk,
                                   counterparty_id=order.merchant_bank_id), -order.total, order),
                Leg(ledger_account(kind=K.INTERBANK_RECEIVABLE, bank_id=order.merchant_bank_id,
                                   counterparty_id=bank.pk), order.total, order),
            ]
    ledger_post(kind="loan_disburse", reference=ref, legs=legs, checkout=checkout,
                memo=f"{app.get_product_display()} of checkout {checkout.number}")
