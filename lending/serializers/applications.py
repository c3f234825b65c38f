"""Applications: order financing (merchants) and the officers' queue and decisions."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import StrictBooleanField
from lending.models import MONEY, RATE, Application, Loan
from lending.serializers._common import _Named, page_serializer
from lending.serializers.credit import CreditSerializer, ProfileDetailSerializer
from lending.serializers.loans import EventSerializer


class ApplicationSerializer(_Named, serializers.ModelSerializer):
    product_display = serializers.CharField(source="get_product_display")
    status_display = serializers.CharField(source="get_status_display")
    party_id = serializers.SerializerMethodField()
    party_name = serializers.SerializerMethodField()
    order = serializers.SerializerMethodField(help_text="the order to finance (its number)")
    checkout = serializers.SerializerMethodField(help_text="the checkout paid (its number)")
    loan = serializers.SerializerMethodField(help_text="the loan, once disbursed")
    loan_number = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields = ["id", "product", "product_display", "party", "party_id", "party_name",
                  "order", "checkout", "receipt_id", "amount", "months", "term_days", "rate",
                  "score", "tier", "limit", "available", "status", "status_display", "auto_decided",
                  "first_approver_id", "decided_by_id", "reason", "created_at",
                  "decided_at", "loan", "loan_number"]

    def get_party_id(self, app) -> int:
        return app.merchant_id if app.party == "merchant" else app.user_id

    def get_party_name(self, app) -> str | None:
        return self.name(app.party, self.get_party_id(app))

    def get_order(self, app) -> str | None:
        return self.name("order", app.order_id)

    def get_checkout(self, app) -> str | None:
        return self.name("checkout", app.checkout_id)

    def _loan(self, app):
        try:
            return app.loan
        except Loan.DoesNotExist:
            return None

    def get_loan(self, app) -> int | None:
        loan = self._loan(app)
        return loan.pk if loan else None

    def get_loan_number(self, app) -> str | None:
        loan = self._loan(app)
        return loan.number if loan else None


class ConsoleApplicationDetailSerializer(ApplicationSerializer):
    needs_second_approval = serializers.BooleanField(
        help_text="true: approving it now takes a second, different officer")
    first_approver = serializers.SerializerMethodField()
    profile = serializers.SerializerMethodField(
        help_text="the party's current credit profile: score, tier and every factor's "
                  "points of its most, and the figures they are read from")
    events = serializers.SerializerMethodField(help_text="the audit trail, oldest first")

    class Meta(ApplicationSerializer.Meta):
        fields = [*ApplicationSerializer.Meta.fields, "needs_second_approval",
                  "first_approver", "profile", "events"]

    def get_first_approver(self, app) -> str | None:
        return self.name("user", app.first_approver_id)

    @extend_schema_field(ProfileDetailSerializer(allow_null=True))
    def get_profile(self, app) -> dict | None:
        profile = self.context.get("profile")
        return ProfileDetailSerializer(profile, context=self.context).data if profile else None

    @extend_schema_field(EventSerializer(many=True))
    def get_events(self, app) -> list:
        return EventSerializer(self.context.get("events", []), many=True,
                               context=self.context).data


class ApplicationDecisionInputSerializer(serializers.Serializer):
    approve = StrictBooleanField()
    note = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                 default="", help_text="required to reject: the reason")


class OrderFinancingInputSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        **MONEY, required=False, allow_null=True, default=None,
        help_text="how much to advance; default: the most the bank advances on the order")


class OrderQuoteSerializer(serializers.Serializer):
    order = serializers.CharField(source="order.number")
    order_status = serializers.CharField(source="order.status")
    paid_at = serializers.DateTimeField(source="order.paid_at")
    order_value = serializers.DecimalField(**MONEY, help_text="the order less refunds")
    advance_ratio = serializers.DecimalField(max_digits=4, decimal_places=2)
    max_advance = serializers.DecimalField(**MONEY)
    term_days = serializers.IntegerField()
    rate = serializers.DecimalField(**RATE, allow_null=True)
    est_interest = serializers.DecimalField(
        **MONEY, allow_null=True,
        help_text="interest on the most for the whole term (charged: the days used)")
    available = serializers.DecimalField(**MONEY, help_text="the merchant's available limit")
    application = ApplicationSerializer(allow_null=True,
                                        help_text="this order's financing, if any")


class MerchantFinancingSerializer(serializers.Serializer):
    merchant = serializers.IntegerField()
    merchant_name = serializers.CharField()
    credit = CreditSerializer()
    advance_ratio = serializers.DecimalField(max_digits=4, decimal_places=2)
    term_days = serializers.IntegerField(help_text="order financing term (days)")


ApplicationPageSerializer = page_serializer(ApplicationSerializer)
OrderQuotePageSerializer = page_serializer(OrderQuoteSerializer)
