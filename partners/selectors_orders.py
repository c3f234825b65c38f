"""Reads of partner platforms' orders, their monthly statements and their webhooks.
Every read is scoped to the partner: another partner's order, endpoint or delivery is
a 404."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Prefetch, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.selectors import bank_primary_domain
from core.money import quantize_money
from orders.interfaces import ChannelSales
from orders.models import CheckoutStatus, Order, OrderLine, OrderStatus
from partners.models import (
    Partner,
    PartnerKey,
    PartnerOrder,
    PartnerWebhookDelivery,
    PartnerWebhookEndpoint,
)
from partners.ordering import pay_link_token
from payments.models import AccountKind, Posting

ZERO = Decimal("0.00")
LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 200


def _orders_prefetch() -> Prefetch:
    return Prefetch("checkout__orders", queryset=Order.objects.select_related(
        "merchant", "merchant_bank", "pickup_branch").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("pk"))).order_by("number"))


def partner_orders(*, partner: Partner, cursor: int | None = None,
                   limit: int = LIST_LIMIT_DEFAULT, status: str = ""
                   ) -> tuple[list[PartnerOrder], int | None]:
    """The partner's orders, newest first, a page at a time: (page, next cursor or None).
    The cursor is the last order's id. ``status``: only checkouts with a merchant's order
    in that status (a ValidationError on ``status`` for an unknown one)."""
    qs = (PartnerOrder.objects.filter(partner=partner).select_related("checkout")
          .prefetch_related(_orders_prefetch()).order_by("-id"))
    if status:
        if status not in OrderStatus.values:
            raise ValidationError({"status": [_("Unknown status: %(status)s.")
                                              % {"status": status}]})
        qs = qs.filter(pk__in=PartnerOrder.objects.filter(
            partner=partner, checkout__orders__status=status).values("pk"))
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


def payment_url(request, partner_order) -> str | None:
    """The signed pay link, on the storefront of the (first) merchant's bank; None once
    the checkout is no longer waiting for payment."""
    if partner_order.checkout.status != CheckoutStatus.PENDING_PAYMENT:
        return None
    domain = pay_domain(partner_order)
    if not domain:
        return None
    port = request.get_port()
    suffix = "" if port == ("443" if request.is_secure() else "80") else f":{port}"
    path = reverse("partner_pay:pay", urlconf="config.urls_bank",
                   kwargs={"token": pay_link_token(partner_order)})
    return f"{request.scheme}://{domain}{suffix}{path}"


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


# --- what a partner sold: its console's overview and the federation's dashboards --------


@dataclass(frozen=True)
class PartnerDay:
    partner_id: int
    day: date
    orders: int  # checkouts paid that day
    gmv: Decimal  # their goods totals (no shipping), before any refund


def partner_sales_by_day(*, start: date, end: date, partner: Partner | None = None
                         ) -> list[PartnerDay]:
    """Per partner and day (local time) from ``start`` to ``end`` (both included): the
    partners' checkouts paid that day and their goods totals (GMV, as the traffic
    dashboards count it). One grouped query on the shared
    orders (no bank's schema is read)."""
    since = timezone.make_aware(datetime.combine(start, time()))
    until = timezone.make_aware(datetime.combine(end + timedelta(days=1), time()))
    qs = PartnerOrder.objects.filter(checkout__paid_at__gte=since,
                                     checkout__paid_at__lt=until)
    if partner is not None:
        qs = qs.filter(partner=partner)
    rows = (qs.annotate(day=TruncDate("checkout__paid_at",
                                      tzinfo=timezone.get_current_timezone()))
            .values("partner_id", "day").annotate(n=Count("pk"), t=Sum("checkout__goods_total"))
            .order_by("day", "partner_id"))
    return [PartnerDay(partner_id=r["partner_id"], day=r["day"], orders=r["n"],
                       gmv=quantize_money(r["t"] or ZERO)) for r in rows]


def partner_channel_sales(*, start: date, end: date) -> list[ChannelSales]:
    """Per partner, merchants' bank and local day from ``start`` to ``end``: the merchant
    orders of the partners' checkouts paid that day and their goods totals (the
    federation's dashboards, through ``orders.interfaces.channel_sales``). One grouped
    query on the shared orders."""
    since = timezone.make_aware(datetime.combine(start, time()))
    until = timezone.make_aware(datetime.combine(end + timedelta(days=1), time()))
    rows = (Order.objects.filter(checkout__partner_order__isnull=False,
                                 paid_at__gte=since, paid_at__lt=until)
            .annotate(day=TruncDate("paid_at", tzinfo=timezone.get_current_timezone()))
            .values("checkout__partner_order__partner_id",
                    "checkout__partner_order__partner__name", "merchant_bank_id", "day")
            .annotate(n=Count("pk"), t=Sum("goods_total"))
            .order_by("day", "checkout__partner_order__partner_id", "merchant_bank_id"))
    return [ChannelSales(channel=f"partner:{r['checkout__partner_order__partner_id']}",
                         name=r["checkout__partner_order__partner__name"],
                         merchant_bank_id=r["merchant_bank_id"], day=r["day"],
                         orders=r["n"], gmv=quantize_money(r["t"] or ZERO))
            for r in rows]


@dataclass(frozen=True)
class Overview:
    month: str
    keys_active: int
    uses: int  # requests with its keys (written at most once a minute per key)
    last_used_at: datetime | None
    orders_placed: int  # placed this month
    awaiting_payment: int  # of those, still waiting for the customer's payment
    orders_paid: int  # paid this month
    gmv: Decimal  # their goods totals


def partner_overview(*, partner: Partner, today: date | None = None) -> Overview:
    """The partner console's front page: its keys' use and this month's orders."""
    today = today or timezone.localdate()
    first = today.replace(day=1)
    start, end = _month_bounds(first.year, first.month)
    now = timezone.now()
    keys = PartnerKey.objects.filter(partner=partner)
    usage = keys.aggregate(uses=Sum("use_count"), last=Max("last_used_at"))
    active = keys.filter(revoked_at__isnull=True).exclude(expires_at__lte=now).count()
    placed = PartnerOrder.objects.filter(partner=partner, created_at__gte=start,
                                         created_at__lt=end)
    days = partner_sales_by_day(start=first, end=today, partner=partner)
    return Overview(
        month=f"{first:%Y-%m}", keys_active=active, uses=int(usage["uses"] or 0),
        last_used_at=usage["last"], orders_placed=placed.count(),
        awaiting_payment=placed.filter(
            checkout__status=CheckoutStatus.PENDING_PAYMENT).count(),
        orders_paid=sum(d.orders for d in days),
        gmv=quantize_money(sum((d.gmv for d in days), ZERO)))


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
