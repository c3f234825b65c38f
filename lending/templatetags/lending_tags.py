"""Display helpers of the financing pages."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def percent(rate) -> str:
    """0.04350 -> "4.35%" (an annual rate as a percentage, two decimals)."""
    try:
        value = Decimal(rate) * 100
    except (TypeError, InvalidOperation):
        return ""
    return f"{value.quantize(Decimal('0.01'))}%"


@register.filter
def unpaid(line) -> Decimal:
    """A schedule line's principal still owed."""
    return line.unpaid_principal
