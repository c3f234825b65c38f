from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.permissions import IsFederationAdmin
from banks.selectors import bank_list_active, federation_admin_get, federation_admins
from banks.serializers import BankSerializer
from banks.services import (
    BranchSpec,
    bank_onboard,
    federation_admin_grant_by_login,
    federation_admin_revoke,
)
from core.api import StrictBooleanField, valid
from payments.forms import parse_month
from payments.selectors import federation_settlement_day
from payments.settlement import referral_statement


class BranchInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=30)
    name = serializers.CharField(max_length=100)
    county = serializers.CharField(max_length=60)
    address = serializers.CharField(max_length=200)
    phone = serializers.CharField(max_length=30, required=False, default="")
    opening_hours = serializers.CharField(max_length=120, required=False, default="")
    is_pickup_point = StrictBooleanField(required=False, default=True)


class BankListOnboardApi(APIView):
    """Member banks: list them, or onboard one (federation admins only).

    POST answers 201 for a new bank, 200 when the same bank (same code and name) was
    already there and the call only completed it, 400 with field messages otherwise.
    """

    permission_classes = [IsFederationAdmin]

    class BankOnboardInputSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=30)
        name = serializers.CharField(max_length=100)
        short_name = serializers.CharField(max_length=30, required=False, default="")
        region = serializers.CharField(max_length=60, required=False, default="")
        slogan = serializers.CharField(max_length=120, required=False, default="")
        brand_color = serializers.CharField(max_length=7, required=False, default="#1f7a4d")
        domains = serializers.ListField(child=serializers.CharField(max_length=253),
                                        required=False, default=list)
        branches = serializers.ListField(child=BranchInputSerializer(), required=False,
                                         default=list)
        first_admin = serializers.CharField(
            max_length=150, required=False, default="",
            help_text="mobile number or username of the person who becomes the bank's "
                      "admin")

    @extend_schema(responses=BankSerializer(many=True))
    def get(self, request):
        return Response(BankSerializer(bank_list_active(), many=True).data)

    @extend_schema(request=BankOnboardInputSerializer,
                   responses={201: BankSerializer, 200: BankSerializer})
    def post(self, request):
        data = valid(self.BankOnboardInputSerializer, request.data)
        data["branches"] = [BranchSpec(**b) for b in data["branches"]]
        result = bank_onboard(acting_user=request.user, **data)
        return Response(BankSerializer(result.bank).data,
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class ReferralStatementApi(APIView):
    """The month's inter-bank referral fees per pair of banks (federation admins)."""

    permission_classes = [IsFederationAdmin]

    class RowSerializer(serializers.Serializer):
        bank_a = serializers.CharField(source="bank_a.code")
        bank_a_name = serializers.CharField(source="bank_a.name")
        bank_b = serializers.CharField(source="bank_b.code")
        bank_b_name = serializers.CharField(source="bank_b.name")
        a_owes_b = serializers.DecimalField(max_digits=14, decimal_places=2)
        b_owes_a = serializers.DecimalField(max_digits=14, decimal_places=2)
        net_a_to_b = serializers.DecimalField(
            max_digits=14, decimal_places=2,
            help_text="positive: bank A pays bank B; negative: bank B pays bank A")

    class QuerySerializer(serializers.Serializer):
        month = serializers.CharField(required=False, help_text="YYYY-MM; default: this month")

        def validate_month(self, value):
            month = parse_month(value)
            if month is None:
                raise serializers.ValidationError(_("Choose a month as YYYY-MM."))
            return month

    @extend_schema(operation_id="federation_referral_statement",
                   parameters=[QuerySerializer],
                   responses=inline_serializer("ReferralStatement", {
                       "month": serializers.CharField(),
                       "rows": RowSerializer(many=True)}))
    def get(self, request):
        query = valid(self.QuerySerializer, request.query_params)
        today = timezone.localdate()
        year, month = query.get("month") or (today.year, today.month)
        rows = referral_statement(year=year, month=month)
        return Response({"month": f"{year:04d}-{month:02d}",
                         "rows": self.RowSerializer(rows, many=True).data})


class SettlementDayApi(APIView):
    """Every bank's settlement runs of a day and the day's progress (federation admins)."""

    permission_classes = [IsFederationAdmin]

    class RunSerializer(serializers.Serializer):
        id = serializers.IntegerField(source="pk")
        bank = serializers.CharField(source="bank.code", default=None,
                                     help_text="null: a run over every bank")
        bank_name = serializers.CharField(source="bank.name", default=None)
        status = serializers.CharField()
        orders_done = serializers.IntegerField()
        orders_total = serializers.IntegerField()
        cutoff = serializers.DateTimeField()
        started_at = serializers.DateTimeField()
        finished_at = serializers.DateTimeField()
        error = serializers.CharField()
        reconciliation_ok = serializers.SerializerMethodField()

        def get_reconciliation_ok(self, run) -> bool | None:
            if not run.reconciliation:
                return None
            return all(r.get("ok") for r in run.reconciliation.values())

    class QuerySerializer(serializers.Serializer):
        day = serializers.DateField(required=False, help_text="YYYY-MM-DD; default: today")

    @extend_schema(operation_id="federation_settlement_day", parameters=[QuerySerializer],
                   responses=inline_serializer("SettlementDay", {
                       "day": serializers.DateField(),
                       "status": serializers.CharField(
                           help_text="pending, running, failed, completed, or empty"),
                       "orders_done": serializers.IntegerField(),
                       "orders_total": serializers.IntegerField(),
                       "percent": serializers.IntegerField(),
                       "runs_total": serializers.IntegerField(),
                       "runs_completed": serializers.IntegerField(),
                       "runs_failed": serializers.IntegerField(),
                       "mismatches": serializers.ListField(child=serializers.CharField()),
                       "runs": RunSerializer(many=True)}))
    def get(self, request):
        query = valid(self.QuerySerializer, request.query_params)
        data = federation_settlement_day(day=query.get("day")
                                         or timezone.localdate())
        return Response({**data, "day": data["day"].isoformat(),
                         "runs": self.RunSerializer(data["runs"], many=True).data})


class FederationAdminSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()


class FederationAdminListApi(APIView):
    """The federation's admins; POST makes a person (mobile number or username) one."""

    permission_classes = [IsFederationAdmin]

    class GrantInputSerializer(serializers.Serializer):
        person = serializers.CharField(max_length=150, help_text="mobile number or username")

    @extend_schema(responses=FederationAdminSerializer(many=True))
    def get(self, request):
        return Response(FederationAdminSerializer(federation_admins(), many=True).data)

    @extend_schema(request=GrantInputSerializer, responses={201: FederationAdminSerializer})
    def post(self, request):
        data = valid(self.GrantInputSerializer, request.data)
        user = federation_admin_grant_by_login(person=data["person"], acting_user=request.user)
        return Response(FederationAdminSerializer(user).data, status=status.HTTP_201_CREATED)


class FederationAdminDetailApi(APIView):
    """Take the federation admin role back (400 for the last admin)."""

    permission_classes = [IsFederationAdmin]

    @extend_schema(responses={204: None})
    def delete(self, request, user_id: int):
        federation_admin_revoke(user=federation_admin_get(user_id=user_id),
                                acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
