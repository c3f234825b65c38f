"""Carts, checkouts, orders and their lines, history, refunds, flash sales, shipping
rules, share links and referral attribution, and orders placed at a branch desk."""


from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from banks.models import Bank, Branch
from catalog.models import Merchant, Product, Sku
from core.states import BACK, StateMachine

MONEY = {"max_digits": 14, "decimal_places": 2}


class ShippingRule(models.Model):
    """A merchant's delivery fee: a flat fee per order, free from a goods total on.
    A merchant without a rule uses ORDER_DEFAULT_SHIPPING_FEE / _FREE_OVER."""

    merchant = models.OneToOneField(Merchant, on_delete=models.CASCADE,
                                    related_name="shipping_rule")
    flat_fee = models.DecimalField(_("delivery fee"), **MONEY, default=Decimal("8.00"),
                                   validators=[MinValueValidator(Decimal("0"))])
    free_over = models.DecimalField(_("free delivery from"), **MONEY, null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.merchant}: {self.flat_fee}"


class Cart(models.Model):
    """A shopper's cart. Anonymous carts are found by the token kept in the session and
    merge into the account's cart at login."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True,
                                blank=True, related_name="cart")
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"cart {self.pk}"


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "sku"], name="orders_cartitem_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orders_cartitem_qty"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku_id}"


class FlashSale(models.Model):
    """限量抢购: a SKU at a special price for a time window, a limited quantity in all and
    a cap per customer. ``sold`` counts reserved and paid units; the database refuses
    more than ``quantity``."""

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="flash_sales")
    title = models.CharField(_("title"), max_length=80)
    price = models.DecimalField(_("flash price"), **MONEY,
                                validators=[MinValueValidator(Decimal("0.01"))])
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    quantity = models.PositiveIntegerField(_("quantity on sale"))
    per_customer_limit = models.PositiveIntegerField(_("limit per customer"), default=1)
    sold = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(sold__lte=F("quantity")) & Q(sold__gte=0),
                                   name="orders_flash_sold_within_quantity"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")),
                                   name="orders_flash_window"),
            models.CheckConstraint(condition=Q(per_customer_limit__gte=1),
                                   name="orders_flash_limit_positive"),
        ]
        indexes = [models.Index(fields=["sku", "starts_at", "ends_at"])]

    def __str__(self) -> str:
        return self.title


class FlashSaleTake(models.Model):
    """How many units of a flash sale one customer holds (reserved or bought)."""

    flash_sale = models.ForeignKey(FlashSale, on_delete=models.CASCADE, related_name="takes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    quantity = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["flash_sale", "user"], name="orders_flash_take_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.quantity}"


class ShareLink(models.Model):
    """A link a shopper shares: visits through it are attributed to the sharer's bank
    and remember the sharer."""

    code = models.CharField(max_length=12, unique=True)
    sharer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="share_links")
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, null=True, blank=True,
                                related_name="+")
    # A shop shared as a whole (no product).
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sharer", "bank", "product", "merchant"],
                                    name="orders_sharelink_once", nulls_distinct=False),
        ]

    def __str__(self) -> str:
        return self.code


class ReferralTouch(models.Model):
    """A shopper arriving at a bank's storefront (directly or through a share link).
    The last touch within ORDER_REFERRAL_WINDOW_DAYS attributes a checkout."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True,
                             blank=True, related_name="+")
    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="+")
    share_link = models.ForeignKey(ShareLink, on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="touches")
    sharer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                               null=True, blank=True, related_name="+")
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "-at"])]

    def __str__(self) -> str:
        return f"{self.bank_id} @ {self.at:%Y-%m-%d %H:%M}"


class CheckoutStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")


class Checkout(models.Model):
    """One purchase: a shopper's cart turned into per-merchant orders and one payment.
    Its stock is reserved until ``reserved_until``."""

    number = models.CharField(max_length=24, unique=True)
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="checkouts")
    storefront_bank = models.ForeignKey(Bank, on_delete=models.PROTECT, null=True,
                                        blank=True, related_name="+")
    status = models.CharField(max_length=20, choices=CheckoutStatus.choices,
                              default=CheckoutStatus.PENDING_PAYMENT)
    STATES = StateMachine(initial=[CheckoutStatus.PENDING_PAYMENT], transitions={
        "pay": ([CheckoutStatus.PENDING_PAYMENT], CheckoutStatus.PAID),
        "cancel": ([CheckoutStatus.PENDING_PAYMENT], CheckoutStatus.CANCELLED),
    })
    cancel_reason = models.CharField(max_length=200, blank=True, default="")
    goods_total = models.DecimalField(**MONEY)
    shipping_total = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    # Points of the storefront bank's programme paying part of the goods (the rest, the
    # cash due, is paid by card, at a branch desk or by the bank's credit).
    points_used = models.PositiveIntegerField(default=0)
    points_value = models.DecimalField(**MONEY, default=Decimal("0.00"))
    reserved_until = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total=F("goods_total") + F("shipping_total")),
                                   name="orders_checkout_total_sums"),
            models.CheckConstraint(condition=Q(points_value__gte=0,
                                               points_value__lte=F("goods_total")),
                                   name="orders_checkout_points_within_goods"),
        ]
        indexes = [models.Index(fields=["status", "reserved_until"])]

    def __str__(self) -> str:
        return self.number

    @property
    def cash_due(self) -> Decimal:
        return self.total - self.points_value


class Fulfilment(models.TextChoices):
    DELIVERY = "delivery", _("Delivery")
    PICKUP = "pickup", _("Pickup at a bank branch")


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
    PAID = "paid", _("Paid")
    SHIPPED = "shipped", _("Shipped")
    READY_FOR_PICKUP = "ready_for_pickup", _("Ready for pickup")
    DELIVERED = "delivered", _("Delivered")
    PICKED_UP = "picked_up", _("Picked up")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    REFUND_REQUESTED = "refund_requested", _("Refund requested")
    REFUNDED = "refunded", _("Refunded")


# The goods reached the buyer (or the branch handed them over).
RECEIVED = (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.PICKED_UP)
# A completed order can still be refunded (after-sales); once settled, the refund is
# clawed back from the merchant's next payouts.
REFUNDABLE = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.READY_FOR_PICKUP,
              OrderStatus.DELIVERED, OrderStatus.PICKED_UP, OrderStatus.COMPLETED)


class OrderHold(models.TextChoices):
    RECALL = "recall", _("Held: the goods are recalled")


class Order(models.Model):
    """The part of a checkout one merchant fulfils."""

    checkout = models.ForeignKey(Checkout, on_delete=models.PROTECT, related_name="orders")
    number = models.CharField(max_length=28, unique=True)
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="orders")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="orders")
    # Attribution: the merchant's bank settles the money; the referrer brought the buyer.
    merchant_bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="+")
    referrer_bank = models.ForeignKey(Bank, on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="+")
    sharer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                               null=True, blank=True, related_name="+")
    is_cross_bank = models.BooleanField(default=False)

    status = models.CharField(max_length=20, choices=OrderStatus.choices,
                              default=OrderStatus.PENDING_PAYMENT)
    # BACK: a refund request decided (rejected, or refunded in part) returns the order to
    # the status it had before the request.
    STATES = StateMachine(initial=[OrderStatus.PENDING_PAYMENT], transitions={
        "pay": ([OrderStatus.PENDING_PAYMENT], OrderStatus.PAID),
        "cancel": ([OrderStatus.PENDING_PAYMENT], OrderStatus.CANCELLED),
        "ship": ([OrderStatus.PAID], OrderStatus.SHIPPED),
        "ready_for_pickup": ([OrderStatus.PAID], OrderStatus.READY_FOR_PICKUP),
        "deliver": ([OrderStatus.SHIPPED], OrderStatus.DELIVERED),
        "pick_up": ([OrderStatus.READY_FOR_PICKUP], OrderStatus.PICKED_UP),
        "confirm_receipt": (RECEIVED, OrderStatus.COMPLETED),
        "request_refund": (REFUNDABLE, OrderStatus.REFUND_REQUESTED),
        "refund_full": ([OrderStatus.REFUND_REQUESTED], OrderStatus.REFUNDED),
        "refund_partial": ([OrderStatus.REFUND_REQUESTED], BACK),
        "reject_refund": ([OrderStatus.REFUND_REQUESTED], BACK),
    }, returns_to=REFUNDABLE)
    status_before_refund = models.CharField(max_length=20, blank=True, default="")

    fulfilment = models.CharField(max_length=10, choices=Fulfilment.choices)
    recipient_name = models.CharField(_("recipient"), max_length=40, blank=True, default="")
    recipient_phone = models.CharField(_("phone"), max_length=20, blank=True, default="")
    address = models.CharField(_("address"), max_length=200, blank=True, default="")
    pickup_branch = models.ForeignKey(Branch, on_delete=models.PROTECT, null=True,
                                      blank=True, related_name="pickup_orders")
    pickup_code = models.CharField(max_length=8, blank=True, default="")
    carrier = models.CharField(_("carrier"), max_length=40, blank=True, default="")
    tracking_number = models.CharField(_("tracking number"), max_length=40, blank=True,
                                       default="")

    goods_total = models.DecimalField(**MONEY)
    shipping_fee = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    refunded_total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    # This order's share of the checkout's points (allocated by eligible goods).
    points_used = models.PositiveIntegerField(default=0)
    points_value = models.DecimalField(**MONEY, default=Decimal("0.00"))

    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    auto_confirm_at = models.DateTimeField(null=True, blank=True)
    # A hold on the order's money (escrow is not paid out while set): "recall" while an
    # open food-safety recall covers it. Set and lifted set-based by orders.services.
    held_reason = models.CharField(max_length=20, blank=True, default="",
                                   choices=OrderHold.choices)
    held_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total=F("goods_total") + F("shipping_fee")),
                                   name="orders_order_total_sums"),
            models.CheckConstraint(
                condition=Q(refunded_total__gte=0) & Q(refunded_total__lte=F("total")),
                name="orders_order_refund_within_total"),
            models.CheckConstraint(
                condition=Q(fulfilment="delivery") | Q(pickup_branch__isnull=False),
                name="orders_order_pickup_has_branch"),
            models.UniqueConstraint(fields=["pickup_code"],
                                    condition=Q(status="ready_for_pickup"),
                                    name="orders_order_pickup_code_live_unique"),
        ]
        indexes = [
            models.Index(fields=["merchant", "status"]),
            models.Index(fields=["merchant_bank", "-created_at"]),
            models.Index(fields=["referrer_bank", "-created_at"]),
            models.Index(fields=["buyer", "-created_at"]),
            models.Index(fields=["status", "auto_confirm_at"]),
            models.Index(fields=["held_reason"], condition=~Q(held_reason=""),
                         name="orders_order_held"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def refundable(self) -> Decimal:
        return self.total - self.refunded_total


class PriceKind(models.TextChoices):
    RETAIL = "retail", _("Retail")
    WHOLESALE = "wholesale", _("Wholesale tier")
    FLASH = "flash", _("Flash sale")


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="+")
    product_name = models.CharField(max_length=120)
    spec = models.CharField(max_length=60)
    unit = models.CharField(max_length=8)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)
    line_total = models.DecimalField(**MONEY)
    price_kind = models.CharField(max_length=10, choices=PriceKind.choices,
                                  default=PriceKind.RETAIL)
    flash_sale = models.ForeignKey(FlashSale, on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orders_line_qty"),
        ]

    def __str__(self) -> str:
        return f"{self.product_name} {self.spec} × {self.quantity}"


class OrderEvent(models.Model):
    """The order's history: every transition, and the carrier's tracking events."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="+")
    note = models.CharField(max_length=300, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}"


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    SUCCEEDED = "succeeded", _("Refunded")
    REJECTED = "rejected", _("Rejected")
    FAILED = "failed", _("Gateway refused")


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    reason = models.CharField(_("reason"), max_length=300)
    status = models.CharField(max_length=12, choices=RefundStatus.choices,
                              default=RefundStatus.REQUESTED)
    # A refund the card service made outside the platform is recorded as succeeded.
    STATES = StateMachine(initial=[RefundStatus.REQUESTED, RefundStatus.SUCCEEDED],
                          transitions={
        "approve": ([RefundStatus.REQUESTED], RefundStatus.SUCCEEDED),
        "reject": ([RefundStatus.REQUESTED], RefundStatus.REJECTED),
        "fail": ([RefundStatus.REQUESTED], RefundStatus.FAILED),
    })
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                     null=True, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    decision_note = models.CharField(max_length=300, blank=True, default="")
    gateway_reference = models.CharField(max_length=80, blank=True, default="")
    # A refund returns cash first, then points: how it was split, and the points given
    # back (expired points are not).
    cash_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    points_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    points_restored = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="orders_refund_positive"),
            # One open request per order at a time.
            models.UniqueConstraint(fields=["order"], condition=Q(status="requested"),
                                    name="orders_refund_one_open"),
        ]

    def __str__(self) -> str:
        return f"refund {self.pk} of {self.order_id}: {self.amount}"


class AssistedOrder(models.Model):
    """A checkout placed by bank staff at a branch desk for a customer who is there (an
    elderly villager, say): the customer confirms it with a one-time code sent to their
    phone, pays at the desk or by card, and picks it up at the same branch."""

    checkout = models.OneToOneField(Checkout, on_delete=models.CASCADE,
                                    related_name="assisted")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    customer_phone = models.CharField(max_length=11)
    code_hash = models.CharField(max_length=128)
    code_expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    codes_sent = models.PositiveSmallIntegerField(default=1)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"assisted {self.checkout_id} at {self.branch_id}"
