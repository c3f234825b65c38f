from django.urls import path

from accounts.api import MeApi

urlpatterns = [path("", MeApi.as_view(), name="api-me")]
