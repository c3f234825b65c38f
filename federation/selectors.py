"""Reads of the traffic roll-ups for the federation's and the banks' dashboards.

Every figure here comes from the ``Daily*Stat`` roll-ups (never from the raw events and
never from joins across bank schemas), summed over an inclusive range of local days.
Selectors with a ``bank`` argument are the bank console's variants: they return only rows
in which that bank takes part (its storefront or its merchants) and never another bank's
merchants or customers. ``merchant_compliance`` is the one read that leaves the public
schema: it enters each bank's own schema explicitly (``schema_context``) to count the
admission files kept there.

Definitions (docs/architecture.md, "Traffic dashboards"):
- a *pair* is (storefront bank, merchant bank); the portal is the storefront ``None``;
- *cross-bank* means a member bank's storefront selling a product of another bank's
  merchant (the portal is no bank, so its traffic is never cross-bank);
- visits and searches belong to a storefront, not to a merchant (their rows have no
  merchant bank); *conversion* of a storefront is orders per visit, of a pair orders per
  product view;
- rates are percentages rounded to one decimal (ROUND_HALF_UP), ``None`` when the base is 0.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import Lower
from django_tenants.utils import schema_context

from banks.models import Bank
from banks.selectors import bank_list_active
from catalog.models import Category, Merchant, MerchantStatus, Product
from federation.models import (
    DailyCategoryStat,
    DailyMerchantStat,
    DailyPairStat,
    DailyProductStat,
    DailyRegionStat,
    DailySegmentStat,
    Event,
    EventKind,
    ProductTotal,
    RollupState,
)

ZERO = Decimal("0.00")
MAX_RANGE_DAYS = 366


def rate(part, whole) -> Decimal | None:
    """``part`` as a percentage of ``whole`` (one decimal), or None when ``whole`` is 0."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _days(start: datetime.date, end: datetime.date):
    return Q(day__gte=start, day__lte=end)


def rollup_freshness() -> dict:
    """The last roll-up: the latest day rolled up and when (for 'figures as of')."""
    agg = RollupState.objects.aggregate(day=Max("day"), at=Max("rolled_up_at"))
    return {"last_day": agg["day"], "rolled_up_at": agg["at"]}


# --- pairs of banks ----------------------------------------------------------------------

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


def _banks_by_id(ids) -> dict[int, Bank]:
    return {b.pk: b for b in Bank.objects.filter(pk__in={i for i in ids if i is not None})}


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


# --- over time ---------------------------------------------------------------------------


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


# --- funnel ------------------------------------------------------------------------------

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


# --- tops --------------------------------------------------------------------------------


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


# --- referral credit ---------------------------------------------------------------------


@dataclass
class CreditRow:
    """Referral fees between two banks over the range: the merchant bank pays the bank
    whose storefront brought the buyer."""

    bank_a: Bank
    bank_b: Bank
    a_earned_from_b: Decimal = ZERO  # A's storefront sold B's merchants' goods
    b_earned_from_a: Decimal = ZERO
    a_orders_for_b: int = 0
    b_orders_for_a: int = 0

    @property
    def net_to_a(self) -> Decimal:
        return self.a_earned_from_b - self.b_earned_from_a

    @property
    def bank_a_code(self) -> str:
        return self.bank_a.code

    @property
    def bank_b_code(self) -> str:
        return self.bank_b.code


@dataclass
class BankCredit:
    bank: Bank
    earned: Decimal = ZERO  # as the referring storefront
    paid: Decimal = ZERO  # as the merchants' bank
    referred_orders: int = 0
    referred_gmv: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.earned - self.paid

    @property
    def bank_code(self) -> str:
        return self.bank.code


def referral_credit(*, start: datetime.date, end: datetime.date,
                    bank: Bank | None = None) -> tuple[list[CreditRow], list[BankCredit]]:
    """Referral credit between banks: per pair (both directions and the net) and per bank
    (earned as storefront, paid as merchant bank). With ``bank``: only pairs with it, and
    ``bank`` first in each pair."""
    qs = (DailyPairStat.objects.filter(_days(start, end), storefront_bank__isnull=False,
                                       merchant_bank__isnull=False)
          .exclude(storefront_bank=F("merchant_bank")))
    if bank is not None:
        qs = qs.filter(Q(storefront_bank=bank) | Q(merchant_bank=bank))
    totals = list(qs.values("storefront_bank_id", "merchant_bank_id")
                  .annotate(fees=Sum("referral_fees"), orders=Sum("orders"), gmv=Sum("gmv")))
    banks = _banks_by_id([t["storefront_bank_id"] for t in totals]
                         + [t["merchant_bank_id"] for t in totals])
    pairs: dict[tuple[int, int], CreditRow] = {}
    per_bank: dict[int, BankCredit] = {}
    for t in totals:
        s, m = t["storefront_bank_id"], t["merchant_bank_id"]
        fees, orders = t["fees"] or ZERO, t["orders"] or 0
        if bank is not None:
            a, b = (s, m) if s == bank.pk else (m, s)
        else:
            a, b = sorted((s, m), key=lambda i: banks[i].code)
        row = pairs.setdefault((a, b), CreditRow(bank_a=banks[a], bank_b=banks[b]))
        if s == a:
            row.a_earned_from_b += fees
            row.a_orders_for_b += orders
        else:
            row.b_earned_from_a += fees
            row.b_orders_for_a += orders
        earner = per_bank.setdefault(s, BankCredit(bank=banks[s]))
        earner.earned += fees
        earner.referred_orders += orders
        earner.referred_gmv += t["gmv"] or ZERO
        per_bank.setdefault(m, BankCredit(bank=banks[m])).paid += fees
    rows = sorted(pairs.values(), key=lambda r: (r.bank_a.code, r.bank_b.code))
    if bank is not None:
        per_bank = {k: v for k, v in per_bank.items() if k == bank.pk}
    return rows, sorted(per_bank.values(), key=lambda c: c.bank.code)


# --- the bank's own view -----------------------------------------------------------------


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
    from accounts.models import Segment

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


# --- merchant compliance -----------------------------------------------------------------


@dataclass
class ComplianceRow:
    bank: Bank
    admitted: int = 0
    suspended: int = 0
    in_review: int = 0
    rejected: int = 0
    overdue_reviews: int = 0
    expired_licences: int = 0

    @property
    def bank_code(self) -> str:
        return self.bank.code


def merchant_compliance(*, today: datetime.date, bank: Bank | None = None
                        ) -> list[ComplianceRow]:
    """Per bank: merchants admitted, suspended, in review, rejected (the shared catalog),
    and, from the bank's own admission files, admitted merchants whose re-review date has
    passed and open expired-licence flags. The admission files are a bank's private data:
    this enters each bank's schema explicitly, one bank at a time."""
    from admission.selectors import compliance_counts

    banks = [bank] if bank is not None else list(bank_list_active())
    status_counts: dict[int, dict[str, int]] = defaultdict(dict)
    for r in (Merchant.objects.filter(bank__in=banks).values("bank_id", "status")
              .annotate(n=Count("pk"))):
        status_counts[r["bank_id"]][r["status"]] = r["n"]
    out = []
    for b in banks:
        counts = status_counts[b.pk]
        with schema_context(b.schema_name):
            private = compliance_counts(bank=b, today=today)
        out.append(ComplianceRow(
            bank=b, admitted=counts.get(MerchantStatus.APPROVED, 0),
            suspended=counts.get(MerchantStatus.SUSPENDED, 0),
            in_review=counts.get(MerchantStatus.APPLIED, 0)
            + counts.get(MerchantStatus.UNDER_REVIEW, 0),
            rejected=counts.get(MerchantStatus.REJECTED, 0),
            overdue_reviews=private["overdue_reviews"],
            expired_licences=private["expired_licences"]))
    return out


# --- searches that found nothing ---------------------------------------------------------

@dataclass
class UnfoundQuery:
    query: str
    searches: int
    last_day: datetime.date


def searches_without_results(*, start: datetime.date, end: datetime.date,
                             bank: Bank | None = None, limit: int = 30) -> list[UnfoundQuery]:
    """The queries most often searched in these days that found no product matching every
    word: all storefronts and the portal, or one bank's storefront (``bank``). Read from
    the raw search events (the one read here that is not a roll-up: a GROUP BY over the
    days' search rows, on the (day, kind) index); searches recorded before the result
    count was kept are left out."""
    qs = Event.objects.filter(kind=EventKind.SEARCH, day__gte=start, day__lte=end,
                              results=0)
    if bank is not None:
        qs = qs.filter(storefront_bank=bank)
    rows = (qs.annotate(q=Lower("query")).values("q")
            .annotate(n=Count("id"), last=Max("day")).order_by("-n", "q")[:limit])
    return [UnfoundQuery(query=r["q"], searches=r["n"], last_day=r["last"]) for r in rows]
