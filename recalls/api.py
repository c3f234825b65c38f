"""Recalls API: a bank's staff (admins and account managers) open, list and close the
recalls of their merchants' batches; federation admins do so for any batch. The views
parse, check who may, and call ``recalls.services``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.models import StaffRole
from banks.permissions import IsBankStaff, IsFederationAdmin
from core.api import valid
from recalls import selectors, services
from recalls.models import Recall, RecallResolution

STAFF_ROLES = (StaffRole.BANK_ADMIN, StaffRole.ACCOUNT_MANAGER)


class RecallBatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    harvest_date = serializers.DateField()
    product = serializers.CharField(source="product.name")
    merchant = serializers.CharField(source="product.merchant.name")


class RecallSerializer(serializers.ModelSerializer):
    batches = RecallBatchSerializer(many=True, read_only=True)
    opened_by = serializers.CharField(source="opened_by.username", read_only=True)
    closed_by = serializers.CharField(source="closed_by.username", read_only=True,
                                      default=None)
    bank = serializers.CharField(source="bank.code", read_only=True, default=None,
                                 help_text="the bank that opened it; null: the federation")

    class Meta:
        model = Recall
        fields = ["id", "number", "bank", "reason", "status", "resolution", "resolution_note",
                  "batches", "orders_held", "orders_refunded", "opened_by", "opened_at",
                  "closed_by", "closed_at"]


class RecallOpenInputSerializer(serializers.Serializer):
    batches = serializers.ListField(child=serializers.IntegerField(min_value=1),
                                    allow_empty=False, max_length=services.MAX_BATCHES,
                                    help_text="ids of the batches recalled")
    reason = serializers.CharField(max_length=300)


class RecallCloseInputSerializer(serializers.Serializer):
    resolution = serializers.ChoiceField(choices=RecallResolution.choices)
    note = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)


class ConsoleRecallsApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = STAFF_ROLES

    @extend_schema(operation_id="console_recalls_list", responses=RecallSerializer(many=True),
                   description="Recalls of this bank's merchants' batches (whoever opened "
                               "them), newest first; the latest 200.")
    def get(self, request):
        rows = selectors.recalls_for_bank(bank=request.bank)[:200]
        return Response(RecallSerializer(rows, many=True).data)

    @extend_schema(operation_id="console_recalls_open", request=RecallOpenInputSerializer,
                   responses={201: RecallSerializer},
                   description="Opens a recall of some of this bank's merchants' batches: "
                               "delists their products, refuses them at checkout, holds the "
                               "money of every affected order and tells the buyers. 400 for "
                               "an unknown batch, 404 for another bank's batch.")
    def post(self, request):
        data = valid(RecallOpenInputSerializer, request.data)
        recall = services.recall_open(actor=request.user, bank=request.bank,
                                      batch_ids=data["batches"],
                                      reason=data["reason"])
        return Response(RecallSerializer(selectors.recall_for_bank(
            bank=request.bank, recall_id=recall.pk)).data, status=status.HTTP_201_CREATED)


class ConsoleRecallApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = STAFF_ROLES

    @extend_schema(operation_id="console_recalls_get", responses=RecallSerializer)
    def get(self, request, recall_id: int):
        return Response(RecallSerializer(
            selectors.recall_for_bank(bank=request.bank, recall_id=recall_id)).data)


class ConsoleRecallCloseApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = STAFF_ROLES

    @extend_schema(operation_id="console_recalls_close", request=RecallCloseInputSerializer,
                   responses=RecallSerializer,
                   description="Closes a recall this bank opened: refund_all refunds every "
                               "held order through the refund path, release lifts the holds "
                               "(the next settlement pays them). 400 when already closed.")
    def post(self, request, recall_id: int):
        recall = selectors.recall_closable_by_bank(bank=request.bank, recall_id=recall_id)
        data = valid(RecallCloseInputSerializer, request.data)
        recall = services.recall_close(recall=recall, actor=request.user,
                                       **data)
        return Response(RecallSerializer(selectors.recall_for_bank(
            bank=request.bank, recall_id=recall.pk)).data)


class FederationRecallsApi(APIView):
    permission_classes = [IsFederationAdmin]

    @extend_schema(operation_id="federation_recalls_list", responses=RecallSerializer(many=True),
                   description="Every recall in the province, newest first; the latest 200.")
    def get(self, request):
        return Response(RecallSerializer(selectors.recalls_all()[:200], many=True).data)

    @extend_schema(operation_id="federation_recalls_open", request=RecallOpenInputSerializer,
                   responses={201: RecallSerializer},
                   description="Opens a recall of any batches (federation admins).")
    def post(self, request):
        data = valid(RecallOpenInputSerializer, request.data)
        recall = services.recall_open(actor=request.user, bank=None,
                                      batch_ids=data["batches"],
                                      reason=data["reason"])
        return Response(RecallSerializer(selectors.recall_get(recall_id=recall.pk)).data,
                        status=status.HTTP_201_CREATED)


class FederationRecallCloseApi(APIView):
    permission_classes = [IsFederationAdmin]

    @extend_schema(operation_id="federation_recalls_close", request=RecallCloseInputSerializer,
                   responses=RecallSerializer,
                   description="Closes any recall (federation admins). 400 when already "
                               "closed.")
    def post(self, request, recall_id: int):
        recall = selectors.recall_get(recall_id=recall_id)
        data = valid(RecallCloseInputSerializer, request.data)
        recall = services.recall_close(recall=recall, actor=request.user,
                                       **data)
        return Response(RecallSerializer(selectors.recall_get(recall_id=recall.pk)).data)
