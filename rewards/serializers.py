"""Serializers of the points API: the programme, a customer's balance and history, mall
offers and redemptions, points at checkout; the console's inputs. They only read and
shape data; the services decide."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from accounts.models import Segment
from core.api import StrictBooleanField
from payments.api import CardInputSerializer
from rewards.models import EarningRule, MallOffer, PointsEntry, Redemption
from rewards.services import OFFER_BOUNDS

MONEY = {"max_digits": 12, "decimal_places": 2}
BIG = 2 ** 63 - 1


class ExpiringSerializer(serializers.Serializer):
    on = serializers.DateField(help_text="the earliest date some points expire")
    points = serializers.IntegerField(help_text="how many expire that day")


class PointsSummarySerializer(serializers.Serializer):
    programme = serializers.CharField(help_text="the programme's name")
    balance = serializers.IntegerField()
    points_per_yuan = serializers.DecimalField(max_digits=6, decimal_places=2)
    yuan_per_point = serializers.DecimalField(max_digits=6, decimal_places=4)
    expiry_months = serializers.IntegerField()
    sharer_points_per_yuan = serializers.DecimalField(max_digits=6, decimal_places=2)
    max_order_share = serializers.DecimalField(max_digits=4, decimal_places=2)
    expiring_next = ExpiringSerializer(allow_null=True)


class EntrySerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display")

    class Meta:
        model = PointsEntry
        fields = ["id", "kind", "kind_display", "points", "note", "at"]


class EntryPageSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    results = EntrySerializer(many=True)


class OfferSerializer(serializers.ModelSerializer):
    left = serializers.SerializerMethodField(help_text="how many can still be redeemed")
    is_open = serializers.SerializerMethodField(help_text="open now (flash ones may be "
                                                "listed before they open)")
    taken = serializers.SerializerMethodField(help_text="how many I have redeemed")
    product = serializers.SerializerMethodField()
    merchant = serializers.SerializerMethodField()

    class Meta:
        model = MallOffer
        fields = ["id", "title", "merchant_id", "merchant", "sku_id", "product",
                  "points_price", "cash_price", "quantity", "redeemed", "left",
                  "per_customer_limit", "taken", "starts_at", "ends_at", "is_flash",
                  "is_open", "segments"]

    def get_left(self, obj) -> int:
        return obj.quantity - obj.redeemed

    def get_is_open(self, obj) -> bool:
        return bool(getattr(obj, "is_open", True))

    def get_taken(self, obj) -> int:
        return int(getattr(obj, "taken", 0))

    def get_product(self, obj) -> str | None:
        sku = getattr(obj, "sku", None)
        return f"{sku.product.name} {sku.spec}" if sku else None

    def get_merchant(self, obj) -> str | None:
        sku = getattr(obj, "sku", None)
        return sku.product.merchant.name if sku else None


class RedeemInputSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=999, default=1)
    branch_id = serializers.IntegerField(min_value=1, max_value=BIG,
                                         help_text="one of this bank's pickup branches")


class RedemptionSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display")
    offer_title = serializers.CharField(source="offer.title")
    pickup_code = serializers.SerializerMethodField(
        help_text="shown once the redemption is ready (the cash part paid)")

    class Meta:
        model = Redemption
        fields = ["id", "offer_id", "offer_title", "quantity", "points", "cash", "branch_id",
                  "status", "status_display", "pickup_code", "created_at", "collected_at"]

    def get_pickup_code(self, obj) -> str | None:
        return obj.pickup_code if obj.status in ("ready", "collected") else None


class RedemptionPageSerializer(EntryPageSerializer):
    results = RedemptionSerializer(many=True)


class CashInputSerializer(serializers.Serializer):
    card = CardInputSerializer()


class CheckoutPointsSerializer(serializers.Serializer):
    checkout = serializers.CharField(help_text="the checkout's number")
    balance = serializers.IntegerField(help_text="my points at this bank")
    yuan_per_point = serializers.DecimalField(max_digits=6, decimal_places=4)
    eligible = serializers.DecimalField(help_text="goods points may pay for (not "
                                        "shipping, not flash sale lines)", **MONEY)
    cap = serializers.DecimalField(help_text="the most points may pay", **MONEY)
    max_points = serializers.IntegerField(help_text="the most points I can use here")
    max_value = serializers.DecimalField(**MONEY)
    applied = serializers.IntegerField(help_text="points applied now")
    applied_value = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)
    cash_due = serializers.DecimalField(help_text="what the card (or desk) pays", **MONEY)


class ApplyPointsInputSerializer(serializers.Serializer):
    points = serializers.IntegerField(min_value=1, max_value=10 ** 9)


# --- console ---------------------------------------------------------------------------------


class ProgrammeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60)
    points_per_yuan = serializers.DecimalField(max_digits=6, decimal_places=2,
                                               min_value=Decimal("0"),
                                               max_value=Decimal("100"))
    yuan_per_point = serializers.DecimalField(max_digits=6, decimal_places=4,
                                              min_value=Decimal("0"), max_value=Decimal("1"))
    expiry_months = serializers.IntegerField(min_value=1, max_value=120)
    sharer_points_per_yuan = serializers.DecimalField(max_digits=6, decimal_places=2,
                                                      min_value=Decimal("0"),
                                                      max_value=Decimal("100"))
    max_order_share = serializers.DecimalField(
        max_digits=4, decimal_places=2, min_value=Decimal("0"), max_value=Decimal("1"),
        help_text="the largest share of an order's goods points may pay (0.50 = half)")


class EarningRuleSerializer(serializers.ModelSerializer):
    multiplier = serializers.DecimalField(max_digits=4, decimal_places=2,
                                          min_value=Decimal("1"), max_value=Decimal("10"))

    class Meta:
        model = EarningRule
        fields = ["id", "name", "category_id", "multiplier", "starts_at", "ends_at",
                  "is_active"]
        read_only_fields = ["id"]


class OfferInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=80)
    sku_id = serializers.IntegerField(min_value=1, max_value=BIG,
                                      help_text="a SKU of an approved merchant")
    # The bounds are the service's (rewards.services.OFFER_BOUNDS), shown in the schema.
    points_price = serializers.IntegerField(min_value=OFFER_BOUNDS["points_price"][0],
                                            max_value=OFFER_BOUNDS["points_price"][1])
    cash_price = serializers.DecimalField(min_value=OFFER_BOUNDS["cash_price"][0],
                                          max_value=OFFER_BOUNDS["cash_price"][1],
                                          default=Decimal("0.00"), **MONEY)
    quantity = serializers.IntegerField(min_value=OFFER_BOUNDS["quantity"][0],
                                        max_value=OFFER_BOUNDS["quantity"][1])
    per_customer_limit = serializers.IntegerField(
        min_value=OFFER_BOUNDS["per_customer_limit"][0],
        max_value=OFFER_BOUNDS["per_customer_limit"][1], default=1)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    is_flash = StrictBooleanField(default=False)
    segments = serializers.ListField(child=serializers.ChoiceField(choices=Segment.choices),
                                     default=list, help_text="empty: every customer")
    is_active = StrictBooleanField(default=True)


class CollectInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=8, min_length=8, help_text="the pickup code")


class ConsoleRedemptionSerializer(RedemptionSerializer):
    user_id = serializers.IntegerField()

    class Meta(RedemptionSerializer.Meta):
        fields = [*RedemptionSerializer.Meta.fields, "user_id"]

    def get_pickup_code(self, obj) -> str | None:
        return None  # staff verify codes the customer shows; they are never listed
