"""Buying API serializers: input shapes (validated here, checked again by the services)
and output shapes for each audience. A shopper sees their pickup code; a merchant and
bank staff never do (the code is the shopper's proof at the branch)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import StrictBooleanField
from orders import selectors as order_selectors
from orders.models import (
    MONEY,
    Checkout,
    FlashSale,
    Fulfilment,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Refund,
)
from orders.selectors_history import event_label
from orders.services import MAX_LINE_QUANTITY, order_allowed_actions

# Which state-machine actions each audience can take itself (through its own endpoints).
BUYER_ACTIONS = ("confirm_receipt", "request_refund")
MERCHANT_ACTIONS = ("ship", "ready_for_pickup", "deliver", "refund_full", "refund_partial",
                    "reject_refund")
CONSOLE_ACTIONS = ("pick_up",)


class MerchantRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    bank = serializers.CharField(source="bank.code")


class BranchRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    address = serializers.CharField()
    opening_hours = serializers.CharField()
    bank = serializers.CharField(source="bank.code")


# --- cart ----------------------------------------------------------------------------------


class CartLineSerializer(serializers.Serializer):
    sku = serializers.IntegerField(source="sku.id")
    product = serializers.IntegerField(source="sku.product_id")
    product_name = serializers.CharField(source="sku.product.name")
    spec = serializers.CharField(source="sku.spec")
    unit = serializers.CharField(source="sku.unit")
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(**MONEY, source="quote.unit_price")
    retail_price = serializers.DecimalField(**MONEY, source="quote.retail_price")
    line_total = serializers.DecimalField(**MONEY, source="quote.line_total")
    price_kind = serializers.CharField(source="quote.kind",
                                       help_text="retail, wholesale or flash")
    available = serializers.BooleanField(
        help_text="false: no longer on sale, or not enough stock for this quantity")


class CartGroupSerializer(serializers.Serializer):
    merchant = MerchantRefSerializer()
    lines = CartLineSerializer(many=True)
    goods_total = serializers.DecimalField(**MONEY)
    shipping_fee = serializers.DecimalField(
        **MONEY, help_text="the delivery fee if delivered (pickup at a branch is free)")


class CartSerializer(serializers.Serializer):
    groups = CartGroupSerializer(many=True)
    goods_total = serializers.DecimalField(**MONEY)
    shipping_total = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)
    count = serializers.IntegerField(help_text="units in the cart")


class CartItemInputSerializer(serializers.Serializer):
    sku = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY, default=1)


class CartQuantityInputSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)


# --- orders --------------------------------------------------------------------------------


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["sku", "product_name", "spec", "unit", "quantity", "unit_price",
                  "line_total", "price_kind"]


class OrderEventSerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField(
        help_text="What the event is called on the pages (in the request's language).")

    class Meta:
        model = OrderEvent
        fields = ["kind", "label", "note", "detail", "at"]

    def get_label(self, event) -> str:
        return event_label(event.kind)


class RefundSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number")
    order_status = serializers.CharField(source="order.status")

    class Meta:
        model = Refund
        fields = ["id", "order", "order_status", "amount", "reason", "status",
                  "decision_note", "created_at", "decided_at"]


class OrderSerializer(serializers.ModelSerializer):
    """An order as its buyer sees it. ``actions``: what the buyer can do now."""

    audience_actions = BUYER_ACTIONS
    audience = order_selectors.BUYER

    checkout = serializers.CharField(source="checkout.number")
    status_display = serializers.CharField(source="get_status_display")
    merchant = MerchantRefSerializer()
    merchant_bank = serializers.CharField(source="merchant_bank.code")
    referrer_bank = serializers.CharField(source="referrer_bank.code", allow_null=True,
                                          default=None)
    pickup_branch = BranchRefSerializer(allow_null=True)
    lines = OrderLineSerializer(many=True)
    refundable = serializers.DecimalField(**MONEY)
    actions = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ["number", "checkout", "status", "status_display", "merchant",
                  "merchant_bank", "referrer_bank", "is_cross_bank", "fulfilment",
                  "recipient_name", "recipient_phone", "address", "pickup_branch",
                  "pickup_code", "carrier", "tracking_number", "goods_total",
                  "shipping_fee", "total", "refunded_total", "refundable", "lines",
                  "actions", "created_at", "paid_at", "shipped_at", "received_at",
                  "completed_at", "auto_confirm_at"]

    def get_actions(self, order) -> list[str]:
        return [a for a in order_allowed_actions(order) if a in self.audience_actions]

    def to_representation(self, order):
        data = super().to_representation(order)
        if "pickup_code" in data and order.status != OrderStatus.READY_FOR_PICKUP:
            data["pickup_code"] = ""  # only live while the goods wait at the branch
        # The same read view as the audience's pages: masked where they mask it.
        data["recipient_phone"] = order_selectors.order_phone_for(order, audience=self.audience)
        if (self.audience == order_selectors.MERCHANT and "address" in data
                and not order_selectors.merchant_needs_contact(order)):
            data["address"] = ""
        return data


class OrderMoneySerializer(serializers.Serializer):
    total = serializers.DecimalField(**MONEY)
    paid_points_value = serializers.DecimalField(**MONEY, help_text="paid with points")
    points_used = serializers.IntegerField()
    paid_money = serializers.DecimalField(**MONEY, help_text="paid by card, credit or at "
                                                             "the desk")
    refunded_money = serializers.DecimalField(**MONEY, help_text="back to the way it was paid")
    refunded_points_value = serializers.DecimalField(**MONEY, help_text="back as points")
    points_restored = serializers.IntegerField(help_text="points given back (expired ones "
                                                         "are not)")
    net_money = serializers.DecimalField(**MONEY, help_text="paid_money - refunded_money")


class OrderDetailSerializer(OrderSerializer):
    events = OrderEventSerializer(many=True)
    refunds = RefundSerializer(many=True)
    money = serializers.SerializerMethodField()

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "events", "refunds", "money"]

    @extend_schema_field(OrderMoneySerializer)
    def get_money(self, order) -> dict:
        return OrderMoneySerializer(order_selectors.order_money(order)).data


class MerchantOrderSerializer(OrderSerializer):
    """An order as the merchant's members see it: who to ship to, never the pickup code."""

    audience_actions = MERCHANT_ACTIONS
    audience = order_selectors.MERCHANT
    buyer = serializers.SerializerMethodField()

    class Meta(OrderSerializer.Meta):
        fields = [f for f in OrderSerializer.Meta.fields if f != "pickup_code"] + ["buyer"]

    def get_buyer(self, order) -> str:
        return str(order.buyer)


class MerchantOrderDetailSerializer(MerchantOrderSerializer):
    events = OrderEventSerializer(many=True)
    refunds = RefundSerializer(many=True)

    class Meta(MerchantOrderSerializer.Meta):
        fields = [*MerchantOrderSerializer.Meta.fields, "events", "refunds"]


class ConsoleOrderSerializer(OrderSerializer):
    """An order as a bank's staff see it (their merchants', referred or picked up at their
    branches): no delivery address, never the pickup code."""

    audience_actions = CONSOLE_ACTIONS
    audience = order_selectors.STAFF

    class Meta(OrderSerializer.Meta):
        fields = [f for f in OrderSerializer.Meta.fields if f not in ("pickup_code", "address")]


class ConsoleOrderDetailSerializer(ConsoleOrderSerializer):
    events = OrderEventSerializer(many=True)
    refunds = RefundSerializer(many=True)

    class Meta(ConsoleOrderSerializer.Meta):
        fields = [*ConsoleOrderSerializer.Meta.fields, "events", "refunds"]


def order_page_serializer(item_serializer):
    """The shape of a page of orders: ``{total, page, pages, results}``."""

    class Page(serializers.Serializer):
        total = serializers.IntegerField()
        page = serializers.IntegerField()
        pages = serializers.IntegerField()
        results = item_serializer(many=True)

    Page.__name__ = f"{item_serializer.__name__.removesuffix('Serializer')}Page"
    return Page


OrderPageSerializer = order_page_serializer(OrderSerializer)
MerchantOrderPageSerializer = order_page_serializer(MerchantOrderSerializer)
ConsoleOrderPageSerializer = order_page_serializer(ConsoleOrderSerializer)


# --- checkout ------------------------------------------------------------------------------


class CheckoutSerializer(serializers.ModelSerializer):
    storefront_bank = serializers.CharField(source="storefront_bank.code", allow_null=True,
                                            default=None)
    status_display = serializers.CharField(source="get_status_display")
    orders = OrderSerializer(many=True)

    class Meta:
        model = Checkout
        fields = ["number", "status", "status_display", "storefront_bank", "goods_total",
                  "shipping_total", "total", "reserved_until", "cancel_reason",
                  "created_at", "paid_at", "orders"]


class FulfilmentInputSerializer(serializers.Serializer):
    merchant = serializers.IntegerField()
    method = serializers.ChoiceField(choices=Fulfilment.choices)
    branch = serializers.IntegerField(required=False, allow_null=True, default=None,
                                      help_text="the pickup branch (method pickup)")


class DeliveryInputSerializer(serializers.Serializer):
    address_id = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1,
        help_text="an entry of the caller's address book (GET me/addresses/); when given, "
                  "the fields below are ignored")
    recipient_name = serializers.CharField(max_length=40, required=False, allow_blank=True,
                                           default="")
    recipient_phone = serializers.CharField(max_length=20, required=False, allow_blank=True,
                                            default="")
    address = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                    default="")


class CheckoutInputSerializer(serializers.Serializer):
    fulfilment = FulfilmentInputSerializer(
        many=True, required=False, default=list,
        help_text="per merchant; a merchant not listed is delivered")
    delivery = DeliveryInputSerializer(required=False, default=dict,
                                       help_text="needed when anything is delivered")

    def validate_fulfilment(self, value):
        merchants = [f["merchant"] for f in value]
        if len(merchants) != len(set(merchants)):
            raise serializers.ValidationError("Give each merchant's fulfilment once.")
        return value


class FlashBuyInputSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(default=1, min_value=1, max_value=9999)
    method = serializers.ChoiceField(choices=Fulfilment.choices, default=Fulfilment.DELIVERY)
    branch = serializers.IntegerField(required=False, allow_null=True, default=None,
                                      help_text="the pickup branch (method pickup)")
    delivery = DeliveryInputSerializer(required=False, default=dict,
                                       help_text="needed when delivered")


class FlashBuySerializer(serializers.Serializer):
    message = serializers.CharField(help_text="what to tell the buyer")
    pay_within_minutes = serializers.IntegerField()
    checkout = CheckoutSerializer()


# --- fulfilment and refunds ----------------------------------------------------------------


class RefundInputSerializer(serializers.Serializer):
    amount = serializers.DecimalField(**MONEY)
    reason = serializers.CharField(max_length=300)


class ShipInputSerializer(serializers.Serializer):
    carrier = serializers.CharField(max_length=40)
    tracking_number = serializers.CharField(max_length=40)


class TrackInputSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=300)
    location = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                     default="")
    delivered = StrictBooleanField(required=False, default=False)


class RefundDecisionInputSerializer(serializers.Serializer):
    approve = StrictBooleanField()
    note = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                 default="", help_text="required when refusing")


class PickupVerifyInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=20)


# --- merchants' selling rules --------------------------------------------------------------


class ShippingRuleSerializer(serializers.Serializer):
    flat_fee = serializers.DecimalField(**MONEY)
    free_over = serializers.DecimalField(**MONEY, required=False, allow_null=True,
                                         default=None,
                                         help_text="free delivery from this goods total; "
                                                   "null: never free")
    is_default = serializers.BooleanField(read_only=True,
                                          help_text="true: the platform's default rule")


class FlashSaleSerializer(serializers.ModelSerializer):
    product_name = serializers.CharField(source="sku.product.name")
    spec = serializers.CharField(source="sku.spec")

    class Meta:
        model = FlashSale
        fields = ["id", "sku", "product_name", "spec", "title", "price", "starts_at",
                  "ends_at", "quantity", "per_customer_limit", "sold"]


class FlashSaleInputSerializer(serializers.Serializer):
    sku = serializers.IntegerField()
    title = serializers.CharField(max_length=80)
    price = serializers.DecimalField(**MONEY)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    quantity = serializers.IntegerField(min_value=1)
    per_customer_limit = serializers.IntegerField(min_value=1, default=1)


# --- share links ---------------------------------------------------------------------------


class ShareLinkInputSerializer(serializers.Serializer):
    """A product, or a shop shared as a whole (exactly one of the two)."""

    product = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    merchant = serializers.IntegerField(required=False, min_value=1, max_value=2**62)

    def validate(self, attrs):
        if ("product" in attrs) == ("merchant" in attrs):
            raise serializers.ValidationError(
                {"product": [_("Name a product or a shop (one of the two).")]})
        return attrs


class ShareLinkSerializer(serializers.Serializer):
    code = serializers.CharField()
    bank = serializers.CharField(source="bank.code")
    product = serializers.IntegerField(source="product_id", allow_null=True)
    merchant = serializers.IntegerField(source="merchant_id", allow_null=True)
    url = serializers.CharField()
    poster_url = serializers.CharField()


class ShareLinkRowSerializer(ShareLinkSerializer):
    title = serializers.CharField()
    visits = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class SharedOrderSerializer(serializers.Serializer):
    number = serializers.CharField(source="order.number")
    status = serializers.CharField(source="order.status")
    total = serializers.DecimalField(source="order.total", max_digits=12, decimal_places=2)
    created_at = serializers.DateTimeField(source="order.created_at")
    points = serializers.IntegerField()


class MySharesSerializer(serializers.Serializer):
    visits = serializers.IntegerField()
    order_count = serializers.IntegerField()
    completed_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    points = serializers.IntegerField()
    links = ShareLinkRowSerializer(many=True)
    orders = SharedOrderSerializer(many=True)
