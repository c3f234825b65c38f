"""What the lending serializers share: money as shown, the page shape, names of shared
rows read from the context."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from core.money import quantize_money
from lending.models import MONEY

ZERO = Decimal("0.00")
_MONEY_FIELD = serializers.DecimalField(**MONEY)


def money_out(value) -> str:
    """A computed amount as a money field shows it (a string with two decimals): what the
    schema says of it."""
    return _MONEY_FIELD.to_representation(quantize_money(value))


def page_serializer(item_serializer):
    """The shape of a page: ``{total, page, pages, results}``."""

    class Page(serializers.Serializer):
        total = serializers.IntegerField()
        page = serializers.IntegerField()
        pages = serializers.IntegerField()
        results = item_serializer(many=True)

    Page.__name__ = f"{item_serializer.__name__.removesuffix('Serializer')}Page"
    return Page


class _Named(serializers.Serializer):
    """Reads the names the view looked up: ``context["names"][kind][id]``."""

    def name(self, kind: str, pk) -> str | None:
        if pk is None:
            return None
        return self.context.get("names", {}).get(kind, {}).get(pk)
