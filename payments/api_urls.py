"""Payments API under /api/v1/: paying a checkout and the gateway's webhook (every host);
settlement for bank staff and a shop's members (bank domains)."""

from django.urls import path

from payments import api

urlpatterns = [
    path("checkouts/<str:number>/payments/", api.CheckoutPaymentApi.as_view(),
         name="api-checkout-payments"),
    path("checkouts/<str:number>/cancel/", api.CheckoutCancelApi.as_view(),
         name="api-checkout-cancel"),
    path("payments/<int:payment_id>/", api.PaymentDetailApi.as_view(), name="api-payment"),
    path("payments/webhooks/stripe/", api.WebhookApi.as_view(),
         name="api-payments-webhook-stripe"),
]

# A bank's domain only: that bank's staff (settlement runs, payout batches and lines, a
# merchant's statement and settlement account).
console_urlpatterns = [
    path("console/gateway-refunds/", api.ConsoleGatewayRefundsApi.as_view(),
         name="api-console-gateway-refunds"),
    path("console/gateway-refunds/<int:refund_id>/resolve/",
         api.ConsoleGatewayRefundResolveApi.as_view(),
         name="api-console-gateway-refund-resolve"),
    path("console/settlement-runs/", api.ConsoleSettlementRunsApi.as_view(),
         name="api-console-settlement-runs"),
    path("console/settlement-runs/<int:run_id>/", api.ConsoleSettlementRunApi.as_view(),
         name="api-console-settlement-run"),
    path("console/payout-batches/<int:batch_id>/", api.ConsolePayoutBatchApi.as_view(),
         name="api-console-payout-batch"),
    path("console/payout-batches/<int:batch_id>/file/",
         api.ConsolePayoutBatchFileApi.as_view(), name="api-console-payout-batch-file"),
    path("console/payout-lines/<int:line_id>/confirm/",
         api.ConsolePayoutLineConfirmApi.as_view(), name="api-console-payout-line-confirm"),
    path("console/payout-lines/<int:line_id>/fail/", api.ConsolePayoutLineFailApi.as_view(),
         name="api-console-payout-line-fail"),
    path("console/merchants/<int:merchant_id>/statement/",
         api.ConsoleMerchantStatementApi.as_view(), name="api-console-merchant-statement"),
    path("console/merchants/<int:merchant_id>/settlement-account/",
         api.ConsoleMerchantSettlementAccountApi.as_view(),
         name="api-console-merchant-settlement-account"),
]

# A bank's domain only: a shop's members.
merchant_urlpatterns = [
    path("merchant/<int:merchant_id>/settlements/", api.MerchantSettlementsApi.as_view(),
         name="api-merchant-settlements"),
]
