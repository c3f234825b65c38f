"""Payments API under /api/v1/: paying a checkout and the gateway's webhook."""

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
