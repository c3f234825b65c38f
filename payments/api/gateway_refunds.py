"""Refunds made at the card gateway outside the platform, for the bank's admins."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.models import StaffRole
from banks.permissions import IsBankStaff, require_bank_staff
from core.api import valid
from payments import selectors, services
from payments.models import GatewayRefund, GatewayRefundStatus


class GatewayRefundSerializer(serializers.ModelSerializer):
    checkout = serializers.CharField(source="payment.checkout.number", default=None)

    class Meta:
        model = GatewayRefund
        fields = ["id", "refund_id", "intent_id", "amount", "status", "checkout", "note",
                  "created_at", "resolved_at", "resolution"]


class ConsoleGatewayRefundsApi(APIView):
    permission_classes = [IsBankStaff]

    class QuerySerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=GatewayRefundStatus.choices, required=False,
                                         allow_blank=True, default="")

    @extend_schema(operation_id="console_gateway_refunds_list", parameters=[QuerySerializer],
                   responses=GatewayRefundSerializer(many=True),
                   description="Refunds made at the card gateway outside the platform that "
                               "concern this bank (bank admins): booked ones (recorded as "
                               "the order's refund) and open ones, which the platform could "
                               "not book (the order was settled, the charge is not a "
                               "checkout's) and an admin resolves. The latest 200.")
    def get(self, request):
        require_bank_staff(request, (StaffRole.BANK_ADMIN,))
        query = valid(self.QuerySerializer, request.query_params)
        rows = selectors.bank_gateway_refunds(bank=request.bank,
                                              status=query["status"])[:200]
        return Response(GatewayRefundSerializer(rows, many=True).data)


class ConsoleGatewayRefundResolveApi(APIView):
    permission_classes = [IsBankStaff]

    class GatewayRefundResolveInputSerializer(serializers.Serializer):
        note = serializers.CharField(max_length=300, help_text="how it was resolved")

    @extend_schema(request=GatewayRefundResolveInputSerializer, responses=GatewayRefundSerializer,
                   description="Marks an open gateway refund resolved, saying how (bank "
                               "admins). 400 when it is not open.")
    def post(self, request, refund_id: int):
        require_bank_staff(request, (StaffRole.BANK_ADMIN,))
        row = selectors.bank_gateway_refund(bank=request.bank, refund_id=refund_id)
        data = valid(self.GatewayRefundResolveInputSerializer, request.data)
        row = services.gateway_refund_resolve(record=row, actor=request.user,
                                              note=data["note"])
        return Response(GatewayRefundSerializer(row).data)
