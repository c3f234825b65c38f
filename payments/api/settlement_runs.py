"""Settlement for a bank's staff: runs (started, followed, reconciled), payout batches and
their files, and payout lines confirmed or failed. Every id goes through a selector
scoped to the bank."""

from __future__ import annotations

import json

from django.db import transaction
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.models import StaffRole
from banks.permissions import IsBankStaff, require_bank_staff
from core.api import valid
from payments import selectors, settlement
from payments.models import PayoutBatch, PayoutLine, RunStatus, SettlementRun
from payments.tasks import run_settlement


class CsvRenderer(BaseRenderer):
    """Lets a client ask for ``text/csv`` (the payout file); errors still come as JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, str | bytes) else json.dumps(data, default=str)


MONEY_FIELD = {"max_digits": 14, "decimal_places": 2}


class SettlementRunSerializer(serializers.ModelSerializer):
    scope = serializers.SerializerMethodField(
        help_text="bank: this bank's run; all: a run over every bank (the scheduled one)")
    status_display = serializers.CharField(source="get_status_display")
    percent = serializers.SerializerMethodField()
    started_by = serializers.SerializerMethodField()

    class Meta:
        model = SettlementRun
        fields = ["id", "scope", "cutoff", "status", "status_display", "orders_total",
                  "orders_done", "percent", "error", "started_by", "created_at",
                  "started_at", "finished_at"]

    def get_scope(self, run) -> str:
        return "bank" if run.bank_id else "all"

    def get_percent(self, run) -> int:
        if run.status == RunStatus.COMPLETED:
            return 100
        return int(100 * run.orders_done / run.orders_total) if run.orders_total else 0

    def get_started_by(self, run) -> str | None:
        return run.started_by.shown_name if run.started_by else None


class ReconciliationCheckSerializer(serializers.Serializer):
    equation = serializers.CharField()
    left = serializers.DecimalField(**MONEY_FIELD)
    right = serializers.DecimalField(**MONEY_FIELD)
    difference = serializers.DecimalField(**MONEY_FIELD)
    ok = serializers.BooleanField()


class ReconciliationRunSerializer(serializers.Serializer):
    orders = serializers.IntegerField()
    released = serializers.DecimalField(**MONEY_FIELD)
    repaid = serializers.DecimalField(**MONEY_FIELD)
    credited = serializers.DecimalField(**MONEY_FIELD)
    referral_fees = serializers.DecimalField(**MONEY_FIELD)


class ReconciliationSerializer(serializers.Serializer):
    bank = serializers.CharField()
    ok = serializers.BooleanField(help_text="false: at least one equation does not hold")
    checks = ReconciliationCheckSerializer(many=True)
    figures = serializers.DictField(child=serializers.DecimalField(**MONEY_FIELD))
    run = ReconciliationRunSerializer(required=False,
                                      help_text="what this run settled at this bank")


class SettlementHoldSerializer(serializers.Serializer):
    order = serializers.CharField(source="order.number")
    reason = serializers.CharField(help_text="why the order was not settled: recall")
    reason_display = serializers.CharField()


class SettlementRunDetailSerializer(SettlementRunSerializer):
    payout_batch = serializers.SerializerMethodField(
        help_text="this bank's payout batch of the run (null until it is built)")
    reconciliation = serializers.SerializerMethodField()
    held = serializers.SerializerMethodField(
        help_text="this bank's orders the run did not settle because their money is held, "
                  "and why (settled by a run after the hold is lifted)")

    class Meta(SettlementRunSerializer.Meta):
        fields = [*SettlementRunSerializer.Meta.fields, "payout_batch", "reconciliation",
                  "held"]

    @extend_schema_field(SettlementHoldSerializer(many=True))
    def get_held(self, run) -> list:
        return SettlementHoldSerializer(
            selectors.run_holds(run=run, bank=self.context["bank"]), many=True).data

    def get_payout_batch(self, run) -> int | None:
        batch = selectors.run_batch_of_bank(run=run, bank=self.context["bank"])
        return batch.pk if batch else None

    @extend_schema_field(ReconciliationSerializer(allow_null=True))
    def get_reconciliation(self, run) -> dict | None:
        """Null until the run has completed: no verdict on books in mid-run."""
        if run.status != RunStatus.COMPLETED:
            return None
        return ReconciliationSerializer(
            settlement.reconciliation(bank=self.context["bank"], run=run)).data


class PayoutLineSerializer(serializers.ModelSerializer):
    merchant_name = serializers.CharField(source="merchant.name")
    status_display = serializers.CharField(source="get_status_display")

    class Meta:
        model = PayoutLine
        fields = ["id", "batch", "line_no", "merchant", "merchant_name", "amount",
                  "account_name", "account_number", "status", "status_display",
                  "failure_reason", "updated_at"]


class PayoutBatchSerializer(serializers.ModelSerializer):
    bank = serializers.CharField(source="bank.code")
    lines = PayoutLineSerializer(many=True)
    file_url = serializers.SerializerMethodField()

    class Meta:
        model = PayoutBatch
        fields = ["id", "run", "bank", "file_name", "checksum", "total", "line_count",
                  "created_at", "file_url", "lines"]

    def get_file_url(self, batch) -> str:
        return reverse("api-console-payout-batch-file", args=[batch.pk])


class ConsoleSettlementRunsApi(APIView):
    permission_classes = [IsBankStaff]

    class RunStartInputSerializer(serializers.Serializer):
        cutoff = serializers.DateTimeField(
            required=False, allow_null=True, default=None,
            help_text="orders completed before it are settled, not in the future; "
                      "default: now")

    @extend_schema(operation_id="console_settlement_runs_list",
                   responses=SettlementRunSerializer(many=True),
                   description="The latest 100 runs that concern this bank: its own and the "
                               "runs over every bank.")
    def get(self, request):
        runs = selectors.bank_settlement_runs(bank=request.bank)[:100]
        return Response(SettlementRunSerializer(runs, many=True).data)

    @extend_schema(request=RunStartInputSerializer, responses={201: SettlementRunSerializer},
                   description="Starts a run over this bank's merchants (bank admins). 400 "
                               "with code run_in_progress while one is waiting or running; "
                               "follow the run's progress on its detail.")
    def post(self, request):
        require_bank_staff(request, (StaffRole.BANK_ADMIN,))
        data = valid(self.RunStartInputSerializer, request.data)
        run = settlement.settlement_run_start(bank=request.bank,
                                              cutoff=data["cutoff"],
                                              actor=request.user)
        transaction.on_commit(lambda: run_settlement.delay(run.pk))
        return Response(SettlementRunSerializer(run).data, status=status.HTTP_201_CREATED)


class ConsoleSettlementRunApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(responses=SettlementRunDetailSerializer)
    def get(self, request, run_id: int):
        run = selectors.bank_settlement_run(bank=request.bank, run_id=run_id)
        return Response(SettlementRunDetailSerializer(run, context={"bank": request.bank})
                        .data)


class ConsolePayoutBatchApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(responses=PayoutBatchSerializer)
    def get(self, request, batch_id: int):
        batch = selectors.bank_payout_batch(bank=request.bank, batch_id=batch_id)
        batch = type(batch).objects.prefetch_related("lines__merchant").select_related(
            "bank").get(pk=batch.pk)
        return Response(PayoutBatchSerializer(batch).data)


class ConsolePayoutBatchFileApi(APIView):
    permission_classes = [IsBankStaff]
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR},
                   description="The payout file: an H header, one D record per line, and a "
                               "T trailer with the count, the total and the SHA-256 of "
                               "every record before it.")
    def get(self, request, batch_id: int):
        batch = selectors.bank_payout_batch(bank=request.bank, batch_id=batch_id)
        return selectors.payout_file_response(batch)


class _PayoutLineApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = (StaffRole.CREDIT_OFFICER,)  # and bank admins


class ConsolePayoutLineConfirmApi(_PayoutLineApi):
    @extend_schema(request=None, responses=PayoutLineSerializer,
                   description="The bank's core system paid the line (sent lines only).")
    def post(self, request, line_id: int):
        line = selectors.bank_payout_line(bank=request.bank, line_id=line_id)
        line = settlement.payout_line_confirm(line=line)
        return Response(PayoutLineSerializer(line).data)


class ConsolePayoutLineFailApi(_PayoutLineApi):
    class FailInputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=200)

    @extend_schema(request=FailInputSerializer, responses=PayoutLineSerializer,
                   description="The core system could not pay the line: the money is owed "
                               "to the merchant again and the next run pays it.")
    def post(self, request, line_id: int):
        line = selectors.bank_payout_line(bank=request.bank, line_id=line_id)
        data = valid(self.FailInputSerializer, request.data)
        line = settlement.payout_line_fail(line=line, reason=data["reason"])
        return Response(PayoutLineSerializer(line).data)
