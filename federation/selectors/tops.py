"""The top products, regions and categories of a range of days."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, Sum

from banks.models import Bank
from catalog.models import Category, Product
from federation.models import DailyCategoryStat, DailyProductStat, DailyRegionStat, ProductTotal
from federation.selectors._common import ZERO, _banks_by_id, _days, rate


@dataclass
class TopRow:
    key: int | str | None
    name: str
    detail: str = ""
    bank: Bank | None = None
    views: int = 0
    orders: int = 0
    quantity: int = 0
    gmv: Decimal = ZERO

    @property
    def conversion(self) -> Decimal | None:
        return rate(self.orders, self.views)

    @property
    def bank_code(self) -> str:
        return self.bank.code if self.bank else ""


def _scope_merchant_bank(qs, bank: Bank | None):
    return qs.filter(merchant_bank=bank) if bank is not None else qs


def top_products(*, start: datetime.date, end: datetime.date, bank: Bank | None = None,
                 limit: int = 10) -> list[TopRow]:
    """Products by GMV (then views). With ``bank``: only its own merchants' products.
    Read from ``ProductTotal``: the range as a dozen or so aligned spans of days, each
    already summed over its days and storefronts (the same figures as summing the
    product roll-up day by day)."""
    spans = Q()
    for level, first in ProductTotal.spans(start, end):
        spans |= Q(level=level, start=first)
    qs = _scope_merchant_bank(ProductTotal.objects.filter(spans), bank)
    rows = list(qs.values("product_id", "merchant_bank_id")
                .annotate(views=Sum("views"), orders=Sum("orders"),
                          quantity=Sum("quantity"), gmv=Sum("gmv"))
                .order_by("-gmv", "-views", "product_id")[:limit])
    return _product_rows(rows)


def top_products_from_days(*, start: datetime.date, end: datetime.date,
                           bank: Bank | None = None, limit: int = 10) -> list[TopRow]:
    """``top_products`` summed from the daily product roll-up (the reference it must
    equal; slow over long ranges)."""
    qs = _scope_merchant_bank(DailyProductStat.objects.filter(_days(start, end)), bank)
    rows = list(qs.values("product_id", "merchant_bank_id")
                .annotate(views=Sum("views"), orders=Sum("orders"),
                          quantity=Sum("quantity"), gmv=Sum("gmv"))
                .order_by("-gmv", "-views", "product_id")[:limit])
    return _product_rows(rows)


def _product_rows(rows: list[dict]) -> list[TopRow]:
    products = {p.pk: p for p in Product.objects.filter(
        pk__in=[r["product_id"] for r in rows]).select_related("merchant")}
    banks = _banks_by_id(r["merchant_bank_id"] for r in rows)
    out = []
    for r in rows:
        product = products.get(r["product_id"])
        out.append(TopRow(key=r["product_id"],
                          name=product.name if product else f"#{r['product_id']}",
                          detail=product.merchant.name if product else "",
                          bank=banks.get(r["merchant_bank_id"]),
                          views=r["views"] or 0, orders=r["orders"] or 0,
                          quantity=r["quantity"] or 0, gmv=r["gmv"] or ZERO))
    return out


def top_regions(*, start: datetime.date, end: datetime.date, bank: Bank | None = None,
                limit: int = 10) -> list[TopRow]:
    """Origin regions of the goods by GMV. With ``bank``: its merchants' goods only."""
    qs = _scope_merchant_bank(DailyRegionStat.objects.filter(_days(start, end))
                              .exclude(region=""), bank)
    rows = (qs.values("region").annotate(views=Sum("product_views"), orders=Sum("orders"),
                                         gmv=Sum("gmv"))
            .order_by("-gmv", "-views", "region")[:limit])
    return [TopRow(key=r["region"], name=r["region"], views=r["views"] or 0,
                   orders=r["orders"] or 0, gmv=r["gmv"] or ZERO) for r in rows]


def top_categories(*, start: datetime.date, end: datetime.date, bank: Bank | None = None,
                   limit: int = 10) -> list[TopRow]:
    qs = _scope_merchant_bank(DailyCategoryStat.objects.filter(_days(start, end))
                              .exclude(category_id=None), bank)
    rows = list(qs.values("category_id").annotate(
        views=Sum("product_views"), orders=Sum("orders"), gmv=Sum("gmv"))
        .order_by("-gmv", "-views", "category_id")[:limit])
    names = dict(Category.objects.filter(pk__in=[r["category_id"] for r in rows])
                 .values_list("pk", "name"))
    return [TopRow(key=r["category_id"], name=names.get(r["category_id"],
                                                        f"#{r['category_id']}"),
                   views=r["views"] or 0, orders=r["orders"] or 0, gmv=r["gmv"] or ZERO)
            for r in rows]
