"""Reads of partner platforms' orders, their monthly statements and their webhooks.
Every read is scoped to the partner: another partner's order, endpoint or delivery is
a 404."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.selectors import bank_primary_domain
from core.money import quantize_money
from orders.models import Order, OrderLine
from partners.models import (
    Partner,
    PartnerOrder,
    PartnerWebhookDelivery,
    PartnerWebhookEndpoint,
)
from payments.models import AccountKind, Posting

ZERO = Decimal("0.00")
LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 200


def _orders_prefetch() -> Prefetch:
    return Prefetch("checkout__orders", queryset=Order.objects.select_related(
        "merchant", "merchant_bank", "pickup_branch").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("pk"))).order_by("number"))


def partner_orders(*, partner: Partner, cursor: int | None = None,
                   limit: int = LIST_LIMIT_DEFAULT) -> tuple[list[PartnerOrder], int | None]:
    """The partner's orders, newest first, a page at a time: (page, next cursor or None).
    The cursor is the last order's id."""
    qs = (PartnerOrder.objects.filter(partner=partner).select_related("checkout")
          .prefetch_related(_orders_prefetch()).order_by("-id"))
    if cursor:
        qs = qs.filter(pk__lt=cursor)
    page = list(qs[:limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].pk if more and page else None)


def partner_order_get(*, partner: Partner, number: str) -> PartnerOrder:
    """One of the partner's orders by its checkout's number (404 for anyone else's)."""
    return get_object_or_404(
        PartnerOrder.objects.select_related("checkout").prefetch_related(_orders_prefetch()),
        partner=partner, checkout__number=str(number)[:40])


def pay_domain(partner_order: PartnerOrder) -> str | None:
    """The storefront the customer pays on: the first merchant's bank's domain."""
    first = min(partner_order.checkout.orders.all(), key=lambda o: o.number, default=None)
    return bank_primary_domain(first.merchant_bank) if first is not None else None


# --- statements ---------------------------------------------------------------------------


def parse_month(value: str) -> tuple[int, int]:
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        datetime(year, month, 1)
    except (TypeError, ValueError):
        raise ValidationError({"month": [_("Give the month as YYYY-MM.")]}) from None
    return year, month


def _month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(datetime(year, month, 1).date(), time()))
    end = timezone.make_aware(datetime.combine(
        datetime(year + month // 12, month % 12 + 1, 1).date(), time()))
    return start, end


@dataclass(frozen=True)
class StatementLine:
    order: str
    checkout: str
    customer_reference: str
    settled_at: datetime
    goods_total: Decimal
    fee: Decimal


@dataclass(frozen=True)
class Statement:
    partner: Partner
    month: str
    fee_rate: Decimal
    lines: list[StatementLine]
    goods_total: Decimal
    fees: Decimal


def partner_statement(*, partner: Partner, year: int, month: int) -> Statement:
    """The partner's fees booked by settlement in a month (from the ledger), order by
    order, and their sums to the fen."""
    start, end = _month_bounds(year, month)
    postings = (Posting.objects.filter(
        transaction__kind="partner_fee", account__kind=AccountKind.PARTNER_FEE_PAYABLE,
        order__checkout__partner_order__partner=partner, posted_at__gte=start,
        posted_at__lt=end)
        .select_related("order__checkout__partner_order").order_by("posted_at", "id"))
    lines = [StatementLine(order=p.order.number, checkout=p.order.checkout.number,
                           customer_reference=p.order.checkout.partner_order.customer_reference,
                           settled_at=p.posted_at, goods_total=p.order.goods_total,
                           fee=-p.amount) for p in postings]
    return Statement(partner=partner, month=f"{year:04d}-{month:02d}",
                     fee_rate=partner.fee_rate, lines=lines,
                     goods_total=quantize_money(sum((x.goods_total for x in lines), ZERO)),
                     fees=quantize_money(sum((x.fee for x in lines), ZERO)))


def partners_fees_of_month(*, year: int, month: int) -> dict[int, Decimal]:
    """Per partner, the fees booked in the month (for the federation's page)."""
    start, end = _month_bounds(year, month)
    rows = (Posting.objects.filter(transaction__kind="partner_fee",
                                   account__kind=AccountKind.PARTNER_FEE_PAYABLE,
                                   posted_at__gte=start, posted_at__lt=end)
            .values("order__checkout__partner_order__partner_id")
            .annotate(t=Sum("amount")).order_by())
    return {r["order__checkout__partner_order__partner_id"]: -(r["t"] or ZERO) for r in rows}


# --- webhooks -----------------------------------------------------------------------------


def endpoints_of(*, partner: Partner) -> QuerySet[PartnerWebhookEndpoint]:
    return PartnerWebhookEndpoint.objects.filter(partner=partner).order_by("id")


def endpoint_get(*, partner: Partner, endpoint_id) -> PartnerWebhookEndpoint:
    return get_object_or_404(PartnerWebhookEndpoint, partner=partner, pk=endpoint_id)


def deliveries_of(*, partner: Partner, endpoint_id: int | None = None, limit: int = 100
                  ) -> list[PartnerWebhookDelivery]:
    qs = (PartnerWebhookDelivery.objects.filter(endpoint__partner=partner)
          .select_related("event", "endpoint").prefetch_related("attempt_log")
          .order_by("-id"))
    if endpoint_id is not None:
        qs = qs.filter(endpoint_id=endpoint_id)
    return list(qs[:limit])


def delivery_get(*, partner: Partner, delivery_id) -> PartnerWebhookDelivery:
    return get_object_or_404(PartnerWebhookDelivery.objects.select_related("event",
                                                                           "endpoint"),
                             endpoint__partner=partner, pk=delivery_id)


# --- what the partner sees of an order (the API's answer and the webhooks' payload) --------


def _yuan(value) -> str:
    return str(quantize_money(value))


def partner_order_data(partner_order: PartnerOrder, *, payment_url: str | None = None
                       ) -> dict:
    checkout = partner_order.checkout
    orders = sorted(checkout.orders.all(), key=lambda o: o.number)
    return {
        "number": checkout.number,
        "customer_reference": partner_order.customer_reference,
        "status": checkout.status,
        "created_at": partner_order.created_at.isoformat(),
        "paid_at": checkout.paid_at.isoformat() if checkout.paid_at else None,
        "pay_by": checkout.reserved_until.isoformat(),
        "payment_url": payment_url,
        "recipient": partner_order.recipient,
        "goods_total": _yuan(checkout.goods_total),
        "shipping_total": _yuan(checkout.shipping_total),
        "total": _yuan(checkout.total),
        "orders": [{
            "number": order.number,
            "status": order.status,
            "merchant": {"id": order.merchant_id, "name": order.merchant.name},
            "bank": order.merchant_bank.code,
            "fulfilment": order.fulfilment,
            "pickup_branch": ({"id": order.pickup_branch_id,
                               "name": order.pickup_branch.name}
                              if order.pickup_branch_id else None),
            "shipment": ({"carrier": order.carrier, "tracking_number": order.tracking_number,
                          "shipped_at": order.shipped_at.isoformat()
                          if order.shipped_at else None}
                         if order.tracking_number else None),
            "goods_total": _yuan(order.goods_total),
            "shipping_fee": _yuan(order.shipping_fee),
            "total": _yuan(order.total),
            "refunded_total": _yuan(order.refunded_total),
            "lines": [{"sku": line.sku_id, "product": line.product_name, "spec": line.spec,
                       "quantity": line.quantity, "unit_price": _yuan(line.unit_price),
                       "line_total": _yuan(line.line_total)}
                      for line in order.lines.all()],
        } for order in orders],
    }
