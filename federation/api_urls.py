from django.urls import path

from federation.api import BankListOnboardApi

urlpatterns = [path("banks/", BankListOnboardApi.as_view(), name="api-federation-banks")]
