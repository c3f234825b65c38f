from django.urls import path

from partners.api import (
    BankPartnerListApi,
    BankPartnerOptApi,
    CatalogChangesApi,
    CatalogExportApi,
    KeyListCreateApi,
    KeyRevokeApi,
    KeyRotateApi,
)
from partners.api_orders import (
    PartnerOrderDetailApi,
    PartnerOrderListCreateApi,
    PartnerStatementApi,
    WebhookDeliveryListApi,
    WebhookDeliveryReplayApi,
    WebhookEndpointDetailApi,
    WebhookEndpointListCreateApi,
)

urlpatterns = [
    path("catalog/export.jsonl", CatalogExportApi.as_view(), name="api-partner-export"),
    path("catalog/changes", CatalogChangesApi.as_view(), name="api-partner-changes"),
    path("orders/", PartnerOrderListCreateApi.as_view(), name="api-partner-orders"),
    path("orders/<str:number>/", PartnerOrderDetailApi.as_view(), name="api-partner-order"),
    path("statements/", PartnerStatementApi.as_view(), name="api-partner-statements"),
    path("webhooks/endpoints/", WebhookEndpointListCreateApi.as_view(),
         name="api-partner-webhook-endpoints"),
    path("webhooks/endpoints/<int:endpoint_id>/", WebhookEndpointDetailApi.as_view(),
         name="api-partner-webhook-endpoint"),
    path("webhooks/deliveries/", WebhookDeliveryListApi.as_view(),
         name="api-partner-webhook-deliveries"),
    path("webhooks/deliveries/<int:delivery_id>/replay/", WebhookDeliveryReplayApi.as_view(),
         name="api-partner-webhook-replay"),
    path("keys/", KeyListCreateApi.as_view(), name="api-partner-keys"),
    path("keys/<int:key_id>/rotate/", KeyRotateApi.as_view(), name="api-partner-key-rotate"),
    path("keys/<int:key_id>/revoke/", KeyRevokeApi.as_view(), name="api-partner-key-revoke"),
]

# On a bank's domain: the bank's staff see the partners allowed its merchants; its admins
# opt out and back in.
bank_urlpatterns = [
    path("console/partners/", BankPartnerListApi.as_view(), name="api-console-partners"),
    path("console/partners/<int:partner_id>/opt-out/",
         BankPartnerOptApi.as_view(opt_out=True), name="api-console-partner-opt-out"),
    path("console/partners/<int:partner_id>/opt-in/",
         BankPartnerOptApi.as_view(opt_out=False), name="api-console-partner-opt-in"),
]
