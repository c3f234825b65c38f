"""Traffic between pairs of banks (storefront bank, merchant bank): the matrix and its
summary, the series over time and the funnel.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import F, Q, Sum

from banks.models import Bank
from banks.selectors import bank_list_active
from federation.models import DailyPairStat
from federation.selectors._common import ZERO, _banks_by_id, _days, rate

PAIR_FIELDS = ("visits", "product_views", "searches", "add_to_cart", "checkouts",
               "share_clicks", "orders", "gmv", "referral_fees")


@dataclass
class PairRow:
    storefront: Bank | None
    merchant_bank: Bank
    product_views: int = 0
    add_to_cart: int = 0
    checkouts: int = 0
    orders: int = 0
    gmv: Decimal = ZERO
    referral_fees: Decimal = ZERO

    @property
    def cross_bank(self) -> bool:
        return self.storefront is not None and self.storefront.pk != self.merchant_bank.pk

    @property
    def conversion(self) -> Decimal | None:
        return rate(self.orders, self.product_views)

    @property
    def storefront_code(self) -> str:
        return self.storefront.code if self.storefront else ""

    @property
    def merchant_bank_code(self) -> str:
        return self.merchant_bank.code


@dataclass
class StorefrontRow:
    """A storefront's own traffic (visits and searches) and what it sold, all merchants."""

    storefront: Bank | None
    visits: int = 0
    searches: int = 0
    share_clicks: int = 0
    product_views: int = 0
    orders: int = 0
    gmv: Decimal = ZERO
    cross_bank_gmv: Decimal = ZERO

    @property
    def conversion(self) -> Decimal | None:
        return rate(self.orders, self.visits)

    @property
    def storefront_code(self) -> str:
        return self.storefront.code if self.storefront else ""


@dataclass
class Matrix:
    """Storefronts (rows: the portal, then every bank) x merchant banks (columns)."""

    storefronts: list[Bank | None]
    merchant_banks: list[Bank]
    pairs: list[PairRow]
    storefront_rows: list[StorefrontRow]
    cells: dict[tuple[int | None, int], PairRow] = field(default_factory=dict)

    def cell(self, storefront: Bank | None, merchant_bank: Bank) -> PairRow | None:
        return self.cells.get((storefront.pk if storefront else None, merchant_bank.pk))


def _pair_totals(qs) -> list[dict]:
    return list(qs.values("storefront_bank_id", "merchant_bank_id")
                .annotate(**{f: Sum(f) for f in PAIR_FIELDS})
                .order_by("storefront_bank_id", "merchant_bank_id"))


def traffic_matrix(*, start: datetime.date, end: datetime.date,
                   bank: Bank | None = None) -> Matrix:
    """Visits, product views, orders, GMV, conversion and referral fees per pair of banks.

    With ``bank``: only the pairs in which that bank is the storefront or the merchant
    bank, and only its own storefront's visits.
    """
    qs = DailyPairStat.objects.filter(_days(start, end))
    if bank is not None:
        qs = qs.filter(Q(storefront_bank=bank) | Q(merchant_bank=bank))
    totals = _pair_totals(qs)
    banks = _banks_by_id([t["storefront_bank_id"] for t in totals]
                         + [t["merchant_bank_id"] for t in totals])
    pairs: list[PairRow] = []
    fronts: dict[int | None, StorefrontRow] = {}
    for t in totals:
        sid, mid = t["storefront_bank_id"], t["merchant_bank_id"]
        storefront = banks.get(sid) if sid else None
        own = bank is None or sid == bank.pk
        if own:
            front = fronts.setdefault(sid, StorefrontRow(storefront=storefront))
            front.visits += t["visits"] or 0
            front.searches += t["searches"] or 0
            front.share_clicks += t["share_clicks"] or 0
        if mid is None:
            continue
        row = PairRow(storefront=storefront, merchant_bank=banks[mid],
                      product_views=t["product_views"] or 0,
                      add_to_cart=t["add_to_cart"] or 0, checkouts=t["checkouts"] or 0,
                      orders=t["orders"] or 0, gmv=t["gmv"] or ZERO,
                      referral_fees=t["referral_fees"] or ZERO)
        pairs.append(row)
        if own:
            front.product_views += row.product_views
            front.orders += row.orders
            front.gmv += row.gmv
            if row.cross_bank:
                front.cross_bank_gmv += row.gmv
    if bank is None:
        member_banks = list(bank_list_active())
        known = {b.pk for b in member_banks}
        member_banks += sorted((b for b in banks.values() if b.pk not in known),
                               key=lambda b: b.code)
        storefronts: list[Bank | None] = [None, *member_banks]
        merchant_banks = member_banks
    else:
        others = sorted((b for b in banks.values() if b.pk != bank.pk), key=lambda b: b.code)
        storefronts = [bank, *others]
        merchant_banks = [bank, *others]
    for s in storefronts:
        if bank is None or s == bank:
            fronts.setdefault(s.pk if s else None, StorefrontRow(storefront=s))
    order = {(s.pk if s else None): i for i, s in enumerate(storefronts)}
    mb_order = {b.pk: i for i, b in enumerate(merchant_banks)}
    pairs.sort(key=lambda p: (order.get(p.storefront.pk if p.storefront else None, 999),
                              mb_order.get(p.merchant_bank.pk, 999)))
    storefront_rows = sorted(fronts.values(),
                             key=lambda f: order.get(f.storefront.pk if f.storefront
                                                     else None, 999))
    return Matrix(storefronts=storefronts, merchant_banks=merchant_banks, pairs=pairs,
                  storefront_rows=storefront_rows,
                  cells={(p.storefront.pk if p.storefront else None, p.merchant_bank.pk): p
                         for p in pairs})


@dataclass
class TrafficSummary:
    visits: int = 0
    product_views: int = 0
    orders: int = 0
    gmv: Decimal = ZERO
    cross_bank_orders: int = 0
    cross_bank_gmv: Decimal = ZERO
    referral_fees: Decimal = ZERO

    @property
    def conversion(self) -> Decimal | None:
        return rate(self.orders, self.visits)

    @property
    def cross_bank_share(self) -> Decimal | None:
        return rate(self.cross_bank_gmv, self.gmv)


def traffic_summary(matrix: Matrix) -> TrafficSummary:
    """Headline figures of a matrix (what its storefront rows and pairs add up to)."""
    s = TrafficSummary()
    for f in matrix.storefront_rows:
        s.visits += f.visits
        s.product_views += f.product_views
        s.orders += f.orders
        s.gmv += f.gmv
    for p in matrix.pairs:
        if p.cross_bank and (p.storefront in matrix.storefronts):
            s.cross_bank_orders += p.orders
            s.cross_bank_gmv += p.gmv
            s.referral_fees += p.referral_fees
    return s


@dataclass
class DayPoint:
    day: datetime.date
    visits: int = 0
    product_views: int = 0
    cross_bank_views: int = 0
    orders: int = 0
    cross_bank_orders: int = 0
    gmv: Decimal = ZERO
    cross_bank_gmv: Decimal = ZERO


def traffic_series(*, start: datetime.date, end: datetime.date,
                   bank: Bank | None = None) -> list[DayPoint]:
    """One point per day of the range (days without data are zeros): all traffic and
    GMV, and the cross-bank part of it. With ``bank``: its storefront's visits, and
    orders and GMV where it is the storefront or the merchant bank."""
    qs = DailyPairStat.objects.filter(_days(start, end))
    if bank is not None:
        qs = qs.filter(Q(storefront_bank=bank) | Q(merchant_bank=bank))
    out = {start + datetime.timedelta(days=i): DayPoint(day=start + datetime.timedelta(days=i))
           for i in range((end - start).days + 1)}
    cross = (Q(storefront_bank__isnull=False) & Q(merchant_bank__isnull=False)
             & ~Q(storefront_bank=F("merchant_bank")))
    rows = (qs.values("day").annotate(
        s_visits=Sum("visits", filter=_own_storefront(bank)),
        s_views=Sum("product_views"), s_cross_views=Sum("product_views", filter=cross),
        s_orders=Sum("orders"), s_cross_orders=Sum("orders", filter=cross),
        s_gmv=Sum("gmv"), s_cross_gmv=Sum("gmv", filter=cross)).order_by("day"))
    for r in rows:
        p = out[r["day"]]
        p.visits = r["s_visits"] or 0
        p.product_views = r["s_views"] or 0
        p.cross_bank_views = r["s_cross_views"] or 0
        p.orders = r["s_orders"] or 0
        p.cross_bank_orders = r["s_cross_orders"] or 0
        p.gmv = r["s_gmv"] or ZERO
        p.cross_bank_gmv = r["s_cross_gmv"] or ZERO
    return [out[d] for d in sorted(out)]


def _own_storefront(bank: Bank | None) -> Q | None:
    return Q(storefront_bank=bank) if bank is not None else None


FUNNEL_STEPS = ("visits", "product_views", "add_to_cart", "checkouts", "orders")


@dataclass
class FunnelStep:
    key: str
    count: int
    of_first: Decimal | None  # % of the first step
    of_previous: Decimal | None  # % of the step before


def traffic_funnel(*, start: datetime.date, end: datetime.date,
                   bank: Bank | None = None) -> list[FunnelStep]:
    """Visit -> product view -> add to cart -> checkout -> purchase (orders), for the
    province or for one bank's storefront (what shoppers did on that storefront)."""
    qs = DailyPairStat.objects.filter(_days(start, end))
    if bank is not None:
        qs = qs.filter(storefront_bank=bank)
    agg = qs.aggregate(**{k: Sum(k) for k in FUNNEL_STEPS})
    counts = [agg[k] or 0 for k in FUNNEL_STEPS]
    steps = []
    for i, (key, n) in enumerate(zip(FUNNEL_STEPS, counts, strict=True)):
        steps.append(FunnelStep(key=key, count=n, of_first=rate(n, counts[0]),
                                of_previous=rate(n, counts[i - 1]) if i else rate(n, n)))
    return steps
