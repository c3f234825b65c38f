"""The merchant console's settlement page, under /merchant/<merchant_id>/settlements/ on
the domain of the bank that admitted the merchant: the shop's settled orders, its
statement, what its bank owes it now and its payouts. A member of another shop gets 404
(``merchant_for_member``)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from catalog.selectors import merchant_for_member
from payments import selectors, settlement
from payments.statement_pages import statement_context


@login_required
@require_GET
def settlements(request, merchant_id: int):
    merchant = merchant_for_member(user=request.user, bank=request.bank,
                                   merchant_id=merchant_id)
    items = Paginator(selectors.merchant_settlement_items(merchant=merchant), 30).get_page(
        request.GET.get("page"))
    statement = statement_context(request, merchant)
    if isinstance(statement, HttpResponse):
        return statement
    return render(request, "payments/merchant/settlements.html", {
        "merchant": merchant, "items": items, **statement,
        "balance": settlement.payable_balances(bank=merchant.bank).get(merchant.pk,
                                                                       Decimal("0.00")),
        "lines": list(selectors.merchant_payout_lines(merchant=merchant)[:30]),
    })
