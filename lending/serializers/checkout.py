"""Pay later and instalments at checkout: the options and the financing."""

from __future__ import annotations

from rest_framework import serializers

from lending.models import MONEY, RATE
from lending.serializers.applications import ApplicationSerializer
from lending.serializers.loans import LoanDetailSerializer


class PreviewLineSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    due_date = serializers.DateField()
    principal = serializers.DecimalField(**MONEY)
    interest = serializers.DecimalField(**MONEY)
    amount = serializers.DecimalField(**MONEY)


class PayLaterOptionSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    rate = serializers.DecimalField(**RATE)
    due = serializers.DateField(help_text="repay by this day")
    interest = serializers.DecimalField(
        **MONEY, help_text="interest for the whole term (charged: the days used)")


class InstalmentOptionSerializer(serializers.Serializer):
    months = serializers.IntegerField()
    rate = serializers.DecimalField(**RATE)
    payment = serializers.DecimalField(**MONEY, help_text="each month's instalment")
    first = serializers.DecimalField(**MONEY)
    interest = serializers.DecimalField(**MONEY, help_text="interest over the whole term")
    schedule = PreviewLineSerializer(many=True,
                                     help_text="every instalment if lent today")


class CheckoutOptionsSerializer(serializers.Serializer):
    checkout = serializers.CharField()
    total = serializers.DecimalField(**MONEY)
    consented = serializers.BooleanField()
    tier = serializers.CharField()
    available = serializers.DecimalField(**MONEY)
    pay_later = PayLaterOptionSerializer(
        allow_null=True, help_text="business buyers within their limit; else null")
    instalments = InstalmentOptionSerializer(
        many=True, help_text="individual buyers within their limit; else empty")


class CheckoutFinanceInputSerializer(serializers.Serializer):
    months = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=36,
        help_text="instalments over this many months (individual buyers); leave out or "
                  "null to pay later (business buyers)")


class CheckoutFinancingSerializer(serializers.Serializer):
    application = ApplicationSerializer()
    loan = LoanDetailSerializer()
    checkout_status = serializers.CharField()
