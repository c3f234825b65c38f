from django.urls import path

from partners.api import (
    CatalogChangesApi,
    CatalogExportApi,
    KeyListCreateApi,
    KeyRevokeApi,
    KeyRotateApi,
)

urlpatterns = [
    path("catalog/export.jsonl", CatalogExportApi.as_view(), name="api-partner-export"),
    path("catalog/changes", CatalogChangesApi.as_view(), name="api-partner-changes"),
    path("keys/", KeyListCreateApi.as_view(), name="api-partner-keys"),
    path("keys/<int:key_id>/rotate/", KeyRotateApi.as_view(), name="api-partner-key-rotate"),
    path("keys/<int:key_id>/revoke/", KeyRevokeApi.as_view(), name="api-partner-key-revoke"),
]
