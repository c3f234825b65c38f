"""Repayments: allocation over the schedule, at settlement (order financing) and by
card (with the reconciliation of answers the gateway lost)."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from banks.models import Bank
from catalog.models import MerchantMember
from core.errors import ApplicationError
from core.idempotency import (
    idempotency_check,
    idempotency_find,
    idempotency_forget,
    idempotency_mismatch,
    idempotency_record,
    key_owner,
)
from core.models import IdempotencyKey
from core.writes import lock, recorded_by_the_row, transition
from lending.models import (
    Loan,
    LoanRepayment,
    LoanStatus,
    PartyKind,
    Product,
    RepaymentSource,
    RepaymentStatus,
)
from lending.services._common import ZERO, K, _event, _in_bank, _loan_transition, _today
from lending.services.loans import (
    Due,
    _accrual_date,
    _accrue_line,
    _interest_due,
    _lines_to_pay,
    _penalty_due,
    _unpaid_principal,
    loan_amount_due,
)
from lending.services.pledges import (
    pledge_loan_selling,
    pledge_release_repaid,
    pledge_sale_orders,
)
from orders.models import Order
from payments import services as payment_services
from payments.interfaces import Repayment
from payments.services import Leg, ledger_account, ledger_post

log = logging.getLogger(__name__)


def _allocate(loan: Loan, amount: Decimal, as_of: date, *, everything: bool) -> Due:
    """Apply ``amount`` to the loan: per instalment, oldest first, penalty then interest
    then principal. Saves the lines; returns what was taken of each."""
    left = amount
    took_p = took_i = took_pen = ZERO
    now = timezone.now()
    for line in _lines_to_pay(loan, as_of, everything=everything, lock=True):
        _accrue_line(loan, line, _accrual_date(loan, as_of))
        pen = min(left, _penalty_due(line))
        left -= pen
        interest = min(left, _interest_due(loan, line, as_of))
        left -= interest
        principal = min(left, _unpaid_principal(line))
        left -= principal
        line.penalty_paid += pen
        line.interest_paid += interest
        line.principal_paid += principal
        if (_unpaid_principal(line) == 0 and _interest_due(loan, line, as_of) == 0
                and _penalty_due(line) == 0):
            line.paid_at = now
        line.save()
        took_p, took_i, took_pen = took_p + principal, took_i + interest, took_pen + pen
    return Due(took_p, took_i, took_pen)


def _after_repayment(loan: Loan, *, actor_id: int | None, as_of: date) -> None:
    pledge_release_repaid(loan=loan, actor_id=actor_id)
    if not loan.lines.filter(paid_at__isnull=True).exists():
        _loan_transition(loan, "repay", actor_id=actor_id)
    elif loan.status == LoanStatus.OVERDUE and not loan.lines.filter(
            paid_at__isnull=True, due_date__lt=as_of).exists():
        loan.days_overdue, loan.bucket = 0, ""
        _loan_transition(loan, "cure", actor_id=actor_id)


def financed_orders_among(orders: list[Order]) -> set[int]:
    """Of a chunk of orders being settled, those with open order financing: one query
    per merchant bank (each bank's loans are in its own schema). Settlement asks
    ``repayments_at_settlement`` about these orders only."""
    by_bank: dict[int, list[int]] = {}
    for order in orders:
        by_bank.setdefault(order.merchant_bank_id, []).append(order.pk)
    found: set[int] = set()
    schemas = dict(Bank.objects.filter(pk__in=list(by_bank)).values_list("pk", "schema_name"))
    for bank_id, ids in by_bank.items():
        with schema_context(schemas[bank_id]):
            found.update(Loan.objects.filter(
                order_id__in=ids, product=Product.ORDER_FINANCING,
                status__in=[LoanStatus.ACTIVE, LoanStatus.OVERDUE]).values_list(
                "order_id", flat=True))
            found.update(pledge_sale_orders(ids))
    return found


def repayments_at_settlement(order: Order, available: Decimal) -> list[Repayment]:
    """The repayment provider settlement calls (registered in ``LendingConfig.ready``):
    an order financed by the merchant's bank repays its loan first, as far as the order's
    released escrow reaches; so does an order of a defaulted pledge loan's goods. Runs
    inside the settlement's transaction and enters the lending bank's schema explicitly."""
    bank = Bank.objects.get(pk=order.merchant_bank_id)
    with schema_context(bank.schema_name):
        loan = (Loan.objects.select_for_update()
                .filter(order_id=order.pk, product=Product.ORDER_FINANCING,
                        status__in=[LoanStatus.ACTIVE, LoanStatus.OVERDUE]).first())
        if loan is None:  # a defaulted pledge loan whose goods this order sold
            loan = pledge_loan_selling(order)
        if loan is None:
            return []
        if loan.repayments.filter(status=RepaymentStatus.PENDING).exists():
            # The shop is repaying it by card right now: taking it here as well could
            # repay it twice. The order is paid out whole; what the card leaves unpaid is
            # taken from the shop's next settled order of this loan or stays owed.
            _event(loan=loan, action="skip_settlement", actor_id=None,
                   detail={"order": order.number, "reason": "card repayment in progress"})
            return []
        as_of = _today()
        due = loan_amount_due(loan=loan, as_of=as_of,
                              everything=loan.product == Product.PLEDGE)  # all of it
        amount = min(due.total, available)
        if amount <= 0:
            return []
        took = _allocate(loan, amount, as_of, everything=True)
        LoanRepayment.objects.create(
            loan=loan, source=RepaymentSource.SETTLEMENT,
            idempotency_key=f"settle:{bank.pk}:{order.pk}:{loan.pk}", amount=amount,
            principal=took.principal, interest=took.interest, penalty=took.penalty,
            reference=f"order:{order.pk}", at=timezone.now())
        _event(loan=loan, action="repay_settlement", actor_id=None,
               detail={"order": order.number, "amount": str(amount)})
        _after_repayment(loan, actor_id=None, as_of=as_of)
        return [Repayment(lender_bank_id=bank.pk, principal=took.principal,
                          interest=took.interest + took.penalty, reference=loan.number)]


def loan_repay_by_card(*, bank: Bank, loan: Loan, payer, card: payment_services.Card,
                       idempotency_key: str, everything: bool = False,
                       fingerprint: str = "") -> LoanRepayment:
    """The borrower repays by card: overdue instalments and the next one (or the whole
    loan). The repayment row is committed before the gateway is called. A shop's loan
    (order financing that settlement did not cover) is repaid by any member of the shop;
    a buyer's by the buyer."""
    _in_bank(bank)
    key = (idempotency_key or "").strip()
    if not key or len(key) > 60:
        raise ValidationError({"idempotency_key": [_("A payment needs an idempotency key.")]})
    owner = key_owner(bank=bank, user=payer)
    earlier = idempotency_find(scope=LoanRepayment.KEY_SCOPE, owner=owner, key=key)
    if earlier is not None:
        return _repayment_replay(earlier, loan=loan, fingerprint=fingerprint)
    try:
        with transaction.atomic():
            loan = Loan.objects.select_for_update().get(pk=loan.pk)
            # The same key sent twice at once: the first is committed now.
            earlier = idempotency_find(scope=LoanRepayment.KEY_SCOPE, owner=owner, key=key)
            if earlier is not None:
                return _repayment_replay(earlier, loan=loan, fingerprint=fingerprint)
            if not _may_repay(loan, payer):
                raise ApplicationError(_("This loan is not yours."), code="not_found")
            if loan.status not in (LoanStatus.ACTIVE, LoanStatus.OVERDUE):
                raise ApplicationError(_("This loan is closed."), code="illegal_transition")
            if loan.repayments.filter(status=RepaymentStatus.PENDING).exists():
                raise ApplicationError(_("A repayment of this loan is in progress."),
                                       code="payment_in_progress")
            due = loan_amount_due(loan=loan, everything=everything)
            if due.total <= 0:
                raise ApplicationError(_("Nothing of this loan is due now."),
                                       code="nothing_due")
            repayment = LoanRepayment.objects.create(
                loan=loan, source=RepaymentSource.CARD,
                idempotency_key=f"card:u{payer.pk}:{key}", amount=due.total,
                status=RepaymentStatus.PENDING, actor_id=payer.pk, at=timezone.now())
            record = idempotency_record(scope=LoanRepayment.KEY_SCOPE, owner=owner, key=key,
                                        fingerprint=fingerprint, target_id=repayment.pk)
    except IntegrityError:  # the same key, at the same moment, for another loan
        earlier = idempotency_find(scope=LoanRepayment.KEY_SCOPE, owner=owner, key=key)
        if earlier is None:
            raise
        return _repayment_replay(earlier, loan=loan, fingerprint=fingerprint)
    try:
        charge = payment_services.card_charge(
            amount=repayment.amount, card=card, idempotency_key=_charge_key(bank, repayment),
            description=f"repayment of loan {loan.number}",
            metadata={"loan": loan.number, "bank": bank.code})
    except ValidationError:
        # The card details were refused before the gateway was called: nothing was
        # charged, so nothing is kept (and the loan is not left "in progress"; the key
        # is free again).
        with transaction.atomic():
            LoanRepayment.objects.filter(pk=repayment.pk,
                                         status=RepaymentStatus.PENDING).delete()
            idempotency_forget(record)
        raise
    except ApplicationError:  # the gateway refused the request: nothing was charged
        LoanRepayment.objects.filter(pk=repayment.pk).update(
            status=LoanRepayment.STATES.target(repayment.status, "fail"),
            message=_("The card service did not answer."))
        raise
    return _settle_card_repayment(bank, repayment, charge)


def _repayment_replay(earlier: IdempotencyKey, *, loan: Loan,
                      fingerprint: str) -> LoanRepayment:
    """A request with a key used before: the first repayment if it is the same request
    and has its answer; 422 for another request, 409 while the first is in flight."""
    existing = LoanRepayment.objects.get(pk=earlier.target_id)
    if existing.loan_id != loan.pk:
        raise idempotency_mismatch()
    idempotency_check(stored=earlier.fingerprint, fingerprint=fingerprint,
                      in_flight=existing.status == RepaymentStatus.PENDING)
    return existing


def _charge_key(bank: Bank, repayment: LoanRepayment) -> str:
    return f"loan-repay:{bank.pk}:{repayment.pk}"


def _may_repay(loan: Loan, payer) -> bool:
    if loan.party == PartyKind.MERCHANT:
        return MerchantMember.objects.filter(merchant_id=loan.merchant_id, user=payer).exists()
    return loan.user_id == payer.pk


def _settle_card_repayment(bank: Bank, repayment: LoanRepayment, charge) -> LoanRepayment:
    """Apply the gateway's answer to a pending card repayment, once."""
    with transaction.atomic():
        repayment = lock(repayment)
        if repayment.status != RepaymentStatus.PENDING:
            return repayment
        if charge.unknown:  # stays pending: ``loan_repayments_reconcile`` finds out
            repayment.message = charge.message[:300]
            repayment.save(update_fields=["message"])
            return repayment
        repayment.reference = charge.intent_id
        if not charge.succeeded:
            repayment.message = charge.message[:300]
            transition(repayment, "fail", audit=recorded_by_the_row)
            return repayment
        # The loan cannot have closed meanwhile: a pending repayment blocks other
        # repayments and write-off, and settlement skips a loan with one.
        loan = Loan.objects.select_for_update().get(pk=repayment.loan_id)
        as_of = _today()
        # Oldest first over the whole loan: the amount (quoted as due, or as everything)
        # is used up by exactly the lines it was quoted for.
        took = _allocate(loan, repayment.amount, as_of, everything=True)
        if took.total != repayment.amount:  # cannot happen (see above); never hidden
            log.error("repayment %s of %s: charged %s, applied %s", repayment.pk, loan.number,
                      repayment.amount, took.total)
        repayment.principal, repayment.interest, repayment.penalty = (
            took.principal, took.interest, took.penalty + repayment.amount - took.total)
        transition(repayment, "succeed", audit=recorded_by_the_row)
        legs = [Leg(ledger_account(kind=K.CARD_CLEARING, bank_id=bank.pk), repayment.amount)]
        if repayment.principal:
            legs.append(Leg(ledger_account(kind=K.LOAN_PRINCIPAL, bank_id=bank.pk),
                            -repayment.principal))
        if repayment.interest + repayment.penalty:
            legs.append(Leg(ledger_account(kind=K.LOAN_INTEREST, bank_id=bank.pk),
                            -(repayment.interest + repayment.penalty)))
        ledger_post(kind="loan_repay", reference=f"{bank.pk}:{repayment.idempotency_key}",
                    legs=legs, memo=f"repayment of {loan.number}")
        _event(loan=loan, action="repay_card", actor_id=repayment.actor_id,
               detail={"amount": str(repayment.amount), "intent": charge.intent_id})
        _after_repayment(loan, actor_id=repayment.actor_id, as_of=as_of)
    return repayment


def loan_repayments_reconcile(*, bank: Bank, older_than_seconds: int = 300) -> int:
    """Card repayments still pending a while after they started (the gateway's answer was
    lost, or the process stopped): ask the gateway what happened and apply it."""
    _in_bank(bank)
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    changed = 0
    for repayment in LoanRepayment.objects.filter(status=RepaymentStatus.PENDING,
                                                  source=RepaymentSource.CARD, at__lte=cutoff):
        try:
            charge = payment_services.card_charge_find(
                idempotency_key=_charge_key(bank, repayment))
        except payment_services.GatewayUnavailable as exc:
            log.warning("reconciling repayment %s: %s", repayment.pk, exc)
            continue
        changed += _settle_card_repayment(bank, repayment, charge).status != RepaymentStatus.PENDING
    return changed
