from django.urls import path

from federation.api import BankListOnboardApi, ReferralStatementApi

urlpatterns = [
    path("banks/", BankListOnboardApi.as_view(), name="api-federation-banks"),
    path("referral-statements/", ReferralStatementApi.as_view(),
         name="api-federation-referral-statements"),
]
