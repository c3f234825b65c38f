"""The traffic dashboards: the federation's (portal, /federation/traffic/, federation
admins) and a bank's own (its domain, /console/traffic/, that bank's staff).

``?start=YYYY-MM-DD&end=YYYY-MM-DD`` picks the days (default: the last 30);
``?export=<table>&format=csv|xlsx`` downloads one of the page's tables.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from banks.permissions import bank_staff_required, federation_admin_required
from federation import charts, reports, selectors

# What the heat map's cells can show (?metric=...).
HEAT_METRICS = {
    "gmv": lambda p: p.gmv,
    "orders": lambda p: p.orders,
    "product_views": lambda p: p.product_views,
    "referral_fees": lambda p: p.referral_fees,
}


def _metric_label(key: str) -> str:
    return {"gmv": _("GMV"), "orders": _("Orders"), "product_views": _("Product views"),
            "referral_fees": _("Referral fees")}[key]


def _range_or_error(request):
    """(start, end, errors): the page's date range; on bad input the default range and
    the messages to show (the page answers 400)."""
    try:
        start, end = reports.range_from_query(request.GET)
        return start, end, []
    except ValidationError as exc:
        start, end = reports.date_range(start=None, end=None)
        return start, end, [m for msgs in exc.message_dict.values() for m in msgs]


def _base(start, end, errors) -> dict:
    today = timezone.localdate()
    presets = [(today - datetime.timedelta(days=n - 1), _("Last %(n)s days") % {"n": n})
               for n in (7, 30, 90)]
    return {"start": start, "end": end, "errors": errors, "today": today,
            "presets": presets}


def _export(request, tables, *, start, end, bank, prefix):
    key = request.GET.get("export", "")
    fmt = request.GET.get("format", "csv")
    if key not in tables:
        raise Http404
    if fmt not in reports.EXPORT_FORMATS:
        return None
    table = reports.build(tables, key, start=start, end=end, bank=bank)
    return reports.export_response(table, fmt=fmt, start=start, end=end, prefix=prefix)


def _series_charts(points: list[selectors.DayPoint]) -> dict:
    days = [p.day for p in points]
    return {
        "traffic_chart": charts.line_chart(days=days, label=_("Traffic per day"), series=[
            charts.Series(_("Product views"), [p.product_views for p in points]),
            charts.Series(_("Cross-bank product views"), [p.cross_bank_views for p in points]),
            charts.Series(_("Visits"), [p.visits for p in points]),
        ]),
        "gmv_chart": charts.line_chart(days=days, label=_("GMV per day"), series=[
            charts.Series(_("GMV"), [p.gmv for p in points]),
            charts.Series(_("Cross-bank GMV"), [p.cross_bank_gmv for p in points]),
        ]),
    }


def _funnel_chart(steps: list[selectors.FunnelStep]):
    items = []
    for s in steps:
        pct = f" · {s.of_first}%" if s.of_first is not None and s.key != "visits" else ""
        items.append((str(reports.FUNNEL_LABELS[s.key]), s.count, f"{s.count:,}{pct}"))
    return charts.bars(items=items, label=_("Funnel from visit to purchase"))


def _bad_format(request, template, context):
    context["errors"] = [_("Choose CSV or Excel.")]
    return render(request, template, context, status=400)


@federation_admin_required
@require_GET
def federation_traffic(request):
    start, end, errors = _range_or_error(request)
    base = _base(start, end, errors)
    if errors:
        return render(request, "federation/traffic.html", base, status=400)
    if "export" in request.GET:
        response = _export(request, reports.FEDERATION_TABLES, start=start, end=end,
                           bank=None, prefix="federation-traffic")
        return response or _bad_format(request, "federation/traffic.html", base)
    metric = request.GET.get("metric", "gmv")
    if metric not in HEAT_METRICS:
        metric = "gmv"
    matrix = selectors.traffic_matrix(start=start, end=end)
    points = selectors.traffic_series(start=start, end=end)
    steps = selectors.traffic_funnel(start=start, end=end)
    credit_rows, credit_banks = selectors.referral_credit(start=start, end=end)
    channels = selectors.channel_sales_view(start=start, end=end)
    get = HEAT_METRICS[metric]
    # Partner platforms are sources beside the storefronts: rows of their own (orders and
    # GMV only: they have no visits or views here, and pay no referral fees).
    channel_get = get if metric in ("gmv", "orders") else None
    heat = charts.heatmap(
        rows=[reports.storefront_name(s) for s in matrix.storefronts]
        + [_("%(name)s (partner)") % {"name": name} for _key, name in channels.channels],
        columns=[b.display_name for b in matrix.merchant_banks],
        values=[[(lambda c: get(c) if c else None)(matrix.cell(s, b))
                 for b in matrix.merchant_banks] for s in matrix.storefronts]
        + [[(lambda c: channel_get(c) if c and channel_get else None)(channels.cell(key, b.pk))
            for b in matrix.merchant_banks] for key, _name in channels.channels],
        label=_("%(metric)s from storefront (row) to merchants' bank (column)")
        % {"metric": _metric_label(metric)},
        row_title=_("Storefront ↓"), column_title=_("Merchants' bank →"), diagonal_offset=1)
    tables = [
        reports.table("storefronts", matrix.storefront_rows),
        reports.table("pairs", matrix.pairs),
        reports.table("credit", credit_rows),
        reports.table("credit_banks", credit_banks),
        reports.table("products", selectors.top_products(start=start, end=end)),
        reports.table("regions", selectors.top_regions(start=start, end=end)),
        reports.table("categories", selectors.top_categories(start=start, end=end)),
        reports.table("funnel", steps),
        reports.table("compliance", selectors.merchant_compliance(today=timezone.localdate())),
        reports.table("series", points),
        reports.table("partners", channels.by_month),
        reports.table("partner_days", channels.by_day),
    ]
    return render(request, "federation/traffic.html", {
        **base, "summary": selectors.traffic_summary(matrix), "heatmap": heat,
        "channels": channels,
        "metric": metric, "metrics": [(k, _metric_label(k)) for k in HEAT_METRICS],
        "funnel_chart": _funnel_chart(steps), **_series_charts(points),
        "tables": {t.key: t for t in tables}, "freshness": selectors.rollup_freshness(),
    })


@bank_staff_required()
@require_GET
def bank_traffic(request):
    bank = request.bank
    start, end, errors = _range_or_error(request)
    base = {**_base(start, end, errors), "membership": request.membership}
    if errors:
        return render(request, "federation/bank_traffic.html", base, status=400)
    if "export" in request.GET:
        response = _export(request, reports.BANK_TABLES, start=start, end=end, bank=bank,
                           prefix=f"{bank.code}-traffic")
        return response or _bad_format(request, "federation/bank_traffic.html", base)
    own, flows = selectors.bank_traffic_flows(bank=bank, start=start, end=end)
    points = selectors.traffic_series(start=start, end=end, bank=bank)
    steps = selectors.traffic_funnel(start=start, end=end, bank=bank)
    segments = selectors.bank_segments(bank=bank, start=start, end=end)
    credit_rows, credit_banks = selectors.referral_credit(start=start, end=end, bank=bank)
    flow_chart = charts.bars(
        label=_("GMV in and out per other party"),
        items=[(f"→ {reports.storefront_name(f.counterpart)}", f.out_gmv,
                f"¥{f.out_gmv:,.2f}") for f in flows if f.counterpart is not None]
        + [(f"← {reports.storefront_name(f.counterpart)}", f.in_gmv, f"¥{f.in_gmv:,.2f}")
           for f in flows])
    segment_chart = charts.bars(
        label=_("Purchases by customer group"), colour=charts.SERIES[2],
        items=[(s.label or _("Not stated"), s.gmv, f"¥{s.gmv:,.2f} · {s.orders}")
               for s in segments])
    tables = [
        reports.table("flows", [own, *flows]),
        reports.table("merchants", selectors.bank_merchant_performance(bank=bank, start=start,
                                                                        end=end)),
        reports.table("segments", segments),
        reports.table("credit", credit_rows),
        reports.table("products", selectors.top_products(start=start, end=end, bank=bank)),
        reports.table("regions", selectors.top_regions(start=start, end=end, bank=bank)),
        reports.table("funnel", steps),
        reports.table("series", points),
    ]
    summary = {
        "home_gmv": own.out_gmv,
        "out_gmv": sum((f.out_gmv for f in flows), selectors.ZERO),
        "in_gmv": sum((f.in_gmv for f in flows), selectors.ZERO),
        "visits": steps[0].count,
        "fees_earned": credit_banks[0].earned if credit_banks else selectors.ZERO,
        "fees_paid": credit_banks[0].paid if credit_banks else selectors.ZERO,
    }
    return render(request, "federation/bank_traffic.html", {
        **base, "summary": summary, "flow_chart": flow_chart, "segment_chart": segment_chart,
        "funnel_chart": _funnel_chart(steps), **_series_charts(points),
        "tables": {t.key: t for t in tables}, "freshness": selectors.rollup_freshness(),
    })
