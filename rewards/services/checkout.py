"""Points as part payment at checkout: the quote, applying and removing them, and giving
them back when a checkout is cancelled or an order refunded.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from banks.models import Bank
from core.errors import ApplicationError
from orders.models import Checkout, Order
from payments.services import checkout_assert_payable
from rewards.models import EntryKind, PointsEntry
from rewards.services._common import _floor, _in_bank
from rewards.services.ledger import _restore, _spend, balance
from rewards.services.programme import programme_of


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
    bank = Bank.objects.get(pk=checkout.storefront_bank_id)
    with schema_context(bank.schema_name):
        _give_back(checkout, reason="cancel")


def points_back_on_refund(*, order: Order, value: Decimal, reference: str) -> int:
    """Registered with ``payments``: a refund's points part goes back to the buyer (the
    points it was worth when applied; those whose lot expired meanwhile are not)."""
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
