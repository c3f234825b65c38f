"""Carts: adding, changing and clearing lines, and merging an anonymous cart at login."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Sku
from catalog.selectors import visible_products
from orders.hooks import cart_item_added, send_on_commit
from orders.models import Cart, CartItem

from ._common import _int_or_none

MAX_LINE_QUANTITY = 9999


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
    # The cart as it is now: the receivers run after commit, when a checkout may already
    # have emptied and removed it.
    item.cart = cart
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
