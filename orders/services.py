"""Writes on buying: carts, checkout (stock and flash-sale reservation, the split into one
order per merchant, attribution), the order state machine, fulfilment, receipts, refunds,
share links and referral touches.

Stock is reserved by decrementing ``Sku.stock`` with a conditional UPDATE (``stock >= q``)
inside the checkout's transaction and given back when the checkout is cancelled or
expires. Rows are locked in one global order (flash-sale takes, flash sales, SKUs, each by
id) so concurrent checkouts cannot deadlock. The database's CHECK constraints
(``stock >= 0``, ``sold <= quantity``) are the last guard.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from banks.models import Bank, Branch
from catalog.models import Sku
from catalog.selectors import visible_products
from catalog.services import sales_record
from core.errors import ApplicationError
from core.money import quantize_money
from core.validators import validate_cn_mobile
from orders import selectors
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


@transaction.atomic
def cart_add(*, cart: Cart, sku_id, quantity=1) -> CartItem:
    sku = _buyable_sku(sku_id)
    quantity = _valid_quantity(quantity)
    if quantity == 0:
        raise ValidationError({"quantity": [_("Enter a quantity of at least 1.")]})
    item = CartItem.objects.select_for_update().filter(cart=cart, sku=sku).first()
    total = quantity + (item.quantity if item else 0)
    if total > MAX_LINE_QUANTITY:
        raise ValidationError({"quantity": [
            _("Enter a quantity from 1 to %(max)d.") % {"max": MAX_LINE_QUANTITY}]})
    if item is None:
        item = CartItem.objects.create(cart=cart, sku=sku, quantity=quantity)
    else:
        item.quantity = total
        item.save(update_fields=["quantity"])
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
    for item in anonymous.items.all():
        mine = CartItem.objects.filter(cart=cart, sku_id=item.sku_id).first()
        if mine is None:
            CartItem.objects.create(cart=cart, sku_id=item.sku_id, quantity=item.quantity)
        else:
            mine.quantity = min(MAX_LINE_QUANTITY, mine.quantity + item.quantity)
            mine.save(update_fields=["quantity"])
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


@transaction.atomic
def checkout_place(*, buyer, cart: Cart, storefront_bank: Bank | None,
                   fulfilment: dict[int, FulfilmentChoice] | None = None,
                   delivery: DeliveryAddress | None = None) -> Checkout:
    """Turn the cart into a checkout: one order per merchant, stock reserved, prices fixed.

    ``fulfilment`` maps a merchant id to delivery (the default) or pickup at a branch of
    the merchant's bank or of the storefront's bank.
    """
    fulfilment = fulfilment or {}
    now = timezone.now()
    # The cart's lines are locked: the same cart submitted twice at once (a double click)
    # becomes one checkout; the second waits, then finds the lines gone and the cart empty.
    items = list(cart.items.select_related("sku__product__merchant__bank")
                 .select_for_update(of=("self",)).order_by("sku_id"))
    if not items:
        raise ApplicationError(_("Your cart is empty."), field="cart")
    visible_ids = set(visible_products().filter(
        pk__in={i.sku.product_id for i in items}).values_list("pk", flat=True))
    errors: dict[str, list[str]] = {}
    off_sale = [i.sku.product.name for i in items if i.sku.product_id not in visible_ids]
    if off_sale:
        errors["cart"] = [_("No longer on sale: %(names)s. Remove it from your cart.")
                          % {"names": "、".join(off_sale)}]

    groups: dict[int, _Group] = {}
    for item in items:
        merchant = item.sku.product.merchant
        group = groups.setdefault(merchant.pk, _Group(merchant=merchant))
        quote = selectors.quote(sku=item.sku, quantity=item.quantity, buyer=buyer, at=now)
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

    referrer, sharer = selectors.referral_for(buyer=buyer, storefront_bank=storefront_bank,
                                              at=now)
    shipping = {mid: (Decimal("0.00") if mid in branches
                      else selectors.shipping_fee(merchant=g.merchant, goods_total=g.goods))
                for mid, g in groups.items()}
    goods_total = quantize_money(sum(g.goods for g in groups.values()))
    shipping_total = quantize_money(sum(shipping.values()))
    checkout = _create_with_number(
        lambda number: Checkout.objects.create(
            number=number, buyer=buyer, storefront_bank=storefront_bank,
            goods_total=goods_total, shipping_total=shipping_total,
            total=goods_total + shipping_total,
            reserved_until=now + timedelta(minutes=settings.ORDER_RESERVATION_MINUTES)),
        prefix="C")
    for index, (merchant_id, group) in enumerate(sorted(groups.items()), start=1):
        merchant = group.merchant
        branch = branches.get(merchant_id)
        order = Order.objects.create(
            checkout=checkout, number=f"{checkout.number}-{index}", buyer=buyer,
            merchant=merchant, merchant_bank_id=merchant.bank_id,
            referrer_bank=referrer, sharer=sharer,
            is_cross_bank=referrer is not None and referrer.pk != merchant.bank_id,
            fulfilment=Fulfilment.PICKUP if branch else Fulfilment.DELIVERY,
            pickup_branch=branch,
            recipient_name=address.recipient_name if address and not branch else "",
            recipient_phone=address.recipient_phone if address and not branch else "",
            address=address.address if address and not branch else "",
            goods_total=quantize_money(group.goods), shipping_fee=shipping[merchant_id],
            total=quantize_money(group.goods) + shipping[merchant_id])
        OrderLine.objects.bulk_create([
            OrderLine(order=order, sku=item.sku, product_name=item.sku.product.name,
                      spec=item.sku.spec, unit=item.sku.unit, quantity=item.quantity,
                      unit_price=quote.unit_price, line_total=quote.line_total,
                      price_kind=quote.kind, flash_sale=quote.flash_sale)
            for item, quote in group.lines])
        OrderEvent.objects.create(order=order, kind="placed", actor=buyer, at=now)
    # Stock is reserved last: a hot SKU's row stays locked only from here to the commit
    # (a sold-out buyer's rows above are rolled back with the whole checkout).
    _reserve(buyer, [(item.sku, item.quantity, quote) for g in groups.values()
                     for item, quote in g.lines])
    CartItem.objects.filter(pk__in=[i.pk for i in items]).delete()
    send_on_commit(checkout_placed, checkout=checkout)
    return checkout


def _create_with_number(create, *, prefix: str):
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return create(_new_number(prefix))
        except IntegrityError as exc:
            if "number" not in str(exc):
                raise
    raise ApplicationError(_("Please try again."))  # pragma: no cover - 1e-8 collisions


def _reserve(buyer, wanted) -> None:
    """Reserve stock (and flash-sale quantity) for ``wanted`` = [(sku, qty, quote)] or
    raise without having reserved anything (the caller's transaction rolls back)."""
    now = timezone.now()
    flash_qty: dict[int, int] = defaultdict(int)
    flash_sales: dict[int, FlashSale] = {}
    sku_qty: dict[int, int] = defaultdict(int)
    names: dict[int, str] = {}
    for sku, quantity, quote in wanted:
        sku_qty[sku.pk] += quantity
        names[sku.pk] = f"{sku.product.name} {sku.spec}"
        if quote.flash_sale is not None:
            flash_qty[quote.flash_sale.pk] += quantity
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
            raise ApplicationError(_("“%(title)s” is sold out.") % {"title": sale.title},
                                   field="cart", code="sold_out")
    for sku_id in sorted(sku_qty):
        if not Sku.objects.filter(pk=sku_id, stock__gte=sku_qty[sku_id]).update(
                stock=F("stock") - sku_qty[sku_id]):
            raise ApplicationError(_("Not enough stock of %(name)s.") % {"name": names[sku_id]},
                                   field="cart", code="out_of_stock")


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
    for sku_id in sorted(sku_qty):
        Sku.objects.filter(pk=sku_id).update(stock=F("stock") + sku_qty[sku_id])


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
    return _transition(order, "ship", actor=actor, at=now,
                       detail={"carrier": order.carrier, "tracking_number": tracking_number})


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
                return _transition(order, "ready_for_pickup", actor=actor,
                                   detail={"branch": order.pickup_branch_id})
        except IntegrityError:
            order.status = S.PAID
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
