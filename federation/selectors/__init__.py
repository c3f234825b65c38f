"""Reads of the traffic roll-ups for the federation's and the banks' dashboards.

Every figure here comes from the ``Daily*Stat`` roll-ups (never from the raw events and
never from joins across bank schemas), summed over an inclusive range of local days.
Selectors with a ``bank`` argument are the bank console's variants: they return only rows
in which that bank takes part (its storefront or its merchants) and never another bank's
merchants or customers. ``merchant_compliance`` is the one read that leaves the public
schema: it enters each bank's own schema explicitly (``schema_context``) to count the
admission files kept there.

Definitions (docs/flows.md, "Traffic dashboards"):
- a *pair* is (storefront bank, merchant bank); the portal is the storefront ``None``;
- *cross-bank* means a member bank's storefront selling a product of another bank's
  merchant (the portal is no bank, so its traffic is never cross-bank);
- visits and searches belong to a storefront, not to a merchant (their rows have no
  merchant bank); *conversion* of a storefront is orders per visit, of a pair orders per
  product view;
- rates are percentages rounded to one decimal (ROUND_HALF_UP), ``None`` when the base is 0.

One module per read: ``traffic`` (the matrix, its summary, the series, the funnel),
``tops``, ``referrals``, ``channels`` (partner platforms beside the storefronts),
``bank_view`` (a bank's own flows, merchants and customer groups), ``compliance`` and
``searches`` (searches that found nothing); shared helpers in ``_common``. Callers import
from this package.
"""

from federation.selectors._common import MAX_RANGE_DAYS, ZERO, rate, rollup_freshness
from federation.selectors.bank_view import (
    FlowRow,
    MerchantRow,
    SegmentRow,
    bank_merchant_performance,
    bank_segments,
    bank_traffic_flows,
)
from federation.selectors.channels import (
    ChannelCell,
    ChannelRow,
    Channels,
    channel_sales_view,
)
from federation.selectors.compliance import ComplianceRow, merchant_compliance
from federation.selectors.referrals import BankCredit, CreditRow, referral_credit
from federation.selectors.searches import UnfoundQuery, searches_without_results
from federation.selectors.tops import (
    TopRow,
    top_categories,
    top_products,
    top_products_from_days,
    top_regions,
)
from federation.selectors.traffic import (
    FUNNEL_STEPS,
    PAIR_FIELDS,
    DayPoint,
    FunnelStep,
    Matrix,
    PairRow,
    StorefrontRow,
    TrafficSummary,
    traffic_funnel,
    traffic_matrix,
    traffic_series,
    traffic_summary,
)

__all__ = [
    "FUNNEL_STEPS",
    "MAX_RANGE_DAYS",
    "PAIR_FIELDS",
    "ZERO",
    "BankCredit",
    "ChannelCell",
    "ChannelRow",
    "Channels",
    "ComplianceRow",
    "CreditRow",
    "DayPoint",
    "FlowRow",
    "FunnelStep",
    "Matrix",
    "MerchantRow",
    "PairRow",
    "SegmentRow",
    "StorefrontRow",
    "TopRow",
    "TrafficSummary",
    "UnfoundQuery",
    "bank_merchant_performance",
    "bank_segments",
    "bank_traffic_flows",
    "channel_sales_view",
    "merchant_compliance",
    "rate",
    "referral_credit",
    "rollup_freshness",
    "searches_without_results",
    "top_categories",
    "top_products",
    "top_products_from_days",
    "top_regions",
    "traffic_funnel",
    "traffic_matrix",
    "traffic_series",
    "traffic_summary",
]
