"""Buying API under /api/v1/: shopper, merchant and bank-staff endpoints."""

from django.urls import path

from orders import api, api_messages

# Every host (the portal and each bank's storefront): the signed-in shopper's own data.
shopper_urlpatterns = [
    path("cart/", api.CartApi.as_view(), name="api-cart"),
    path("cart/items/", api.CartItemsApi.as_view(), name="api-cart-items"),
    path("cart/items/<int:sku_id>/", api.CartItemApi.as_view(), name="api-cart-item"),
    path("checkouts/", api.CheckoutCreateApi.as_view(), name="api-checkouts"),
    path("flash-sales/<int:sale_id>/buy/", api.FlashSaleBuyApi.as_view(),
         name="api-flash-sale-buy"),
    path("checkouts/<str:number>/", api.CheckoutDetailApi.as_view(), name="api-checkout"),
    path("orders/", api.OrderListApi.as_view(), name="api-orders"),
    path("orders/<str:number>/", api.OrderDetailApi.as_view(), name="api-order"),
    path("orders/<str:number>/confirm-receipt/", api.OrderConfirmReceiptApi.as_view(),
         name="api-order-confirm-receipt"),
    path("orders/<str:number>/messages/", api_messages.OrderThreadApi.as_view(),
         name="api-order-messages"),
    path("orders/<str:number>/dispute/", api_messages.OrderDisputeApi.as_view(),
         name="api-order-dispute"),
    path("orders/<str:number>/refunds/", api.OrderRefundRequestApi.as_view(),
         name="api-order-refunds"),
]

_merchant = "merchant/<int:merchant_id>/"
_order = f"{_merchant}orders/<str:number>/"

# A bank's domain only: a shop's members (shops of that bank), and share links, which
# belong to a storefront.
merchant_urlpatterns = [
    path("share-links/", api.ShareLinkApi.as_view(), name="api-share-links"),
    path(f"{_merchant}orders/", api.MerchantOrderListApi.as_view(),
         name="api-merchant-orders"),
    path(_order, api.MerchantOrderDetailApi.as_view(), name="api-merchant-order"),
    path(f"{_order}ship/", api.MerchantOrderShipApi.as_view(), name="api-merchant-order-ship"),
    path(f"{_order}messages/", api_messages.MerchantOrderThreadApi.as_view(),
         name="api-merchant-order-messages"),
    path(f"{_order}dispute/", api_messages.MerchantOrderDisputeApi.as_view(),
         name="api-merchant-order-dispute"),
    path(f"{_order}tracking/", api.MerchantOrderTrackApi.as_view(),
         name="api-merchant-order-tracking"),
    path(f"{_order}ready-for-pickup/", api.MerchantOrderReadyApi.as_view(),
         name="api-merchant-order-ready"),
    path(f"{_order}refunds/", api.MerchantRefundIssueApi.as_view(),
         name="api-merchant-order-refunds"),
    path(f"{_merchant}refunds/<int:refund_id>/decide/", api.MerchantRefundDecideApi.as_view(),
         name="api-merchant-refund-decide"),
    path(f"{_merchant}shipping-rule/", api.MerchantShippingRuleApi.as_view(),
         name="api-merchant-shipping-rule"),
    path(f"{_merchant}flash-sales/", api.MerchantFlashSaleListApi.as_view(),
         name="api-merchant-flash-sales"),
]

# A bank's domain only: that bank's staff.
console_urlpatterns = [
    path("console/orders/", api.ConsoleOrderListApi.as_view(), name="api-console-orders"),
    path("console/orders/<str:number>/", api.ConsoleOrderDetailApi.as_view(),
         name="api-console-order"),
    path("console/orders/<str:number>/messages/", api_messages.ConsoleOrderThreadApi.as_view(),
         name="api-console-order-messages"),
    path("console/pickups/verify/", api.ConsolePickupVerifyApi.as_view(),
         name="api-console-pickup-verify"),
]

# After-sales returns.
from orders import api_returns  # noqa: E402

shopper_urlpatterns += [
    path("orders/<str:number>/returns/", api_returns.OrderReturnsApi.as_view(),
         name="api-order-returns"),
    path("orders/<str:number>/returns/<int:return_id>/photos/",
         api_returns.OrderReturnPhotoApi.as_view(), name="api-order-return-photos"),
    path("orders/<str:number>/returns/<int:return_id>/ship-back/",
         api_returns.OrderReturnShipBackApi.as_view(), name="api-order-return-ship-back"),
    path("orders/<str:number>/returns/<int:return_id>/withdraw/",
         api_returns.OrderReturnWithdrawApi.as_view(), name="api-order-return-withdraw"),
]
merchant_urlpatterns += [
    path(f"{_merchant}returns/", api_returns.MerchantReturnListApi.as_view(),
         name="api-merchant-returns"),
    path(f"{_merchant}returns/<int:return_id>/decide/",
         api_returns.MerchantReturnDecideApi.as_view(), name="api-merchant-return-decide"),
    path(f"{_merchant}returns/<int:return_id>/receive/",
         api_returns.MerchantReturnReceiveApi.as_view(), name="api-merchant-return-receive"),
]
# Reviews (orders.api_reviews): public reading and the buyer's own on every host; the
# shop's members and the bank's staff on the bank's domain.
from orders import urls_reviews  # noqa: E402

shopper_urlpatterns += urls_reviews.api_shopper_urlpatterns
console_urlpatterns += urls_reviews.api_console_urlpatterns


# Invoices (发票): the buyer's on every host, the shop's on its bank's domain.
from orders import api_invoices  # noqa: E402

shopper_urlpatterns += [
    path("orders/<str:number>/invoice/", api_invoices.OrderInvoiceApi.as_view(),
         name="api-order-invoice"),
    path("orders/<str:number>/invoice/withdraw/", api_invoices.OrderInvoiceWithdrawApi.as_view(),
         name="api-order-invoice-withdraw"),
    path("orders/<str:number>/invoice/pdf/", api_invoices.OrderInvoicePdfApi.as_view(),
         name="api-order-invoice-pdf"),
    path("me/invoices/", api_invoices.MyInvoicesApi.as_view(), name="api-my-invoices"),
    path("me/invoices/archive/", api_invoices.MyInvoicesArchiveApi.as_view(),
         name="api-my-invoices-archive"),
]
_invoice = f"{_merchant}invoices/<int:invoice_id>/"
merchant_urlpatterns += [
    path(f"{_merchant}invoices/", api_invoices.MerchantInvoiceListApi.as_view(),
         name="api-merchant-invoices"),
    path(_invoice, api_invoices.MerchantInvoiceDetailApi.as_view(),
         name="api-merchant-invoice"),
    path(f"{_invoice}issue/", api_invoices.MerchantInvoiceIssueApi.as_view(),
         name="api-merchant-invoice-issue"),
    path(f"{_invoice}reject/", api_invoices.MerchantInvoiceRejectApi.as_view(),
         name="api-merchant-invoice-reject"),
    path(f"{_invoice}pdf/", api_invoices.MerchantInvoicePdfApi.as_view(),
         name="api-merchant-invoice-pdf"),
]
