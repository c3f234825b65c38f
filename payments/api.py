"""Payments API: paying a checkout by card (idempotent by the client's key), reading a
payment, giving up a checkout, and the gateway's webhook."""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.models import StaffRole
from banks.permissions import IsBankStaff, require_bank_staff
from catalog.selectors import bank_merchant, merchant_for_member
from core.idempotency import request_fingerprint
from orders.models import CheckoutStatus
from orders.selectors import checkout_of_buyer
from orders.serializers import CheckoutSerializer
from payments import selectors, services, settlement
from payments.models import (
    GatewayRefund,
    GatewayRefundStatus,
    Payment,
    PaymentStatus,
    PayoutBatch,
    PayoutLine,
    RunStatus,
    SettlementItem,
    SettlementRun,
)

ZERO = Decimal("0.00")


class CardInputSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=30)
    exp_month = serializers.IntegerField()
    exp_year = serializers.IntegerField()
    cvc = serializers.CharField(max_length=4)


class PaymentInputSerializer(serializers.Serializer):
    card = CardInputSerializer()


NEXT_STEPS = {
    PaymentStatus.SUCCEEDED: "none",
    PaymentStatus.REQUIRES_ACTION: "authenticate",
    PaymentStatus.CREATED: "wait",
}


class PaymentSerializer(serializers.ModelSerializer):
    checkout = serializers.CharField(source="checkout.number")
    checkout_status = serializers.CharField(source="checkout.status")
    status_display = serializers.CharField(source="get_status_display")
    amount = serializers.SerializerMethodField()
    next_step = serializers.SerializerMethodField(
        help_text="none: paid; authenticate: open next_url to approve the payment with the "
                  "card issuer; wait: ask again shortly; retry: pay with another card "
                  "(the goods are still reserved); closed: the checkout is no longer payable")
    next_url = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = ["id", "checkout", "checkout_status", "status", "status_display", "amount",
                  "amount_fen", "currency", "card_last4", "failure_message", "next_step",
                  "next_url", "created_at", "updated_at"]

    def get_amount(self, payment) -> str:
        return f"{payment.amount_fen // 100}.{payment.amount_fen % 100:02d}"

    def get_next_step(self, payment) -> str:
        if payment.status in NEXT_STEPS:
            return NEXT_STEPS[payment.status]
        if payment.checkout.status == CheckoutStatus.PENDING_PAYMENT:
            return "retry"
        return "closed"

    def get_next_url(self, payment) -> str | None:
        # The local card server's stand-in for the issuer's authentication page. With Stripe
        # itself the client authenticates with Stripe.js (the intent's next_action).
        if payment.status != PaymentStatus.REQUIRES_ACTION or not settings.STRIPE_API_BASE:
            return None
        path = reverse("payments:authenticate", args=[payment.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=True,
    description="A key of your choosing (up to 80 characters), new for each payment attempt. "
                "Sending the same request again with the same key returns the same payment "
                "and never charges twice.")


class CheckoutPaymentApi(APIView):
    calls_payment_gateway = True  # 503 in the schema (core.schema)

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY], request=PaymentInputSerializer,
        responses={201: PaymentSerializer,
                   200: OpenApiResponse(PaymentSerializer,
                                        description="a replay of an earlier request with "
                                                    "the same Idempotency-Key"),
                   409: OpenApiResponse(description="the first request with this key is "
                                                    "still in flight (Retry-After)"),
                   422: OpenApiResponse(description="this key was used for a different "
                                                    "request")},
        description="Charges the card for the whole checkout. A declined card gives a "
                    "payment with status failed and a failure_message (the goods stay "
                    "reserved: try another card); a card that needs authentication gives "
                    "requires_action and next_url.")
    def post(self, request, number: str):
        checkout = checkout_of_buyer(buyer=request.user, number=number)
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 80:
            raise serializers.ValidationError({"idempotency_key": [
                _("Send an Idempotency-Key header (1 to 80 characters).")]})
        card = PaymentInputSerializer(data=request.data)
        card.is_valid(raise_exception=True)
        fingerprint = request_fingerprint(operation="checkout_pay", checkout=checkout.number,
                                          card=card.validated_data["card"])
        replay = selectors.payment_by_key(idempotency_key=key)
        payment = services.checkout_pay(checkout=checkout, buyer=request.user,
                                        card=services.Card(**card.validated_data["card"]),
                                        idempotency_key=key, fingerprint=fingerprint)
        if replay is not None:
            return Response(self.payment_data(request, payment))
        return Response(self.payment_data(request, payment), status=status.HTTP_201_CREATED)

    @staticmethod
    def payment_data(request, payment) -> dict:
        payment = selectors.payment_of_buyer(buyer=request.user, payment_id=payment.pk)
        return PaymentSerializer(payment, context={"request": request}).data


class PaymentDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=PaymentSerializer)
    def get(self, request, payment_id: int):
        payment = selectors.payment_of_buyer(buyer=request.user, payment_id=payment_id)
        return Response(PaymentSerializer(payment, context={"request": request}).data)


class CheckoutCancelApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=CheckoutSerializer,
                   description="Gives up an unpaid checkout: open card payments are "
                               "cancelled at the gateway and the stock goes back.")
    def post(self, request, number: str):
        checkout = checkout_of_buyer(buyer=request.user, number=number)
        services.checkout_abandon(checkout=checkout, buyer=request.user)
        checkout = checkout_of_buyer(buyer=request.user, number=number)
        return Response(CheckoutSerializer(checkout).data)


class WebhookApi(APIView):
    """The card gateway's event deliveries. No session, no CSRF: the signature over the
    raw body is the authentication."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # A delivery is processed once; a repeat answers 200 (duplicate), never 409.
    error_statuses = {400}

    class ReceivedSerializer(serializers.Serializer):
        received = serializers.BooleanField()
        duplicate = serializers.BooleanField(
            help_text="true: this event was delivered before (processed once only)")

    @extend_schema(
        operation_id="payments_webhooks_stripe",
        parameters=[OpenApiParameter(
            "Stripe-Signature", str, OpenApiParameter.HEADER, required=True,
            description="t=<unix time>,v1=<HMAC-SHA256 of \"<t>.<body>\" with the "
                        "webhook secret>")],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: ReceivedSerializer,
                   400: OpenApiResponse(description="bad signature or payload; nothing "
                                                    "is recorded")})
    def post(self, request):
        # The raw bytes as sent: the signature covers them exactly (never re-serialise).
        event = services.webhook_receive(payload=request.body,
                                         signature=request.headers.get("Stripe-Signature", ""))
        return Response(self.ReceivedSerializer(
            {"received": True, "duplicate": event.deliveries > 1}).data)


# --- settlement: bank staff (their bank's runs, batches, lines, merchants) and a shop's
# members (its settlements); every id goes through a selector scoped to the bank or shop ----


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


class SettlementRunDetailSerializer(SettlementRunSerializer):
    payout_batch = serializers.SerializerMethodField(
        help_text="this bank's payout batch of the run (null until it is built)")
    reconciliation = serializers.SerializerMethodField()

    class Meta(SettlementRunSerializer.Meta):
        fields = [*SettlementRunSerializer.Meta.fields, "payout_batch", "reconciliation"]

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
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.bank_gateway_refunds(bank=request.bank,
                                              status=query.validated_data["status"])[:200]
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
        data = self.GatewayRefundResolveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.gateway_refund_resolve(record=row, actor=request.user,
                                              note=data.validated_data["note"])
        return Response(GatewayRefundSerializer(row).data)


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
        data = self.RunStartInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = settlement.settlement_run_start(bank=request.bank,
                                              cutoff=data.validated_data["cutoff"],
                                              actor=request.user)
        from payments.tasks import run_settlement

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
        data = self.FailInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        line = settlement.payout_line_fail(line=line, reason=data.validated_data["reason"])
        return Response(PayoutLineSerializer(line).data)


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
        from admission.selectors import dossier_for_bank
        from admission.services import dossier_set_settlement_account

        merchant, dossier = dossier_for_bank(bank=request.bank, merchant_id=merchant_id)
        data = self.AccountSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dossier = dossier_set_settlement_account(dossier=dossier, actor=request.user,
                                                 **data.validated_data)
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
