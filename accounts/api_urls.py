from django.urls import path

from accounts.api import (
    AddressDefaultApi,
    AddressDetailApi,
    AddressListApi,
    BehaviourConsentApi,
    ConsentListApi,
    MeApi,
    TokenDetailApi,
    TokenListApi,
)

urlpatterns = [
    path("", MeApi.as_view(), name="api-me"),
    path("tokens/", TokenListApi.as_view(), name="api-me-tokens"),
    path("consents/", ConsentListApi.as_view(), name="api-me-consents"),
    path("consents/behaviour/", BehaviourConsentApi.as_view(),
         name="api-me-consent-behaviour"),
    path("tokens/<str:key>/", TokenDetailApi.as_view(), name="api-me-token"),
    path("addresses/", AddressListApi.as_view(), name="api-me-addresses"),
    path("addresses/<int:address_id>/", AddressDetailApi.as_view(), name="api-me-address"),
    path("addresses/<int:address_id>/default/", AddressDefaultApi.as_view(),
         name="api-me-address-default"),
]
