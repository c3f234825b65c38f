"""Flash sales (秒杀): bought at once without the cart, and set up by the merchant."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from catalog.models import Sku
from core.errors import ApplicationError
from core.money import quantize_money
from orders import flash
from orders.models import CartItem, Checkout, FlashSale

from ._common import _int_or_none
from .checkout import DeliveryAddress, FulfilmentChoice, _checkout_place, _is_visible


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
