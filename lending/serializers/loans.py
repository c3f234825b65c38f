"""Loans: schedule, repayments, what is due, the audit trail; the portfolio and the
overdue list (officers)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import StrictBooleanField
from lending.models import MONEY, LendingEvent, Loan, LoanRepayment, ScheduleLine
from lending.serializers._common import _Named, money_out, page_serializer
from payments.api import CardInputSerializer


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


LoanPageSerializer = page_serializer(LoanSerializer)
OverdueLoanPageSerializer = page_serializer(OverdueLoanSerializer)
