"""Writes on buying: carts, checkout (stock and flash-sale reservation, the split into one
order per merchant, attribution), the order state machine, fulfilment, receipts, refunds,
share links and referral touches.

Stock is reserved by raising ``Sku.reserved`` with a conditional UPDATE (available
``stock = on_hand - reserved >= q``) inside the checkout's transaction and given back when
the checkout is cancelled or expires. A paid order's units stay reserved (and on the
merchant's shelf) until the goods leave: shipped, or handed to the pickup branch; then they
come off both ``on_hand`` and ``reserved``. Rows are locked in one global order (flash-sale
takes, flash sales, SKUs, each by id) so concurrent checkouts cannot deadlock. The
database's CHECK constraints (``0 <= reserved <= on_hand``, ``sold <= quantity``) are the
last guard.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from banks.models import Bank, Branch
from catalog.models import Sku
from catalog.selectors import visible_products
from catalog.services import sales_record, stock_hold_many, stock_issue, stock_unhold
from core.errors import ApplicationError
from core.money import quantize_money
from core.validators import validate_cn_mobile
from orders import flash, selectors
from orders.hooks import (
    cart_item_added,
    checkout_paid,
    checkout_placed,
    order_completed,
    send_on_commit,
)
from orders.interfaces import cancel_handlers, refund_handler
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
    OrderStatus,
    PriceKind,
    ReferralTouch,
    Refund,
    RefundStatus,
    ShareLink,
    ShippingRule,
)

MAX_LINE_QUANTITY = 9999

# --- the order state machine --------------------------------------------------------------

S = OrderStatus
RECEIVED = (S.SHIPPED, S.DELIVERED, S.PICKED_UP)
# A completed order can still be refunded (after-sales); once settled, the refund is
# clawed back from the merchant's next payouts.
REFUNDABLE = (S.PAID, S.SHIPPED, S.READY_FOR_PICKUP, S.DELIVERED, S.PICKED_UP, S.COMPLETED)
ORDER_TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    # action: (from states, to state); None: back to the status before the refund request
    "pay": ((S.PENDING_PAYMENT,), S.PAID),
    "cancel": ((S.PENDING_PAYMENT,), S.CANCELLED),
    "ship": ((S.PAID,), S.SHIPPED),
    "ready_for_pickup": ((S.PAID,), S.READY_FOR_PICKUP),
    "deliver": ((S.SHIPPED,), S.DELIVERED),
    "pick_up": ((S.READY_FOR_PICKUP,), S.PICKED_UP),
    "confirm_receipt": (RECEIVED, S.COMPLETED),
    "request_refund": (REFUNDABLE, S.REFUND_REQUESTED),
    "refund_full": ((S.REFUND_REQUESTED,), S.REFUNDED),
    "refund_partial": ((S.REFUND_REQUESTED,), None),
    "reject_refund": ((S.REFUND_REQUESTED,), None),
}


def order_allowed_actions(order: Order) -> list[str]:
    allowed = [a for a, (sources, _to) in ORDER_TRANSITIONS.items() if order.status in sources]
    wrong_kind = "ready_for_pickup" if order.fulfilment == Fulfilment.DELIVERY else "ship"
    return [a for a in allowed if a != wrong_kind]


def _transition(order: Order, action: str, *, actor=None, note: str = "",
                detail: dict | None = None, at: datetime | None = None) -> Order:
    """Apply one transition to a row the caller has locked; record it in the history."""
    sources, target = ORDER_TRANSITIONS[action]
    if order.status not in sources:
        raise ApplicationError(
            _("Order %(number)s is “%(status)s”: it cannot be %(action)s.")
            % {"number": order.number, "status": order.get_status_display(),
               "action": _ACTION_LABELS.get(action, action)},
            code="illegal_transition")
    at = at or timezone.now()
    if action == "request_refund":
        order.status_before_refund = order.status
    if target is None:
        target, order.status_before_refund = order.status_before_refund, ""
    elif action in ("refund_full",):
        order.status_before_refund = ""
    order.status = target
    order.save()
    OrderEvent.objects.create(order=order, kind=action, actor=actor, note=note[:300],
                              detail=detail or {}, at=at)
    if target == OrderStatus.COMPLETED:
        send_on_commit(order_completed, order=order)
    return order


_ACTION_LABELS = {  # completes "it cannot be ...", in the page's language
    "pay": pgettext_lazy("order action", "paid"),
    "cancel": pgettext_lazy("order action", "cancelled"),
    "ship": pgettext_lazy("order action", "shipped"),
    "ready_for_pickup": pgettext_lazy("order action", "made ready for pickup"),
    "deliver": pgettext_lazy("order action", "marked delivered"),
    "pick_up": pgettext_lazy("order action", "picked up"),
    "confirm_receipt": pgettext_lazy("order action", "confirmed as received"),
    "request_refund": pgettext_lazy("order action", "refunded"),
    "refund_full": pgettext_lazy("order action", "refunded"),
    "refund_partial": pgettext_lazy("order action", "refunded"),
    "reject_refund": pgettext_lazy("order action", "refused a refund"),
}


def _locked(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


# --- carts ---------------------------------------------------------------------------------


def cart_get_or_create(*, user=None, token=None) -> Cart:
    """The account's cart, or the anonymous cart of ``token`` (a new one if unknown)."""
    if user is not None and user.is_authenticated:
        cart, _created = Cart.objects.get_or_create(user=user)
        return cart
    if token:
        cart = Cart.objects.filter(token=token, user__isnull=True).first()
        if cart is not None:
            return cart
    return Cart.objects.create()


def _buyable_sku(sku_id) -> Sku:
    try:
        sku_id = int(sku_id)
    except (TypeError, ValueError):
        raise ValidationError({"sku": [_("Choose a product specification.")]}) from None
    sku = (Sku.objects.select_related("product__merchant")
           .filter(pk=sku_id, product__in=visible_products()).first())
    if sku is None:
        raise ValidationError({"sku": [_("This product is not on sale.")]})
    return sku


def _valid_quantity(quantity) -> int:
    try:
        quantity = int(quantity)
    except (TypeError, ValueError):
        raise ValidationError({"quantity": [_("Enter a whole number.")]}) from None
    if quantity < 0 or quantity > MAX_LINE_QUANTITY:
        raise ValidationError({"quantity": [
            _("Enter a quantity from 1 to %(max)d.") % {"max": MAX_LINE_QUANTITY}]})
    return quantity


def _cart_line_add(*, cart_id: int, sku_id: int, quantity: int, clamp: bool) -> int | None:
    """Add ``quantity`` to the cart's line of the SKU, creating it if there is none, in one
    statement: two requests adding at once both count (a read-then-insert would let the
    second insert hit the line's unique constraint). Returns the line's id, or None if the
    line would exceed MAX_LINE_QUANTITY (then nothing changed); ``clamp`` caps it instead."""
    table = CartItem._meta.db_table
    total = f"{table}.quantity + EXCLUDED.quantity"
    if clamp:
        update, where = f"LEAST({total}, %s)", ""
        params = [cart_id, sku_id, min(quantity, MAX_LINE_QUANTITY), timezone.now(),
                  MAX_LINE_QUANTITY]
    else:
        update, where = total, f"WHERE {total} <= %s"
        params = [cart_id, sku_id, quantity, timezone.now(), MAX_LINE_QUANTITY]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (cart_id, sku_id, quantity, added_at) "  # noqa: S608
            f"VALUES (%s, %s, %s, %s) ON CONFLICT (cart_id, sku_id) "
            f"DO UPDATE SET quantity = {update} {where} RETURNING id", params)
        row = cursor.fetchone()
    return row[0] if row else None


@transaction.atomic
def cart_add(*, cart: Cart, sku_id, quantity=1) -> CartItem:
    sku = _buyable_sku(sku_id)
    quantity = _valid_quantity(quantity)
    if quantity == 0:
        raise ValidationError({"quantity": [_("Enter a quantity of at least 1.")]})
    item_id = _cart_line_add(cart_id=cart.pk, sku_id=sku.pk, quantity=quantity, clamp=False)
    if item_id is None:
        raise ValidationError({"quantity": [
            _("Enter a quantity from 1 to %(max)d.") % {"max": MAX_LINE_QUANTITY}]})
    item = CartItem.objects.get(pk=item_id)
    item.sku = sku
    Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now())
    send_on_commit(cart_item_added, item=item, quantity=quantity)
    return item


@transaction.atomic
def cart_set_quantity(*, cart: Cart, sku_id, quantity) -> CartItem | None:
    """Set a line's quantity; 0 removes the line."""
    quantity = _valid_quantity(quantity)
    # Locked: a checkout of this cart running now either took the line already (then it
    # is gone) or waits for this change.
    item = (CartItem.objects.select_for_update()
            .filter(cart=cart, sku_id=_int_or_none(sku_id)).first())
    if item is None:
        raise ValidationError({"sku": [_("This item is not in your cart.")]})
    if quantity == 0:
        item.delete()
        return None
    item.quantity = quantity
    item.save(update_fields=["quantity"])
    return item


@transaction.atomic
def cart_clear(*, cart: Cart) -> int:
    """Empty the cart; returns how many lines were removed."""
    removed, _by_model = CartItem.objects.filter(cart=cart).delete()
    Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now())
    return removed


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@transaction.atomic
def cart_merge(*, token, user) -> Cart:
    """At login: the anonymous cart's lines join the account's cart (quantities add up)."""
    cart = cart_get_or_create(user=user)
    anonymous = Cart.objects.filter(token=token, user__isnull=True).first() if token else None
    if anonymous is None:
        return cart
    for item in anonymous.items.order_by("sku_id"):
        _cart_line_add(cart_id=cart.pk, sku_id=item.sku_id, quantity=item.quantity,
                       clamp=True)
    anonymous.delete()
    return cart


# --- referral ------------------------------------------------------------------------------


def share_link_for(*, sharer, bank: Bank, product=None, merchant=None) -> ShareLink:
    """The sharer's link for this bank's storefront (and product, or a shop shared as a
    whole); one per combination."""
    if product is not None:
        merchant = None  # a product's link names the product only
    link = ShareLink.objects.filter(sharer=sharer, bank=bank, product=product,
                                    merchant=merchant).first()
    if link is not None:
        return link
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return ShareLink.objects.create(code=secrets.token_urlsafe(6)[:8],
                                                sharer=sharer, bank=bank, product=product,
                                                merchant=merchant)
        except IntegrityError:
            link = ShareLink.objects.filter(sharer=sharer, bank=bank, product=product,
                                            merchant=merchant).first()
            if link is not None:
                return link
    raise ApplicationError(_("Could not make a share link; try again."))


def referral_touch(*, bank: Bank, user=None, share_code: str = "") -> ReferralTouch:
    """A shopper arrived at ``bank``'s storefront (through a share link if ``share_code``
    names one: the visit then counts for the sharer's bank and remembers the sharer)."""
    link = (ShareLink.objects.select_related("bank").filter(code=share_code).first()
            if share_code else None)
    if link is not None and link.bank.is_active:
        bank = link.bank
    else:
        link = None
    return ReferralTouch.objects.create(
        user=user if user is not None and user.is_authenticated else None, bank=bank,
        share_link=link, sharer=link.sharer if link else None, at=timezone.now())


def referral_claim(*, touch_ids, user) -> int:
    """At login: the session's anonymous touches become the account's."""
    ids = [i for i in (_int_or_none(t) for t in touch_ids or []) if i is not None]
    return ReferralTouch.objects.filter(pk__in=ids, user__isnull=True).update(user=user)


# --- checkout ------------------------------------------------------------------------------


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


def _cart_items(cart: Cart, now: datetime, buyer) -> list[CartItem]:
    """The cart's lines, locked (the same cart submitted twice at once, a double click,
    becomes one checkout: the second waits, then finds the lines gone), with their SKU,
    product, merchant, its bank and delivery rule, the id of the SKU's running flash sale
    and the buyer's last storefront touch (selectors.referral_for): one statement."""
    running = (FlashSale.objects.filter(sku_id=OuterRef("sku_id"), starts_at__lte=now,
                                        ends_at__gt=now).order_by("price", "id").values("pk")[:1])
    since = now - timedelta(days=settings.ORDER_REFERRAL_WINDOW_DAYS)
    touch = (ReferralTouch.objects.filter(user=buyer, at__gte=since, at__lte=now,
                                          bank__is_active=True).order_by("-at", "-id"))
    return list(cart.items.select_related("sku__product__merchant__bank",
                                          "sku__product__merchant__shipping_rule")
                .annotate(flash_id=Subquery(running),
                          touch_bank_id=Subquery(touch.values("bank_id")[:1]),
                          touch_sharer_id=Subquery(touch.values("sharer_id")[:1]))
                .select_for_update(of=("self",)).order_by("sku_id"))


def _is_visible(product) -> bool:
    """What catalog.selectors.visible_products says, read off the loaded rows."""
    from catalog.models import MerchantStatus, ProductStatus

    return (product.status == ProductStatus.LISTED
            and product.merchant.status == MerchantStatus.APPROVED
            and product.merchant.bank.is_active)


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
                    whole_flash: bool = False) -> Checkout:
    now = timezone.now()
    items = _cart_items(cart, now, buyer) if cart is not None else buy_now
    if not items:
        raise ApplicationError(_("Your cart is empty."), field="cart")
    errors: dict[str, list[str]] = {}
    off_sale = [i.sku.product.name for i in items if not _is_visible(i.sku.product)]
    if off_sale:
        errors["cart"] = [_("No longer on sale: %(names)s. Remove it from your cart.")
                          % {"names": "、".join(off_sale)}]
    sales, taken = _flash_of(items, buyer)

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

    if cart is not None:  # the touch came with the cart's lines
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
    send_on_commit(checkout_placed, checkout=checkout)
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


def _reserve(buyer, wanted, sales: dict[int, FlashSale] | None = None) -> None:
    """Reserve stock (and flash-sale quantity) for ``wanted`` = [(sku, qty, quote)] or
    raise without having reserved anything (the caller's transaction rolls back). The
    flash units were admitted in Redis; if the database refuses them, Redis's copy of
    the sale was wrong: it is dropped, to be rebuilt from the database."""
    now = timezone.now()
    flash_qty: dict[int, int] = defaultdict(int)
    flash_sales: dict[int, FlashSale] = {}
    sku_qty: dict[int, int] = defaultdict(int)
    names: dict[int, str] = {}
    for sku, quantity, quote in wanted:
        sku_qty[sku.pk] += quantity
        names[sku.pk] = f"{sku.product.name} {sku.spec}"
        if quote.flash_sale is not None and quote.flash_units:
            flash_qty[quote.flash_sale.pk] += quote.flash_units
            flash_sales[quote.flash_sale.pk] = quote.flash_sale
    for flash_id in sorted(flash_qty):
        sale, quantity = flash_sales[flash_id], flash_qty[flash_id]
        FlashSaleTake.objects.bulk_create([FlashSaleTake(flash_sale=sale, user=buyer)],
                                          ignore_conflicts=True)
        took = FlashSaleTake.objects.filter(
            flash_sale=sale, user=buyer,
            quantity__lte=sale.per_customer_limit - quantity).update(
            quantity=F("quantity") + quantity)
        if not took:
            flash.forget(flash_id)
            raise ApplicationError(
                _("“%(title)s” is limited to %(n)d per customer.")
                % {"title": sale.title, "n": sale.per_customer_limit},
                field="cart", code="flash_limit")
    for flash_id in sorted(flash_qty):
        sale, quantity = flash_sales[flash_id], flash_qty[flash_id]
        sold = FlashSale.objects.filter(
            pk=flash_id, starts_at__lte=now, ends_at__gt=now,
            sold__lte=F("quantity") - quantity).update(sold=F("sold") + quantity)
        if not sold:
            flash.forget(flash_id)
            raise ApplicationError(_("“%(title)s” is sold out.") % {"title": sale.title},
                                   field="cart", code="sold_out")
    short = stock_hold_many(sku_quantities=sku_qty)
    if short:
        raise ApplicationError(_("Not enough stock of %(name)s.") % {"name": names[short[0]]},
                               field="cart", code="out_of_stock")


def flash_sale_buy(*, buyer, sale_id, quantity=1, storefront_bank: Bank | None,
                   fulfilment: FulfilmentChoice | None = None,
                   delivery: DeliveryAddress | None = None) -> Checkout:
    """秒杀: buy ``quantity`` units of a running flash sale at once, without the cart. The
    units are admitted in Redis in one step (or refused: sold out, over the cap), then
    the checkout and its order are written in the same request; the buyer pays within
    ORDER_RESERVATION_MINUTES or the units go back on sale."""
    now = timezone.now()
    quantity = _int_or_none(quantity)
    sale = (FlashSale.objects.select_related("sku__product__merchant__bank",
                                             "sku__product__merchant__shipping_rule")
            .filter(pk=_int_or_none(sale_id)).first())
    if sale is None:
        raise ApplicationError(_("There is no such flash sale."), field="sale",
                               code="not_found")
    if sale.starts_at > now:
        raise ApplicationError(
            _("“%(title)s” starts at %(t)s.")
            % {"title": sale.title, "t": f"{timezone.localtime(sale.starts_at):%m-%d %H:%M}"},
            field="sale", code="not_started")
    if sale.ends_at <= now:
        raise ApplicationError(_("“%(title)s” has ended.") % {"title": sale.title},
                               field="sale", code="ended")
    if not _is_visible(sale.sku.product):
        raise ApplicationError(_("This product is not on sale."), field="sale",
                               code="not_on_sale")
    if quantity is None or quantity < 1 or quantity > sale.per_customer_limit:
        raise ValidationError({"quantity": [
            _("“%(title)s” is limited to %(n)d per customer.")
            % {"title": sale.title, "n": sale.per_customer_limit}]})
    item = CartItem(sku=sale.sku, quantity=quantity)
    item.flash_id = sale.pk
    merchant_id = sale.sku.product.merchant_id
    admissions: list[flash.Admission] = []
    try:
        return _checkout_place(buyer=buyer, cart=None, storefront_bank=storefront_bank,
                               fulfilment={merchant_id: fulfilment or FulfilmentChoice()},
                               delivery=delivery, admissions=admissions, buy_now=[item],
                               whole_flash=True)
    except BaseException:
        for admission in admissions:
            flash.give_back(admission)
        raise


def _release(checkout: Checkout) -> None:
    lines = OrderLine.objects.filter(order__checkout=checkout)
    sku_qty: dict[int, int] = defaultdict(int)
    flash_qty: dict[int, int] = defaultdict(int)
    for line in lines:
        sku_qty[line.sku_id] += line.quantity
        if line.flash_sale_id:
            flash_qty[line.flash_sale_id] += line.quantity
    for flash_id in sorted(flash_qty):
        FlashSaleTake.objects.filter(flash_sale_id=flash_id, user_id=checkout.buyer_id).update(
            quantity=F("quantity") - flash_qty[flash_id])
    for flash_id in sorted(flash_qty):
        FlashSale.objects.filter(pk=flash_id).update(sold=F("sold") - flash_qty[flash_id])
        transaction.on_commit(lambda f=flash_id, q=flash_qty[flash_id]: flash.release(
            sale_id=f, user_id=checkout.buyer_id, quantity=q))
    stock_unhold(sku_quantities=sku_qty)


def _issue(order: Order) -> None:
    """The order's goods leave the merchant: its reserved units come off the shelf."""
    sku_qty: dict[int, int] = defaultdict(int)
    for sku_id, quantity in order.lines.values_list("sku_id", "quantity"):
        sku_qty[sku_id] += quantity
    stock_issue(sku_quantities=sku_qty)


@transaction.atomic
def checkout_cancel(*, checkout: Checkout, reason: str, actor=None) -> Checkout:
    """An unpaid checkout is given up (by the shopper, or on expiry): stock goes back."""
    checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
    if checkout.status != CheckoutStatus.PENDING_PAYMENT:
        raise ApplicationError(_("Only an unpaid checkout can be cancelled."),
                               code="illegal_transition")
    _release(checkout)
    if checkout.points_used:
        for handler in cancel_handlers():  # the points go back to the customer
            handler(checkout)
    checkout.status = CheckoutStatus.CANCELLED
    checkout.cancel_reason = reason[:200]
    checkout.save(update_fields=["status", "cancel_reason"])
    for order in checkout.orders.select_for_update().order_by("pk"):
        _transition(order, "cancel", actor=actor, note=reason)
    return checkout


@transaction.atomic
def checkout_mark_paid(*, checkout: Checkout) -> Checkout:
    """The payment of the checkout succeeded (called by ``payments``). Idempotent."""
    checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
    if checkout.status == CheckoutStatus.PAID:
        return checkout
    if checkout.status != CheckoutStatus.PENDING_PAYMENT:
        raise ApplicationError(_("This checkout was cancelled; it cannot be paid."),
                               code="illegal_transition")
    now = timezone.now()
    checkout.status, checkout.paid_at = CheckoutStatus.PAID, now
    checkout.save(update_fields=["status", "paid_at"])
    sold: dict[int, int] = defaultdict(int)
    for order in checkout.orders.select_for_update().order_by("pk"):
        order.paid_at = now
        _transition(order, "pay", at=now)
        for line in order.lines.all():
            sold[line.sku_id] += line.quantity
    sales_record(sku_quantities=sold)
    send_on_commit(checkout_paid, checkout=checkout)
    return checkout


# --- fulfilment ----------------------------------------------------------------------------


def _auto_confirm_at(at: datetime) -> datetime:
    return at + timedelta(days=settings.ORDER_AUTO_CONFIRM_DAYS)


@transaction.atomic
def order_ship(*, order: Order, actor, carrier: str, tracking_number: str) -> Order:
    carrier, tracking_number = (carrier or "").strip(), (tracking_number or "").strip()
    errors = {}
    if not carrier:
        errors["carrier"] = [_("Enter the carrier.")]
    if not tracking_number or len(tracking_number) > 40:
        errors["tracking_number"] = [_("Enter the tracking number.")]
    if errors:
        raise ValidationError(errors)
    order = _locked(order)
    if order.fulfilment != Fulfilment.DELIVERY:
        raise ApplicationError(_("This order is picked up at a branch, not shipped."),
                               code="illegal_transition")
    now = timezone.now()
    order.carrier, order.tracking_number = carrier[:40], tracking_number
    order.shipped_at, order.auto_confirm_at = now, _auto_confirm_at(now)
    _transition(order, "ship", actor=actor, at=now,
                detail={"carrier": order.carrier, "tracking_number": tracking_number})
    _issue(order)
    return order


@transaction.atomic
def order_track(*, order: Order, actor, description: str, location: str = "",
                delivered: bool = False) -> OrderEvent:
    """A tracking event from the carrier (entered by the merchant or a carrier feed);
    ``delivered`` marks the parcel handed over."""
    description = (description or "").strip()
    if not description:
        raise ValidationError({"description": [_("Describe the tracking event.")]})
    order = _locked(order)
    if order.status not in (S.SHIPPED, S.DELIVERED):
        raise ApplicationError(_("Tracking events belong to shipped orders."),
                               code="illegal_transition")
    now = timezone.now()
    event = OrderEvent.objects.create(order=order, kind="tracking", actor=actor,
                                      note=description[:300],
                                      detail={"location": (location or "").strip()[:100]},
                                      at=now)
    if delivered and order.status == S.SHIPPED:
        order.received_at, order.auto_confirm_at = now, _auto_confirm_at(now)
        _transition(order, "deliver", actor=actor, at=now)
    return event


@transaction.atomic
def order_ready_for_pickup(*, order: Order, actor) -> Order:
    order = _locked(order)
    if order.fulfilment != Fulfilment.PICKUP:
        raise ApplicationError(_("This order is delivered, not picked up."),
                               code="illegal_transition")
    for _attempt in range(10):
        order.pickup_code = f"{secrets.randbelow(10**8):08d}"
        try:
            with transaction.atomic():
                _transition(order, "ready_for_pickup", actor=actor,
                            detail={"branch": order.pickup_branch_id})
        except IntegrityError:
            order.status = S.PAID
            continue
        _issue(order)  # the goods go to the branch
        return order
    raise ApplicationError(_("Please try again."))  # pragma: no cover


@transaction.atomic
def pickup_verify(*, bank: Bank, code: str, actor) -> Order:
    """Branch staff check the shopper's pickup code and hand the goods over."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    order = (Order.objects.select_for_update()
             .filter(pickup_code=code, status=S.READY_FOR_PICKUP,
                     pickup_branch__bank=bank).first() if len(code) == 8 else None)
    if order is None:
        raise ApplicationError(_("No order awaits pickup with this code at our branches."),
                               field="code", code="not_found")
    now = timezone.now()
    order.received_at, order.auto_confirm_at = now, _auto_confirm_at(now)
    return _transition(order, "pick_up", actor=actor, at=now,
                       detail={"branch": order.pickup_branch_id})


@transaction.atomic
def order_confirm_receipt(*, order: Order, actor=None, automatic: bool = False) -> Order:
    order = _locked(order)
    now = timezone.now()
    order.completed_at = now
    order.received_at = order.received_at or now
    return _transition(order, "confirm_receipt", actor=actor, at=now,
                       note=_("Confirmed automatically") if automatic else "")


def orders_auto_confirm(*, now: datetime | None = None) -> int:
    """Confirm receipt of orders whose confirmation period has passed."""
    now = now or timezone.now()
    due = Order.objects.filter(status__in=RECEIVED, auto_confirm_at__lte=now)
    done = 0
    for order in due.only("pk").iterator(chunk_size=200):
        try:
            order_confirm_receipt(order=order, automatic=True)
            done += 1
        except ApplicationError:
            continue  # changed meanwhile (e.g. a refund request): not due any more
    return done


# --- refunds -------------------------------------------------------------------------------


def _refund_amount(order: Order, amount) -> Decimal:
    try:
        amount = quantize_money(amount)
        if not amount.is_finite():  # "NaN" quantizes to NaN, which no comparison takes
            raise ValueError
    except Exception:
        raise ValidationError({"amount": [_("Enter an amount in yuan.")]}) from None
    if amount <= 0 or amount > order.refundable:
        raise ValidationError({"amount": [
            _("Enter an amount from 0.01 to %(max)s.") % {"max": order.refundable}]})
    return amount


@transaction.atomic
def refund_request(*, order: Order, actor, amount, reason: str) -> Refund:
    order = _locked(order)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why you want a refund.")]})
    if order.status not in REFUNDABLE:
        _transition(order, "request_refund")  # raises the clear illegal-transition error
    amount = _refund_amount(order, amount)
    refund = Refund.objects.create(order=order, amount=amount, reason=reason[:300],
                                   requested_by=actor)
    _transition(order, "request_refund", actor=actor, note=reason,
                detail={"refund": refund.pk, "amount": str(amount)})
    return refund


@transaction.atomic
def refund_decide(*, refund: Refund, actor, approve: bool, note: str = "") -> Refund:
    """The merchant approves (money goes back through the gateway and the ledger) or
    rejects a refund request; the order moves on accordingly."""
    order = _locked(refund.order)
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    if refund.status != RefundStatus.REQUESTED:
        raise ApplicationError(_("This refund was already decided."),
                               code="illegal_transition")
    note = (note or "").strip()
    now = timezone.now()
    refund.decided_by, refund.decided_at, refund.decision_note = actor, now, note[:300]
    if not approve:
        if not note:
            raise ValidationError({"note": [_("Say why the refund is refused.")]})
        refund.status = RefundStatus.REJECTED
        refund.save()
        _transition(order, "reject_refund", actor=actor, note=note,
                    detail={"refund": refund.pk})
        return refund
    if refund.amount > order.refundable:
        raise ValidationError({"amount": [_("The refund exceeds what is left to refund.")]})
    refund.gateway_reference = refund_handler()(refund)
    refund.status = RefundStatus.SUCCEEDED
    refund.save()
    order.refunded_total += refund.amount
    full = order.refunded_total == order.total
    if full and order.status_before_refund == S.PAID:
        # Refunded before its goods left: they are written off like a sale (as a refund
        # always did); if they are still on the shelf, the merchant's next count says so.
        _issue(order)
    _transition(order, "refund_full" if full else "refund_partial", actor=actor, note=note,
                detail={"refund": refund.pk, "amount": str(refund.amount)})
    return refund


@transaction.atomic
def refund_record_external(*, order: Order, amount: Decimal, reference: str,
                           reason: str) -> Refund:
    """A refund the card gateway made outside the platform: recorded on the order as it
    happened (no gateway call here; the caller books it). The order goes through the
    refund transitions like any refund, with no actor."""
    order = _locked(order)
    amount = _refund_amount(order, amount)
    if order.status not in REFUNDABLE:
        _transition(order, "request_refund")  # raises the clear illegal-transition error
    now = timezone.now()
    refund = Refund.objects.create(order=order, amount=amount, reason=reason[:300],
                                   status=RefundStatus.SUCCEEDED, gateway_reference=reference,
                                   decided_at=now, decision_note=reason[:300])
    _transition(order, "request_refund", note=reason, at=now,
                detail={"refund": refund.pk, "amount": str(amount)})
    order.refunded_total += amount
    full = order.refunded_total == order.total
    _transition(order, "refund_full" if full else "refund_partial", note=reason, at=now,
                detail={"refund": refund.pk, "amount": str(amount), "gateway": reference})
    return refund


@transaction.atomic
def refund_issue(*, order: Order, actor, amount, reason: str) -> Refund:
    """The merchant refunds on its own initiative (e.g. a missing item)."""
    refund = refund_request(order=order, actor=actor, amount=amount, reason=reason)
    return refund_decide(refund=refund, actor=actor, approve=True, note=reason)


# --- merchants' selling rules --------------------------------------------------------------


@transaction.atomic
def shipping_rule_set(*, merchant, flat_fee, free_over=None) -> ShippingRule:
    """The merchant's delivery fee per order, free from ``free_over`` of goods on (None:
    never free)."""
    errors: dict[str, list[str]] = {}
    try:
        flat_fee = quantize_money(flat_fee)
        if flat_fee < 0 or flat_fee > 1000:
            raise ValueError
    except Exception:
        errors["flat_fee"] = [_("Enter a fee from 0 to 1000 yuan.")]
    if free_over not in (None, ""):
        try:
            free_over = quantize_money(free_over)
            if free_over <= 0 or free_over >= 10**9:  # the column holds 12 digits before the point
                raise ValueError
        except Exception:
            errors["free_over"] = [_("Enter an amount above zero, or leave it empty.")]
    else:
        free_over = None
    if errors:
        raise ValidationError(errors)
    rule, _created = ShippingRule.objects.update_or_create(
        merchant=merchant, defaults={"flat_fee": flat_fee, "free_over": free_over})
    return rule


@transaction.atomic
def flash_sale_create(*, sku: Sku, title: str, price, starts_at: datetime, ends_at: datetime,
                      quantity, per_customer_limit=1) -> FlashSale:
    """A flash sale of the merchant's SKU. Its quantity comes out of the SKU's stock like
    any order; it may not exceed the stock there is when the sale is set up."""
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = [_("Give the flash sale a title.")]
    try:
        price = quantize_money(price)
        if price <= 0 or price >= sku.price:
            raise ValueError
    except Exception:
        errors["price"] = [_("The flash price must be above zero and below the retail "
                             "price (%(p)s).") % {"p": sku.price}]
    if not starts_at or not ends_at or ends_at <= starts_at:
        errors["ends_at"] = [_("The sale must end after it starts.")]
    elif ends_at <= timezone.now():
        errors["ends_at"] = [_("The sale must end in the future.")]
    quantity, limit = _int_or_none(quantity), _int_or_none(per_customer_limit)
    if quantity is None or quantity < 1 or quantity > sku.stock:
        errors["quantity"] = [_("Offer from 1 to %(n)d units (the stock).") % {"n": sku.stock}]
    if limit is None or limit < 1:
        errors["per_customer_limit"] = [_("Allow at least 1 unit per customer.")]
    if errors:
        raise ValidationError(errors)
    overlapping = FlashSale.objects.filter(sku=sku, starts_at__lt=ends_at, ends_at__gt=starts_at)
    if overlapping.exists():
        raise ApplicationError(_("This specification already has a flash sale at that time."),
                               field="starts_at")
    return FlashSale.objects.create(sku=sku, title=title[:80], price=price,
                                    starts_at=starts_at, ends_at=ends_at, quantity=quantity,
                                    per_customer_limit=limit)
