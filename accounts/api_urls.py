from django.urls import path

from accounts.api import MeApi, TokenDetailApi, TokenListApi

urlpatterns = [
    path("", MeApi.as_view(), name="api-me"),
    path("tokens/", TokenListApi.as_view(), name="api-me-tokens"),
    path("tokens/<str:key>/", TokenDetailApi.as_view(), name="api-me-token"),
]
