"""The card gateway's webhook."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from payments import services


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
