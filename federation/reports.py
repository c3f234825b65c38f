"""The traffic dashboards' tables, defined once for the page, the CSV and the Excel file.

A ``Table`` is a list of rows from a selector and the columns to show; the page renders
``display_rows()`` and the downloads write ``values()`` of the very same table, so an
export always carries the numbers on the page. Which tables exist, and for whom, is in
``FEDERATION_TABLES`` and ``BANK_TABLES``.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Font

from banks.models import Bank
from core.exports import csv_writer, xlsx_append
from federation import selectors

DEFAULT_DAYS = 30
EXPORT_FORMATS = ("csv", "xlsx")


# --- the date range ----------------------------------------------------------------------


def parse_day(value: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def date_range(*, start: datetime.date | None, end: datetime.date | None,
               today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    """The inclusive range of local days to report on; by default the last 30 days up to
    today. Raises ValidationError for a range that ends before it starts or is too long."""
    today = today or timezone.localdate()
    end = end or today
    start = start or end - datetime.timedelta(days=DEFAULT_DAYS - 1)
    errors = {}
    if start > end:
        errors["start"] = _("The first day must not be after the last day.")
    elif (end - start).days + 1 > selectors.MAX_RANGE_DAYS:
        errors["start"] = _("Choose at most %(n)s days.") % {"n": selectors.MAX_RANGE_DAYS}
    if errors:
        raise ValidationError(errors)
    return start, end


def range_from_query(params) -> tuple[datetime.date, datetime.date]:
    """``?start=YYYY-MM-DD&end=YYYY-MM-DD`` of a page; ValidationError for bad input."""
    errors = {}
    values = {}
    for name in ("start", "end"):
        raw = params.get(name, "")
        values[name] = parse_day(raw) if raw else None
        if raw and values[name] is None:
            errors[name] = _("Enter a date as YYYY-MM-DD.")
    if errors:
        raise ValidationError(errors)
    return date_range(**values)


# --- tables ------------------------------------------------------------------------------


@dataclass
class Column:
    key: str
    title: str
    kind: str  # text, int, money, pct
    get: Callable


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list

    def values(self) -> list[list]:
        return [[c.get(r) for c in self.columns] for r in self.rows]

    def display_rows(self) -> list[list[tuple[str, str]]]:
        """(text, kind) per cell, as the page shows it."""
        return [[(display(v, c.kind), c.kind) for c, v in zip(self.columns, row, strict=True)]
                for row in self.values()]


def display(value, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "money":
        return f"¥{value:,.2f}"
    if kind == "pct":
        return f"{value}%"
    if kind == "int":
        return f"{value:,}"
    return str(value)


def plain(value, kind: str):
    """A cell as written to CSV: digits only (no currency sign, no grouping)."""
    if value is None:
        return ""
    if kind == "money":
        return f"{value:.2f}"
    return str(value)


def storefront_name(bank: Bank | None) -> str:
    return bank.display_name if bank is not None else str(_("Province portal"))


def _bank_name(bank: Bank | None) -> str:
    return bank.display_name if bank is not None else ""




def C(key, title, kind, get) -> Column:
    return Column(key=key, title=title, kind=kind, get=get)


# Each table's title and columns, by key (the API serves the same columns).
SPECS: dict[str, tuple] = {
    "pairs": (gettext_lazy("Traffic between banks"), [
        C("storefront", gettext_lazy("Storefront"),
          "text", lambda r: storefront_name(r.storefront)),
        C("storefront_code", gettext_lazy("Storefront code"), "text", lambda r: r.storefront_code),
        C("merchant_bank", gettext_lazy("Merchants' bank"), "text",
          lambda r: r.merchant_bank.display_name),
        C("merchant_bank_code", gettext_lazy("Merchants' bank code"), "text",
          lambda r: r.merchant_bank_code),
        C("product_views", gettext_lazy("Product views"), "int", lambda r: r.product_views),
        C("add_to_cart", gettext_lazy("Added to cart"), "int", lambda r: r.add_to_cart),
        C("checkouts", gettext_lazy("Checkouts"), "int", lambda r: r.checkouts),
        C("orders", gettext_lazy("Orders"), "int", lambda r: r.orders),
        C("gmv", gettext_lazy("GMV"), "money", lambda r: r.gmv),
        C("conversion", gettext_lazy("Orders per product view"), "pct", lambda r: r.conversion),
        C("referral_fees", gettext_lazy("Referral fees"), "money", lambda r: r.referral_fees),
    ]),
    "storefronts": (gettext_lazy("Storefronts"), [
        C("storefront", gettext_lazy("Storefront"),
          "text", lambda r: storefront_name(r.storefront)),
        C("storefront_code", gettext_lazy("Storefront code"), "text", lambda r: r.storefront_code),
        C("visits", gettext_lazy("Visits"), "int", lambda r: r.visits),
        C("searches", gettext_lazy("Searches"), "int", lambda r: r.searches),
        C("share_clicks", gettext_lazy("Share-link clicks"), "int", lambda r: r.share_clicks),
        C("product_views", gettext_lazy("Product views"), "int", lambda r: r.product_views),
        C("orders", gettext_lazy("Orders"), "int", lambda r: r.orders),
        C("gmv", gettext_lazy("GMV"), "money", lambda r: r.gmv),
        C("cross_bank_gmv", gettext_lazy("GMV of other banks' merchants"), "money",
          lambda r: r.cross_bank_gmv),
        C("conversion", gettext_lazy("Orders per visit"), "pct", lambda r: r.conversion),
    ]),
    "partners": (gettext_lazy("Partner platforms by month"), [
        C("month", gettext_lazy("Month"), "text", lambda r: r.period),
        C("partner", gettext_lazy("Partner platform"), "text", lambda r: r.name),
        C("orders", gettext_lazy("Orders"), "int", lambda r: r.orders),
        C("gmv", gettext_lazy("GMV"), "money", lambda r: r.gmv),
    ]),
    "partner_days": (gettext_lazy("Partner platforms by day"), [
        C("day", gettext_lazy("Day"), "text", lambda r: r.period),
        C("partner", gettext_lazy("Partner platform"), "text", lambda r: r.name),
        C("orders", gettext_lazy("Orders"), "int", lambda r: r.orders),
        C("gmv", gettext_lazy("GMV"), "money", lambda r: r.gmv),
    ]),
    "series": (gettext_lazy("Day by day"), [
        C("day", gettext_lazy("Day"), "text", lambda p: p.day.isoformat()),
        C("visits", gettext_lazy("Visits"), "int", lambda p: p.visits),
        C("product_views", gettext_lazy("Product views"), "int", lambda p: p.product_views),
        C("cross_bank_views", gettext_lazy("Cross-bank product views"), "int",
          lambda p: p.cross_bank_views),
        C("orders", gettext_lazy("Orders"), "int", lambda p: p.orders),
        C("cross_bank_orders", gettext_lazy("Cross-bank orders"),
          "int", lambda p: p.cross_bank_orders),
        C("gmv", gettext_lazy("GMV"), "money", lambda p: p.gmv),
        C("cross_bank_gmv", gettext_lazy("Cross-bank GMV"), "money", lambda p: p.cross_bank_gmv),
    ]),
    "funnel": (gettext_lazy("Funnel"), [
        C("step_key", gettext_lazy("Step key"), "text", lambda s: s.key),
        C("step", gettext_lazy("Step"), "text", lambda s: str(FUNNEL_LABELS[s.key])),
        C("count", gettext_lazy("Count"), "int", lambda s: s.count),
        C("of_visits", gettext_lazy("Of visits"), "pct", lambda s: s.of_first),
        C("of_previous", gettext_lazy("Of the step before"), "pct", lambda s: s.of_previous),
    ]),
    "products": (gettext_lazy("Top products"), [
        C("product_id", gettext_lazy("Product id"), "int", lambda r: r.key),
        C("product", gettext_lazy("Product"), "text", lambda r: r.name),
        C("merchant", gettext_lazy("Merchant"), "text", lambda r: r.detail),
        C("bank", gettext_lazy("Merchant's bank"), "text", lambda r: _bank_name(r.bank)),
        C("views", gettext_lazy("Product views"), "int", lambda r: r.views),
        C("orders", gettext_lazy("Orders"), "int", lambda r: r.orders),
        C("quantity", gettext_lazy("Quantity"), "int", lambda r: r.quantity),
        C("gmv", gettext_lazy("GMV"), "money", lambda r: r.gmv),
        C("conversion", gettext_lazy("Orders per product view"), "pct", lambda r: r.conversion),
    ]),
    "regions": (gettext_lazy("Top regions of origin"), [
        C("region", gettext_lazy("Region of origin"), "text", lambda r: r.name),
        C("views", gettext_lazy("Product views"), "int", lambda r: r.views),
        C("orders", gettext_lazy("Orders"), "int", lambda r: r.orders),
        C("gmv", gettext_lazy("GMV"), "money", lambda r: r.gmv),
    ]),
    "categories": (gettext_lazy("Top categories"), [
        C("category_id", gettext_lazy("Category id"), "int", lambda r: r.key),
        C("category", gettext_lazy("Category"), "text", lambda r: r.name),
        C("views", gettext_lazy("Product views"), "int", lambda r: r.views),
        C("orders", gettext_lazy("Orders"), "int", lambda r: r.orders),
        C("gmv", gettext_lazy("GMV"), "money", lambda r: r.gmv),
    ]),
    "credit": (gettext_lazy("Referral credit between banks"), [
        C("bank_a", gettext_lazy("Bank A"), "text", lambda r: r.bank_a.display_name),
        C("bank_a_code", gettext_lazy("Bank A code"), "text", lambda r: r.bank_a_code),
        C("bank_b", gettext_lazy("Bank B"), "text", lambda r: r.bank_b.display_name),
        C("bank_b_code", gettext_lazy("Bank B code"), "text", lambda r: r.bank_b_code),
        C("a_orders_for_b", gettext_lazy("Orders A brought B"), "int", lambda r: r.a_orders_for_b),
        C("a_earned_from_b", gettext_lazy("A earned from B"), "money", lambda r: r.a_earned_from_b),
        C("b_orders_for_a", gettext_lazy("Orders B brought A"), "int", lambda r: r.b_orders_for_a),
        C("b_earned_from_a", gettext_lazy("B earned from A"), "money", lambda r: r.b_earned_from_a),
        C("net_to_a", gettext_lazy("Net to A"), "money", lambda r: r.net_to_a),
    ]),
    "credit_banks": (gettext_lazy("Referral credit per bank"), [
        C("bank", gettext_lazy("Bank"), "text", lambda r: r.bank.display_name),
        C("bank_code", gettext_lazy("Bank code"), "text", lambda r: r.bank_code),
        C("referred_orders", gettext_lazy("Orders referred to other banks"), "int",
          lambda r: r.referred_orders),
        C("referred_gmv", gettext_lazy("GMV referred"), "money", lambda r: r.referred_gmv),
        C("earned", gettext_lazy("Fees earned"), "money", lambda r: r.earned),
        C("paid", gettext_lazy("Fees paid"), "money", lambda r: r.paid),
        C("net", gettext_lazy("Net"), "money", lambda r: r.net),
    ]),
    "compliance": (gettext_lazy("Merchant compliance"), [
        C("bank", gettext_lazy("Bank"), "text", lambda r: r.bank.display_name),
        C("bank_code", gettext_lazy("Bank code"), "text", lambda r: r.bank_code),
        C("admitted", gettext_lazy("Admitted"), "int", lambda r: r.admitted),
        C("suspended", gettext_lazy("Suspended"), "int", lambda r: r.suspended),
        C("in_review", gettext_lazy("In review"), "int", lambda r: r.in_review),
        C("rejected", gettext_lazy("Rejected"), "int", lambda r: r.rejected),
        C("overdue_reviews", gettext_lazy("Re-reviews overdue"),
          "int", lambda r: r.overdue_reviews),
        C("expired_licences", gettext_lazy("Expired licences"),
          "int", lambda r: r.expired_licences),
    ]),
    "flows": (gettext_lazy("Traffic in and out"), [
        C("counterpart", gettext_lazy("Other party"), "text",
          lambda r: str(_("Our own storefront")) if r.home else storefront_name(r.counterpart)),
        C("counterpart_code", gettext_lazy("Code"), "text", lambda r: r.counterpart_code),
        C("out_views", gettext_lazy("Out: product views"), "int", lambda r: r.out_views),
        C("out_orders", gettext_lazy("Out: orders"), "int", lambda r: r.out_orders),
        C("out_gmv", gettext_lazy("Out: GMV"), "money", lambda r: r.out_gmv),
        C("out_fees_earned", gettext_lazy("Fees earned"), "money", lambda r: r.out_fees_earned),
        C("in_views", gettext_lazy("In: product views"), "int", lambda r: r.in_views),
        C("in_orders", gettext_lazy("In: orders"), "int", lambda r: r.in_orders),
        C("in_gmv", gettext_lazy("In: GMV"), "money", lambda r: r.in_gmv),
        C("in_fees_paid", gettext_lazy("Fees paid"), "money", lambda r: r.in_fees_paid),
    ]),
    "merchants": (gettext_lazy("Our merchants' performance"), [
        C("merchant_id", gettext_lazy("Merchant id"), "int", lambda r: r.merchant_id),
        C("merchant", gettext_lazy("Merchant"), "text", lambda r: r.name),
        C("status", gettext_lazy("Status"), "text", lambda r: r.status),
        C("product_views", gettext_lazy("Product views"), "int", lambda r: r.product_views),
        C("add_to_cart", gettext_lazy("Added to cart"), "int", lambda r: r.add_to_cart),
        C("orders", gettext_lazy("Orders"), "int", lambda r: r.orders),
        C("gmv", gettext_lazy("GMV"), "money", lambda r: r.gmv),
        C("cross_bank_orders", gettext_lazy("Orders from other storefronts"), "int",
          lambda r: r.cross_bank_orders),
        C("cross_bank_gmv", gettext_lazy("GMV from other storefronts"), "money",
          lambda r: r.cross_bank_gmv),
        C("conversion", gettext_lazy("Orders per product view"), "pct", lambda r: r.conversion),
    ]),
    "segments": (gettext_lazy("Our customers' purchases by group"), [
        C("segment_key", gettext_lazy("Group key"), "text", lambda r: r.segment),
        C("segment", gettext_lazy("Customer group"), "text",
          lambda r: r.label or str(_("Not stated"))),
        C("buyers", gettext_lazy("Buyers (daily, summed)"), "int", lambda r: r.buyers),
        C("orders", gettext_lazy("Orders"), "int", lambda r: r.orders),
        C("gmv", gettext_lazy("GMV"), "money", lambda r: r.gmv),
        C("average_order", gettext_lazy("Average order"), "money", lambda r: r.average_order),
    ]),
}

FUNNEL_LABELS = {
    "visits": gettext_lazy("Visits"), "product_views": gettext_lazy("Product views"),
    "add_to_cart": gettext_lazy("Added to cart"), "checkouts": gettext_lazy("Checkouts"),
    "orders": gettext_lazy("Purchases (orders)"),
}


def table(key: str, rows: list) -> Table:
    title, columns = SPECS[key]
    return Table(key=key, title=title, columns=columns, rows=rows)


def _federation_credit(s, e, b, t, part):
    return selectors.referral_credit(start=s, end=e)[part]


# Which tables each dashboard has: key -> rows(start, end, bank, today).
FEDERATION_TABLES: dict[str, Callable[..., list]] = {
    "storefronts": lambda s, e, b, t: selectors.traffic_matrix(start=s, end=e).storefront_rows,
    "pairs": lambda s, e, b, t: selectors.traffic_matrix(start=s, end=e).pairs,
    "credit": lambda s, e, b, t: _federation_credit(s, e, b, t, 0),
    "credit_banks": lambda s, e, b, t: _federation_credit(s, e, b, t, 1),
    "products": lambda s, e, b, t: selectors.top_products(start=s, end=e),
    "regions": lambda s, e, b, t: selectors.top_regions(start=s, end=e),
    "categories": lambda s, e, b, t: selectors.top_categories(start=s, end=e),
    "funnel": lambda s, e, b, t: selectors.traffic_funnel(start=s, end=e),
    "compliance": lambda s, e, b, t: selectors.merchant_compliance(today=t),
    "series": lambda s, e, b, t: selectors.traffic_series(start=s, end=e),
    "partners": lambda s, e, b, t: selectors.channel_sales_view(start=s, end=e).by_month,
    "partner_days": lambda s, e, b, t: selectors.channel_sales_view(start=s, end=e).by_day,
}

BANK_TABLES: dict[str, Callable[..., list]] = {
    "flows": lambda s, e, b, t: _flow_rows(*selectors.bank_traffic_flows(bank=b, start=s,
                                                                         end=e)),
    "merchants": lambda s, e, b, t: selectors.bank_merchant_performance(bank=b, start=s,
                                                                         end=e),
    "segments": lambda s, e, b, t: selectors.bank_segments(bank=b, start=s, end=e),
    "credit": lambda s, e, b, t: selectors.referral_credit(start=s, end=e, bank=b)[0],
    "products": lambda s, e, b, t: selectors.top_products(start=s, end=e, bank=b),
    "regions": lambda s, e, b, t: selectors.top_regions(start=s, end=e, bank=b),
    "funnel": lambda s, e, b, t: selectors.traffic_funnel(start=s, end=e, bank=b),
    "series": lambda s, e, b, t: selectors.traffic_series(start=s, end=e, bank=b),
}


def _flow_rows(own, flows) -> list:
    return [own, *flows]


def build(tables: dict, key: str, *, start, end, bank=None, today=None) -> Table:
    return table(key, tables[key](start, end, bank, today or timezone.localdate()))


# --- downloads ---------------------------------------------------------------------------


def export_response(table: Table, *, fmt: str, start: datetime.date, end: datetime.date,
                    prefix: str) -> HttpResponse:
    """The table as a CSV (machine column keys, plain numbers) or an Excel workbook
    (the page's column titles, numbers as numbers)."""
    name = f"{prefix}-{table.key}-{start:%Y%m%d}-{end:%Y%m%d}"
    if fmt == "xlsx":
        return _xlsx(table, name=name, start=start, end=end)
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow([c.key for c in table.columns])
    for row in table.values():
        writer.writerow([plain(v, c.kind) for c, v in zip(table.columns, row, strict=True)])
    # A byte-order mark lets spreadsheet programs read the Chinese names as UTF-8.
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _xlsx(table: Table, *, name: str, start: datetime.date, end: datetime.date
          ) -> HttpResponse:
    wb = Workbook()
    ws = wb.active
    ws.title = table.key[:31]
    xlsx_append(ws, [f"{table.title} · {start:%Y-%m-%d} – {end:%Y-%m-%d}"])
    ws["A1"].font = Font(bold=True)
    xlsx_append(ws, [str(c.title) for c in table.columns])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for row in table.values():
        xlsx_append(ws, row)  # Decimal and int go in as numbers, None as an empty cell
    formats = {"money": "#,##0.00", "pct": '0.0"%"', "int": "#,##0"}
    for j, column in enumerate(table.columns, start=1):
        if column.kind in formats:
            for (cell,) in ws.iter_rows(min_row=3, min_col=j, max_col=j):
                cell.number_format = formats[column.kind]
        width = max([len(str(column.title))] + [len(str(r[j - 1])) for r in table.values()])
        ws.column_dimensions[ws.cell(row=2, column=j).column_letter].width = min(
            40, max(10, width * 1.6))
    ws.freeze_panes = "A3"
    buffer = io.BytesIO()
    wb.save(buffer)
    response = HttpResponse(
        buffer.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response

