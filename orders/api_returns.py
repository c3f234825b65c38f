"""After-sales returns in the API: the buyer asks for a return of a received order, adds
photos, sends the goods back with a waybill or withdraws; the shop's members approve or
refuse (with a note) and confirm receipt, which refunds the returned lines through the
order's refund path. Ids go through scoped selectors: 404 for anyone else's order or
another shop's return."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from core.api import PageQuerySerializer, StrictBooleanField, valid
from core.uploads import UploadSerializerField
from orders import selectors_returns as returns
from orders import services
from orders.api import _BuyerOrderApi, _MerchantApi, _page
from orders.models import ReturnReason, ReturnRequest, ReturnStatus

MONEY = {"max_digits": 14, "decimal_places": 2}


# --- serializers ---------------------------------------------------------------------------


class ReturnLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(source="order_line_id")
    product_name = serializers.CharField(source="order_line.product_name")
    spec = serializers.CharField(source="order_line.spec")
    quantity = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY)


class ReturnPhotoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()

    def get_url(self, photo) -> str:
        ret = photo.return_request
        view = self.context.get("photo_view")
        if view == "merchant":
            return reverse("merchant_returns:photo",
                           args=[ret.order.merchant_id, ret.pk, photo.pk])
        return reverse("orders:return-photo", args=[ret.order.number, ret.pk, photo.pk])


class ReturnSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number")
    status_display = serializers.CharField(source="get_status_display")
    reason_display = serializers.CharField(source="get_reason_display")
    lines = ReturnLineSerializer(many=True)
    photos = ReturnPhotoSerializer(many=True)
    refund = serializers.IntegerField(source="refund_id", allow_null=True)

    class Meta:
        model = ReturnRequest
        fields = ["id", "order", "status", "status_display", "reason", "reason_display",
                  "description", "amount", "lines", "photos", "decision_note", "carrier",
                  "tracking_number", "refund", "created_at", "decided_at",
                  "shipped_back_at", "received_at", "closed_at"]


class ReturnPageSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    results = ReturnSerializer(many=True)


class ReturnLineInputSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="An order line's id.")
    quantity = serializers.IntegerField(min_value=1, max_value=100000)


class ReturnInputSerializer(serializers.Serializer):
    lines = ReturnLineInputSerializer(many=True, allow_empty=False)
    reason = serializers.ChoiceField(choices=ReturnReason.choices)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                        default="")


class ShipBackInputSerializer(serializers.Serializer):
    carrier = serializers.CharField(max_length=40)
    tracking_number = serializers.CharField(max_length=40)


class ReturnDecisionInputSerializer(serializers.Serializer):
    approve = StrictBooleanField()
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ReturnQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(choices=ReturnStatus.choices, required=False,
                                     allow_blank=True, default="")


# --- shopper -------------------------------------------------------------------------------


class _BuyerReturnApi(_BuyerOrderApi):
    def ret(self, request, number: str, return_id: int) -> ReturnRequest:
        return returns.return_of_buyer(buyer=request.user, number=number, return_id=return_id)

    def ret_data(self, request, number: str, return_id: int) -> dict:
        return ReturnSerializer(self.ret(request, number, return_id)).data


class OrderReturnsApi(_BuyerReturnApi):
    @extend_schema(operation_id="order_returns_list",
                   responses=ReturnSerializer(many=True),
                   description="The returns of this order, newest first.")
    def get(self, request, number: str):
        order = self.order(request, number)
        return Response(ReturnSerializer(returns.returns_of_order(order=order),
                                         many=True).data)

    @extend_schema(request=ReturnInputSerializer, responses={201: ReturnSerializer},
                   description="Asks the shop to take back goods of a received order "
                               "(within ORDER_RETURN_DAYS of receipt; at most what was "
                               "bought less what is already being returned). Photos are "
                               "added with POST .../photos/.")
    def post(self, request, number: str):
        order = self.order(request, number)
        data = valid(ReturnInputSerializer, request.data)
        lines: dict[int, int] = {}
        for item in data["lines"]:
            lines[item["line"]] = lines.get(item["line"], 0) + item["quantity"]
        ret = services.return_request(order=order, actor=request.user, lines=lines,
                                      reason=data["reason"], description=data["description"])
        return Response(self.ret_data(request, number, ret.pk),
                        status=status.HTTP_201_CREATED)


class OrderReturnPhotoApi(_BuyerReturnApi):
    """A photo of the returned goods (multipart/form-data): JPEG, PNG or WebP, at most
    three per return, until the shop decides."""

    parser_classes = [MultiPartParser]

    class PhotoSerializer(serializers.Serializer):
        image = UploadSerializerField(policy="image")

    @extend_schema(request={"multipart/form-data": PhotoSerializer},
                   responses={201: ReturnSerializer})
    def post(self, request, number: str, return_id: int):
        ret = self.ret(request, number, return_id)
        data = valid(self.PhotoSerializer, request.data)
        services.return_add_photo(return_request=ret, actor=request.user,
                                  image=data["image"])
        return Response(self.ret_data(request, number, return_id),
                        status=status.HTTP_201_CREATED)


class OrderReturnShipBackApi(_BuyerReturnApi):
    @extend_schema(request=ShipBackInputSerializer, responses=ReturnSerializer,
                   description="The goods of an approved return are on their way back.")
    def post(self, request, number: str, return_id: int):
        ret = self.ret(request, number, return_id)
        data = valid(ShipBackInputSerializer, request.data)
        services.return_ship_back(return_request=ret, actor=request.user, **data)
        return Response(self.ret_data(request, number, return_id))


class OrderReturnWithdrawApi(_BuyerReturnApi):
    @extend_schema(request=None, responses=ReturnSerializer,
                   description="Takes back a return not yet sent back.")
    def post(self, request, number: str, return_id: int):
        ret = self.ret(request, number, return_id)
        services.return_withdraw(return_request=ret, actor=request.user)
        return Response(self.ret_data(request, number, return_id))


# --- merchant ------------------------------------------------------------------------------


class _MerchantReturnApi(_MerchantApi):
    def ret(self, request, merchant_id: int, return_id: int) -> ReturnRequest:
        merchant = self.merchant(request, merchant_id)
        return returns.return_of_merchant(merchant=merchant, return_id=return_id)

    def ret_data(self, ret: ReturnRequest) -> dict:
        fresh = returns.return_of_merchant(merchant=ret.order.merchant, return_id=ret.pk)
        return ReturnSerializer(fresh, context={"photo_view": "merchant"}).data


class MerchantReturnListApi(_MerchantReturnApi):
    @extend_schema(operation_id="merchant_returns_list", parameters=[ReturnQuerySerializer],
                   responses=ReturnPageSerializer)
    def get(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        query = valid(ReturnQuerySerializer, request.query_params)
        qs = returns.returns_of_merchant(merchant=merchant, status=query["status"])
        return Response(_page(query, qs, ReturnSerializer, {"photo_view": "merchant"}))


class MerchantReturnDecideApi(_MerchantReturnApi):
    @extend_schema(request=ReturnDecisionInputSerializer, responses=ReturnSerializer,
                   description="Approves (the buyer may send the goods back) or refuses (a "
                               "note is required) a return request.")
    def post(self, request, merchant_id: int, return_id: int):
        ret = self.ret(request, merchant_id, return_id)
        data = valid(ReturnDecisionInputSerializer, request.data)
        services.return_decide(return_request=ret, actor=request.user,
                               approve=data["approve"], note=data["note"])
        return Response(self.ret_data(ret))


class MerchantReturnReceiveApi(_MerchantReturnApi):
    calls_payment_gateway = True  # 503 in the schema (core.schema)

    @extend_schema(request=None, responses=ReturnSerializer,
                   description="The goods sent back have arrived: their units go back on "
                               "the shelf and the returned lines are refunded (through the "
                               "card gateway and the ledger, as any refund).")
    def post(self, request, merchant_id: int, return_id: int):
        ret = self.ret(request, merchant_id, return_id)
        services.return_receive(return_request=ret, actor=request.user)
        return Response(self.ret_data(ret))

