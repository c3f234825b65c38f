"""The bank's own view: its traffic flows with the other banks, its merchants'
performance and its storefront's customer groups.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, Sum

from accounts.models import Segment
from banks.models import Bank
from catalog.models import Merchant, MerchantStatus
from federation.models import DailyMerchantStat, DailySegmentStat
from federation.selectors._common import ZERO, _days, rate
from federation.selectors.traffic import traffic_matrix


@dataclass
class FlowRow:
    """Traffic between ``bank`` and one other party over the range: what the bank's
    storefront sent to the other bank's merchants (out), and what the other storefront
    (or the portal) sent to the bank's merchants (in)."""

    counterpart: Bank | None  # None: the province portal (only ever 'in')
    home: bool = False  # the bank's own storefront selling its own merchants
    out_views: int = 0
    out_orders: int = 0
    out_gmv: Decimal = ZERO
    out_fees_earned: Decimal = ZERO
    in_views: int = 0
    in_orders: int = 0
    in_gmv: Decimal = ZERO
    in_fees_paid: Decimal = ZERO

    @property
    def counterpart_code(self) -> str:
        return self.counterpart.code if self.counterpart else ""


def bank_traffic_flows(*, bank: Bank, start: datetime.date,
                       end: datetime.date) -> tuple[FlowRow, list[FlowRow]]:
    """The bank's own storefront selling its own merchants (a row whose ``out_*`` figures
    are that home trade), and its traffic in and out per other party."""
    matrix = traffic_matrix(start=start, end=end, bank=bank)
    own = FlowRow(counterpart=bank, home=True)
    flows: dict[int | None, FlowRow] = {}
    for p in matrix.pairs:
        sid = p.storefront.pk if p.storefront else None
        if sid == bank.pk and p.merchant_bank.pk == bank.pk:
            own.out_views += p.product_views
            own.out_orders += p.orders
            own.out_gmv += p.gmv
        elif sid == bank.pk:
            f = flows.setdefault(p.merchant_bank.pk, FlowRow(counterpart=p.merchant_bank))
            f.out_views += p.product_views
            f.out_orders += p.orders
            f.out_gmv += p.gmv
            f.out_fees_earned += p.referral_fees
        else:
            f = flows.setdefault(sid, FlowRow(counterpart=p.storefront))
            f.in_views += p.product_views
            f.in_orders += p.orders
            f.in_gmv += p.gmv
            f.in_fees_paid += p.referral_fees
    return own, sorted(flows.values(), key=lambda f: (f.counterpart is not None,
                                                      f.counterpart_code))


@dataclass
class MerchantRow:
    merchant_id: int
    name: str
    status: str
    product_views: int = 0
    add_to_cart: int = 0
    orders: int = 0
    gmv: Decimal = ZERO
    cross_bank_orders: int = 0  # orders that came through another storefront or the portal
    cross_bank_gmv: Decimal = ZERO

    @property
    def conversion(self) -> Decimal | None:
        return rate(self.orders, self.product_views)


def bank_merchant_performance(*, bank: Bank, start: datetime.date,
                              end: datetime.date) -> list[MerchantRow]:
    """The bank's own merchants over the range, by GMV; merchants with no traffic too."""
    elsewhere = ~Q(storefront_bank=bank) | Q(storefront_bank__isnull=True)
    rows = (DailyMerchantStat.objects.filter(_days(start, end), merchant_bank=bank)
            .values("merchant_id").annotate(
                s_views=Sum("product_views"), s_cart=Sum("add_to_cart"),
                s_orders=Sum("orders"), s_gmv=Sum("gmv"),
                s_cross_orders=Sum("orders", filter=elsewhere),
                s_cross_gmv=Sum("gmv", filter=elsewhere)))
    stats = {r["merchant_id"]: r for r in rows}
    merchants = Merchant.objects.filter(
        Q(bank=bank) & (Q(status__in=(MerchantStatus.APPROVED, MerchantStatus.SUSPENDED))
                        | Q(pk__in=list(stats))))
    out = []
    for m in merchants:
        r = stats.get(m.pk, {})
        out.append(MerchantRow(merchant_id=m.pk, name=m.name, status=m.get_status_display(),
                               product_views=r.get("s_views") or 0,
                               add_to_cart=r.get("s_cart") or 0,
                               orders=r.get("s_orders") or 0, gmv=r.get("s_gmv") or ZERO,
                               cross_bank_orders=r.get("s_cross_orders") or 0,
                               cross_bank_gmv=r.get("s_cross_gmv") or ZERO))
    out.sort(key=lambda r: (-r.gmv, -r.product_views, r.name))
    return out


@dataclass
class SegmentRow:
    segment: str
    label: str
    buyers: int = 0
    orders: int = 0
    gmv: Decimal = ZERO

    @property
    def average_order(self) -> Decimal | None:
        if not self.orders:
            return None
        return (self.gmv / self.orders).quantize(Decimal("0.01"), ROUND_HALF_UP)


def bank_segments(*, bank: Bank, start: datetime.date, end: datetime.date) -> list[SegmentRow]:
    """Purchases made through the bank's storefront per customer group of the buyer
    (every group listed, then 'not stated'). ``buyers`` adds up each day's distinct
    buyers, so a buyer who bought on two days counts twice."""
    rows = {r["segment"]: r for r in DailySegmentStat.objects.filter(
        _days(start, end), storefront_bank=bank).values("segment").annotate(
        buyers=Sum("buyers"), orders=Sum("orders"), gmv=Sum("gmv"))}
    out = []
    for value, label in [*Segment.choices, ("", None)]:
        r = rows.pop(value, {})
        out.append(SegmentRow(segment=value, label=str(label) if label else "",
                              buyers=r.get("buyers") or 0, orders=r.get("orders") or 0,
                              gmv=r.get("gmv") or ZERO))
    for value, r in sorted(rows.items()):  # a group no longer offered
        out.append(SegmentRow(segment=value, label=value, buyers=r["buyers"] or 0,
                              orders=r["orders"] or 0, gmv=r["gmv"] or ZERO))
    return out
