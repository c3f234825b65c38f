"""The points mall: offers (the console's), redeeming them, cancelling a redemption and
handing the goods over at a branch.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Segment
from banks.models import Bank, Branch
from banks.services import bank_audit, changed_fields, register_bank_audit
from catalog.models import MerchantStatus, Sku
from core.errors import ApplicationError
from core.states import IllegalTransition
from core.writes import lock, require, transition
from rewards.models import (
    EntryKind,
    MallOffer,
    OfferTake,
    PointsEntry,
    Redemption,
    RedemptionPaymentStatus,
    RedemptionStatus,
)
from rewards.services._common import _in_bank, _window_ok
from rewards.services.ledger import _restore, _spend


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


@transaction.atomic
def redemption_cancel(*, bank: Bank, redemption: Redemption, actor) -> Redemption:
    """Before pickup (and before any cash was paid): the points come back (unless they
    have expired meanwhile) and the offer's quantity is freed."""
    _in_bank(bank)
    redemption = lock(redemption)
    refusal = _("This redemption cannot be cancelled now.")
    require(redemption, "cancel", message=refusal)
    if redemption.payment_reference or redemption.payments.filter(
            status=RedemptionPaymentStatus.PENDING).exists():
        raise IllegalTransition(refusal)
    spent = PointsEntry.objects.get(kind=EntryKind.SPENT, reference=f"redeem:{redemption.pk}")
    _restore(spent=spent, points=redemption.points, reference=f"unredeem:{redemption.pk}")
    MallOffer.objects.filter(pk=redemption.offer_id).update(
        redeemed=F("redeemed") - redemption.quantity)
    OfferTake.objects.filter(offer_id=redemption.offer_id, user_id=redemption.user_id).update(
        quantity=F("quantity") - redemption.quantity)
    transition(redemption, "cancel", actor=actor, bank=bank, save_fields=(),
               message=refusal)
    return redemption


def _bank_not_given(row: Redemption) -> None:
    """A redemption lives in its bank's schema and does not name the bank: every
    transition of one must give it (else its event would land on the federation's
    trail)."""
    raise ValueError(f"redemption {row.pk}: a transition must give the bank")


# On the bank's trail; the transitions give the bank (the row is in its schema).
register_bank_audit(Redemption, bank=_bank_not_given, action={
    "cancel": "redemption_cancelled", "collect": "redemption_collected",
    "pay_cash": "redemption_paid"})


@transaction.atomic
def redemption_collect(*, bank: Bank, code: str, staff) -> Redemption:
    """Branch staff hand the goods over against the pickup code."""
    _in_bank(bank)
    code = (code or "").strip()
    redemption = Redemption.objects.select_for_update().filter(pickup_code=code).first()
    if redemption is None or redemption.status != RedemptionStatus.READY:
        raise ApplicationError(_("No redemption is waiting with this code."), code="not_found")
    redemption.collected_at = timezone.now()
    transition(redemption, "collect", actor=staff, bank=bank, save_fields=["collected_at"])
    return redemption


# What an offer may ask: within the columns and within reason (a typo of a few digits
# more is refused, not stored or crashed on).
OFFER_BOUNDS = {"points_price": (1, 10_000_000), "cash_price": (Decimal("0.00"),
                                                                 Decimal("100000.00")),
                "quantity": (1, 1_000_000), "per_customer_limit": (1, 999)}


OFFER_FIELDS = ("title", "merchant_id", "sku_id", "points_price", "cash_price", "quantity",
                "per_customer_limit", "starts_at", "ends_at", "is_flash", "segments",
                "is_active")


@transaction.atomic
def offer_save(*, bank: Bank, actor, offer: MallOffer | None = None, **fields) -> MallOffer:
    """Create or change a mall offer: an approved merchant's SKU, a points price (and a
    cash part), a quantity never below what is redeemed, a window, customer groups."""
    _in_bank(bank)
    unknown = set(fields) - set(OFFER_FIELDS)
    if unknown:
        raise ValidationError({k: [_("Unknown setting.")] for k in sorted(unknown)})
    if offer is not None:
        offer = MallOffer.objects.select_for_update().get(pk=offer.pk)
    else:
        offer = MallOffer()
    created = offer.pk is None
    changed = changed_fields(offer, fields)
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
    bank_audit(bank=bank, actor=actor, target=offer, changes=changed,
               action="mall_offer_created" if created else "mall_offer_changed")
    return offer
