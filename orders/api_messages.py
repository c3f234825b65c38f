"""Ask the shop through the API: an order's thread for its buyer, the shop's members and
(once a dispute is raised) the staff of the shop's bank; raising a dispute. The same
services and reads as the pages (``orders.services.messages``)."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.permissions import IsBankStaff
from catalog.selectors import merchant_for_member
from core.api import valid
from orders import selectors, services


class MessageSerializer(serializers.Serializer):
    side = serializers.CharField(help_text="buyer, shop or bank")
    side_label = serializers.CharField(source="get_side_display")
    body = serializers.CharField()
    at = serializers.DateTimeField()


class DisputeSerializer(serializers.Serializer):
    side = serializers.CharField(help_text="who raised it: buyer or shop")
    reason = serializers.CharField()
    raised_at = serializers.DateTimeField()


class ThreadSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True, help_text="oldest first")
    dispute = DisputeSerializer(allow_null=True)


class MessageInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=1000)


class DisputeInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


def _thread(order, *, created: bool = False) -> Response:
    return Response(ThreadSerializer(selectors.order_thread(order)).data,
                    status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class _ThreadApi(APIView):
    """GET the thread, POST a message (201 with the thread)."""

    def order(self, request, **kwargs):
        raise NotImplementedError

    @extend_schema(responses=ThreadSerializer)
    def get(self, request, **kwargs):
        order = self.order(request, **kwargs)
        if services.side_of(order, request.user) is None:
            raise Http404
        return _thread(order)

    @extend_schema(request=MessageInputSerializer, responses={201: ThreadSerializer})
    def post(self, request, **kwargs):
        order = self.order(request, **kwargs)
        data = valid(MessageInputSerializer, request.data)
        services.order_message_post(order=order, author=request.user, body=data["body"])
        return _thread(order, created=True)


class _DisputeApi(APIView):
    def order(self, request, **kwargs):
        raise NotImplementedError

    @extend_schema(request=DisputeInputSerializer, responses={201: ThreadSerializer})
    def post(self, request, **kwargs):
        order = self.order(request, **kwargs)
        data = valid(DisputeInputSerializer, request.data)
        services.order_dispute_raise(order=order, actor=request.user, reason=data["reason"])
        return _thread(order, created=True)


class _BuyerOrder:
    permission_classes = [IsAuthenticated]

    def order(self, request, number: str):
        return selectors.order_of_buyer(buyer=request.user, number=number)


class _ShopOrder:
    permission_classes = [IsAuthenticated]

    def order(self, request, merchant_id: int, number: str):
        merchant = merchant_for_member(user=request.user, bank=request.bank,
                                       merchant_id=merchant_id)
        return get_object_or_404(selectors.orders_of_merchant(merchant=merchant),
                                 number=number)


class OrderThreadApi(_BuyerOrder, _ThreadApi):
    """The buyer's thread with the shop about one of their orders."""


class OrderDisputeApi(_BuyerOrder, _DisputeApi):
    """The buyer asks the shop's bank to step in (once per order; 400 the second time)."""


class MerchantOrderThreadApi(_ShopOrder, _ThreadApi):
    """The shop's thread with the buyer about one of its orders."""


class MerchantOrderDisputeApi(_ShopOrder, _DisputeApi):
    """The shop asks its bank to step in (once per order)."""


class ConsoleOrderThreadApi(_ThreadApi):
    """Staff of the shop's bank read and answer a disputed order's thread (404 before a
    dispute, and for any other bank's staff)."""

    permission_classes = [IsBankStaff]

    def order(self, request, number: str):
        return selectors.bank_order(bank=request.bank, number=number)
