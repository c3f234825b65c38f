"""Writes on a bank's points programme: earning, spending, expiry, restoring, and the
points mall. Everything runs in the bank's own schema (its customers' points are its
business alone); the caller passes the ``bank`` and the services check the schema.

The ledger: every change is a ``PointsEntry`` (append-only; the database refuses updates
and deletes) and earned points sit in ``PointsLot`` rows that spending and expiry draw
down, oldest expiry first. A customer's balance is the sum of their entries and always
equals the sum of their lots' ``remaining`` (tests/test_rewards.py checks both).
"""

from __future__ import annotations

import calendar
import logging
import secrets
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank, Branch
from core.errors import ApplicationError, ConflictError
from core.idempotency import idempotency_check, idempotency_mismatch
from orders.models import Checkout, Order, OrderStatus
from rewards.models import (
    EarningRule,
    EntryKind,
    LotUse,
    MallOffer,
    OfferTake,
    PointsEntry,
    PointsLot,
    PointsProgramme,
    PointsProgrammeRules,
    Redemption,
    RedemptionPayment,
    RedemptionPaymentStatus,
    RedemptionStatus,
)

log = logging.getLogger(__name__)


def _in_bank(bank: Bank) -> None:
    if connection.schema_name != bank.schema_name:
        raise RuntimeError(f"rewards of {bank.code} must run in its schema "
                           f"(now in {connection.schema_name})")


def programme_seed_for_bank(sender, *, bank, **kwargs) -> PointsProgramme:
    """Seed the bank's points programme; called in the bank's schema at onboarding."""
    assert connection.schema_name == bank.schema_name, "must run in the bank's schema"
    programme = PointsProgramme.objects.first()
    if programme is None:
        programme = PointsProgramme.objects.create(
            name=f"{bank.display_name}积分")
    PointsProgrammeRules.objects.get_or_create(programme=programme)
    return programme


def programme_of(bank: Bank) -> tuple[PointsProgramme, PointsProgrammeRules]:
    _in_bank(bank)
    programme = programme_seed_for_bank(None, bank=bank)
    return programme, programme.rules


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def balance(*, user_id: int) -> int:
    return PointsEntry.objects.filter(user_id=user_id).aggregate(
        s=Sum("points"))["s"] or 0


# --- earning -------------------------------------------------------------------------------


def _multiplier(rules: list[EarningRule], category_id: int, at) -> Decimal:
    best = Decimal("1")
    for rule in rules:
        if rule.category_id not in (None, category_id):
            continue
        if (rule.starts_at and at < rule.starts_at) or (rule.ends_at and at >= rule.ends_at):
            continue
        best = max(best, rule.multiplier)
    return best


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def order_points(*, bank: Bank, order: Order) -> int:
    """The buyer's points for a completed order: goods (not shipping) net of refunds,
    times the points per yuan, times the best matching bonus, rounded down."""
    programme, _rules = programme_of(bank)
    rules = list(EarningRule.objects.filter(is_active=True))
    at = order.paid_at or order.created_at
    goods = Decimal("0")
    for line in order.lines.select_related("sku__product"):
        goods += line.line_total * _multiplier(rules, line.sku.product.category_id, at)
    if order.goods_total > 0:
        # Refunds reduce the points in proportion (a refund of the whole order: none).
        kept = max(order.total - order.refunded_total, Decimal("0")) / order.total
        goods = goods * min(kept, Decimal("1"))
    return _floor(goods * programme.points_per_yuan)


def _earn(*, bank: Bank, user_id: int, points: int, reference: str, note: str,
          on: date | None = None) -> PointsEntry | None:
    if points <= 0:
        return None
    _programme, rules = programme_of(bank)
    try:
        with transaction.atomic():
            entry = PointsEntry.objects.create(user_id=user_id, kind=EntryKind.EARNED,
                                               points=points, reference=reference,
                                               note=note[:120], at=timezone.now())
    except IntegrityError:
        return None  # earned already
    start = on or timezone.localdate()
    PointsLot.objects.create(user_id=user_id, earned=entry, points=points, remaining=points,
                             expires_on=_add_months(start, rules.expiry_months))
    return entry


@transaction.atomic
def points_earn_for_order(*, bank: Bank, order: Order) -> list[PointsEntry]:
    """Points for a completed order, once: the buyer's (when it was bought on this bank's
    storefront) and the sharer's (when it came through a link to this bank's storefront
    shared by another customer)."""
    _in_bank(bank)
    if order.status != OrderStatus.COMPLETED:
        return []
    made = []
    if order.checkout.storefront_bank_id == bank.pk:
        made.append(_earn(bank=bank, user_id=order.buyer_id,
                          points=order_points(bank=bank, order=order),
                          reference=f"order:{order.pk}", note=order.number))
    if order.sharer_id and order.sharer_id != order.buyer_id and \
            order.referrer_bank_id == bank.pk:
        _programme, rules = programme_of(bank)
        net = max(order.total - order.refunded_total, Decimal("0"))
        made.append(_earn(bank=bank, user_id=order.sharer_id,
                          points=_floor(net * rules.sharer_points_per_yuan),
                          reference=f"share:{order.pk}",
                          note=_("shared: %(order)s") % {"order": order.number}))
    return [e for e in made if e is not None]


def points_earn_sweep(*, bank: Bank, days: int = 30) -> int:
    """The safety net behind the completion signal: points for every order of this bank
    completed in the last ``days`` days that has none yet."""
    _in_bank(bank)
    since = timezone.now() - timedelta(days=days)
    orders = Order.objects.filter(status=OrderStatus.COMPLETED, completed_at__gte=since).filter(
        Q(checkout__storefront_bank=bank) | Q(referrer_bank=bank, sharer__isnull=False))
    done = set(PointsEntry.objects.filter(kind=EntryKind.EARNED).values_list("reference",
                                                                          flat=True))
    count = 0
    for order in orders.select_related("checkout").iterator(chunk_size=500):
        if f"order:{order.pk}" in done and (not order.sharer_id or f"share:{order.pk}" in done):
            continue
        count += len(points_earn_for_order(bank=bank, order=order))
    return count


# --- spending, expiry, restoring ------------------------------------------------------------


def _expire_lots(lots) -> int:
    expired = 0
    for lot in lots:
        if lot.remaining <= 0:
            continue
        PointsEntry.objects.create(user_id=lot.user_id, kind=EntryKind.EXPIRED,
                                   points=-lot.remaining, reference=f"expire:{lot.pk}",
                                   note=str(lot.expires_on), at=timezone.now())
        expired += lot.remaining
        lot.remaining = 0
        lot.save(update_fields=["remaining"])
    return expired


@transaction.atomic
def points_expire(*, bank: Bank, as_of: date | None = None) -> int:
    """The daily task: every lot past its expiry date loses what is left of it."""
    _in_bank(bank)
    as_of = as_of or timezone.localdate()
    lots = PointsLot.objects.select_for_update().filter(expires_on__lt=as_of, remaining__gt=0)
    return _expire_lots(lots.order_by("pk"))


def _spend(*, user_id: int, points: int, reference: str, note: str,
           as_of: date | None = None) -> PointsEntry:
    """Take ``points`` from the customer's lots, oldest expiry first (inside the
    caller's transaction; lots locked)."""
    if points <= 0:
        raise ValidationError({"points": [_("Spend at least one point.")]})
    as_of = as_of or timezone.localdate()
    lots = list(PointsLot.objects.select_for_update().filter(user_id=user_id, remaining__gt=0)
                .order_by("expires_on", "pk"))
    _expire_lots([lot for lot in lots if lot.expires_on < as_of])
    live = [lot for lot in lots if lot.expires_on >= as_of]
    if sum(lot.remaining for lot in live) < points:
        raise ApplicationError(_("Not enough points: you have %(have)s, this needs %(need)s.")
                               % {"have": sum(lot.remaining for lot in live), "need": points},
                               code="not_enough_points")
    entry = PointsEntry.objects.create(user_id=user_id, kind=EntryKind.SPENT, points=-points,
                                       reference=reference, note=note[:120], at=timezone.now())
    left = points
    for lot in live:
        take = min(left, lot.remaining)
        if take == 0:
            break
        lot.remaining -= take
        lot.save(update_fields=["remaining"])
        LotUse.objects.create(spent=entry, lot=lot, points=take)
        left -= take
    return entry


def _restore(*, spent: PointsEntry, points: int, reference: str,
             as_of: date | None = None) -> int:
    """Give back up to ``points`` of a spending to the lots it came from, except lots
    that have expired meanwhile (those points are gone). Returns what was restored."""
    as_of = as_of or timezone.localdate()
    left, restored = points, 0
    for use in spent.uses.select_for_update().select_related("lot").order_by("-lot__expires_on"):
        if left <= 0:
            break
        back = min(left, use.points - use.restored)
        left -= back
        if back <= 0 or use.lot.expires_on < as_of:
            continue
        PointsLot.objects.filter(pk=use.lot_id).update(remaining=F("remaining") + back)
        LotUse.objects.filter(pk=use.pk).update(restored=F("restored") + back)
        restored += back
    if restored:
        PointsEntry.objects.create(user_id=spent.user_id, kind=EntryKind.RESTORED,
                                   points=restored, reference=reference,
                                   note=(spent.note or spent.reference)[:120],
                                   at=timezone.now())
    return restored


# --- the points mall ---------------------------------------------------------------------


def _pickup_code() -> str:
    return f"{secrets.randbelow(10 ** 8):08d}"


def offer_available_to(offer: MallOffer, user) -> bool:
    return not offer.segments or getattr(user, "segment", "") in offer.segments


@transaction.atomic
def offer_redeem(*, bank: Bank, offer: MallOffer, user, quantity: int,
                 branch: Branch) -> Redemption:
    """Redeem points (and, for points-plus-cash offers, a cash part paid afterwards) for
    goods picked up at one of the bank's branches. The offer's quantity and the
    customer's limit hold under concurrency (conditional updates)."""
    _in_bank(bank)
    if not isinstance(quantity, int) or quantity < 1:
        raise ValidationError({"quantity": [_("Redeem at least one.")]})
    if branch.bank_id != bank.pk or not branch.is_pickup_point:
        raise ValidationError({"branch": [_("Choose one of this bank's pickup branches.")]})
    now = timezone.now()
    if not offer.is_active or not (offer.starts_at <= now < offer.ends_at):
        raise ApplicationError(_("This offer is not open now."), code="not_open")
    if not offer_available_to(offer, user):
        raise ApplicationError(_("This offer is for other customer groups."), code="not_eligible")
    if not MallOffer.objects.filter(pk=offer.pk, redeemed__lte=F("quantity") - quantity
                                    ).update(redeemed=F("redeemed") + quantity):
        raise ApplicationError(_("This offer is all redeemed."), code="sold_out")
    OfferTake.objects.get_or_create(offer=offer, user_id=user.pk)
    if not OfferTake.objects.filter(
            offer=offer, user_id=user.pk,
            quantity__lte=offer.per_customer_limit - quantity).update(
            quantity=F("quantity") + quantity):
        raise ApplicationError(_("You have reached this offer's limit of %(n)s.")
                               % {"n": offer.per_customer_limit}, code="limit_reached")
    redemption = Redemption.objects.create(
        offer=offer, user_id=user.pk, quantity=quantity, points=offer.points_price * quantity,
        cash=offer.cash_price * quantity, branch_id=branch.pk, pickup_code=_pickup_code(),
        status=RedemptionStatus.AWAITING_CASH if offer.cash_price else RedemptionStatus.READY)
    _spend(user_id=user.pk, points=redemption.points, reference=f"redeem:{redemption.pk}",
           note=offer.title)
    return redemption


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
    from payments.services import card_charge

    _in_bank(bank)
    key = (idempotency_key or "").strip()
    if len(key) > 60:
        raise ValidationError({"idempotency_key": [_("A payment needs an idempotency key.")]})
    with transaction.atomic():
        row = Redemption.objects.select_for_update().get(pk=redemption.pk)
        if row.user_id != user.pk:
            raise ApplicationError(_("This redemption is not yours."), code="not_found")
        earlier = RedemptionPayment.objects.filter(
            client_key=key, redemption__user_id=user.pk).first() if key else None
        if earlier is not None:
            idempotency_check(stored=earlier.fingerprint, fingerprint=fingerprint,
                              in_flight=earlier.status == RedemptionPaymentStatus.PENDING)
            if earlier.redemption_id != row.pk:  # a key of this user's other redemption
                raise idempotency_mismatch()
            if earlier.status == RedemptionPaymentStatus.FAILED:
                raise ApplicationError(earlier.message or _("The card was declined."),
                                       code="card_declined")
            return row
        if row.payments.filter(status=RedemptionPaymentStatus.PENDING).exists():
            raise ConflictError(_("A payment of this redemption is in progress; wait for "
                                  "its result."), code="payment_in_progress")
        if row.payment_reference:  # paid meanwhile (by a request sent at the same time)
            return row
        if row.status != RedemptionStatus.AWAITING_CASH:
            raise ApplicationError(_("Nothing is left to pay for this redemption."),
                                   code="illegal_transition")
        payment = RedemptionPayment.objects.create(
            redemption=row, attempt=row.payments.count() + 1, client_key=key,
            fingerprint=fingerprint, amount=row.cash, actor_id=user.pk, at=timezone.now())
    # Committed: a retry, a second request and the reconciliation task all find it.
    try:
        charge = card_charge(amount=payment.amount, card=card,
                             idempotency_key=_charge_key(bank, payment),
                             description=f"points mall redemption {row.pk}",
                             metadata={"bank": bank.code, "redemption": str(row.pk)})
    except ValidationError:  # the card was refused before the gateway was called
        RedemptionPayment.objects.filter(pk=payment.pk, status="pending").delete()
        raise
    except ApplicationError as exc:  # the gateway refused the request: nothing charged
        RedemptionPayment.objects.filter(pk=payment.pk, status="pending").update(
            status=RedemptionPaymentStatus.FAILED, message=exc.message[:300])
        raise
    payment = _settle_cash_payment(bank, payment, charge)
    if payment.status == RedemptionPaymentStatus.PENDING:
        raise ApplicationError(charge.message, code="payment_unknown")
    if payment.status == RedemptionPaymentStatus.FAILED:
        raise ApplicationError(payment.message, code="card_declined")
    return Redemption.objects.get(pk=row.pk)


def _settle_cash_payment(bank: Bank, payment: RedemptionPayment, charge) -> RedemptionPayment:
    """Apply the gateway's answer to a pending attempt, once: book the cash and make the
    redemption ready, or mark the attempt failed; an unknown answer leaves it pending."""
    from payments.models import AccountKind
    from payments.services import Leg, ledger_account, ledger_post

    with transaction.atomic():
        redemption = Redemption.objects.select_for_update().get(pk=payment.redemption_id)
        payment = RedemptionPayment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != RedemptionPaymentStatus.PENDING:
            return payment
        if charge.unknown:
            payment.message = charge.message[:300]
            payment.save(update_fields=["message"])
            return payment
        payment.reference = charge.intent_id
        if not charge.succeeded:
            payment.status, payment.message = RedemptionPaymentStatus.FAILED, charge.message[:300]
            payment.save(update_fields=["status", "message", "reference"])
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
        payment.status = RedemptionPaymentStatus.SUCCEEDED
        payment.save(update_fields=["status", "reference"])
        redemption.status = RedemptionStatus.READY
        redemption.payment_reference = charge.intent_id
        redemption.save(update_fields=["status", "payment_reference"])
    return payment


def redemption_payments_reconcile(*, bank: Bank, older_than_seconds: int = 300) -> int:
    """Cash payments still pending a while after they started (the gateway's answer was
    lost, or the process stopped): ask the gateway what became of the charge and apply it.
    Returns how many were settled either way."""
    import stripe

    from payments.services import card_charge_find

    _in_bank(bank)
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    changed = 0
    for payment in RedemptionPayment.objects.filter(status=RedemptionPaymentStatus.PENDING,
                                                    at__lte=cutoff):
        try:
            charge = card_charge_find(idempotency_key=_charge_key(bank, payment))
        except stripe.StripeError as exc:
            log.warning("reconciling redemption payment %s: %s", payment.pk, exc)
            continue
        changed += (_settle_cash_payment(bank, payment, charge).status
                    != RedemptionPaymentStatus.PENDING)
    return changed


@transaction.atomic
def redemption_cancel(*, bank: Bank, redemption: Redemption, actor) -> Redemption:
    """Before pickup (and before any cash was paid): the points come back (unless they
    have expired meanwhile) and the offer's quantity is freed."""
    _in_bank(bank)
    redemption = Redemption.objects.select_for_update().get(pk=redemption.pk)
    if redemption.status not in (RedemptionStatus.READY, RedemptionStatus.AWAITING_CASH) or \
            redemption.payment_reference or redemption.payments.filter(
                status=RedemptionPaymentStatus.PENDING).exists():
        raise ApplicationError(_("This redemption cannot be cancelled now."),
                               code="illegal_transition")
    spent = PointsEntry.objects.get(kind=EntryKind.SPENT, reference=f"redeem:{redemption.pk}")
    _restore(spent=spent, points=redemption.points, reference=f"unredeem:{redemption.pk}")
    MallOffer.objects.filter(pk=redemption.offer_id).update(
        redeemed=F("redeemed") - redemption.quantity)
    OfferTake.objects.filter(offer_id=redemption.offer_id, user_id=redemption.user_id).update(
        quantity=F("quantity") - redemption.quantity)
    redemption.status = RedemptionStatus.CANCELLED
    redemption.save(update_fields=["status"])
    return redemption


@transaction.atomic
def redemption_collect(*, bank: Bank, code: str, staff) -> Redemption:
    """Branch staff hand the goods over against the pickup code."""
    _in_bank(bank)
    code = (code or "").strip()
    redemption = Redemption.objects.select_for_update().filter(pickup_code=code).first()
    if redemption is None or redemption.status != RedemptionStatus.READY:
        raise ApplicationError(_("No redemption is waiting with this code."), code="not_found")
    redemption.status, redemption.collected_at = RedemptionStatus.COLLECTED, timezone.now()
    redemption.save(update_fields=["status", "collected_at"])
    return redemption


# --- points as part payment at checkout -------------------------------------------------------


def _eligible(order: Order) -> Decimal:
    """Goods points may pay for: not shipping, not flash-sale lines."""
    return sum((line.line_total for line in order.lines.all() if line.flash_sale_id is None),
               Decimal("0.00"))


def checkout_points_quote(*, bank: Bank, checkout: Checkout, buyer) -> dict:
    """How many points the buyer may use on this checkout, and what they are worth."""
    programme, rules = programme_of(bank)
    eligible = sum((_eligible(o) for o in checkout.orders.all()), Decimal("0.00"))
    cap = (eligible * rules.max_order_share).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    have = balance(user_id=buyer.pk)
    rate = programme.yuan_per_point
    most = _floor(cap / rate) if rate > 0 else 0
    usable = min(most, have)
    return {"balance": have, "yuan_per_point": rate, "eligible": eligible, "cap": cap,
            "max_points": usable, "max_value": (usable * rate).quantize(Decimal("0.01"),
                                                                     rounding=ROUND_FLOOR),
            "applied": checkout.points_used, "applied_value": checkout.points_value}


@transaction.atomic
def checkout_apply_points(*, bank: Bank, checkout: Checkout, buyer, points: int) -> Checkout:
    """Pay part of an unpaid checkout on this bank's storefront with the buyer's points of
    this bank, within the programme's cap (a share of the goods; never shipping, never
    flash-sale lines). The rest is paid by card (or at a branch desk)."""
    from payments.services import checkout_assert_payable

    _in_bank(bank)
    checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
    if checkout.buyer_id != buyer.pk:
        raise ApplicationError(_("This checkout is not yours."), code="not_found")
    if checkout.storefront_bank_id != bank.pk:
        raise ApplicationError(_("Points of this bank pay on its own storefront."),
                               code="not_found")
    checkout_assert_payable(checkout)
    if checkout.points_used:
        raise ApplicationError(_("Points are applied already; remove them to change."),
                               code="points_applied")
    if not isinstance(points, int) or points < 1:
        raise ValidationError({"points": [_("Use at least one point.")]})
    quote = checkout_points_quote(bank=bank, checkout=checkout, buyer=buyer)
    if points > quote["max_points"]:
        raise ValidationError({"points": [_("Use at most %(n)s points on this order.")
                                          % {"n": quote["max_points"]}]})
    value = (points * quote["yuan_per_point"]).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    if value <= 0:
        raise ValidationError({"points": [_("That many points are worth less than a fen.")]})
    tries = PointsEntry.objects.filter(kind=EntryKind.SPENT,
                                       reference__startswith=f"checkout:{checkout.pk}:").count()
    _spend(user_id=buyer.pk, points=points, reference=f"checkout:{checkout.pk}:{tries + 1}",
           note=checkout.number)
    # Each order's share, by its eligible goods; the last takes what rounding left.
    orders = list(checkout.orders.select_for_update().order_by("pk"))
    shares = [_eligible(o) for o in orders]
    left_value, left_points = value, points
    for i, (order, share) in enumerate(zip(orders, shares, strict=True)):
        last = i == len(orders) - 1 or sum(shares[i + 1:]) == 0
        if last:
            order.points_value, order.points_used = left_value, left_points
        else:
            order.points_value = (value * share / quote["eligible"]).quantize(
                Decimal("0.01"), rounding=ROUND_FLOOR)
            order.points_used = _floor(Decimal(points) * share / quote["eligible"])
        left_value -= order.points_value
        left_points -= order.points_used
        order.save(update_fields=["points_value", "points_used"])
        if last:
            break
    checkout.points_used, checkout.points_value = points, value
    checkout.save(update_fields=["points_used", "points_value"])
    return checkout


def _live_spend(checkout: Checkout) -> PointsEntry | None:
    return (PointsEntry.objects.filter(kind=EntryKind.SPENT,
                                       reference__startswith=f"checkout:{checkout.pk}:")
            .order_by("-pk").first())


@transaction.atomic
def checkout_remove_points(*, bank: Bank, checkout: Checkout, buyer) -> Checkout:
    """Take the points off an unpaid checkout: they go back to the buyer."""
    from payments.services import checkout_assert_payable

    _in_bank(bank)
    checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
    if checkout.buyer_id != buyer.pk:
        raise ApplicationError(_("This checkout is not yours."), code="not_found")
    checkout_assert_payable(checkout)
    _give_back(checkout, reason="unapply")
    return checkout


def _give_back(checkout: Checkout, *, reason: str) -> int:
    spent = _live_spend(checkout)
    restored = 0
    if spent is not None and checkout.points_used:
        restored = _restore(spent=spent, points=checkout.points_used,
                            reference=f"{reason}:{spent.reference}")
    checkout.orders.update(points_used=0, points_value=Decimal("0.00"))
    checkout.points_used, checkout.points_value = 0, Decimal("0.00")
    checkout.save(update_fields=["points_used", "points_value"])
    return restored


def points_back_on_cancel(checkout: Checkout) -> None:
    """Registered with ``orders``: a cancelled (or expired) unpaid checkout gives its
    points back, inside the cancelling transaction, in the storefront bank's schema."""
    from django_tenants.utils import schema_context

    bank = Bank.objects.get(pk=checkout.storefront_bank_id)
    with schema_context(bank.schema_name):
        _give_back(checkout, reason="cancel")


def points_back_on_refund(*, order: Order, value: Decimal, reference: str) -> int:
    """Registered with ``payments``: a refund's points part goes back to the buyer (the
    points it was worth when applied; those whose lot expired meanwhile are not)."""
    from django_tenants.utils import schema_context

    if not order.points_used or not order.points_value:
        return 0
    points = min(order.points_used, _floor(Decimal(order.points_used) * value
                                           / order.points_value))
    bank = Bank.objects.get(pk=order.checkout.storefront_bank_id)
    with schema_context(bank.schema_name):
        spent = _live_spend(order.checkout)
        if spent is None or points <= 0:
            return 0
        return _restore(spent=spent, points=points, reference=reference)


# --- the bank's console: the programme, earning rules and mall offers -------------------------

PROGRAMME_FIELDS = ("name", "points_per_yuan", "yuan_per_point")
RULES_FIELDS = ("expiry_months", "sharer_points_per_yuan", "max_order_share")


def _bounded(errors: dict, field: str, value, low, high) -> None:
    if value is None:
        errors[field] = [_("This field is required.")]
    elif value < low or value > high:
        errors[field] = [_("Enter a value from %(low)s to %(high)s.")
                         % {"low": low, "high": high}]


@transaction.atomic
def programme_update(*, bank: Bank, actor, **changes) -> PointsProgramme:
    """Bank admins set the rates and rules; bounded so that no value makes points free
    money (a point worth at most 1 yuan, at most the whole goods paid by points)."""
    _in_bank(bank)
    programme, rules = programme_of(bank)
    unknown = set(changes) - set(PROGRAMME_FIELDS) - set(RULES_FIELDS)
    if unknown:
        raise ValidationError({k: [_("Unknown setting.")] for k in sorted(unknown)})
    errors: dict = {}
    bounds = {"points_per_yuan": (Decimal("0"), Decimal("100")),
              "yuan_per_point": (Decimal("0"), Decimal("1")),
              "expiry_months": (1, 120),
              "sharer_points_per_yuan": (Decimal("0"), Decimal("100")),
              "max_order_share": (Decimal("0"), Decimal("1"))}
    for field, value in changes.items():
        if field == "name":
            if not (value or "").strip():
                errors["name"] = [_("This field is required.")]
            continue
        _bounded(errors, field, value, *bounds[field])
    if errors:
        raise ValidationError(errors)
    for field, value in changes.items():
        target = programme if field in PROGRAMME_FIELDS else rules
        setattr(target, field, value.strip() if field == "name" else value)
    programme.save()
    rules.save()
    return programme


# What an offer may ask: within the columns and within reason (a typo of a few digits
# more is refused, not stored or crashed on).
OFFER_BOUNDS = {"points_price": (1, 10_000_000), "cash_price": (Decimal("0.00"),
                                                                 Decimal("100000.00")),
                "quantity": (1, 1_000_000), "per_customer_limit": (1, 999)}
FIRST_YEAR, LAST_YEAR = 2000, 2099


def _window_ok(errors: dict, starts_at, ends_at) -> None:
    for field, when in (("starts_at", starts_at), ("ends_at", ends_at)):
        if when is not None and not FIRST_YEAR <= when.year <= LAST_YEAR:
            errors[field] = [_("Enter a date from %(first)s to %(last)s.")
                             % {"first": FIRST_YEAR, "last": LAST_YEAR}]
    if errors.keys() & {"starts_at", "ends_at"}:
        return
    if starts_at and ends_at and ends_at <= starts_at:
        errors["ends_at"] = [_("The end must be after the start.")]


@transaction.atomic
def earning_rule_save(*, bank: Bank, actor, rule: EarningRule | None = None,
                      **fields) -> EarningRule:
    """Create or change a category bonus or campaign (a multiplier from 1 to 10)."""
    from catalog.models import Category

    _in_bank(bank)
    rule = rule or EarningRule()
    for field, value in fields.items():
        setattr(rule, field, value)
    errors: dict = {}
    if not (rule.name or "").strip():
        errors["name"] = [_("This field is required.")]
    _bounded(errors, "multiplier", rule.multiplier, Decimal("1"), Decimal("10"))
    if rule.category_id is not None and not Category.objects.filter(
            pk=rule.category_id).exists():
        errors["category_id"] = [_("No such category.")]
    _window_ok(errors, rule.starts_at, rule.ends_at)
    if errors:
        raise ValidationError(errors)
    rule.save()
    return rule


OFFER_FIELDS = ("title", "merchant_id", "sku_id", "points_price", "cash_price", "quantity",
                "per_customer_limit", "starts_at", "ends_at", "is_flash", "segments",
                "is_active")


@transaction.atomic
def offer_save(*, bank: Bank, actor, offer: MallOffer | None = None, **fields) -> MallOffer:
    """Create or change a mall offer: an approved merchant's SKU, a points price (and a
    cash part), a quantity never below what is redeemed, a window, customer groups."""
    from accounts.models import Segment
    from catalog.models import MerchantStatus, Sku

    _in_bank(bank)
    unknown = set(fields) - set(OFFER_FIELDS)
    if unknown:
        raise ValidationError({k: [_("Unknown setting.")] for k in sorted(unknown)})
    if offer is not None:
        offer = MallOffer.objects.select_for_update().get(pk=offer.pk)
    else:
        offer = MallOffer()
    for field, value in fields.items():
        setattr(offer, field, value)
    errors: dict = {}
    if not (offer.title or "").strip():
        errors["title"] = [_("This field is required.")]
    sku = Sku.objects.select_related("product__merchant").filter(pk=offer.sku_id).first() \
        if offer.sku_id else None
    if sku is not None and "merchant_id" not in fields:
        offer.merchant_id = sku.product.merchant_id  # the SKU's shop, unless named
    if sku is None or sku.product.merchant_id != offer.merchant_id:
        errors["sku_id"] = [_("Choose a SKU of the partner merchant.")]
    elif sku.product.merchant.status != MerchantStatus.APPROVED:
        errors["merchant_id"] = [_("This merchant is not trading.")]
    for field, (low, high) in OFFER_BOUNDS.items():
        value = getattr(offer, field)
        if value is None or isinstance(value, bool) or not low <= value <= high:
            errors[field] = [_("Enter a value from %(low)s to %(high)s.")
                             % {"low": low, "high": high}]
    if "quantity" not in errors and offer.quantity < offer.redeemed:
        errors["quantity"] = [_("Offer at least %(n)s (already redeemed).")
                              % {"n": offer.redeemed}]
    if not errors.keys() & {"quantity", "per_customer_limit"} and (
            offer.per_customer_limit > offer.quantity):
        errors["per_customer_limit"] = [_("A customer cannot take more than the offer has.")]
    if not offer.starts_at or not offer.ends_at:
        errors["starts_at"] = [_("An offer needs a start and an end.")]
    _window_ok(errors, offer.starts_at, offer.ends_at)
    segments = offer.segments or []
    if not isinstance(segments, list) or any(s not in Segment.values for s in segments):
        errors["segments"] = [_("Choose among the customer groups.")]
    else:
        offer.segments = sorted(set(segments))
    if errors:
        raise ValidationError(errors)
    offer.title = offer.title.strip()
    offer.cash_price = Decimal(offer.cash_price).quantize(Decimal("0.01"))
    offer.save()
    return offer
