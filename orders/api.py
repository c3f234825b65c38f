"""Buying API: the shopper's cart, checkouts, orders, refunds and share links (every host);
order handling and selling rules for a merchant's members and order search and pickup
verification for bank staff (on the bank's own domain).

Every id in a URL goes through a scoped accessor: another shopper's checkout or order,
another shop's order and another bank's order are all 404.
"""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors as account_selectors
from banks.permissions import IsBankStaff
from catalog.selectors import merchant_for_member, visible_merchants, visible_products
from core.api import PageQuerySerializer, valid
from orders import selectors, services, sharing
from orders.models import OrderStatus
from orders.serializers import (
    CartItemInputSerializer,
    CartQuantityInputSerializer,
    CartSerializer,
    CheckoutInputSerializer,
    CheckoutSerializer,
    ConsoleOrderDetailSerializer,
    ConsoleOrderPageSerializer,
    ConsoleOrderSerializer,
    FlashBuyInputSerializer,
    FlashBuySerializer,
    FlashSaleInputSerializer,
    FlashSaleSerializer,
    MerchantOrderDetailSerializer,
    MerchantOrderPageSerializer,
    MerchantOrderSerializer,
    MySharesSerializer,
    OrderDetailSerializer,
    OrderPageSerializer,
    OrderSerializer,
    PickupVerifyInputSerializer,
    RefundDecisionInputSerializer,
    RefundInputSerializer,
    RefundSerializer,
    ShareLinkInputSerializer,
    ShareLinkSerializer,
    ShipInputSerializer,
    ShippingRuleSerializer,
    TrackInputSerializer,
)


class OrderQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False,
                                     allow_blank=True, default="")


def _page(query: dict, queryset, serializer_class, context: dict) -> dict:
    paginator = Paginator(queryset, query["per_page"])
    page = paginator.get_page(query["page"])
    return {"total": paginator.count, "page": page.number, "pages": paginator.num_pages,
            "results": serializer_class(page.object_list, many=True, context=context).data}


# --- shopper: cart -------------------------------------------------------------------------


class _ShopperApi(APIView):
    permission_classes = [IsAuthenticated]

    def cart(self, request):
        return services.cart_get_or_create(user=request.user)

    def cart_data(self, request, cart) -> dict:
        return CartSerializer(selectors.cart_view(cart=cart, buyer=request.user)).data


class CartApi(_ShopperApi):
    """The shopper's cart, grouped by merchant, priced for this shopper now."""

    @extend_schema(responses=CartSerializer)
    def get(self, request):
        return Response(self.cart_data(request, self.cart(request)))

    @extend_schema(request=None, responses={200: CartSerializer})
    def delete(self, request):
        cart = self.cart(request)
        services.cart_clear(cart=cart)
        return Response(self.cart_data(request, cart))


class CartItemsApi(_ShopperApi):
    @extend_schema(request=CartItemInputSerializer, responses={201: CartSerializer},
                   description="Adds the quantity to the line of this SKU (or a new line).")
    def post(self, request):
        data = valid(CartItemInputSerializer, request.data)
        cart = self.cart(request)
        services.cart_add(cart=cart, sku_id=data["sku"], quantity=data["quantity"])
        return Response(self.cart_data(request, cart), status=status.HTTP_201_CREATED)


class CartItemApi(_ShopperApi):
    def item_cart(self, request, sku_id: int):
        cart = self.cart(request)
        get_object_or_404(cart.items.all(), sku_id=sku_id)
        return cart

    @extend_schema(request=CartQuantityInputSerializer, responses=CartSerializer)
    def patch(self, request, sku_id: int):
        cart = self.item_cart(request, sku_id)
        data = valid(CartQuantityInputSerializer, request.data)
        services.cart_set_quantity(cart=cart, sku_id=sku_id, quantity=data["quantity"])
        return Response(self.cart_data(request, cart))

    @extend_schema(request=None, responses=CartSerializer)
    def delete(self, request, sku_id: int):
        cart = self.item_cart(request, sku_id)
        services.cart_set_quantity(cart=cart, sku_id=sku_id, quantity=0)
        return Response(self.cart_data(request, cart))


# --- shopper: checkout ---------------------------------------------------------------------


def _delivery(request, data: dict) -> services.DeliveryAddress:
    """The delivery address given, or the address book entry named by ``address_id``."""
    address_id = data.pop("address_id", None)
    if address_id is not None:
        data = account_selectors.address_for_delivery(user=request.user,
                                                      address_id=address_id)
    return services.DeliveryAddress(**data)


class CheckoutCreateApi(_ShopperApi):
    @extend_schema(
        request=CheckoutInputSerializer, responses={201: CheckoutSerializer},
        description="Turns the cart into a checkout: one order per merchant, stock reserved "
                    "until `reserved_until`. The storefront is the bank of this host (none "
                    "on the portal). Pay it with POST checkouts/{number}/payments/.")
    def post(self, request):
        data = valid(CheckoutInputSerializer, request.data)
        fulfilment = {f["merchant"]: services.FulfilmentChoice(f["method"], f["branch"])
                      for f in data["fulfilment"]}
        checkout = services.checkout_place(
            buyer=request.user, cart=self.cart(request), storefront_bank=request.bank,
            fulfilment=fulfilment, delivery=_delivery(request, data["delivery"]))
        checkout = selectors.checkout_of_buyer(buyer=request.user, number=checkout.number)
        return Response(CheckoutSerializer(checkout).data, status=status.HTTP_201_CREATED)


class FlashSaleBuyApi(_ShopperApi):
    @extend_schema(
        request=FlashBuyInputSerializer, responses={201: FlashBuySerializer},
        description="秒杀: buy units of a running flash sale at once (not through the cart). "
                    "201: won, pay within `pay_within_minutes`; 400 with code sold_out, "
                    "flash_limit, not_started, ended or not_on_sale; 503 (Retry-After): "
                    "the sale cannot take orders this moment, nothing was reserved.")
    def post(self, request, sale_id: int):
        data = valid(FlashBuyInputSerializer, request.data)
        checkout = services.flash_sale_buy(
            buyer=request.user, sale_id=sale_id, quantity=data["quantity"],
            storefront_bank=request.bank,
            fulfilment=services.FulfilmentChoice(data["method"], data["branch"]),
            delivery=_delivery(request, data["delivery"]))
        checkout = selectors.checkout_of_buyer(buyer=request.user, number=checkout.number)
        minutes = settings.ORDER_RESERVATION_MINUTES
        return Response({
            "message": _("You got it! Pay within %(n)d minutes, or it goes back on sale.")
            % {"n": minutes},
            "pay_within_minutes": minutes,
            "checkout": CheckoutSerializer(checkout).data,
        }, status=status.HTTP_201_CREATED)


class CheckoutDetailApi(_ShopperApi):
    @extend_schema(responses=CheckoutSerializer)
    def get(self, request, number: str):
        checkout = selectors.checkout_of_buyer(buyer=request.user, number=number)
        return Response(CheckoutSerializer(checkout).data)


# --- shopper: orders -----------------------------------------------------------------------


class OrderListApi(_ShopperApi):
    @extend_schema(operation_id="orders_list", parameters=[OrderQuerySerializer],
                   responses=OrderPageSerializer)
    def get(self, request):
        query = valid(OrderQuerySerializer, request.query_params)
        orders = selectors.orders_of_buyer(buyer=request.user).select_related(
            "checkout", "merchant__bank")
        if query["status"]:
            orders = orders.filter(status=query["status"])
        return Response(_page(query, orders, OrderSerializer, {"request": request}))


class _BuyerOrderApi(_ShopperApi):
    def order(self, request, number: str):
        return selectors.order_of_buyer(buyer=request.user, number=number)

    def order_data(self, request, number: str) -> dict:
        order = selectors.orders_of_buyer(buyer=request.user).select_related(
            "checkout").prefetch_related("events", "refunds").get(number=number)
        return OrderDetailSerializer(order).data


class OrderDetailApi(_BuyerOrderApi):
    @extend_schema(responses=OrderDetailSerializer)
    def get(self, request, number: str):
        self.order(request, number)
        return Response(self.order_data(request, number))


class OrderConfirmReceiptApi(_BuyerOrderApi):
    @extend_schema(request=None, responses=OrderDetailSerializer)
    def post(self, request, number: str):
        services.order_confirm_receipt(order=self.order(request, number), actor=request.user)
        return Response(self.order_data(request, number))


class OrderRefundRequestApi(_BuyerOrderApi):
    @extend_schema(request=RefundInputSerializer, responses={201: RefundSerializer},
                   description="Asks the merchant for a refund (full or partial).")
    def post(self, request, number: str):
        order = self.order(request, number)
        data = valid(RefundInputSerializer, request.data)
        refund = services.refund_request(order=order, actor=request.user,
                                         amount=data["amount"], reason=data["reason"])
        return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)


class ShareLinkApi(_ShopperApi):
    @extend_schema(request=ShareLinkInputSerializer, responses={201: ShareLinkSerializer},
                   description="The shopper's share link for a product (or a shop shared "
                               "as a whole) on this bank's storefront: visits through it "
                               "count for this bank and remember the sharer; `poster_url` "
                               "is its poster (PNG with the link's QR code).")
    def post(self, request):
        if request.bank is None:  # served on bank domains only; never reached elsewhere
            raise Http404
        data = valid(ShareLinkInputSerializer, request.data)
        product = merchant = None
        if "product" in data:
            product = visible_products().filter(pk=data["product"]).first()
            if product is None:
                raise serializers.ValidationError(
                    {"product": [_("This product is not on sale.")]})
        else:
            merchant = visible_merchants().filter(pk=data["merchant"]).first()
            if merchant is None:
                raise serializers.ValidationError({"merchant": [_("No such shop.")]})
        link = services.share_link_for(sharer=request.user, bank=request.bank,
                                       product=product, merchant=merchant)
        _share_urls(request, link, sharing)
        return Response(ShareLinkSerializer(link).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=MySharesSerializer,
                   description="My share links on this bank's storefront with their visits, "
                               "the orders they brought (the last 50) and the points this "
                               "bank's programme gave me for them.")
    def get(self, request):
        if request.bank is None:
            raise Http404
        shares = sharing.my_shares(sharer=request.user, bank=request.bank)
        for link in shares.links:
            _share_urls(request, link, sharing)
            link.title = (link.product.name if link.product_id else
                          link.merchant.name if link.merchant_id else request.bank.name)
        return Response(MySharesSerializer(shares).data)


def _share_urls(request, link, sharing) -> None:
    link.url = sharing.share_url(request, link)
    link.poster_url = request.build_absolute_uri(
        reverse("orders:share-poster", args=[link.code]))


# --- merchant ------------------------------------------------------------------------------


class _MerchantApi(APIView):
    """A member of the shop, on the domain of the shop's bank; 404 for anyone else."""

    permission_classes = [IsAuthenticated]

    def merchant(self, request, merchant_id: int):
        return merchant_for_member(user=request.user, bank=request.bank,
                                   merchant_id=merchant_id)

    def order(self, request, merchant_id: int, number: str):
        merchant = self.merchant(request, merchant_id)
        return get_object_or_404(selectors.orders_of_merchant(merchant=merchant),
                                 number=number)

    def order_data(self, order) -> dict:
        order = (selectors.orders_of_merchant(merchant=order.merchant)
                 .select_related("checkout", "merchant__bank").prefetch_related("events", "refunds")
                 .get(pk=order.pk))
        return MerchantOrderDetailSerializer(order).data


class MerchantOrderQuerySerializer(OrderQuerySerializer):
    q = serializers.CharField(required=False, allow_blank=True, default="", max_length=60,
                              help_text="order number (or part), recipient's or buyer's "
                                        "mobile number, or tracking number")


class MerchantOrderListApi(_MerchantApi):
    @extend_schema(operation_id="merchant_orders_list",
                   parameters=[MerchantOrderQuerySerializer],
                   responses=MerchantOrderPageSerializer)
    def get(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        query = valid(MerchantOrderQuerySerializer, request.query_params)
        orders = selectors.orders_of_merchant(merchant=merchant, status=query["status"],
                                              q=query["q"])
        return Response(_page(query, orders.select_related("checkout", "merchant__bank"),
                              MerchantOrderSerializer, {"request": request}))


class MerchantOrderDetailApi(_MerchantApi):
    @extend_schema(responses=MerchantOrderDetailSerializer)
    def get(self, request, merchant_id: int, number: str):
        return Response(self.order_data(self.order(request, merchant_id, number)))


class MerchantOrderShipApi(_MerchantApi):
    @extend_schema(request=ShipInputSerializer, responses=MerchantOrderDetailSerializer,
                   description="Ships a delivery order with a waybill.")
    def post(self, request, merchant_id: int, number: str):
        order = self.order(request, merchant_id, number)
        data = valid(ShipInputSerializer, request.data)
        services.order_ship(order=order, actor=request.user, **data)
        return Response(self.order_data(order))


class MerchantOrderTrackApi(_MerchantApi):
    @extend_schema(request=TrackInputSerializer, responses=MerchantOrderDetailSerializer,
                   description="Adds a tracking event; `delivered` marks the parcel "
                               "handed over.")
    def post(self, request, merchant_id: int, number: str):
        order = self.order(request, merchant_id, number)
        data = valid(TrackInputSerializer, request.data)
        services.order_track(order=order, actor=request.user, **data)
        return Response(self.order_data(order))


class MerchantOrderReadyApi(_MerchantApi):
    @extend_schema(request=None, responses=MerchantOrderDetailSerializer,
                   description="The goods wait at the pickup branch; the shopper gets a "
                               "pickup code.")
    def post(self, request, merchant_id: int, number: str):
        order = self.order(request, merchant_id, number)
        services.order_ready_for_pickup(order=order, actor=request.user)
        return Response(self.order_data(order))


class MerchantRefundIssueApi(_MerchantApi):
    calls_payment_gateway = True  # 503 in the schema (core.schema)

    @extend_schema(request=RefundInputSerializer, responses={201: RefundSerializer},
                   description="Refunds on the merchant's own initiative (through the card "
                               "gateway and the ledger at once).")
    def post(self, request, merchant_id: int, number: str):
        order = self.order(request, merchant_id, number)
        data = valid(RefundInputSerializer, request.data)
        refund = services.refund_issue(order=order, actor=request.user,
                                       amount=data["amount"], reason=data["reason"])
        refund = selectors.refund_of_merchant(merchant=order.merchant, refund_id=refund.pk)
        return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)


class MerchantRefundDecideApi(_MerchantApi):
    calls_payment_gateway = True  # 503 in the schema (core.schema)

    @extend_schema(request=RefundDecisionInputSerializer, responses=RefundSerializer,
                   description="Approves (the money goes back to the card) or refuses (a "
                               "note is required) a shopper's refund request.")
    def post(self, request, merchant_id: int, refund_id: int):
        merchant = self.merchant(request, merchant_id)
        refund = selectors.refund_of_merchant(merchant=merchant, refund_id=refund_id)
        data = valid(RefundDecisionInputSerializer, request.data)
        services.refund_decide(refund=refund, actor=request.user, approve=data["approve"],
                               note=data["note"])
        refund = selectors.refund_of_merchant(merchant=merchant, refund_id=refund_id)
        return Response(RefundSerializer(refund).data)


class MerchantShippingRuleApi(_MerchantApi):
    def rule_data(self, merchant) -> dict:
        return ShippingRuleSerializer(selectors.shipping_rule_of(merchant=merchant)).data

    @extend_schema(responses=ShippingRuleSerializer)
    def get(self, request, merchant_id: int):
        return Response(self.rule_data(self.merchant(request, merchant_id)))

    @extend_schema(request=ShippingRuleSerializer, responses=ShippingRuleSerializer)
    def put(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        data = valid(ShippingRuleSerializer, request.data)
        services.shipping_rule_set(merchant=merchant, flat_fee=data["flat_fee"],
                                   free_over=data["free_over"])
        return Response(self.rule_data(merchant))


class MerchantFlashSaleListApi(_MerchantApi):
    @extend_schema(responses=FlashSaleSerializer(many=True))
    def get(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        return Response(FlashSaleSerializer(
            selectors.flash_sales_of_merchant(merchant=merchant), many=True).data)

    @extend_schema(request=FlashSaleInputSerializer, responses={201: FlashSaleSerializer})
    def post(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        data = dict(valid(FlashSaleInputSerializer, request.data))
        sku = selectors.sku_of_merchant(merchant=merchant, sku_id=data.pop("sku"))
        if sku is None:
            raise serializers.ValidationError(
                {"sku": [_("Choose a specification of your own products.")]})
        sale = services.flash_sale_create(sku=sku, **data)
        return Response(FlashSaleSerializer(sale).data, status=status.HTTP_201_CREATED)


# --- bank staff ----------------------------------------------------------------------------


class ConsoleOrderQuerySerializer(OrderQuerySerializer):
    q = serializers.CharField(max_length=60, required=False, allow_blank=True, default="",
                              help_text="order number, shop name, phone or tracking number")
    scope = serializers.ChoiceField(
        choices=[("merchant", "merchant"), ("referred", "referred"), ("pickup", "pickup")],
        required=False, allow_blank=True, default="",
        help_text="merchant: our merchants' orders; referred: orders our storefront "
                  "brought; pickup: orders picked up at our branches; empty: all of them")


class ConsoleOrderListApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(operation_id="console_orders_list",
                   parameters=[ConsoleOrderQuerySerializer],
                   responses=ConsoleOrderPageSerializer)
    def get(self, request):
        query = valid(ConsoleOrderQuerySerializer, request.query_params)
        orders = selectors.bank_orders(bank=request.bank, q=query["q"],
                                       status=query["status"], role=query["scope"])
        return Response(_page(query, orders.select_related("checkout", "merchant__bank")
                              .prefetch_related("lines"), ConsoleOrderSerializer,
                              {"request": request}))


class ConsoleOrderDetailApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(responses=ConsoleOrderDetailSerializer)
    def get(self, request, number: str):
        order = selectors.bank_order(bank=request.bank, number=number)
        return Response(ConsoleOrderDetailSerializer(order).data)


class ConsolePickupVerifyApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(request=PickupVerifyInputSerializer, responses=ConsoleOrderDetailSerializer,
                   description="Branch staff check the shopper's pickup code and hand the "
                               "goods over (orders waiting at this bank's branches only).")
    def post(self, request):
        data = valid(PickupVerifyInputSerializer, request.data)
        order = services.pickup_verify(bank=request.bank, code=data["code"],
                                       actor=request.user)
        order = selectors.bank_order(bank=request.bank, number=order.number)
        return Response(ConsoleOrderDetailSerializer(order).data)
