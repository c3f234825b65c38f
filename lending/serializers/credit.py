"""Credit: a party's own credit, consent, profiles (officers), scoring runs and the
bank's parameters."""

from __future__ import annotations

from rest_framework import serializers

from core.api import StrictBooleanField
from lending.models import (
    MONEY,
    RATE,
    CreditProfile,
    LendingPolicy,
    PartyKind,
    ScoringRun,
    Tier,
)
from lending.serializers._common import ZERO, _Named, page_serializer
from lending.services import INSTALMENT_MONTHS, MAX_TERMS, POLICY_BOUNDS, WEIGHT_MAX


class FactorSerializer(serializers.Serializer):
    factor = serializers.CharField()
    label = serializers.CharField()
    value = serializers.JSONField(help_text="the figure the factor is read from, as shown")
    points = serializers.IntegerField(help_text="points this factor gave")
    max = serializers.IntegerField(help_text="the most this factor can give (its weight)")
    no_data = serializers.BooleanField(help_text="true: no data yet, counted as half")


class CreditSerializer(serializers.Serializer):
    """A party's own credit at this bank."""

    consented = serializers.BooleanField(
        help_text="false: the bank may not use the platform data for credit; no limit")
    score = serializers.IntegerField(allow_null=True)
    tier = serializers.CharField(help_text="A (prime) to D (no credit)")
    tier_display = serializers.CharField()
    limit = serializers.DecimalField(**MONEY)
    rate = serializers.DecimalField(**RATE, allow_null=True, help_text="annual rate")
    outstanding = serializers.DecimalField(**MONEY,
                                           help_text="principal owed and approved advances")
    available = serializers.DecimalField(**MONEY, help_text="limit less outstanding")
    computed_at = serializers.DateTimeField(allow_null=True)
    factors = FactorSerializer(many=True, help_text="each factor's points of its most")


def credit_data(credit) -> dict:
    """The shape of ``CreditSerializer`` from ``lending.services.Credit``."""
    profile = credit.profile
    consented = bool(profile and profile.consented)
    tier = profile.tier if profile else Tier.D
    return {"consented": consented, "score": profile.score if profile else None,
            "tier": tier, "tier_display": str(Tier(tier).label),
            "limit": profile.limit if consented else ZERO,
            "rate": profile.rate if consented else None, "outstanding": credit.outstanding,
            "available": credit.available,
            "computed_at": profile.computed_at if profile else None,
            "factors": profile.factors if consented else []}


class ConsentInputSerializer(serializers.Serializer):
    agree = StrictBooleanField(
        help_text="true: the bank may use my platform data (trading and repayment record) "
                  "for credit; false: withdraw that consent")


class ProfileSerializer(_Named, serializers.ModelSerializer):
    party_id = serializers.SerializerMethodField()
    party_name = serializers.SerializerMethodField()
    tier_display = serializers.CharField(source="get_tier_display")

    class Meta:
        model = CreditProfile
        fields = ["id", "party", "party_id", "party_name", "consented", "score", "tier",
                  "tier_display", "limit", "rate", "computed_at"]

    def get_party_id(self, profile) -> int:
        return profile.merchant_id or profile.user_id

    def get_party_name(self, profile) -> str | None:
        return self.name(profile.party, profile.merchant_id or profile.user_id)


class ProfileDetailSerializer(ProfileSerializer):
    factors = FactorSerializer(many=True)
    figures = serializers.DictField(help_text="the raw figures the factors are read from")

    class Meta(ProfileSerializer.Meta):
        fields = [*ProfileSerializer.Meta.fields, "factors", "figures"]


class RecomputeInputSerializer(serializers.Serializer):
    party = serializers.ChoiceField(choices=PartyKind.choices)
    party_id = serializers.IntegerField(min_value=1,
                                        help_text="the merchant's id or the buyer's user id")


class ScoringRunSerializer(serializers.ModelSerializer):
    status = serializers.CharField(help_text="pending, running, completed or failed")
    percent = serializers.SerializerMethodField()

    class Meta:
        model = ScoringRun
        fields = ["id", "status", "trigger", "total", "done", "percent", "started_by_id",
                  "created_at", "started_at", "finished_at", "error"]

    def get_percent(self, run) -> int:
        if run.status == ScoringRun.Status.COMPLETED:
            return 100
        return int(100 * run.done / run.total) if run.total else 0


class PolicySerializer(serializers.ModelSerializer):
    """The bounds shown here are the service's (``lending.services.POLICY_BOUNDS``); the
    service checks them again, and that the values agree with each other."""

    instalment_months = serializers.ListField(
        child=serializers.IntegerField(min_value=INSTALMENT_MONTHS[0],
                                       max_value=INSTALMENT_MONTHS[1]),
        min_length=1, max_length=MAX_TERMS, help_text="the instalment terms offered (months)")
    weights = serializers.DictField(child=serializers.IntegerField(min_value=0,
                                                                   max_value=WEIGHT_MAX),
                                    help_text="a factor's most points, by factor name; a "
                                              "factor left out keeps its default weight")

    class Meta:
        model = LendingPolicy
        fields = ["base_score", "weights", "tier_a_min", "tier_b_min", "tier_c_min", "rate_a",
                  "rate_b", "rate_c", "penalty_multiplier", "merchant_limit_months",
                  "buyer_limit_months", "merchant_limit_cap", "buyer_limit_cap",
                  "advance_ratio", "order_financing_days", "purchase_financing_days",
                  "instalment_months", "auto_tiers", "second_approval_over", "pledge_ltv",
                  "pledge_margin_ratio", "pledge_months", "updated_at"]
        read_only_fields = ["updated_at"]
        extra_kwargs = {field: {"min_value": low, "max_value": high}
                        for field, (low, high) in POLICY_BOUNDS.items()}


ProfilePageSerializer = page_serializer(ProfileSerializer)
