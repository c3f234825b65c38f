"""Flash sales (秒杀): bought at once without the cart, and set up by the merchant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from catalog.models import Sku
from catalog.selectors import passing_report_expression, recalled_expression
from core.errors import ApplicationError
from core.money import quantize_money
from core.prepared import PreparedQuery
from orders import flash
from orders.models import CartItem, Checkout, FlashSale, FlashSaleTake, ReferralTouch

from ._common import _int_or_none
from .checkout import DeliveryAddress, FulfilmentChoice, _checkout_place, _is_visible


def flash_sale_buy(*, buyer, sale_id, quantity=1, storefront_bank: Bank | None,
                   fulfilment: FulfilmentChoice | None = None,
                   delivery: DeliveryAddress | None = None) -> Checkout:
    """秒杀: buy ``quantity`` units of a running flash sale at once, without the cart. The
    units are admitted in Redis in one step (or refused: sold out, over the cap), then
    the checkout and its order are written in the same request; the buyer pays within
    ORDER_RESERVATION_MINUTES or the units go back on sale.

    Most buyers of a stampede are refused: the Redis copy of the sale answers them
    (``_refuse_from_copy``) before any database read. A buyer who may win is read in one
    statement (the sale with its SKU, product, merchant and bank, food-safety flags, what
    the buyer holds of it and their last storefront touch), then the checkout is written."""
    now = timezone.now()
    quantity = _int_or_none(quantity)
    sale_id = _int_or_none(sale_id)
    if sale_id is not None:
        _refuse_from_copy(sale_id=sale_id, buyer=buyer, quantity=quantity, now=now)
    sale = _sale_for_buying(sale_id=sale_id, buyer=buyer, now=now)
    if sale is None:
        raise ApplicationError(_("There is no such flash sale."), field="sale",
                               code="not_found")
    _refuse_out_of_window(sale.title, sale.starts_at, sale.ends_at, now)
    if not _is_visible(sale.sku.product):
        raise ApplicationError(_("This product is not on sale."), field="sale",
                               code="not_on_sale")
    _refuse_quantity(sale.title, sale.per_customer_limit, quantity)
    item = CartItem(sku=sale.sku, quantity=quantity)
    item.flash_id = sale.pk
    # read with the sale, as the cart's lines carry them (checkout._cart_items)
    item.is_recalled, item.has_passing_report = sale.is_recalled, sale.has_passing_report
    item.touch_bank_id, item.touch_sharer_id = sale.touch_bank_id, sale.touch_sharer_id
    merchant_id = sale.sku.product.merchant_id
    admissions: list[flash.Admission] = []
    try:
        return _checkout_place(buyer=buyer, cart=None, storefront_bank=storefront_bank,
                               fulfilment={merchant_id: fulfilment or FulfilmentChoice()},
                               delivery=delivery, admissions=admissions, buy_now=[item],
                               whole_flash=True,
                               flash_read=({sale.pk: sale}, {sale.pk: sale.taken}))
    except BaseException:
        for admission in admissions:
            flash.give_back(admission)
        raise


def _refuse_out_of_window(title: str, starts_at: datetime, ends_at: datetime,
                          now: datetime) -> None:
    if starts_at > now:
        raise ApplicationError(
            _("“%(title)s” starts at %(t)s.")
            % {"title": title, "t": f"{timezone.localtime(starts_at):%m-%d %H:%M}"},
            field="sale", code="not_started")
    if ends_at <= now:
        raise ApplicationError(_("“%(title)s” has ended.") % {"title": title},
                               field="sale", code="ended")


def _refuse_quantity(title: str, cap: int, quantity: int | None) -> None:
    if quantity is None or quantity < 1 or quantity > cap:
        raise ValidationError({"quantity": [
            _("“%(title)s” is limited to %(n)d per customer.") % {"title": title, "n": cap}]})


def _refuse_from_copy(*, sale_id: int, buyer, quantity: int | None, now: datetime) -> None:
    """Refuse from the sale's copy in Redis, with no database read, a buyer whom the sale
    would refuse anyway: not started or ended, a quantity over the cap, over the cap with
    what they hold, or sold out (the same answers as the full path below, which also
    checks what only the database knows: the product still on sale, safe to sell). No
    copy, or Redis away: nothing is decided here."""
    seen = flash.peek(sale_id=sale_id, user_id=buyer.pk)
    if seen is None:
        return
    _refuse_out_of_window(seen.title, datetime.fromtimestamp(seen.starts, tz=UTC),
                          datetime.fromtimestamp(seen.ends, tz=UTC), now)
    _refuse_quantity(seen.title, seen.cap, quantity)
    if seen.held + quantity > seen.cap:
        raise flash.limit_error(seen.title, seen.cap)
    if seen.left < quantity:
        raise flash.sold_out_error(seen.title)


def _sale_query(sale_id: int, buyer_id: int, now: datetime, since: datetime):
    touch = (ReferralTouch.objects.filter(user_id=buyer_id, at__gte=since, at__lte=now,
                                          bank__is_active=True).order_by("-at", "-id"))
    held = FlashSaleTake.objects.filter(flash_sale=OuterRef("pk"), user_id=buyer_id)
    return (FlashSale.objects.select_related("sku__product__merchant__bank",
                                             "sku__product__merchant__shipping_rule")
            .annotate(is_recalled=recalled_expression("sku__product_id"),
                      has_passing_report=passing_report_expression("sku__product_id"),
                      taken=Coalesce(Subquery(held.values("quantity")[:1]), 0),
                      touch_bank_id=Subquery(touch.values("bank_id")[:1]),
                      touch_sharer_id=Subquery(touch.values("sharer_id")[:1]))
            .filter(pk=sale_id))


# Built and compiled once per process: a stampede's winners only change the values.
_SALE_FOR_BUYING = PreparedQuery(_sale_query, sale_id=int, buyer_id=int, now=datetime,
                                 since=datetime)


def _sale_for_buying(*, sale_id: int | None, buyer, now: datetime) -> FlashSale | None:
    if sale_id is None or not 0 < sale_id < 2**63:  # no such id (the ORM would say so too)
        return None
    rows = _SALE_FOR_BUYING.fetch(
        sale_id=sale_id, buyer_id=buyer.pk, now=now,
        since=now - timedelta(days=settings.ORDER_REFERRAL_WINDOW_DAYS))
    return rows[0] if rows else None


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
