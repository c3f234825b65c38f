"""Credit scoring from the platform's own data: the figures (read in bulk, per chunk of
parties) and the scorecard (a pure function of the figures and the bank's policy).

Every factor gives a share between 0 and 1 of its weight (the bank's parameter; the
defaults are below); a factor without data counts as half. The score is the base plus
the points; the tier follows from the score; the limit from the trading record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from django.contrib.auth import get_user_model
from django.db.models import (
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from admission.models import Inspection, Verdict
from catalog.models import Merchant, Product, ProductStatus
from lending.models import LendingPolicy, Loan, LoanStatus, PartyKind, Tier
from orders.models import Fulfilment, Order, OrderStatus, Refund

ZERO = Decimal("0.00")
ON_TIME = timedelta(hours=48)
# Repayment history is borrowing experience, not a count of loans: each loan repaid
# weighs principal x days it ran (up to LOAN_DAYS_CAP), halved every REPAID_HALF_LIFE_DAYS
# since it closed; a loan repaid within MIN_LOAN_DAYS shows nothing about repaying (ten
# tiny loans taken and repaid at once must not buy a better score). The history is full
# when it reaches a month of the party's trade carried for a month (REFERENCE_DAYS), with
# MIN_REFERENCE_VOLUME as the least month.
MIN_LOAN_DAYS = 14
LOAN_DAYS_CAP = 180
REPAID_HALF_LIFE_DAYS = 365
REPAID_WINDOW_DAYS = 3 * 365
REFERENCE_DAYS = 30
MIN_REFERENCE_VOLUME = Decimal("1000")
# An order counts fully from this net value; a smaller one by its share of it, so many
# tiny orders do not count as many orders.
FULL_ORDER_VALUE = Decimal("50")
TIER_SHARE = {"A": Decimal("1.0"), "B": Decimal("0.7"), "C": Decimal("0.4"), "D": Decimal(0)}

# (factor, default weight, label) — the order is the order shown to the officer.
MERCHANT_FACTORS = [
    ("tenure", 60, _("Time on the platform")),
    ("sales", 120, _("Sales over 12 months")),
    ("growth", 60, _("Sales growth (last 3 months against the 3 before)")),
    ("orders", 60, _("Orders over 12 months (small orders count by their value)")),
    ("on_time", 80, _("Shipped within 48 hours")),
    ("fulfilment", 80, _("Orders fulfilled")),
    ("refunds", 60, _("Refunds and disputes")),
    ("traceability", 40, _("Products traceable to a batch")),
    ("inspection", 40, _("Latest on-site inspection")),
    ("repayment", 100, _("Repayment history (amount and days of loans repaid, recent ones "
                         "weigh more)")),
]
BUYER_FACTORS = [
    ("tenure", 80, _("Time on the platform")),
    ("purchases", 160, _("Purchases over 12 months")),
    ("growth", 40, _("Purchase growth (last 3 months against the 3 before)")),
    ("orders", 100, _("Orders over 12 months (small orders count by their value)")),
    ("refunds", 80, _("Refunds and disputes")),
    ("business", 60, _("Registered business buyer")),
    ("repayment", 180, _("Repayment history (amount and days of loans repaid, recent ones "
                         "weigh more)")),
]


def factor_table(party: str):
    return MERCHANT_FACTORS if party == PartyKind.MERCHANT else BUYER_FACTORS


# --- figures -------------------------------------------------------------------------------


def _window(now: datetime, months: int) -> datetime:
    return now - timedelta(days=30 * months)


def _sales_aggregates(now: datetime) -> dict:
    """Conditional sums over paid orders, for ``.values(group).annotate(**)``."""
    paid = Q(paid_at__isnull=False)
    net = F("total") - F("refunded_total")

    def since(months, until=None):
        cond = paid & Q(paid_at__gte=_window(now, months))
        return cond & Q(paid_at__lt=_window(now, until)) if until else cond

    return {
        "sales_3m": Coalesce(Sum(net, filter=since(3)), ZERO),
        "sales_prev_3m": Coalesce(Sum(net, filter=since(6, 3)), ZERO),
        "sales_6m": Coalesce(Sum(net, filter=since(6)), ZERO),
        "sales_12m": Coalesce(Sum(net, filter=since(12)), ZERO),
        "gross_12m": Coalesce(Sum("total", filter=since(12)), ZERO),
        "refunded_12m": Coalesce(Sum("refunded_total", filter=since(12)), ZERO),
        "orders_12m": Count("pk", filter=since(12)),
        # Each order by the share of FULL_ORDER_VALUE its goods are worth (at most 1).
        "order_weight_12m": Coalesce(Sum(Least(Value(Decimal(1)), Greatest(
            Value(ZERO), ExpressionWrapper(
                (F("goods_total") - F("refunded_total")) / Value(FULL_ORDER_VALUE),
                output_field=DecimalField(max_digits=20, decimal_places=6)))),
            filter=since(12)), ZERO),
        "completed_12m": Count("pk", filter=since(12) & Q(status=OrderStatus.COMPLETED)),
        "failed_12m": Count("pk", filter=since(12) & Q(
            status__in=[OrderStatus.REFUNDED, OrderStatus.CANCELLED])),
    }


def _repayment_figures(field: str, ids: list[int], now: datetime) -> dict[int, dict]:
    out: dict[int, dict] = {i: {"loans_closed": 0, "loans_closed_on_time": 0,
                                "loans_overdue_now": 0, "written_off": 0,
                                "loans_counted": 0, "repaid_on_time_pd": "0",
                                "repaid_late_pd": "0"} for i in ids}
    rows = (Loan.objects.filter(**{f"{field}__in": ids})
            .values(field).annotate(
                closed=Count("pk", filter=Q(status=LoanStatus.REPAID)),
                on_time=Count("pk", filter=Q(status=LoanStatus.REPAID,
                                             max_days_overdue=0)),
                overdue=Count("pk", filter=Q(status=LoanStatus.OVERDUE)),
                written_off=Count("pk", filter=Q(status=LoanStatus.WRITTEN_OFF))))
    for row in rows:
        out[row[field]].update(loans_closed=row["closed"], loans_closed_on_time=row["on_time"],
                               loans_overdue_now=row["overdue"],
                               written_off=row["written_off"])
    # Principal-days of the loans repaid in the window, time-decayed (see MIN_LOAN_DAYS).
    good: dict[int, Decimal] = {}
    late: dict[int, Decimal] = {}
    repaid = (Loan.objects.filter(**{f"{field}__in": ids}, status=LoanStatus.REPAID,
                                  closed_at__gte=now - timedelta(days=REPAID_WINDOW_DAYS))
              .values_list(field, "principal", "disbursed_at", "closed_at",
                           "max_days_overdue"))
    for party, principal, disbursed_at, closed_at, days_late in repaid:
        days = (closed_at - disbursed_at).days
        if days < MIN_LOAN_DAYS and not days_late:
            continue
        decay = Decimal(0.5 ** (max((now - closed_at).days, 0) / REPAID_HALF_LIFE_DAYS))
        weight = principal * min(days, LOAN_DAYS_CAP) * decay
        bucket = late if days_late else good
        bucket[party] = bucket.get(party, Decimal(0)) + weight
        out[party]["loans_counted"] += 1
    for party in ids:
        out[party]["repaid_on_time_pd"] = str(good.get(party, ZERO).quantize(Decimal(1)))
        out[party]["repaid_late_pd"] = str(late.get(party, ZERO).quantize(Decimal(1)))
    return out


def merchant_figures(merchant_ids: list[int], *, now: datetime | None = None) -> dict[int, dict]:
    """The raw figures of each merchant, read with a fixed number of queries for the whole
    chunk. Runs in the bank's schema (inspections and loans are the bank's)."""
    now = now or timezone.now()
    ids = list(merchant_ids)
    figures: dict[int, dict] = {}
    for m in Merchant.objects.filter(pk__in=ids).values("pk", "created_at"):
        figures[m["pk"]] = {"joined": m["created_at"].date().isoformat(),
                            "tenure_days": max((now - m["created_at"]).days, 0)}
    orders = Order.objects.filter(merchant_id__in=ids)
    for row in orders.values("merchant_id").annotate(**_sales_aggregates(now)):
        figures[row.pop("merchant_id")].update(row)
    delay = ExpressionWrapper(F("shipped_at") - F("paid_at"), output_field=DurationField())
    shipping = (orders.filter(fulfilment=Fulfilment.DELIVERY, paid_at__gte=_window(now, 12))
                .filter(Q(shipped_at__isnull=False) | Q(paid_at__lt=now - ON_TIME))
                .annotate(delay=delay).values("merchant_id")
                .annotate(due=Count("pk"),
                          on_time=Count("pk", filter=Q(shipped_at__isnull=False,
                                                       delay__lte=ON_TIME))))
    for row in shipping:
        figures[row["merchant_id"]].update(ship_due=row["due"], shipped_on_time=row["on_time"])
    disputes = (Refund.objects.filter(order__merchant_id__in=ids,
                                      created_at__gte=_window(now, 12))
                .values("order__merchant_id").annotate(n=Count("order_id", distinct=True)))
    for row in disputes:
        figures[row["order__merchant_id"]]["disputed_12m"] = row["n"]
    products = (Product.objects.filter(merchant_id__in=ids, status=ProductStatus.LISTED)
                .values("merchant_id")
                .annotate(listed=Count("pk", distinct=True),
                          traced=Count("pk", distinct=True, filter=Q(batches__isnull=False))))
    for row in products:
        figures[row["merchant_id"]].update(listed=row["listed"], traced=row["traced"])
    latest: dict[int, str] = {}
    for row in (Inspection.objects.filter(dossier__merchant_id__in=ids)
                .order_by("dossier__merchant_id", "-inspected_on", "-pk")
                .values("dossier__merchant_id", "verdict")):
        latest.setdefault(row["dossier__merchant_id"], row["verdict"])
    repay = _repayment_figures("merchant_id", ids, now)
    for pk, fig in figures.items():
        fig["inspection"] = latest.get(pk, "")
        fig.update(repay[pk])
    return {pk: _normalise(fig) for pk, fig in figures.items()}


def buyer_figures(user_ids: list[int], *, now: datetime | None = None) -> dict[int, dict]:
    now = now or timezone.now()
    ids = list(user_ids)
    figures: dict[int, dict] = {}
    for u in get_user_model().objects.filter(pk__in=ids).values("pk", "date_joined",
                                                                 "buyer_kind"):
        figures[u["pk"]] = {"joined": u["date_joined"].date().isoformat(),
                            "tenure_days": max((now - u["date_joined"]).days, 0),
                            "business": u["buyer_kind"] == "business"}
    orders = Order.objects.filter(buyer_id__in=ids)
    for row in orders.values("buyer_id").annotate(**_sales_aggregates(now)):
        figures[row.pop("buyer_id")].update(row)
    disputes = (Refund.objects.filter(order__buyer_id__in=ids, created_at__gte=_window(now, 12))
                .values("order__buyer_id").annotate(n=Count("order_id", distinct=True)))
    for row in disputes:
        figures[row["order__buyer_id"]]["disputed_12m"] = row["n"]
    repay = _repayment_figures("user_id", ids, now)
    for pk, fig in figures.items():
        fig.update(repay[pk])
    return {pk: _normalise(fig) for pk, fig in figures.items()}


_DEFAULTS = {"sales_3m": ZERO, "sales_prev_3m": ZERO, "sales_6m": ZERO, "sales_12m": ZERO,
             "gross_12m": ZERO, "refunded_12m": ZERO, "orders_12m": 0,
             "order_weight_12m": ZERO, "completed_12m": 0,
             "failed_12m": 0, "disputed_12m": 0, "ship_due": 0, "shipped_on_time": 0,
             "listed": 0, "traced": 0}


def _normalise(fig: dict) -> dict:
    """JSON-ready figures (money as strings), with zeros for what had no rows."""
    out = {**_DEFAULTS, **fig}
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in out.items()}


# --- the scorecard -------------------------------------------------------------------------


@dataclass(frozen=True)
class Scorecard:
    score: int
    tier: str
    limit: Decimal
    rate: Decimal | None
    factors: list[dict]


def _clamp(x: float) -> float:
    return max(0.0, min(1.0, x))


def _log_share(amount: Decimal, full: int) -> float:
    return _clamp(math.log10(1 + float(amount)) / math.log10(1 + full))


def _growth(fig: dict) -> tuple[float | None, str]:
    now, before = Decimal(fig["sales_3m"]), Decimal(fig["sales_prev_3m"])
    if before == 0:
        return (None, "") if now == 0 else (0.75, "new sales")
    change = float(now / before - 1)
    return _clamp(0.5 + change), f"{change:+.0%}"


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _repayment(fig: dict) -> tuple[float | None, str]:
    """Loans overdue now or written off: nothing. Else the experience of repaying: the
    on-time share of the weighted principal-days, times how deep that experience is
    against a month of the party's trade carried for a month (half of the share comes
    from punctuality alone). No loan that ran long enough: no data."""
    if fig["loans_overdue_now"] or fig["written_off"]:
        return 0.0, f"{fig['loans_overdue_now']} overdue, {fig['written_off']} written off"
    good = Decimal(fig.get("repaid_on_time_pd", "0"))
    late = Decimal(fig.get("repaid_late_pd", "0"))
    if good + late <= 0:
        return None, f"0/{fig['loans_closed']}" if fig["loans_closed"] else ""
    monthly = max(Decimal(fig["sales_12m"]) / 12, MIN_REFERENCE_VOLUME)
    depth = min(1.0, float(good / (monthly * REFERENCE_DAYS)))
    punctual = float(good / (good + late))
    return (_clamp(punctual * (0.5 + 0.5 * depth)),
            f"{fig.get('loans_counted', 0)}/{fig['loans_closed']} · {depth:.0%}")


def _order_equivalents(fig: dict) -> float:
    """Orders counted, a small order by its share of FULL_ORDER_VALUE (profiles worked
    out before the weight was read count every order as one)."""
    return float(Decimal(fig.get("order_weight_12m", fig["orders_12m"])))


def _inspection_label(verdict: str | None) -> str:
    """The last inspection's verdict as the inspector's form names it ("-": none)."""
    if not verdict:
        return "-"
    return str(dict(Verdict.choices).get(verdict, verdict))


def _shares(party: str, fig: dict) -> dict[str, tuple[float | None, str]]:
    gross = Decimal(fig["gross_12m"])
    refund_rate = float(Decimal(fig["refunded_12m"]) / gross) if gross else 0.0
    dispute_rate = fig["disputed_12m"] / fig["orders_12m"] if fig["orders_12m"] else 0.0
    refunds = (None if not fig["orders_12m"] else _clamp(1 - 2.5 * (refund_rate + dispute_rate)),
               f"{refund_rate:.1%} / {dispute_rate:.1%}")
    tenure = (_clamp(fig["tenure_days"] / 730),
              ngettext("%(n)s day", "%(n)s days", fig["tenure_days"]) % {"n": fig["tenure_days"]})
    shares = {"tenure": tenure, "growth": _growth(fig), "refunds": refunds,
              "repayment": _repayment(fig)}
    if party == PartyKind.MERCHANT:
        shares.update({
            "sales": (_log_share(Decimal(fig["sales_12m"]), 1_000_000), fig["sales_12m"]),
            "orders": (_clamp(_order_equivalents(fig) / 200), str(fig["orders_12m"])),
            "on_time": (_ratio(fig["shipped_on_time"], fig["ship_due"]),
                        f"{fig['shipped_on_time']}/{fig['ship_due']}"),
            "fulfilment": (_ratio(fig["completed_12m"],
                                  fig["completed_12m"] + fig["failed_12m"]),
                           f"{fig['completed_12m']}/{fig['completed_12m'] + fig['failed_12m']}"),
            "traceability": (_ratio(fig["traced"], fig["listed"]),
                             f"{fig['traced']}/{fig['listed']}"),
            "inspection": (None if not fig["inspection"] else
                           {"pass": 1.0, "conditional": 0.5}.get(fig["inspection"], 0.0),
                           _inspection_label(fig["inspection"])),
        })
    else:
        shares.update({
            "purchases": (_log_share(Decimal(fig["sales_12m"]), 100_000), fig["sales_12m"]),
            "orders": (_clamp(_order_equivalents(fig) / 24), str(fig["orders_12m"])),
            "business": (1.0 if fig["business"] else 0.0,
                         str(_("Business buyer") if fig["business"] else _("Individual"))),
        })
    return shares


def tier_for(score: int, policy: LendingPolicy) -> str:
    if score >= policy.tier_a_min:
        return Tier.A
    if score >= policy.tier_b_min:
        return Tier.B
    if score >= policy.tier_c_min:
        return Tier.C
    return Tier.D


def scorecard(party: str, fig: dict, policy: LendingPolicy) -> Scorecard:
    """Score, tier, limit and rate of a party, and each factor's contribution."""
    weights = policy.weights or {}
    shares = _shares(party, fig)
    factors, points_total = [], 0
    for name, default, label in factor_table(party):
        weight = int(weights.get(name, default))
        share, shown = shares[name]
        neutral = share is None
        points = round(weight * (0.5 if neutral else share))
        points_total += points
        factors.append({"factor": name, "label": str(label), "value": shown,
                        "points": points, "max": weight, "no_data": neutral})
    score = int(policy.base_score) + points_total
    tier = tier_for(score, policy)
    months = max(1, min(12, fig["tenure_days"] // 30))
    monthly = Decimal(fig["sales_12m"]) / months
    if party == PartyKind.MERCHANT:
        limit, cap = monthly * policy.merchant_limit_months, policy.merchant_limit_cap
    else:
        limit, cap = monthly * policy.buyer_limit_months, policy.buyer_limit_cap
    limit = min(limit * TIER_SHARE[tier], cap)
    # Limits are whole hundreds of yuan, rounded down.
    limit = (limit / 100).quantize(Decimal(1), rounding=ROUND_FLOOR) * 100
    return Scorecard(score=score, tier=tier, limit=Decimal(limit).quantize(Decimal("0.01")),
                     rate=policy.rate_for(tier), factors=factors)
