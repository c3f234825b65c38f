"""A merchant's statement on a page, shared by the merchant console and the bank console:
the movements of one month or of all time, 50 a page, and the same selection as a CSV
file (``?format=csv``), with the balance after each movement."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exports import csv_writer
from payments import selectors, settlement
from payments.forms import parse_month

PER_PAGE = 50


def statement_context(request, merchant) -> dict | HttpResponse:
    """``rows`` (a page), ``month`` and ``month_error`` for the page's statement box, or the
    CSV file when the request asks for it. ``?month=YYYY-MM`` narrows to one month,
    ``?spage=N`` pages."""
    raw = (request.GET.get("month") or "").strip()
    month = parse_month(raw) if raw else None
    rows = selectors.statement_rows(settlement.merchant_statement(merchant=merchant))
    if month is not None:
        rows = [r for r in rows if (timezone.localtime(r["at"]).year,
                                    timezone.localtime(r["at"]).month) == month]
    label = f"{month[0]:04d}-{month[1]:02d}" if month else "all"
    if request.GET.get("format") == "csv":
        return _csv(rows, merchant=merchant, label=label)
    return {"rows": Paginator(rows, PER_PAGE).get_page(request.GET.get("spage")),
            "month": raw[:7] if month else "",
            "month_error": _("Choose a month as YYYY-MM.") if raw and month is None else ""}


def _csv(rows, *, merchant, label: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="statement-{merchant.pk}-{label}.csv"')
    response.write("\ufeff")  # spreadsheets read the file as UTF-8
    writer = csv_writer(response)
    writer.writerow([_("Booked at"), _("What"), _("Order"), _("Note"), _("Amount"),
                     _("Balance")])
    for r in reversed(rows):  # oldest first, as a statement reads
        writer.writerow([timezone.localtime(r["at"]).strftime("%Y-%m-%d %H:%M:%S"),
                         str(r["label"]), r["order"].number if r["order"] else "", r["memo"],
                         f"{r['amount']:.2f}", f"{r['balance']:.2f}"])
    return response
