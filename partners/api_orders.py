"""The partner API's orders, statements and webhooks, under /api/v1/partner/ (API keys
with scopes: ``orders:write`` to place, ``orders:read`` to read orders and statements,
``webhooks:manage`` for endpoints and deliveries). The rules are in
``partners.ordering``, ``partners.webhooks`` and ``partners.selectors_orders``."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from core.api import valid
from partners.api import PartnerApi
from partners.auth import HasScope
from partners.models import Scope, WebhookEventType
from partners.ordering import Recipient, partner_order_place
from partners.selectors_orders import (
    LIST_LIMIT_DEFAULT,
    LIST_LIMIT_MAX,
    deliveries_of,
    delivery_get,
    endpoint_get,
    endpoints_of,
    parse_month,
    partner_order_data,
    partner_order_get,
    partner_orders,
    partner_statement,
    payment_url,
)
from partners.webhooks import (
    delivery_replay,
    endpoint_create,
    endpoint_delete,
    endpoint_update,
)


class RecipientSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40)
    phone = serializers.CharField(max_length=20, help_text="a mainland mobile number")
    division = serializers.CharField(
        max_length=12, required=False, allow_blank=True, default="",
        help_text="for delivery: the township's code (GET /api/v1/divisions/)")
    detail = serializers.CharField(max_length=120, required=False, allow_blank=True,
                                   default="", help_text="for delivery: village, street, "
                                                         "number")


class LineSerializer(serializers.Serializer):
    sku = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1)


class PartnerOrderListCreateApi(PartnerApi):
    """``GET``: your orders, newest first (``orders:read``), a page at a time: pass
    ``next_cursor`` back as ``cursor``. ``POST``: place an order for your customer
    (``orders:write``) with an ``Idempotency-Key`` header: the same key and body give the
    same order (200), the same key with another body 422. Then send the customer to
    ``payment_url`` to pay by card."""

    def get_permissions(self):
        scope = Scope.ORDERS_WRITE if self.request.method == "POST" else Scope.ORDERS_READ
        return [HasScope(scope)()]

    class PartnerOrderQuerySerializer(serializers.Serializer):
        cursor = serializers.IntegerField(required=False, min_value=1)
        limit = serializers.IntegerField(required=False, min_value=1,
                                         max_value=LIST_LIMIT_MAX, default=LIST_LIMIT_DEFAULT)
        status = serializers.CharField(required=False, allow_blank=True, default="",
                                       max_length=20, help_text=(
                                           "only checkouts with a merchant's order in this "
                                           "status (e.g. shipped)"))

    class PartnerOrderCreateSerializer(serializers.Serializer):
        customer_reference = serializers.CharField(max_length=64)
        recipient = RecipientSerializer()
        pickup_branch = serializers.IntegerField(
            required=False, allow_null=True, default=None, min_value=1,
            help_text="collect at this branch of the merchant's bank instead of delivery")
        lines = LineSerializer(many=True, allow_empty=False)

    @extend_schema(operation_id="partner_orders_list", parameters=[PartnerOrderQuerySerializer],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        query = valid(self.PartnerOrderQuerySerializer, request.query_params)
        page, cursor = partner_orders(partner=request.auth.partner,
                                      cursor=query.get("cursor"), limit=query["limit"],
                                      status=query["status"])
        return Response({"items": [partner_order_data(po, payment_url=payment_url(request, po))
                                   for po in page],
                         "next_cursor": cursor})

    @extend_schema(request=PartnerOrderCreateSerializer, parameters=[OpenApiParameter(
        "Idempotency-Key", str, OpenApiParameter.HEADER, required=True)],
        responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT,
                   422: OpenApiResponse(description="the key was used for another body")})
    def post(self, request):
        data = valid(self.PartnerOrderCreateSerializer, request.data)
        placed = partner_order_place(
            partner=request.auth.partner,
            idempotency_key=request.headers.get("Idempotency-Key", ""),
            customer_reference=data["customer_reference"],
            recipient=Recipient(**data["recipient"]), pickup_branch=data["pickup_branch"],
            lines=data["lines"])
        po = partner_order_get(partner=request.auth.partner,
                               number=placed.order.checkout.number)
        return Response(partner_order_data(po, payment_url=payment_url(request, po)),
                        status=status.HTTP_201_CREATED if placed.created else status.HTTP_200_OK)


class PartnerOrderDetailApi(PartnerApi):
    """One of your orders by its number: status, lines, totals, shipment tracking
    (``orders:read``)."""

    permission_classes = [HasScope(Scope.ORDERS_READ)]

    @extend_schema(operation_id="partner_orders_retrieve",
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request, number: str):
        po = partner_order_get(partner=request.auth.partner, number=number)
        return Response(partner_order_data(po, payment_url=payment_url(request, po)))


class PartnerStatementApi(PartnerApi):
    """Your fees of a month, as settlement booked them, order by order (``orders:read``)."""

    permission_classes = [HasScope(Scope.ORDERS_READ)]

    class StatementQuerySerializer(serializers.Serializer):
        month = serializers.CharField(max_length=7, help_text="YYYY-MM")

    @extend_schema(parameters=[StatementQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        query = valid(self.StatementQuerySerializer, request.query_params)
        year, month = parse_month(query["month"])
        st = partner_statement(partner=request.auth.partner, year=year, month=month)
        return Response({
            "month": st.month, "fee_rate": str(st.fee_rate),
            "orders": [{"order": x.order, "checkout": x.checkout,
                        "customer_reference": x.customer_reference,
                        "settled_at": x.settled_at.isoformat(),
                        "goods_total": str(x.goods_total), "fee": str(x.fee)}
                       for x in st.lines],
            "goods_total": str(st.goods_total), "fees": str(st.fees)})


# --- webhooks -----------------------------------------------------------------------------


class EndpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.ChoiceField(
        choices=WebhookEventType.choices))
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class NewEndpointSerializer(EndpointSerializer):
    secret = serializers.CharField(help_text="signs the deliveries: shown this once")


class WebhookEndpointListCreateApi(PartnerApi):
    """Your webhook endpoints (``webhooks:manage``): list, or add one (its signing secret
    is in this answer only)."""

    permission_classes = [HasScope(Scope.WEBHOOKS_MANAGE)]

    class EndpointCreateSerializer(serializers.Serializer):
        url = serializers.CharField(max_length=300)
        events = serializers.ListField(child=serializers.ChoiceField(
            choices=WebhookEventType.choices), allow_empty=False)

    @extend_schema(responses=EndpointSerializer(many=True))
    def get(self, request):
        return Response(EndpointSerializer(endpoints_of(partner=request.auth.partner),
                                           many=True).data)

    @extend_schema(request=EndpointCreateSerializer, responses={201: NewEndpointSerializer})
    def post(self, request):
        data = valid(self.EndpointCreateSerializer, request.data)
        endpoint = endpoint_create(partner=request.auth.partner, **data)
        return Response(NewEndpointSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailApi(PartnerApi):
    """Change an endpoint (address, events, ``is_active``) or delete it."""

    permission_classes = [HasScope(Scope.WEBHOOKS_MANAGE)]

    class EndpointUpdateSerializer(serializers.Serializer):
        url = serializers.CharField(max_length=300, required=False)
        events = serializers.ListField(child=serializers.ChoiceField(
            choices=WebhookEventType.choices), allow_empty=False, required=False)
        is_active = serializers.BooleanField(required=False)

    @extend_schema(request=EndpointUpdateSerializer, responses=EndpointSerializer)
    def patch(self, request, endpoint_id: int):
        data = valid(self.EndpointUpdateSerializer, request.data)
        endpoint = endpoint_get(partner=request.auth.partner, endpoint_id=endpoint_id)
        return Response(EndpointSerializer(endpoint_update(endpoint=endpoint, **data)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, endpoint_id: int):
        endpoint_delete(endpoint=endpoint_get(partner=request.auth.partner,
                                              endpoint_id=endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttemptSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField()
    error = serializers.CharField()
    replay = serializers.BooleanField()


class DeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.CharField(source="event_id")
    type = serializers.CharField(source="event.type")
    endpoint = serializers.IntegerField(source="endpoint_id")
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    attempt_log = AttemptSerializer(many=True)


class WebhookDeliveryListApi(PartnerApi):
    """Your latest deliveries (``?endpoint=<id>`` for one endpoint's), each with its
    attempts (``webhooks:manage``)."""

    permission_classes = [HasScope(Scope.WEBHOOKS_MANAGE)]

    class DeliveryQuerySerializer(serializers.Serializer):
        endpoint = serializers.IntegerField(required=False, min_value=1)

    @extend_schema(parameters=[DeliveryQuerySerializer], responses=DeliverySerializer(many=True))
    def get(self, request):
        query = valid(self.DeliveryQuerySerializer, request.query_params)
        return Response(DeliverySerializer(deliveries_of(
            partner=request.auth.partner, endpoint_id=query.get("endpoint")), many=True).data)


class WebhookDeliveryReplayApi(PartnerApi):
    """Send a delivery's event again now (whatever its status); the answer shows the
    attempt's result."""

    permission_classes = [HasScope(Scope.WEBHOOKS_MANAGE)]

    @extend_schema(request=None, responses=DeliverySerializer)
    def post(self, request, delivery_id: int):
        delivery = delivery_get(partner=request.auth.partner, delivery_id=delivery_id)
        delivery = delivery_replay(delivery=delivery)
        return Response(DeliverySerializer(delivery_get(partner=request.auth.partner,
                                                        delivery_id=delivery.pk)).data)
