"""The cash part of a points-plus-cash redemption: paid by card under the card contract,
and reconciled when the gateway's answer was lost.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from core.errors import ApplicationError, ConflictError
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
from payments.models import AccountKind
from payments.services import (
    GatewayUnavailable,
    Leg,
    card_charge,
    card_charge_find,
    ledger_account,
    ledger_post,
)
from rewards.models import Redemption, RedemptionPayment, RedemptionPaymentStatus, RedemptionStatus
from rewards.services._common import _in_bank

log = logging.getLogger(__name__)


def _charge_key(bank: Bank, payment: RedemptionPayment) -> str:
    return f"mall:{bank.pk}:{payment.redemption_id}:{payment.attempt}"


def redemption_pay_cash(*, bank: Bank, redemption: Redemption, user, card,
                        idempotency_key: str = "", fingerprint: str = "") -> Redemption:
    """Pay the cash part of a points-plus-cash redemption by card; then it is ready for
    pickup. A declined card leaves it waiting (pay again, or cancel it to get the points
    back).

    The card contract (``payments.services.card_charge``): the attempt is committed as a
    pending ``RedemptionPayment`` before the gateway is called, under a key derived from
    the redemption and the attempt number. The redemption row is locked meanwhile, so a
    second payment at the same moment waits, then finds it paid (and returns it) or in
    flight (``ConflictError``, 409). When the gateway's answer is lost, the attempt stays
    pending (``ApplicationError`` with code payment_unknown) until
    ``redemption_payments_reconcile`` finds out what became of the charge.

    ``idempotency_key`` (the client's key) and ``fingerprint`` (of its request) make a
    repeated request replay the first: the redemption as it is now."""
    _in_bank(bank)
    key = (idempotency_key or "").strip()
    if len(key) > 60:
        raise ValidationError({"idempotency_key": [_("A payment needs an idempotency key.")]})
    owner = key_owner(bank=bank, user=user)
    try:
        with transaction.atomic():
            row = Redemption.objects.select_for_update().get(pk=redemption.pk)
            if row.user_id != user.pk:
                raise ApplicationError(_("This redemption is not yours."), code="not_found")
            earlier = idempotency_find(scope=RedemptionPayment.KEY_SCOPE, owner=owner,
                                       key=key)
            if earlier is not None:
                return _replay(earlier, row, fingerprint=fingerprint)
            if row.payments.filter(status=RedemptionPaymentStatus.PENDING).exists():
                raise ConflictError(_("A payment of this redemption is in progress; wait for "
                                      "its result."), code="payment_in_progress")
            if row.payment_reference:  # paid meanwhile (by a request sent at the same time)
                return row
            if row.status != RedemptionStatus.AWAITING_CASH:
                raise ApplicationError(_("Nothing is left to pay for this redemption."),
                                       code="illegal_transition")
            payment = RedemptionPayment.objects.create(
                redemption=row, attempt=row.payments.count() + 1, amount=row.cash,
                actor_id=user.pk, at=timezone.now())
            record = idempotency_record(
                scope=RedemptionPayment.KEY_SCOPE, owner=owner, key=key,
                fingerprint=fingerprint, target_id=payment.pk) if key else None
    except IntegrityError:  # the same key, at the same moment, for another redemption
        earlier = idempotency_find(scope=RedemptionPayment.KEY_SCOPE, owner=owner, key=key)
        if earlier is None:
            raise
        return _replay(earlier, Redemption.objects.get(pk=redemption.pk),
                       fingerprint=fingerprint)
    # Committed: a retry, a second request and the reconciliation task all find it.
    try:
        charge = card_charge(amount=payment.amount, card=card,
                             idempotency_key=_charge_key(bank, payment),
                             description=f"points mall redemption {row.pk}",
                             metadata={"bank": bank.code, "redemption": str(row.pk)})
    except ValidationError:  # the card was refused before the gateway was called
        with transaction.atomic():  # nothing kept: the key is free again
            RedemptionPayment.objects.filter(pk=payment.pk,
                                             status=RedemptionPaymentStatus.PENDING).delete()
            idempotency_forget(record)
        raise
    except ApplicationError as exc:  # the gateway refused the request: nothing charged
        RedemptionPayment.objects.filter(pk=payment.pk, status=RedemptionPaymentStatus.PENDING
                                         ).update(
            status=RedemptionPayment.STATES.target(RedemptionPaymentStatus.PENDING, "fail"),
            message=exc.message[:300])
        raise
    payment = _settle_cash_payment(bank, payment, charge)
    if payment.status == RedemptionPaymentStatus.PENDING:
        raise ApplicationError(charge.message, code="payment_unknown")
    if payment.status == RedemptionPaymentStatus.FAILED:
        raise ApplicationError(payment.message, code="card_declined")
    return Redemption.objects.get(pk=row.pk)


def _replay(earlier: IdempotencyKey, row: Redemption, *, fingerprint: str) -> Redemption:
    """A request with a key used before: the redemption as it is now if it is the same
    request and its payment has an answer; 422 for another request, 409 in flight."""
    payment = RedemptionPayment.objects.get(pk=earlier.target_id)
    idempotency_check(stored=earlier.fingerprint, fingerprint=fingerprint,
                      in_flight=payment.status == RedemptionPaymentStatus.PENDING)
    if payment.redemption_id != row.pk:  # a key of this user's other redemption
        raise idempotency_mismatch()
    if payment.status == RedemptionPaymentStatus.FAILED:
        raise ApplicationError(payment.message or _("The card was declined."),
                               code="card_declined")
    return Redemption.objects.get(pk=row.pk)


def _settle_cash_payment(bank: Bank, payment: RedemptionPayment, charge) -> RedemptionPayment:
    """Apply the gateway's answer to a pending attempt, once: book the cash and make the
    redemption ready, or mark the attempt failed; an unknown answer leaves it pending."""
    with transaction.atomic():
        redemption = Redemption.objects.select_for_update().get(pk=payment.redemption_id)
        payment = lock(payment)
        if payment.status != RedemptionPaymentStatus.PENDING:
            return payment
        if charge.unknown:
            payment.message = charge.message[:300]
            payment.save(update_fields=["message"])
            return payment
        payment.reference = charge.intent_id
        if not charge.succeeded:
            payment.message = charge.message[:300]
            transition(payment, "fail", save_fields=["message", "reference"],
                       audit=recorded_by_the_row)
            return payment
        # A pending attempt blocks cancelling and other attempts: the redemption is still
        # waiting for exactly this cash.
        ledger_post(
            kind="mall_cash", reference=f"{bank.pk}:{redemption.pk}",
            memo=f"points mall redemption {redemption.pk}", legs=[
                Leg(ledger_account(kind=AccountKind.CARD_CLEARING, bank_id=bank.pk),
                    payment.amount),
                Leg(ledger_account(kind=AccountKind.POINTS_MALL_INCOME, bank_id=bank.pk),
                    -payment.amount)])
        transition(payment, "succeed", save_fields=["reference"], audit=recorded_by_the_row)
        redemption.payment_reference = charge.intent_id
        transition(redemption, "pay_cash", actor_id=payment.actor_id, bank=bank,
                   save_fields=["payment_reference"])
    return payment


def redemption_payments_reconcile(*, bank: Bank, older_than_seconds: int = 300) -> int:
    """Cash payments still pending a while after they started (the gateway's answer was
    lost, or the process stopped): ask the gateway what became of the charge and apply it.
    Returns how many were settled either way."""
    _in_bank(bank)
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    changed = 0
    for payment in RedemptionPayment.objects.filter(status=RedemptionPaymentStatus.PENDING,
                                                    at__lte=cutoff):
        try:
            charge = card_charge_find(idempotency_key=_charge_key(bank, payment))
        except GatewayUnavailable as exc:
            log.warning("reconciling redemption payment %s: %s", payment.pk, exc)
            continue
        changed += (_settle_cash_payment(bank, payment, charge).status
                    != RedemptionPaymentStatus.PENDING)
    return changed
