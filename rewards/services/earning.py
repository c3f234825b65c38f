"""Earning: the points of a completed order (the buyer's and the sharer's), once, and the
daily sweep that catches up what the completion signal missed.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from orders.models import Order, OrderStatus
from rewards.models import EarningRule, EntryKind, PointsEntry
from rewards.services._common import _floor, _in_bank
from rewards.services.ledger import _earn
from rewards.services.programme import programme_of


def _multiplier(rules: list[EarningRule], category_id: int, at) -> Decimal:
    best = Decimal("1")
    for rule in rules:
        if rule.category_id not in (None, category_id):
            continue
        if (rule.starts_at and at < rule.starts_at) or (rule.ends_at and at >= rule.ends_at):
            continue
        best = max(best, rule.multiplier)
    return best


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
