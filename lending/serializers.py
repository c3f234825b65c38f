"""Financing API serializers: input shapes (validated here, checked again by the services)
and output shapes. Lending rows hold the ids of shared rows (merchants, users, orders,
checkouts); their names and numbers are looked up once per response by the view and
passed in the context as ``names`` (see ``lending.api._names``)."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import StrictBooleanField
from core.money import quantize_money
from lending.models import (
    MONEY,
    RATE,
    Application,
    CreditProfile,
    LendingEvent,
    LendingPolicy,
    Loan,
    LoanRepayment,
    PartyKind,
    ScheduleLine,
    ScoringRun,
)
from lending.services import INSTALMENT_MONTHS, MAX_TERMS, POLICY_BOUNDS, WEIGHT_MAX
from payments.api import CardInputSerializer

ZERO = Decimal("0.00")
_MONEY_FIELD = serializers.DecimalField(**MONEY)


def money_out(value) -> str:
    """A computed amount as a money field shows it (a string with two decimals): what the
    schema says of it."""
    return _MONEY_FIELD.to_representation(quantize_money(value))


def page_serializer(item_serializer):
    """The shape of a page: ``{total, page, pages, results}``."""

    class Page(serializers.Serializer):
        total = serializers.IntegerField()
        page = serializers.IntegerField()
        pages = serializers.IntegerField()
        results = item_serializer(many=True)

    Page.__name__ = f"{item_serializer.__name__.removesuffix('Serializer')}Page"
    return Page


class _Named(serializers.Serializer):
    """Reads the names the view looked up: ``context["names"][kind][id]``."""

    def name(self, kind: str, pk) -> str | None:
        if pk is None:
            return None
        return self.context.get("names", {}).get(kind, {}).get(pk)


# --- credit ----------------------------------------------------------------------------------


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
    from lending.models import Tier

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


# --- loans -----------------------------------------------------------------------------------


class DueSerializer(serializers.Serializer):
    principal = serializers.DecimalField(**MONEY)
    interest = serializers.DecimalField(**MONEY)
    penalty = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)


class ScheduleLineSerializer(serializers.ModelSerializer):
    amount = serializers.SerializerMethodField(help_text="principal plus scheduled interest")
    penalty_accrued = serializers.SerializerMethodField(
        help_text="penalty interest accrued so far, to the fen")

    class Meta:
        model = ScheduleLine
        fields = ["seq", "due_date", "principal", "interest", "amount", "principal_paid",
                  "interest_paid", "penalty_paid", "penalty_accrued", "accrued_to",
                  "paid_at"]

    @extend_schema_field(serializers.DecimalField(**MONEY))
    def get_amount(self, line) -> str:
        return money_out(line.principal + line.interest)

    @extend_schema_field(serializers.DecimalField(**MONEY))
    def get_penalty_accrued(self, line) -> str:
        return money_out(line.penalty_accrued)


class RepaymentSerializer(serializers.ModelSerializer):
    loan = serializers.CharField(source="loan.number")

    class Meta:
        model = LoanRepayment
        fields = ["id", "loan", "source", "status", "amount", "principal", "interest",
                  "penalty", "reference", "message", "at"]


class EventSerializer(_Named, serializers.ModelSerializer):
    actor = serializers.SerializerMethodField(help_text="who did it (null: the system)")

    class Meta:
        model = LendingEvent
        fields = ["action", "from_status", "to_status", "actor_id", "actor", "note",
                  "detail", "at"]

    def get_actor(self, event) -> str | None:
        return self.name("user", event.actor_id)


class LoanSerializer(_Named, serializers.ModelSerializer):
    product_display = serializers.CharField(source="get_product_display")
    status_display = serializers.CharField(source="get_status_display")
    party_id = serializers.SerializerMethodField()
    party_name = serializers.SerializerMethodField()
    order = serializers.SerializerMethodField(help_text="the financed order's number")
    checkout = serializers.SerializerMethodField(help_text="the checkout paid with the loan")
    unpaid_principal = serializers.SerializerMethodField()

    class Meta:
        model = Loan
        fields = ["id", "number", "product", "product_display", "party", "party_id",
                  "party_name", "order", "checkout", "principal", "unpaid_principal", "rate",
                  "penalty_rate", "interest_mode", "status", "status_display", "start_date",
                  "maturity_date", "days_overdue", "bucket", "disbursed_at", "closed_at",
                  "application"]

    def get_party_id(self, loan) -> int:
        return loan.merchant_id if loan.party == "merchant" else loan.user_id

    def get_party_name(self, loan) -> str | None:
        return self.name(loan.party, self.get_party_id(loan))

    def get_order(self, loan) -> str | None:
        return self.name("order", loan.order_id)

    def get_checkout(self, loan) -> str | None:
        return self.name("checkout", loan.checkout_id)

    @extend_schema_field(serializers.DecimalField(**MONEY))
    def get_unpaid_principal(self, loan) -> str:
        unpaid = getattr(loan, "unpaid", None)
        if unpaid is None:
            unpaid = loan.unpaid_principal
        return money_out(unpaid)


class LoanDetailSerializer(LoanSerializer):
    schedule = ScheduleLineSerializer(many=True, source="lines")
    repayments = RepaymentSerializer(many=True)
    due_now = serializers.SerializerMethodField(
        help_text="what a repayment today takes: overdue instalments and the next one "
                  "(the whole loan for pay later and order financing); null when closed")
    due_all = serializers.SerializerMethodField(
        help_text="what repaying the whole loan today takes; null when closed")

    class Meta(LoanSerializer.Meta):
        fields = [*LoanSerializer.Meta.fields, "schedule", "repayments", "due_now", "due_all"]

    @extend_schema_field(DueSerializer(allow_null=True))
    def get_due_now(self, loan) -> dict | None:
        due = self.context.get("due", {}).get(loan.pk)
        return _due(due[0]) if due else None

    @extend_schema_field(DueSerializer(allow_null=True))
    def get_due_all(self, loan) -> dict | None:
        due = self.context.get("due", {}).get(loan.pk)
        return _due(due[1]) if due else None


def _due(due) -> dict:
    return DueSerializer({"principal": due.principal, "interest": due.interest,
                          "penalty": due.penalty, "total": due.total}).data


class ConsoleLoanDetailSerializer(LoanDetailSerializer):
    events = EventSerializer(many=True, help_text="the audit trail, oldest first")

    class Meta(LoanDetailSerializer.Meta):
        fields = [*LoanDetailSerializer.Meta.fields, "events"]


class RepaymentInputSerializer(serializers.Serializer):
    card = CardInputSerializer()
    everything = StrictBooleanField(
        default=False, help_text="true: repay the whole loan now (instalment loans)")


class WriteOffInputSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=300, help_text="why the loan is written off")


# --- applications ----------------------------------------------------------------------------


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
                  "order", "checkout", "amount", "months", "term_days", "rate", "score",
                  "tier", "limit", "available", "status", "status_display", "auto_decided",
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


# --- checkout financing ------------------------------------------------------------------------


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


# --- console -----------------------------------------------------------------------------------


class ProductFigureSerializer(serializers.Serializer):
    product = serializers.CharField()
    loans = serializers.IntegerField()
    outstanding = serializers.DecimalField(**MONEY)


class PortfolioSerializer(serializers.Serializer):
    outstanding = serializers.DecimalField(**MONEY, help_text="unpaid principal, open loans")
    disbursed = serializers.DecimalField(**MONEY, help_text="every loan's principal")
    written_off = serializers.DecimalField(**MONEY)
    by_product = ProductFigureSerializer(many=True)
    by_status = serializers.DictField(child=serializers.IntegerField(),
                                      help_text="loans by status")
    by_bucket = serializers.DictField(child=serializers.IntegerField(),
                                      help_text="overdue loans by delinquency bucket")


class OverdueLoanSerializer(LoanSerializer):
    due = serializers.SerializerMethodField(help_text="overdue instalments and the next "
                                                      "one, with the penalty accrued")

    class Meta(LoanSerializer.Meta):
        fields = [*LoanSerializer.Meta.fields, "due"]

    @extend_schema_field(DueSerializer(allow_null=True))
    def get_due(self, loan) -> dict | None:
        due = self.context.get("due", {}).get(loan.pk)
        return _due(due[0]) if due else None


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
                  "instalment_months", "auto_tiers", "second_approval_over", "updated_at"]
        read_only_fields = ["updated_at"]
        extra_kwargs = {field: {"min_value": low, "max_value": high}
                        for field, (low, high) in POLICY_BOUNDS.items()}


ApplicationPageSerializer = page_serializer(ApplicationSerializer)
LoanPageSerializer = page_serializer(LoanSerializer)
ProfilePageSerializer = page_serializer(ProfileSerializer)
OrderQuotePageSerializer = page_serializer(OrderQuoteSerializer)
OverdueLoanPageSerializer = page_serializer(OverdueLoanSerializer)
