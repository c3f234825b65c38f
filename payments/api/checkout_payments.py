"""Paying a checkout by card (idempotent by the client's key), reading a payment, and
giving up a checkout."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import valid
from core.idempotency import request_fingerprint
from orders.models import CheckoutStatus
from orders.selectors import checkout_of_buyer
from orders.serializers import CheckoutSerializer
from payments import selectors, services
from payments.models import Payment, PaymentStatus


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
        card = valid(PaymentInputSerializer, request.data)
        fingerprint = request_fingerprint(operation="checkout_pay", checkout=checkout.number,
                                          card=card["card"])
        replay = selectors.payment_by_key(buyer=request.user, idempotency_key=key)
        payment = services.checkout_pay(checkout=checkout, buyer=request.user,
                                        card=services.Card(**card["card"]),
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
