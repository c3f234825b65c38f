"""Reads on buying: prices a buyer gets, the cart as shown, pickup branches, shipping fees,
referral attribution, and orders as each party may see them (always scoped: a shopper
sees their own, a merchant member their shop's, bank staff their bank's)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from banks.models import Bank, Branch
from catalog.models import Merchant, MerchantMember, Sku
from catalog.selectors import products_of_merchant, visible_products
from core.masking import mask_phone
from core.money import quantize_money
from orders.models import (
    Cart,
    CartItem,
    Checkout,
    FlashSale,
    FlashSaleTake,
    Order,
    OrderDispute,
    OrderHold,
    OrderStatus,
    PriceKind,
    ReferralTouch,
    Refund,
    RefundStatus,
    ShippingRule,
)


@dataclass(frozen=True)
class Quote:
    """The price of a cart line. A flash sale's price applies to the units the customer
    may still take under the sale's cap (``flash_units``); the units over it cost the
    regular price (``rest_unit_price``, retail or wholesale), as the pages say."""

    unit_price: Decimal
    line_total: Decimal
    kind: str = PriceKind.RETAIL
    flash_sale: FlashSale | None = None
    retail_price: Decimal = Decimal("0.00")
    flash_units: int = 0
    rest_unit_price: Decimal | None = None
    rest_kind: str = PriceKind.RETAIL
    flash_room: int | None = None  # units the customer may still take at the flash price

    quantity: int = 0

    @property
    def rest_units(self) -> int:
        """Units at the regular price beside the flash units."""
        return self.quantity - self.flash_units if self.flash_room is not None else 0

    @property
    def over_cap(self) -> bool:
        """Some units are over the flash sale's cap for this customer (regular price)."""
        return self.rest_units > 0


_UNSET = object()


def active_flash_sale(*, sku: Sku, at: datetime | None = None) -> FlashSale | None:
    at = at or timezone.now()
    return (FlashSale.objects.filter(sku=sku, starts_at__lte=at, ends_at__gt=at)
            .order_by("price", "id").first())


@dataclass(frozen=True)
class ProductFlashSales:
    """The running flash sale of each SKU of a product page (the cheapest, as
    ``active_flash_sale`` picks), the units the shopper holds of each, and when the next
    sale of these SKUs starts or a running one ends (None: no sale to come)."""

    running: dict[int, FlashSale]
    taken: dict[int, int]
    next_change: datetime | None


def product_flash_sales(*, skus, buyer, at: datetime | None = None) -> ProductFlashSales:
    """The flash sales a product page shows, in one query (two for a signed-in shopper
    when a sale runs)."""
    at = at or timezone.now()
    running: dict[int, FlashSale] = {}
    next_change = None
    for sale in (FlashSale.objects.filter(sku__in=[s.pk for s in skus], ends_at__gt=at)
                 .order_by("price", "id")):
        if sale.starts_at <= at:
            running.setdefault(sale.sku_id, sale)
            edge = sale.ends_at
        else:
            edge = sale.starts_at
        next_change = edge if next_change is None else min(next_change, edge)
    taken: dict[int, int] = {}
    if running and buyer is not None and getattr(buyer, "is_authenticated", False):
        taken = dict(FlashSaleTake.objects.filter(
            flash_sale__in=list(running.values()), user=buyer)
            .values_list("flash_sale_id", "quantity"))
    return ProductFlashSales(running=running, taken=taken, next_change=next_change)


def flash_taken(*, sale: FlashSale, buyer) -> int:
    """Units of the sale the customer holds (reserved or bought)."""
    if buyer is None or not getattr(buyer, "is_authenticated", False):
        return 0
    return (FlashSaleTake.objects.filter(flash_sale=sale, user=buyer)
            .values_list("quantity", flat=True).first() or 0)


def _regular_price(sku: Sku, quantity: int, buyer) -> tuple[Decimal, str]:
    retail = sku.price
    if buyer is not None and getattr(buyer, "is_business_buyer", False) and quantity:
        tiers = [t for t in sku.tiers.all() if t.min_quantity <= quantity]
        tier = min(tiers, key=lambda t: t.unit_price, default=None)
        if tier is not None and tier.unit_price < retail:
            return tier.unit_price, PriceKind.WHOLESALE
    return retail, PriceKind.RETAIL


def quote(*, sku: Sku, quantity: int, buyer=None, at: datetime | None = None,
          sale=_UNSET, taken: int | None = None) -> Quote:
    """The price this buyer pays for ``quantity`` of ``sku``: a running flash sale's price
    for the units within the customer's cap (what they hold already counts), the regular
    price for the rest: for business buyers the best wholesale tier the quantity reaches,
    else retail. ``sale`` and ``taken`` may be given when the caller loaded them."""
    at = at or timezone.now()
    retail = sku.price
    if sale is _UNSET:
        sale = active_flash_sale(sku=sku, at=at)
    if sale is not None and sale.price < retail:
        if taken is None:
            taken = flash_taken(sale=sale, buyer=buyer)
        room = max(0, sale.per_customer_limit - taken)
        flash_units = min(quantity, room)
        if flash_units == quantity:
            return Quote(sale.price, quantize_money(sale.price * quantity), PriceKind.FLASH,
                         sale, retail, flash_units=quantity, flash_room=room,
                         quantity=quantity)
        rest = quantity - flash_units
        rest_price, rest_kind = _regular_price(sku, rest, buyer)
        total = quantize_money(sale.price * flash_units + rest_price * rest)
        if flash_units:
            return Quote(sale.price, total, PriceKind.FLASH, sale, retail,
                         flash_units=flash_units, rest_unit_price=rest_price,
                         rest_kind=rest_kind, flash_room=room, quantity=quantity)
        return Quote(rest_price, total, rest_kind, None, retail, rest_unit_price=rest_price,
                     rest_kind=rest_kind, flash_room=0, quantity=quantity)
    price, kind = _regular_price(sku, quantity, buyer)
    return Quote(price, quantize_money(price * quantity), kind, None, retail,
                 quantity=quantity)


def shipping_fee_of(*, rule: ShippingRule | None, goods_total: Decimal) -> Decimal:
    """The delivery fee of an order of ``goods_total`` under the merchant's rule (None:
    the platform's default)."""
    if rule is not None:
        fee, free_over = rule.flat_fee, rule.free_over
    else:
        fee = Decimal(settings.ORDER_DEFAULT_SHIPPING_FEE)
        free_over = Decimal(settings.ORDER_DEFAULT_FREE_SHIPPING_OVER)
    if free_over is not None and goods_total >= free_over:
        return Decimal("0.00")
    return quantize_money(fee)


def shipping_fee(*, merchant: Merchant, goods_total: Decimal) -> Decimal:
    rule = ShippingRule.objects.filter(merchant=merchant).first()
    return shipping_fee_of(rule=rule, goods_total=goods_total)


def pickup_branches(*, merchant: Merchant, storefront_bank: Bank | None) -> QuerySet[Branch]:
    """Where the shopper may collect this merchant's goods: the pickup points of the
    merchant's bank and of the storefront's bank."""
    banks = {merchant.bank_id} | ({storefront_bank.pk} if storefront_bank else set())
    return (Branch.objects.filter(bank_id__in=banks, bank__is_active=True,
                                  is_pickup_point=True)
            .select_related("bank").order_by("bank_id", "code"))


def referral_for(*, buyer, storefront_bank: Bank | None,
                 at: datetime | None = None) -> tuple[Bank | None, object | None]:
    """(referring bank, sharer): the shopper's last storefront touch within the window,
    else the storefront the checkout happens on."""
    at = at or timezone.now()
    since = at - timedelta(days=settings.ORDER_REFERRAL_WINDOW_DAYS)
    touch = (ReferralTouch.objects.filter(user=buyer, at__gte=since, at__lte=at,
                                          bank__is_active=True)
             .select_related("bank", "sharer").order_by("-at", "-id").first())
    if touch is not None:
        return touch.bank, touch.sharer
    return storefront_bank, None


# --- the cart as shown ---------------------------------------------------------------------


@dataclass
class CartLine:
    item_id: int
    sku: Sku
    quantity: int
    quote: Quote
    available: bool


@dataclass
class CartGroup:
    merchant: Merchant
    lines: list[CartLine] = field(default_factory=list)
    goods_total: Decimal = Decimal("0.00")
    shipping_fee: Decimal = Decimal("0.00")


@dataclass
class CartView:
    cart: Cart
    groups: list[CartGroup]
    goods_total: Decimal
    shipping_total: Decimal
    total: Decimal
    count: int


def cart_view(*, cart: Cart, buyer=None) -> CartView:
    items = list(cart.items.select_related("sku__product__merchant__bank")
                 .prefetch_related("sku__tiers").order_by("added_at", "id"))
    visible = set(visible_products().filter(pk__in={i.sku.product_id for i in items})
                  .values_list("pk", flat=True))
    now = timezone.now()
    groups: dict[int, CartGroup] = {}
    for item in items:
        merchant = item.sku.product.merchant
        group = groups.setdefault(merchant.pk, CartGroup(merchant=merchant))
        q = quote(sku=item.sku, quantity=item.quantity, buyer=buyer, at=now)
        ok = item.sku.product_id in visible and item.sku.stock >= item.quantity
        group.lines.append(CartLine(item.pk, item.sku, item.quantity, q, ok))
        group.goods_total += q.line_total
    for group in groups.values():
        group.shipping_fee = shipping_fee(merchant=group.merchant,
                                          goods_total=group.goods_total)
    goods = quantize_money(sum((g.goods_total for g in groups.values()), Decimal("0")))
    ship = quantize_money(sum((g.shipping_fee for g in groups.values()), Decimal("0")))
    return CartView(cart, list(groups.values()), goods, ship, goods + ship,
                    sum(i.quantity for i in items))


def cart_count(*, cart_id: int | None) -> int:
    if not cart_id:
        return 0
    return CartItem.objects.filter(cart_id=cart_id).count()


# --- orders as each party sees them --------------------------------------------------------

_ORDER_RELATED = ("merchant", "merchant_bank", "referrer_bank", "pickup_branch__bank")


def orders_of_buyer(*, buyer) -> QuerySet[Order]:
    return (Order.objects.filter(buyer=buyer).select_related(*_ORDER_RELATED)
            .prefetch_related("lines"))


@dataclass(frozen=True)
class OrderMoney:
    """What an order cost and what came back, as its page and API show it: paid with
    points and with money (card, credit or at the desk), refunded to the way it was paid
    and in points (with the points given back), and what the buyer paid in the end."""

    total: Decimal
    paid_points_value: Decimal
    points_used: int
    paid_money: Decimal
    refunded_money: Decimal
    refunded_points_value: Decimal
    points_restored: int
    net_money: Decimal


def order_money(order: Order) -> OrderMoney:
    refunded_money = refunded_points = Decimal("0.00")
    restored = 0
    for refund in order.refunds.all():
        if refund.status != RefundStatus.SUCCEEDED:
            continue
        if refund.cash_amount or refund.points_amount:
            refunded_money += refund.cash_amount
            refunded_points += refund.points_amount
        else:  # recorded before refunds kept their split: all of it was money
            refunded_money += refund.amount
        restored += refund.points_restored
    paid_money = order.total - order.points_value
    return OrderMoney(total=order.total, paid_points_value=order.points_value,
                      points_used=order.points_used, paid_money=paid_money,
                      refunded_money=refunded_money, refunded_points_value=refunded_points,
                      points_restored=restored, net_money=paid_money - refunded_money)


def order_of_buyer(*, buyer, number: str) -> Order:
    order = orders_of_buyer(buyer=buyer).filter(number=number).first()
    if order is None:
        raise Http404
    return order


def checkout_of_buyer(*, buyer, number: str) -> Checkout:
    """The buyer's checkout with its orders, their lines and every bank and branch its
    pages and API show: three statements."""
    checkout = (Checkout.objects.filter(buyer=buyer, number=number)
                .select_related("storefront_bank")
                .prefetch_related(Prefetch("orders", queryset=Order.objects.select_related(
                    "merchant__bank", *_ORDER_RELATED)), "orders__lines").first())
    if checkout is None:
        raise Http404
    return checkout


def matching(qs: QuerySet[Order], q: str) -> QuerySet[Order]:
    """Orders found by what people have at hand: (part of) the order number, the shop's
    name, the recipient's or buyer's mobile number, the tracking number."""
    q = (q or "").strip()[:60]
    if not q:
        return qs
    return qs.filter(Q(number__icontains=q) | Q(merchant__name__icontains=q)
                     | Q(recipient_phone=q) | Q(buyer__phone=q) | Q(tracking_number=q))


def orders_of_merchant(*, merchant: Merchant, status: str = "", q: str = "") -> QuerySet[Order]:
    qs = (Order.objects.filter(merchant=merchant).select_related(*_ORDER_RELATED, "buyer")
          .prefetch_related("lines"))
    qs = matching(qs, q)
    return qs.filter(status=status) if status else qs


def order_for_member(*, user, number: str) -> Order:
    """An order of a shop the user runs, or 404 (whoever else asks)."""
    order = (Order.objects.filter(number=number).select_related(*_ORDER_RELATED, "buyer")
             .prefetch_related("lines", "events", "refunds").first())
    if order is None or not MerchantMember.objects.filter(
            merchant_id=order.merchant_id, user=user).exists():
        raise Http404
    return order


def bank_orders(*, bank: Bank, q: str = "", status: str = "",
                role: str = "") -> QuerySet[Order]:
    """Orders a bank's staff may see: its merchants' orders, orders its storefront
    referred, and orders picked up at its branches. ``role`` narrows to one of them."""
    scopes = {"merchant": Q(merchant_bank=bank), "referred": Q(referrer_bank=bank),
              "pickup": Q(pickup_branch__bank=bank)}
    scope = scopes.get(role) or (scopes["merchant"] | scopes["referred"] | scopes["pickup"])
    qs = Order.objects.filter(scope).select_related(*_ORDER_RELATED, "buyer")
    if status:
        qs = qs.filter(status=status)
    return matching(qs, q).order_by("-created_at", "-id")


def bank_order(*, bank: Bank, number: str) -> Order:
    order = (bank_orders(bank=bank).filter(number=number)
             .prefetch_related("lines", "events", "refunds").first())
    if order is None:
        raise Http404
    return order


# --- what each audience reads of an order's contact details --------------------------------

# Statuses in which the merchant still needs the recipient's full contact details.
CONTACT_NEEDED = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED,
                  OrderStatus.READY_FOR_PICKUP, OrderStatus.REFUND_REQUESTED)

BUYER, MERCHANT, STAFF = "buyer", "merchant", "staff"


def merchant_needs_contact(order: Order) -> bool:
    """Whether the merchant sees the recipient's full phone number and address now."""
    return order.status in CONTACT_NEEDED


def order_phone_for(order: Order, *, audience: str) -> str:
    """The phone number ``audience`` reads on ``order``, on its pages and in its API alike:
    the buyer their own in full; the merchant the recipient's, in full only while the
    order still needs delivering or handing over; a bank's staff (console, desk) the
    recipient's or else the buyer's, always masked."""
    if audience == BUYER:
        return order.recipient_phone
    if audience == MERCHANT:
        phone = order.recipient_phone
        return phone if merchant_needs_contact(order) else mask_phone(phone)
    if audience == STAFF:
        return mask_phone(order.recipient_phone or order.buyer.phone)
    raise ValueError(f"unknown audience {audience!r}")


# --- the shopper's cart, found by account or session token ---------------------------------


def _token_or_none(token):
    try:
        return uuid.UUID(str(token)) if token else None
    except ValueError:  # not a UUID (a tampered or stale session value)
        return None


def cart_of(*, user=None, token=None) -> Cart | None:
    """The account's cart, or the anonymous cart of ``token``; None if there is none
    (a read: nothing is created)."""
    if user is not None and user.is_authenticated:
        return Cart.objects.filter(user=user).first()
    token = _token_or_none(token)
    return Cart.objects.filter(token=token, user__isnull=True).first() if token else None


def cart_quantity(*, user=None, token=None) -> int:
    """Units in the shopper's cart, for the top bar: one query, none without a cart."""
    if user is not None and user.is_authenticated:
        items = CartItem.objects.filter(cart__user=user)
    elif (token := _token_or_none(token)) is not None:
        items = CartItem.objects.filter(cart__token=token, cart__user__isnull=True)
    else:
        return 0
    return items.aggregate(n=Sum("quantity"))["n"] or 0


# --- a merchant's own refunds and selling rules ---------------------------------------------


def refund_of_merchant(*, merchant: Merchant, refund_id: int):
    """A refund of one of the merchant's orders, or 404."""
    refund = (Refund.objects.select_related("order")
              .filter(pk=refund_id, order__merchant=merchant).first())
    if refund is None:
        raise Http404
    return refund


@dataclass(frozen=True)
class ShippingTerms:
    flat_fee: Decimal
    free_over: Decimal | None
    is_default: bool


def shipping_rule_of(*, merchant: Merchant) -> ShippingTerms:
    """The merchant's delivery fee rule, or the platform's default when it has none."""
    rule = ShippingRule.objects.filter(merchant=merchant).first()
    if rule is not None:
        return ShippingTerms(rule.flat_fee, rule.free_over, False)
    free_over = settings.ORDER_DEFAULT_FREE_SHIPPING_OVER
    return ShippingTerms(quantize_money(settings.ORDER_DEFAULT_SHIPPING_FEE),
                         quantize_money(free_over) if free_over not in (None, "") else None, True)


def flash_sales_of_merchant(*, merchant: Merchant) -> QuerySet[FlashSale]:
    return (FlashSale.objects.filter(sku__product__merchant=merchant)
            .select_related("sku__product").order_by("-starts_at", "-id"))


def skus_of_merchant(*, merchant: Merchant) -> QuerySet[Sku]:
    return (Sku.objects.filter(product__in=products_of_merchant(merchant=merchant))
            .select_related("product").order_by("product__name", "price", "id"))


def sku_of_merchant(*, merchant: Merchant, sku_id: int) -> Sku | None:
    return Sku.objects.filter(pk=sku_id, product__merchant=merchant).first()


def order_recall_notice(order: Order) -> dict | None:
    """While a recall holds the order: its reason (from the order's history) and the
    refund the buyer may apply for at once (the whole refundable amount)."""
    if order.held_reason != OrderHold.RECALL:
        return None
    event = order.events.filter(kind=OrderHold.RECALL).order_by("-at", "-id").first()
    return {"reason": event.note if event else "",
            "recall": (event.detail or {}).get("recall", "") if event else "",
            "amount": order.refundable}


def order_thread(order: Order) -> dict:
    """The order's messages, oldest first, and its dispute (or None)."""
    return {"messages": list(order.messages.select_related("author")),
            "dispute": OrderDispute.objects.filter(order=order).first()}


def disputed_orders(*, bank: Bank) -> QuerySet[Order]:
    """Orders of the bank's merchants with a dispute raised, newest dispute first."""
    return (Order.objects.filter(merchant_bank=bank, dispute__isnull=False)
            .select_related(*_ORDER_RELATED, "dispute").order_by("-dispute__raised_at"))
