"""Assisted ordering at a branch desk (O2O): bank staff place a checkout for a customer who
is at the branch, the customer confirms it with a one-time code texted to their phone,
then it is paid (at the desk: ``payments.desk``, or by card) and picked up at the same
branch.

The code has 6 digits, is valid ``ASSISTED_CODE_MINUTES`` (10) and is stored only as an
HMAC of the checkout and the code (keyed with the project's secret). A wrong code counts
an attempt; after ``ASSISTED_CODE_MAX_ATTEMPTS`` (5) the order is locked until a new code
is sent. Only a confirmed assisted checkout can be paid (``assert_confirmed``, which the
payment services call).

So that codes cannot be sprayed by placing orders or resending codes again and again,
wrong codes are also counted per member of staff, per customer's phone and per client
address over ``ASSISTED_THROTTLE_MINUTES`` (60): after ``ASSISTED_WRONG_CODES_LIMIT``
(15) wrong codes by one of them, codes are refused (even a right one) until the window
ends. And at most ``ASSISTED_CODES_PER_PHONE`` (10) codes are texted to one phone in
that window (new orders and resends together), which also keeps a desk from flooding a
customer with messages. The counters live in Redis, per bank.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank, Branch
from banks.selectors import membership_for
from catalog.models import Sku
from core import throttle
from core.errors import ApplicationError
from core.sms import send_sms_on_commit
from core.validators import validate_cn_mobile
from orders import services
from orders.models import AssistedOrder, Cart, Checkout, CheckoutStatus, Fulfilment

MAX_LINES = 30
MAX_CODES_SENT = 5


class CodeThrottled(ApplicationError):
    status_code = 429


def _window() -> int:
    return settings.ASSISTED_THROTTLE_MINUTES * 60


def _wrong_code_keys(*, staff, phone: str, address: str) -> list[str]:
    keys = [f"desk-wrong:staff:{staff.pk}", f"desk-wrong:phone:{phone}"]
    if address:
        keys.append(f"desk-wrong:addr:{address}")
    return keys


def _check_not_spraying(keys: list[str]) -> None:
    if any(throttle.count(k) >= settings.ASSISTED_WRONG_CODES_LIMIT for k in keys):
        raise CodeThrottled(
            _("Too many wrong codes from this desk or for this customer. Codes are refused "
              "for up to %(minutes)d minutes; ask the customer to check the message.")
            % {"minutes": settings.ASSISTED_THROTTLE_MINUTES}, field="code", code="throttled")


def _count_code_texted(phone: str) -> None:
    """Raise unless another code may be texted to ``phone`` in this window."""
    key = f"desk-texted:{phone}"
    if throttle.count(key) >= settings.ASSISTED_CODES_PER_PHONE:
        raise CodeThrottled(
            _("This phone has been sent %(n)d codes within %(minutes)d minutes; wait before "
              "sending another.") % {"n": settings.ASSISTED_CODES_PER_PHONE,
                                     "minutes": settings.ASSISTED_THROTTLE_MINUTES},
            field="customer_phone", code="throttled")
    throttle.hit(key, window_seconds=_window())


def _hash(checkout_id: int, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"assisted:{checkout_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def _code_text(bank: Bank, branch: Branch, checkout: Checkout, code: str) -> str:
    return _("[%(bank)s] Your order %(number)s at %(branch)s, %(total)s yuan. Confirmation "
             "code %(code)s (valid %(minutes)d minutes). Tell it only to the staff serving "
             "you at the desk.") % {
        "bank": bank.name, "number": checkout.number, "branch": branch.name,
        "total": checkout.total, "code": code, "minutes": settings.ASSISTED_CODE_MINUTES}


def _staff_branch(staff, bank: Bank, branch_id) -> Branch:
    if membership_for(user=staff, bank=bank) is None:
        raise ApplicationError(_("Only this bank's staff can place assisted orders."),
                               code="not_found")
    try:
        branch_id = int(branch_id)
    except (TypeError, ValueError):
        branch_id = None
    branch = Branch.objects.filter(pk=branch_id, bank=bank, is_pickup_point=True).first()
    if branch is None:
        raise ValidationError({"branch": [_("Choose one of our branches.")]})
    return branch


def customer_for_phone(phone: str, *, name: str = ""):
    """The account with this mobile number, or a new one without a password (the
    customer can set one later with the number)."""
    User = get_user_model()
    user = User.objects.filter(phone=phone).first()
    if user is not None:
        return user, False
    for _attempt in range(5):
        try:
            with transaction.atomic():
                user = User(username=f"m{phone}-{secrets.token_hex(2)}", phone=phone,
                            display_name=(name or "").strip()[:60])
                user.set_unusable_password()
                user.save()
                return user, True
        except IntegrityError:
            user = User.objects.filter(phone=phone).first()
            if user is not None:
                return user, False
    raise ApplicationError(_("Please try again."))  # pragma: no cover


def _clean_lines(lines) -> list[tuple[int, int]]:
    wanted: dict[int, int] = {}
    for sku_id, quantity in lines or []:
        try:
            sku_id, quantity = int(sku_id), int(quantity)
        except (TypeError, ValueError):
            raise ValidationError({"lines": [_("Each line needs a product and a whole "
                                               "quantity.")]}) from None
        if quantity < 0 or quantity > services.MAX_LINE_QUANTITY:
            raise ValidationError({"lines": [
                _("Enter a quantity from 1 to %(max)d.") % {"max": services.MAX_LINE_QUANTITY}]})
        if quantity:
            wanted[sku_id] = wanted.get(sku_id, 0) + quantity
    if not wanted:
        raise ValidationError({"lines": [_("Add at least one product.")]})
    if len(wanted) > MAX_LINES:
        raise ValidationError({"lines": [_("At most %(n)d products per order.")
                                         % {"n": MAX_LINES}]})
    return sorted(wanted.items())


@transaction.atomic
def assisted_checkout_start(*, staff, bank: Bank, branch_id, customer_phone: str,
                            lines, customer_name: str = "") -> AssistedOrder:
    """Staff of ``bank`` place a checkout for the customer with ``customer_phone`` (an
    account is made if there is none), every merchant's goods picked up at ``branch``;
    the customer gets a confirmation code by SMS. ``lines`` = [(sku_id, quantity)]."""
    branch = _staff_branch(staff, bank, branch_id)
    phone = "".join(ch for ch in (customer_phone or "") if ch.isdigit())
    try:
        validate_cn_mobile(phone)
    except ValidationError as exc:
        raise ValidationError({"customer_phone": exc.messages}) from None
    wanted = _clean_lines(lines)
    _count_code_texted(phone)
    customer, _created = customer_for_phone(phone, name=customer_name)
    if customer.pk == staff.pk:
        raise ApplicationError(_("Staff cannot place an assisted order for themselves."),
                               field="customer_phone")
    cart = Cart.objects.create()  # a cart of its own: the customer's cart is left alone
    for sku_id, quantity in wanted:
        services.cart_add(cart=cart, sku_id=sku_id, quantity=quantity)
    merchants = set(Sku.objects.filter(pk__in=[s for s, _q in wanted])
                    .values_list("product__merchant_id", flat=True))
    checkout = services.checkout_place(
        buyer=customer, cart=cart, storefront_bank=bank,
        fulfilment={m: services.FulfilmentChoice(Fulfilment.PICKUP, branch.pk)
                    for m in merchants})
    cart.delete()
    code = _new_code()
    assisted = AssistedOrder.objects.create(
        checkout=checkout, staff=staff, branch=branch, customer_phone=phone,
        code_hash=_hash(checkout.pk, code),
        code_expires_at=timezone.now() + timedelta(minutes=settings.ASSISTED_CODE_MINUTES))
    send_sms_on_commit(phone, _code_text(bank, branch, checkout, code))
    return assisted


def _locked_open(assisted: AssistedOrder, bank: Bank) -> AssistedOrder:
    assisted = (AssistedOrder.objects.select_for_update().select_related("checkout", "branch")
                .filter(pk=assisted.pk, branch__bank=bank).first())
    if assisted is None:
        raise ApplicationError(_("No such assisted order at our branches."), code="not_found")
    if assisted.checkout.status != CheckoutStatus.PENDING_PAYMENT:
        raise ApplicationError(_("This order is no longer awaiting confirmation."),
                               code="illegal_transition")
    return assisted


@transaction.atomic
def assisted_code_resend(*, assisted: AssistedOrder, bank: Bank, staff) -> AssistedOrder:
    """A new code (the old one stops working), valid from now; attempts start again."""
    if membership_for(user=staff, bank=bank) is None:
        raise ApplicationError(_("No such assisted order at our branches."), code="not_found")
    assisted = _locked_open(assisted, bank)
    if assisted.confirmed_at:
        raise ApplicationError(_("The customer has confirmed this order already."),
                               code="illegal_transition")
    if assisted.codes_sent >= MAX_CODES_SENT:
        raise ApplicationError(_("%(n)d codes were sent already; cancel this order and "
                                 "place it again.") % {"n": MAX_CODES_SENT}, code="too_many")
    _count_code_texted(assisted.customer_phone)
    code = _new_code()
    assisted.code_hash = _hash(assisted.checkout_id, code)
    assisted.code_expires_at = timezone.now() + timedelta(
        minutes=settings.ASSISTED_CODE_MINUTES)
    assisted.attempts = 0
    assisted.codes_sent += 1
    assisted.save(update_fields=["code_hash", "code_expires_at", "attempts", "codes_sent"])
    send_sms_on_commit(assisted.customer_phone,
                       _code_text(bank, assisted.branch, assisted.checkout, code))
    return assisted


def assisted_confirm(*, assisted: AssistedOrder, bank: Bank, staff, code: str,
                     client_address: str = "") -> AssistedOrder:
    """The customer reads out the code; a right one confirms the order (it may now be
    paid). A wrong one counts, for the order and for the staff member, the customer's
    phone and ``client_address`` (and is kept counted even though this raises)."""
    if membership_for(user=staff, bank=bank) is None:
        raise ApplicationError(_("No such assisted order at our branches."), code="not_found")
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    error = None
    with transaction.atomic():
        assisted = _locked_open(assisted, bank)
        if assisted.confirmed_at:
            return assisted
        keys = _wrong_code_keys(staff=staff, phone=assisted.customer_phone,
                                address=client_address)
        _check_not_spraying(keys)
        if assisted.attempts >= settings.ASSISTED_CODE_MAX_ATTEMPTS:
            error = ApplicationError(_("Too many wrong codes: send a new code."),
                                     field="code", code="locked")
        elif assisted.code_expires_at <= timezone.now():
            error = ApplicationError(_("The code has expired: send a new code."),
                                     field="code", code="expired")
        elif len(code) != 6 or not hmac.compare_digest(
                assisted.code_hash, _hash(assisted.checkout_id, code)):
            assisted.attempts += 1
            assisted.save(update_fields=["attempts"])
            for key in keys:
                throttle.hit(key, window_seconds=_window())
            left = settings.ASSISTED_CODE_MAX_ATTEMPTS - assisted.attempts
            error = ApplicationError(
                _("The code is wrong (%(n)d tries left).") % {"n": left} if left
                else _("Too many wrong codes: send a new code."),
                field="code", code="wrong_code" if left else "locked")
        else:
            assisted.confirmed_at = timezone.now()
            assisted.save(update_fields=["confirmed_at"])
    if error is not None:
        raise error
    return assisted


def assert_confirmed(checkout: Checkout) -> None:
    """Raise unless the checkout is not an assisted one or its customer confirmed it."""
    if AssistedOrder.objects.filter(checkout_id=checkout.pk,
                                    confirmed_at__isnull=True).exists():
        raise ApplicationError(_("The customer has not confirmed this order with the code "
                                 "sent to their phone yet."), code="not_confirmed")


@transaction.atomic
def assisted_cancel(*, assisted: AssistedOrder, bank: Bank, staff) -> Checkout:
    """The customer changed their mind before paying: the stock goes back."""
    if membership_for(user=staff, bank=bank) is None:
        raise ApplicationError(_("No such assisted order at our branches."), code="not_found")
    assisted = _locked_open(assisted, bank)
    return services.checkout_cancel(checkout=assisted.checkout,
                                    reason=_("Cancelled at the branch desk"), actor=staff)


def text_pickup_code(sender, instance, created: bool, **kwargs) -> None:
    """``post_save`` of ``OrderEvent``: when an assisted order's goods are ready at the
    branch, its pickup code is texted to the customer (who may never use the website)."""
    if not created or instance.kind != "ready_for_pickup":
        return
    order = instance.order
    assisted = (AssistedOrder.objects.select_related("branch")
                .filter(checkout_id=order.checkout_id).first())
    if assisted is None or not order.pickup_code:
        return
    send_sms_on_commit(assisted.customer_phone, _(
        "[%(branch)s] Your order %(number)s is ready. Pickup code %(code)s: show it at the "
        "desk to collect your goods.") % {
        "branch": assisted.branch.name, "number": order.number, "code": order.pickup_code})
