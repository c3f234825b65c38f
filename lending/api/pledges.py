"""Pledge loans on warehouse receipts: a shop's members see what the bank would lend on
the receipts they hold and apply; credit officers see and close margin calls. Officers
decide pledge applications through the usual application endpoints."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.models import StaffRole
from banks.permissions import IsBankStaff
from catalog.selectors import merchant_for_member
from core.api import valid
from lending import selectors, services
from lending.api._common import _not_found_as_404
from lending.models import Application, MarginCall
from warehouses import selectors as warehouse_selectors
from warehouses.models import ReceiptStatus


class PledgeQuoteSerializer(serializers.Serializer):
    receipt = serializers.IntegerField(source="receipt.pk")
    number = serializers.CharField(source="receipt.number")
    product = serializers.CharField(source="receipt.lot.sku.product.name")
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2,
                                          help_text="the platform's average paid price of "
                                                    "the last 30 days, else the list price")
    value = serializers.DecimalField(max_digits=14, decimal_places=2)
    ltv = serializers.DecimalField(max_digits=4, decimal_places=2)
    max_amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    months = serializers.IntegerField()
    rate = serializers.DecimalField(max_digits=7, decimal_places=5)


class PledgeApplicationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Application
        fields = ["id", "receipt_id", "amount", "months", "rate", "status", "created_at",
                  "decided_at"]


class PledgeApplyInputSerializer(serializers.Serializer):
    receipt = serializers.IntegerField(min_value=1)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0,
                                      required=False, allow_null=True, default=None,
                                      help_text="at most max_amount; empty: the most")


class MarginCallSerializer(serializers.ModelSerializer):
    loan_number = serializers.CharField(source="loan.number")

    class Meta:
        model = MarginCall
        fields = ["id", "loan", "loan_number", "value", "unpaid", "unit_price", "status",
                  "note", "raised_at", "closed_at"]


class MarginCallCloseInputSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=300)


class MerchantPledgesApi(APIView):
    permission_classes = [IsAuthenticated]

    def _merchant(self, request, merchant_id):
        return merchant_for_member(user=request.user, bank=request.bank,
                                   merchant_id=merchant_id)

    @extend_schema(operation_id="merchant_financing_pledges_list",
                   responses=PledgeQuoteSerializer(many=True),
                   description="The receipts of this bank the shop holds and may pledge, "
                               "each with what the bank would lend on it.")
    def get(self, request, merchant_id: int):
        merchant = self._merchant(request, merchant_id)
        receipts = (warehouse_selectors.receipts_of_holder(merchant=merchant)
                    .filter(bank=request.bank,
                            status__in=[ReceiptStatus.VALID, ReceiptStatus.RELEASED]))[:100]
        rows = [{"receipt": r, **services.pledge_quote(bank=request.bank, receipt=r)}
                for r in receipts]
        return Response(PledgeQuoteSerializer(rows, many=True).data)

    @extend_schema(operation_id="merchant_financing_pledges_apply",
                   request=PledgeApplyInputSerializer, responses={201: PledgeApplicationSerializer},
                   description="Apply for a loan on a receipt the shop holds; it waits for "
                               "the credit officers. 400 when the warehouse is not approved, "
                               "the receipt is pledged or cancelled, or the amount is above "
                               "the loan-to-value.")
    def post(self, request, merchant_id: int):
        merchant = self._merchant(request, merchant_id)
        data = valid(PledgeApplyInputSerializer, request.data)
        receipt = get_object_or_404(warehouse_selectors.receipts_of_holder(merchant=merchant),
                                    pk=data["receipt"])
        with _not_found_as_404():
            app = services.pledge_apply(bank=request.bank, receipt=receipt,
                                        actor=request.user, amount=data["amount"])
        return Response(PledgeApplicationSerializer(app).data, status=status.HTTP_201_CREATED)


class ConsoleMarginCallsApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = (StaffRole.CREDIT_OFFICER,)  # and bank admins

    @extend_schema(operation_id="console_lending_margin_calls_list",
                   responses=MarginCallSerializer(many=True),
                   description="Margin calls on pledge loans, open ones first (the latest "
                               "200).")
    def get(self, request):
        return Response(MarginCallSerializer(selectors.margin_calls()[:200], many=True).data)


class ConsoleMarginCallCloseApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = (StaffRole.CREDIT_OFFICER,)

    @extend_schema(operation_id="console_lending_margin_calls_close",
                   request=MarginCallCloseInputSerializer,
                   responses=MarginCallSerializer,
                   description="Close an open margin call with how it was settled.")
    def post(self, request, call_id: int):
        call = selectors.margin_call_get(call_id=call_id)
        data = valid(MarginCallCloseInputSerializer, request.data)
        call = services.margin_call_close(bank=request.bank, call=call, officer=request.user,
                                          note=data["note"])
        return Response(MarginCallSerializer(call).data)


class ConsoleLoanCollateralSaleApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = (StaffRole.CREDIT_OFFICER,)  # and bank admins

    @extend_schema(operation_id="console_lending_loans_collateral_sale",
                   request=MarginCallCloseInputSerializer, responses={204: None},
                   description="An overdue pledge loan in default: its pledged goods are "
                               "released for sale on the platform and settlement repays the "
                               "loan first from every order of them. 400 for any other loan "
                               "or a second time.")
    def post(self, request, loan_id: int):
        loan = selectors.loan_get(loan_id=loan_id)
        data = valid(MarginCallCloseInputSerializer, request.data)
        services.pledge_collateral_sale(bank=request.bank, loan=loan, actor=request.user,
                                        note=data["note"])
        return Response(status=status.HTTP_204_NO_CONTENT)
