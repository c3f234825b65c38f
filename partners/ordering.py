"""Writes on partner platforms' orders: a partner places a checkout for one of its
customers through the shoppers' checkout (``orders.services.checkout_place``: the same
prices, stock reservations, shipping fees and split into one order per merchant).

The buyer of a partner's checkout is the partner's system user (``partner:<id>``, no
usable password, not a person): one per partner, made on its first order. The order is
attributed to the partner by its ``PartnerOrder`` row. The partner's customer pays by
card on a signed pay link (``pay_link_token``) that opens the card page for that
checkout without signing in.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.selectors import division_path, division_text
from accounts.services import AddressSpec, address_validate
from catalog.models import Sku
from core.errors import ApplicationError
from core.idempotency import (
    idempotency_check,
    idempotency_find,
    idempotency_finish,
    idempotency_record,
    key_owner,
    request_fingerprint,
)
from core.validators import validate_cn_mobile
from orders import services as orders
from orders.models import Cart, Checkout, Fulfilment, Order
from partners.models import Partner, PartnerOrder, PartnerStatus
from partners.selectors import partner_products

MAX_LINES = 30
PAY_SALT = "partners.pay-link"


def system_username(partner: Partner) -> str:
    return f"partner:{partner.pk}"


def partner_system_user(partner: Partner):
    """The partner's system user, the buyer of its checkouts (made once; it cannot sign
    in: no usable password)."""
    User = get_user_model()
    user = User.objects.filter(username=system_username(partner)).first()
    if user is not None:
        return user
    try:
        with transaction.atomic():
            user = User(username=system_username(partner), display_name=partner.name[:60])
            user.set_unusable_password()
            user.save()
            return user
    except IntegrityError:
        return User.objects.get(username=system_username(partner))


@dataclass(frozen=True)
class Recipient:
    name: str
    phone: str
    division: str = ""   # a township's code, for delivery
    detail: str = ""     # village, street and number, for delivery


@dataclass(frozen=True)
class Placed:
    order: PartnerOrder
    created: bool  # False: the same request sent again with its key (replayed)


def _clean_lines(lines) -> list[tuple[int, int]]:
    wanted: dict[int, int] = {}
    for line in lines or []:
        try:
            sku_id, quantity = int(line["sku"]), int(line["quantity"])
        except (KeyError, TypeError, ValueError):
            raise ValidationError({"lines": [_("Each line needs a SKU id and a whole "
                                               "quantity.")]}) from None
        if not 1 <= quantity <= orders.MAX_LINE_QUANTITY:
            raise ValidationError({"lines": [_("Enter a quantity from 1 to %(max)d.")
                                             % {"max": orders.MAX_LINE_QUANTITY}]})
        wanted[sku_id] = wanted.get(sku_id, 0) + quantity
    if not wanted:
        raise ValidationError({"lines": [_("Add at least one line.")]})
    if len(wanted) > MAX_LINES:
        raise ValidationError({"lines": [_("At most %(n)d SKUs per order.")
                                         % {"n": MAX_LINES}]})
    return sorted(wanted.items())


def _check_sellable(partner: Partner, wanted: list[tuple[int, int]]) -> dict[int, int]:
    """The merchants of the SKUs, each SKU of a product the partner may sell now; a
    ValidationError on ``lines`` naming the others."""
    ids = [sku_id for sku_id, _q in wanted]
    merchants = dict(Sku.objects.filter(pk__in=ids, product__in=partner_products(partner))
                     .values_list("pk", "product__merchant_id"))
    refused = [str(sku_id) for sku_id in ids if sku_id not in merchants]
    if refused:
        raise ValidationError({"lines": [
            _("Not in your catalog: SKU %(ids)s.") % {"ids": ", ".join(refused)}]})
    return merchants


def _delivery(recipient: Recipient, pickup: bool) -> orders.DeliveryAddress:
    if pickup:
        # Who collects the goods: a name and a mobile number, no address.
        errors: dict[str, list[str]] = {}
        name, phone = (recipient.name or "").strip(), (recipient.phone or "").strip()
        if not name or len(name) > 40:
            errors["recipient.name"] = [_("Enter the recipient's name (at most 40 "
                                          "characters).")]
        try:
            validate_cn_mobile(phone)
        except ValidationError as exc:
            errors["recipient.phone"] = exc.messages
        if errors:
            raise ValidationError(errors)
        return orders.DeliveryAddress(name, phone, "")
    try:
        fields = address_validate(spec=AddressSpec(recipient.name, recipient.phone,
                                                   recipient.division, recipient.detail))
    except ValidationError as exc:
        names = {"recipient_name": "name", "recipient_phone": "phone"}
        raise ValidationError({f"recipient.{names.get(k, k)}": v
                               for k, v in exc.message_dict.items()}) from None
    region = division_text(division_path(fields["division"].code))
    return orders.DeliveryAddress(fields["recipient_name"], fields["recipient_phone"],
                                  f"{region}{fields['detail']}"[:200])


def order_fingerprint(*, partner: Partner, customer_reference: str, recipient: Recipient,
                      pickup_branch: int | None, lines) -> str:
    return request_fingerprint(
        partner=partner.pk, customer_reference=customer_reference,
        recipient=recipient.__dict__, pickup_branch=pickup_branch,
        lines=sorted([int(line["sku"]), int(line["quantity"])] for line in lines or []
                     if str(line.get("sku", "")).isdigit()
                     and str(line.get("quantity", "")).isdigit()))


SCOPE = "partner_order"


def _owner(partner: Partner) -> str:
    return key_owner(partner=partner)


def _replay(record, fingerprint: str) -> Placed:
    idempotency_check(stored=record.fingerprint, fingerprint=fingerprint)
    return Placed(order=PartnerOrder.objects.get(pk=record.target_id), created=False)


def partner_order_place(*, partner: Partner, idempotency_key: str, customer_reference: str,
                        recipient: Recipient, lines, pickup_branch: int | None = None
                        ) -> Placed:
    """A checkout for the partner's customer: ``lines`` = [{"sku": id, "quantity": n}],
    delivered to ``recipient`` (a township's code and the detail), or, with
    ``pickup_branch``, collected by the recipient at that branch of the merchant's bank.

    The same ``idempotency_key`` with the same request gives the order it made (created
    False); with another request, 422. SKUs the partner may not sell are refused (400)
    before anything is reserved."""
    key = (idempotency_key or "").strip()
    if not key or len(key) > 80:
        raise ValidationError({"idempotency_key": [
            _("Send an Idempotency-Key header (at most 80 characters).")]})
    if partner.status != PartnerStatus.ACTIVE:
        raise ApplicationError(_("The partner is not active."), code="illegal_transition")
    reference = (customer_reference or "").strip()
    fingerprint = order_fingerprint(partner=partner, customer_reference=reference,
                                    recipient=recipient, pickup_branch=pickup_branch,
                                    lines=lines)
    earlier = idempotency_find(scope=SCOPE, owner=_owner(partner), key=key)
    if earlier is not None:
        return _replay(earlier, fingerprint)
    if not reference or len(reference) > 64:
        raise ValidationError({"customer_reference": [
            _("Give your customer's or order's reference (at most 64 characters).")]})
    wanted = _clean_lines(lines)
    merchants = _check_sellable(partner, wanted)
    delivery = _delivery(recipient, pickup=pickup_branch is not None)
    fulfilment = None
    if pickup_branch is not None:
        fulfilment = {m: orders.FulfilmentChoice(Fulfilment.PICKUP, pickup_branch)
                      for m in set(merchants.values())}
    buyer = partner_system_user(partner)
    try:
        with transaction.atomic():
            # The key first: the same key sent at the same moment waits here for this
            # transaction, then replays its order (nothing reserved twice meanwhile).
            record = idempotency_record(scope=SCOPE, owner=_owner(partner), key=key,
                                        fingerprint=fingerprint)
            cart = Cart.objects.create()  # a cart of its own for this order
            for sku_id, quantity in wanted:
                orders.cart_add(cart=cart, sku_id=sku_id, quantity=quantity)
            checkout = orders.checkout_place(buyer=buyer, cart=cart, storefront_bank=None,
                                             fulfilment=fulfilment, delivery=delivery)
            cart.delete()
            order = PartnerOrder.objects.create(
                partner=partner, checkout=checkout, customer_reference=reference,
                recipient={"name": delivery.recipient_name,
                           "phone": delivery.recipient_phone,
                           "address": delivery.address})
            idempotency_finish(record, target_id=order.pk)
    except IntegrityError:
        earlier = idempotency_find(scope=SCOPE, owner=_owner(partner), key=key)
        if earlier is None or earlier.target_id is None:
            raise
        return _replay(earlier, fingerprint)
    return Placed(order=order, created=True)


# --- the pay link -------------------------------------------------------------------------


def pay_link_token(partner_order: PartnerOrder) -> str:
    """A signed token naming the checkout; it opens the card page without signing in
    for PARTNER_PAY_LINK_HOURS."""
    return signing.dumps({"c": partner_order.checkout_id}, salt=PAY_SALT, compress=True)


def checkout_of_pay_link(token: str, *, bank) -> Checkout | None:
    """The partner checkout a pay link names, opened on the domain of a bank whose
    merchants sell in it; None for a forged or expired link, or another bank's domain."""
    try:
        data = signing.loads(token, salt=PAY_SALT,
                             max_age=settings.PARTNER_PAY_LINK_HOURS * 3600)
        checkout_id = int(data["c"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if bank is None:
        return None
    return (Checkout.objects.filter(pk=checkout_id, partner_order__isnull=False,
                                    orders__merchant_bank=bank)
            .select_related("buyer").distinct().first())


# --- what settlement asks (payments.interfaces) --------------------------------------------


def fee_rates(order_list: list[Order]) -> dict[int, Decimal]:
    """Of these orders, the ones a partner sold, with the partner's fee rate (one query)."""
    by_checkout: dict[int, list[int]] = {}
    for order in order_list:
        by_checkout.setdefault(order.checkout_id, []).append(order.pk)
    rates = {}
    for checkout_id, rate in (PartnerOrder.objects.filter(checkout_id__in=list(by_checkout))
                              .values_list("checkout_id", "partner__fee_rate")):
        for order_id in by_checkout[checkout_id]:
            rates[order_id] = rate
    return rates
