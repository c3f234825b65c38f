"""Checkout: the cart turned into one order per merchant (prices fixed, stock and
flash-sale units reserved, attribution), then paid or cancelled."""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank, Branch
from catalog.models import MerchantStatus, ProductStatus
from catalog.selectors import (
    passing_report_expression,
    products_without_passing_report,
    recalled_expression,
    recalled_product_ids,
)
from catalog.services import sales_record
from core.errors import ApplicationError
from core.money import quantize_money
from core.prepared import PreparedQuery
from core.validators import validate_cn_mobile
from core.writes import Change, lock, require, transition
from orders import flash, selectors
from orders.hooks import checkout_paid, checkout_placed, send_on_commit
from orders.interfaces import cancel_handlers
from orders.models import (
    Cart,
    CartItem,
    Checkout,
    CheckoutStatus,
    FlashSale,
    FlashSaleTake,
    Fulfilment,
    Order,
    OrderEvent,
    OrderLine,
    PriceKind,
    ReferralTouch,
    ShippingRule,
)

from ._common import _int_or_none
from .stock import _release, _reserve
from .transitions import _transition


@dataclass(frozen=True)
class FulfilmentChoice:
    method: str = Fulfilment.DELIVERY
    branch_id: int | None = None


@dataclass(frozen=True)
class DeliveryAddress:
    recipient_name: str = ""
    recipient_phone: str = ""
    address: str = ""


@dataclass
class _Group:
    merchant: object
    lines: list = field(default_factory=list)  # (CartItem, Quote)
    goods: Decimal = Decimal("0.00")


def _new_number(prefix: str) -> str:
    return f"{prefix}{timezone.localtime():%Y%m%d}{secrets.randbelow(10**8):08d}"


def _validate_address(delivery: DeliveryAddress, errors: dict) -> DeliveryAddress:
    name = (delivery.recipient_name or "").strip()
    phone = (delivery.recipient_phone or "").strip()
    address = (delivery.address or "").strip()
    if not name:
        errors["recipient_name"] = [_("Enter the recipient's name.")]
    try:
        validate_cn_mobile(phone)
    except ValidationError as exc:
        errors["recipient_phone"] = exc.messages
    if not phone:
        errors["recipient_phone"] = [_("Enter the recipient's mobile number.")]
    if len(address) < 5:
        errors["address"] = [_("Enter the full delivery address.")]
    return DeliveryAddress(name[:40], phone, address[:200])


def checkout_place(*, buyer, cart: Cart, storefront_bank: Bank | None,
                   fulfilment: dict[int, FulfilmentChoice] | None = None,
                   delivery: DeliveryAddress | None = None) -> Checkout:
    """Turn the cart into a checkout: one order per merchant, stock reserved, prices fixed.

    ``fulfilment`` maps a merchant id to delivery (the default) or pickup at a branch of
    the merchant's bank or of the storefront's bank. Flash-sale units are admitted in
    Redis first (orders.flash); if the checkout then fails, they go back there.
    """
    admissions: list[flash.Admission] = []
    try:
        return _checkout_place(buyer=buyer, cart=cart, storefront_bank=storefront_bank,
                               fulfilment=fulfilment or {}, delivery=delivery,
                               admissions=admissions)
    except BaseException:
        for admission in admissions:
            flash.give_back(admission)
        raise


def _cart_lines_query(cart_id: int, buyer_id: int, now: datetime, since: datetime):
    running = (FlashSale.objects.filter(sku_id=OuterRef("sku_id"), starts_at__lte=now,
                                        ends_at__gt=now).order_by("price", "id").values("pk")[:1])
    touch = (ReferralTouch.objects.filter(user_id=buyer_id, at__gte=since, at__lte=now,
                                          bank__is_active=True).order_by("-at", "-id"))
    return (CartItem.objects.filter(cart_id=cart_id)
            .select_related("sku__product__merchant__bank",
                            "sku__product__merchant__shipping_rule")
            .annotate(flash_id=Subquery(running),
                      is_recalled=recalled_expression("sku__product_id"),
                      has_passing_report=passing_report_expression("sku__product_id"),
                      touch_bank_id=Subquery(touch.values("bank_id")[:1]),
                      touch_sharer_id=Subquery(touch.values("sharer_id")[:1]))
            .select_for_update(of=("self",)).order_by("sku_id"))


# Built and compiled once per process: on every checkout only the values change.
_CART_LINES = PreparedQuery(_cart_lines_query, cart_id=int, buyer_id=int, now=datetime,
                            since=datetime)


def _cart_items(cart: Cart, now: datetime, buyer) -> list[CartItem]:
    """The cart's lines, locked (the same cart submitted twice at once, a double click,
    becomes one checkout: the second waits, then finds the lines gone), with their SKU,
    product, merchant, its bank and delivery rule, the id of the SKU's running flash sale
    and the buyer's last storefront touch (selectors.referral_for): one statement."""
    return _CART_LINES.fetch(
        cart_id=cart.pk, buyer_id=buyer.pk, now=now,
        since=now - timedelta(days=settings.ORDER_REFERRAL_WINDOW_DAYS))


def _is_visible(product) -> bool:
    """What catalog.selectors.visible_products says, read off the loaded rows."""
    return (product.status == ProductStatus.LISTED
            and product.merchant.status == MerchantStatus.APPROVED
            and product.merchant.bank.is_active)


def _refuse_unsafe(items: list[CartItem]) -> None:
    """Food safety first: a product with a recalled batch, or one whose bank sells only
    lots with a passing lab report and whose lot on sale has none, is not bought (read
    with the cart's lines; two queries for a purchase without a cart)."""
    products = {i.sku.product_id: i.sku.product for i in items}
    if all(hasattr(i, "is_recalled") for i in items):  # read with the cart's lines
        recalled = {i.sku.product_id for i in items if i.is_recalled}
        untested = {i.sku.product_id for i in items if not i.has_passing_report
                    and i.sku.product.merchant.bank.requires_passing_lab_report}
    else:
        recalled = recalled_product_ids(products)
        untested = None
    if recalled:
        raise ApplicationError(
            _("This product has been recalled: %(names)s. Remove it from your cart.")
            % {"names": "、".join(products[pk].name for pk in sorted(recalled))},
            field="cart", code="recalled")
    if untested is None:
        untested = products_without_passing_report(products)
    if untested:
        raise ApplicationError(
            _("The lot on sale has no passing lab report: %(names)s. Remove it from your "
              "cart.") % {"names": "、".join(products[pk].name for pk in sorted(untested))},
            field="cart", code="no_passing_lab_report")


def _flash_of(items: list[CartItem], buyer) -> tuple[dict[int, FlashSale], dict[int, int]]:
    """The running flash sales of the lines and what the buyer holds of each (one query
    each, and none without a flash sale)."""
    ids = {i.flash_id for i in items if i.flash_id}
    if not ids:
        return {}, {}
    sales = {s.pk: s for s in FlashSale.objects.filter(pk__in=ids)}
    taken = dict(FlashSaleTake.objects.filter(flash_sale_id__in=ids, user=buyer)
                 .values_list("flash_sale_id", "quantity"))
    return sales, taken


def _shipping_rule(merchant):
    try:
        return merchant.shipping_rule
    except ShippingRule.DoesNotExist:
        return None


@transaction.atomic
def _checkout_place(*, buyer, cart: Cart | None, storefront_bank: Bank | None,
                    fulfilment: dict[int, FulfilmentChoice], delivery: DeliveryAddress | None,
                    admissions: list, buy_now: list[CartItem] | None = None,
                    whole_flash: bool = False,
                    flash_read: tuple[dict[int, FlashSale], dict[int, int]] | None = None,
                    ) -> Checkout:
    now = timezone.now()
    items = _cart_items(cart, now, buyer) if cart is not None else buy_now
    if not items:
        raise ApplicationError(_("Your cart is empty."), field="cart")
    _refuse_unsafe(items)
    errors: dict[str, list[str]] = {}
    off_sale = [i.sku.product.name for i in items if not _is_visible(i.sku.product)]
    if off_sale:
        errors["cart"] = [_("No longer on sale: %(names)s. Remove it from your cart.")
                          % {"names": "、".join(off_sale)}]
    # (the caller may have read the sales and what the buyer holds with its lines)
    sales, taken = flash_read if flash_read is not None else _flash_of(items, buyer)

    groups: dict[int, _Group] = {}
    for item in items:
        merchant = item.sku.product.merchant
        group = groups.setdefault(merchant.pk, _Group(merchant=merchant))
        sale = sales.get(item.flash_id)
        quote = selectors.quote(sku=item.sku, quantity=item.quantity, buyer=buyer, at=now,
                                sale=sale, taken=taken.get(item.flash_id, 0))
        if whole_flash and quote.kind != PriceKind.FLASH or quote.rest_units and whole_flash:
            # A flash purchase is at the flash price or not at all.
            raise ApplicationError(
                _("“%(title)s” is limited to %(n)d per customer.")
                % {"title": sale.title, "n": sale.per_customer_limit},
                field="cart", code="flash_limit")
        if quote.flash_units:
            taken[sale.pk] = taken.get(sale.pk, 0) + quote.flash_units
        group.lines.append((item, quote))
        group.goods += quote.line_total

    needs_address = False
    branches: dict[int, Branch] = {}
    for merchant_id, group in groups.items():
        choice = fulfilment.get(merchant_id) or FulfilmentChoice()
        if choice.method == Fulfilment.PICKUP:
            branch = selectors.pickup_branches(merchant=group.merchant,
                                               storefront_bank=storefront_bank).filter(
                pk=_int_or_none(choice.branch_id)).first()
            if branch is None:
                errors[f"fulfilment.{merchant_id}"] = [
                    _("Choose a pickup branch for %(shop)s.") % {"shop": group.merchant.name}]
            else:
                branches[merchant_id] = branch
        elif choice.method == Fulfilment.DELIVERY:
            needs_address = True
        else:
            errors[f"fulfilment.{merchant_id}"] = [_("Choose delivery or branch pickup.")]
    address = _validate_address(delivery or DeliveryAddress(), errors) if needs_address else None
    if errors:
        raise ValidationError(errors)

    # Flash units: admitted (or refused) in Redis, in one step per sale, before any write.
    flash_qty: dict[int, int] = defaultdict(int)
    for group in groups.values():
        for _item, quote in group.lines:
            if quote.flash_units:
                flash_qty[quote.flash_sale.pk] += quote.flash_units
    for sale_id in sorted(flash_qty):
        admissions.append(flash.admit(sale=sales[sale_id], user_id=buyer.pk,
                                      quantity=flash_qty[sale_id]))

    if hasattr(items[0], "touch_bank_id"):  # the touch came with the lines
        touch_bank = items[0].touch_bank_id
        referrer_id = touch_bank if touch_bank else (storefront_bank.pk if storefront_bank
                                                     else None)
        sharer_id = items[0].touch_sharer_id if touch_bank else None
    else:
        referrer, sharer = selectors.referral_for(buyer=buyer,
                                                  storefront_bank=storefront_bank, at=now)
        referrer_id, sharer_id = (referrer.pk if referrer else None,
                                  sharer.pk if sharer else None)
    shipping = {mid: (Decimal("0.00") if mid in branches
                      else selectors.shipping_fee_of(rule=_shipping_rule(g.merchant),
                                                     goods_total=g.goods))
                for mid, g in groups.items()}
    goods_total = quantize_money(sum(g.goods for g in groups.values()))
    shipping_total = quantize_money(sum(shipping.values()))
    checkout = _insert_with_number(Checkout(
        buyer=buyer, storefront_bank=storefront_bank, goods_total=goods_total,
        shipping_total=shipping_total, total=goods_total + shipping_total,
        reserved_until=now + timedelta(minutes=settings.ORDER_RESERVATION_MINUTES),
        created_at=now), prefix="C")
    ordered = sorted(groups.items())
    orders = []
    for index, (merchant_id, group) in enumerate(ordered, start=1):
        merchant = group.merchant
        branch = branches.get(merchant_id)
        goods = quantize_money(group.goods)
        orders.append(Order(
            checkout=checkout, number=f"{checkout.number}-{index}", buyer=buyer,
            merchant=merchant, merchant_bank_id=merchant.bank_id,
            referrer_bank_id=referrer_id, sharer_id=sharer_id,
            is_cross_bank=referrer_id is not None and referrer_id != merchant.bank_id,
            fulfilment=Fulfilment.PICKUP if branch else Fulfilment.DELIVERY,
            pickup_branch=branch,
            recipient_name=address.recipient_name if address and not branch else "",
            recipient_phone=address.recipient_phone if address and not branch else "",
            address=address.address if address and not branch else "",
            goods_total=goods, shipping_fee=shipping[merchant_id],
            total=goods + shipping[merchant_id]))
    Order.objects.bulk_create(orders)
    lines = []
    for order, (_mid, group) in zip(orders, ordered, strict=True):
        for item, quote in group.lines:
            lines += _order_lines(order, item, quote)
    OrderLine.objects.bulk_create(lines)
    _placed_events_and_cart_emptied(orders, buyer, now,
                                    [i.pk for i in items] if cart is not None else [])
    # Stock is reserved last: a hot SKU's row stays locked only from here to the commit
    # (a sold-out buyer's rows above are rolled back with the whole checkout).
    _reserve(buyer, [(item.sku, item.quantity, quote) for g in groups.values()
                     for item, quote in g.lines], sales)
    # The receivers get the lines in hand (no query after the commit).
    send_on_commit(checkout_placed, checkout=checkout, lines=lines)
    return checkout


def _placed_events_and_cart_emptied(orders: list[Order], buyer, now: datetime,
                                    cart_item_ids: list[int]) -> None:
    """Each order's "placed" event, and the cart's lines deleted (no cascade, no signal
    hangs on them), in one statement. Rolled back with the checkout if the stock reserved
    after it is short."""
    events, items = OrderEvent._meta.db_table, CartItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH gone AS (DELETE FROM {items} WHERE id = ANY(%s)) "  # noqa: S608
            f"INSERT INTO {events} (order_id, kind, actor_id, note, detail, at) "
            f"SELECT o, 'placed', %s, '', '{{}}'::jsonb, %s FROM unnest(%s::bigint[]) AS o",
            [cart_item_ids, buyer.pk, now, [order.pk for order in orders]])


def _order_lines(order: Order, item: CartItem, quote) -> list[OrderLine]:
    """The order's line(s) of a cart line: units over a flash sale's cap are a line of
    their own at the regular price."""
    sku = item.sku

    def line(quantity, unit_price, kind, sale):
        return OrderLine(order=order, sku=sku, product_name=sku.product.name, spec=sku.spec,
                         unit=sku.unit, quantity=quantity, unit_price=unit_price,
                         line_total=quantize_money(unit_price * quantity), price_kind=kind,
                         flash_sale=sale)

    if quote.flash_units and quote.rest_units:
        return [line(quote.flash_units, quote.unit_price, quote.kind, quote.flash_sale),
                line(quote.rest_units, quote.rest_unit_price, quote.rest_kind, None)]
    return [OrderLine(order=order, sku=sku, product_name=sku.product.name, spec=sku.spec,
                      unit=sku.unit, quantity=item.quantity, unit_price=quote.unit_price,
                      line_total=quote.line_total, price_kind=quote.kind,
                      flash_sale=quote.flash_sale)]


def _insert_with_number(obj, *, prefix: str):
    """INSERT the row with a new random ``number``; on the (1e-8) collision, another
    number: ``ON CONFLICT (number) DO NOTHING RETURNING id``, no savepoint."""
    model = type(obj)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = (f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) "  # noqa: S608
           f"VALUES ({marks}) ON CONFLICT (number) DO NOTHING RETURNING id")
    for _attempt in range(5):
        obj.number = _new_number(prefix)
        params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row:
            obj.pk = row[0]
            obj._state.adding, obj._state.db = False, "default"
            return obj
    raise ApplicationError(_("Please try again."))  # pragma: no cover - 1e-8 collisions


@transaction.atomic
def checkout_cancel(*, checkout: Checkout, reason: str, actor=None) -> Checkout:
    """An unpaid checkout is given up (by the shopper, or on expiry): stock goes back."""
    checkout = lock(checkout)
    unpaid_only = _("Only an unpaid checkout can be cancelled.")
    require(checkout, "cancel", message=unpaid_only)
    _release(checkout)
    if checkout.points_used:
        for handler in cancel_handlers():  # the points go back to the customer
            handler(checkout)
    checkout.cancel_reason = reason[:200]
    transition(checkout, "cancel", actor=actor, note=reason, message=unpaid_only,
               save_fields=["cancel_reason"], audit=_in_the_orders_history)
    for order in checkout.orders.select_for_update().order_by("pk"):
        _transition(order, "cancel", actor=actor, note=reason)
    return checkout


def _in_the_orders_history(change: Change) -> None:
    """A checkout is paid or given up as a whole: each of its orders' transitions in the
    same transaction (pay, cancel) records it in that order's history."""


@transaction.atomic
def checkout_mark_paid(*, checkout: Checkout) -> Checkout:
    """The payment of the checkout succeeded (called by ``payments``). Idempotent."""
    checkout = lock(checkout)
    if checkout.status == CheckoutStatus.PAID:
        return checkout
    now = timezone.now()
    checkout.paid_at = now
    transition(checkout, "pay", at=now, save_fields=["paid_at"], audit=_in_the_orders_history,
               message=_("This checkout was cancelled; it cannot be paid."))
    sold: dict[int, int] = defaultdict(int)
    for order in checkout.orders.select_for_update().order_by("pk"):
        order.paid_at = now
        _transition(order, "pay", at=now)
        for line in order.lines.all():
            sold[line.sku_id] += line.quantity
    sales_record(sku_quantities=sold)
    send_on_commit(checkout_paid, checkout=checkout)
    return checkout
