from django.urls import path

from federation.api import (
    BankListOnboardApi,
    FederationAdminDetailApi,
    FederationAdminListApi,
    ReferralStatementApi,
    SettlementDayApi,
)
from federation.traffic_api import FEDERATION_APIS

urlpatterns = [
    path("banks/", BankListOnboardApi.as_view(), name="api-federation-banks"),
    path("admins/", FederationAdminListApi.as_view(), name="api-federation-admins"),
    path("admins/<int:user_id>/", FederationAdminDetailApi.as_view(),
         name="api-federation-admin"),
    path("referral-statements/", ReferralStatementApi.as_view(),
         name="api-federation-referral-statements"),
    path("settlement-runs/", SettlementDayApi.as_view(), name="api-federation-settlement-runs"),
]

# The federation's traffic dashboard, one endpoint per table (federation admins).
urlpatterns += [
    path(f"traffic/{key.replace('_', '-')}/", view.as_view(),
         name=f"api-federation-traffic-{key.replace('_', '-')}")
    for key, view in FEDERATION_APIS.items()
]
