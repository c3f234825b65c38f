"""Paying an assisted order at the branch desk through the API (a bank's staff):
POST /api/v1/console/desk/assisted/<number>/pay-at-desk/."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.permissions import IsBankStaff
from core.api import valid
from orders.assisted_selectors import assisted_order
from orders.serializers import MONEY
from payments import desk
from payments.models import DeskPayment


class DeskPayInputSerializer(serializers.Serializer):
    receipt_number = serializers.CharField(max_length=40)


class DeskPaymentSerializer(serializers.ModelSerializer):
    checkout = serializers.CharField(source="checkout.number")
    branch = serializers.CharField(source="branch.code")
    staff = serializers.CharField(source="staff.username")
    amount = serializers.DecimalField(**MONEY)

    class Meta:
        model = DeskPayment
        fields = ["checkout", "branch", "staff", "amount", "receipt_number", "at"]


class DeskPayApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(request=DeskPayInputSerializer, responses={201: DeskPaymentSerializer},
                   description="The customer paid the checkout's cash due at the branch desk "
                               "(the assisted order must be confirmed with the code first).")
    def post(self, request, number: str):
        data = valid(DeskPayInputSerializer, request.data)
        assisted = assisted_order(bank=request.bank, number=number)
        payment = desk.checkout_pay_at_desk(
            checkout=assisted.checkout, staff=request.user, branch=assisted.branch,
            receipt_number=data["receipt_number"])
        return Response(DeskPaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


console_urlpatterns = [
    path("console/desk/assisted/<str:number>/pay-at-desk/", DeskPayApi.as_view(),
         name="api-desk-pay"),
]
