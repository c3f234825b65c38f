"""Merchants' statements and settlements: for the bank's staff (a merchant's statement and
settlement account) and for a shop's members (its settlements). Every id goes through a
selector scoped to the bank or shop."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from admission.selectors import dossier_for_bank
from admission.services import dossier_set_settlement_account
from banks.models import StaffRole
from banks.permissions import IsBankStaff
from catalog.selectors import bank_merchant, merchant_for_member
from core.api import valid
from payments import selectors, settlement
from payments.models import SettlementItem

from .settlement_runs import MONEY_FIELD, PayoutLineSerializer

ZERO = Decimal("0.00")


class StatementEntrySerializer(serializers.Serializer):
    posted_at = serializers.DateTimeField(source="at")
    kind = serializers.CharField(help_text="settle, clawback, payout or payout_fail")
    label = serializers.CharField()
    order = serializers.CharField(source="order.number", allow_null=True, default=None)
    memo = serializers.CharField()
    amount = serializers.DecimalField(
        **MONEY_FIELD, help_text="positive: owed to the merchant; negative: paid or taken")
    balance = serializers.DecimalField(**MONEY_FIELD, help_text="owed after this entry")


class MerchantStatementSerializer(serializers.Serializer):
    merchant = serializers.IntegerField(source="merchant.pk")
    merchant_name = serializers.CharField(source="merchant.name")
    balance = serializers.DecimalField(
        **MONEY_FIELD, help_text="what the bank owes the merchant now (negative: a "
                                 "clawback carried forward)")
    entries = StatementEntrySerializer(many=True, help_text="newest first")
    payout_lines = PayoutLineSerializer(many=True)


class SettlementItemSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number")
    credited = serializers.DecimalField(source="merchant_credit", **MONEY_FIELD)
    settled_at = serializers.DateTimeField(source="created_at")

    class Meta:
        model = SettlementItem
        fields = ["order", "run", "released", "repaid", "credited", "settled_at"]


class MerchantSettlementsSerializer(MerchantStatementSerializer):
    items = SettlementItemSerializer(many=True, help_text="settled orders, newest first")


def _statement_data(merchant, bank) -> dict:
    return {"merchant": merchant,
            "balance": settlement.payable_balances(bank=bank).get(merchant.pk, ZERO),
            "entries": selectors.statement_rows(
                settlement.merchant_statement(merchant=merchant)),
            "payout_lines": selectors.merchant_payout_lines(merchant=merchant)
            .select_related("merchant")[:100]}


class ConsoleMerchantStatementApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(responses=MerchantStatementSerializer)
    def get(self, request, merchant_id: int):
        merchant = bank_merchant(bank=request.bank, merchant_id=merchant_id)
        return Response(MerchantStatementSerializer(_statement_data(merchant, request.bank))
                        .data)


class ConsoleMerchantSettlementAccountApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = (StaffRole.ACCOUNT_MANAGER,)  # and bank admins

    class AccountSerializer(serializers.Serializer):
        account_name = serializers.CharField(max_length=100)
        account_number = serializers.CharField(max_length=60,
                                               help_text="12 to 30 digits; spaces ignored")

    class AccountOutputSerializer(serializers.Serializer):
        merchant = serializers.IntegerField()
        account_name = serializers.CharField()
        account_number = serializers.CharField(help_text="masked: the last four digits")

    @extend_schema(request=AccountSerializer, responses=AccountOutputSerializer,
                   description="Records where the merchant's payouts go (kept in the bank's "
                               "own schema). Merchants without one are not paid out; "
                               "their money stays owed.")
    def put(self, request, merchant_id: int):
        merchant, dossier = dossier_for_bank(bank=request.bank, merchant_id=merchant_id)
        data = valid(self.AccountSerializer, request.data)
        dossier = dossier_set_settlement_account(dossier=dossier, actor=request.user,
                                                 **data)
        return Response(self.AccountOutputSerializer({
            "merchant": merchant.pk, "account_name": dossier.settlement_account_name,
            "account_number": f"****{dossier.settlement_account_number[-4:]}"}).data)


class MerchantSettlementsApi(APIView):
    """A member of the shop, on the domain of the shop's bank; 404 for anyone else."""

    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="merchant_settlements", responses=MerchantSettlementsSerializer)
    def get(self, request, merchant_id: int):
        merchant = merchant_for_member(user=request.user, bank=request.bank,
                                       merchant_id=merchant_id)
        data = _statement_data(merchant, merchant.bank)
        data["items"] = selectors.merchant_settlement_items(merchant=merchant)[:200]
        return Response(MerchantSettlementsSerializer(data).data)
