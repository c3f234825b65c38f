"""The merchant's delivery fee rule."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.money import quantize_money
from orders.models import ShippingRule


@transaction.atomic
def shipping_rule_set(*, merchant, flat_fee, free_over=None) -> ShippingRule:
    """The merchant's delivery fee per order, free from ``free_over`` of goods on (None:
    never free)."""
    errors: dict[str, list[str]] = {}
    try:
        flat_fee = quantize_money(flat_fee)
        if flat_fee < 0 or flat_fee > 1000:
            raise ValueError
    except Exception:
        errors["flat_fee"] = [_("Enter a fee from 0 to 1000 yuan.")]
    if free_over not in (None, ""):
        try:
            free_over = quantize_money(free_over)
            if free_over <= 0 or free_over >= 10**9:  # the column holds 12 digits before the point
                raise ValueError
        except Exception:
            errors["free_over"] = [_("Enter an amount above zero, or leave it empty.")]
    else:
        free_over = None
    if errors:
        raise ValidationError(errors)
    rule, _created = ShippingRule.objects.update_or_create(
        merchant=merchant, defaults={"flat_fee": flat_fee, "free_over": free_over})
    return rule
