"""Branch desk API for a bank's staff (bank domains): assisted orders and what waits for
pickup at the bank's branches, under /api/v1/console/desk/. Paying at the desk is in
``payments.desk_api``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.permissions import IsBankStaff
from core.api import valid
from core.http import client_address
from orders import assisted as services
from orders import assisted_selectors as selectors
from orders.models import AssistedOrder
from orders.serializers import MONEY, BranchRefSerializer, OrderLineSerializer


class DeskLineInputSerializer(serializers.Serializer):
    sku = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=1, max_value=9999)


class AssistedStartInputSerializer(serializers.Serializer):
    branch = serializers.IntegerField(help_text="A pickup branch of this bank.")
    customer_phone = serializers.CharField(max_length=20)
    customer_name = serializers.CharField(max_length=60, required=False, allow_blank=True,
                                          default="")
    lines = DeskLineInputSerializer(many=True, allow_empty=False, max_length=30)


class CodeInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=12)


class DeskOrderSerializer(serializers.Serializer):
    number = serializers.CharField()
    merchant = serializers.CharField(source="merchant.name")
    status = serializers.CharField()
    status_display = serializers.CharField(source="get_status_display")
    pickup_branch = BranchRefSerializer()
    total = serializers.DecimalField(**MONEY)
    lines = OrderLineSerializer(many=True)


class AssistedOrderSerializer(serializers.ModelSerializer):
    number = serializers.CharField(source="checkout.number")
    status = serializers.CharField(source="checkout.status")
    customer = serializers.CharField(source="checkout.buyer.shown_name")
    customer_phone = serializers.SerializerMethodField()
    branch = BranchRefSerializer()
    total = serializers.DecimalField(source="checkout.total", **MONEY)
    cash_due = serializers.DecimalField(source="checkout.cash_due", **MONEY)
    confirmed = serializers.SerializerMethodField()
    orders = serializers.SerializerMethodField()

    class Meta:
        model = AssistedOrder
        fields = ["number", "status", "customer", "customer_phone", "branch", "total",
                  "cash_due", "confirmed", "confirmed_at", "code_expires_at", "attempts",
                  "codes_sent", "created_at", "orders"]

    def get_customer_phone(self, obj) -> str:
        return selectors.assisted_phone(obj)

    def get_confirmed(self, obj) -> bool:
        return obj.confirmed_at is not None

    @extend_schema_field(DeskOrderSerializer(many=True))
    def get_orders(self, obj) -> list:
        orders = obj.checkout.orders.select_related("merchant", "pickup_branch__bank") \
            .prefetch_related("lines").order_by("pk")
        return DeskOrderSerializer(orders, many=True).data


class DeskQuerySerializer(serializers.Serializer):
    branch = serializers.IntegerField(required=False, help_text="Only this branch.")


def _branch(request, data):
    if data.get("branch") is None:
        return None
    branch = selectors.desk_branch(bank=request.bank, branch_id=data["branch"])
    if branch is None:
        raise serializers.ValidationError({"branch": ["Not one of this bank's branches."]})
    return branch


class AssistedListApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(parameters=[DeskQuerySerializer], responses=AssistedOrderSerializer(many=True),
                   description="The latest 100 assisted orders at this bank's branches.")
    def get(self, request):
        data = valid(DeskQuerySerializer, request.query_params)
        qs = selectors.assisted_orders(bank=request.bank, branch=_branch(request, data))[:100]
        return Response(AssistedOrderSerializer(qs, many=True).data)

    @extend_schema(request=AssistedStartInputSerializer,
                   responses={201: AssistedOrderSerializer},
                   description="Place a checkout for a customer at the desk (found by mobile, "
                               "or an account is opened for the number), picked up at the "
                               "branch; a 6-digit confirmation code is texted to the customer.")
    def post(self, request):
        data = valid(AssistedStartInputSerializer, request.data)
        assisted = services.assisted_checkout_start(
            staff=request.user, bank=request.bank, branch_id=data["branch"],
            customer_phone=data["customer_phone"], customer_name=data["customer_name"],
            lines=[(line["sku"], line["quantity"]) for line in data["lines"]])
        return Response(AssistedOrderSerializer(assisted).data, status=status.HTTP_201_CREATED)


class AssistedDetailApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(responses=AssistedOrderSerializer)
    def get(self, request, number: str):
        assisted = selectors.assisted_order(bank=request.bank, number=number)
        return Response(AssistedOrderSerializer(assisted).data)


class AssistedConfirmApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(request=CodeInputSerializer, responses=AssistedOrderSerializer,
                   description="The code the customer reads out. A wrong one counts; after 5 "
                               "the order is locked until a new code is sent.")
    def post(self, request, number: str):
        data = valid(CodeInputSerializer, request.data)
        assisted = selectors.assisted_order(bank=request.bank, number=number)
        services.assisted_confirm(assisted=assisted, bank=request.bank, staff=request.user,
                                  code=data["code"], client_address=client_address(request))
        assisted.refresh_from_db()
        return Response(AssistedOrderSerializer(assisted).data)


class AssistedResendApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(request=None, responses=AssistedOrderSerializer,
                   description="Text a new code (the old one stops working).")
    def post(self, request, number: str):
        assisted = selectors.assisted_order(bank=request.bank, number=number)
        assisted = services.assisted_code_resend(assisted=assisted, bank=request.bank,
                                                 staff=request.user)
        return Response(AssistedOrderSerializer(assisted).data)


class AssistedCancelApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(request=None, responses=AssistedOrderSerializer,
                   description="Cancel an unpaid assisted order; the stock goes back.")
    def post(self, request, number: str):
        assisted = selectors.assisted_order(bank=request.bank, number=number)
        services.assisted_cancel(assisted=assisted, bank=request.bank, staff=request.user)
        assisted.refresh_from_db()
        return Response(AssistedOrderSerializer(assisted).data)


class DeskWaitingApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(parameters=[DeskQuerySerializer], responses=DeskOrderSerializer(many=True),
                   description="Orders to be collected at this bank's branches (paid or ready "
                               "for pickup), at most 200.")
    def get(self, request):
        data = valid(DeskQuerySerializer, request.query_params)
        qs = selectors.waiting_orders(bank=request.bank, branch=_branch(request, data))
        qs = qs.select_related("pickup_branch__bank").prefetch_related("lines")[:200]
        return Response(DeskOrderSerializer(qs, many=True).data)

